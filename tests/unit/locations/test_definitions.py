import dagster as dg


def test_ingestion_names_the_stack_relies_on():
    from ingestion.definitions import defs

    assert defs.resolve_job_def("inventory_job")
    job = defs.resolve_job_def("ingest_orders_job")
    assert job.tags["stack/pool"] == "ingestion"
    assert defs.resolve_sensor_def("landing_sensor").minimum_interval_seconds == 3
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert checks == {"orders_schema_matches", "orders_row_count", "orders_null_rate", "orders_unique_ids"}


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


def test_the_diagnostics_jobs_run_and_write_to_both_streams(capfd):
    from diagnostics.definitions import defs

    result = defs.resolve_job_def("smoke_job").execute_in_process()
    assert result.success and result.output_for_node("report_worker") == "alive"
    out, err = capfd.readouterr()
    assert "diagnostics: stdout from the run worker" in out and "diagnostics: stderr from the run worker" in err
    assert defs.resolve_job_def("hold_job")
