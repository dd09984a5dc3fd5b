import dagster as dg

# Evaluates the warehouse assets' automation conditions. The default automation sensor looks
# every 30 s; 15 s gets a dropped file's rows into `orders` sooner while an idle stack stays
# idle (every evaluation walks all the file partitions). Each run
# it starts links to the evaluation that says which condition fired, shown on the asset's
# Automation tab.
warehouse_automation = dg.AutomationConditionSensorDefinition(
    "warehouse_automation",
    target=dg.AssetSelection.groups("warehouse"),
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps the warehouse tables fresh: materializes them when the ingested files change.",
)
