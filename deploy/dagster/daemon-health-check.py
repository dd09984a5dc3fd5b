"""Usage: daemon-health-check.py   (the daemon's healthcheck, in its container)

Passes when every daemon Dagster requires of this instance (sensors, run queue, monitoring, ...)
has written a heartbeat since this container started, and within the tolerance
`dagster-daemon liveness-check` allows. It reads the heartbeats with psycopg2 alone: about 0.1 s
of CPU where `dagster-daemon liveness-check` imports dagster (2 s), once per probe.

Which daemons are required is Dagster's to say (dagster.yaml, the dagster version): it asks once,
the first time a heartbeat is there to judge, and keeps the answer in the container's /tmp for its
life; a new image or configuration is a new container. Heartbeats from before this container
started do not count, so a restarted daemon is healthy only once it runs again.
"""

import json
import os
import sys
import time
from pathlib import Path

import psycopg2

REQUIRED_DAEMONS = Path("/tmp/.required-daemons")
# As `dagster-daemon liveness-check`: its heartbeat interval, and its tolerance (1.13's defaults).
HEARTBEAT_INTERVAL_SECONDS = 30
TOLERANCE_SECONDS = int(os.environ.get("DAGSTER_DAEMON_HEARTBEAT_TOLERANCE") or 1800)


def container_started_at() -> float:
    """When PID 1 (the container's init) started, in seconds since the epoch."""
    ticks_after_boot = int(Path("/proc/1/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
    return boot + ticks_after_boot / os.sysconf("SC_CLK_TCK")


def heartbeats() -> dict[str, float]:
    """Each daemon type's last heartbeat time, as Dagster reads it (the serialized heartbeat's)."""
    connection = psycopg2.connect(
        host=os.environ["DAGSTER_POSTGRES_HOST"], port=os.environ["DAGSTER_POSTGRES_PORT"],
        user=os.environ["DAGSTER_POSTGRES_USER"], password=os.environ["DAGSTER_POSTGRES_PASSWORD"],
        dbname=os.environ["DAGSTER_POSTGRES_DB"], connect_timeout=5,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT daemon_type, body FROM daemon_heartbeats")
            return {daemon_type: json.loads(body)["timestamp"] for daemon_type, body in cursor.fetchall()}
    finally:
        connection.close()


def required_daemons() -> list[str]:
    if not REQUIRED_DAEMONS.exists():
        from dagster import DagsterInstance

        with DagsterInstance.get() as instance:
            types = instance.get_required_daemon_types()
        partial = REQUIRED_DAEMONS.with_suffix(".partial")
        partial.write_text("\n".join(types) + "\n")
        partial.replace(REQUIRED_DAEMONS)
    return REQUIRED_DAEMONS.read_text().split()


def main() -> int:
    started, now = container_started_at(), time.time()
    beats = {daemon: beat for daemon, beat in heartbeats().items() if beat >= started}
    if not beats:  # judged without asking Dagster: the daemon is still starting
        print("no daemon has written a heartbeat since the container started")
        return 1
    late = [daemon for daemon in required_daemons()
            if now > beats.get(daemon, 0) + HEARTBEAT_INTERVAL_SECONDS + TOLERANCE_SECONDS]
    if late:
        print(f"no recent heartbeat since the container started from: {', '.join(late)}")
        return 1
    print("daemon live")
    return 0


if __name__ == "__main__":
    sys.exit(main())
