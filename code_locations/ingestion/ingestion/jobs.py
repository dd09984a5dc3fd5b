"""Jobs: the landing inventory, and the sensor's ingestion of dropped files."""

import dagster as dg

from ingestion.assets import S3_OUTAGE_RETRIES, landing_inventory
from ingestion.ingest import IngestFiles, Source, ingest_files
from ingestion.resources import LandingZone, TableStore
from ingestion.types import ORDERS_KEY

# dagster.yaml limits concurrent runs per `stack/pool` value, so a burst of drops queues politely.
INGESTION_TAGS = {"stack/pool": "ingestion"}

inventory_job = dg.define_asset_job("inventory_job", selection=[landing_inventory])


@dg.op(out={}, retry_policy=S3_OUTAGE_RETRIES)
def ingest_dropped_files(context: dg.OpExecutionContext, config: IngestFiles, landing: LandingZone, tables: TableStore):
    """The landing sensor's door to `ingestion/orders` (see ingest.ingest_files): several files a
    run, each with its own materialization and check results."""
    for source, done in ingest_files(context, [Source.listed(file) for file in config.files], landing, tables, config):
        yield dg.AssetMaterialization(asset_key=ORDERS_KEY, partition=source.partition_key, metadata=done.metadata)
        for check in done.checks:
            yield check.as_evaluation(source.partition_key)


@dg.job(tags=INGESTION_TAGS, description="Ingests the dropped files named in its config (the landing sensor's runs).")
def ingest_orders_job():
    ingest_dropped_files()
