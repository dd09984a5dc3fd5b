"""What the ingestion and analytics locations agree on, written once: the landing bucket's layout,
the partitions both partition by, and the keys under which one leaves data for the other.

Either location imports this rather than the other's code: a code server loads only its own.
"""

import dagster as dg

from stack_s3.storage import LANDING_RESERVED_PREFIXES, PROCESSED_PREFIX, QUARANTINE_PREFIX, derived_key

# The landing bucket: users drop files anywhere except under LANDING_RESERVED_PREFIXES, which hold
# the originals once handled (`processed/<key>/<etag>`) or refused (`quarantine/<key>` beside
# `quarantine/<key>.error.json`, the report saying why).
ERROR_REPORT_SUFFIX = ".error.json"

# One partition per dropped file, named by its object key in the landing bucket. The landing
# sensor adds them; analytics partitions its warehouse rows the same way.
dropped_files = dg.DynamicPartitionsDefinition(name="dropped_files")

# Each file's validated orders table, one partition per file: written by ingestion, read by analytics.
INGESTED_ORDERS = dg.AssetKey(["ingestion", "orders"])
ORDERS_TABLE_PREFIX = "ingestion/orders/"
# Every ingested file's rows in the warehouse, partitioned like INGESTED_ORDERS.
WAREHOUSE_ORDERS = dg.AssetKey(["warehouse", "orders"])


def landing_area(key: str) -> str | None:
    """Where an object of the landing bucket stands: "waiting" (dropped, not handled yet),
    "processed" or "quarantined"; None for a quarantine report, which is no file of its own."""
    if key.startswith(PROCESSED_PREFIX):
        return "processed"
    if key.startswith(QUARANTINE_PREFIX):
        return None if key.endswith(ERROR_REPORT_SUFFIX) else "quarantined"
    return "waiting"


def not_in_warehouse(instance: dg.DagsterInstance, ingested: set[str] | None = None) -> set[str]:
    """The dropped files ingested whose rows the warehouse has not loaded: its lag."""
    if ingested is None:
        ingested = set(instance.get_materialized_partitions(INGESTED_ORDERS))
    return ingested - set(instance.get_materialized_partitions(WAREHOUSE_ORDERS))


def orders_table_key(partition_key: str) -> str:
    """The Parquet object in the IO-manager bucket that holds one dropped file's orders."""
    return derived_key(ORDERS_TABLE_PREFIX, partition_key, ".parquet")


__all__ = [
    "ERROR_REPORT_SUFFIX",
    "INGESTED_ORDERS",
    "LANDING_RESERVED_PREFIXES",
    "ORDERS_TABLE_PREFIX",
    "PROCESSED_PREFIX",
    "QUARANTINE_PREFIX",
    "WAREHOUSE_ORDERS",
    "dropped_files",
    "landing_area",
    "not_in_warehouse",
    "orders_table_key",
]
