"""Adding a location to a running stack: `make new-location NAME=x`, then `make up`, builds only
the new location's image and recreates only what reads the workspace (both webservers and the
daemon); Postgres, pgbouncer, the S3 store, the proxy and the other code servers keep running in
the same containers. The UI serves the new location and a run of its first asset succeeds in its
own container. Every file the scaffold touched is restored afterwards, and the stack with it."""

import os
import subprocess
import uuid

import docker

from tests.harness.code_edits import asset_names, make, worktree_restored
from tests.harness.polling import wait_until
from tests.harness.repo import REPO

READS_THE_WORKSPACE = {"webserver", "webserver-readonly", "daemon"}


def running_containers(stack) -> dict[str, str]:
    """Service -> container id of every running service container of the stack."""
    running = docker.from_env().containers.list(filters={"label": f"com.docker.compose.project={stack.project}"})
    return {container.labels["com.docker.compose.service"]: container.id for container in running}


def our_images(stack) -> set[str]:
    """Every image (repository:tag) under the stack's own prefix."""
    prefix = f"{stack.image_repo}/"
    return {tag for image in docker.from_env().images.list() for tag in image.tags if tag.startswith(prefix)}


def tags_from_the_code() -> dict[str, str]:
    """The image tags a user's `make up` computes from the checkout (deploy/scripts/_lib.sh)."""
    env = {name: value for name, value in os.environ.items() if not name.endswith("IMAGE_TAG")}
    script = ". deploy/scripts/_lib.sh && export_image_tags . && env"
    output = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout
    variables = (line.split("=", 1) for line in output.splitlines() if "=" in line)
    return {name: value for name, value in variables if name.endswith("IMAGE_TAG")}


def test_a_new_location_builds_only_its_image_and_restarts_only_what_reads_the_workspace(stack):
    # A user's `make up` computes its tags from the code: that must be what this session runs.
    assert tags_from_the_code() == stack.image_tags, "the checkout changed since the session built its images"
    name = f"added{uuid.uuid4().hex[:8]}"
    before, images_before = running_containers(stack), our_images(stack)
    image = None
    try:
        with worktree_restored(REPO / "code_locations" / name):
            result = make(stack, "new-location", f"NAME={name}")
            assert result.returncode == 0, result.stdout + result.stderr
            result = make(stack, "up", session_tags=False)
            assert result.returncode == 0, result.stdout + result.stderr

            after = running_containers(stack)
            image = stack.code_location_images()[name]
            assert our_images(stack) - images_before == {image}, "images other than the new location's were built"
            assert set(after) == set(before) | {f"code-{name}"}
            kept = {service for service in before if after[service] == before[service]}
            assert kept == set(before) - READS_THE_WORKSPACE, f"recreated: {sorted(set(before) - kept)}"
            assert {"postgres", "pgbouncer", "minio", "proxy", "code-ingestion", "code-analytics"} <= kept

            wait_until(f"{name}'s first asset in the UI", lambda: "greeting" in asset_names(stack, name), timeout=120)
            run_id = stack.launch(name, "__ASSET_JOB")
            assert stack.wait_for_run(run_id) == "SUCCESS", stack.run_errors(run_id)
            assert stack.run_container(run_id).attrs["Config"]["Image"] == image
    finally:
        # The checkout is back as it was: the stack follows it (the location's server goes, the
        # webservers and the daemon read the old workspace again), and the location's image goes.
        # Not `up --wait`: it counts a one-shot that nothing waits for (s3-identity) as a failure.
        stack.up("--remove-orphans")
        if image:
            for container in docker.from_env().containers.list(all=True, filters={"ancestor": image}):
                container.remove(force=True)
            docker.from_env().images.remove(image)
    assert running_containers(stack).keys() == before.keys()
