"""Jobs: the landing inventory, and the sensor's ingestion of dropped files."""

import dagster as dg
from pydantic import Field

from ingestion.assets import S3_OUTAGE_RETRIES, landing_inventory
from ingestion.ingest import IngestConfig, Quarantined, already_ingested, find_source, ingest_file
from ingestion.resources import LandingZone, TableStore
from ingestion.types import ORDERS_KEY

# dagster.yaml limits concurrent runs per `stack/pool` value, so a burst of drops queues politely.
INGESTION_TAGS = {"stack/pool": "ingestion"}

inventory_job = dg.define_asset_job("inventory_job", selection=[landing_inventory])


class DroppedFiles(IngestConfig):
    keys: list[str] = Field(description="Landing keys to ingest, each into its own ingestion/orders partition.")


@dg.op(out={}, retry_policy=S3_OUTAGE_RETRIES)
def ingest_dropped_files(context: dg.OpExecutionContext, config: DroppedFiles, landing: LandingZone, tables: TableStore):
    """Ingests each file into its own `ingestion/orders` partition, with its own materialization
    and check results; a bad file is quarantined and never stops the files after it.

    Safe to repeat (a step retry, or a run retried after its worker died): a file that has left
    landing was handled, and bytes already materialized are archived without a second materialization.
    """
    quarantined = []
    for key in config.keys:
        source = find_source(landing, key, archived_too=False)
        if source is None:
            context.log.info(f"{landing.uri(key)} has already left landing: nothing to do.")
            continue
        if not already_ingested(context.instance, source):
            try:
                done = ingest_file(source, landing, tables, config, context.run.run_id)
            except Quarantined as bad:
                context.log.error(f"Quarantined {landing.uri(key)}: {bad}")
                quarantined.append(str(bad))
                continue
            # Recorded before the original moves: if the worker dies in between, a retry only archives.
            yield dg.AssetMaterialization(asset_key=ORDERS_KEY, partition=key, metadata=done.metadata)
            for check in done.checks:
                yield check.as_evaluation(key)
        else:
            context.log.info(f"{landing.uri(key)}: these bytes are already ingested; archiving the copy.")
        landing.archive(source.key, source.etag)
    if quarantined:
        shown = "; ".join(quarantined[:5]) + (f"; and {len(quarantined) - 5} more" if len(quarantined) > 5 else "")
        raise dg.Failure(
            description=f"{len(quarantined)} of {len(config.keys)} file(s) quarantined: {shown}", allow_retries=False
        )


@dg.job(tags=INGESTION_TAGS, description="Ingests the dropped files named in its config (the landing sensor's runs).")
def ingest_orders_job():
    ingest_dropped_files()
