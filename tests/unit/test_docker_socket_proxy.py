"""What the Docker socket proxy (deploy/docker-proxy) lets a container create carry. The live
proxy, in front of the real engine, is tested in tests/integration/test_trust_boundaries.py."""

import importlib.util
import json

import pytest

from tests.harness.repo import REPO

spec = importlib.util.spec_from_file_location("docker_socket_proxy", REPO / "deploy" / "docker-proxy" / "docker-socket-proxy.py")
proxy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(proxy)

PREFIXES = ["trust/"]
WORKER = {
    "Image": "trust/ingestion:abc",
    "Labels": {"dagster-stack/role": "run-worker", "dagster/run_id": "x"},
    "HostConfig": {
        "NetworkMode": "dagster_stack_trust", "Memory": 1 << 30, "PidsLimit": 256, "NanoCpus": 10**9,
        "LogConfig": {"Type": "json-file", "Config": {}}, "SecurityOpt": ["no-new-privileges:true"], "CapDrop": ["ALL"],
        "Privileged": False, "Binds": None,
    },
}


def create(**changes) -> bytes:
    spec = json.loads(json.dumps(WORKER))
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = spec
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = value
    return json.dumps(spec).encode()


def test_a_run_worker_as_the_launcher_creates_it_passes():
    assert proxy.create_refusal(create(), PREFIXES) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"HostConfig__Privileged": True},
        {"HostConfig__Binds": ["/var/run/docker.sock:/var/run/docker.sock"]},
        {"HostConfig__Mounts": [{"Type": "bind", "Source": "/", "Target": "/host"}]},
        {"HostConfig__Devices": [{"PathOnHost": "/dev/sda"}]},
        {"HostConfig__CapAdd": ["SYS_ADMIN"]},
        {"HostConfig__PidMode": "host"},
        {"HostConfig__NetworkMode": "host"},
        {"HostConfig__NetworkMode": "container:abc"},
        {"HostConfig__SecurityOpt": ["seccomp=unconfined"]},
        {"HostConfig__VolumesFrom": ["webserver"]},
        {"HostConfig": "privileged"},
        {"Image": "python:3.11"},
        {"Image": None},
        {"Labels": {}},
        {"Volumes": {"/data": {}}},
        {"User": "root"},
    ],
)
def test_anything_reaching_the_host_is_refused(changes):
    assert proxy.create_refusal(create(**changes), PREFIXES)


@pytest.mark.parametrize("body", [b"not json", b"[1]", b""])
def test_a_body_that_is_no_create_is_refused(body):
    assert proxy.create_refusal(body, PREFIXES)


DEV_BIND = "/checkout/code_locations/ingestion:/opt/dagster/app:ro"


def dev_create(binds: list[str]) -> bytes:
    """What docker-py sends for a run with `volumes` in its container kwargs."""
    spec = json.loads(create())
    spec["Volumes"] = {"/opt/dagster/app": {}}
    spec["HostConfig"]["Binds"] = binds
    return json.dumps(spec).encode()


def test_a_locations_code_mount_passes_in_dev_mode_only(monkeypatch):
    assert proxy.create_refusal(dev_create([DEV_BIND]), PREFIXES), "outside dev mode"
    monkeypatch.setenv("STACK_DEV_CODE_ROOT", "/checkout/code_locations")
    assert proxy.create_refusal(dev_create([DEV_BIND]), PREFIXES) is None


@pytest.mark.parametrize(
    "bind",
    [
        "/checkout/code_locations/ingestion:/opt/dagster/app:rw",
        "/checkout/code_locations/ingestion:/opt/dagster/app",
        "/var/run/docker.sock:/opt/dagster/app:ro",
        "/checkout/code_locations/../..:/opt/dagster/app:ro",
        "/checkout/code_locations/ingestion:/etc:ro",
    ],
)
def test_in_dev_mode_nothing_but_a_locations_code_read_only(monkeypatch, bind):
    monkeypatch.setenv("STACK_DEV_CODE_ROOT", "/checkout/code_locations")
    assert proxy.create_refusal(dev_create([bind]), PREFIXES)
