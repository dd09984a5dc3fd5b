"""The warehouse on the live stack: a dropped file's rows reach `orders` and `daily_order_summary`
with nobody clicking, `make sql` answers from the host, and several runs write at once. (Its
backup round trip, with the Parquet files: test_stack_state.py.)"""

import subprocess
import time
import uuid

from tests.harness.orders import orders_csv
from tests.harness.polling import wait_until
from tests.harness.warehouse import make_sql, rows_of, scalar

# A dropped file's rows must be queryable within this, with nobody clicking.
DROP_TO_ROWS_SECONDS = 120
# Six writers launched at once (the test stack runs six at a time), at least four of them in
# progress at one moment: on 2 cores the daemon starts their containers seconds apart.
CONCURRENT_WRITERS = 6
MIN_WRITERS_AT_ONCE = 4
# Rows per file: enough that a writer's run lasts while the next containers start.
WRITER_ROWS = 20_000

WAREHOUSE_MATERIALIZATIONS = """
query ($partition: String!) {
  assetOrError(assetKey: {path: ["warehouse", "orders"]}) {
    ... on Asset {
      assetMaterializations(partitions: [$partition]) {
        runId
        metadataEntries { label ... on FloatMetadataEntry { floatValue } ... on IntMetadataEntry { intValue } }
      }
    }
  }
}
"""
RUN_TAGS = """
query ($runId: ID!) { runOrError(runId: $runId) { ... on Run { tags { key value } } } }
"""


def unique_key(name: str) -> str:
    return f"warehouse-tests/{uuid.uuid4().hex[:8]}/{name}"


def warehouse_materializations(stack, key: str) -> list[dict]:
    found = stack.query(WAREHOUSE_MATERIALIZATIONS, {"partition": key})["assetOrError"]["assetMaterializations"]
    return [
        {"runId": m["runId"], **{e["label"]: e.get("floatValue", e.get("intValue")) for e in m["metadataEntries"]}}
        for m in found
    ]


def test_a_dropped_file_reaches_the_warehouse_by_itself(stack):
    key = unique_key("orders été.csv")
    dropped = time.monotonic()
    stack.drop(key, orders_csv(17, first_id=9000))

    wait_until(f"{key}'s 17 rows in orders via make sql", lambda: rows_of(stack, key) == 17, DROP_TO_ROWS_SECONDS, 2)
    print(f"\ndrop -> rows in orders: {time.monotonic() - dropped:.1f} s")

    # The run was started by the automation sensor, and the UI can say why (its evaluation).
    (materialization,) = warehouse_materializations(stack, key)
    tags = {t["key"]: t["value"] for t in stack.query(RUN_TAGS, {"runId": materialization["runId"]})["runOrError"]["tags"]}
    assert tags.get("dagster/from_automation_condition") == "true", tags
    assert tags.get("dagster/sensor_name") == "warehouse_automation" and "dagster/asset_evaluation_id" in tags, tags

    def summary_counts_it() -> bool:
        counted = scalar(stack, "SELECT sum(orders) FROM daily_order_summary WHERE order_date = DATE '2024-06-01'")
        return counted not in (None, "") and int(float(counted)) >= 1

    wait_until("daily_order_summary to count the file", summary_counts_it, DROP_TO_ROWS_SECONDS, 2)
    shown = make_sql(stack, "select * from daily_order_summary").stdout
    assert "order_date" in shown and "2024-06-01" in shown and "Ceramic mug" in shown, shown


def test_make_sql_is_read_only_unless_asked(stack):
    # Asked to write, `make sql` creates the warehouse if no file has yet; this test needs one.
    make_sql(stack, "SELECT 1", env={"WRITE": "1"})
    result = make_sql(stack, "CREATE TABLE intruder AS SELECT 1 AS x", check=False)
    assert result.returncode != 0
    assert "read-only" in result.stdout + result.stderr


def test_several_runs_in_their_own_containers_write_at_once(stack):
    keys = [unique_key(f"burst-{n}.csv") for n in range(CONCURRENT_WRITERS)]
    for n, key in enumerate(keys):
        stack.drop(key, orders_csv(WRITER_ROWS, first_id=WRITER_ROWS * n))
    for key in keys:
        wait_until(f"{key} in orders", lambda key=key: rows_of(stack, key) == WRITER_ROWS, DROP_TO_ROWS_SECONDS * 2, 2)
    stack.wait_until_idle()

    # Re-load all of them at once: each run deletes its file's rows and inserts them again, the
    # case where DuckLake's optimistic commits collide and must retry.
    run_ids = [
        stack.graphql().submit_job_execution(
            "warehouse_orders_job", repository_location_name="analytics", repository_name="__repository__",
            tags={"dagster/partition": key},
        )
        for key in keys
    ]
    statuses = {run_id: stack.wait_for_run(run_id, timeout=300) for run_id in run_ids}
    failed = {run_id: stack.run_errors(run_id) for run_id, status in statuses.items() if status != "SUCCESS"}
    assert not failed, f"runs that did not succeed, with their errors: {failed}"
    runs = [r for r in stack.query(RUN_TIMES)["runsOrError"]["results"] if r["runId"] in run_ids]
    # On 2 cores the daemon starts a container every few seconds, so the first run may end just as
    # the last one starts: judge the most runs in progress at one moment.
    peak = max(sum(r["startTime"] <= moment < r["endTime"] for r in runs) for moment in (r["startTime"] for r in runs))
    print(f"\nwarehouse writers in progress at once: {peak} of {CONCURRENT_WRITERS}")
    assert peak >= MIN_WRITERS_AT_ONCE, f"at most {peak} runs were in progress at once: {runs}"
    assert {stack.run_container(run_id).attrs["Config"]["Image"] for run_id in run_ids} == {stack.code_location_images()["analytics"]}

    # How long each write took is printed, not judged: on a busy 2-core machine six writers share
    # the CPU. Nobody waits on a lock; a writer whose commit collides starts again, and can lose
    # at most once to each of the others.
    writes = {key: [m for m in warehouse_materializations(stack, key) if m["runId"] in run_ids] for key in keys}
    assert all(len(reloads) == 1 for reloads in writes.values()), f"each file re-loaded once: {writes}"
    print("\nconcurrent writes (s, attempts):", [(w[0]["write_seconds"], w[0]["commit_attempts"]) for w in writes.values()])
    assert all(w[0]["commit_attempts"] <= CONCURRENT_WRITERS for w in writes.values()), writes
    for key in keys:
        assert rows_of(stack, key) == WRITER_ROWS


OFFLINE_LAKE = """
import tempfile
from analytics.resources import DuckLakeWarehouse
scratch = tempfile.mkdtemp()
with DuckLakeWarehouse(catalog=scratch + "/catalog.ducklake", data_path=scratch + "/data/").get_connection() as con:
    con.execute("CREATE TABLE probe AS SELECT 42 AS answer")
    print(con.execute("SELECT answer FROM probe").fetchone()[0])
"""


def test_the_analytics_image_needs_no_network_for_its_extensions(stack):
    image = stack.code_location_images()["analytics"]
    result = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python", image, "-c", OFFLINE_LAKE],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "42", result.stderr


RUN_TIMES = "{ runsOrError(limit: 50) { ... on Runs { results { runId startTime endTime } } } }"
