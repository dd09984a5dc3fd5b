import dagster as dg


def test_analytics_depends_on_ingestion_by_key_and_keeps_the_warehouse_fresh():
    from analytics.definitions import defs

    orders = defs.resolve_assets_def(dg.AssetKey(["warehouse", "orders"]))
    assert dg.AssetKey(["ingestion", "orders"]) in orders.dependency_keys
    # The same dynamic partitions as ingestion's asset: one per dropped file, shared by name.
    assert orders.partitions_def == dg.DynamicPartitionsDefinition(name="dropped_files")
    summary = defs.resolve_assets_def(dg.AssetKey(["warehouse", "daily_order_summary"]))
    assert dg.AssetKey(["warehouse", "orders"]) in summary.dependency_keys
    for asset in (orders, summary):
        assert asset.automation_conditions_by_key[asset.key] is not None, asset.key
    sensor = defs.resolve_sensor_def("warehouse_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 15
    for name in ("storage_report_job", "warehouse_orders_job", "retention_job"):
        assert defs.resolve_job_def(name)
    assert defs.resolve_schedule_def("storage_report_job_schedule").cron_schedule == "0 1 * * *"
