import dagster as dg

from analytics.jobs import daily_summary_job

# Each morning, summarize the day that just ended (the schedule targets the latest full partition).
daily_summary_schedule = dg.build_schedule_from_partitioned_job(
    daily_summary_job,
    hour_of_day=1,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Materializes yesterday's daily_order_summary partition at 01:00 UTC.",
)
