"""The proxy as the Kubernetes manifests run it: our proxy image with exactly the environment the
rendered Deployment gives it, in front of stand-in webservers answering to the fully qualified
Service names it is told to use (Docker network aliases standing in for the cluster's DNS).
No login, no UI; the operators' login reaches the webserver, the viewers' the read-only one."""

import base64
import json
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest

from tests.harness.polling import wait_until
from tests.harness.repo import REPO
from tests.harness.stack import image_tags
from tests.integration.test_push import free_port
from tests.unit.test_kubernetes import VALUES, render

LOGINS = {
    "DAGSTER_UI_USER": "admin",
    "DAGSTER_UI_PASSWORD": uuid.uuid4().hex,
    "DAGSTER_VIEWER_USER": "viewer",
    "DAGSTER_VIEWER_PASSWORD": uuid.uuid4().hex,
}


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def get(url: str, login: tuple[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if login:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(login).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return 0, ""


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    runtime_image = json.loads(subprocess.run(
        [REPO / "deploy" / "scripts" / "compose.sh", "--profile", "build-only", "config", "--format", "json"],
        check=True, capture_output=True, text=True,
    ).stdout)["services"]["runtime"]["image"]
    # The images this stack built, under its own repository prefix (DAGSTER_IMAGE_REPO).
    registry = runtime_image.rsplit("/", 1)[0]
    manifests = render([VALUES], tmp_path_factory.mktemp("k8s") / "manifests.yaml", image_tags(), registry)
    container = manifests.container("dagster-stack-proxy")
    assert container["envFrom"] == [{"secretRef": {"name": "dagster-stack-ui-login"}}]
    env = {item["name"]: item["value"] for item in container["env"]} | LOGINS
    upstreams = {name: env[name].rsplit(":", 1) for name in ("DAGSTER_UI_UPSTREAM", "DAGSTER_READONLY_UPSTREAM")}

    name = f"k8s-proxy-test-{uuid.uuid4().hex[:8]}"
    docker("network", "create", name)
    started = []
    try:
        for variable, (host, port) in upstreams.items():
            # A stand-in webserver that says which one it is.
            script = f"import http.server as h; open('index.html','w').write('{variable}'); h.test(h.SimpleHTTPRequestHandler, port={port}, bind='0.0.0.0')"
            started.append(docker("run", "-d", "--network", name, "--network-alias", host, "-w", "/tmp", runtime_image, "python", "-c", script))
        port, readonly_port = free_port(0), free_port(0)
        args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        started.append(
            docker(
                "run",
                "-d",
                "--network",
                name,
                "-p",
                f"127.0.0.1:{port}:3000",
                "-p",
                f"127.0.0.1:{readonly_port}:3001",
                *args,
                manifests.container("dagster-stack-proxy")["image"],
            )
        )
        wait_until("the proxy to answer", lambda: get(f"http://127.0.0.1:{port}/")[0] == 401, 60)
        yield port, readonly_port
    finally:
        for container_id in started:
            subprocess.run(["docker", "rm", "-f", container_id], capture_output=True)
        subprocess.run(["docker", "network", "rm", name], capture_output=True)


def test_no_login_no_ui(proxy):
    ui, readonly = proxy
    assert get(f"http://127.0.0.1:{ui}/")[0] == 401
    assert get(f"http://127.0.0.1:{readonly}/")[0] == 401
    assert get(f"http://127.0.0.1:{ui}/", ("admin", "wrong"))[0] == 401


def test_each_login_reaches_its_webserver_by_its_cluster_name(proxy):
    operators = (LOGINS["DAGSTER_UI_USER"], LOGINS["DAGSTER_UI_PASSWORD"])
    viewers = (LOGINS["DAGSTER_VIEWER_USER"], LOGINS["DAGSTER_VIEWER_PASSWORD"])
    ui, readonly = proxy
    assert get(f"http://127.0.0.1:{ui}/", operators) == (200, "DAGSTER_UI_UPSTREAM")
    assert get(f"http://127.0.0.1:{readonly}/", viewers) == (200, "DAGSTER_READONLY_UPSTREAM")
    assert get(f"http://127.0.0.1:{readonly}/", operators)[0] == 401
