from urllib.parse import urlsplit

import pytest

from tests.harness.alert_receivers import MailReceiver, WebhookReceiver
from tests.harness.live import pytest_runtest_makereport, require_prepared, running  # noqa: F401 (a hook)
from tests.harness.repo import TEST_STACK
from tests.harness.stack import Stack


def pytest_configure(config):
    require_prepared(TEST_STACK, "`make test` or `make test-integration`")


@pytest.fixture(scope="session")
def stack():
    yield from running(Stack.from_environment(TEST_STACK))


@pytest.fixture(scope="session", autouse=True)
def alert_receivers(stack):
    """The webhook and SMTP server the test stack alerts (tests/stack.env), up for the whole
    session: any test's failed run is alerted, and test_alerts.py reads what arrived. On all of
    this host's addresses, since the stack's containers reach it as host.docker.internal."""
    webhook = WebhookReceiver("0.0.0.0", urlsplit(stack.settings["ALERT_WEBHOOK_URL"]).port)
    mail = MailReceiver("0.0.0.0", int(stack.settings["ALERT_SMTP_PORT"]))
    yield webhook, mail
    webhook.close()
    mail.close()
