"""The orders table: its CSV contract, its Arrow schema and the Dagster type that checks it."""

import functools
from typing import TYPE_CHECKING

import dagster as dg
from stack_contract import INGESTED_ORDERS

if TYPE_CHECKING:
    import pyarrow as pa

ORDERS_KEY = INGESTED_ORDERS

# The exact header a dropped CSV must have, in this order, with each column's Arrow type as Arrow
# spells it. Strings, so that the code server never loads pyarrow (ingestion/conversion.py).
ORDERS_ARROW_TYPES = {
    "order_id": "int64",
    "order_date": "date32[day]",
    "customer_id": "string",
    "product": "string",
    "quantity": "int64",
    # Money in exact cents: 16 digits before the point, 2 after (DuckDB's DECIMAL(18,2)).
    "unit_price": "decimal128(18, 2)",
}
ORDERS_COLUMNS = tuple(ORDERS_ARROW_TYPES)


@functools.cache
def orders_schema() -> "pa.Schema":
    import pyarrow as pa

    def arrow_type(spelled: str) -> pa.DataType:
        if spelled.startswith("decimal128("):
            return pa.decimal128(*map(int, spelled.removeprefix("decimal128(").removesuffix(")").split(",")))
        return pa.type_for_alias(spelled)

    schema = pa.schema([pa.field(name, arrow_type(spelled)) for name, spelled in ORDERS_ARROW_TYPES.items()])
    assert [str(field.type) for field in schema] == list(ORDERS_ARROW_TYPES.values()), schema
    return schema

COLUMN_DESCRIPTIONS = {
    "order_id": "Order number, unique within a file",
    "order_date": "Day the order was placed (YYYY-MM-DD)",
    "customer_id": "Customer reference; may be empty",
    "product": "Product name",
    "quantity": "Units ordered (integer)",
    "unit_price": "Price per unit in exact cents (decimal, dot separator, at most 2 decimals)",
}


def check_orders(value: object) -> dg.TypeCheck:
    """The orders contract, OrdersTable's check. Ingestion judges the Parquet file it has just
    written with it, before anything else reads it."""
    import pyarrow.parquet as pq

    if not isinstance(value, pq.ParquetFile):
        return dg.TypeCheck(success=False, description=f"Expected a Parquet file, got {type(value).__name__}.")
    schema = value.schema_arrow
    # Compare names and types only: Parquet round trips add field metadata.
    actual = [(field.name, str(field.type)) for field in schema]
    expected = list(ORDERS_ARROW_TYPES.items())
    if actual != expected:
        return dg.TypeCheck(
            success=False,
            description="The table's columns do not match the orders schema.",
            metadata={"expected": str(expected), "actual": str(actual)},
        )
    return dg.TypeCheck(success=True, metadata={"columns": len(actual)})


OrdersTable = dg.DagsterType(
    name="OrdersTable",
    type_check_fn=lambda _context, value: check_orders(value),
    description="A table with exactly the orders columns and Arrow types (see ORDERS_ARROW_TYPES).",
)


# The same contract as Dagster column metadata (shown on the asset page and each materialization).
ORDERS_TABLE_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn(name=name, type=spelled, description=COLUMN_DESCRIPTIONS[name])
        for name, spelled in ORDERS_ARROW_TYPES.items()
    ]
)
