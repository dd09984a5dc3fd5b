import dagster as dg

from ingestion.assets import landing_inventory
from ingestion.resources import s3

inventory_job = dg.define_asset_job("inventory_job", selection=[landing_inventory])

defs = dg.Definitions(
    assets=[landing_inventory],
    jobs=[inventory_job],
    resources={"s3": s3},
)
