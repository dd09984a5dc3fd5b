"""The backup taken on the previous Dagster release, which test_stack_state.py restores into the
current one: where it is, what it holds, and (run as a program, by
tests/fixtures/regenerate-previous-dagster.sh on a stack built at that release) how it is made."""

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.harness.orders import orders_csv
from tests.harness.polling import wait_until
from tests.harness.repo import REPO, stack_files
from tests.harness.secret_scan import SecretScanner
from tests.harness.stack import Stack
from tests.harness.warehouse import make_sql, rows_of

FIXTURE = REPO / "tests" / "fixtures" / "previous-dagster"
BACKUP = FIXTURE / "backup"
# What the stack showed when the backup was taken: its runs and its warehouse's answers.
HISTORY = FIXTURE / "history.json"
RUNS = "{ runsOrError { ... on Runs { results { runId status jobName } } } }"
WAREHOUSE_QUERY = "SELECT source_key, count(*), sum(quantity * unit_price) FROM orders GROUP BY ALL ORDER BY ALL"
DROPPED_KEY = "previous-dagster/orders.csv"


def produce(stack: Stack, out: Path) -> None:
    """On a running stack: a file dropped and loaded into the warehouse, a diagnostics run, then
    `make backup`, copied to `out` with what the test expects of it."""
    # More rows than DuckLake inlines in its catalog (10): they go to a Parquet file in the bucket.
    stack.drop(DROPPED_KEY, orders_csv(30, first_id=100))
    wait_until(f"{DROPPED_KEY} in the warehouse", lambda: rows_of(stack, DROPPED_KEY) == 30, 300, 2)
    assert stack.wait_for_run(stack.launch("diagnostics", "smoke_job")) == "SUCCESS"
    stack.wait_until_idle()
    history = {
        "runs": stack.query(RUNS)["runsOrError"]["results"],
        "warehouse": make_sql(stack, WAREHOUSE_QUERY).stdout,
    }
    written = stack.make("backup").stdout
    backup = REPO / written.split("make restore FILE=")[1].split()[0]
    assert_no_secret_in(stack, backup)
    shutil.rmtree(out / "backup", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    shutil.move(backup, out / "backup")
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n")


def assert_no_secret_in(stack: Stack, backup: Path) -> None:
    """The backup goes into the repository: none of the stack's secrets may be in it, in the
    dumps' text (pg_dump compresses them) or in any object."""
    scanner = SecretScanner({v: k for k, v in stack.settings.items() if v and ("PASSWORD" in k or "SECRET" in k)})
    findings = []
    for dump in sorted((backup / "postgres").glob("*.dump")):
        with dump.open("rb") as source:
            text = subprocess.run(
                [str(REPO / "deploy/scripts/compose.sh"), "exec", "-T", "postgres", "pg_restore", "--file=-"],
                stdin=source, capture_output=True, check=True, env={**os.environ, **stack.env_files, **stack.image_tags},
            ).stdout
        findings += scanner.scan_stream(dump.name, io.BytesIO(text))
    for path in sorted((backup / "objects").iterdir()):
        with path.open("rb") as content:
            findings += scanner.scan_stream(path.name, content)
    assert not findings, [str(finding) for finding in findings]


if __name__ == "__main__":
    # Usage: python -m tests.harness.previous_dagster STACK_FILE OUT_DIR (through with-stack.sh)
    stack = Stack.from_files(stack_files(Path(sys.argv[1]).resolve()))
    stack.up()
    try:
        produce(stack, Path(sys.argv[2]))
    finally:
        stack.down()
