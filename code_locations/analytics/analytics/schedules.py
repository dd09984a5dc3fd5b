import dagster as dg

from analytics.jobs import storage_report_job

# The warehouse keeps itself fresh through automation; what runs by the clock is the storage report.
storage_report_schedule = dg.ScheduleDefinition(
    job=storage_report_job,
    cron_schedule="0 1 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Writes the bucket inventory report at 01:00 UTC.",
)
