"""The orders table: its CSV contract, its Arrow schema and the Dagster type that checks it."""

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from stack_contract import INGESTED_ORDERS

ORDERS_KEY = INGESTED_ORDERS

# The exact header a dropped CSV must have, in this order.
ORDERS_SCHEMA = pa.schema(
    [
        pa.field("order_id", pa.int64()),
        pa.field("order_date", pa.date32()),
        pa.field("customer_id", pa.string()),
        pa.field("product", pa.string()),
        pa.field("quantity", pa.int64()),
        # Money in exact cents: 16 digits before the point, 2 after (DuckDB's DECIMAL(18,2)).
        pa.field("unit_price", pa.decimal128(18, 2)),
    ]
)
ORDERS_COLUMNS = tuple(ORDERS_SCHEMA.names)

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
    if not isinstance(value, pq.ParquetFile):
        return dg.TypeCheck(success=False, description=f"Expected a Parquet file, got {type(value).__name__}.")
    schema = value.schema_arrow
    # Compare names and types only: Parquet round trips add field metadata.
    actual = [(field.name, str(field.type)) for field in schema]
    expected = [(field.name, str(field.type)) for field in ORDERS_SCHEMA]
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
    description="A table with exactly the orders columns and Arrow types (see ORDERS_SCHEMA).",
)


# The same contract as Dagster column metadata (shown on the asset page and each materialization).
ORDERS_TABLE_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn(name=field.name, type=str(field.type), description=COLUMN_DESCRIPTIONS[field.name])
        for field in ORDERS_SCHEMA
    ]
)
