"""One dropped file, start to finish: validate, convert, store its table, judge it, or quarantine it.

Shared by the `orders` asset (one partition, e.g. re-materialized from the UI) and the sensor's
`ingest_dropped_files` op (one or many files a run). The caller archives the original once the
outcome is recorded, so a run killed half-way can be repeated without losing or doubling a file.
"""

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from pydantic import Field
from stack_markdown import markdown_table

from ingestion.charts import bar_chart_png, markdown_image
from ingestion.checks import CheckOutcome, judge
from ingestion.parsing import IngestStats, InvalidFile, check_extension, check_text, csv_to_parquet
from ingestion.partitions import usable_as_partition
from ingestion.resources import LandingZone, TableStore, archived_key
from ingestion.types import ORDERS_COLUMNS, ORDERS_KEY, ORDERS_TABLE_SCHEMA

CHART_DAYS = 120


class IngestConfig(dg.Config):
    """Run config for ingestion; the defaults suit sensor runs, the Launchpad can override them."""

    max_file_mb: int = Field(default=1024, description="Larger files are quarantined unread.")
    block_size_mb: int = Field(default=4, description="CSV block size: memory per converted batch.")
    preview_rows: int = Field(default=5, description="Rows shown in the markdown preview.")


@dataclass(frozen=True)
class Source:
    """The object a partition is read from: the landing copy, or its archived copy."""

    partition_key: str
    key: str
    etag: str
    size: int

    @property
    def in_landing(self) -> bool:
        return self.key == self.partition_key


@dataclass(frozen=True)
class Ingested:
    metadata: dict
    checks: list[CheckOutcome]


class Quarantined(Exception):
    """The file was invalid; it now sits in quarantine/ (if it came from landing) with a report."""

    def __init__(self, error: InvalidFile, metadata: dict):
        super().__init__(str(error))
        self.error, self.metadata = error, metadata


def find_source(landing: LandingZone, partition_key: str, archived_too: bool) -> Source | None:
    """The landing copy of a partition's file, else (when `archived_too`) its latest processed/ copy."""
    archived = landing.newest_archived(partition_key) if archived_too else None
    for key in [partition_key] + ([archived] if archived else []):
        head = landing.head(key)
        if head is not None:
            return Source(partition_key, key, head["ETag"], head["ContentLength"])
    return None


def already_ingested(instance: dg.DagsterInstance, source: Source) -> bool:
    """Whether the partition's latest materialization was made from these very bytes."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=ORDERS_KEY, asset_partitions=[source.partition_key]), limit=1
    ).records
    if not records:
        return False
    etag = records[0].asset_materialization.metadata.get("source_etag")
    return etag is not None and etag.value == source.etag


def ingest_file(
    source: Source, landing: LandingZone, tables: TableStore, config: IngestConfig, run_id: str
) -> Ingested:
    """Store the file's orders table and judge it; raises Quarantined for a file that is invalid."""
    key = source.partition_key
    with tempfile.TemporaryDirectory() as scratch:
        try:
            if not usable_as_partition(key):
                raise InvalidFile(
                    key, "its name contains '...' or a control character, which Dagster does not allow in a "
                    "partition key; rename the file and drop it again",
                )
            check_extension(key)
            if source.size > config.max_file_mb * 2**20:
                raise InvalidFile(
                    key, f"is {source.size / 2**20:.0f} MB; the limit is {config.max_file_mb} MB (run config max_file_mb)"
                )
            local, staged = Path(scratch) / "source.csv", Path(scratch) / "orders.parquet"
            landing.download(source.key, local, source.etag)
            text = check_text(local, key)
            stats = csv_to_parquet(local, staged, key, text, config.block_size_mb << 20, config.preview_rows)
            os.remove(local)
        except InvalidFile as error:
            raise _quarantine(source, error, landing, run_id) from None
        stored = tables.put_orders(key, staged)
        checks = judge(str(staged))
        size = staged.stat().st_size
    return Ingested(metadata=_metadata(source, landing, stats, stored, size), checks=checks)


def _quarantine(source: Source, error: InvalidFile, landing: LandingZone, run_id: str) -> Quarantined:
    metadata = {"source": dg.MetadataValue.path(landing.uri(source.key)), "problem": error.problem}
    if source.in_landing:
        report = {
            **error.as_report(),
            "message": str(error),
            "source": landing.uri(source.key),
            "etag": source.etag,
            "size_bytes": source.size,
            "run_id": run_id,
            "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        metadata["quarantined_to"] = dg.MetadataValue.path(landing.quarantine(source.key, source.etag, report))
    return Quarantined(error, metadata)


def _metadata(source: Source, landing: LandingZone, stats: IngestStats, stored: str, size: int) -> dict:
    return {
        "dagster/row_count": stats.num_rows,
        "dagster/column_schema": ORDERS_TABLE_SCHEMA,
        "source": dg.MetadataValue.path(landing.uri(source.partition_key)),
        "source_etag": source.etag,
        "source_bytes": source.size,
        "archived_to": dg.MetadataValue.path(landing.uri(archived_key(source.partition_key, source.etag))),
        "uri": dg.MetadataValue.path(stored),
        "parquet_bytes": size,
        "first_order_date": str(min(stats.rows_per_day, default="")),
        "last_order_date": str(max(stats.rows_per_day, default="")),
        "empty_cells": dg.MetadataValue.json({c: stats.null_counts[c] for c in ORDERS_COLUMNS}),
        "preview": dg.MetadataValue.md(preview_markdown(stats)),
        "rows_per_day": dg.MetadataValue.md(rows_per_day_chart(stats)),
    }


def preview_markdown(stats: IngestStats) -> str:
    # Cells come from the dropped file: markdown_table keeps them from forming links, images or HTML.
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
