import json

import pytest

from tests.harness.live import pytest_runtest_makereport, require_prepared, running  # noqa: F401 (a hook)
from tests.harness.repo import FAULT_STACK, REPO
from tests.harness.stack import Stack

REPORT = REPO / "fault-results" / "report.json"
# Recovery times and the burst's wall time, filled in by the tests, printed at the end.
_measured: dict[str, float] = {}


def pytest_configure(config):
    require_prepared(FAULT_STACK, "`make test` or `make test-faults`")


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
    yield from running(Stack.from_environment(FAULT_STACK))
