"""Retention: how long the stack keeps what piles up with every file, so months of uptime do not
fill the disk. Once a night `retention_job` deletes finished runs (their events and
materializations with them) and compute logs past their age; the originals users dropped
(`processed/`, `quarantine/`) are kept unless an age is set for them too. An age of 0 keeps
everything of that kind.
"""

import os
from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field
from stack_contract import PROCESSED_PREFIX, QUARANTINE_PREFIX

from stack_s3 import S3, iter_objects

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
# The store's DeleteObjects takes at most 1,000 keys per call; runs go in pages as large.
PAGE = 1000
# Each kind of retention: its config field, the variable that sets it, its default in days.
AGES = {
    "run_days": ("RUN_RETENTION_DAYS", 90.0),
    "compute_log_days": ("COMPUTE_LOG_RETENTION_DAYS", 30.0),
    "processed_days": ("PROCESSED_RETENTION_DAYS", 0.0),
    "quarantine_days": ("QUARANTINE_RETENTION_DAYS", 0.0),
}


class RetentionConfig(dg.Config):
    run_days: float = Field(default=AGES["run_days"][1], description="Finished runs older than this go, events included.")
    compute_log_days: float = Field(default=AGES["compute_log_days"][1], description="Runs' stdout/stderr in the compute-log bucket.")
    processed_days: float = Field(default=AGES["processed_days"][1], description="Ingested originals under processed/.")
    quarantine_days: float = Field(default=AGES["quarantine_days"][1], description="Invalid originals and reports under quarantine/.")


def configured_ages() -> dict[str, float]:
    """The ages set in the environment (.env), else the defaults."""
    return {field: float(os.environ.get(variable) or default) for field, (variable, default) in AGES.items()}


def cutoff(days: float) -> datetime | None:
    return datetime.now(UTC) - timedelta(days=days) if days > 0 else None


def delete_runs_before(instance: dg.DagsterInstance, before: datetime) -> int:
    deleted = 0
    while records := instance.get_run_records(dg.RunsFilter(statuses=FINISHED, updated_before=before), limit=PAGE):
        for record in records:
            instance.delete_run(record.dagster_run.run_id)
        deleted += len(records)
    return deleted


def delete_objects_before(client, bucket: str, prefix: str, before: datetime) -> int:
    old = [item["Key"] for item in iter_objects(client, bucket, prefix) if item["LastModified"] < before]
    for start in range(0, len(old), PAGE):
        batch = [{"Key": key} for key in old[start : start + PAGE]]
        client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    return len(old)


@dg.op(description="Deletes finished runs, compute logs and (if so configured) archived originals past their age.")
def apply_retention(context: dg.OpExecutionContext, config: RetentionConfig, s3: S3) -> dict[str, int]:
    landing, compute_logs = os.environ["LANDING_BUCKET"], os.environ["COMPUTE_LOG_BUCKET"]
    client = s3.get_client()
    deleted = {}
    if before := cutoff(config.run_days):
        deleted["runs"] = delete_runs_before(context.instance, before)
    for name, days, bucket, prefix in [
        ("compute logs", config.compute_log_days, compute_logs, ""),
        ("processed originals", config.processed_days, landing, PROCESSED_PREFIX),
        ("quarantined originals and reports", config.quarantine_days, landing, QUARANTINE_PREFIX),
    ]:
        if before := cutoff(days):
            deleted[name] = delete_objects_before(client, bucket, prefix, before)
    kept = [name for name, days in config.model_dump().items() if days <= 0]
    context.log.info(f"Deleted {deleted or 'nothing'}; kept without limit: {kept or 'nothing'}.")
    context.add_output_metadata({f"deleted {name}": count for name, count in deleted.items()})
    return deleted


@dg.job(description="Retention: deletes what is past its age (RUN_RETENTION_DAYS, COMPUTE_LOG_RETENTION_DAYS, ...).")
def retention_job():
    apply_retention()


@dg.schedule(job=retention_job, cron_schedule="30 2 * * *", execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING)
def retention_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every night at 02:30 UTC, with the ages set in .env."""
    return dg.RunRequest(run_config={"ops": {"apply_retention": {"config": configured_ages()}}})
