"""The live test stack, driven through the same doors a user has: compose, GraphQL, S3, Docker."""

import base64
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import boto3
import docker
import requests
from dagster_graphql import DagsterGraphQLClient

from tests.harness.polling import wait_until
from tests.harness.repo import REPO, read_env_file, stack_files

# Who logs in at the proxy: operators on the UI's port, viewers on the read-only one.
LOGINS = {
    "operator": ("DAGSTER_UI_USER", "DAGSTER_UI_PASSWORD"),
    "viewer": ("DAGSTER_VIEWER_USER", "DAGSTER_VIEWER_PASSWORD"),
}
TERMINAL_RUN_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}
QUOTE = '"'
def ingestion_sensor(name: str) -> dict:
    return {"repositoryLocationName": "ingestion", "repositoryName": "__repository__", "sensorName": name}
RUNS_BY_TAG = """
query ($key: String!, $value: String!) {
  runsOrError(filter: {tags: [{key: $key, value: $value}]}) {
    ... on Runs { results { runId status creationTime startTime endTime } }
  }
}
"""
SENSOR_TICKS = """
query ($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    ... on Sensor { sensorState { ticks(limit: 10) { timestamp status error { message causes { message } } } } }
  }
}
"""
SENSOR_RUNS_SINCE = """
query ($after: Float!) {
  runsOrError(filter: {tags: [{key: "dagster/sensor_name", value: "landing_sensor"}], createdAfter: $after}) {
    ... on Runs { results { runId status creationTime startTime endTime } }
  }
}
"""
ACTIVE_RUNS = """
{ runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING]}) { ... on Runs { results { runId } } } }
"""
RUN_ERRORS = """
query ($runId: ID!) {
  runOrError(runId: $runId) {
    ... on Run { eventConnection { events { ... on ErrorEvent { error { message } } } } }
  }
}
"""
PARTITION_MATERIALIZATIONS = """
query ($asset: [String!]!, $partition: String!) {
  assetOrError(assetKey: {path: $asset}) {
    ... on Asset { assetMaterializations(partitions: [$partition]) { runId partition } }
  }
}
"""

def image_tags() -> dict[str, str]:
    """IMAGE_TAG (the stack's images) and <LOCATION>_IMAGE_TAG (each location's), as
    deploy/scripts/with-stack.sh exported them, else as deploy/scripts/image-tag.sh computes them."""

    def computed(*location: str) -> str:
        script = REPO / "deploy" / "scripts" / "image-tag.sh"
        env = {**os.environ, "IMAGE_TAG": tags["IMAGE_TAG"]} if location else None
        return subprocess.run([script, *location], check=True, capture_output=True, text=True, env=env).stdout.strip()

    tags = {"IMAGE_TAG": os.environ.get("IMAGE_TAG") or computed()}
    for project in sorted((REPO / "code_locations").glob("*/pyproject.toml")):
        variable = f"{project.parent.name.upper()}_IMAGE_TAG"
        tags[variable] = os.environ.get(variable) or computed(project.parent.name)
    return tags


@dataclass
class Stack:
    settings: dict[str, str]
    env_files: dict[str, str]

    @classmethod
    def from_environment(cls, default: Path) -> "Stack":
        """The stack deploy/scripts/with-stack.sh was pointed at (STACK_ENV_OVERRIDES), else the one
        `default` names; never the user's own (.env), whose data the tests would wipe."""
        env_files = stack_files(Path(os.environ.get("STACK_ENV_OVERRIDES") or default))
        if Path(env_files["STACK_ENV"]).resolve() == REPO / ".env":
            raise RuntimeError("tests never run against the user's stack (.env); use a stack of their own")
        return cls.from_files(env_files)

    @classmethod
    def from_files(cls, env_files: dict[str, str]) -> "Stack":
        """A stack whose secrets are in env_files["STACK_ENV"] and project name and ports in
        env_files["STACK_ENV_OVERRIDES"] (see deploy/scripts/compose.sh)."""
        settings: dict[str, str] = {}
        for path in (env_files["STACK_ENV"], env_files["STACK_ENV_OVERRIDES"]):
            settings.update(read_env_file(Path(path)))
        # One set of tags for the whole session, even if the code is edited while the tests run.
        settings.update(image_tags())
        return cls(settings, env_files)

    @property
    def image_repo(self) -> str:
        """The prefix of the stack's own images (DAGSTER_IMAGE_REPO, as docker-compose.yml defaults it)."""
        return self.settings.get("DAGSTER_IMAGE_REPO", "dagster-stack")

    @property
    def image_tags(self) -> dict[str, str]:
        return {key: value for key, value in self.settings.items() if key.endswith("IMAGE_TAG")}

    def location_image_tag(self, location: str) -> str:
        return self.settings[f"{location.upper()}_IMAGE_TAG"]

    @property
    def project(self) -> str:
        return self.settings["COMPOSE_PROJECT_NAME"]

    @property
    def network(self) -> str:
        return self.settings["DAGSTER_NETWORK"]

    def deploy_script(
        self, name: str, *args: str, env: dict | None = None, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess:
        """Runs deploy/scripts/<name> against this stack, as the Makefile would."""
        full_env = {**os.environ, **self.env_files, **self.image_tags, **(env or {})}
        result = subprocess.run(
            [str(REPO / "deploy" / "scripts" / name), *args],
            env=full_env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"deploy/{name} {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def make(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        """`make ARGS` from the host, as a user types it, against this stack; fails if make does."""
        result = subprocess.run(
            ["make", "-s", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
            env={**os.environ, **self.env_files, **self.image_tags}, stdin=subprocess.DEVNULL, check=False,
        )
        assert result.returncode == 0, f"make {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    def compose(self, *args: str, check: bool = True, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
        """compose.sh for this stack; `env` overrides settings (e.g. DAGSTER_METRICS) for this call."""
        return self.deploy_script("compose.sh", *args, check=check, timeout=timeout, env=env)

    def services(self) -> list[dict]:
        output = self.compose("ps", "--all", "--format", "json").stdout
        # Compose prints one JSON object per line.
        return [json.loads(line) for line in output.splitlines() if line.strip()]

    def config(self) -> dict:
        return json.loads(self.compose("config", "--format", "json").stdout)

    def code_location_images(self) -> dict[str, str]:
        """Location name -> the image its running code server advertises as DAGSTER_CURRENT_IMAGE."""
        client = docker.from_env()
        images = {}
        for container in client.containers.list(filters={"label": f"com.docker.compose.project={self.project}"}):
            service = container.labels["com.docker.compose.service"]
            if service.startswith("code-"):
                env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
                assert env["DAGSTER_CURRENT_IMAGE"] == container.attrs["Config"]["Image"], service
                images[service.removeprefix("code-")] = env["DAGSTER_CURRENT_IMAGE"]
        return images

    @property
    def ui_url(self) -> str:
        """The UI as users reach it: through the proxy."""
        return f"http://127.0.0.1:{self.settings['DAGSTER_WEBSERVER_PORT']}"

    @property
    def readonly_url(self) -> str:
        return f"http://127.0.0.1:{self.settings['DAGSTER_READONLY_PORT']}"

    def login(self, who: str = "operator") -> tuple[str, str]:
        """User name and password of an operator or a viewer."""
        user_key, password_key = LOGINS[who]
        return self.settings[user_key], self.settings[password_key]

    def auth_header(self, who: str = "operator") -> dict[str, str]:
        credentials = base64.b64encode(":".join(self.login(who)).encode()).decode()
        return {"Authorization": f"Basic {credentials}"}

    def post_graphql(self, document: str, variables: dict | None = None, who: str = "operator") -> requests.Response:
        """A JSON POST to /graphql through the proxy, logged in as `who` at their own port."""
        url = self.ui_url if who == "operator" else self.readonly_url
        return requests.post(
            f"{url}/graphql", json={"query": document, "variables": variables or {}},
            headers=self.auth_header(who), timeout=30,
        )

    def query(self, document: str, variables: dict | None = None, who: str = "operator") -> dict:
        """Posts a GraphQL document through the proxy, as the UI does; fails on GraphQL errors."""
        response = self.post_graphql(document, variables, who)
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def answer(self, document: str) -> dict | None:
        """The query's data, or None while the UI cannot answer (restarting, or its storage down)."""
        try:
            return self.query(document)
        except OSError:  # requests' errors (refused, 502, 500) are OSErrors
            return None

    def wait_until_idle(self, timeout: float = 180) -> None:
        """Until no run is queued or in progress: automation may start runs after any drop."""
        wait_until("no run in progress", lambda: not self.query(ACTIVE_RUNS)["runsOrError"]["results"], timeout, 1)

    def runs_tagged(self, key: str, value: str) -> list[dict]:
        return self.query(RUNS_BY_TAG, {"key": key, "value": value})["runsOrError"]["results"]

    def newest_run_tagged(self, key: str, value: str) -> dict | None:
        return next(iter(self.runs_tagged(key, value)), None)

    def drop(self, key: str, body: bytes, s3=None) -> str:
        """Uploads into the landing bucket as a user would; returns "<key>@<etag>", the `stack/source`
        tag of the run the sensor starts for a lone file. From several threads, pass one client:
        creating clients is not thread-safe in boto3."""
        etag = (s3 or self.s3()).put_object(Bucket=self.settings["LANDING_BUCKET"], Key=key, Body=body)["ETag"]
        return f"{key}@{etag.strip(QUOTE)}"

    def wait_for_sensor_run(self, source: str, timeout: float = 120) -> dict:
        """The finished run the landing sensor started for a lone dropped file (see `drop`)."""

        def finished():
            runs = self.runs_tagged("stack/source", source)
            return runs[0] if runs and runs[0]["status"] in TERMINAL_RUN_STATUSES else None

        return wait_until(f"a finished sensor run for {source}", finished, timeout)

    def sensor_runs_since(self, since: float) -> list[dict]:
        """The landing sensor's runs created after `since` (epoch seconds), in one query."""
        return self.query(SENSOR_RUNS_SINCE, {"after": since})["runsOrError"]["results"]

    def sensor_ticks(self, sensor: str = "landing_sensor") -> list[dict]:
        """An ingestion sensor's latest ticks, newest first: timestamp, status, error."""
        return self.query(SENSOR_TICKS, {"selector": ingestion_sensor(sensor)})["sensorOrError"]["sensorState"]["ticks"]

    def wait_for_sensor_ticks(self, count: int, since: float, timeout: float = 60, sensor: str = "landing_sensor") -> list[dict]:
        """Waits until the sensor has completed `count` ticks that started after `since`."""

        def ticked():
            done = [t for t in self.sensor_ticks(sensor) if t["timestamp"] > since and t["status"] != "STARTED"]
            return done if len(done) >= count else None

        return wait_until(f"{count} {sensor} ticks", ticked, timeout)

    def materializations(self, partition: str, asset: tuple[str, ...] = ("ingestion", "orders")) -> list[dict]:
        """The materializations of `asset` for one dropped file (partition = its key)."""
        variables = {"asset": list(asset), "partition": partition}
        return self.query(PARTITION_MATERIALIZATIONS, variables)["assetOrError"]["assetMaterializations"]

    def graphql(self) -> DagsterGraphQLClient:
        return DagsterGraphQLClient(
            "127.0.0.1", port_number=int(self.settings["DAGSTER_WEBSERVER_PORT"]), headers=self.auth_header()
        )

    def s3(self, identity: str = "root"):
        """An S3 client as the store's root, or as "stack" (the identity services and runs hold),
        "uploader" (what uploaders are given) or "reader" (the read-only UI, `make sql`)."""
        keys = {
            "root": ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"),
            "stack": ("S3_APP_ACCESS_KEY", "S3_APP_SECRET_KEY"),
            "uploader": ("S3_UPLOAD_ACCESS_KEY", "S3_UPLOAD_SECRET_KEY"),
            "reader": ("S3_READ_ACCESS_KEY", "S3_READ_SECRET_KEY"),
        }[identity]
        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint_url,
            aws_access_key_id=self.settings[keys[0]],
            aws_secret_access_key=self.settings[keys[1]],
            region_name=self.settings.get("S3_REGION") or "us-east-1",
        )

    @property
    def s3_endpoint_url(self) -> str:
        """The S3 store from this host: an external one where S3_ENDPOINT_URL names it, else the
        stack's own, published on S3_API_PORT."""
        return self.settings.get("S3_ENDPOINT_URL") or f"http://127.0.0.1:{self.settings['S3_API_PORT']}"

    def objects(self, bucket_variable: str) -> list[dict]:
        """Every object (Key, ETag, Size, ...) in the bucket the setting names, e.g. LANDING_BUCKET."""
        pages = self.s3().get_paginator("list_objects_v2").paginate(Bucket=self.settings[bucket_variable])
        return [item for page in pages for item in page.get("Contents", [])]

    def psql(self, sql: str) -> str:
        """Runs SQL in the stack's Postgres (not published on the host) and returns the rows."""
        user, db = self.settings["POSTGRES_USER"], self.settings["POSTGRES_DB"]
        result = self.compose("exec", "-T", "postgres", "psql", "-U", user, "-d", db, "-At", "-c", sql)
        return result.stdout.strip()

    def assert_isolated(self) -> None:
        """Every container of this stack is on its own network only: never on a user's stack."""
        client = docker.from_env()
        containers = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={self.project}"})
        for container in containers:
            networks = set(container.attrs["NetworkSettings"]["Networks"])
            assert networks == {self.network}, f"{container.name} is on {networks}, not only {self.network}"

    def _containers_of(self, service: str, include_stopped: bool = False) -> list:
        labels = [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={service}"]
        return docker.from_env().containers.list(all=include_stopped, filters={"label": labels})

    def service_containers(self, *services: str) -> list:
        """The running containers of these services."""
        return [container for service in services for container in self._containers_of(service)]

    def container(self, service: str):
        """The running (or restarting) container of a one-container service, freshly inspected."""
        (found,) = self._containers_of(service, include_stopped=True)
        return found

    def kill_9(self, service: str) -> int:
        """SIGKILLs the service's main process from the host, as the kernel's OOM killer would:
        Docker sees a crash, not a stop, so the restart policy applies. Returns the restart count."""
        container = self.container(service)
        os.kill(container.attrs["State"]["Pid"], signal.SIGKILL)
        return container.attrs["RestartCount"]

    def wait_healthy(self, service: str, timeout: float = 180) -> None:
        wait_until(
            f"{service} to be healthy",
            lambda: (self.container(service).attrs["State"].get("Health") or {}).get("Status") == "healthy",
            timeout,
        )

    def run_containers(self) -> list:
        client = docker.from_env()
        return client.containers.list(all=True, filters={"label": "dagster/run_id", "network": self.network})

    def run_container(self, run_id: str):
        client = docker.from_env()
        found = client.containers.list(all=True, filters={"label": f"dagster/run_id={run_id}"})
        return found[0] if found else None

    def launch(self, location: str, job: str, run_config: dict | None = None, partition: str | None = None) -> str:
        """Submits a job (for one partition, if given) through the GraphQL API, as the UI's
        Launchpad does; returns the run id."""
        return self.graphql().submit_job_execution(
            job, repository_location_name=location, repository_name="__repository__", run_config=run_config or {},
            tags={"dagster/partition": partition} if partition else None,
        )

    def wait_for_run(self, run_id: str, statuses=TERMINAL_RUN_STATUSES, timeout: float = 180) -> str:
        client = self.graphql()

        def status() -> str | None:
            value = client.get_run_status(run_id).value
            return value if value in statuses else None

        return wait_until(f"run {run_id} to reach one of {sorted(statuses)}", status, timeout)

    def run_errors(self, run_id: str) -> list[str]:
        """The error messages a run's events carry: why a failed run failed."""
        events = self.query(RUN_ERRORS, {"runId": run_id})["runOrError"]["eventConnection"]["events"]
        return [event["error"]["message"] for event in events if event.get("error")]

    def diagnostics(self) -> str:
        """`compose ps` and every service's logs, for a failed test."""
        ps = self.compose("ps", "--all", check=False).stdout
        logs = self.compose("logs", "--no-color", "--tail", "300", check=False).stdout
        return f"=== docker compose ps\n{ps}\n=== docker compose logs\n{logs}"

    def up(self, *options: str) -> None:
        """As `make start` does: up, then wait until every service passes its own healthcheck."""
        result = self.compose("up", "-d", "--no-build", *options, check=False)
        if result.returncode == 0:
            result = self.deploy_script("wait-healthy.py", "300", check=False, timeout=330)
        if result.returncode != 0:
            raise RuntimeError(f"test stack did not become healthy:\n{result.stderr}\n{self.diagnostics()}")

    def down(self) -> None:
        for container in self.run_containers():
            container.remove(force=True)
        self.compose("down", "--volumes", "--remove-orphans", check=False)
