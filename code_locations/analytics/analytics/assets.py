"""The warehouse's tables, kept fresh by Declarative Automation: `orders` holds every ingested
row, `daily_order_summary` the figures computed from them with pandas."""

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb
from stack_contract import INGESTED_ORDERS, dropped_files, orders_table_key

from analytics import summaries
from analytics.resources import DuckLakeWarehouse, IOBucket

# pandas costs about 0.6 s to import: only the runs that use it pay (duckdb's .df() loads it).
if TYPE_CHECKING:
    import pandas as pd

ORDERS_TABLE = """
CREATE TABLE IF NOT EXISTS orders (
    order_id BIGINT, order_date DATE, customer_id VARCHAR, product VARCHAR,
    quantity BIGINT, unit_price DOUBLE, source_key VARCHAR
)"""

# pandas carries dates as timestamps; the table keeps them dates.
SUMMARY_TABLE = """
CREATE OR REPLACE TABLE daily_order_summary AS
SELECT order_date::DATE AS order_date, product, orders, units, revenue FROM summary"""

# The summary follows any update of orders; unlike plain eager() it does not wait for every
# file's partition to exist, since a quarantined file's partition never will.
SUMMARY_CONDITION = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())


def _read_files(source_keys: list[str], paths: list[Path]) -> "pd.DataFrame":
    """Each file's rows, tagged with the landing key it came from, as one frame."""
    import pandas as pd

    frames = [duckdb.read_parquet(str(path)).df().assign(source_key=key) for key, path in zip(source_keys, paths, strict=True)]
    return pd.concat(frames, ignore_index=True)


def _markdown(frame: "pd.DataFrame", rows: int = 5) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.head(rows).to_markdown(index=False))


@dg.asset(
    key=["warehouse", "orders"],
    group_name="warehouse",
    partitions_def=dropped_files,
    deps=[INGESTED_ORDERS],
    kinds={"duckdb", "pandas"},
    automation_condition=dg.AutomationCondition.eager(),
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
    with tempfile.TemporaryDirectory() as scratch:
        local = [Path(scratch) / f"{number}.parquet" for number in range(len(source_keys))]
        for source_key, path in zip(source_keys, local, strict=True):
            io_bucket.download(orders_table_key(source_key), path)
        frame = _read_files(source_keys, local)

    with warehouse.get_connection() as con:
        con.register("incoming", frame)

        def replace_file_rows() -> int:
            con.execute(ORDERS_TABLE)
            (replaced,) = con.execute(
                "DELETE FROM orders WHERE source_key IN (SELECT unnest(?::VARCHAR[]))", [source_keys]
            ).fetchone()
            con.execute("INSERT INTO orders BY NAME SELECT * FROM incoming")
            return replaced

        started = time.monotonic()
        replaced, attempts = warehouse.transact(con, replace_file_rows)
        write_seconds = time.monotonic() - started
    # Every partition of the run gets this metadata: a row count is one file's only when it is alone.
    counts = {"dagster/row_count": len(frame)} if len(source_keys) == 1 else {"files": len(source_keys), "rows": len(frame)}
    return dg.MaterializeResult(
        metadata={
            **counts,
            "rows_replaced": replaced,
            # How long this run's write took, retries after other writers' commits included.
            "write_seconds": dg.MetadataValue.float(round(write_seconds, 3)),
            "commit_attempts": attempts,
            "preview": _markdown(frame),
        }
    )


@dg.asset(
    key=["warehouse", "daily_order_summary"],
    group_name="warehouse",
    deps=[orders],
    kinds={"duckdb", "pandas"},
    automation_condition=SUMMARY_CONDITION,
    metadata={"dagster/table_name": "lake.main.daily_order_summary"},
    description="Orders, units and revenue per order_date and product, across every ingested file.",
)
def daily_order_summary(warehouse: DuckLakeWarehouse) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        frame = con.sql("SELECT order_date, product, quantity, unit_price FROM orders").df()
        summary = summaries.daily_order_summary(frame)
        con.register("summary", summary)
        _, attempts = warehouse.transact(
            con, lambda: con.execute(SUMMARY_TABLE)
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(summary),
            "orders": int(summary["orders"].sum()),
            "revenue": dg.MetadataValue.float(float(summary["revenue"].sum())),
            "commit_attempts": attempts,
            "latest_days": _markdown(summary.tail(10)),
        }
    )
