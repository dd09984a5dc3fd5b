"""`make reload LOCATION=x`: an edit to one location is rebuilt into its image and served by a new
code server of its own, while every other container keeps running, the UI keeps answering, a run
already going finishes on the old image and the next run starts on the new one."""

import threading
import time

import requests

from tests.harness.code_edits import asset_names, make, new_asset
from tests.harness.polling import wait_until

LOCATION = "diagnostics"


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
            self.stopped.wait(0.2)


def container_identities(stack) -> dict[str, tuple[str, str]]:
    """Service -> (container id, start time) of every running service container but the reloaded one."""
    services = {service["Service"] for service in stack.services() if service["State"] == "running"}
    return {
        container.labels["com.docker.compose.service"]: (container.id, container.attrs["State"]["StartedAt"])
        for container in stack.service_containers(*sorted(services - {f"code-{LOCATION}"}))
    }


def test_reload_replaces_only_that_code_server_and_runs_keep_their_image(stack):
    old_image = stack.code_location_images()[LOCATION]
    held = stack.launch(LOCATION, "hold_job", {"ops": {"hold": {"config": {"seconds": 600}}}})
    wait_until("the held run to start", lambda: stack.run_container(held), timeout=120)
    before = container_identities(stack)
    poller = UiPoller(stack)
    poller.start()
    try:
        with new_asset(LOCATION) as probe:
            started = time.monotonic()
            result = make(stack, "reload", f"LOCATION={LOCATION}", recompute_tag_of=LOCATION)
            assert result.returncode == 0, result.stdout + result.stderr
            wait_until("the new asset in the UI", lambda: probe in asset_names(stack, LOCATION), timeout=120, interval=0.2)
            print(f"edit -> new definitions in the UI: {time.monotonic() - started:.1f} s")
    finally:
        poller.stopped.set()
        poller.join()

    new_image = stack.code_location_images()[LOCATION]
    assert new_image != old_image
    assert container_identities(stack) == before, "a container other than the reloaded code server was recreated"
    assert poller.answered > 0 and not poller.failures, poller.failures[:5]

    fresh = stack.launch(LOCATION, f"{probe}_job")
    assert stack.wait_for_run(fresh) == "SUCCESS", stack.run_errors(fresh)
    assert stack.run_container(fresh).attrs["Config"]["Image"] == new_image
    assert stack.run_container(held).attrs["Config"]["Image"] == old_image
    stack.graphql().terminate_run(held)
    assert stack.wait_for_run(held) == "CANCELED"

    # Back to the session's code, so the tests after this one see the image they expect.
    result = make(stack, "reload", f"LOCATION={LOCATION}", recompute_tag_of=LOCATION)
    assert result.returncode == 0, result.stdout + result.stderr
    wait_until("the probe asset gone", lambda: probe not in asset_names(stack, LOCATION), timeout=120, interval=0.5)
    assert stack.code_location_images()[LOCATION] == old_image
