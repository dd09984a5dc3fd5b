"""What the integration and fault suites share about a live stack's life: it comes up once per
session, every failing test carries its `compose ps` and logs, and it goes away at the end
(unless KEEP_STACK=1)."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.repo import stack_files
from tests.harness.stack import Stack

_running: list[Stack] = []


def require_prepared(stack_file: Path, targets: str) -> None:
    """For pytest_configure: the suite needs its stack's env file, which `make` prepares."""
    env_file = os.environ.get("STACK_ENV") or stack_files(stack_file)["STACK_ENV"]
    if not Path(env_file).exists():
        raise pytest.UsageError(f"run these tests with {targets} (it prepares {env_file})")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A hook for the live suites' conftests to import: a failing test carries the stack's
    `compose ps` and logs."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _running:
        report.sections.append(("test stack: compose ps and logs", _running[0].diagnostics()))


def running(stack: Stack) -> Iterator[Stack]:
    """For a session fixture: `yield from running(Stack.from_environment(...))`."""
    _running.append(stack)
    stack.up()
    yield stack
    if os.environ.get("KEEP_STACK") == "1":
        print(f"\nKEEP_STACK=1: test stack '{stack.project}' left running.")
    else:
        stack.down()
