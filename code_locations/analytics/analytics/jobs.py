import dagster as dg

from analytics.assets import orders, orders_match_ingested
from analytics.graphs import storage_report

# Automation materializes the warehouse by itself; this job is for re-loading chosen files by hand
# (Launchpad, or a backfill over the dropped_files partitions).
warehouse_orders_job = dg.define_asset_job(
    "warehouse_orders_job", selection=[orders], description="Loads chosen files' rows into the warehouse's orders table."
)

# The reconciliation check alone: after a restore or a hand edit of the warehouse, it names every
# file whose rows there differ from its latest ingestion.
reconcile_warehouse_job = dg.define_asset_job(
    "reconcile_warehouse_job",
    selection=dg.AssetSelection.checks(orders_match_ingested),
    description="Checks, per dropped file, that the warehouse holds exactly the rows ingested.",
)

# Both ops read ReportConfig, so one `report_prefix` in the Launchpad sets where the report goes.
storage_report_job = storage_report.to_job(
    name="storage_report_job",
    description="Op-based job: bucket inventory -> summary -> markdown report in the IO-manager bucket.",
)
