

def test_ingestion_names_the_stack_relies_on():
    from ingestion.definitions import defs

    assert defs.resolve_job_def("inventory_job")
    job = defs.resolve_job_def("ingest_orders_job")
    assert job.tags["stack/pool"] == "ingestion"
    assert defs.resolve_sensor_def("landing_sensor").minimum_interval_seconds == 3
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert checks == {"orders_schema_matches", "orders_row_count", "orders_null_rate", "orders_unique_ids"}
