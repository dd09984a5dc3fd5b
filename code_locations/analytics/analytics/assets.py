"""The warehouse's tables, kept fresh by Declarative Automation: `orders` holds every ingested
row, `daily_order_summary` the figures computed from them, both in DuckDB SQL: prices stay exact
DECIMAL(18,2) cents from the CSV to the sums, and no table passes through a pandas frame."""

import tempfile
import time
from pathlib import Path

import dagster as dg
from stack_contract import INGESTED_ORDERS, WAREHOUSE_ORDERS, dropped_files, orders_table_key
from stack_markdown import markdown_table

from analytics.resources import DuckLakeWarehouse, IOBucket

ORDERS_TABLE = """
CREATE TABLE IF NOT EXISTS orders (
    order_id BIGINT, order_date DATE, customer_id VARCHAR, product VARCHAR,
    quantity BIGINT, unit_price DECIMAL(18, 2), source_key VARCHAR
)"""

# Streamed by DuckDB from the file into the table: memory does not grow with the file.
INSERT_FILE_ROWS = "INSERT INTO orders BY NAME SELECT *, ?::VARCHAR AS source_key FROM read_parquet(?)"

# Sums of DECIMAL(18,2) are exact DECIMAL(38,2): no float rounding on the way.
SUMMARY_TABLE = """
CREATE OR REPLACE TABLE daily_order_summary AS
SELECT order_date, product, count(*) AS orders, sum(quantity) AS units, sum(quantity * unit_price) AS revenue
FROM orders GROUP BY order_date, product ORDER BY order_date, product"""

# eager() counts a request as handled even when its run fails: one transient error and a file's
# rows never arrived. A partition whose latest run failed is asked for again, once nothing runs.
ORDERS_CONDITION = dg.AutomationCondition.eager() | (
    dg.AutomationCondition.execution_failed() & ~dg.AutomationCondition.in_progress()
    & ~dg.AutomationCondition.any_deps_in_progress()
)

# The summary follows any update of orders; unlike plain eager() it does not wait for every
# file's partition to exist, since a quarantined file's partition never will.
SUMMARY_CONDITION = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())


def markdown_rows(cursor) -> dg.MetadataValue:
    """A query's rows as a markdown table; dates print as 2024-05-02 and prices as 9.90. Cells come
    from dropped files (customer_id, product): inert, so none renders as markup."""
    headers = [column[0] for column in cursor.description]
    return dg.MetadataValue.md(markdown_table(headers, cursor.fetchall()))


@dg.asset(
    key=WAREHOUSE_ORDERS,
    group_name="warehouse",
    partitions_def=dropped_files,
    deps=[INGESTED_ORDERS],
    kinds={"duckdb"},
    automation_condition=ORDERS_CONDITION,
    # A transient S3 or Postgres error gets 10 + 20 + 40 s before the run fails.
    retry_policy=dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    # After a burst of drops, automation asks for many files' partitions at once: they load in
    # one run (one container, one commit) instead of a run each.
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={"dagster/table_name": "lake.main.orders"},
    description=(
        "Every ingested order row with source_key = the landing key of its file. Materializing a "
        "file's partition replaces that file's rows; several files' partitions load in one run."
    ),
)
def orders(context: dg.AssetExecutionContext, io_bucket: IOBucket, warehouse: DuckLakeWarehouse) -> dg.MaterializeResult:
    source_keys = list(context.partition_keys)
    with tempfile.TemporaryDirectory() as scratch, warehouse.get_connection() as con:
        local = [Path(scratch) / f"{number}.parquet" for number in range(len(source_keys))]
        for source_key, path in zip(source_keys, local, strict=True):
            io_bucket.download(orders_table_key(source_key), path)

        def replace_file_rows() -> tuple[int, int]:
            con.execute(ORDERS_TABLE)
            (replaced,) = con.execute(
                "DELETE FROM orders WHERE source_key IN (SELECT unnest(?::VARCHAR[]))", [source_keys]
            ).fetchone()
            inserted = sum(con.execute(INSERT_FILE_ROWS, [key, str(path)]).fetchone()[0] for key, path in zip(source_keys, local, strict=True))
            return replaced, inserted

        started = time.monotonic()
        (replaced, inserted), attempts = warehouse.transact(con, replace_file_rows)
        write_seconds = time.monotonic() - started
        preview = markdown_rows(con.execute(
            "SELECT * FROM orders WHERE source_key IN (SELECT unnest(?::VARCHAR[])) LIMIT 5", [source_keys]
        ))
    # Every partition of the run gets this metadata: a row count is one file's only when it is alone.
    counts = {"dagster/row_count": inserted} if len(source_keys) == 1 else {"files": len(source_keys), "rows": inserted}
    return dg.MaterializeResult(
        metadata={
            **counts,
            "rows_replaced": replaced,
            # How long this run's write took, retries after other writers' commits included.
            "write_seconds": dg.MetadataValue.float(round(write_seconds, 3)),
            "commit_attempts": attempts,
            "preview": preview,
        }
    )


@dg.asset(
    key=["warehouse", "daily_order_summary"],
    group_name="warehouse",
    deps=[orders],
    kinds={"duckdb"},
    automation_condition=SUMMARY_CONDITION,
    metadata={"dagster/table_name": "lake.main.daily_order_summary"},
    description="Orders, units and revenue per order_date and product, across every ingested file.",
)
def daily_order_summary(warehouse: DuckLakeWarehouse) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        _, attempts = warehouse.transact(con, lambda: con.execute(SUMMARY_TABLE))
        rows, orders, revenue = con.execute(
            "SELECT count(*), coalesce(sum(orders), 0), coalesce(sum(revenue), 0) FROM daily_order_summary"
        ).fetchone()
        latest = markdown_rows(con.execute(
            "SELECT * FROM (SELECT * FROM daily_order_summary ORDER BY order_date DESC, product DESC LIMIT 10) "
            "ORDER BY order_date, product"
        ))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "orders": int(orders),
            # Exact cents, as text: a float would show 105949.79999999999.
            "revenue": dg.MetadataValue.text(f"{revenue:.2f}"),
            "commit_attempts": attempts,
            "latest_days": latest,
        }
    )


def ingested_row_counts(instance: dg.DagsterInstance) -> dict[str, int]:
    """Rows of each file's latest ingestion, from its materialization (the newest per partition)."""
    counts: dict[str, int] = {}
    cursor = None
    while True:
        page = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=INGESTED_ORDERS), limit=1000, cursor=cursor)
        for record in page.records:
            event = record.asset_materialization
            if event is not None and event.partition not in counts and "dagster/row_count" in event.metadata:
                counts[event.partition] = int(event.metadata["dagster/row_count"].value)
        if not page.has_more:
            return counts
        cursor = page.cursor


@dg.asset_check(
    asset=orders,
    description="Per source_key, the warehouse holds exactly the rows its file's latest ingestion produced.",
)
def orders_match_ingested(context: dg.AssetCheckExecutionContext, warehouse: DuckLakeWarehouse) -> dg.AssetCheckResult:
    ingested = ingested_row_counts(context.instance)
    with warehouse.get_connection() as con:
        con.execute(ORDERS_TABLE)
        loaded = dict(con.execute("SELECT source_key, count(*) FROM orders GROUP BY ALL").fetchall())
    differ = sorted(key for key in ingested.keys() | loaded.keys() if ingested.get(key) != loaded.get(key))
    return dg.AssetCheckResult(
        passed=not differ,
        metadata={
            "files_ingested": len(ingested),
            "files_in_warehouse": len(loaded),
            "files_that_differ": len(differ),
            "differing": dg.MetadataValue.json(
                {key: {"ingested": ingested.get(key), "in_warehouse": loaded.get(key)} for key in differ[:50]}
            ),
        },
        description=("Differs: " + ", ".join(differ[:20]) + (" ..." if len(differ) > 20 else "")) if differ else None,
    )
