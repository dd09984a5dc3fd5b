import dagster as dg

from ingestion.assets import landing_inventory, orders

# dagster.yaml limits concurrent runs per `stack/pool` value, so a burst of drops queues politely.
INGESTION_TAGS = {"stack/pool": "ingestion"}

inventory_job = dg.define_asset_job("inventory_job", selection=[landing_inventory])

# Selecting the asset also selects its checks, so each run ingests and checks one file.
ingest_orders_job = dg.define_asset_job(
    "ingest_orders_job",
    selection=dg.AssetSelection.assets(orders),
    tags=INGESTION_TAGS,
    description="Ingests one dropped file (one `dropped_files` partition) and runs its checks.",
)
