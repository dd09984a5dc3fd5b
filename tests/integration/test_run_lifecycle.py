"""A run launched through the GraphQL API runs in its own container and leaves its traces in
Postgres and the compute-log bucket; a terminated run ends CANCELED and its container stops."""

import dagster as dg
import pytest

from tests.harness.polling import wait_until

# A job from each location; the diagnostics one writes to both streams.
SMOKE_JOBS = [("diagnostics", "smoke_job"), ("analytics", "storage_report_job"), ("ingestion", "inventory_job")]


@pytest.fixture(scope="module")
def finished_runs(stack) -> dict[str, str]:
    """Location name -> id of a successful run, launched once for the module's tests."""
    run_ids = {location: stack.launch(location, job) for location, job in SMOKE_JOBS}
    for location, run_id in run_ids.items():
        status = stack.wait_for_run(run_id)
        assert status == "SUCCESS", f"{location} run {run_id} ended {status}"
    return run_ids


@pytest.mark.parametrize("location", [location for location, _ in SMOKE_JOBS])
def test_run_happens_in_its_own_container_from_the_location_image(stack, finished_runs, location):
    run_id = finished_runs[location]
    container = stack.run_container(run_id)
    assert container is not None, f"no container labelled dagster/run_id={run_id}"
    # The image it was created from by name: an image can carry several tags.
    assert container.attrs["Config"]["Image"] == stack.code_location_images()[location]
    assert stack.network in container.attrs["NetworkSettings"]["Networks"]
    assert container.labels["dagster-stack/role"] == "run-worker"
    assert "com.docker.compose.service" not in container.labels, "ran inside a compose service"
    assert container.attrs["State"]["ExitCode"] == 0
    assert "execute_run" in " ".join(container.attrs["Config"]["Cmd"])


def test_run_events_are_in_postgres(stack, finished_runs):
    run_id = finished_runs["diagnostics"]
    rows = stack.psql(
        "SELECT DISTINCT dagster_event_type FROM event_logs "
        f"WHERE run_id = '{run_id}' AND dagster_event_type IS NOT NULL"
    )
    expected = {dg.DagsterEventType.RUN_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.RUN_SUCCESS}
    assert {event.value for event in expected} <= set(rows.splitlines())


def test_step_stdout_and_stderr_are_in_the_compute_log_bucket(stack, finished_runs):
    run_id = finished_runs["diagnostics"]
    s3 = stack.s3()
    bucket = stack.settings["COMPUTE_LOG_BUCKET"]

    def log_objects():
        found = s3.list_objects_v2(Bucket=bucket, Prefix=f"compute-logs/storage/{run_id}/").get("Contents", [])
        keys = [obj["Key"] for obj in found]
        outs = [key for key in keys if key.endswith(".out")]
        errs = [key for key in keys if key.endswith(".err")]
        return (outs, errs) if outs and errs else None

    outs, errs = wait_until("compute logs of the smoke run", log_objects, timeout=60)
    stdout = b"".join(s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in outs)
    stderr = b"".join(s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in errs)
    assert b"diagnostics: stdout from the run worker" in stdout
    assert b"diagnostics: stderr from the run worker" in stderr


def test_terminated_run_ends_canceled_and_its_container_stops(stack):
    run_id = stack.launch("diagnostics", "hold_job", {"ops": {"hold": {"config": {"seconds": 600}}}})
    stack.wait_for_run(run_id, statuses={"STARTED"}, timeout=120)
    container = wait_until("the run's container", lambda: stack.run_container(run_id), timeout=60)
    container.reload()
    assert container.status == "running"

    stack.graphql().terminate_run(run_id)

    assert stack.wait_for_run(run_id, timeout=120) == "CANCELED"

    def stopped():
        container.reload()
        return container.status in ("exited", "dead")

    wait_until("the canceled run's container to stop", stopped, timeout=60)
