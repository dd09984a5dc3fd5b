"""Assets: the landing bucket's inventory, and one validated orders table per dropped file."""

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
from pydantic import Field

from ingestion.charts import bar_chart_png, markdown_image
from ingestion.inert import markdown_table
from ingestion.parsing import IngestStats, InvalidFile, check_extension, check_text, csv_to_parquet
from ingestion.partitions import dropped_files
from ingestion.resources import PROCESSED_PREFIX, QUARANTINE_PREFIX, LandingZone
from ingestion.types import ORDERS_COLUMNS, ORDERS_TABLE_SCHEMA, OrdersTable, StagedParquet

CHART_DAYS = 120


@dg.asset(kinds={"s3"}, description="How many objects wait in the landing bucket.")
def landing_inventory(landing: LandingZone) -> dg.MaterializeResult:
    counts = {"waiting": 0, "processed": 0, "quarantined": 0}
    pages = landing.client().get_paginator("list_objects_v2").paginate(Bucket=landing.bucket)
    for page in pages:
        for entry in page.get("Contents", []):
            if entry["Key"].startswith(PROCESSED_PREFIX):
                counts["processed"] += 1
            elif entry["Key"].startswith(QUARANTINE_PREFIX):
                counts["quarantined"] += 1
            else:
                counts["waiting"] += 1
    return dg.MaterializeResult(metadata={"bucket": landing.bucket, "objects": sum(counts.values()), **counts})


class IngestConfig(dg.Config):
    """Run config for `orders`; the defaults suit sensor runs, the Launchpad can override them."""

    max_file_mb: int = Field(default=1024, description="Larger files are quarantined unread.")
    block_size_mb: int = Field(default=4, description="CSV block size: memory per converted batch.")
    preview_rows: int = Field(default=5, description="Rows shown in the markdown preview.")


@dg.asset(
    key_prefix="ingestion",
    group_name="ingestion",
    partitions_def=dropped_files,
    dagster_type=OrdersTable,
    io_manager_key="parquet_io_manager",
    kinds={"csv", "parquet", "s3"},
    metadata={"dagster/column_schema": ORDERS_TABLE_SCHEMA},
    # An S3 store that stops answering mid-step gets 10 + 20 + 40 s to come back. A bad file is
    # never retried: it fails with Failure(allow_retries=False).
    retry_policy=dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    description=(
        "One cleaned orders table per CSV dropped into the landing bucket (partition = object key). "
        "Bad files are quarantined with an error report; good ones are archived under processed/."
    ),
)
def orders(context: dg.AssetExecutionContext, config: IngestConfig, landing: LandingZone) -> dg.Output:
    key = context.partition_key
    # A re-materialization from the UI finds the original in processed/ once it has left landing.
    source_key, head = key, landing.head(key)
    if head is None:
        source_key, head = PROCESSED_PREFIX + key, landing.head(PROCESSED_PREFIX + key)
    if head is None:
        raise dg.Failure(
            description=f"{key}: not found in {landing.uri(key)} nor in {landing.uri(PROCESSED_PREFIX + key)}.",
            allow_retries=False,
        )
    etag, size = head["ETag"], head["ContentLength"]
    staged = None
    try:
        check_extension(key)
        if size > config.max_file_mb * 2**20:
            raise InvalidFile(
                key, f"is {size / 2**20:.0f} MB; the limit is {config.max_file_mb} MB (run config max_file_mb)"
            )
        with tempfile.TemporaryDirectory() as scratch:
            local = Path(scratch) / "source.csv"
            landing.download(source_key, local)
            text = check_text(local, key)
            handle, staged = tempfile.mkstemp(suffix=".parquet")
            os.close(handle)
            stats = csv_to_parquet(
                local, Path(staged), key, text, config.block_size_mb << 20, config.preview_rows
            )
    except InvalidFile as error:
        if staged:
            Path(staged).unlink(missing_ok=True)
        report = {
            **error.as_report(),
            "message": str(error),
            "source": landing.uri(source_key),
            "etag": etag,
            "size_bytes": size,
            "run_id": context.run.run_id,
            "quarantined_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        metadata = {"source": dg.MetadataValue.path(landing.uri(source_key)), "problem": error.problem}
        if source_key == key:
            target = landing.quarantine(key, etag, report)
            metadata["quarantined_to"] = dg.MetadataValue.path(target)
            context.log.error(f"Quarantined {landing.uri(key)} to {target}: {error}")
        # allow_retries=False: retrying cannot fix the file; the sensor has already moved on.
        raise dg.Failure(description=str(error), metadata=metadata, allow_retries=False) from None

    archived = landing.archive(key, etag) if source_key == key else landing.uri(source_key)
    context.log.info(f"Ingested {stats.num_rows} rows from {landing.uri(key)}; original kept at {archived}")
    return dg.Output(
        StagedParquet(path=staged, num_rows=stats.num_rows),
        metadata={
            "dagster/row_count": stats.num_rows,
            "dagster/column_schema": ORDERS_TABLE_SCHEMA,
            "source": dg.MetadataValue.path(landing.uri(key)),
            "source_etag": etag,
            "source_bytes": size,
            "archived_to": dg.MetadataValue.path(archived),
            "first_order_date": str(min(stats.rows_per_day, default="")),
            "last_order_date": str(max(stats.rows_per_day, default="")),
            "empty_cells": dg.MetadataValue.json({c: stats.null_counts[c] for c in ORDERS_COLUMNS}),
            "preview": dg.MetadataValue.md(preview_markdown(stats)),
            "rows_per_day": dg.MetadataValue.md(rows_per_day_chart(stats)),
        },
    )


def preview_markdown(stats: IngestStats) -> str:
    # Cells come from the dropped file: inert_text keeps them from forming links, images or HTML.
    return markdown_table(list(ORDERS_COLUMNS), [[row[c] for c in ORDERS_COLUMNS] for row in stats.preview])


def rows_per_day_chart(stats: IngestStats) -> str:
    days = sorted(stats.rows_per_day)[-CHART_DAYS:]
    if not days:
        return "_No dated rows._"
    counts = [stats.rows_per_day[day] for day in days]
    caption = f"Rows per order_date, {days[0]} to {days[-1]} ({len(days)} days, max {max(counts)} rows/day)"
    if len(stats.rows_per_day) > CHART_DAYS:
        caption += f"; only the last {CHART_DAYS} days are drawn"
    return markdown_image(bar_chart_png(counts), "rows per day", caption)
