import dagster as dg

# One partition per calendar day (UTC) of order_date.
daily = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")
