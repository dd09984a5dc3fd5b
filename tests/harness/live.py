"""What the integration and fault suites share about a live stack's life: it comes up once per
session, every failing test carries its `compose ps` and logs, and it goes away at the end
(unless KEEP_STACK=1)."""

import os
from collections.abc import Iterator

from tests.harness.stack import Stack

_running: list[Stack] = []


def attach_diagnostics(report) -> None:
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
