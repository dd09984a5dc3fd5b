"""Retention against a real S3 server and a real instance: what is past its age goes, what is
younger or set to be kept stays."""

import time

import dagster as dg

from analytics.definitions import defs
from analytics.retention import retention_job

# An age of about 0.9 s: objects and runs made before a two-second pause are "old".
SECONDS = 1 / 86400


def put(client, bucket, *keys):
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")


def keys(client, bucket):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


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
    time.sleep(2)
    put(s3_client, landing_bucket, "processed/new.csv", "quarantine/new.csv")
    put(s3_client, logs, "compute-logs/new/run.out")

    result = run_retention(
        instance, run_days=2 * SECONDS, compute_log_days=2 * SECONDS, processed_days=2 * SECONDS, quarantine_days=2 * SECONDS
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
    time.sleep(2)
    result = run_retention(instance, compute_log_days=2 * SECONDS)
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
