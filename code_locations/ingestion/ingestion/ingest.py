"""One door for the `ingestion/orders` asset: every file, whoever asks, goes through `ingest_files`.

The landing sensor's runs (`ingest_dropped_files`, one or many files a run) and a partition
re-materialized from the UI (the `orders` asset) both call it. It validates, converts, stores and
judges each file, or quarantines it, and archives the original only once the outcome is recorded,
so a run killed half-way can be repeated without losing or doubling a file.
"""

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from botocore.exceptions import ClientError
from pydantic import Field
from stack_markdown import markdown_table

from ingestion.charts import bar_chart_png, markdown_image
from ingestion.checks import CheckOutcome, judge
from ingestion.parsing import IngestStats, InvalidFile, check_extension, check_text
from ingestion.partitions import usable_as_partition
from ingestion.resources import LandingZone, TableStore, VersionGone, archived_key
from ingestion.types import ORDERS_COLUMNS, ORDERS_KEY, ORDERS_TABLE_SCHEMA
from stack_s3 import is_missing

CHART_DAYS = 120


class IngestConfig(dg.Config):
    """Run config for ingestion; the defaults suit sensor runs, the Launchpad can override them."""

    max_file_mb: int = Field(default=1024, description="Larger files are quarantined unread.")
    block_size_mb: int = Field(default=1, description="CSV block size: memory per converted batch.")
    preview_rows: int = Field(default=5, description="Rows shown in the markdown preview.")


class FileVersion(dg.Config):
    """One object version in landing, as the landing sensor listed it."""

    key: str = Field(description="The object's key in the landing bucket, which is its partition key.")
    etag: str = Field(description="Its ETag when listed: only these bytes are ingested, never newer ones.")
    size: int = Field(description="Its size in bytes when listed.")


class IngestFiles(IngestConfig):
    """What a landing sensor's run ingests: each file version into its own orders partition."""

    files: list[FileVersion] = Field(description="Landing object versions, ingested one after the other.")


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

    @classmethod
    def listed(cls, file: FileVersion) -> "Source":
        # Quoted, as S3 returns an ETag in headers (and as LandingZone compares them).
        return cls(file.key, file.key, f'"{file.etag.strip(chr(34))}"', file.size)


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


def ingest_files(
    context: dg.OpExecutionContext, sources: list[Source], landing: LandingZone, tables: TableStore,
    config: IngestConfig, reread: bool = False,
) -> Iterator[tuple[Source, Ingested]]:
    """Ingests each file into its own `ingestion/orders` partition, yielding each outcome for the
    caller to record; a bad file is quarantined and never stops the files after it.

    Safe to repeat (a step retry, or a run retried after its worker died): a version that has left
    landing was handled, and bytes already materialized are archived without a second
    materialization, unless `reread` (a partition re-materialized on purpose) asks to read them again.
    """
    quarantined: list[Quarantined] = []
    for source in sources:
        uri = landing.uri(source.key)
        if source.in_landing and not reread and already_ingested(context.instance, source):
            context.log.info(f"{uri}: these bytes are already ingested; archiving the copy.")
        else:
            try:
                done = ingest_file(source, landing, tables, config, context.run.run_id)
            except VersionGone as gone:
                context.log.info(f"{uri}: {gone}: nothing to do.")
                continue
            except Quarantined as bad:
                context.log.error(f"Quarantined {uri}: {bad}")
                quarantined.append(bad)
                continue
            # The caller records it before the original moves: if the worker dies in between, a
            # retry only archives.
            yield source, done
        if source.in_landing:
            _archive(context, source, landing)
    if quarantined:
        shown = "; ".join(str(bad) for bad in quarantined[:5])
        shown += f"; and {len(quarantined) - 5} more" if len(quarantined) > 5 else ""
        # allow_retries=False: retrying cannot fix a file.
        raise dg.Failure(
            description=f"{len(quarantined)} of {len(sources)} file(s) quarantined: {shown}",
            metadata=quarantined[0].metadata if len(quarantined) == 1 else {},
            allow_retries=False,
        )


def _archive(context: dg.OpExecutionContext, source: Source, landing: LandingZone) -> None:
    try:
        landing.archive(source.key, source.etag)
    except ClientError as error:
        if not is_missing(error):
            raise
        # A repeated run: an earlier attempt archived it after recording it.
        context.log.info(f"{landing.uri(source.key)} has already left landing: nothing to do.")


def ingest_file(
    source: Source, landing: LandingZone, tables: TableStore, config: IngestConfig, run_id: str
) -> Ingested:
    """Store the file's orders table and judge it; raises Quarantined for a file that is invalid,
    VersionGone when the version named has left (handled by an earlier attempt, or replaced)."""
    from ingestion.conversion import csv_to_parquet  # pyarrow: loaded by runs, never by the code server

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
