"""`make dev`: each location's folder of the checkout is mounted into its code server and its
runs; saving a file reloads the location by itself and the next run executes the saved code, with
no image built. `make up` returns to the images."""

import time

from tests.harness.code_edits import asset_names, dev_marker, make, new_asset
from tests.harness.polling import wait_until

LOCATION = "diagnostics"


def test_dev_mode_serves_and_runs_saved_code_without_a_build(stack):
    image = stack.code_location_images()[LOCATION]
    result = make(stack, "dev")
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        mounts = {mount["Destination"]: mount for mount in stack.container(f"code-{LOCATION}").attrs["Mounts"]}
        assert mounts["/opt/dagster/app"]["RW"] is False
        assert stack.container("dev-reloader").status == "running"

        with new_asset(LOCATION) as probe:
            saved = time.monotonic()
            wait_until("the saved asset in the UI", lambda: probe in asset_names(stack, LOCATION), timeout=120, interval=0.2)
            print(f"save -> new asset in the UI: {time.monotonic() - saved:.1f} s")
            run_id = stack.launch(LOCATION, f"{probe}_job")
            assert stack.wait_for_run(run_id) == "SUCCESS", stack.run_errors(run_id)
        worker = stack.run_container(run_id)
        assert worker.attrs["Config"]["Image"] == image, "dev mode built an image"
        assert any(mount["Destination"] == "/opt/dagster/app" for mount in worker.attrs["Mounts"])
    finally:
        result = make(stack, "up")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not dev_marker(stack).exists()
    assert not stack.service_containers("dev-reloader"), "dev-reloader outlived dev mode"
    mounts = [mount["Destination"] for mount in stack.container(f"code-{LOCATION}").attrs["Mounts"]]
    assert "/opt/dagster/app" not in mounts
    wait_until("the probe asset gone", lambda: probe not in asset_names(stack, LOCATION), timeout=120, interval=0.5)
