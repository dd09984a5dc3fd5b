"""The run janitor: removes this stack's finished run containers once they are older than the
retention period, and tells people (ALERT_* settings) when the Dagster daemon is down.

Finished means exited, dead (removal failed half-way) or created but never started (the launcher
died between create and start): all three otherwise stay forever.

Recent ones stay, so a failed run can still be inspected with `docker logs`. Only containers the
run launcher labelled `dagster-stack/role=run-worker` on this stack's network are considered,
so two stacks on one Docker engine never prune each other's runs. Prunes every PRUNE_INTERVAL
seconds and touches a heartbeat file the healthcheck reads; `--once` prunes once and exits.

The daemon runs the sensors, so it cannot tell of its own death: this process, which needs no
database, watches it instead, as Docker reports it (stopped, restarting, or unhealthy: its
heartbeat late). Every WATCH_INTERVAL seconds; a problem seen on two looks in a row is told once,
and its end once.
"""

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docker
import requests
from stack_alerts import Alert, AlertNotDelivered, Channels

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


def connect_to_docker(deadline_seconds: float = 120) -> docker.DockerClient:
    """This starts beside the socket proxy, not once it is healthy, and the proxy may not know a
    restarted janitor's new address for a few seconds: retry until it answers."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            client = docker.from_env()  # asks the proxy for its API version
            client.ping()
            return client
        except (docker.errors.DockerException, requests.exceptions.ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def daemon_problem(client: docker.DockerClient, network: str) -> str | None:
    """What is wrong with the stack's daemon as Docker sees it, "" when it serves, None while
    that cannot be told yet (created but not started, its first health probe pending)."""
    # sparse: the listing's own fields, no inspect (the socket proxy lets nobody inspect the daemon).
    found = client.containers.list(
        all=True, sparse=True, filters={"label": "com.docker.compose.service=daemon", "network": network}
    )
    if not found:
        return "there is no daemon container"
    daemon = found[0].attrs
    status = daemon["Status"]  # e.g. "Up 2 hours (unhealthy)", "Exited (137) 5 seconds ago"
    if daemon["State"] == "created" or "(health: starting)" in status:
        return None
    if daemon["State"] != "running":
        return f"it is not running: Docker says \"{status}\""
    if "(unhealthy)" in status:
        return "it is unhealthy: its heartbeat is late (its liveness check fails)"
    return ""


class DaemonWatch:
    """Tells each daemon outage once, when seen on two looks in a row, and once when it ends."""

    def __init__(self, channels: Channels):
        self.channels = channels
        self.previous: str | None = None  # the last look's problem
        self.told = False  # the current outage has been told

    def look(self, problem: str | None) -> None:
        if problem is None:
            return
        alert = None
        if problem and problem == self.previous and not self.told:
            alert = Alert(
                "The Dagster daemon is down",
                f"The daemon of this stack is down: {problem}. Schedules, sensors (file drops "
                "included), the run queue and run monitoring wait until it is back. "
                "See `make ps` and `make logs`.",
                self.channels.link("/health"),
            )
        elif not problem and self.told:
            alert = Alert("The Dagster daemon is back", "The daemon of this stack serves again.", self.channels.link("/health"))
        self.previous = problem
        if alert is None:
            return
        try:
            self.channels.deliver(alert)
        except AlertNotDelivered as error:
            print(f"run-janitor: {error}; trying again at the next look", flush=True)
            return
        self.told = bool(problem)
        print(f"run-janitor: told: {alert.subject}", flush=True)


def main() -> None:
    network = os.environ["DAGSTER_NETWORK"]
    retention = timedelta(hours=float(os.environ.get("RUN_CONTAINER_RETENTION_HOURS", "24")))
    prune_interval = int(os.environ.get("PRUNE_INTERVAL", "600"))
    watch_interval = int(os.environ.get("WATCH_INTERVAL", "30"))
    client = connect_to_docker()
    channels = Channels.from_environment()
    watch = DaemonWatch(channels) if channels.enabled else None
    print(f"run-janitor: removing run containers on {network} that finished over {retention} ago"
          + ("; watching the daemon" if watch else ""))
    next_prune = 0.0
    while True:
        if time.monotonic() >= next_prune:
            removed = prune_once(client, network, retention)
            print(f"run-janitor: removed {removed} finished run container(s)", flush=True)
            if "--once" in sys.argv:
                return
            next_prune = time.monotonic() + prune_interval
        if watch:
            try:
                watch.look(daemon_problem(client, network))
            except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
                print(f"run-janitor: could not look at the daemon: {error}", flush=True)
        HEARTBEAT.touch()
        time.sleep(watch_interval if watch else prune_interval)


if __name__ == "__main__":
    main()
