"""Assets: the landing bucket's inventory, and one validated orders table per dropped file."""

import dagster as dg
from stack_contract import INGESTED_ORDERS, landing_area, not_in_warehouse

from ingestion.checks import orders_check_specs
from ingestion.ingest import IngestConfig, find_source, ingest_files
from ingestion.partitions import dropped_files
from ingestion.resources import LandingZone, TableStore, archived_folder
from ingestion.types import ORDERS_TABLE_SCHEMA
from stack_s3 import iter_objects

# An S3 store that stops answering mid-step gets 10 + 20 + 40 s to come back. A bad file is never
# retried: it fails with Failure(allow_retries=False).
S3_OUTAGE_RETRIES = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL)


@dg.asset(
    kinds={"s3"},
    description=(
        "The ledger: files waiting in landing, in flight, processed, quarantined and re-driven, and "
        "how many ingested files the warehouse has not loaded yet (its lag)."
    ),
)
def landing_inventory(context: dg.AssetExecutionContext, landing: LandingZone) -> dg.MaterializeResult:
    from ingestion.sensors import recent_redrives, versions_in_flight  # the sensors import this module

    counts = {"waiting": 0, "processed": 0, "quarantined": 0}
    for entry in iter_objects(landing.client(), landing.bucket):
        area = landing_area(entry["Key"])
        if area:
            counts[area] += 1
    instance = context.instance
    ingested = set(instance.get_materialized_partitions(INGESTED_ORDERS))
    return dg.MaterializeResult(
        metadata={
            "bucket": landing.bucket,
            **counts,
            "in_flight": len(versions_in_flight(instance)),
            "redriven_runs_recent": recent_redrives(instance),
            "files_ingested": len(ingested),
            "warehouse_lag_files": len(not_in_warehouse(instance, ingested)),
        }
    )


@dg.asset(
    key_prefix="ingestion",
    group_name="ingestion",
    partitions_def=dropped_files,
    check_specs=orders_check_specs,
    kinds={"csv", "parquet", "s3"},
    metadata={"dagster/column_schema": ORDERS_TABLE_SCHEMA},
    retry_policy=S3_OUTAGE_RETRIES,
    description=(
        "One cleaned orders table per CSV dropped into the landing bucket (partition = object key), "
        "stored as Parquet and checked in the same step. The landing sensor's runs (`ingest_dropped_files`) "
        "and a partition materialized here go through the same door, ingest.ingest_files; "
        "materializing a partition here re-reads its file."
    ),
)
def orders(context: dg.AssetExecutionContext, config: IngestConfig, landing: LandingZone, tables: TableStore):
    key = context.partition_key
    # A re-materialization from the UI finds the original in processed/ once it has left landing.
    source = find_source(landing, key, archived_too=True)
    if source is None:
        raise dg.Failure(
            description=f"{key}: not found in {landing.uri(key)} nor under {landing.uri(archived_folder(key))}.",
            allow_retries=False,
        )
    for _, done in ingest_files(context, [source], landing, tables, config, reread=True):
        yield dg.MaterializeResult(metadata=done.metadata, check_results=[check.as_result() for check in done.checks])
