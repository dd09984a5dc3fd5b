"""A location's own settings and secrets (code_locations/<name>/.env) reach its code server and its
runs, and no other location's containers, command lines or images."""

import secrets

import docker

from tests.harness.code_edits import make
from tests.harness.repo import REPO

LOCATION = "diagnostics"
ENV_FILE = REPO / "code_locations" / LOCATION / ".env"


def environment(container) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])


def test_a_locations_secret_reaches_its_server_and_runs_only(stack):
    value = secrets.token_hex(16)
    ENV_FILE.write_text(f"# given to the diagnostics location only\nDIAGNOSTICS_PROBE_SECRET={value}\n")
    ENV_FILE.chmod(0o600)
    try:
        result = make(stack, "up")
        assert result.returncode == 0, result.stdout + result.stderr
        own_run = stack.launch(LOCATION, "smoke_job")
        other_run = stack.launch("ingestion", "inventory_job")
        assert stack.wait_for_run(own_run) == "SUCCESS", stack.run_errors(own_run)
        stack.wait_for_run(other_run)

        assert environment(stack.run_container(own_run))["DIAGNOSTICS_PROBE_SECRET"] == value
        assert environment(stack.container(f"code-{LOCATION}"))["DIAGNOSTICS_PROBE_SECRET"] == value
        assert "DIAGNOSTICS_PROBE_SECRET" not in environment(stack.run_container(other_run))
        for service in ("code-ingestion", "code-analytics", "webserver", "webserver-readonly", "proxy"):
            assert "DIAGNOSTICS_PROBE_SECRET" not in environment(stack.container(service)), service

        client = docker.from_env()
        project = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={stack.project}"})
        for container in [*project, stack.run_container(own_run)]:
            command = " ".join([*(container.attrs["Config"]["Cmd"] or []), *(container.attrs["Config"]["Entrypoint"] or [])])
            assert value not in command, f"{container.name}'s command line holds the secret"
        image = client.images.get(stack.code_location_images()[LOCATION])
        assert value not in str(image.attrs) and value not in str(image.history())
    finally:
        ENV_FILE.unlink()
        result = make(stack, "up")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DIAGNOSTICS_PROBE_SECRET" not in environment(stack.container(f"code-{LOCATION}"))
