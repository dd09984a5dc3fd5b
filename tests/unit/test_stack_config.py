"""The stack's configuration is consistent: dagster.yaml, workspace.yaml, docker-compose.yml and
code_locations/ agree with each other, and the Postgres URL uses the driver we ship."""

import configparser
import re
import tomllib

import pytest
import sqlalchemy
import yaml
from dagster_postgres.utils import get_conn_string

from tests.harness.repo import REPO, read_env_file

ENV_REFERENCE = re.compile(r"\{env: ([A-Z0-9_]+)\}")


def load_yaml(name: str) -> dict:
    return yaml.safe_load((REPO / name).read_text())


def started_services() -> dict[str, dict]:
    """docker-compose.yml's services that a stack starts: not the build-only runtime base."""
    services = load_yaml("docker-compose.yml")["services"]
    return {name: service for name, service in services.items() if "build-only" not in service.get("profiles", [])}


def code_locations() -> dict[str, dict]:
    """A user's locations: folder name -> the [tool.dagster] table of its pyproject.toml."""
    tools = {
        path.parent.name: tomllib.loads(path.read_text())["tool"]
        for path in sorted((REPO / "code_locations").glob("*/pyproject.toml"))
    }
    return {name: tool["dagster"] for name, tool in tools.items() if not tool.get("dagster-stack", {}).get("test-only")}


def instance_env_vars() -> set[str]:
    return set(ENV_REFERENCE.findall((REPO / "dagster.yaml").read_text()))


def test_there_are_at_least_two_code_locations():
    assert len(code_locations()) >= 2


def test_postgres_url_uses_psycopg2_which_the_images_ship():
    # SQLAlchemy 2.1 maps a bare postgresql:// URL to psycopg 3; the images only ship psycopg2.
    storage = load_yaml("dagster.yaml")["storage"]["custom"]["config"]["postgres_db"]
    url = get_conn_string(
        username="user", password="secret", hostname="postgres", db_name="dagster", scheme=storage["scheme"]
    )
    engine = sqlalchemy.create_engine(url)
    assert engine.dialect.driver == "psycopg2"


def test_run_workers_receive_every_variable_the_instance_config_reads():
    # A run worker rehydrates the whole instance config, so each {env: X} must reach it.
    launcher_env = set(load_yaml("dagster.yaml")["run_launcher"]["config"]["env_vars"])
    assert instance_env_vars() <= launcher_env


def test_dagster_services_set_every_variable_run_workers_need():
    compose = load_yaml("docker-compose.yml")
    launcher_env = set(load_yaml("dagster.yaml")["run_launcher"]["config"]["env_vars"])
    daemon_env = set(compose["services"]["daemon"]["environment"])
    assert launcher_env <= daemon_env


def test_every_code_location_has_a_server_and_a_workspace_entry():
    """The folders of code_locations/ are the one list of locations; everything else that names a
    location is checked against it here, completely."""
    compose = load_yaml("docker-compose.yml")
    services = compose["services"]
    workspace = {
        entry["grpc_server"]["location_name"]: entry["grpc_server"]
        for entry in load_yaml("workspace.yaml")["load_from"]
    }
    assert set(workspace) == set(code_locations())
    assert {name.removeprefix("code-") for name in services if name.startswith("code-")} == set(code_locations())
    pythonpath = configparser.ConfigParser()
    pythonpath.read(REPO / "pytest.ini")
    first_party = tomllib.loads((REPO / "ruff.toml").read_text())["lint"]["isort"]["known-first-party"]
    for name, tool in code_locations().items():
        service = services[f"code-{name}"]
        assert workspace[name] == {"host": f"code-{name}", "port": 4000, "location_name": name}
        # One process in production; dev mode swaps in `code-server start` (test_derived_compose.py).
        assert service["command"][:3] == ["dagster", "api", "grpc"]
        assert service["command"][-1] == tool["module_name"]
        assert service["build"]["args"]["LOCATION"] == name
        assert service["image"] == f"${{DAGSTER_IMAGE_REPO:-dagster-stack}}/{name}:${{{name.upper()}_IMAGE_TAG:-dev}}"
        assert service["environment"]["DAGSTER_CURRENT_IMAGE"] == service["image"]
        assert set(compose["x-dagster-env"]) <= set(service["environment"]), f"code-{name} lacks the stack's env"
        for dependent in ("webserver", "webserver-readonly", "daemon"):
            # Started after it, and waiting until it serves (a healthy verdict comes an interval late).
            assert services[dependent]["depends_on"][f"code-{name}"] == {"condition": "service_started"}, dependent
            assert services[dependent]["command"][:2] == ["python", "/opt/dagster/deploy/wait-for-code-servers.py"]
        assert f"code_locations/{name}" in pythonpath["pytest"]["pythonpath"].split(), "pytest.ini pythonpath"
        assert name in first_party, "ruff.toml known-first-party"


def test_the_workspace_is_mounted_from_the_host_not_built_into_an_image():
    """Adding a location changes the workspace: it must rebuild no image but the location's and
    recreate only what reads the workspace (a changed hash label does that)."""
    services = load_yaml("docker-compose.yml")["services"]
    for name in ("webserver", "webserver-readonly", "daemon"):
        service = services[name]
        assert "./workspace.yaml:/opt/dagster/home/workspace.yaml:ro" in service["volumes"], name
        assert service["labels"]["dagster-stack/workspace"] == "${WORKSPACE_HASH:-}", name
        assert "/opt/dagster/home/workspace.yaml" in service["command"], name
    copies = [line for line in (REPO / "deploy/images/runtime.Dockerfile").read_text().splitlines() if line.startswith("COPY")]
    assert not [line for line in copies if "workspace" in line]
    assert "!workspace.yaml" not in (REPO / ".dockerignore").read_text().split()


def test_every_long_running_service_has_a_healthcheck_and_restart_policy():
    for name, service in started_services().items():
        if service.get("restart") == "no":
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert service.get("restart") == "unless-stopped", f"{name} has no restart policy"


def test_a_hung_service_shows_unhealthy_within_a_minute():
    # Docker's verdict comes after `retries` failed probes, an interval apart, each up to the timeout.
    interval = read_env_file(REPO / ".env.example")["HEALTHCHECK_INTERVAL"]
    for name, service in started_services().items():
        if check := service.get("healthcheck"):
            assert check["interval"] == f"${{HEALTHCHECK_INTERVAL:-{interval}}}", name
            assert check["retries"] * (seconds(interval) + seconds(check["timeout"])) <= 60, name


def seconds(duration: str) -> int:
    return int(duration.removesuffix("s"))


def test_healthchecks_need_no_engine_newer_than_20_10():
    services = load_yaml("docker-compose.yml")["services"]
    for name, service in services.items():
        assert "start_interval" not in service.get("healthcheck", {}), name


@pytest.mark.parametrize("name", sorted(code_locations()))
def test_code_location_definitions_load_and_validate(name, monkeypatch):
    import importlib

    import dagster as dg

    module = importlib.import_module(code_locations()[name]["module_name"])
    dg.Definitions.validate_loadable(module.defs)


@pytest.mark.parametrize(
    "secret, holders",
    [
        ("POSTGRES_PASSWORD", {"postgres", "migrate"}),
        ("MINIO_ROOT_PASSWORD", {"minio", "s3-identity", "create-buckets"}),
        ("DAGSTER_UI_PASSWORD", {"proxy"}),
        ("DAGSTER_VIEWER_PASSWORD", {"proxy"}),
    ],
)
def test_only_the_stores_and_their_one_shot_setup_hold_root_secrets(secret, holders):
    services = load_yaml("docker-compose.yml")["services"]
    holding = {name for name, service in services.items() if f"${{{secret}:" in str(service.get("environment"))}
    assert holding == holders


@pytest.mark.parametrize("env_file", [".env.example", "tests/stack.env", "tests/faults/stack.env", "bench/stack.env"])
def test_published_ports_are_below_the_ephemeral_range(env_file):
    # Linux hands out 32768-60999 to outgoing connections; a stack port in there is sometimes
    # taken by one just when the stack starts ("address already in use").
    ports = {key: int(value) for key, value in read_env_file(REPO / env_file).items() if key.endswith("_PORT")}
    assert ports and all(port < 32768 for port in ports.values()), ports


def test_the_webservers_are_reached_only_through_the_proxy():
    services = load_yaml("docker-compose.yml")["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy", "minio"}
    assert "--read-only" in services["webserver-readonly"]["command"]


def image_choices(services: dict) -> dict[tuple[str, str], str]:
    """(service, `image` or a build arg named *_IMAGE) -> its value."""
    choices = {}
    for name, service in services.items():
        if "image" in service:
            choices[(name, "image")] = service["image"]
        for arg, value in service.get("build", {}).get("args", {}).items():
            if arg.endswith("_IMAGE"):
                choices[(name, arg)] = value
    return choices


def test_the_compose_file_reads_as_the_registry_world_and_the_override_holds_the_other():
    main = image_choices(load_yaml("docker-compose.yml")["services"])
    override = load_yaml("deploy/images/local/compose.yml")["services"]
    local = image_choices(override)
    # Every base image the main file names is an official one, written out, not a variable...
    official = {key: value for key, value in main.items() if not value.startswith("${DAGSTER_IMAGE_REPO")}
    assert official and all("$" not in value for value in official.values()), official
    # ...and the registry-less world replaces each of them, and nothing else.
    assert local.keys() == official.keys()
    assert all(value.startswith("${") for value in local.values()), local
    assert set(override) <= set(load_yaml("docker-compose.yml")["services"])


def test_the_diagnostics_location_is_in_test_stacks_only():
    """Its jobs exercise the deployment; a user's stack neither runs nor lists it, and the test
    stacks' workspace is the user's plus it."""
    assert "code-diagnostics" not in load_yaml("docker-compose.yml")["services"]
    user_workspace = load_yaml("workspace.yaml")["load_from"]
    test_workspace = load_yaml("code_locations/diagnostics/workspace.yaml")["load_from"]
    diagnostics = {"grpc_server": {"host": "code-diagnostics", "port": 4000, "location_name": "diagnostics"}}
    assert test_workspace == [*user_workspace, diagnostics]

    override = load_yaml("code_locations/diagnostics/compose.yml")["services"]
    tool = tomllib.loads((REPO / "code_locations/diagnostics/pyproject.toml").read_text())["tool"]["dagster"]
    assert override["code-diagnostics"]["command"][-1] == tool["module_name"]
    assert override["code-diagnostics"]["environment"]["DAGSTER_CURRENT_IMAGE"] == override["code-diagnostics"]["image"]
    for service in ("webserver", "webserver-readonly", "daemon"):
        assert "./code_locations/diagnostics/workspace.yaml:/opt/dagster/home/workspace.yaml:ro" in override[service]["volumes"]
    for stack_env in ("tests/stack.env", "tests/faults/stack.env", "bench/stack.env"):
        assert read_env_file(REPO / stack_env)["STACK_COMPOSE_OVERRIDE"] == "code_locations/diagnostics/compose.yml"



def test_the_readonly_ui_is_opt_in():
    """The read-only webserver (about 130 MiB idle) runs only with DAGSTER_READONLY_UI=on, which
    turns on its profile (deploy/scripts/compose.sh) and tells the proxy; off by default."""
    services = started_services()
    assert services["webserver-readonly"]["profiles"] == ["readonly-ui"]
    assert services["proxy"]["environment"]["DAGSTER_READONLY_UI"] == "${DAGSTER_READONLY_UI:-off}"
    assert services["proxy"]["depends_on"]["webserver-readonly"]["required"] is False
    assert read_env_file(REPO / ".env.example")["DAGSTER_READONLY_UI"] == "off"


def test_metrics_and_monitoring_are_opt_in():
    """The exporter (about 120 MiB idle) and Prometheus run only with DAGSTER_METRICS=on or
    monitoring (their profiles, deploy/scripts/compose.sh), which the proxy is told; off by default.
    The exporter holds the read-only UI's read-only credentials, and nothing publishes a port."""
    services = started_services()
    assert services["metrics"]["profiles"] == ["metrics", "monitoring"]
    assert services["prometheus"]["profiles"] == ["monitoring"]
    assert services["proxy"]["environment"]["DAGSTER_METRICS"] == "${DAGSTER_METRICS:-off}"
    assert services["proxy"]["depends_on"]["metrics"]["required"] is False
    assert services["proxy"]["depends_on"]["prometheus"]["required"] is False
    readers = {key: services["webserver-readonly"]["environment"][key] for key in ("DAGSTER_POSTGRES_USER", "AWS_ACCESS_KEY_ID")}
    assert readers == {key: services["metrics"]["environment"][key] for key in readers}
    assert read_env_file(REPO / ".env.example")["DAGSTER_METRICS"] == "off"
