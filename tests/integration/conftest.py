import os

import pytest

from .stack import REPO, Stack

_live_stack: list[Stack] = []


def pytest_configure(config):
    if not (REPO / ".stack" / "test.env").exists():
        raise pytest.UsageError("run the integration tests with `make test` (it prepares .stack/test.env)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # Every failing test carries the stack's `compose ps` and service logs in its report.
    if report.failed and _live_stack:
        report.sections.append(("test stack: compose ps and logs", _live_stack[0].diagnostics()))


@pytest.fixture(scope="session")
def stack():
    stack = Stack.from_files()
    _live_stack.append(stack)
    stack.up()
    yield stack
    if os.environ.get("KEEP_STACK") == "1":
        print(f"\nKEEP_STACK=1: test stack '{stack.project}' left running.")
    else:
        stack.down()
