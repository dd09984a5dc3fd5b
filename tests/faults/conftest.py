import json

import pytest

from tests.harness.live import attach_diagnostics, running
from tests.harness.repo import FAULT_ENV_FILES, REPO
from tests.harness.stack import Stack

REPORT = REPO / "fault-results" / "report.json"
# Recovery times and the burst's wall time, filled in by the tests, printed at the end.
_measured: dict[str, float] = {}


def pytest_configure(config):
    if not (REPO / ".stack" / "faults.env").exists():
        raise pytest.UsageError("run the fault suite with `make test` or `make test-faults`")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    attach_diagnostics(outcome.get_result())


@pytest.fixture(scope="session")
def measured() -> dict[str, float]:
    """Where a test records how long recovery took (seconds); the suite prints and saves them."""
    return _measured


def pytest_terminal_summary(terminalreporter):
    if not _measured:
        return
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(_measured, indent=2) + "\n")
    terminalreporter.section("fault suite: measured")
    for name, seconds in _measured.items():
        terminalreporter.write_line(f"{name:<60} {seconds:8.1f} s")


@pytest.fixture(scope="session")
def stack():
    yield from running(Stack.from_environment(FAULT_ENV_FILES))
