import pytest

from tests.live import attach_diagnostics, running

from .stack import REPO, Stack


def pytest_configure(config):
    if not (REPO / ".stack" / "test.env").exists():
        raise pytest.UsageError("run the integration tests with `make test` (it prepares .stack/test.env)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    attach_diagnostics(outcome.get_result())


@pytest.fixture(scope="session")
def stack():
    yield from running(Stack.from_files())
