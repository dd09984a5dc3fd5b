"""Checks on each ingested orders partition, read back from MinIO through the IO manager.

The schema check blocks: a partition whose stored table breaks the contract must not feed
analytics. The others only warn: messy data is still data, but someone should look at it.
"""

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.assets import orders
from ingestion.partitions import dropped_files
from ingestion.types import ORDERS_SCHEMA

MIN_ROWS = 10
MAX_NULL_RATE = 0.05


@dg.asset_check(
    asset=orders,
    partitions_def=dropped_files,
    blocking=True,
    description="The stored Parquet has exactly the orders columns and types.",
)
def orders_schema_matches(orders: pq.ParquetFile) -> dg.AssetCheckResult:
    actual = {field.name: str(field.type) for field in orders.schema_arrow}
    expected = {field.name: str(field.type) for field in ORDERS_SCHEMA}
    mismatched = sorted(
        name for name in actual.keys() | expected.keys() if actual.get(name) != expected.get(name)
    )
    return dg.AssetCheckResult(
        passed=not mismatched,
        metadata={"expected": expected, "actual": actual, "mismatched_columns": ", ".join(mismatched) or "none"},
    )


@dg.asset_check(
    asset=orders,
    partitions_def=dropped_files,
    description=f"At least {MIN_ROWS} rows: fewer usually means a truncated export.",
)
def orders_row_count(orders: pq.ParquetFile) -> dg.AssetCheckResult:
    rows = orders.metadata.num_rows
    return dg.AssetCheckResult(
        passed=rows >= MIN_ROWS,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rows": rows, "min_rows": MIN_ROWS},
    )


@dg.asset_check(
    asset=orders,
    partitions_def=dropped_files,
    description=f"No column has more than {MAX_NULL_RATE:.0%} empty cells.",
)
def orders_null_rate(orders: pq.ParquetFile) -> dg.AssetCheckResult:
    rows = orders.metadata.num_rows or 1
    # Null counts come from the Parquet footer's column statistics: no data pages are read.
    nulls = dict.fromkeys(ORDERS_SCHEMA.names, 0)
    for group in range(orders.metadata.num_row_groups):
        row_group = orders.metadata.row_group(group)
        for index in range(row_group.num_columns):
            column = row_group.column(index)
            if column.statistics is not None and column.statistics.has_null_count:
                nulls[column.path_in_schema] += column.statistics.null_count
    rates = {name: round(count / rows, 4) for name, count in nulls.items()}
    worst = max(rates, key=rates.get)
    return dg.AssetCheckResult(
        passed=rates[worst] <= MAX_NULL_RATE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"null_rates": rates, "worst_column": worst, "worst_rate": rates[worst], "max_rate": MAX_NULL_RATE},
    )


@dg.asset_check(
    asset=orders,
    partitions_def=dropped_files,
    description="Every order_id appears once in the file.",
)
def orders_unique_ids(orders: pq.ParquetFile) -> dg.AssetCheckResult:
    # Only the order_id column is read: 8 bytes a row even for a large file.
    ids = orders.read(columns=["order_id"]).column("order_id")
    counts = pc.value_counts(ids.drop_null())
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    duplicates = sum(entry["counts"] - 1 for entry in repeated.to_pylist())
    examples = [entry["values"] for entry in repeated.slice(0, 5).to_pylist()]
    return dg.AssetCheckResult(
        passed=duplicates == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"duplicate_rows": duplicates, "max_duplicates": 0, "example_ids": str(examples)},
    )


orders_checks = [orders_schema_matches, orders_row_count, orders_null_rate, orders_unique_ids]
