"""The orders contract: the OrdersTable type and the blocking schema check give one verdict, and
the check gives it without the throwaway Dagster instance that dg.check_dagster_type builds."""

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.checks import schema_matches
from ingestion.types import OrdersTable, orders_schema

WRONG_TYPE = orders_schema().set(0, pa.field("order_id", pa.string()))
MISSING_COLUMN = orders_schema().remove(5)


def parquet_file(tmp_path, schema: pa.Schema) -> pq.ParquetFile:
    path = tmp_path / "orders.parquet"
    pq.write_table(schema.empty_table(), path)
    return pq.ParquetFile(path)


@pytest.mark.parametrize("schema, passes", [(orders_schema(), True), (WRONG_TYPE, False), (MISSING_COLUMN, False)])
def test_the_type_and_the_schema_check_agree(tmp_path, schema, passes):
    table = parquet_file(tmp_path, schema)
    assert dg.check_dagster_type(OrdersTable, table).success is passes
    assert schema_matches(table).passed is passes


def test_the_schema_check_builds_no_dagster_instance(tmp_path, monkeypatch):
    # A run judges hundreds of files; an instance (and its run) per file was a third of the time.
    def refuse():
        raise AssertionError("the schema check built a Dagster instance")

    monkeypatch.setattr(dg.DagsterInstance, "ephemeral", staticmethod(refuse))
    assert schema_matches(parquet_file(tmp_path, orders_schema())).passed
    assert not schema_matches(parquet_file(tmp_path, WRONG_TYPE)).passed
