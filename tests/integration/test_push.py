"""`make push`: every image of the stack goes to a registry, and comes back by digest as the very
image that was built. The registry is Debian's `docker-registry` (the distribution registry 2.8),
started here on 127.0.0.1; the images are the test stack's, which `make test-integration` builds.
No stack is started."""

import json
import socket
import subprocess
import urllib.request

import pytest

from tests.harness.polling import wait_until
from tests.harness.repo import REPO
from tests.harness.stack import image_tags

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def free_port(preferred: int = 15000) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise AssertionError("no free port")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    subprocess.run(
        [REPO / "deploy" / "scripts" / "ensure-package.sh", "docker-registry", "docker-registry", "the push test"], check=True
    )
    root = tmp_path_factory.mktemp("registry")
    address = f"127.0.0.1:{free_port()}"
    config = root / "config.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: {address}\n"
    )
    with open(root / "registry.log", "wb") as log:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until("the registry to answer", lambda: process.poll() is None and answers(f"http://{address}/v2/"), 30)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=20)


def stack_images() -> list[str]:
    tags = {f":{tag}" for tag in image_tags().values()}
    listed = subprocess.run(
        [REPO / "deploy" / "scripts" / "compose.sh", "--profile", "build-only", "config", "--images"],
        check=True, capture_output=True, text=True,
    )
    return sorted({image for image in listed.stdout.split() if any(image.endswith(tag) for tag in tags)})


def manifest_digest(registry: str, repository: str, tag: str) -> tuple[str, str]:
    """The registry's digest for repository:tag, and the image id (config digest) it names."""
    request = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_V2}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Docker-Content-Digest"], json.loads(response.read())["config"]["digest"]


def image_id(reference: str) -> str:
    return subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", reference], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_make_push_publishes_every_image_and_they_pull_back_by_digest(registry):
    namespace = f"{registry}/dagster-stack-push"
    images = stack_images()
    names = {image.rsplit(":", 1)[0].rsplit("/", 1)[-1] for image in images}
    assert {"runtime", "dagster", "proxy", "pgbouncer", "ingestion", "analytics"} <= names

    result = subprocess.run(
        ["make", "--no-print-directory", "push", f"REGISTRY={namespace}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    pulled = []
    try:
        for image in images:
            name, tag = image.rsplit("/", 1)[-1].split(":")
            digest, config = manifest_digest(registry, f"dagster-stack-push/{name}", tag)
            assert config == image_id(image), f"{name}: the registry holds another image"
            reference = f"{namespace}/{name}@{digest}"
            subprocess.run(["docker", "pull", "-q", reference], check=True, capture_output=True, timeout=300)
            pulled.append(reference)
            assert image_id(reference) == image_id(image)
            assert f"{namespace}/{name}:{tag}" in result.stdout and digest in result.stdout

        # What it prints for helm names exactly these images.
        settings = dict(
            line.strip().removeprefix("--set-string=").split("=", 1)
            for line in result.stdout.splitlines()
            if line.strip().startswith("--set-string=")
        )
        repositories = {value for key, value in settings.items() if key.endswith(".repository") and "/" in value}
        assert repositories == {
            f"{namespace}/{name}" for name in ("dagster", "runtime", "proxy", "ingestion", "analytics")
        }
        assert (
            settings["postgresql.image.registry"] == namespace
            and settings["postgresql.image.repository"] == "pgbouncer"
        )
        # Each image its own content tag: the stack's images one, each location's its own (the
        # test stacks' diagnostics location has no place in the chart's values).
        assert {value for key, value in settings.items() if key.endswith(".tag")} == {
            image.rsplit(":", 1)[1] for image in images if "/diagnostics:" not in image
        }
    finally:
        for reference in pulled + [f"{namespace}/{image.rsplit('/', 1)[-1]}" for image in images]:
            subprocess.run(["docker", "image", "rm", reference], capture_output=True)
