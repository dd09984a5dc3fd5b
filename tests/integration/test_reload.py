"""`make reload LOCATION=x`: an edit to one location is rebuilt into its image and served by a new
code server of its own, while every other container keeps running, the UI keeps answering, a run
already going finishes on the old image and the next run starts on the new one."""

import os
import subprocess
import threading
import time
import uuid

import requests

from tests.harness.polling import wait_until
from tests.harness.repo import REPO

LOCATION = "diagnostics"
DEFINITIONS = REPO / "code_locations" / LOCATION / LOCATION / "definitions.py"
ASSET_NAMES = """
query ($location: String!) {
  repositoryOrError(repositorySelector: {repositoryLocationName: $location, repositoryName: "__repository__"}) {
    ... on Repository { assetNodes { assetKey { path } } }
  }
}
"""


def make_reload(stack, location: str) -> subprocess.CompletedProcess:
    """`make reload` from the host, as a user types it, against the test stack; the location's tag
    is computed afresh (the session's fixed tag would hide the edit)."""
    env = {**os.environ, **stack.env_files, **stack.image_tags}
    env.pop(f"{location.upper()}_IMAGE_TAG")
    return subprocess.run(
        ["make", "--no-print-directory", "reload", f"LOCATION={location}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL, check=False,
    )


def asset_names(stack) -> set[str]:
    repository = stack.query(ASSET_NAMES, {"location": LOCATION})["repositoryOrError"]
    return {"/".join(node["assetKey"]["path"]) for node in repository.get("assetNodes", [])}


class UiPoller(threading.Thread):
    """Asks the UI (through the proxy, logged in) a small question every 0.2 s; keeps what failed."""

    def __init__(self, stack):
        super().__init__(daemon=True)
        self.stack, self.stopped, self.answered, self.failures = stack, threading.Event(), 0, []

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                response = self.stack.post_graphql("{ version }")
                if response.status_code == 200 and not response.json().get("errors"):
                    self.answered += 1
                else:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")
            except requests.RequestException as error:
                self.failures.append(repr(error))
            time.sleep(0.2)


def container_identities(stack) -> dict[str, tuple[str, str]]:
    """Service -> (container id, start time) of every running service container but the reloaded one."""
    services = {service["Service"] for service in stack.services() if service["State"] == "running"}
    return {
        container.labels["com.docker.compose.service"]: (container.id, container.attrs["State"]["StartedAt"])
        for container in stack.service_containers(*sorted(services - {f"code-{LOCATION}"}))
    }


def test_reload_replaces_only_that_code_server_and_runs_keep_their_image(stack):
    old_image = stack.code_location_images()[LOCATION]
    original = DEFINITIONS.read_text()
    probe = f"reload_probe_{uuid.uuid4().hex[:8]}"
    held = stack.launch(LOCATION, "hold_job", {"ops": {"hold": {"config": {"seconds": 600}}}})
    wait_until("the held run to start", lambda: stack.run_container(held), timeout=120)
    before = container_identities(stack)
    poller = UiPoller(stack)
    poller.start()
    try:
        DEFINITIONS.write_text(
            original
            + f"\n\n@dg.asset\ndef {probe}() -> None:\n    pass\n\n\n"
            + f"defs = dg.Definitions.merge(defs, dg.Definitions(assets=[{probe}]))\n"
        )
        started = time.monotonic()
        result = make_reload(stack, LOCATION)
        assert result.returncode == 0, result.stdout + result.stderr
        wait_until("the new asset in the UI", lambda: probe in asset_names(stack), timeout=120, interval=0.2)
        print(f"edit -> new definitions in the UI: {time.monotonic() - started:.1f} s")
    finally:
        DEFINITIONS.write_text(original)
        poller.stopped.set()
        poller.join()

    new_image = stack.code_location_images()[LOCATION]
    assert new_image != old_image
    assert container_identities(stack) == before, "a container other than the reloaded code server was recreated"
    assert poller.answered > 0 and not poller.failures, poller.failures[:5]

    fresh = stack.launch(LOCATION, "smoke_job")
    assert stack.wait_for_run(fresh) == "SUCCESS", stack.run_errors(fresh)
    assert stack.run_container(fresh).attrs["Config"]["Image"] == new_image
    assert stack.run_container(held).attrs["Config"]["Image"] == old_image
    stack.graphql().terminate_run(held)
    assert stack.wait_for_run(held) == "CANCELED"

    # Back to the session's code, so the tests after this one see the image they expect.
    result = make_reload(stack, LOCATION)
    assert result.returncode == 0, result.stdout + result.stderr
    wait_until("the probe asset gone", lambda: probe not in asset_names(stack), timeout=120, interval=0.5)
    assert stack.code_location_images()[LOCATION] == old_image
