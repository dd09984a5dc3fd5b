"""The warehouse as a user reaches it: `make sql` from the host, against a stack of the tests."""

import os
import subprocess

from tests.harness.repo import REPO


def make_sql(stack, statement: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`make sql Q=...` from the host, as a user types it, against the test stack."""
    env = {**os.environ, **stack.env_files, **stack.image_tags, **(env or {})}
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "sql", f"Q={statement}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False,
    )
    if check:
        assert result.returncode == 0, f"make sql failed:\n{result.stdout}\n{result.stderr}"
    return result


def scalar(stack, statement: str) -> str | None:
    """The single value a one-row, one-column statement prints in `make sql`'s table; None while
    the statement fails (before the first file, the tables do not exist yet)."""
    result = make_sql(stack, statement, check=False)
    if result.returncode != 0:
        return None
    return [line for line in result.stdout.splitlines() if line.startswith("|")][-1].strip("| ")


def rows_of(stack, key: str) -> int:
    return int(scalar(stack, f"SELECT count(*) FROM orders WHERE source_key = '{key}'") or 0)
