import dagster as dg

from analytics.assets import daily_order_summary
from analytics.graphs import storage_report

daily_summary_job = dg.define_asset_job("daily_summary_job", selection=[daily_order_summary])

# Both ops read ReportConfig, so one `report_prefix` in the Launchpad sets where the report goes.
storage_report_job = storage_report.to_job(
    name="storage_report_job",
    description="Op-based job: bucket inventory -> summary -> markdown report in the warehouse bucket.",
)
