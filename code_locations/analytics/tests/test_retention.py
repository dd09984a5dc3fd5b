"""Retention against a real S3 server and a real instance: what is past its age goes, what is
younger or set to be kept stays."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from analytics.definitions import defs
from analytics.retention import retention_job
from tests.harness.polling import wait_until

# The age the tests give everything: what is made before the wait is past it, what is made after is
# not, even on a machine so busy that the second retention run starts seconds late.
AGE = timedelta(seconds=15)
AGE_DAYS = AGE / timedelta(days=1)


def put(client, bucket, *keys):
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")


def keys(client, bucket):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def wait_until_past_the_age(instance, run_id):
    """Until the run, the last thing made before the wait, is older than AGE by the clock."""
    finished = instance.get_run_record_by_id(run_id).update_timestamp
    wait_until("the first run to age", lambda: datetime.now(UTC) - finished > AGE, timeout=30, interval=0.1)


def run_retention(instance, **ages):
    config = {"run_days": 0.0, "compute_log_days": 0.0, "processed_days": 0.0, "quarantine_days": 0.0, **ages}
    return retention_job.execute_in_process(
        run_config={"ops": {"apply_retention": {"config": config}}},
        instance=instance,
        resources={"s3": defs.resources["s3"]},
    )


def test_what_is_past_its_age_goes_and_the_rest_stays(s3_client, landing_bucket, stack_env, monkeypatch, instance):
    logs = stack_env["IO_MANAGER_BUCKET"]  # any bucket will do as the compute-log bucket
    monkeypatch.setenv("COMPUTE_LOG_BUCKET", logs)
    put(s3_client, landing_bucket, "processed/old.csv", "quarantine/old.csv", "quarantine/old.csv.error.json", "waiting.csv")
    put(s3_client, logs, "compute-logs/old/run.out")
    old_run = run_retention(instance).run_id  # a finished run to age
    wait_until_past_the_age(instance, old_run)
    put(s3_client, landing_bucket, "processed/new.csv", "quarantine/new.csv")
    put(s3_client, logs, "compute-logs/new/run.out")

    result = run_retention(
        instance, run_days=AGE_DAYS, compute_log_days=AGE_DAYS, processed_days=AGE_DAYS, quarantine_days=AGE_DAYS
    )
    assert result.success
    assert result.output_for_node("apply_retention") == {
        "runs": 1, "compute logs": 1, "processed originals": 1, "quarantined originals and reports": 2,
    }
    assert instance.get_run_by_id(old_run) is None and instance.get_run_by_id(result.run_id) is not None
    # Files waiting in landing are never retention's business.
    assert keys(s3_client, landing_bucket) == ["processed/new.csv", "quarantine/new.csv", "waiting.csv"]
    assert keys(s3_client, logs) == ["compute-logs/new/run.out"]


def test_an_age_of_zero_keeps_everything_of_that_kind(s3_client, landing_bucket, stack_env, monkeypatch, instance):
    monkeypatch.setenv("COMPUTE_LOG_BUCKET", stack_env["IO_MANAGER_BUCKET"])
    put(s3_client, landing_bucket, "processed/a.csv", "quarantine/b.csv")
    first = run_retention(instance).run_id
    wait_until_past_the_age(instance, first)
    result = run_retention(instance, compute_log_days=AGE_DAYS)
    assert result.output_for_node("apply_retention") == {"compute logs": 0}
    assert instance.get_run_by_id(first) is not None
    assert keys(s3_client, landing_bucket) == ["processed/a.csv", "quarantine/b.csv"]


def test_the_schedule_takes_its_ages_from_the_environment(monkeypatch):
    monkeypatch.setenv("RUN_RETENTION_DAYS", "7")
    monkeypatch.delenv("COMPUTE_LOG_RETENTION_DAYS", raising=False)
    schedule = defs.resolve_schedule_def("retention_schedule")
    with dg.build_schedule_context() as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    config = request.run_config["ops"]["apply_retention"]["config"]
    assert config == {"run_days": 7.0, "compute_log_days": 30.0, "processed_days": 0.0, "quarantine_days": 0.0}
