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
    "orders_table_key",
]
