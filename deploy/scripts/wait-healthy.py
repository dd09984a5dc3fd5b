#!/usr/bin/env python3
"""Usage: wait-healthy.py [TIMEOUT_SECONDS]   (the stack deploy/scripts/compose.sh names; default 300 s)

`make up`'s wait: returns once every running service of the stack passes its own healthcheck. It
runs each container's healthcheck command itself, about once a second, until it passes. Docker
probes only every HEALTHCHECK_INTERVAL (long: each probe costs the engine CPU, docker-compose.yml),
so `up --wait` would take at least that long; `docker ps` shows the same verdict by then.
A service still failing at the deadline fails the wait, with its last probe's output. A one-shot
service (restart "no": migrate, create-buckets, ...) passes once it exited 0; one that exited with
an error fails the wait at once. Not every one-shot holds Compose's `up` back (the S3 ones run
while the rest starts, docker-compose.yml), so they are waited for here.

Probes cost CPU the starting services need (a `docker exec`, and for most a Python start), so a
service waits for its turn while a service that depends on it still starts: the webserver and the
daemon wait for the code servers, Postgres and the pool before they serve, so those are probed
once, after them, instead of every second meanwhile.
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


def stack_containers() -> list[dict]:
    """Every container of the stack (one-shots that exited too), as `docker inspect` shows them."""
    result = subprocess.run([str(COMPOSE), "ps", "--all", "-q"], check=True, capture_output=True, text=True)
    return inspect(result.stdout.split())


def inspect(containers: list[str]) -> list[dict]:
    if not containers:
        return []
    result = subprocess.run(["docker", "inspect", *containers], check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def service_of(inspected: dict) -> str:
    return inspected["Config"]["Labels"].get("com.docker.compose.service", inspected["Name"])


def dependencies(inspected: dict) -> set[str]:
    """The services this container's service depends on, as compose labels it
    ("service:condition:restart,...")."""
    label = inspected["Config"]["Labels"].get("com.docker.compose.depends_on", "")
    return {entry.split(":", 1)[0] for entry in label.split(",") if entry}


def is_one_shot(inspected: dict) -> bool:
    return inspected["HostConfig"]["RestartPolicy"]["Name"] in ("", "no")


def failed(inspected: dict) -> bool:
    """A one-shot service that exited with an error."""
    state = inspected["State"]
    return is_one_shot(inspected) and state["Status"] == "exited" and state["ExitCode"] != 0


def probe(inspected: dict) -> tuple[bool, str]:
    """(ready, what was seen): a one-shot when it exited 0; a service when running and healthy, or
    when its own probe passes."""
    state, test = inspected["State"], (inspected["Config"].get("Healthcheck") or {}).get("Test") or ["NONE"]
    if is_one_shot(inspected):
        return state["Status"] == "exited" and state["ExitCode"] == 0, f"it is {state['Status']} (exit {state['ExitCode']})"
    if state["Status"] != "running":
        return False, f"the container is {state['Status']}"
    if test[0] == "NONE" or (state.get("Health") or {}).get("Status") == "healthy":
        return True, "healthy"
    command = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
    try:
        result = subprocess.run(["docker", "exec", inspected["Id"], *command], capture_output=True, text=True,
                                timeout=PROBE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return False, f"its healthcheck took over {PROBE_TIMEOUT_SECONDS} s"
    return result.returncode == 0, (result.stdout + result.stderr).strip() or f"exit {result.returncode}"


def awaited_by_others(services: dict[str, set[str]]) -> set[str]:
    """The services that a still-pending service depends on, directly or not ({service: its dependencies})."""
    awaited, stack = set(), [dependency for needs in services.values() for dependency in needs]
    while stack:
        service = stack.pop()
        if service not in awaited:
            awaited.add(service)
            stack.extend(services.get(service, ()))
    return awaited


def probing(running: dict) -> set[str]:
    return {container for container, _ in running.values()}


def main(timeout: float) -> int:
    containers = stack_containers()
    deadline = time.monotonic() + timeout
    service = {c["Id"]: service_of(c) for c in containers}
    needs = {c["Id"]: dependencies(c) for c in containers}
    one_shot = {c["Id"] for c in containers if is_one_shot(c)}  # free to look at: never deferred
    pending = {c["Id"]: 0.0 for c in containers}  # id -> when to probe next
    seen: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        running: dict = {}  # future -> (container, when it started)
        while pending:
            if time.monotonic() > deadline:
                # What was waiting for its turn is probed now, so each failure says what it is.
                unprobed = inspect([c for c in pending if c not in seen and c not in probing(running)])
                for inspected, (ready, output) in zip(unprobed, pool.map(probe, unprobed), strict=True):
                    if ready:
                        del pending[inspected["Id"]]
                    seen[inspected["Id"]] = output
                for container in pending:
                    print(f"{service[container]} is not healthy after {timeout:.0f} s: "
                          f"{seen.get(container, 'not probed yet')}", file=sys.stderr)
                return 1
            awaited = awaited_by_others({service[c]: needs[c] for c in pending})
            turns = {c: when for c, when in pending.items() if service[c] not in awaited or c in one_shot}
            now = time.monotonic()
            due = [c for c, when in turns.items() if when <= now and c not in probing(running)]
            for inspected in inspect(due):
                if failed(inspected):
                    print(f"{service[inspected['Id']]} exited {inspected['State']['ExitCode']}: "
                          f"see `make logs SERVICE={service[inspected['Id']]}`", file=sys.stderr)
                    return 1
                running[pool.submit(probe, inspected)] = (inspected["Id"], now)
            if not running:  # every probe waits for its turn
                time.sleep(max(0.0, min(turns.values(), default=now + ROUND_SECONDS) - now))
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                container, started = running.pop(future)
                ready, seen[container] = future.result()
                if ready:
                    del pending[container]
                else:
                    # A costly probe waits as long as it ran, so probing takes at most half a core
                    # from the services starting up.
                    took = time.monotonic() - started
                    pending[container] = time.monotonic() + max(ROUND_SECONDS - took, took)
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 300))
