"""deploy/scripts/wait-healthy.py (`make up`'s wait): what it probes when, and what counts as done."""

import importlib.util

from tests.harness.repo import REPO

spec = importlib.util.spec_from_file_location("wait_healthy", REPO / "deploy" / "scripts" / "wait-healthy.py")
wait_healthy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wait_healthy)


def test_a_service_waits_for_its_probe_while_a_service_still_starting_depends_on_it():
    """The code servers, the pool and Postgres are probed after the webserver and the daemon, which
    wait for them before they serve, not every second meanwhile."""
    pending = {
        "webserver": {"migrate", "pgbouncer", "code-ingestion"},
        "daemon": {"migrate", "pgbouncer", "code-ingestion", "docker-proxy"},
        "code-ingestion": {"pgbouncer"},
        "pgbouncer": {"postgres"},
        "postgres": set(),
        "docker-proxy": set(),
        "run-janitor": {"docker-proxy"},
    }
    assert wait_healthy.awaited_by_others(pending) == {"migrate", "pgbouncer", "code-ingestion", "postgres", "docker-proxy"}
    # Once the webserver and the daemon pass, the rest is probed at once.
    done = {service: needs for service, needs in pending.items() if service not in ("webserver", "daemon")}
    assert wait_healthy.awaited_by_others(done) == {"pgbouncer", "postgres", "docker-proxy"}


def container(status: str, exit_code: int = 0, restart: str = "unless-stopped") -> dict:
    """What `docker inspect` says of a container without a healthcheck."""
    return {"Id": "c", "Name": "/c", "Config": {"Labels": {}, "Healthcheck": None},
            "HostConfig": {"RestartPolicy": {"Name": restart}},
            "State": {"Status": status, "ExitCode": exit_code}}


def test_a_one_shot_counts_once_it_exited_0_and_fails_the_wait_once_it_exited_otherwise():
    """The S3 one-shots run while the rest starts (Compose's `up` does not wait for them)."""
    assert wait_healthy.probe(container("running", restart="no"))[0] is False
    assert wait_healthy.probe(container("exited", 0, restart="no"))[0] is True
    assert wait_healthy.failed(container("exited", 1, restart="no"))
    assert not wait_healthy.failed(container("exited", 1))  # a service's crash: restarted, probed until the deadline
    assert wait_healthy.probe(container("running"))[0] is True  # no healthcheck: running is enough
