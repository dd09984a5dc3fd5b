"""Usage: wait-for-code-servers.py [--buckets] COMMAND... (a Dagster command with `-w WORKSPACE`)

Waits until every code server the workspace file lists serves (the gRPC health service, as their
healthcheck asks), then runs COMMAND in its place. The webserver and the daemon start this way:
each loads the workspace once as it starts, and a location that did not answer then stays an
error until it is reloaded. Compose's `service_healthy` would wait a whole healthcheck interval
(long, to keep an idle stack's probes cheap: docker-compose.yml); this waits only until they serve.

With --buckets (the daemon, whose runs and sensors use them), it also waits until this service's S3
identity sees the stack's buckets: the one-shots `create-buckets` and `s3-identity` make them, and
the store takes seconds to start. Waiting here rather than in Compose lets the rest of this start
go on meanwhile; `make up` waits for those one-shots too (deploy/scripts/wait-healthy.py).

COMMAND's own imports (dagster's: 1 to 2 s of CPU) are not worth waiting for: a Python console
script (dagster-webserver, dagster-daemon) is imported while the code servers start, then run in
this process, which watches its code servers over kept gRPC channels (lib/stack_grpc).
"""

import importlib.util
import os
import sys
import threading
import time
from importlib.metadata import entry_points
from pathlib import Path

import yaml

DEADLINE_SECONDS = 300
# Not as long for the buckets: a daemon that Docker restarts while the store is out must not stay
# down meanwhile (its sensors tell of the outage); the one-shots make them seconds after a start.
BUCKETS_DEADLINE_SECONDS = 60
POLL_SECONDS = 0.5
BUCKET_VARIABLES = ("LANDING_BUCKET", "IO_MANAGER_BUCKET", "COMPUTE_LOG_BUCKET", "WAREHOUSE_BUCKET")


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


def bucket_check():
    """check(bucket) -> (whether this service's identity sees it, a sentence saying so)."""
    import boto3  # the daemon imports it anyway (the compute logs, lib/stack_s3)
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"],
                      config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5))

    def check(bucket: str) -> tuple[bool, str]:
        try:
            s3.head_bucket(Bucket=bucket)
            return True, f"bucket {bucket} is there"
        except Exception as error:  # not there yet, no identity yet, the store still starting
            return False, f"bucket {bucket} is not there yet: {error}"

    return check


class Preload(threading.Thread):
    """Imports a console script's entry point (None: COMMAND is no such script) beside the wait."""

    def __init__(self, program: str):
        super().__init__(daemon=True)
        self.scripts = entry_points(group="console_scripts", name=program)
        self.entry_point, self.error = None, None
        self.start()

    def run(self) -> None:
        try:
            self.entry_point = next((script.load() for script in self.scripts), None)
        except BaseException as error:  # raised where COMMAND would have failed: in the main thread
            self.error = error

    def result(self):
        self.join()
        if self.error:
            raise self.error
        return self.entry_point


def main(command: list[str]) -> None:
    with_buckets = command[:1] == ["--buckets"]
    command = command[1:] if with_buckets else command
    preload = Preload(command[0])
    started = time.monotonic()
    serves = health_check()
    checks = [(address, serves, started + DEADLINE_SECONDS) for address in code_servers(workspace_file(command))]
    if with_buckets:
        sees = bucket_check()
        checks += [(os.environ[variable], sees, started + BUCKETS_DEADLINE_SECONDS) for variable in BUCKET_VARIABLES]
    while checks:
        answers = [(subject, check, deadline, check(subject)) for subject, check, deadline in checks]
        checks = []
        for subject, check, deadline, (ready, message) in answers:
            if ready:
                continue
            if time.monotonic() > deadline:
                # Starting anyway: the UI shows a location's error and offers to reload it.
                print(f"wait-for-code-servers: starting without it: {message}", flush=True)
            else:
                checks.append((subject, check, deadline))
        if checks:
            time.sleep(POLL_SECONDS)
    if entry_point := preload.result():
        from stack_grpc import keep_watch_channels_open  # beside dagster, which the script imported

        keep_watch_channels_open()
        sys.argv = command
        sys.exit(entry_point())
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
