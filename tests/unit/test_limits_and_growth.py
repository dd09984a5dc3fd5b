"""Months of uptime: every container, service or run, has bounded memory, processes and logs;
old ticks are purged; finished run containers of every kind are pruned."""

import importlib.util
import re
from datetime import UTC, datetime

import dagster as dg
import docker
import pytest
from docker.models.containers import Container, _create_container_args
from docker.utils import parse_bytes

from tests.harness.repo import REPO, read_env_file
from tests.unit.test_stack_config import load_yaml, started_services

_janitor_spec = importlib.util.spec_from_file_location("prune_run_containers", REPO / "deploy" / "janitor" / "run-janitor.py")
janitor = importlib.util.module_from_spec(_janitor_spec)
_janitor_spec.loader.exec_module(janitor)
FINISHED_STATUSES, finished_at = janitor.FINISHED_STATUSES, janitor.finished_at

DEFAULTED = re.compile(r"^\$\{([A-Z0-9_]+):-([^}]*)\}$")
SPAWNING_SERVICES = {"webserver", "daemon", "code-ingestion", "code-analytics"}


def default_of(value: str) -> tuple[str, str]:
    """`${NAME:-default}` -> (NAME, default); every limit must be tunable and have a default."""
    match = DEFAULTED.match(str(value))
    assert match, f"{value!r} is not ${{NAME:-default}}"
    return match.group(1), match.group(2)


@pytest.mark.parametrize("name", sorted(started_services()))
def test_every_service_has_bounded_memory_processes_and_logs(name):
    service = started_services()[name]
    example = read_env_file(REPO / ".env.example")
    memory, pids = default_of(service["mem_limit"]), default_of(service["pids_limit"])
    assert 256 * 2**20 <= parse_bytes(memory[1]) <= 4 * 2**30 and 64 <= int(pids[1]) <= 4096
    logging = service["logging"]
    assert logging["driver"] == "json-file"
    size, files = default_of(logging["options"]["max-size"]), default_of(logging["options"]["max-file"])
    assert parse_bytes(size[1]) <= 100 * 2**20 and int(files[1]) <= 10
    for variable, default in (memory, pids, size, files):
        assert example.get(variable) == default, f"{variable} missing from .env.example or differs"


def test_limits_are_written_once():
    # One anchor, merged into every service: a new service cannot silently miss them.
    text = (REPO / "docker-compose.yml").read_text()
    assert text.count("mem_limit:") == text.count("pids_limit:") == text.count("max-size:") == 1


def test_services_that_spawn_processes_run_under_an_init():
    services = load_yaml("docker-compose.yml")["services"]
    assert {name for name, service in services.items() if service.get("init") is True} >= SPAWNING_SERVICES


def test_run_containers_get_memory_process_and_log_limits_from_docker():
    # What DockerRunLauncher passes to docker-py's containers.create, turned into the API request.
    kwargs = dict(load_yaml("dagster.yaml")["run_launcher"]["config"]["container_kwargs"])
    request = _create_container_args({"image": "run-image", "command": ["dagster"], "version": "1.41", **kwargs})
    host = request["host_config"]
    assert 512 * 2**20 <= host["Memory"] <= 4 * 2**30 and 64 <= host["PidsLimit"] <= 1024
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}


def test_old_ticks_are_purged_and_the_retention_config_is_valid():
    retention = load_yaml("dagster.yaml")["retention"]
    # instance_for_test validates the section against Dagster's instance config schema.
    with dg.instance_for_test(overrides={"retention": retention}) as instance:
        settings = instance.get_settings("retention")
    assert 0 < settings["schedule"]["purge_after_days"] <= 90
    assert all(0 < days <= 90 for days in settings["sensor"]["purge_after_days"].values())


def run_container(status: str, created: str, finished: str) -> Container:
    return Container(attrs={"Created": created, "State": {"Status": status, "FinishedAt": finished}})


def test_runs_that_never_started_or_died_are_pruned_by_age():
    assert {"exited", "created", "dead"} <= set(FINISHED_STATUSES)
    never_started = run_container("created", "2026-01-02T03:04:05.123456789Z", "0001-01-01T00:00:00Z")
    assert finished_at(never_started) == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    exited = run_container("exited", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00.5Z")
    assert finished_at(exited) == datetime(2026, 1, 3, 0, 0, 0, 500000, tzinfo=UTC)


def test_docker_accepts_the_status_filter():
    # docker-py turns a list into the API's filter syntax; a typo'd status would match nothing.
    encoded = docker.utils.convert_filters({"status": FINISHED_STATUSES})
    assert encoded == '{"status": ["exited", "dead", "created"]}'
