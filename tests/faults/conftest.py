import json

import pytest

from tests.integration.stack import REPO, Stack
from tests.live import attach_diagnostics, running

FAULT_ENV_FILES = {
    "STACK_ENV": str(REPO / ".stack" / "faults.env"),
    "STACK_ENV_OVERRIDES": str(REPO / "tests" / "faults" / "stack.env"),
}
REPORT = REPO / "fault-results" / "report.json"
# Recovery times and the burst's wall time, filled in by the tests, printed at the end.
measured: dict[str, float] = {}


def pytest_configure(config):
    if not (REPO / ".stack" / "faults.env").exists():
        raise pytest.UsageError("run the fault suite with `make test` or `make test-faults`")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    attach_diagnostics(outcome.get_result())


def pytest_terminal_summary(terminalreporter):
    if not measured:
        return
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(measured, indent=2) + "\n")
    terminalreporter.section("fault suite: measured")
    for name, seconds in measured.items():
        terminalreporter.write_line(f"{name:<60} {seconds:8.1f} s")


@pytest.fixture(scope="session")
def stack():
    yield from running(Stack.from_files(FAULT_ENV_FILES))
