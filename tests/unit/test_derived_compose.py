"""deploy/scripts/derived-compose.py: a location's .env file and dev mode, derived from the
stack's resolved compose config; what it refuses, and why."""

import json
import subprocess
import sys

import pytest

from tests.harness.repo import REPO

SCRIPT = REPO / "deploy" / "scripts" / "derived-compose.py"
CONFIG = {
    "services": {
        "daemon": {"environment": {"AWS_ACCESS_KEY_ID": "x"}},
        "webserver": {"image": "stack/dagster:t"},
        "code-ingestion": {"environment": {}, "command": ["dagster", "api", "grpc", "-p", "4000", "-m", "ingestion.definitions"]},
        "code-analytics": {"environment": {"DAGSTER_CONTAINER_CONTEXT": '{"docker": {"env_vars": ["WAREHOUSE_DB_USER"]}}'}},
    }
}


@pytest.fixture
def root(tmp_path):
    """A checkout of its own: the repository's code_locations/ and its .env files are left alone."""
    for name in ("ingestion", "analytics"):
        (tmp_path / "code_locations" / name).mkdir(parents=True)
    return tmp_path


@pytest.fixture
def location_env_files(root):
    def write(location: str, text: str) -> None:
        (root / "code_locations" / location / ".env").write_text(text)

    return write


@pytest.fixture
def derive(root):
    def run(*flags: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, SCRIPT, "--root", str(root), *flags],
            input=json.dumps(CONFIG), capture_output=True, text=True, check=False,
        )

    return run


def test_a_locations_variables_go_to_its_server_its_runs_and_the_daemon(root, location_env_files, derive):
    location_env_files("analytics", "# a comment\nAPI_TOKEN=abc\n\nREGION=eu\n")
    result = derive()
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    context = json.loads(services["code-analytics"]["environment"]["DAGSTER_CONTAINER_CONTEXT"])
    assert context["docker"]["env_vars"] == ["WAREHOUSE_DB_USER", "API_TOKEN", "REGION"]
    assert services["code-analytics"]["env_file"] == [str(root / "code_locations/analytics/.env")]
    assert services["daemon"]["env_file"] == [str(root / "code_locations/analytics/.env")]
    # The launcher lets analytics' runs, and only they, name these.
    assert json.loads(services["daemon"]["environment"]["STACK_LOCATION_ENV_VARS"]) == {"analytics": ["API_TOKEN", "REGION"]}
    assert "code-ingestion" not in services
    assert "abc" not in result.stdout, "values stay in the env file"


@pytest.mark.parametrize(
    "files, words",
    [
        ({"analytics": "TOKEN=1\n", "ingestion": "TOKEN=2\n"}, "TOKEN is set for both analytics and ingestion"),
        ({"ingestion": "AWS_ACCESS_KEY_ID=mine\n"}, "which the stack itself sets"),
        ({"ingestion": "not a setting\n"}, "line 1: expected NAME=value"),
    ],
)
def test_settings_that_would_leak_or_clash_are_refused(location_env_files, derive, files, words):
    for location, text in files.items():
        location_env_files(location, text)
    result = derive()
    assert result.returncode != 0 and words in result.stderr, result.stderr


def test_dev_mode_mounts_each_folder_into_its_server_and_runs(root, derive):
    services = json.loads(derive("--dev").stdout)["services"]
    for name in ("ingestion", "analytics"):
        mount = f"{root / 'code_locations' / name}:/opt/dagster/app:ro"
        assert services[f"code-{name}"]["volumes"] == [mount]
        context = json.loads(services[f"code-{name}"]["environment"]["DAGSTER_CONTAINER_CONTEXT"])
        assert context["docker"]["container_kwargs"]["volumes"] == [mount]
    for service in ("daemon", "docker-proxy"):
        assert services[service]["environment"]["STACK_DEV_CODE_ROOT"] == str(root / "code_locations")
    assert services["dev-reloader"]["command"][2:] == ["analytics=/code/analytics", "ingestion=/code/ingestion"]


def test_dev_mode_runs_code_servers_that_can_reload(derive):
    """Production's `dagster api grpc` cannot re-import its code; dev mode's reloader needs
    `dagster code-server start`, with the same arguments. Without --dev the command stays."""
    services = json.loads(derive("--dev").stdout)["services"]
    assert services["code-ingestion"]["command"] == ["dagster", "code-server", "start", "-p", "4000", "-m", "ingestion.definitions"]
    assert "command" not in services["code-analytics"], "a command that is not `dagster api grpc` is left alone"
    assert "command" not in json.loads(derive().stdout)["services"].get("code-ingestion", {})
