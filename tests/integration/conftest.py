import os
from pathlib import Path

import pytest

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
