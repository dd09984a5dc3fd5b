"""The stack's metrics (DAGSTER_METRICS, docs/operations.md "Metrics"): with the monitoring profile
turned on for this module, /metrics on the proxy asks for the operators' login, then shows what a
run and a bad drop did, and the daemon alive; Prometheus scrapes the exporter and its rules fire."""

import subprocess
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.polling import wait_until
from tests.harness.repo import SAMPLES
from tests.integration.test_push import free_port
from tests.integration.test_readonly_ui import LOGINS, get

# Turned on here rather than in tests/stack.env: the other tests need neither (about 120 MiB and
# a Prometheus). The cache is shortened so a drop shows within a few seconds.
MONITORING = {"DAGSTER_METRICS": "monitoring", "METRICS_CACHE_SECONDS": "5"}
# Prometheus scrapes and evaluates its rules every 30 s (deploy/prometheus/prometheus.yml).
PROMETHEUS_WITHIN_SECONDS = 150


def set_metrics(stack, env: dict, *services: str) -> None:
    """Recreates the proxy (which reads DAGSTER_METRICS) and starts or keeps the services named;
    returns once the proxy serves the UI again, so the next test finds it up."""
    stack.compose("up", "-d", "--no-build", "--no-deps", "proxy", *services, env=env)

    def serves() -> bool:
        try:
            return stack.post_graphql("{ version }").status_code == 200
        except OSError:  # the new proxy not listening yet
            return False

    wait_until("the proxy to serve the UI again", serves, 120, 0.5)


@pytest.fixture(scope="module")
def monitoring(stack):
    stack.deploy_script("build-images.sh", "prometheus", env=MONITORING)
    set_metrics(stack, MONITORING, "metrics", "prometheus")
    wait_until("the exporter behind the proxy", lambda: scrape(stack, check=False) is not None, 120, 1)
    yield stack
    stack.compose("rm", "--stop", "--force", "metrics", "prometheus", env=MONITORING)
    set_metrics(stack, {"DAGSTER_METRICS": "off"})


def scrape(stack, check: bool = True) -> dict[tuple[str, tuple], float] | None:
    """/metrics through the proxy as an operator, parsed as Prometheus parses it:
    (sample name, its labels sorted) -> value. None while it does not answer 200."""
    try:
        response = requests.get(f"{stack.ui_url}/metrics", headers=stack.auth_header(), timeout=30)
    except OSError:  # the proxy restarting (requests' errors are OSErrors)
        if check:
            raise
        return None
    if response.status_code != 200:
        assert not check, (response.status_code, response.text[:300])
        return None
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, metric: str, **labels: str) -> float:
    return samples.get((metric, tuple(sorted(labels.items()))), 0.0)


def prometheus(stack, path: str, **params) -> dict:
    response = requests.get(f"{stack.ui_url}/prometheus/api/v1/{path}", params=params, headers=stack.auth_header(), timeout=30)
    response.raise_for_status()
    return response.json()["data"]


def drop_bad_file(stack) -> str:
    key = f"metrics/{uuid.uuid4().hex[:8]}/wrong types.csv"
    run = stack.wait_for_sensor_run(stack.drop(key, (SAMPLES / "bad-wrong-types.csv").read_bytes()))
    assert run["status"] == "FAILURE"
    return key


def test_metrics_need_the_operators_login(monitoring):
    stack = monitoring
    assert requests.get(f"{stack.ui_url}/metrics", timeout=30).status_code == 401
    wrong = {"Authorization": "Basic " + "bm9ib2R5Om5vdGhpbmc="}  # nobody:nothing
    assert requests.get(f"{stack.ui_url}/metrics", headers=wrong, timeout=30).status_code == 401
    assert requests.get(f"{stack.ui_url}/prometheus/api/v1/targets", timeout=30).status_code == 401
    # Nothing of the exporter's or Prometheus's is published: the proxy is the only way in.
    for container in stack.service_containers("metrics", "prometheus"):
        assert not any(container.attrs["NetworkSettings"]["Ports"].get(port) for port in container.attrs["NetworkSettings"]["Ports"]), container.name


def test_metrics_show_runs_quarantined_files_and_a_live_daemon(monitoring):
    stack = monitoring
    before = scrape(stack)
    run_id = stack.launch("diagnostics", "smoke_job")
    assert stack.wait_for_run(run_id) == "SUCCESS"
    drop_bad_file(stack)

    def updated():
        now = scrape(stack)
        grew = all(
            value(now, name, **labels) > value(before, name, **labels)
            for name, labels in [
                ("dagster_runs", {"job_name": "smoke_job", "status": "SUCCESS"}),
                ("dagster_runs", {"job_name": "ingest_orders_job", "status": "FAILURE"}),
                ("dagster_landing_files", {"area": "quarantined"}),
            ]
        )
        return now if grew else None

    now = wait_until("the run and the quarantined file in /metrics", updated, 60, 2)
    sources = {dict(labels)["source"]: up for (name, labels), up in now.items() if name == "dagster_metrics_source_up"}
    assert sources == {"runs": 1, "automation": 1, "daemons": 1, "landing": 1, "warehouse": 1}
    assert value(now, "dagster_run_last_finished_timestamp_seconds", job_name="ingest_orders_job", status="FAILURE") > 0
    heartbeats = {dict(labels)["daemon"]: age for (name, labels), age in now.items() if name == "dagster_daemon_heartbeat_age_seconds"}
    assert {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR"} <= heartbeats.keys(), heartbeats
    assert all(0 <= age < 120 for age in heartbeats.values()), heartbeats
    tick_age = value(now, "dagster_tick_age_seconds", kind="sensor", name="landing_sensor", location="ingestion")
    # A tick that began as the exporter read the time is 0 s old (the exporter clamps it there).
    assert 0 <= tick_age < 60, tick_age
    assert value(now, "dagster_tick_failing", kind="sensor", name="landing_sensor", location="ingestion") == 0
    assert ("dagster_run_queue_depth", ()) in now and ("dagster_warehouse_lag_files", ()) in now


def test_prometheus_scrapes_the_exporter_and_a_rule_fires(monitoring):
    stack = monitoring

    def target_up():
        targets = prometheus(stack, "targets")["activeTargets"]
        return targets if any(t["labels"]["job"] == "dagster-stack" and t["health"] == "up" for t in targets) else None

    wait_until("Prometheus to scrape the exporter", target_up, PROMETHEUS_WITHIN_SECONDS, 2)
    # A series Prometheus has already scraped, to compare the new quarantine with.
    wait_until(
        "a scraped quarantine count",
        lambda: prometheus(stack, "query", query='dagster_landing_files{area="quarantined"}')["result"],
        PROMETHEUS_WITHIN_SECONDS, 2,
    )
    drop_bad_file(stack)

    def firing(name: str):
        alerts = prometheus(stack, "alerts")["alerts"]
        return [alert for alert in alerts if alert["labels"]["alertname"] == name and alert["state"] == "firing"] or None

    (quarantined,) = wait_until("DagsterFilesQuarantined to fire", lambda: firing("DagsterFilesQuarantined"), PROMETHEUS_WITHIN_SECONDS, 2)
    assert "quarantined in the last 15 minutes" in quarantined["annotations"]["summary"]
    failed = wait_until("DagsterRunFailed to fire", lambda: firing("DagsterRunFailed"), PROMETHEUS_WITHIN_SECONDS, 2)
    assert "ingest_orders_job" in {alert["labels"]["job_name"] for alert in failed}
    # The daemon is alive: its rule stays quiet.
    assert firing("DagsterDaemonHeartbeatLate") is None


@pytest.fixture(scope="module")
def stack_proxy_image(stack) -> str:
    """The stack's proxy image, run on its own below with other settings."""
    return stack.config()["services"]["proxy"]["image"]


@pytest.mark.parametrize("setting", ["off", "on"])
def test_the_proxy_says_what_is_off(stack_proxy_image, setting):
    ui = free_port(0)
    container = subprocess.run(
        ["docker", "run", "-d", "-p", f"127.0.0.1:{ui}:3000", *LOGINS, "-e", f"DAGSTER_METRICS={setting}", stack_proxy_image],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    try:
        wait_until("the proxy to ask for a login", lambda: get(f"http://127.0.0.1:{ui}/")[0] == 401, 60, 0.5)
        status, body = get(f"http://127.0.0.1:{ui}/prometheus/graph")
        assert status == 404 and "Prometheus is off" in body and "DAGSTER_METRICS=monitoring" in body, (status, body)
        status, body = get(f"http://127.0.0.1:{ui}/metrics")
        if setting == "off":
            assert status == 404 and "metrics exporter is off" in body and "DAGSTER_METRICS=on" in body, (status, body)
        else:
            assert status == 401, (status, body)
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def test_the_proxy_refuses_an_unknown_metrics_setting(stack_proxy_image):
    # Named, and removed whatever happens: a proxy that took the setting would keep running.
    name = f"metrics-setting-check-{uuid.uuid4().hex[:8]}"
    try:
        result = subprocess.run(
            ["docker", "run", "--name", name, *LOGINS, "-e", "DAGSTER_METRICS=yes", stack_proxy_image],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    assert result.returncode != 0 and "DAGSTER_METRICS must be off, on or monitoring, not 'yes'" in result.stderr
