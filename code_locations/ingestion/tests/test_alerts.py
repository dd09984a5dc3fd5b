"""The operations alert sensor against a real S3 server and a webhook receiver started here: news
is told once, history is not news, and nothing is sent while alerting is off."""

import dagster as dg
import pytest

from ingestion.alerts import operations_alerts
from ingestion.resources import LandingZone, s3
from tests.harness.alert_receivers import WebhookReceiver


@pytest.fixture
def webhook(monkeypatch):
    receiver = WebhookReceiver()
    monkeypatch.setenv("ALERT_WEBHOOK_URL", f"http://127.0.0.1:{receiver.port}/hook")
    yield receiver
    receiver.close()


def look(instance, landing_bucket, cursor=None):
    """One tick of the sensor; returns its skip message and the cursor it leaves."""
    landing = LandingZone(s3=s3, bucket=landing_bucket)
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"landing": landing}, sensor_name="operations_alerts"
    ) as context:
        result = operations_alerts(context)
        return result.skip_message, context.cursor


def quarantine(s3_client, bucket, key, message):
    s3_client.put_object(Bucket=bucket, Key=f"quarantine/{key}", Body=b"x")
    s3_client.put_object(Bucket=bucket, Key=f"quarantine/{key}.error.json", Body=f'{{"file": "{key}", "message": "{message}"}}'.encode())


def test_quarantined_files_are_told_once_and_history_is_not_news(webhook, s3_client, landing_bucket, instance):
    quarantine(s3_client, landing_bucket, "old.csv", "before alerting was on")
    _, cursor = look(instance, landing_bucket)
    assert webhook.texts() == []

    quarantine(s3_client, landing_bucket, "new <b>.csv", "line 3, column 'quantity'")
    message, cursor = look(instance, landing_bucket, cursor)
    assert message == "1 alert(s) sent."
    assert webhook.texts() == ["1 file(s) quarantined\nnew &lt;b&gt;.csv: line 3, column 'quantity'"]

    message, _ = look(instance, landing_bucket, cursor)
    assert message == "Nothing new to tell." and len(webhook.texts()) == 1


def test_nothing_is_sent_while_alerting_is_off(s3_client, landing_bucket, instance, monkeypatch):
    monkeypatch.delenv("ALERT_WEBHOOK_URL", raising=False)
    message, cursor = look(instance, landing_bucket)
    assert "Alerting is off" in message and cursor is None
