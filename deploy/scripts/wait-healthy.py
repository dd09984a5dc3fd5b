#!/usr/bin/env python3
"""Usage: wait-healthy.py [TIMEOUT_SECONDS]   (the stack deploy/scripts/compose.sh names; default 300 s)

`make up`'s wait: returns once every running service of the stack passes its own healthcheck. It
runs each container's healthcheck command itself, about once a second, until it passes. Docker
probes only every HEALTHCHECK_INTERVAL (long: each probe costs the engine CPU, docker-compose.yml),
so `up --wait` would take at least that long; `docker ps` shows the same verdict by then.
A service still failing at the deadline fails the wait, with its last probe's output; a one-shot
service that exited with an error fails it at once.
"""

import json
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

COMPOSE = Path(__file__).resolve().with_name("compose.sh")
ROUND_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 20


def running_containers() -> list[str]:
    result = subprocess.run([str(COMPOSE), "ps", "-q"], check=True, capture_output=True, text=True)
    return result.stdout.split()


def failed_one_shots() -> list[str]:
    """The one-shot services (migrate, create-buckets, ...) that exited with an error. Compose starts
    what depends on them anyway where that dependency is optional (docker-compose.yml)."""
    result = subprocess.run([str(COMPOSE), "ps", "--all", "--format", "json"], check=True, capture_output=True, text=True)
    services = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return [f"{s['Service']} exited {s['ExitCode']}" for s in services if s["State"] == "exited" and s["ExitCode"] != 0]


def probe(container: str) -> tuple[str, bool, str]:
    """(service, ready, what was seen): ready when running and healthy, or its own probe passes."""
    inspected = json.loads(subprocess.run(
        ["docker", "inspect", container], check=True, capture_output=True, text=True).stdout)[0]
    service = inspected["Config"]["Labels"].get("com.docker.compose.service", inspected["Name"])
    state, test = inspected["State"], (inspected["Config"].get("Healthcheck") or {}).get("Test") or ["NONE"]
    if state["Status"] != "running":
        return service, False, f"the container is {state['Status']}"
    if test[0] == "NONE" or (state.get("Health") or {}).get("Status") == "healthy":
        return service, True, "healthy"
    command = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
    try:
        result = subprocess.run(["docker", "exec", container, *command], capture_output=True, text=True,
                                timeout=PROBE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return service, False, f"its healthcheck took over {PROBE_TIMEOUT_SECONDS} s"
    return service, result.returncode == 0, (result.stdout + result.stderr).strip() or f"exit {result.returncode}"


def main(timeout: float) -> int:
    if failed := failed_one_shots():
        print(f"{', '.join(failed)}: see `make logs SERVICE=...`", file=sys.stderr)
        return 1
    deadline = time.monotonic() + timeout
    pending = {container: 0.0 for container in running_containers()}  # container -> when to probe next
    seen: dict[str, tuple[str, str]] = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        running: dict = {}  # future -> (container, when it started)
        while pending:
            now = time.monotonic()
            for container, due in pending.items():
                if due <= now and container not in {c for c, _ in running.values()}:
                    running[pool.submit(probe, container)] = (container, now)
            if not running:  # every pending probe waits for its turn
                time.sleep(max(0.0, min(pending.values()) - time.monotonic()))
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                container, started = running.pop(future)
                service, ready, output = future.result()
                seen[container] = (service, output)
                if ready:
                    del pending[container]
                else:
                    # A costly probe (the daemon's imports dagster) waits as long as it ran, so
                    # probing takes at most half a core from the services starting up.
                    took = time.monotonic() - started
                    pending[container] = time.monotonic() + max(ROUND_SECONDS - took, took)
            if pending and time.monotonic() > deadline:
                for container in pending:
                    service, output = seen.get(container, (container, "not probed yet"))
                    print(f"{service} is not healthy after {timeout:.0f} s: {output}", file=sys.stderr)
                return 1
    return 0

if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 300))
