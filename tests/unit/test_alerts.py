"""lib/stack_alerts, and the run janitor's watch of the daemon, deliver to a real webhook receiver and
a real SMTP server started here."""

import importlib.util

import pytest
from stack_alerts import Alert, AlertNotDelivered, Channels

from tests.harness.alert_receivers import MailReceiver, WebhookReceiver, free_port
from tests.harness.repo import REPO


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def mail():
    receiver = MailReceiver()
    yield receiver
    receiver.close()


def channels(webhook=None, mail=None, **more) -> Channels:
    env = {"ALERT_UI_URL": "http://ui.example/"}
    if webhook:
        env["ALERT_WEBHOOK_URL"] = f"http://127.0.0.1:{webhook.port}/hook"
    if mail:
        env |= {"ALERT_SMTP_HOST": "127.0.0.1", "ALERT_SMTP_PORT": str(mail.port), "ALERT_SMTP_STARTTLS": "false",
                "ALERT_EMAIL_TO": "ops@example.test, lead@example.test"}
    return Channels.from_environment(env | more)


def test_nothing_set_means_alerting_is_off():
    assert not Channels.from_environment({}).enabled
    # An SMTP server without anyone to write to is not a channel.
    assert not Channels.from_environment({"ALERT_SMTP_HOST": "mail"}).enabled


def test_an_alert_reaches_the_webhook_and_every_mailbox(webhook, mail):
    chosen = channels(webhook, mail)
    alert = Alert("Run failed: ingest_orders_job", "line 3, column 'quantity'", chosen.link("/runs/abc"))
    assert chosen.deliver(alert) == ["webhook", "e-mail"]
    assert webhook.texts() == ["Run failed: ingest_orders_job\nline 3, column 'quantity'\nhttp://ui.example/runs/abc"]
    (message,) = mail.received
    assert message["Subject"] == "[dagster-stack] Run failed: ingest_orders_job"
    assert message["To"] == "ops@example.test, lead@example.test"
    assert "http://ui.example/runs/abc" in message.get_payload()


def test_a_file_name_is_no_markup_in_the_chat(webhook):
    channels(webhook).deliver(Alert("1 file(s) quarantined", "<http://evil.example|click me> & more"))
    assert webhook.texts() == ["1 file(s) quarantined\n&lt;http://evil.example|click me&gt; &amp; more"]


def test_a_channel_down_fails_the_delivery_after_the_others_got_it(mail):
    chosen = channels(mail=mail, ALERT_WEBHOOK_URL=f"http://127.0.0.1:{free_port('127.0.0.1')}/hook")
    with pytest.raises(AlertNotDelivered, match="webhook"):
        chosen.deliver(Alert("Run failed", "boom"))
    assert len(mail.received) == 1


def load_run_janitor():
    spec = importlib.util.spec_from_file_location("run_janitor", REPO / "deploy" / "janitor" / "run-janitor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_daemon_outage_is_told_once_when_seen_twice_and_its_end_once(webhook):
    watch = load_run_janitor().DaemonWatch(channels(webhook))
    stopped = 'it is not running: Docker says "Exited (137) 31 seconds ago"'
    # Starting (unknown), serving, one glimpse of a restart: nothing to tell.
    for problem in (None, "", stopped, ""):
        watch.look(problem)
    assert webhook.texts() == []
    for problem in (stopped, stopped, None, stopped, stopped):
        watch.look(problem)
    [down] = webhook.texts()
    assert down.startswith("The Dagster daemon is down") and "Exited (137)" in down and "http://ui.example/health" in down
    watch.look("")
    watch.look("")
    assert len(webhook.texts()) == 2 and webhook.texts()[1].startswith("The Dagster daemon is back")


def test_an_outage_not_delivered_is_told_at_the_next_look(webhook):
    watch = load_run_janitor().DaemonWatch(channels(ALERT_WEBHOOK_URL=f"http://127.0.0.1:{free_port('127.0.0.1')}/x"))
    for _ in range(3):
        watch.look("it is unhealthy")
    assert not watch.told
    watch.channels = channels(webhook)
    watch.look("it is unhealthy")
    assert watch.told and len(webhook.texts()) == 1
