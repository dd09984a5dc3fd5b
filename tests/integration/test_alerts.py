"""Alerts from the live stack reach a webhook receiver and an SMTP server (started by conftest.py):
a failed run and a quarantined file, each told once, with the error and a link to the UI."""

import time
import uuid

from tests.harness.polling import wait_until
from tests.harness.repo import SAMPLES

# The alert sensors look every 15 s (failed runs) and 60 s (quarantine, tick failures, lag).
ALERT_WITHIN_SECONDS = 150


def mentioning(texts: list[str], *words: str) -> list[str]:
    return [text for text in texts if all(word in text for word in words)]


def test_a_failed_run_and_its_quarantined_file_are_told_once(stack, alert_receivers):
    webhook, mail = alert_receivers
    key = f"alerts/{uuid.uuid4().hex[:8]}/wrong types.csv"
    source = stack.drop(key, (SAMPLES / "bad-wrong-types.csv").read_bytes())
    run = stack.wait_for_sensor_run(source)
    assert run["status"] == "FAILURE"
    run_id = run["runId"]

    def told_everywhere(*words: str):
        posted = mentioning(webhook.texts(), *words)
        mailed = [m for m in mail.received if all(word in m["Subject"] + m.get_payload() for word in words)]
        return (posted, mailed) if posted and mailed else None

    posted, mailed = wait_until("the run failure alert", lambda: told_everywhere("Run failed", run_id), ALERT_WITHIN_SECONDS, 1)
    assert "ingest_orders_job" in posted[0] and "line 3, column 'quantity'" in posted[0], posted[0]
    assert f"{stack.settings['ALERT_UI_URL']}/runs/{run_id}" in posted[0]
    assert mailed[0]["To"] == "ops@example.test" and mailed[0]["Subject"].startswith("[dagster-stack] Run failed")

    quarantined, _ = wait_until("the quarantine alert", lambda: told_everywhere("quarantined", key), ALERT_WITHIN_SECONDS, 1)
    assert "line 3" in quarantined[0], quarantined[0]

    # Once, not once per tick: after another look of each alert sensor, nothing more about either.
    told = time.time()
    for sensor in ("run_failure_alerts", "operations_alerts"):
        stack.wait_for_sensor_ticks(1, told, timeout=120, sensor=sensor)
    assert len(mentioning(webhook.texts(), "Run failed", run_id)) == 1
    assert len([text for text in mentioning(webhook.texts(), key) if not text.startswith("Run failed")]) == 1
    assert len([m for m in mail.received if run_id in m["Subject"]]) == 1


def test_a_stopped_daemon_is_told_by_the_run_janitor_and_so_is_its_return(stack, alert_receivers):
    """The daemon runs the alert sensors, so it cannot tell of its own outage: the janitor does."""
    webhook, mail = alert_receivers
    already = len(mentioning(webhook.texts(), "The Dagster daemon is"))
    stack.compose("stop", "daemon")
    try:
        # Two looks 30 s apart see it stopped, then the alert goes out.
        down = wait_until("the daemon-down alert", lambda: mentioning(webhook.texts()[already:], "daemon is down"), 120, 1)
        assert "not running" in down[0] and f"{stack.settings['ALERT_UI_URL']}/health" in down[0], down[0]
        assert any("daemon is down" in m["Subject"] for m in mail.received)
    finally:
        stack.compose("start", "daemon")
    stack.wait_healthy("daemon")
    wait_until("the daemon-back alert", lambda: mentioning(webhook.texts()[already:], "daemon is back"), 120, 1)
    assert len(mentioning(webhook.texts()[already:], "daemon is down")) == 1
