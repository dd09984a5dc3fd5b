"""The stack comes up whole: every service healthy, every code location loaded, nothing exposed."""

import contextlib
import os
import time
import uuid
from pathlib import Path

import boto3
import docker
import pytest

from tests.harness.polling import wait_until
from tests.harness.repo import REPO, read_env_file, runs_the_s3_stand_in

LONG_RUNNING = {"postgres", "pgbouncer", "minio", "webserver", "daemon", "run-janitor"}
ONE_SHOT = {"create-buckets", "s3-identity", "migrate"}

LOCATIONS_QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError {
          __typename
          ... on PythonError { message }
        }
      }
    }
  }
}
"""


def code_location_folders() -> set[str]:
    return {path.name for path in (REPO / "code_locations").iterdir() if (path / "pyproject.toml").exists()}


def locations_in_a_test_stack() -> set[str]:
    """A user's locations, plus the test-only diagnostics location (code_locations/diagnostics)."""
    return code_location_folders() | {"diagnostics"}


def test_every_long_running_service_is_healthy(stack):
    """Up means every service passed its own probe (deploy/scripts/wait-healthy.py); Docker's
    verdict, which `docker ps` shows, follows within one probe interval (HEALTHCHECK_INTERVAL)."""
    expected = LONG_RUNNING | {f"code-{name}" for name in locations_in_a_test_stack()}

    def all_healthy() -> bool:
        services = {service["Service"]: service for service in stack.services()}
        assert expected <= services.keys()
        for name in expected:
            assert services[name]["State"] == "running", services[name]
        return all(services[name]["Health"] == "healthy" for name in expected)

    interval = float(stack.config()["services"]["webserver"]["healthcheck"]["interval"].removesuffix("s"))
    wait_until("docker ps to show every service healthy", all_healthy, timeout=interval + 30, interval=1)


def test_the_daemons_probe_counts_only_heartbeats_since_its_container_started(stack):
    """deploy/dagster/daemon-health-check.py (the daemon's healthcheck, no dagster import) passes on the
    running daemon, fails in a container started after the daemon's last heartbeat (as a restarted
    daemon's container is until it runs again), and passes again once the daemon is back."""
    probe = ["python", "/opt/dagster/deploy/daemon-health-check.py"]
    daemon = stack.container("daemon")
    live = daemon.exec_run(probe)
    assert live.exit_code == 0 and b"daemon live" in live.output, live.output

    stack.compose("stop", "daemon")
    try:
        environment = [variable for variable in daemon.attrs["Config"]["Env"] if variable.startswith("DAGSTER_")]
        later = docker.from_env().containers.run(
            daemon.image, probe, environment=environment, network=stack.network, init=True, detach=True)
        try:
            exit_code, output = later.wait(timeout=60)["StatusCode"], later.logs()
        finally:
            later.remove(force=True)
        assert exit_code == 1, f"the probe passed on the heartbeats of a stopped daemon: {output!r}"
        assert b"no daemon has written a heartbeat since the container started" in output, output
    finally:
        stack.compose("start", "daemon")
    wait_until("the restarted daemon's probe to pass", lambda: stack.container("daemon").exec_run(probe).exit_code == 0,
               timeout=120, interval=2)


def test_the_code_servers_probe_asks_the_grpc_health_service(stack):
    """deploy/dagster/grpc-health-check.py (the code servers' healthcheck, no dagster import) passes on
    a serving code server and fails, saying so, where none listens."""
    container = stack.container("code-ingestion")
    serving = container.exec_run(["python", "/opt/dagster/deploy/grpc-health-check.py", "4000"])
    assert serving.exit_code == 0 and b"is SERVING" in serving.output, serving.output
    absent = container.exec_run(["python", "/opt/dagster/deploy/grpc-health-check.py", "4999"])
    assert absent.exit_code == 1 and b"does not answer: UNAVAILABLE" in absent.output, absent.output


def test_init_services_completed_successfully(stack):
    services = {service["Service"]: service for service in stack.services()}
    for name in ONE_SHOT:
        assert services[name]["State"] == "exited"
        assert services[name]["ExitCode"] == 0, f"{name} failed:\n{stack.compose('logs', name).stdout}"


def test_migrate_runs_dagsters_migration_only_for_a_schema_this_dagster_has_not_migrated(stack):
    """`migrate` runs on every `make up`; Dagster's migration (a dagster import and a check of every
    table) only when the schema lacks this dagster version's mark (deploy/postgres/prepare-database.py)."""
    version = stack.container("webserver").exec_run(["python", "-c", "from importlib.metadata import version; print(version('dagster'))"])
    mark = f"migrated by dagster {version.output.decode().strip()}"
    read_mark = "SELECT obj_description('alembic_version'::regclass, 'pg_class')"
    assert stack.psql(read_mark) == mark, "the stack's own start should have marked the schema"

    stack.psql("COMMENT ON TABLE alembic_version IS 'migrated by dagster 1.0.0'")
    older = stack.compose("run", "--rm", "--no-deps", "migrate").stdout
    assert "Running migration" in older and f"schema {mark} (was migrated by dagster 1.0.0)" in older, older
    assert stack.psql(read_mark) == mark

    again = stack.compose("run", "--rm", "--no-deps", "migrate").stdout
    assert "Running migration" not in again and f"schema already {mark}" in again, again


def test_test_stack_is_isolated_from_any_user_stack(stack):
    stack.assert_isolated()
    assert stack.project != "dagster-stack" and stack.network != "dagster_stack"


def test_exactly_one_daemon(stack):
    daemons = [service for service in stack.services() if service["Service"] == "daemon"]
    assert len(daemons) == 1


def test_every_code_location_loads_without_errors(stack):
    result = stack.query(LOCATIONS_QUERY)
    entries = {entry["name"]: entry["locationOrLoadError"] for entry in result["workspaceOrError"]["locationEntries"]}
    assert set(entries) == locations_in_a_test_stack()
    for name, location in entries.items():
        assert location["__typename"] == "RepositoryLocation", f"{name}: {location}"


def test_code_servers_run_the_image_they_advertise(stack):
    images = stack.code_location_images()
    assert set(images) == locations_in_a_test_stack()
    for name, image in images.items():
        assert image.endswith(f"/{name}:{stack.location_image_tag(name)}")


def test_only_loopback_is_published_and_postgres_is_not(stack):
    services = stack.config()["services"]
    assert not services["postgres"].get("ports")
    published = [port for service in services.values() for port in service.get("ports", [])]
    assert published, "the UI and S3 ports should be published"
    assert {port["host_ip"] for port in published} == {"127.0.0.1"}


def test_buckets_exist(stack):
    names = {bucket["Name"] for bucket in stack.s3().list_buckets()["Buckets"]}
    for variable in ("LANDING_BUCKET", "IO_MANAGER_BUCKET", "COMPUTE_LOG_BUCKET"):
        assert stack.settings[variable] in names


def test_every_service_and_run_container_runs_with_memory_process_and_log_limits(stack):
    """What Docker actually applied, not what the files say: no container, a run's included, can
    take the host's memory or processes, or fill its disk with logs."""
    run_id = stack.launch("diagnostics", "smoke_job")
    assert stack.wait_for_run(run_id) == "SUCCESS"
    running = [service["Service"] for service in stack.services() if service["State"] == "running"]
    containers = stack.service_containers(*running) + [stack.run_container(run_id)]
    for container in containers:
        host = container.attrs["HostConfig"]
        limits = {"memory": host["Memory"], "pids": host["PidsLimit"], "log max-size": host["LogConfig"]["Config"].get("max-size")}
        assert all(limits.values()) and limits["pids"] > 0, f"{container.name}: {limits}"


# What the SeaweedFS stand-in holds once a 200 MB transfer ends, 300-540 MiB (garbage, pooled
# buffers and the gateway's chunks: deploy/s3/entrypoint.sh), with room to spare.
STAND_IN_IDLE_MIB = 680


def store_memory_mib(stack) -> float:
    """The S3 store's memory as `docker stats` counts it: all but the page cache it can drop at once."""
    memory = stack.container("minio").stats(stream=False)["memory_stats"]
    inactive_cache = memory["stats"].get("total_inactive_file", memory["stats"].get("inactive_file", 0))
    return (memory["usage"] - inactive_cache) / 2**20


def store_cpu_cores(stack, seconds: float) -> float:
    def used() -> float:
        return stack.container("minio").stats(stream=False)["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9

    before, started = used(), time.monotonic()
    time.sleep(seconds)  # the measuring window itself, not a wait for anything
    return (used() - before) / (time.monotonic() - started)


def test_the_s3_store_gives_back_its_memory_once_a_transfer_ends(stack, tmp_path):
    """Go keeps freed memory until it nears its soft limit: with the S3 gateway's sized for the worst
    load, one 200 MB upload and read left the store holding 790 MiB for minutes, which an idle
    stack pays all day. SeaweedFS only: the registry world runs MinIO's own image as it comes."""
    if not runs_the_s3_stand_in():
        pytest.skip("the registry world runs MinIO, not the SeaweedFS stand-in")
    s3, bucket, key = stack.s3(), stack.settings["IO_MANAGER_BUCKET"], f"tests/transfer-{uuid.uuid4().hex[:8]}"
    payload = tmp_path / "payload"
    with payload.open("wb") as out:
        for _ in range(200):
            out.write(os.urandom(1 << 20))
    s3.upload_file(str(payload), bucket, key)
    try:
        s3.download_file(bucket, key, str(payload))
        wait_until(f"the S3 store's memory to settle at <= {STAND_IN_IDLE_MIB} MiB",
                   lambda: store_memory_mib(stack) <= STAND_IN_IDLE_MIB, timeout=60, interval=5)
        # ...and not by collecting garbage without pause, which a soft limit below what a process
        # keeps live makes it do (0.1 cores more; the stack's listings cost the store about 0.02).
        cores = store_cpu_cores(stack, seconds=15)
        assert cores < 0.08, f"the idle S3 store used {cores:.3f} cores"
    finally:
        s3.delete_object(Bucket=bucket, Key=key)


@contextlib.contextmanager
def standalone_stand_in(**run_options):
    """The S3 store's image alone, in a container of its own: (container, S3 client as its root)."""
    image = read_env_file(REPO / ".stack" / "images.env")["MINIO_IMAGE"]
    root = {"MINIO_ROOT_USER": "standalone-root", "MINIO_ROOT_PASSWORD": uuid.uuid4().hex}
    store = docker.from_env().containers.run(
        image, ["server", "/data"], environment=root, ports={"9000/tcp": ("127.0.0.1", None)},
        detach=True, auto_remove=True, **run_options,
    )
    try:
        store.reload()
        endpoint = f"http://127.0.0.1:{store.ports['9000/tcp'][0]['HostPort']}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=root["MINIO_ROOT_USER"], aws_secret_access_key=root["MINIO_ROOT_PASSWORD"])

        def serving() -> bool:
            try:
                return s3.list_buckets() is not None
            except Exception:  # still starting
                return False

        wait_until("the S3 store to answer", serving, timeout=60, interval=0.5)
        yield store, s3
    finally:
        store.stop(timeout=5)


def test_the_s3_stand_in_gives_every_bucket_room_on_a_small_disk():
    """SeaweedFS gives each bucket volumes of its own, seven at a time, and counted its volumes by
    the free disk at 1 GiB each: with 3 GiB free only the first bucket could be written, and on a
    laptop with 30 GiB free the fifth failed, each write an InternalError. On a 3 GiB disk."""
    if not runs_the_s3_stand_in():
        pytest.skip("the registry world runs MinIO, not the SeaweedFS stand-in")
    with standalone_stand_in(tmpfs={"/data": "size=3g,mode=1777"}) as (_, s3):
        for bucket in ("landing", "dagster-io", "dagster-compute-logs", "warehouse", "team-a", "team-b"):
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello")
            assert s3.get_object(Bucket=bucket, Key="hello.txt")["Body"].read() == b"hello"


def test_the_s3_gateway_keeps_a_bounded_share_of_what_ranged_reads_fetched(tmp_path):
    """SeaweedFS's gateway keeps each chunk fetched for a GET until a reader reaches its end or 256
    newer ones push it out; ranged reads (boto3's download_file, DuckDB) leave chunks unread. At
    4 MiB chunks it kept 50 MB more per 100 MB file downloaded, up to 1 GiB. SeaweedFS only."""
    if not runs_the_s3_stand_in():
        pytest.skip("the registry world runs MinIO, not the SeaweedFS stand-in")
    payload = tmp_path / "payload"
    payload.write_bytes(os.urandom(100 << 20))
    with standalone_stand_in(mem_limit="2g") as (store, s3):
        s3.create_bucket(Bucket="reads")
        for number in range(8):
            s3.upload_file(str(payload), "reads", f"file-{number}")
            s3.download_file("reads", f"file-{number}", str(tmp_path / "read"))
        gateway = next(int(row[1]) for row in store.top(ps_args="-eo comm,pid,args")["Processes"] if " s3 " in f"{row[2]} ")
        held = int(next(line for line in Path(f"/proc/{gateway}/status").read_text().splitlines() if line.startswith("RssAnon")).split()[1]) >> 10
        assert held <= 300, f"the gateway holds {held} MiB after 800 MB of ranged reads"
