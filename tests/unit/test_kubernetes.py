"""The stack on Kubernetes (deploy/kubernetes/): Dagster's chart, rendered offline with our values,
lints strictly against its own schema, every manifest is valid Kubernetes 1.33, the instance
config it renders loads with the pinned dagster and dagster-k8s in the environment of every pod
that reads it, and what it deploys matches the compose stack: the same locations, images,
variables and limits. Broken values files fail these checks (the tests at the end)."""

import copy
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.instance.ref import InstanceRef
from dagster._serdes.config_class import class_from_code_pointer
from docker.utils import parse_bytes

from tests.harness.repo import REPO, read_env_file
from tests.harness.stack import image_tags
from tests.unit.test_stack_config import load_yaml

KUBERNETES = REPO / "deploy" / "kubernetes"
VALUES = KUBERNETES / "values.yaml"
KUBERNETES_VERSION = "1.33.0"
RELEASE, NAMESPACE = "dagster", "dagster"
# Compose variables that mean nothing on Kubernetes: Docker's network, the Postgres settings the
# chart writes into the instance config itself (password: DAGSTER_PG_PASSWORD from a Secret), and
# the run queue's limit, which the chart needs as a literal.
COMPOSE_ONLY = {
    "DAGSTER_NETWORK",
    # The Docker launcher's CPU limit per run container; Kubernetes sets resources itself.
    "RUN_CPU_LIMIT",
    "DAGSTER_MAX_CONCURRENT_RUNS",
    "DAGSTER_POSTGRES_HOST",
    "DAGSTER_POSTGRES_PORT",
    "DAGSTER_POSTGRES_USER",
    "DAGSTER_POSTGRES_PASSWORD",
    "DAGSTER_POSTGRES_DB",
    # How a compose code server hands variables to its runs (DockerRunLauncher); the chart has its own.
    "DAGSTER_CONTAINER_CONTEXT",
}
SENSITIVE = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL", re.IGNORECASE)
ENV_REFERENCE = re.compile(r"\{'env': '([A-Z0-9_]+)'\}")


IMAGE_TAG_VARIABLE = re.compile(r"\$\{([A-Z_]*IMAGE_TAG):-dev\}")


@dataclass
class Render:
    """The chart rendered with some values files: the files' own values, and the manifests."""

    values: dict
    manifests_file: Path

    @cached_property
    def docs(self) -> list[dict]:
        return [doc for doc in yaml.safe_load_all(self.manifests_file.read_text()) if doc]

    def named(self, kind: str, name: str) -> dict:
        found = [doc for doc in self.docs if doc["kind"] == kind and doc["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind} {name}: {len(found)} rendered"
        return found[0]

    def of_kind(self, kind: str) -> list[dict]:
        return [doc for doc in self.docs if doc["kind"] == kind]

    @cached_property
    def instance(self) -> dict:
        return yaml.safe_load(self.named("ConfigMap", f"{RELEASE}-instance")["data"]["dagster.yaml"])

    def container(self, deployment: str) -> dict:
        return self.named("Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]

    def code_server(self, location: str) -> dict:
        return self.container(f"{RELEASE}-dagster-user-deployments-{location}")

    def container_context(self, location: str) -> dict:
        env = {item["name"]: item.get("value") for item in self.code_server(location)["env"]}
        return json.loads(env["DAGSTER_CONTAINER_CONTEXT"])["k8s"]

    def locations(self) -> list[str]:
        return [item["name"] for item in self.values["dagster-user-deployments"]["deployments"]]

    # What a pod's environment holds, by name: its env list, the data of ConfigMaps it loads
    # (which must be rendered, or be ours) and the keys of Secrets it loads (which must be in
    # the values' `stack.secrets`, the list of what to create before installing).
    def config_map_keys(self, name: str) -> set[str]:
        return set(self.named("ConfigMap", name).get("data") or {})

    def secret_keys(self, name: str) -> set[str]:
        secrets = self.values["stack"]["secrets"]
        assert name in secrets, f"Secret {name} is not in stack.secrets"
        return set(secrets[name])

    def container_env(self, container: dict) -> set[str]:
        names = {item["name"] for item in container.get("env", [])}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                names |= self.config_map_keys(source["configMapRef"]["name"])
            elif not source["secretRef"].get("optional"):
                names |= self.secret_keys(source["secretRef"]["name"])
        return names

    def run_env(self, location: str) -> set[str]:
        """A run pod's environment: the launcher's, plus its location's container context."""
        launcher = self.instance["run_launcher"]["config"]
        context = self.container_context(location)
        names = {"DAGSTER_HOME", "DAGSTER_PG_PASSWORD"} | set(launcher.get("env_vars", []))
        names |= {item["name"] for item in context.get("env", [])}
        for name in [*launcher.get("env_config_maps", []), *context.get("env_config_maps", [])]:
            names |= self.config_map_keys(name)
        for name in [*launcher.get("env_secrets", []), *context.get("env_secrets", [])]:
            names |= self.secret_keys(name)
        return names


def render(values_files: list[Path], out: Path, tags: dict[str, str], registry: str = "dagster-stack") -> Render:
    """deploy/kubernetes/render.sh: helm lint --strict, then helm template. Raises on failure."""
    env = {**os.environ, "PYTHON": sys.executable, **tags, "REGISTRY": registry}
    result = subprocess.run(
        [KUBERNETES / "render.sh", out, *values_files], env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise AssertionError(f"render failed:\n{result.stdout}{result.stderr}")
    values = {}
    for file in values_files:
        values = merge(values, yaml.safe_load(file.read_text()))
    return Render(values, out)


def merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


@pytest.fixture(scope="module")
def tag() -> dict[str, str]:
    """The image tags compose runs: the stack's (IMAGE_TAG) and each location's."""
    return image_tags()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, tag) -> Render:
    return render([VALUES], tmp_path_factory.mktemp("k8s") / "manifests.yaml", tag)


@pytest.fixture
def broken(tmp_path, tag):
    """Renders a copy of values.yaml changed by `change(values)`."""

    def render_broken(change) -> Render:
        values = copy.deepcopy(yaml.safe_load(VALUES.read_text()))
        change(values)
        file = tmp_path / "values.yaml"
        file.write_text(yaml.safe_dump(values, sort_keys=False))
        return render([file], tmp_path / "manifests.yaml", tag)

    return render_broken


# The checks: each raises AssertionError on a render that breaks what it guards.


def check_kubernetes_schemas(render: Render) -> None:
    result = subprocess.run(
        [
            Path(sys.executable).with_name("kubernetes-validate"),
            "--strict",
            "--quiet",
            "-k",
            KUBERNETES_VERSION,
            render.manifests_file,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every document was judged: none was skipped for want of a schema.
    assert len(re.findall(r"passed|failed", result.stdout + result.stderr)) in (0, len(render.docs))


def check_instance_config(render: Render, environment: set[str], monkeypatch) -> None:
    """Loads the rendered dagster.yaml as every Dagster process does (InstanceRef.from_dir:
    Dagster's own instance schema), imports every class it names and processes each one's config
    against that class's schema, with exactly `environment` set: what the instance config needs
    from the environment must be there."""
    for name in set(ENV_REFERENCE.findall(str(render.instance))) | environment:
        monkeypatch.delenv(name, raising=False)
    for name in environment:
        monkeypatch.setenv(name, "1" if name.endswith(("_PORT", "_RUNS")) else f"value-of-{name.lower()}")
    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "dagster.yaml").write_text(yaml.safe_dump(render.instance))
        ref = InstanceRef.from_dir(home)
    sections = [
        ref.run_storage_data,
        ref.event_storage_data,
        ref.schedule_storage_data,
        ref.scheduler_data,
        ref.run_coordinator_data,
        ref.run_launcher_data,
        ref.compute_logs_data,
    ]
    for data in sections:
        klass = class_from_code_pointer(data.module_name, data.class_name)
        result = process_config(resolve_to_config_type(klass.config_type()), yaml.safe_load(data.config_yaml) or {})
        assert result.success, f"{data.module_name}.{data.class_name}: {[error.message for error in result.errors]}"
    assert ref.run_launcher_data.class_name == "K8sRunLauncher"


def check_locations_match_compose(render: Render, tag: str) -> None:
    services = load_yaml("docker-compose.yml")["services"]
    workspace = [entry["grpc_server"]["location_name"] for entry in load_yaml("workspace.yaml")["load_from"]]
    compose_locations = sorted(name.removeprefix("code-") for name in services if name.startswith("code-"))
    assert sorted(render.locations()) == sorted(workspace) == compose_locations
    chart_workspace = yaml.safe_load(render.named("ConfigMap", f"{RELEASE}-workspace-yaml")["data"]["workspace.yaml"])
    assert sorted(entry["grpc_server"]["location_name"] for entry in chart_workspace["load_from"]) == sorted(workspace)
    # The webservers and the daemon read that ConfigMap, mounted: no image holds a workspace.
    for deployment in ("daemon", "dagster-webserver", "dagster-webserver-read-only"):
        container = render.container(f"{RELEASE}-{deployment}")
        assert "-w /dagster-workspace/workspace.yaml" in " ".join(container["command"]), deployment
        assert {"name": "dagster-workspace-yaml", "mountPath": "/dagster-workspace/"} in container["volumeMounts"], deployment
    for location in render.locations():
        compose = services[f"code-{location}"]
        container = render.code_server(location)
        assert container["args"][:3] == ["dagster", "code-server", "start"]
        assert container["args"][-1] == compose["command"][-1], "not the module compose serves"
        image = compose_image(compose["image"], tag)
        assert container["image"] == image
        env = {item["name"]: item.get("value") for item in container["env"]}
        assert env["DAGSTER_CURRENT_IMAGE"] == image
        # It reads the instance config the chart renders (includeInstance), mounted by name.
        pod = render.named("Deployment", f"{RELEASE}-dagster-user-deployments-{location}")["spec"]["template"]["spec"]
        instance = next(volume for volume in pod["volumes"] if volume["name"] == "dagster-instance")
        render.named("ConfigMap", instance["configMap"]["name"])


def compose_image(template: str, tags: dict[str, str]) -> str:
    named = template.replace("${DAGSTER_IMAGE_REPO:-dagster-stack}", "dagster-stack")
    return IMAGE_TAG_VARIABLE.sub(lambda match: tags[match.group(1)], named)


def check_images_are_the_stacks(render: Render, tag: str) -> None:
    services = load_yaml("docker-compose.yml")["services"]
    ours = {
        compose_image(service["image"], tag)
        for service in services.values()
        if "DAGSTER_IMAGE_REPO" in service.get("image", "")
    }
    used = set()
    for doc in render.docs:
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            used.add(container["image"])
    # The chart's one helper of its own: busybox's nslookup, waiting for the code servers' names.
    helpers = {image for image in used if image.startswith("docker.io/busybox:")}
    assert used - helpers <= ours, f"not images of the stack: {used - helpers - ours}"
    for name in ("dagster", "pgbouncer", "proxy", *render.locations()):
        variable = "IMAGE_TAG" if name in ("dagster", "pgbouncer", "proxy") else f"{name.upper()}_IMAGE_TAG"
        assert f"dagster-stack/{name}:{tag[variable]}" in used


def check_env_reaches_each_location_and_its_runs_only(render: Render) -> None:
    services = load_yaml("docker-compose.yml")["services"]
    launcher_env = set(load_yaml("dagster.yaml")["run_launcher"]["config"]["env_vars"])
    compose_env = {location: set(services[f"code-{location}"]["environment"]) for location in render.locations()}
    for location in render.locations():
        server_env = render.container_env(render.code_server(location))
        missing = compose_env[location] - COMPOSE_ONLY - server_env
        assert not missing, f"code server {location} lacks {missing}"
        # Compose's run workers: the launcher's variables plus the location's container context.
        context = json.loads(services[f"code-{location}"]["environment"].get("DAGSTER_CONTAINER_CONTEXT") or "{}")
        wanted = (launcher_env | set(context.get("docker", {}).get("env_vars", []))) - COMPOSE_ONLY
        missing = wanted - render.run_env(location)
        assert not missing, f"runs of {location} lack {missing}"
        # What compose gives this location alone reaches no other location, nor its runs.
        own = compose_env[location] - COMPOSE_ONLY - set.union(*(env for other, env in compose_env.items() if other != location))
        for other in render.locations():
            if other != location:
                leaked = own & (render.container_env(render.code_server(other)) | render.run_env(other))
                assert not leaked, f"{location}'s {leaked} reach {other}"
    # The warehouse's settings follow the stack's Postgres server and bucket.
    deployments = render.values["dagster-user-deployments"]["deployments"]
    analytics = next(item for item in deployments if item["name"] == "analytics")["env"]
    assert f"host={render.values['stack']['postgresHost']} " in analytics["WAREHOUSE_CATALOG"]
    assert analytics["WAREHOUSE_DATA_PATH"].startswith(f"s3://{render.values['stack']['s3']['warehouseBucket']}/")
    # The warehouse's secret is held by the analytics side only (and the migrate Job).
    for deployment in render.of_kind("Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        if "WAREHOUSE_DB_PASSWORD" in render.container_env(container):
            assert deployment["metadata"]["name"].endswith("-analytics"), deployment["metadata"]["name"]


def check_instance_matches_dagster_yaml(render: Render) -> None:
    compose, k8s = load_yaml("dagster.yaml"), render.instance
    defaults = read_env_file(REPO / ".env.example")
    queue = dict(compose["run_queue"])
    assert queue.pop("max_concurrent_runs") == {"env": "DAGSTER_MAX_CONCURRENT_RUNS"}
    assert k8s["run_coordinator"]["class"] == "QueuedRunCoordinator"
    coordinator = dict(k8s["run_coordinator"]["config"])
    assert coordinator.pop("max_concurrent_runs") == int(defaults["DAGSTER_MAX_CONCURRENT_RUNS"])
    assert coordinator == queue
    monitoring = dict(k8s["run_monitoring"])
    # A pod may wait for a node and an image pull first: more time to start, never less.
    assert monitoring.pop("start_timeout_seconds") >= compose["run_monitoring"].pop("start_timeout_seconds")
    assert {key: monitoring[key] for key in compose["run_monitoring"]} == compose["run_monitoring"]
    for section in ("run_retries", "sensors", "schedules", "compute_logs", "telemetry", "retention"):
        expected, actual = compose[section], k8s[section]
        if section == "retention":  # the chart requires `started`; -1 keeps them, as compose's omission does
            actual = copy.deepcopy(actual)
            assert actual["sensor"]["purge_after_days"].pop("started") == -1
        assert actual == expected, section
    scheme = compose["storage"]["custom"]["config"]["postgres_db"]["scheme"]
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):
        assert k8s[storage]["config"]["postgres_db"]["scheme"] == scheme


def check_limits(render: Render) -> None:
    compose = load_yaml("dagster.yaml")["run_launcher"]["config"]["container_kwargs"]
    service_limit = read_env_file(REPO / ".env.example")["SERVICE_MEM_LIMIT"]
    run_limit = render.instance["run_launcher"]["config"]["resources"]["limits"]["memory"]
    assert parse_quantity(run_limit) == parse_bytes(compose["mem_limit"])
    for kind in ("Deployment", "Job"):
        for doc in render.of_kind(kind):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                limit = container.get("resources", {}).get("limits", {}).get("memory")
                assert limit, f"{doc['metadata']['name']}: no memory limit"
                assert parse_quantity(limit) <= parse_bytes(service_limit)
    for location in render.locations():
        assert parse_quantity(render.container_context(location)["resources"]["limits"]["memory"]) == parse_bytes(
            compose["mem_limit"]
        )
    # Finished runs go after the run janitor's retention, as Jobs with a TTL.
    ttl = render.instance["run_launcher"]["config"]["run_k8s_config"]["job_spec_config"]["ttl_seconds_after_finished"]
    assert ttl == int(read_env_file(REPO / ".env.example")["RUN_CONTAINER_RETENTION_HOURS"]) * 3600


def parse_quantity(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", str(quantity)).groups()
    return int(number) * {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[unit]


def check_non_root_is_checkable(render: Render) -> None:
    """Kubernetes refuses to start a container that must not run as root when the image names
    its user (USER dagster) and no numeric runAsUser says who that is."""
    pods = [doc["spec"]["template"]["spec"] for doc in render.docs if "template" in doc.get("spec", {})]
    launcher = render.instance["run_launcher"]["config"].get("security_context")
    pods.append({"containers": [{"securityContext": launcher}]} if launcher else {"containers": []})
    for pod in pods:
        pod_context = pod.get("securityContext") or {}
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            context = {**pod_context, **(container.get("securityContext") or {})}
            if context.get("runAsNonRoot"):
                assert isinstance(context.get("runAsUser"), int), (
                    f"{container.get('name', 'run')}: runAsNonRoot without runAsUser"
                )


def check_no_literal_secrets(render: Render) -> None:
    def walk(node, path=""):
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and value and SENSITIVE.search(key) and not key.endswith("Name"):
                    raise AssertionError(f"literal secret in values: {path}{key}")
                walk(value, f"{path}{key}.")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk({key: value for key, value in render.values.items() if key != "stack"})
    assert not render.of_kind("Secret"), "the chart renders a Secret: its data would be in the values"
    for doc in render.docs:
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            for item in container.get("env", []):
                if SENSITIVE.search(item["name"]):
                    assert "valueFrom" in item, f"{doc['metadata']['name']}: {item['name']} is a literal"


def check_front_door(render: Render) -> None:
    webservers = [f"{RELEASE}-dagster-webserver", f"{RELEASE}-dagster-webserver-read-only"]
    assert not render.of_kind("Ingress"), "an ingress would reach the webservers without a login"
    for kind in ("Service",):
        for doc in render.of_kind(kind):
            assert doc["spec"].get("type", "ClusterIP") == "ClusterIP", doc["metadata"]["name"]
    read_only = render.container(webservers[1])
    assert "--read-only" in read_only["command"][-1]
    proxy = render.container("dagster-stack-proxy")
    env = {item["name"]: item.get("value") for item in proxy["env"]}
    assert env["DAGSTER_UI_AUTH"] == "basic"
    assert {"DAGSTER_UI_PASSWORD", "DAGSTER_VIEWER_PASSWORD"} <= render.container_env(proxy)
    port = render.named("Service", webservers[0])["spec"]["ports"][0]["port"]
    for name in webservers:  # the chart's probe defaults to port 80, whatever the webserver's port
        webserver = render.container(name)
        assert webserver["readinessProbe"]["httpGet"]["port"] == webserver["ports"][0]["containerPort"] == port
    for variable, service in zip(("DAGSTER_UI_UPSTREAM", "DAGSTER_READONLY_UPSTREAM"), webservers, strict=True):
        assert env[variable] == f"{service}.{NAMESPACE}.svc.cluster.local:{port}"
        render.named("Service", service)
    # Where NetworkPolicy is enforced, only the proxy's pods reach the webservers' pods.
    policy = render.named("NetworkPolicy", "dagster-stack-webservers-behind-proxy")["spec"]
    selected = set(policy["podSelector"]["matchExpressions"][0]["values"])
    for name in webservers:
        assert render.named("Deployment", name)["spec"]["template"]["metadata"]["labels"]["component"] in selected
    proxy_labels = render.named("Deployment", "dagster-stack-proxy")["spec"]["template"]["metadata"]["labels"]
    assert all(
        proxy_labels.get(key) == value
        for key, value in policy["ingress"][0]["from"][0]["podSelector"]["matchLabels"].items()
    )


# The checks on our values file.


def test_the_vendored_chart_is_the_published_one():
    result = subprocess.run(
        ["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=KUBERNETES / "vendor", capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    listed = {line.split("  ", 1)[1] for line in (KUBERNETES / "vendor" / "SHA256SUMS").read_text().splitlines()}
    present = {
        f"./{path.relative_to(KUBERNETES / 'vendor')}" for path in (KUBERNETES / "vendor").rglob("*") if path.is_file()
    }
    assert present - {"./SHA256SUMS", "./PROVENANCE.md"} == listed


def test_every_manifest_is_valid_kubernetes(rendered):
    check_kubernetes_schemas(rendered)


def test_the_instance_config_loads_in_every_pod_that_reads_it(rendered, monkeypatch):
    pods = {
        "webserver": rendered.container_env(rendered.container(f"{RELEASE}-dagster-webserver")),
        "read-only webserver": rendered.container_env(rendered.container(f"{RELEASE}-dagster-webserver-read-only")),
        "daemon": rendered.container_env(rendered.container(f"{RELEASE}-daemon")),
    }
    for location in rendered.locations():
        pods[f"code server {location}"] = rendered.container_env(rendered.code_server(location))
        pods[f"runs of {location}"] = rendered.run_env(location)
    for pod, environment in pods.items():
        with monkeypatch.context() as patch:
            try:
                check_instance_config(rendered, environment, patch)
            except Exception as error:
                raise AssertionError(f"{pod}: {error}") from error


def test_the_locations_are_compose_s(rendered, tag):
    check_locations_match_compose(rendered, tag)


def test_every_container_runs_an_image_of_the_stack(rendered, tag):
    check_images_are_the_stacks(rendered, tag)


def test_each_location_s_variables_reach_it_and_its_runs_only(rendered):
    check_env_reaches_each_location_and_its_runs_only(rendered)


def test_queue_monitoring_retries_and_compute_logs_are_dagster_yaml_s(rendered):
    check_instance_matches_dagster_yaml(rendered)


def test_every_container_and_run_has_compose_s_limits_and_finished_runs_go(rendered):
    check_limits(rendered)


def test_non_root_containers_say_which_user_they_run_as(rendered):
    check_non_root_is_checkable(rendered)


def test_a_non_root_run_without_a_user_id_fails(broken):
    def named_user_only(values):
        del values["runLauncher"]["config"]["k8sRunLauncher"]["securityContext"]["runAsUser"]

    with pytest.raises(AssertionError, match="runAsNonRoot without runAsUser"):
        check_non_root_is_checkable(broken(named_user_only))


def test_no_password_is_written_in_values_or_manifests(rendered):
    check_no_literal_secrets(rendered)


def test_the_ui_is_reached_only_through_the_proxy_s_login(rendered):
    check_front_door(rendered)


def test_the_webserver_reads_a_db_pool_recycle_of_0_from_its_environment(monkeypatch):
    # The chart drops dbPoolRecycle: 0, so values.yaml sets the CLI's variable instead.
    from dagster_webserver.cli import cli

    env = {item["name"]: item["value"] for item in yaml.safe_load(VALUES.read_text())["dagsterWebserver"]["env"]}
    monkeypatch.setenv("DAGSTER_WEBSERVER_DB_POOL_RECYCLE", env["DAGSTER_WEBSERVER_DB_POOL_RECYCLE"])
    context = cli.make_context(
        "dagster-webserver", ["-w", str(REPO / "workspace.yaml")], auto_envvar_prefix="DAGSTER_WEBSERVER"
    )
    assert context.params["db_pool_recycle"] == 0


def test_make_push_names_every_image_of_the_stack():
    without_location_tags = {key: value for key, value in os.environ.items() if not key.endswith("IMAGE_TAG")}
    output = subprocess.run(
        [sys.executable, KUBERNETES / "image_values.py", "registry.example/team", "0123456789"],
        env=without_location_tags,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    settings = dict(line.removeprefix("--set-string=").split("=", 1) for line in output.splitlines())
    assert len(settings) == len(output.splitlines())
    names = {value.rsplit("/", 1)[-1] for key, value in settings.items() if key.endswith(".repository")}
    locations = [item["name"] for item in yaml.safe_load(VALUES.read_text())["dagster-user-deployments"]["deployments"]]
    assert names == {"dagster", "runtime", "proxy", "pgbouncer", *locations}
    assert {value for key, value in settings.items() if key.endswith(".tag")} == {"0123456789"}
    assert settings["postgresql.image.registry"] == "registry.example/team"


# Broken values files fail.


def test_a_field_the_chart_does_not_know_fails_the_render(broken):
    with pytest.raises(AssertionError, match="render failed"):
        broken(lambda values: values["dagsterDaemon"].update(maxConcurrentRun=4))


def test_a_literal_password_fails(broken):
    with pytest.raises(AssertionError, match="literal secret in values"):
        check_no_literal_secrets(broken(lambda values: values["postgresql"].update(postgresqlPassword="hunter2")))
    with pytest.raises(AssertionError, match="is a literal"):
        env = [{"name": "AWS_SECRET_ACCESS_KEY", "value": "hunter2"}]
        check_no_literal_secrets(broken(lambda values: values["dagsterDaemon"].update(env=env)))


def test_a_missing_location_fails(broken, tag):
    def drop_analytics(values):
        deployments = values["dagster-user-deployments"]["deployments"]
        deployments[:] = [item for item in deployments if item["name"] != "analytics"]

    with pytest.raises(AssertionError):
        check_locations_match_compose(broken(drop_analytics), tag)


def test_a_secret_reaching_the_wrong_location_fails(broken):
    def share_the_warehouse(values):
        ingestion = values["dagster-user-deployments"]["deployments"][0]
        ingestion["envSecrets"].append({"name": "dagster-stack-warehouse"})

    with pytest.raises(AssertionError, match="reach ingestion"):
        check_env_reaches_each_location_and_its_runs_only(broken(share_the_warehouse))


def test_a_run_queue_limit_from_the_environment_fails(broken, monkeypatch):
    # The chart's schema takes {env: ...} here, but renders a config dagster's schema refuses.
    def env_limit(values):
        coordinator = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
        coordinator["maxConcurrentRuns"] = {"env": "DAGSTER_MAX_CONCURRENT_RUNS"}

    render = broken(env_limit)
    daemon_env = render.container_env(render.container(f"{RELEASE}-daemon")) | {"DAGSTER_MAX_CONCURRENT_RUNS"}
    with pytest.raises(AssertionError, match="QueuedRunCoordinator"):
        check_instance_config(render, daemon_env, monkeypatch)


def test_an_invalid_manifest_fails_kubernetes_validation(broken):
    def typo(values):
        service = next(item for item in values["extraManifests"] if item["kind"] == "Service")
        service["spec"]["prots"] = service["spec"].pop("ports")

    with pytest.raises(AssertionError):
        check_kubernetes_schemas(broken(typo))


def test_the_chart_s_default_webserver_port_fails(broken):
    # Unset, the webservers listen on 80 while the probe and the proxy expect compose's 3000.
    with pytest.raises(AssertionError):
        check_front_door(broken(lambda values: values["dagsterWebserver"].pop("service")))


def test_probes_and_one_shot_commands_are_compose_s(rendered):
    # Paths inside the images (deploy/...) are compose's: a move there must move here too.
    services = load_yaml("docker-compose.yml")["services"]

    def compose_probe(service: str) -> list[str]:
        test = services[service]["healthcheck"]["test"]
        if test[0] == "CMD-SHELL":
            return ["sh", "-c", test[1].replace("$$", "$")]
        return test[1:]

    for location in rendered.locations():
        assert rendered.code_server(location)["readinessProbe"]["exec"]["command"] == compose_probe(f"code-{location}")
    for name, service in (("dagster-stack-proxy", "proxy"), ("dagster-stack-pgbouncer", "pgbouncer")):
        assert rendered.container(name)["readinessProbe"]["exec"]["command"] == compose_probe(service)
    migrate = rendered.named("Job", "dagster-stack-migrate")["spec"]["template"]["spec"]["containers"][0]
    assert migrate["command"] == services["migrate"]["command"]


def test_the_migrate_job_gets_every_variable_prepare_database_reads(rendered):
    read = set(re.findall(r'os\.environ\["(\w+)"\]', (REPO / "deploy/postgres/prepare-database.py").read_text()))
    migrate = rendered.named("Job", "dagster-stack-migrate")["spec"]["template"]["spec"]["containers"][0]
    assert read and not read - rendered.container_env(migrate), f"the migrate Job lacks {read - rendered.container_env(migrate)}"
