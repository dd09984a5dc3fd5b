"""Analytics on top of ingested Parquet in a real S3 server."""

import csv
from collections import defaultdict

import dagster as dg
from analytics.assets import daily_order_summary
from analytics.definitions import defs as analytics_defs
from conftest import SAMPLES
from ingestion.assets import orders
from ingestion.definitions import defs as ingestion_defs


def test_daily_summary_reads_all_ingested_files_for_its_day(drop, instance):
    for key in ("a/orders.csv", "b/orders.csv"):
        drop(key, "orders-2024-05-01.csv")
        instance.add_dynamic_partitions("dropped_files", [key])
        resources = {name: ingestion_defs.resources[name] for name in ("landing", "tables")}
        assert dg.materialize([orders], partition_key=key, resources=resources, instance=instance).success

    result = dg.materialize(
        [daily_order_summary], partition_key="2024-05-01", instance=instance,
        resources={name: analytics_defs.resources[name] for name in ("warehouse", "io_manager")},
    )
    summary = result.output_for_node("analytics__daily_order_summary")
    expected = defaultdict(float)
    with (SAMPLES / "orders-2024-05-01.csv").open() as sample:
        for row in csv.DictReader(sample):
            if row["order_date"] == "2024-05-01":
                expected[row["product"]] += 2 * int(row["quantity"]) * float(row["unit_price"])
    assert summary["files_read"] == 2
    assert summary["revenue"] == round(sum(expected.values()), 2)
    assert {name: t["revenue"] for name, t in summary["by_product"].items()} == {
        name: round(value, 2) for name, value in expected.items()
    }


def test_storage_report_job_writes_a_markdown_report(drop, s3_client, landing_bucket, io_bucket, instance):
    drop("x.csv", body=b"12345")
    job = analytics_defs.resolve_job_def("storage_report_job")
    config = {
        "ops": {
            "choose_buckets": {"config": {"buckets": [landing_bucket, io_bucket]}},
            "render_report": {"config": {"report_prefix": "reports/test"}},
            "write_report": {"config": {"report_prefix": "reports/test"}},
        }
    }
    result = job.execute_in_process(run_config=config, instance=instance)
    assert result.success
    report = s3_client.get_object(Bucket=io_bucket, Key="reports/test/latest.md")["Body"].read().decode()
    assert f"## {landing_bucket}: 1 objects, 5 B" in report
