"""Removes this stack's finished run containers once they are older than the retention period.

Finished means exited, dead (removal failed half-way) or created but never started (the launcher
died between create and start): all three otherwise stay forever.

Recent ones stay, so a failed run can still be inspected with `docker logs`. Only containers the
run launcher labelled `dagster-stack/role=run-worker` on this stack's network are considered,
so two stacks on one Docker engine never prune each other's runs. Runs every PRUNE_INTERVAL
seconds and touches a heartbeat file the healthcheck reads; `--once` prunes once and exits.
"""

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docker
import requests

HEARTBEAT = Path("/tmp/run-janitor.heartbeat")
FINISHED_STATUSES = ["exited", "dead", "created"]
# Docker's FinishedAt for a container that never ran.
NEVER = "0001-01-01T00:00:00Z"


def finished_at(container) -> datetime:
    """When it finished or, if it never ran, was created: a just-created run is not pruned."""
    stamp = container.attrs["State"]["FinishedAt"]
    if stamp == NEVER:
        stamp = container.attrs["Created"]
    # Docker reports nanoseconds; Python parses up to microseconds.
    return datetime.fromisoformat(stamp[:26].rstrip("Z")).replace(tzinfo=UTC)


def prune_once(client: docker.DockerClient, network: str, retention: timedelta) -> int:
    cutoff = datetime.now(UTC) - retention
    candidates = client.containers.list(
        all=True,
        filters={"label": "dagster-stack/role=run-worker", "network": network, "status": FINISHED_STATUSES},
    )
    removed = 0
    for container in candidates:
        if finished_at(container) < cutoff:
            container.remove()
            removed += 1
    return removed


def wait_for_docker(client, deadline_seconds: float = 120) -> None:
    """This starts beside the socket proxy, not once it is healthy: wait until it answers."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            client.ping()
            return
        except (docker.errors.DockerException, requests.exceptions.ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main() -> None:
    network = os.environ["DAGSTER_NETWORK"]
    retention = timedelta(hours=float(os.environ.get("RUN_CONTAINER_RETENTION_HOURS", "24")))
    interval = int(os.environ.get("PRUNE_INTERVAL", "600"))
    client = docker.from_env()
    wait_for_docker(client)
    print(f"run-janitor: removing run containers on {network} that finished over {retention} ago")
    while True:
        removed = prune_once(client, network, retention)
        print(f"run-janitor: removed {removed} finished run container(s)", flush=True)
        if "--once" in sys.argv:
            return
        HEARTBEAT.touch()
        time.sleep(interval)


if __name__ == "__main__":
    main()
