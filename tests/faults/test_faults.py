"""The fault suite: each test breaks one part of a live stack while files are being dropped and
ingested, and checks what a user would see afterwards. The fault table in docs/testing.md mirrors it.

The tests run in file order on one stack; each waits for its own work to finish, so the next
starts from a quiet stack."""

import json
import os
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from tests.harness.burst import Burst
from tests.harness.orders import orders_csv, write_orders_csv
from tests.harness.polling import wait_until
from tests.harness.repo import REPO, runs_the_s3_stand_in
from tests.harness.stack import Stack
from tests.harness.warehouse import make_sql, rows_of

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


def retry_decision(stack, run_id: str) -> str:
    """What Dagster recorded of a failed run's retry: its tags (dagster/will_retry, the failure
    reason) and the retry daemon's cursors, for a test that waited for a retry in vain."""
    tags = stack.psql(f"SELECT key || '=' || value FROM run_tags WHERE run_id = '{run_id}' AND key LIKE 'dagster/%'")
    cursors = stack.psql("SELECT key || '=' || value FROM kvs WHERE key LIKE 'EVENT_LOG_CONSUMER_CURSOR-%'")
    failures = stack.psql(
        "SELECT id || ' ' || run_id FROM event_logs WHERE dagster_event_type = 'PIPELINE_FAILURE' ORDER BY id DESC LIMIT 5"
    )
    return f"run tags:\n{tags}\nretry daemon cursors:\n{cursors}\nlatest run failures (storage id, run):\n{failures}"


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
    try:
        retry = wait_until("a retry run", lambda: stack.newest_run_tagged("dagster/parent_run_id", run_id), 120)
    except AssertionError as missing:
        raise AssertionError(f"{missing}\n{retry_decision(stack, run_id)}") from None
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

    # Other files keep arriving meanwhile, each with its run: none of them holds the re-drive back.
    arriving = Dropper(stack, threads=1, pause=1.0)
    try:
        (materialized,) = wait_until("a re-driven run to ingest the file", lambda: stack.materializations(key), 600)
    finally:
        arriving.stop()
    measured["8. every run of a file killed: re-driven (files arriving meanwhile) and ingested"] = time.monotonic() - gave_up
    others = Burst(stack, arriving.prefix, stored_keys(stack, arriving.prefix), gave_up, arriving.since)
    others.wait_processed(timeout=600)
    others.assert_exactly_once()
    # The file is ingested once. A worker killed late may have recorded it just before dying (its
    # outcome is recorded before the original moves): a run nobody clicked then only archives it.
    def redriven() -> list[dict]:
        runs = [run for run in stack.runs_tagged("stack/source", source) if run["runId"] not in killed]
        return [run for run in runs if run["status"] == "SUCCESS" and redrive_tag(stack, run["runId"]).startswith("redrive-")]

    wait_until("a re-driven run to succeed", redriven, 300)
    assert materialized["runId"] in killed or redrive_tag(stack, materialized["runId"]).startswith("redrive-")
    assert len(stack.materializations(key)) == 1
    assert key not in {item["Key"] for item in stack.objects("LANDING_BUCKET")}


def redrive_tag(stack, run_id: str) -> str:
    tags = {t["key"]: t["value"] for t in stack.query(RUN_TAGS, {"id": run_id})["runOrError"]["tags"]}
    return tags.get("stack/redrive", "")


def store_processes(stack) -> set[tuple[str, str]]:
    """Every process in the S3 store's container, as (pid, command): a process that exited and was
    started again shows up with a new pid."""
    top = stack.container("minio").top()
    pid, command = top["Titles"].index("PID"), top["Titles"].index("CMD")
    # A health probe (`curl`, run by docker exec) may be caught at either look: it is not the store.
    return {(row[pid], row[command]) for row in top["Processes"] if not row[command].startswith("curl ")}


class Dropper:
    """Drops small orders files under one prefix from several threads until stopped, as a batch
    job would, and keeps what the store acknowledged (a PUT that returned 200): key -> bytes."""

    def __init__(self, stack, threads: int = 4, pause: float = 0.05):
        self.stack, self.prefix = stack, f"faults/{uuid.uuid4().hex[:8]}"
        self.acknowledged: dict[str, bytes] = {}
        self.failed = 0
        self.since = time.time() - 1
        self._s3, self._next, self._lock, self._pause = stack.s3(), 0, threading.Lock(), pause
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._drop_until_stopped, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _drop_until_stopped(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                index, self._next = self._next, self._next + 1
            key, body = f"{self.prefix}/orders-{index:04d}.csv", orders_csv(20, first_id=1000 * index)
            try:
                self.stack.drop(key, body, self._s3)
            except (BotoCoreError, ClientError):
                with self._lock:
                    self.failed += 1
                self._stop.wait(0.2)  # the store is down: ask again shortly, or end when stopped
                continue
            with self._lock:
                self.acknowledged[key] = body
            self._stop.wait(self._pause)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        wait_until(f"{count} acknowledged drops", lambda: len(self.acknowledged) >= count, timeout, 0.1)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)


def stored_copy(stack, key: str) -> bytes | None:
    """A dropped file's bytes, from landing or, once ingested, its version under processed/<key>/."""
    s3, bucket = stack.s3(), stack.settings["LANDING_BUCKET"]
    archived = s3.list_objects_v2(Bucket=bucket, Prefix=f"processed/{key}/").get("Contents", [])
    for candidate in [key, *(item["Key"] for item in archived)]:
        try:
            return s3.get_object(Bucket=bucket, Key=candidate)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                raise
    return None


def stored_keys(stack, prefix: str) -> list[str]:
    """The keys under `prefix` that the store holds, waiting in landing or already archived (as
    processed/<key>/<etag>)."""
    s3, bucket = stack.s3(), stack.settings["LANDING_BUCKET"]
    keys = set()
    for listed, archived in ((prefix, False), (f"processed/{prefix}", True)):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{listed}/"):
            for item in page.get("Contents", []):
                key = item["Key"]
                keys.add(key.removeprefix("processed/").rsplit("/", 1)[0] if archived else key)
    return sorted(keys)


def test_9_s3_store_killed_mid_burst_keeps_what_it_acknowledged_and_the_stack_recovers(stack, measured):
    """The store crashes (SIGKILL to every process in its container, as an OOM kill or a panic
    ends it) while files are being uploaded and ingested. `docker kill` sends the same signal, but
    Docker 20.10 counts it as a stop and never restarts the container; a crash it restarts."""
    dropper = Dropper(stack)
    try:
        dropper.wait_for(20)
        ui_answered = []
        restarts = stack.kill_9("minio")
        killed, killed_at = time.monotonic(), time.time()
        acknowledged_before_kill = len(dropper.acknowledged)

        def back() -> bool:
            ui_answered.append(stack.answer(RUN_COUNT) is not None)
            container = stack.container("minio")
            return container.attrs["RestartCount"] > restarts and container.attrs["State"].get("Health", {}).get("Status") == "healthy"

        wait_until("the store to be restarted and healthy", back, timeout=180, interval=1)
        measured["9. S3 store killed mid-burst: restarted and healthy"] = time.monotonic() - killed
        dropper.wait_for(acknowledged_before_kill + 20, timeout=120)
    finally:
        dropper.stop()

    # What the UI shows while the store is down: run history (no S3 needed), and sensor ticks that
    # say what is wrong.
    assert all(ui_answered), f"the UI failed {ui_answered.count(False)} of {len(ui_answered)} polls while the store was down"
    for tick in ticks_failed_since(stack, killed_at):
        shown = " ".join([tick["error"]["message"], *(cause["message"] for cause in tick["error"]["causes"])])
        assert "does not answer" in shown and "Nothing is lost" in shown, shown

    lost = [key for key, body in dropper.acknowledged.items() if stored_copy(stack, key) != body]
    assert not lost, f"{len(lost)} of {len(dropper.acknowledged)} acknowledged uploads lost or changed: {lost[:5]}"

    # Every file the store holds (all acknowledged ones, and any whose answer the crash cut off)
    # is ingested exactly once, nobody clicking.
    burst = Burst(stack, dropper.prefix, stored_keys(stack, dropper.prefix), killed, dropper.since)
    burst.wait_processed(timeout=900)
    measured["9. S3 store killed mid-burst: every stored file processed after the kill"] = time.monotonic() - killed
    burst.assert_exactly_once()
    print(f"test 9: {len(dropper.acknowledged)} uploads acknowledged, {dropper.failed} failed and retried by nobody, "
          f"{len(burst.keys)} files stored and ingested once")


BIG_FILE_BYTES = 500 * 10**6


@pytest.fixture(scope="module")
def big_orders_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("large") / "orders.csv"
    write_orders_csv(path, BIG_FILE_BYTES)
    return path


@pytest.mark.large_files
def test_10_three_500_mb_uploads_beside_bursts_leave_the_store_up_and_are_ingested(stack, measured, big_orders_csv):
    """Each round uploads a 500 MB orders file with boto3's default transfer settings (8 MB parts,
    10 at once) while 20 small files are dropped; the store must take it all without a restart or
    any of its processes exiting, while earlier rounds' files are being ingested."""
    restarts, processes = stack.container("minio").attrs["RestartCount"], store_processes(stack)
    s3, bucket = stack.s3(), stack.settings["LANDING_BUCKET"]
    bursts = []
    for round_number in range(1, 4):
        big = Burst(stack, f"faults/large-{uuid.uuid4().hex[:8]}", [], time.monotonic(), time.time() - 1)
        big.keys.append(f"{big.prefix}/orders-500mb.csv")
        with ThreadPoolExecutor(max_workers=1) as uploader:
            upload = uploader.submit(s3.upload_file, str(big_orders_csv), bucket, big.keys[0])
            small = Burst.drop(stack, 20)
            upload.result()
        measured[f"10. 500 MB upload {round_number} of 3, beside a 20-file burst"] = time.monotonic() - big.started
        etag = s3.head_object(Bucket=bucket, Key=big.keys[0])["ETag"]
        assert "-" in etag, f"not a multipart upload: ETag {etag}"
        bursts += [big, small]

    assert stack.container("minio").attrs["RestartCount"] == restarts
    assert store_processes(stack) == processes, "a process of the S3 store exited during the uploads"
    for burst in bursts:
        burst.wait_processed(timeout=1800)
        burst.assert_exactly_once()
    measured["10. three 500 MB files and 60 small ones processed, from the first upload"] = time.monotonic() - bursts[0].started
    assert stack.container("minio").attrs["RestartCount"] == restarts
    assert store_processes(stack) == processes, "a process of the S3 store exited during ingestion"


# Filer CreateEntry calls whose caller gives up while the filer handles them, as a gRPC keepalive
# timeout does to every call in flight: the request is hand-encoded protobuf (directory, then an
# entry with a name and empty attributes), so the probe needs grpcio and nothing of SeaweedFS's.
ABANDONED_CALLS = """
import sys, grpc

def field(number, payload):
    def varint(n):
        out = b""
        while True:
            low, n = n & 0x7F, n >> 7
            out += bytes([low | (0x80 if n else 0)])
            if not n:
                return out
    return varint(number << 3 | 2) + varint(len(payload)) + payload

create = grpc.insecure_channel("127.0.0.1:18888").unary_unary("/filer_pb.SeaweedFiler/CreateEntry")

def create_entry(name, timeout):
    entry = field(1, name.encode()) + field(4, b"")
    create(field(1, b"/fault-suite-abandoned-calls") + field(2, entry), timeout=timeout)

# Past the deadline either side may end the call first: the caller (DEADLINE_EXCEEDED) or the
# filer, which resets the stream (CANCELLED). Any other status means the filer is gone.
GAVE_UP = {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
calls = abandoned = 0
while abandoned < int(sys.argv[1]) and calls < 20 * int(sys.argv[1]):
    try:
        create_entry(f"entry-{calls}", timeout=0.0005 + calls % 20 * 0.0002)
    except grpc.RpcError as error:
        if error.code() not in GAVE_UP:
            sys.exit(f"call {calls}: {error.code()} {error.details()}")
        abandoned += 1
    calls += 1
try:
    create_entry("after-the-abandoned-calls", timeout=60)
except grpc.RpcError as error:
    sys.exit(f"after {calls} calls the filer refused one with time to spare: {error.code()} {error.details()}")
print(f"{calls} calls, {abandoned} abandoned, then one answered")
"""


def set_cpu_limit(container, cpus: float) -> bool:
    """Sets a container's CPU limit as compose does (--cpus: NanoCpus, which Docker will not mix
    with a CPU quota); False while it is stopped or restarting."""
    return subprocess.run(["docker", "update", f"--cpus={cpus}", container.id], capture_output=True).returncode == 0


def test_11_the_seaweedfs_filer_survives_calls_abandoned_by_their_caller(stack):
    """SeaweedFS 4.47 and 4.48 dereference a nil chunk list (filer.SeparateGarbageChunks) when the
    filer handles a CreateEntry whose caller has already given up, and the whole store goes down:
    the crash the 500 MB upload met once the store's internal keepalives timed out. The store's
    CPU is throttled so that calls outlast their deadlines, as on a starved host. SeaweedFS only:
    MinIO has no filer."""
    if not runs_the_s3_stand_in():
        pytest.skip("the registry world runs MinIO, not the SeaweedFS stand-in")
    stack.wait_healthy("minio")
    store = stack.container("minio")
    restarts, processes = store.attrs["RestartCount"], store_processes(stack)
    runtime_image = f"{stack.image_repo}/runtime:{stack.settings['IMAGE_TAG']}"
    cpus = store.attrs["HostConfig"]["NanoCpus"] / 1e9 or os.cpu_count()  # its own limit (SERVICE_CPU_LIMIT)
    assert set_cpu_limit(store, 0.1)
    try:
        probe = subprocess.run(
            ["docker", "run", "--rm", f"--network=container:{store.id}", runtime_image, "python", "-c", ABANDONED_CALLS, "200"],
            capture_output=True, text=True, timeout=600,
        )
    finally:
        # A crashed store is restarted with the same limits: lift them from whichever container runs.
        wait_until("the store's CPU limit to be restored", lambda: set_cpu_limit(stack.container("minio"), cpus), 120, 1)
    assert probe.returncode == 0, f"the filer stopped answering:\n{probe.stdout}{probe.stderr}"
    print(f"test 11: {probe.stdout.strip()}")
    assert stack.container("minio").attrs["RestartCount"] == restarts
    assert store_processes(stack) == processes, "a process of the S3 store exited"


class WorkerKiller:
    """Kills the worker of every run that ingests `source` ("<key>@<etag>") once its ingestion step
    has started, from a thread, until stopped: a file whose runs always die (an OOM, a host that
    reaps them) for reasons that are not in the file."""

    def __init__(self, stack, source: str):
        self.stack, self.source, self.killed = stack, source, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._kill_until_stopped, daemon=True)
        self._thread.start()

    def _ingesting(self, run_id: str) -> bool:
        events = self.stack.query(RUN_EVENTS, {"runId": run_id})["logsForRun"]["events"]
        return any(e.get("stepKey") == "ingest_dropped_files" for e in events)

    def _kill_until_stopped(self) -> None:
        while not self._stop.wait(0.3):
            try:
                for run in self.stack.runs_tagged("stack/source", self.source):
                    if run["status"] == "STARTED" and run["runId"] not in self.killed and self._ingesting(run["runId"]):
                        self.stack.run_container(run["runId"]).kill()
                        self.killed.append(run["runId"])
            except (OSError, AttributeError, docker.errors.APIError):
                continue  # the UI busy for a moment, or the container gone already: look again

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def quarantine_report(stack, key: str) -> dict | None:
    try:
        body = stack.s3().get_object(Bucket=stack.settings["LANDING_BUCKET"], Key=f"quarantine/{key}.error.json")["Body"]
    except ClientError:
        return None
    return json.loads(body.read())


def test_12_a_file_whose_worker_always_dies_is_quarantined_after_its_redrives(stack, measured):
    """Every worker ingesting the file is killed. After its run retries and LANDING_REDRIVE_MAX_ATTEMPTS
    re-drives (tests/faults/stack.env) it is set aside in quarantine/ with a report of every
    attempt, and never tried again: no loop, nothing left in landing."""
    key = f"faults/doomed-{int(time.time())}.csv"
    source = stack.drop(key, orders_csv(300_000))
    dropped = time.monotonic()
    killer = WorkerKiller(stack, source)
    try:
        report = wait_until("the file's quarantine report", lambda: quarantine_report(stack, key), 900, 2)
    finally:
        killer.stop()
    measured["12. worker killed on every attempt: file quarantined"] = time.monotonic() - dropped

    redrives = int(stack.settings["LANDING_REDRIVE_MAX_ATTEMPTS"])
    attempts = report["attempts"]
    assert report["file"] == key and report["etag"] == source.rsplit("@", 1)[1], report
    assert {attempt["run_id"] for attempt in attempts} <= {run["runId"] for run in stack.runs_tagged("stack/source", source)}
    assert {attempt["status"] for attempt in attempts} == {"FAILURE"}, attempts
    assert len({attempt["redrive"] for attempt in attempts} - {""}) == redrives, attempts
    assert set(killer.killed) >= {attempt["run_id"] for attempt in attempts}
    landing = {item["Key"] for item in stack.objects("LANDING_BUCKET")}
    assert key not in landing and f"quarantine/{key}" in landing
    assert stack.materializations(key) == []

    # No loop: two more re-drive looks start nothing for it.
    runs = len(stack.runs_tagged("stack/source", source))
    stack.wait_for_sensor_ticks(2, time.time(), timeout=120, sensor="landing_redrive_sensor")
    assert len(stack.runs_tagged("stack/source", source)) == runs


RECONCILIATION = """
{
  assetCheckExecutions(assetKey: {path: ["warehouse", "orders"]}, checkName: "orders_match_ingested", limit: 1) {
    runId status evaluation { success description }
  }
}
"""


AUTOMATION_RUNS_SINCE = """
query ($after: Float!) {
  runsOrError(filter: {tags: [{key: "dagster/from_automation_condition", value: "true"}], createdAfter: $after}) {
    ... on Runs { results { runId status assetSelection { path } } }
  }
}
"""


def warehouse_loads_since(stack, since: float) -> list[dict]:
    """The runs automation started after `since` (epoch seconds) that load warehouse/orders."""
    runs = stack.query(AUTOMATION_RUNS_SINCE, {"after": since})["runsOrError"]["results"]
    return [run for run in runs if {"path": ["warehouse", "orders"]} in (run["assetSelection"] or [])]


def latest_reconciliation(stack) -> dict | None:
    executions = stack.query(RECONCILIATION)["assetCheckExecutions"]
    return executions[0] if executions and executions[0]["status"] != "IN_PROGRESS" else None


def reconcile(stack) -> dict:
    """Runs the reconciliation check alone, as an operator would after touching the warehouse."""
    run_id = stack.launch("analytics", "reconcile_warehouse_job")
    assert stack.wait_for_run(run_id, timeout=300) == "SUCCESS"
    return wait_until("the check's result", lambda: (r := latest_reconciliation(stack)) and r["runId"] == run_id and r, 60)


def test_13_a_warehouse_load_cut_off_by_an_s3_outage_still_lands_each_row_once(stack, measured):
    """The S3 store stops while the warehouse's load of a file runs: the step fails, and its
    retries (or automation asking again) load the file's rows once. The reconciliation check
    passes then, fails naming the file while its rows are missing, and passes once they are back."""
    key = f"faults/warehouse-{uuid.uuid4().hex[:8]}.csv"
    rows = 50_000
    dropped = time.time()
    assert stack.wait_for_sensor_run(stack.drop(key, orders_csv(rows, first_id=7_000_000)), timeout=300)["status"] == "SUCCESS"
    # The store stops as soon as automation asks for the load: its worker finds no S3 to read from.
    load = wait_until("automation to ask for the file's load", lambda: next(iter(warehouse_loads_since(stack, dropped)), None), 300, 0.2)
    stack.compose("stop", "minio")
    stopped = time.monotonic()
    try:
        wait_until("15 s of outage", lambda: time.monotonic() - stopped >= 15, timeout=60)
    finally:
        stack.compose("start", "minio")
    stack.wait_healthy("minio", timeout=60)

    wait_until(f"{key}'s {rows} rows in the warehouse", lambda: rows_of(stack, key) == rows, 600, 3)
    measured["13. S3 stopped mid warehouse load: every row loaded once after it is back"] = time.monotonic() - stopped
    stack.wait_until_idle(timeout=300)
    assert rows_of(stack, key) == rows
    loads = warehouse_loads_since(stack, dropped)
    print(f"test 13: warehouse loads since the drop: {[(run['runId'][:8], run['status']) for run in loads]}")
    assert load["runId"] in {run["runId"] for run in loads}
    # The check covers every file; automation may still be loading the earlier tests' files, and
    # "idle" sees runs, not the loads automation has yet to ask for.
    wait_until("the warehouse to match ingestion", lambda: reconcile(stack)["evaluation"]["success"], 300, 5)

    # The file's rows go missing (a hand edit, a restore): the check names it, then passes once reloaded.
    make_sql(stack, f"DELETE FROM orders WHERE source_key = '{key}'", env={"WRITE": "1"})
    missing = reconcile(stack)["evaluation"]
    assert not missing["success"] and key in missing["description"], missing
    reload = stack.launch("analytics", "warehouse_orders_job", partition=key)
    assert stack.wait_for_run(reload, timeout=300) == "SUCCESS"
    assert rows_of(stack, key) == rows and reconcile(stack)["evaluation"]["success"]
