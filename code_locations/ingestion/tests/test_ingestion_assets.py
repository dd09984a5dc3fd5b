"""The orders asset and its checks, materialized against a real S3 server."""

import json
import os

import dagster as dg
import pytest

from ingestion.assets import landing_inventory, orders
from ingestion.definitions import defs
from ingestion.ingest import FileVersion, IngestFiles
from ingestion.resources import LandingZone
from stack_s3 import S3
from stack_s3.storage import fits_the_store

RESOURCES = ("landing", "tables")


def materialize(instance, key):
    instance.add_dynamic_partitions("dropped_files", [key])
    resources = {name: defs.resources[name] for name in RESOURCES}
    return dg.materialize([orders], partition_key=key, resources=resources, instance=instance, raise_on_error=False)


def run_ingestion(instance, files):
    """The landing sensor's job, run in process against the real S3 server: `files` are
    (key, head) pairs, each naming the version the sensor would have listed."""
    config = IngestFiles(files=[FileVersion(key=key, etag=head["ETag"].strip('"'), size=head["ContentLength"]) for key, head in files])
    return defs.resolve_job_def("ingest_orders_job").execute_in_process(
        run_config=dg.RunConfig(ops={"ingest_dropped_files": config}), instance=instance, raise_on_error=False
    )


def ingest_dropped(instance, keys, s3_client, bucket, heads=None):
    instance.add_dynamic_partitions("dropped_files", keys)
    heads = heads or {key: s3_client.head_object(Bucket=bucket, Key=key) for key in keys}
    return run_ingestion(instance, [(key, heads[key]) for key in keys])


def materializations(instance, key):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(["ingestion", "orders"]), asset_partitions=[key]), limit=10
    ).records
    return [record.run_id for record in records]


def keys(client, bucket, prefix=""):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def archived(key: str, dropped: dict) -> str:
    """Where the version `dropped` (its head) of `key` is kept once handled."""
    return f"processed/{key}/{dropped['ETag'].strip(chr(34))}"


def check_results(result):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_good_file_is_stored_as_parquet_archived_and_checked(drop, s3_client, landing_bucket, io_bucket, instance):
    key = "drops/2024/commandes été 2024.csv"
    dropped = drop(key, "commandes été 2024.csv")
    result = materialize(instance, key)
    assert result.success
    assert keys(s3_client, io_bucket) == [f"ingestion/orders/{key}.parquet"]
    assert keys(s3_client, landing_bucket) == [archived(key, dropped)]
    metadata = result.asset_materializations_for_node("ingestion__orders")[0].metadata
    assert metadata["uri"].value == f"s3://{io_bucket}/ingestion/orders/{key}.parquet"
    assert metadata["dagster/row_count"].value == 12
    assert "data:image/png;base64," in metadata["rows_per_day"].value
    assert "Tasse céramique" in metadata["preview"].value or "| order_id |" in metadata["preview"].value
    assert [c.name for c in metadata["dagster/column_schema"].schema.columns][0] == "order_id"
    checks = check_results(result)
    assert checks["orders_schema_matches"].passed
    assert all(check.passed for check in checks.values()) and len(checks) == 4


def test_messy_file_passes_but_warns(drop, instance):
    drop("messy.csv", "orders-with-warnings.csv")
    result = materialize(instance, "messy.csv")
    assert result.success
    checks = check_results(result)
    assert checks["orders_schema_matches"].passed and checks["orders_row_count"].passed
    for name in ("orders_null_rate", "orders_unique_ids"):
        assert not checks[name].passed and checks[name].severity == dg.AssetCheckSeverity.WARN
    assert checks["orders_unique_ids"].metadata["duplicate_rows"].value == 1


@pytest.mark.parametrize(
    "sample, key, words",
    [
        ("bad-empty.csv", "empty.csv", "empty (0 bytes)"),
        ("bad-header-only.csv", "in/header only.csv", "no data rows"),
        ("bad-wrong-types.csv", "types.csv", "line 3, column 'quantity'"),
        ("bad-latin1.csv", "ñ/latin1.csv", "not UTF-8"),
        ("bad-binary.csv", "binary.csv", "binary file"),
        ("bad-unsupported.json", "orders.json", "unsupported file type"),
    ],
)
def test_bad_file_is_quarantined_with_a_report(sample, key, words, drop, s3_client, landing_bucket, io_bucket, instance):
    drop(key, sample)
    result = materialize(instance, key)
    assert not result.success
    failure = [e for e in result.all_events if e.is_step_failure][0]
    assert words in failure.step_failure_data.error.message
    assert keys(s3_client, landing_bucket) == sorted([f"quarantine/{key}", f"quarantine/{key}.error.json"])
    report = json.loads(s3_client.get_object(Bucket=landing_bucket, Key=f"quarantine/{key}.error.json")["Body"].read())
    assert report["file"] == key and words.split(",")[0] in report["message"]
    assert report["source"] == f"s3://{landing_bucket}/{key}" and report["run_id"] == result.run_id
    assert keys(s3_client, io_bucket) == []


def test_rematerializing_reads_the_processed_copy(drop, s3_client, landing_bucket, instance):
    dropped = drop("again.csv", "orders-2024-05-01.csv")
    assert materialize(instance, "again.csv").success
    second = materialize(instance, "again.csv")
    assert second.success and keys(s3_client, landing_bucket) == [archived("again.csv", dropped)]


def test_one_run_ingests_many_files_each_into_its_own_partition(drop, s3_client, landing_bucket, io_bucket, instance):
    a = drop("batch/a.csv", "orders-2024-05-01.csv")
    drop("batch/bad.csv", "bad-wrong-types.csv")
    b = drop("batch/b.csv", "orders-with-warnings.csv")
    result = ingest_dropped(instance, ["batch/a.csv", "batch/bad.csv", "batch/b.csv"], s3_client, landing_bucket)

    # The bad file fails the run, but only after the good files around it were ingested.
    assert not result.success
    failure = [e for e in result.all_events if e.is_step_failure][0]
    assert "1 of 3 file(s) quarantined" in failure.step_failure_data.error.message
    assert keys(s3_client, io_bucket) == ["ingestion/orders/batch/a.csv.parquet", "ingestion/orders/batch/b.csv.parquet"]
    assert keys(s3_client, landing_bucket) == [
        archived("batch/a.csv", a), archived("batch/b.csv", b), "quarantine/batch/bad.csv", "quarantine/batch/bad.csv.error.json",
    ]
    for key in ("batch/a.csv", "batch/b.csv"):
        assert materializations(instance, key) == [result.run_id]
    evaluations = {(e.partition, e.check_name): e for e in result.get_asset_check_evaluations()}
    assert len(evaluations) == 8 and evaluations[("batch/a.csv", "orders_schema_matches")].passed
    assert not evaluations[("batch/b.csv", "orders_unique_ids")].passed


def test_repeating_a_run_or_redropping_the_same_bytes_ingests_nothing_twice(drop, s3_client, landing_bucket, instance):
    dropped = drop("same.csv", "orders-2024-05-01.csv")
    listed = {"same.csv": dropped}
    first = ingest_dropped(instance, ["same.csv"], s3_client, landing_bucket, listed)
    assert first.success
    # A retried run finds its file gone from landing; a re-drop of identical bytes is archived.
    assert ingest_dropped(instance, ["same.csv"], s3_client, landing_bucket, listed).success
    drop("same.csv", "orders-2024-05-01.csv")
    assert ingest_dropped(instance, ["same.csv"], s3_client, landing_bucket).success
    assert materializations(instance, "same.csv") == [first.run_id]
    assert keys(s3_client, landing_bucket) == [archived("same.csv", dropped)]
    # Different bytes under the same key (a correction, or a revert) are ingested again.
    drop("same.csv", "orders-with-warnings.csv")
    again = ingest_dropped(instance, ["same.csv"], s3_client, landing_bucket)
    assert again.success and materializations(instance, "same.csv") == [again.run_id, first.run_id]


def test_a_run_ingests_the_version_it_was_given_never_newer_bytes(drop, s3_client, landing_bucket, io_bucket, instance):
    listed = {"late.csv": drop("late.csv", "orders-2024-05-01.csv")}
    # Replaced after the sensor listed it: the newer bytes have a run of their own.
    drop("late.csv", "orders-with-warnings.csv")
    stale = ingest_dropped(instance, ["late.csv"], s3_client, landing_bucket, listed)
    assert stale.success and materializations(instance, "late.csv") == []
    assert keys(s3_client, landing_bucket) == ["late.csv"] and keys(s3_client, io_bucket) == []


@pytest.mark.parametrize("sample", ["orders-2024-05-01.csv", "bad-wrong-types.csv"])
def test_keys_at_the_stores_limits_are_handled_and_everything_written_stays_within_them(
    sample, drop, s3_client, landing_bucket, io_bucket, instance
):
    # 1,020 bytes (the limit is 1,024), its file name 250 bytes (a segment may have 255).
    key = ("d" * 200 + "/") * 3 + "e" * 166 + "/" + "é" * 60 + "f" * 126 + ".csv"
    assert len(key.encode()) == 1020 and len(key.rsplit("/", 1)[-1].encode()) == 250
    drop(key, sample)
    result = ingest_dropped(instance, [key], s3_client, landing_bucket)

    written = keys(s3_client, landing_bucket) + keys(s3_client, io_bucket)
    assert key not in written, "the original left landing"
    assert all(fits_the_store(k) for k in written), [k for k in written if not fits_the_store(k)]
    if result.success:
        assert materializations(instance, key) == [result.run_id]
        (kept,) = keys(s3_client, landing_bucket)
        assert kept.startswith("processed/long-keys/") and kept.rsplit("/", 1)[0].endswith(".csv")
        metadata = result.asset_materializations_for_node("ingest_dropped_files")[0].metadata
        assert metadata["archived_to"].value == f"s3://{landing_bucket}/{kept}"
    else:
        report_key = next(k for k in keys(s3_client, landing_bucket) if k.endswith(".error.json"))
        report = json.loads(s3_client.get_object(Bucket=landing_bucket, Key=report_key)["Body"].read())
        assert report["source"] == f"s3://{landing_bucket}/{key}", "the report keeps the original key"
        assert keys(s3_client, landing_bucket) == sorted([report_key.removesuffix(".error.json"), report_key])


def test_a_key_dagster_refuses_as_a_partition_is_quarantined_with_a_report(drop, s3_client, landing_bucket, io_bucket, instance):
    key = "drops/orders...2024.csv"
    head = drop(key, "orders-2024-05-01.csv")
    # Nobody can add it as a partition; the sensor's run ingests it by name alone.
    result = run_ingestion(instance, [(key, head)])
    assert not result.success
    assert keys(s3_client, landing_bucket) == [f"quarantine/{key}", f"quarantine/{key}.error.json"]
    report = json.loads(s3_client.get_object(Bucket=landing_bucket, Key=f"quarantine/{key}.error.json")["Body"].read())
    assert "partition key" in report["problem"] and report["file"] == key
    assert keys(s3_client, io_bucket) == []


def test_each_version_dropped_under_a_key_is_archived_apart(drop, s3_client, landing_bucket, instance):
    first = drop("versions.csv", "orders-2024-05-01.csv")
    assert ingest_dropped(instance, ["versions.csv"], s3_client, landing_bucket).success
    second = drop("versions.csv", "orders-with-warnings.csv")
    assert ingest_dropped(instance, ["versions.csv"], s3_client, landing_bucket).success
    assert keys(s3_client, landing_bucket) == sorted([archived("versions.csv", first), archived("versions.csv", second)])


def test_bytes_dropped_while_a_version_is_archived_are_neither_archived_nor_deleted(drop, s3_client, landing_bucket):
    handled = drop("moving.csv", "orders-2024-05-01.csv")
    newer = drop("moving.csv", "orders-with-warnings.csv")
    zone = LandingZone(s3=S3(endpoint_url=os.environ["S3_ENDPOINT_URL"]), bucket=landing_bucket)
    zone.archive("moving.csv", handled["ETag"])
    assert keys(s3_client, landing_bucket) == ["moving.csv"]
    assert s3_client.head_object(Bucket=landing_bucket, Key="moving.csv")["ETag"] == newer["ETag"]


def test_the_ledger_counts_files_by_where_they_are_and_the_warehouse_lag(drop, s3_client, landing_bucket, instance):
    drop("ok.csv", "orders-2024-05-01.csv")
    drop("bad.csv", "bad-wrong-types.csv")
    drop("waiting.csv", "orders-2024-05-01.csv")
    ingest_dropped(instance, ["ok.csv", "bad.csv"], s3_client, landing_bucket)
    result = dg.materialize([landing_inventory], resources={"landing": defs.resources["landing"]}, instance=instance)
    metadata = {name: value.value for name, value in result.asset_materializations_for_node("landing_inventory")[0].metadata.items()}
    assert (metadata["waiting"], metadata["processed"], metadata["quarantined"], metadata["in_flight"]) == (1, 1, 1, 0)
    # ok.csv is ingested, and not yet in the warehouse.
    assert (metadata["files_ingested"], metadata["warehouse_lag_files"]) == (1, 1)
