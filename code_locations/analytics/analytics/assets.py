"""Daily order figures, built on the ingestion location's `ingestion/orders` tables."""

import tempfile
from collections import defaultdict
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics.partitions import daily
from analytics.resources import Warehouse

# Depending on another location's asset by key draws the lineage across locations without
# importing its code (each location is its own image).
ORDERS = dg.AssetKey(["ingestion", "orders"])
# Where the ingestion location's Parquet IO manager stores that asset: one object per file.
ORDERS_PREFIX = "ingestion/orders/"


def _summarize(warehouse: Warehouse, day: date) -> dict:
    """Totals for orders dated `day`, from every ingested file.

    A dropped file can hold orders of many days, so a day's figures come from all files; each
    file is read with a row filter on order_date (only matching row groups and rows are kept).
    """
    by_product: dict[str, dict] = defaultdict(lambda: {"orders": 0, "units": 0, "revenue": 0.0})
    files = 0
    with tempfile.TemporaryDirectory() as scratch:
        local = Path(scratch) / "orders.parquet"
        for key in warehouse.list_keys(ORDERS_PREFIX, suffix=".parquet"):
            warehouse.download(key, local)
            table = pq.read_table(
                local, columns=["product", "quantity", "unit_price"], filters=[("order_date", "=", day)]
            )
            files += 1
            if table.num_rows == 0:
                continue
            table = table.append_column(
                "revenue", pc.multiply(table.column("quantity"), table.column("unit_price"))
            )
            grouped = table.group_by("product").aggregate(
                [("product", "count"), ("quantity", "sum"), ("revenue", "sum")]
            )
            for row in grouped.to_pylist():
                totals = by_product[row["product"] or "(none)"]
                totals["orders"] += row["product_count"]
                totals["units"] += row["quantity_sum"] or 0
                totals["revenue"] += row["revenue_sum"] or 0.0
    return {
        "date": day.isoformat(),
        "orders": sum(t["orders"] for t in by_product.values()),
        "units": sum(t["units"] for t in by_product.values()),
        "revenue": round(sum(t["revenue"] for t in by_product.values()), 2),
        "by_product": {name: {**t, "revenue": round(t["revenue"], 2)} for name, t in sorted(by_product.items())},
        "files_read": files,
    }


@dg.asset(
    key_prefix="analytics",
    group_name="analytics",
    partitions_def=daily,
    deps=[ORDERS],
    kinds={"python", "s3"},
    description="Orders, units and revenue per product for one day of order_date, across all ingested files.",
)
def daily_order_summary(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.Output[dict]:
    day = date.fromisoformat(context.partition_key)
    summary = _summarize(warehouse, day)
    table = ["| product | orders | units | revenue |", "| --- | ---: | ---: | ---: |"]
    table += [
        f"| {name} | {t['orders']} | {t['units']} | {t['revenue']:.2f} |"
        for name, t in sorted(summary["by_product"].items(), key=lambda item: -item[1]["revenue"])
    ]
    return dg.Output(
        summary,
        metadata={
            "dagster/row_count": len(summary["by_product"]),
            "orders": summary["orders"],
            "units": summary["units"],
            "revenue": dg.MetadataValue.float(summary["revenue"]),
            "files_read": summary["files_read"],
            "by_product": dg.MetadataValue.md("\n".join(table)),
        },
    )
