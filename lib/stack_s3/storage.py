"""Where one location leaves data for another: the contract, written down once."""

ORDERS_TABLE_PREFIX = "ingestion/orders/"


def orders_table_key(partition_key: str) -> str:
    """The Parquet object in the IO-manager bucket that holds one dropped file's orders."""
    return f"{ORDERS_TABLE_PREFIX}{partition_key}.parquet"
