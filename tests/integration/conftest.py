import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.harness.alert_receivers import MailReceiver, WebhookReceiver
from tests.harness.live import attach_diagnostics, running
from tests.harness.repo import TEST_STACK, stack_files
from tests.harness.stack import Stack


def pytest_configure(config):
    env_file = os.environ.get("STACK_ENV") or stack_files(TEST_STACK)["STACK_ENV"]
    if not Path(env_file).exists():
        raise pytest.UsageError(f"run the integration tests with `make test` (it prepares {env_file})")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    attach_diagnostics(outcome.get_result())


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
