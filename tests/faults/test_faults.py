"""The fault suite: each test breaks one part of a live stack while files are being dropped and
ingested, and checks what a user would see afterwards. The fault table in docs/testing.md mirrors it.

The tests run in file order on one stack; each waits for its own work to finish, so the next
starts from a quiet stack."""

import os
import subprocess
import time

import yaml

from tests.harness.burst import Burst
from tests.harness.orders import orders_csv
from tests.harness.polling import wait_until
from tests.harness.repo import REPO
from tests.harness.stack import Stack

RUN_EVENTS = """
query ($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { __typename ... on ExecutionStepStartEvent { stepKey } } }
  }
}
"""
LOCATION_STATUS = """
{
  workspaceOrError {
    ... on Workspace { locationEntries { name loadStatus updatedTimestamp
      locationOrLoadError { __typename } } }
  }
}
"""
RUN_COUNT = "{ runsOrError { ... on Runs { count } } }"
ALL_MATERIALIZATIONS = """
{
  assetOrError(assetKey: {path: ["ingestion", "orders"]}) {
    ... on Asset { assetMaterializations(limit: 10000) { runId partition } }
  }
}
"""
CHECK_EXECUTIONS = """
query ($partition: String!) {
  assetCheckExecutions(assetKey: {path: ["ingestion", "orders"]}, checkName: "orders_schema_matches",
                       partition: $partition, limit: 10) { runId status }
}
"""


def ui_answers(stack) -> bool:
    """The UI's API can read run history again (while storage is down it answers 500)."""
    answer = stack.answer(RUN_COUNT)
    return bool(answer) and answer["runsOrError"]["count"] > 0


def ticks_failed_since(stack, since: float) -> list[dict]:
    try:
        return [t for t in stack.sensor_ticks() if t["timestamp"] > since and t["status"] == "FAILURE"]
    except OSError:  # the UI not answering for a moment
        return []


def wait_for_restart(stack, service: str, restarts_before: int) -> None:
    wait_until(
        f"Docker to restart {service}",
        lambda: stack.container(service).attrs["RestartCount"] > restarts_before,
        timeout=60,
    )
    stack.wait_healthy(service)


def wait_for_some_runs(burst: Burst, count: int, timeout: float = 120) -> None:
    """Waits until the sensor has started `count` runs of the burst: the work is in flight."""
    wait_until(
        f"{count} runs of {burst.prefix}",
        lambda: len(burst.runs()) >= count,
        timeout,
    )


def test_1_daemon_killed_during_a_burst_comes_back_and_misses_nothing(stack, measured):
    burst = Burst.drop(stack, 30)
    wait_for_some_runs(burst, 3)

    restarts = stack.kill_9("daemon")
    killed = time.monotonic()
    wait_for_restart(stack, "daemon", restarts)
    measured["1. daemon kill -9: healthy again"] = time.monotonic() - killed

    burst.wait_processed(timeout=900)
    measured["1. daemon kill -9: all 30 files processed after the kill"] = time.monotonic() - killed
    burst.assert_exactly_once()


def kill_while_ingesting(stack, run_id: str) -> None:
    """Kills the run's worker container once its ingestion step has started."""

    def ingesting() -> bool:
        events = stack.query(RUN_EVENTS, {"runId": run_id})["logsForRun"]["events"]
        return any(e.get("stepKey") == "ingest_dropped_files" for e in events)

    wait_until(f"run {run_id}'s ingestion step to start", ingesting, timeout=180, interval=0.2)
    stack.run_container(run_id).kill()


def test_2_killed_run_container_fails_by_monitoring_and_a_retry_succeeds(stack, measured):
    # Large enough that the ingestion step runs for several seconds: there is a "mid-step".
    key = f"faults/big-{int(time.time())}.csv"
    source = stack.drop(key, orders_csv(600_000))
    run = wait_until("the big file's run", lambda: stack.newest_run_tagged("stack/source", source), 120)
    run_id = run["runId"]
    kill_while_ingesting(stack, run_id)
    killed = time.monotonic()

    assert stack.wait_for_run(run_id, timeout=120) == "FAILURE"
    measured["2. run container killed: run marked failed"] = time.monotonic() - killed
    retry = wait_until("a retry run", lambda: stack.newest_run_tagged("dagster/parent_run_id", run_id), 120)
    assert stack.wait_for_run(retry["runId"], timeout=300) == "SUCCESS"
    measured["2. run container killed: retry succeeded"] = time.monotonic() - killed
    assert [m["runId"] for m in stack.materializations(key)] == [retry["runId"]]


def test_3_postgres_restart_under_load_recovers_unattended(stack, measured):
    burst = Burst.drop(stack, 12)
    wait_for_some_runs(burst, 2)

    stack.compose("restart", "postgres")
    restarted = time.monotonic()
    wait_until("the UI to answer again", lambda: ui_answers(stack), timeout=120)
    measured["3. Postgres restart: UI answers again"] = time.monotonic() - restarted

    burst.wait_processed(timeout=900)
    measured["3. Postgres restart: all 12 files processed"] = time.monotonic() - restarted
    burst.assert_exactly_once()
    for service in ("webserver", "daemon"):
        stack.wait_healthy(service, timeout=120)


def test_4_s3_outage_fails_ticks_clearly_and_misses_nothing(stack, measured):
    burst = Burst.drop(stack, 5)
    stack.compose("stop", "minio")
    stopped = time.time()
    try:
        failed = wait_until("a sensor tick failing on the outage", lambda: ticks_failed_since(stack, stopped), 60)
        # What the UI shows for the tick: Dagster's wrapper, then the sensor's own message.
        error = failed[0]["error"]
        shown = " ".join([error["message"], *(cause["message"] for cause in error["causes"])])
        assert "does not answer" in shown and "Nothing is lost" in shown, shown
        wait_until("30 s of outage", lambda: time.time() - stopped >= 30, timeout=60)
    finally:
        stack.compose("start", "minio")
    back = time.monotonic()
    stack.wait_healthy("minio", timeout=60)

    burst.wait_processed(timeout=600)
    measured["4. S3 stopped 30 s: all 5 files processed after it is back"] = time.monotonic() - back
    burst.assert_exactly_once()


def test_5_code_server_restart_reloads_and_queued_runs_still_start(stack, measured):
    slots = int(stack.settings.get("DAGSTER_MAX_CONCURRENT_RUNS", "4"))
    holding = [stack.launch("diagnostics", "hold_job", {"ops": {"hold": {"config": {"seconds": 20}}}}) for _ in range(slots)]
    queued = [stack.launch("diagnostics", "smoke_job") for _ in range(3)]
    assert {stack.graphql().get_run_status(run_id).value for run_id in queued} == {"QUEUED"}

    before = time.time()
    stack.compose("restart", "code-analytics")
    restarted = time.monotonic()

    def reloaded() -> bool:
        entries = stack.query(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        entry = next(e for e in entries if e["name"] == "analytics")
        return (
            entry["loadStatus"] == "LOADED"
            and entry["updatedTimestamp"] > before
            and entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
        )

    wait_until("the analytics location to reload", reloaded, timeout=120)
    measured["5. code server restart: location reloaded"] = time.monotonic() - restarted
    assert [stack.wait_for_run(run_id, timeout=240) for run_id in holding + queued] == ["SUCCESS"] * (slots + 3)
    measured["5. code server restart: queued runs finished"] = time.monotonic() - restarted


def stack_state(stack) -> dict:
    """What a user would check survived: run history, partitions, checks and every stored object."""
    materialized = stack.query(ALL_MATERIALIZATIONS)["assetOrError"]["assetMaterializations"]
    partitions = sorted({m["partition"] for m in materialized})
    objects = {
        f"{stack.settings[variable]}/{o['Key']}": o["ETag"]
        for variable in ("LANDING_BUCKET", "IO_MANAGER_BUCKET", "COMPUTE_LOG_BUCKET")
        for o in stack.objects(variable)
    }
    return {
        "runs": stack.query(RUN_COUNT)["runsOrError"]["count"],
        "partitions": partitions,
        "checks": stack.query(CHECK_EXECUTIONS, {"partition": partitions[0]})["assetCheckExecutions"],
        "objects": objects,
    }


def make(stack: Stack, *targets: str) -> None:
    """Runs make as a user would, pointed at this suite's stack."""
    subprocess.run(
        ["make", "--no-print-directory", *targets], cwd=REPO, check=True, timeout=600,
        env={**os.environ, **stack.env_files}, stdin=subprocess.DEVNULL,
    )


def test_6_make_down_and_up_keeps_history_partitions_checks_and_files(stack, measured):
    stack.wait_until_idle()  # automation runs after the earlier drops: none may be cut short
    before = stack_state(stack)
    assert before["runs"] > 0 and before["partitions"] and before["checks"] and before["objects"]

    make(stack, "down")
    assert stack.services() == []
    started = time.monotonic()
    make(stack, "up")
    measured["6. make down && make up: up again"] = time.monotonic() - started

    after = stack_state(stack)
    # Everything from before is back, unchanged; the restarted daemon may already have added runs
    # (and their compute logs), e.g. an automation tick.
    assert after["runs"] >= before["runs"]
    assert after["partitions"] == before["partitions"] and after["checks"] == before["checks"]
    assert {key: after["objects"].get(key) for key in before["objects"]} == before["objects"]
    source = stack.drop(f"faults/after-restart-{int(time.time())}.csv", orders_csv(10))
    assert stack.wait_for_sensor_run(source)["status"] == "SUCCESS"


def test_7_a_300_file_burst_is_processed_exactly_once(stack, measured):
    burst = Burst.drop(stack, 300)
    measured["7. 300-file burst: wall time, first upload to last file processed"] = burst.wait_processed(timeout=3600)
    burst.assert_exactly_once()


RUN_TAGS = "query ($id: ID!) { runOrError(runId: $id) { ... on Run { tags { key value } } } }"


def test_8_a_file_whose_every_run_died_is_tried_again_later_nobody_clicking(stack, measured):
    """Past `run_retries` a killed worker's file stays in landing; the re-drive sensor (every 15 s
    for files 45 s old in this stack, tests/faults/stack.env) ingests it later."""
    attempts = 1 + yaml.safe_load((REPO / "dagster.yaml").read_text())["run_retries"]["max_retries"]
    key = f"faults/orphan-{int(time.time())}.csv"
    source = stack.drop(key, orders_csv(300_000))
    run_id = wait_until("the file's run", lambda: stack.newest_run_tagged("stack/source", source), 120)["runId"]
    killed = []
    for attempt in range(1, attempts + 1):
        kill_while_ingesting(stack, run_id)
        killed.append(run_id)
        assert stack.wait_for_run(run_id, timeout=180) == "FAILURE"
        if attempt < attempts:
            run_id = wait_until(f"retry {attempt}", lambda parent=run_id: stack.newest_run_tagged("dagster/parent_run_id", parent), 180)["runId"]
    gave_up = time.monotonic()

    (materialized,) = wait_until("a re-driven run to ingest the file", lambda: stack.materializations(key), 600)
    measured["8. every run of a file killed: re-driven and ingested"] = time.monotonic() - gave_up
    # A re-drive may start while a retry is still being scheduled (no run is queued or going for a
    # moment): either way the file is ingested once, by a run nobody clicked, not a killed one.
    assert materialized["runId"] not in killed
    tags = {t["key"]: t["value"] for t in stack.query(RUN_TAGS, {"id": materialized["runId"]})["runOrError"]["tags"]}
    assert tags.get("stack/redrive", "").startswith("redrive-"), tags
    assert stack.wait_for_run(materialized["runId"], timeout=300) == "SUCCESS"
