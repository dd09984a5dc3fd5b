"""Removes this stack's finished run containers once they are older than the retention period.

Recent ones stay, so a failed run can still be inspected with `docker logs`. Only containers the
run launcher labelled `dagster-stack/role=run-worker` on this stack's network are considered,
so two stacks on one Docker engine never prune each other's runs. Runs every PRUNE_INTERVAL
seconds and touches a heartbeat file the healthcheck reads; `--once` prunes once and exits.
"""

import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import docker

HEARTBEAT = Path("/tmp/run-janitor.heartbeat")


def finished_at(container) -> datetime:
    # Docker reports nanoseconds; Python parses up to microseconds.
    stamp = container.attrs["State"]["FinishedAt"][:26].rstrip("Z")
    return datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc)


def prune_once(client: docker.DockerClient, network: str, retention: timedelta) -> int:
    cutoff = datetime.now(timezone.utc) - retention
    candidates = client.containers.list(
        all=True,
        filters={"label": "dagster-stack/role=run-worker", "network": network, "status": "exited"},
    )
    removed = 0
    for container in candidates:
        if finished_at(container) < cutoff:
            container.remove()
            removed += 1
    return removed


def main() -> None:
    network = os.environ["DAGSTER_NETWORK"]
    retention = timedelta(hours=float(os.environ.get("RUN_CONTAINER_RETENTION_HOURS", "24")))
    interval = int(os.environ.get("PRUNE_INTERVAL", "600"))
    client = docker.from_env()
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
