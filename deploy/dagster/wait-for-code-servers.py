"""Usage: wait-for-code-servers.py COMMAND... (a Dagster command with `-w WORKSPACE`)

Waits until every code server the workspace file lists serves (the gRPC health service, as their
healthcheck asks), then runs COMMAND in its place. The webserver and the daemon start this way:
each loads the workspace once as it starts, and a location that did not answer then stays an
error until it is reloaded. Compose's `service_healthy` would wait a whole healthcheck interval
(long, to keep an idle stack's probes cheap: docker-compose.yml); this waits only until they serve.
"""

import importlib.util
import os
import sys
import time
from pathlib import Path

import yaml

DEADLINE_SECONDS = 300
POLL_SECONDS = 0.5


def workspace_file(command: list[str]) -> Path:
    for flag in ("-w", "--workspace"):
        if flag in command[:-1]:
            return Path(command[command.index(flag) + 1])
    sys.exit(f"wait-for-code-servers: no -w WORKSPACE in {command}")


def code_servers(workspace: Path) -> list[str]:
    entries = yaml.safe_load(workspace.read_text())["load_from"]
    return [f"{entry['grpc_server']['host']}:{entry['grpc_server']['port']}" for entry in entries if "grpc_server" in entry]


def health_check():
    spec = importlib.util.spec_from_file_location("grpc_health_check", Path(__file__).with_name("grpc-health-check.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check


def main(command: list[str]) -> None:
    check = health_check()
    pending = code_servers(workspace_file(command))
    deadline = time.monotonic() + DEADLINE_SECONDS
    while pending:
        answers = {address: check(address) for address in pending}
        pending = [address for address, (serving, _) in answers.items() if not serving]
        if pending and time.monotonic() > deadline:
            # Starting anyway: the UI shows these locations' errors and offers to reload them.
            for address in pending:
                print(f"wait-for-code-servers: starting without it: {answers[address][1]}", flush=True)
            break
        if pending:
            time.sleep(POLL_SECONDS)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
