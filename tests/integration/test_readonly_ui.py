"""The read-only UI is opt-in (DAGSTER_READONLY_UI, docs/operations.md): deploy/scripts/compose.sh
starts its webserver only when the setting is on, and the proxy, told it is off, answers the
read-only port with a 404 saying how to turn it on, not a bare 502 from a webserver that is not
there. Needs Docker (compose, the stack's proxy image), not a running stack; the test stack itself
runs the read-only UI (tests/stack.env), which test_front_door.py and test_browser.py use."""

import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.harness.polling import wait_until
from tests.harness.repo import REPO
from tests.integration.test_push import free_port

COMPOSE = REPO / "deploy" / "scripts" / "compose.sh"


def compose(tmp_path: Path, setting: str | None, *args: str) -> subprocess.CompletedProcess:
    """compose.sh for this stack's env file with DAGSTER_READONLY_UI set to `setting` (None: absent),
    with no test-stack overrides (they turn it on)."""
    env_file = tmp_path / "stack.env"
    lines = Path(os.environ["STACK_ENV"]).read_text().splitlines()
    lines = [line for line in lines if not line.startswith("DAGSTER_READONLY_UI=")]
    env_file.write_text("\n".join(lines + ([f"DAGSTER_READONLY_UI={setting}"] if setting is not None else [])) + "\n")
    environment = {key: value for key, value in os.environ.items() if key not in ("DAGSTER_READONLY_UI", "STACK_ENV_OVERRIDES")}
    return subprocess.run([COMPOSE, *args], env={**environment, "STACK_ENV": str(env_file)}, capture_output=True, text=True)


def services(tmp_path: Path, setting: str | None) -> set[str]:
    result = compose(tmp_path, setting, "config", "--services")
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_the_readonly_webserver_runs_only_when_turned_on(tmp_path):
    assert "webserver-readonly" not in services(tmp_path, None), "on by default"
    assert "webserver-readonly" not in services(tmp_path, "off")
    assert {"webserver-readonly", "webserver", "proxy"} <= services(tmp_path, "on")
    refused = compose(tmp_path, "yes", "config", "--services")
    assert refused.returncode != 0 and "DAGSTER_READONLY_UI must be on or off, not 'yes'" in refused.stderr


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


@pytest.fixture(scope="module")
def proxy_image(tmp_path_factory) -> str:
    result = compose(tmp_path_factory.mktemp("compose"), None, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]["proxy"]["image"]


LOGINS = ["-e", "DAGSTER_UI_PASSWORD=" + uuid.uuid4().hex, "-e", "DAGSTER_VIEWER_PASSWORD=" + uuid.uuid4().hex]


def test_the_proxy_says_the_readonly_ui_is_off(proxy_image):
    ui, readonly = free_port(0), free_port(0)
    container = subprocess.run(
        ["docker", "run", "-d", "-p", f"127.0.0.1:{ui}:3000", "-p", f"127.0.0.1:{readonly}:3001",
         *LOGINS, "-e", "DAGSTER_READONLY_UI=off", proxy_image],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    try:
        wait_until("the proxy to ask for a login", lambda: get(f"http://127.0.0.1:{ui}/")[0] == 401, 60, 0.5)
        for path in ("/", "/graphql", "/runs"):
            status, body = get(f"http://127.0.0.1:{readonly}{path}")
            assert status == 404, (path, status, body)
            assert "read-only UI is off" in body and "DAGSTER_READONLY_UI=on" in body, body
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def test_the_proxy_refuses_an_unknown_setting(proxy_image):
    result = subprocess.run(
        ["docker", "run", "--rm", *LOGINS, "-e", "DAGSTER_READONLY_UI=yes", proxy_image],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "DAGSTER_READONLY_UI must be on or off, not 'yes'" in result.stderr
