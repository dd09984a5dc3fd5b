import os
import subprocess
import sys
from pathlib import Path


def test_ingestion_names_the_stack_relies_on():
    from ingestion.definitions import defs

    assert defs.resolve_job_def("inventory_job")
    job = defs.resolve_job_def("ingest_orders_job")
    assert job.tags["stack/pool"] == "ingestion"
    assert defs.resolve_sensor_def("landing_sensor").minimum_interval_seconds == 3
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert checks == {"orders_schema_matches", "orders_row_count", "orders_null_rate", "orders_unique_ids"}


def test_the_code_server_never_loads_pyarrow():
    """The code server imports the definitions and evaluates the sensors; only runs read or write
    tables. pyarrow held about 30 MiB in every idle code server (issue 24)."""
    loaded = """
import sys
import ingestion.definitions
print(sorted(name for name in sys.modules if name.split(".")[0] == "pyarrow")[:3])
"""
    here = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), str(here.parents[1] / "lib")])}
    result = subprocess.run([sys.executable, "-c", loaded], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
