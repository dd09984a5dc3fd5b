"""State survives what operators do to it: `make backup`, `make clean`, a fresh stack and
`make restore` bring back the same runs, partitions, warehouse and objects; a backup taken on the
previous Dagster release restores into this one. (Named to run last: it deletes the test stack's
volumes and replaces its history.)"""

import json
import re
import shutil
import stat
import uuid

import requests

from tests.harness import previous_dagster
from tests.harness.orders import orders_csv
from tests.harness.polling import wait_until
from tests.harness.repo import REPO, SAMPLES
from tests.harness.warehouse import make_sql, rows_of, scalar

RUNS = "{ runsOrError { ... on Runs { results { runId status } } } }"
PARTITION_STATUSES = """
query ($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode { assetPartitionStatuses { ... on DefaultPartitionStatuses { materializedPartitions failedPartitions } } }
  }
}
"""
PARTITIONED_ASSETS = (("ingestion", "orders"), ("warehouse", "orders"))
BUCKETS = ("LANDING_BUCKET", "IO_MANAGER_BUCKET", "COMPUTE_LOG_BUCKET", "WAREHOUSE_BUCKET")
WAREHOUSE_QUERIES = (
    "SELECT source_key, count(*), sum(quantity), sum(quantity * unit_price), min(order_id), max(order_id) "
    "FROM orders GROUP BY ALL ORDER BY ALL",
    "SELECT * FROM daily_order_summary ORDER BY ALL",
)
# 0 once the summary counts every order (no value while it does not exist yet).
SUMMARY_LAG = "SELECT (SELECT count(*) FROM orders) - (SELECT sum(orders) FROM daily_order_summary)"


def runs(stack) -> dict[str, str]:
    return {run["runId"]: run["status"] for run in stack.query(RUNS)["runsOrError"]["results"]}


def partitions(stack) -> dict[tuple[str, ...], dict]:
    found = {}
    for path in PARTITIONED_ASSETS:
        statuses = stack.query(PARTITION_STATUSES, {"path": list(path)})["assetNodeOrError"]["assetPartitionStatuses"]
        found[path] = {state: sorted(keys) for state, keys in statuses.items()}
    return found


def objects(stack) -> dict[str, dict[str, tuple[str, int]]]:
    return {bucket: {o["Key"]: (o["ETag"], o["Size"]) for o in stack.objects(bucket)} for bucket in BUCKETS}


def warehouse(stack) -> list[str]:
    return [make_sql(stack, query).stdout for query in WAREHOUSE_QUERIES]


def test_a_damaged_backup_is_refused_before_anything_changes(stack, tmp_path):
    copy = tmp_path / "damaged"
    (copy / "postgres").mkdir(parents=True)
    (copy / "manifest.json").write_text(json.dumps({"format": "dagster-stack-backup/1", "databases": {}}))
    history = runs(stack)
    result = stack.deploy_script("restore.sh", str(copy), env={"YES": "1"}, check=False)
    assert result.returncode == 2 and "manifest.json is damaged" in result.stderr, result.stderr
    assert runs(stack) == history


def test_a_backup_restores_everything_into_a_fresh_stack(stack):
    prefix = f"backup-tests/{uuid.uuid4().hex[:8]}"
    # Past DuckLake's inlining limit (10 rows): these rows land in Parquet files in the warehouse
    # bucket, not in the catalog itself.
    good = {f"{prefix}/orders-{n}.csv": 40 + 10 * n for n in range(2)}
    for n, (key, rows) in enumerate(good.items()):
        stack.drop(key, orders_csv(rows, first_id=600 + 100 * n))
    bad = stack.drop(f"{prefix}/bad.csv", (SAMPLES / "bad-wrong-types.csv").read_bytes())
    for key, rows in good.items():
        wait_until(f"{key}'s rows in the warehouse", lambda key=key, rows=rows: rows_of(stack, key) == rows, 180, 2)
    assert stack.wait_for_sensor_run(bad)["status"] == "FAILURE"
    # Automation rebuilds the summary after the loads: a backup in between would be fine, but the
    # comparison wants the summary to exist.
    wait_until("daily_order_summary to count every order", lambda: scalar(stack, SUMMARY_LAG) == "0", 180, 2)
    stack.wait_until_idle()
    before = {"runs": runs(stack), "partitions": partitions(stack), "objects": objects(stack), "warehouse": warehouse(stack)}
    assert all(f"{prefix}/orders-1.csv" in p["materializedPartitions"] for p in before["partitions"].values()), before
    assert any(key.startswith(f"quarantine/{prefix}/bad.csv") for key in before["objects"]["LANDING_BUCKET"])
    assert any(key.endswith(".parquet") for key in before["objects"]["WAREHOUSE_BUCKET"]), before["objects"]

    written = stack.make("backup").stdout
    print(f"\nmake backup: {written}")
    backup = REPO / re.search(r"make restore FILE=(\S+)", written).group(1)
    try:
        stack.make("clean", "YES=1")
        stack.up()
        assert not runs(stack) and not any(objects(stack).values()), "make clean left history behind"

        print(f"make restore: {stack.make('restore', f'FILE={backup.relative_to(REPO)}', 'YES=1').stdout[-200:]}")

        stack.assert_isolated()
        # The restarted webserver may have a new address, which the proxy learns within seconds.
        wait_until("the UI to answer after the restore", lambda: stack.answer(RUNS), timeout=60)
        after = {"runs": runs(stack), "partitions": partitions(stack), "objects": objects(stack), "warehouse": warehouse(stack)}
        # The restarted daemon may start runs of its own; every run of the backup is back as it was.
        assert {run: after["runs"].get(run) for run in before["runs"]} == before["runs"]
        assert after["partitions"] == before["partitions"]
        assert after["objects"] == before["objects"]
        assert after["warehouse"] == before["warehouse"]
        manifest = json.loads((backup / "manifest.json").read_text())
        for bucket in BUCKETS:
            assert manifest["buckets"][bucket]["objects"] == len(before["objects"][bucket]), bucket
        assert stat.S_IMODE(backup.stat().st_mode) == 0o700
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in backup.rglob("*") if p.is_file())
        # Still the warehouse role's and the sensors' own: a file dropped now lands as before.
        later = f"{prefix}/after-restore.csv"
        stack.drop(later, orders_csv(4, first_id=900))
        wait_until(f"{later} in the warehouse", lambda: rows_of(stack, later) == 4, 180, 2)
    finally:
        if backup.is_dir():
            shutil.rmtree(backup)
        backup.unlink(missing_ok=True)


RUN_DETAILS = """
query ($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { status jobName eventConnection { events { __typename } } } }
}
"""


def test_a_backup_from_the_previous_dagster_release_restores_into_this_one(stack):
    taken_on = json.loads((previous_dagster.BACKUP / "manifest.json").read_text())["dagster_version"]
    current = stack.query("{ version }")["version"]
    assert taken_on != current, f"the fixture is from dagster {taken_on}, the stack's own release: regenerate it"
    history = json.loads(previous_dagster.HISTORY.read_text())

    stack.make("restore", f"FILE={previous_dagster.BACKUP.relative_to(REPO)}", "YES=1")

    wait_until("the UI to answer after the restore", lambda: stack.answer(RUNS), timeout=60)
    assert stack.query("{ version }")["version"] == current
    for run in history["runs"]:
        shown = stack.query(RUN_DETAILS, {"runId": run["runId"]})["runOrError"]
        assert (shown.get("status"), shown.get("jobName")) == (run["status"], run["jobName"]), run
        assert shown["eventConnection"]["events"], f"run {run['runId']} lost its events"
        page = requests.get(f"{stack.ui_url}/runs/{run['runId']}", headers=stack.auth_header(), timeout=30)
        assert page.status_code == 200 and 'id="root"' in page.text
    # Its objects came back too: the warehouse answers from the restored Parquet files.
    assert make_sql(stack, previous_dagster.WAREHOUSE_QUERY).stdout == history["warehouse"]
