"""The stack's run launcher (lib/stack_docker) takes from a run's stored container context only
environment variable names on its allowlist, and it is the launcher dagster.yaml configures."""

import json

import dagster as dg
import pytest
import yaml
from stack_docker.launcher import StackDockerRunLauncher, container_context_problems

from tests.harness.repo import REPO

ALLOWED = ["WAREHOUSE_CATALOG", "WAREHOUSE_DB_PASSWORD"]


def instance_launcher_config() -> dict:
    return yaml.safe_load((REPO / "dagster.yaml").read_text())["run_launcher"]


@pytest.mark.parametrize(
    "context",
    [None, {}, {"docker": {"env_vars": ALLOWED}}, {"env_vars": ["WAREHOUSE_CATALOG"]}],
)
def test_allowlisted_variables_pass(context):
    assert container_context_problems(context, ALLOWED) == []


@pytest.mark.parametrize(
    "context",
    [
        {"docker": {"container_kwargs": {"privileged": True}}},
        {"docker": {"container_kwargs": {"volumes": {"/var/run/docker.sock": {"bind": "/var/run/docker.sock"}}}}},
        {"docker": {"networks": ["host"]}},
        {"docker": {"registry": {"url": "evil.example", "username": "u", "password": "p"}}},
        {"docker": {"env_vars": ["WAREHOUSE_CATALOG=postgres:host=evil"]}},
        {"docker": {"env_vars": ["LD_PRELOAD"]}},
        {"env_vars": ["PATH=/tmp"]},
        {"k8s": {"run_k8s_config": {}}},
        {"docker": ["privileged"]},
    ],
)
def test_anything_else_is_named(context):
    assert container_context_problems(context, ALLOWED), json.dumps(context)


def test_dagster_yaml_configures_the_stack_launcher_with_what_code_analytics_passes():
    config = instance_launcher_config()
    assert (config["module"], config["class"]) == ("stack_docker.launcher", "StackDockerRunLauncher")
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    passed = json.loads(compose["services"]["code-analytics"]["environment"]["DAGSTER_CONTAINER_CONTEXT"])
    assert container_context_problems(passed, config["config"]["allowed_run_env_vars"]) == []


def test_the_instance_builds_the_launcher_from_its_config(monkeypatch):
    monkeypatch.setenv("RUN_CPU_LIMIT", "1.5")
    config = instance_launcher_config()
    with dg.instance_for_test(overrides={"run_launcher": {**config, "config": {**config["config"], "network": "n"}}}) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, StackDockerRunLauncher)
        assert launcher.allowed_run_env_vars == config["config"]["allowed_run_env_vars"]
        # The CPU limit from the environment joins dagster.yaml's fixed run container settings.
        assert launcher.container_kwargs["nano_cpus"] == 1_500_000_000
        assert launcher.container_kwargs["cap_drop"] == ["ALL"]


DEV_CONTEXT = {"docker": {"container_kwargs": {"volumes": ["/checkout/code_locations/ingestion:/opt/dagster/app:ro"]}}}


def test_dev_mode_allows_a_locations_own_code_mount_and_nothing_else():
    mount = "/checkout/code_locations/ingestion:/opt/dagster/app:ro"
    assert container_context_problems(DEV_CONTEXT, ALLOWED, allowed_mount=mount) == []
    assert container_context_problems(DEV_CONTEXT, ALLOWED, allowed_mount=None), "outside dev mode"
    other = {"docker": {"container_kwargs": {"volumes": ["/:/host:rw"]}}}
    assert container_context_problems(other, ALLOWED, allowed_mount=mount)
