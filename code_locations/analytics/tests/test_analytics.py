"""The warehouse assets materialized into a throwaway DuckLake: its catalog a local DuckDB file,
its data Parquet files in a real S3 server (SeaweedFS), reached through the httpfs extension."""

import csv
import html
from collections import Counter, defaultdict
from decimal import Decimal

import dagster as dg
import duckdb
import pytest
from markdown_it import MarkdownIt
from stack_contract import dropped_files
from stack_markdown import inert_text

from analytics import sql
from analytics.assets import daily_order_summary, orders_match_ingested
from analytics.assets import orders as warehouse_orders
from analytics.definitions import defs as analytics_defs
from analytics.resources import EXTENSIONS, extension_path
from ingestion.assets import orders as ingested_orders
from ingestion.definitions import defs as ingestion_defs
from tests.harness.repo import SAMPLES

SAMPLE = "orders-2024-05-01.csv"
REPLACEMENT = "commandes été 2024.csv"


@pytest.fixture
def warehouse_env(stack_env, s3_client, tmp_path, monkeypatch) -> dict[str, str]:
    bucket = f"warehouse-{stack_env['IO_MANAGER_BUCKET']}"
    s3_client.create_bucket(Bucket=bucket)
    env = {
        "WAREHOUSE_CATALOG": str(tmp_path / "catalog.ducklake"),
        "WAREHOUSE_DATA_PATH": f"s3://{bucket}/lake/",
        "WAREHOUSE_DB_USER": "unused-with-a-local-catalog",
        "WAREHOUSE_DB_PASSWORD": "unused-with-a-local-catalog",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return {**stack_env, **env, "WAREHOUSE_BUCKET": bucket}


@pytest.fixture
def ingest(drop, instance):
    """Drops a sample under `key` and runs ingestion's own asset on it, as its sensor would."""
    resources = {name: ingestion_defs.resources[name] for name in ("landing", "tables")}

    def run(key: str, sample: str = SAMPLE) -> None:
        drop(key, sample)
        instance.add_dynamic_partitions(dropped_files.name, [key])
        assert dg.materialize([ingested_orders], partition_key=key, resources=resources, instance=instance).success

    return run


def materialize(assets, instance, partition_key=None) -> dg.ExecuteInProcessResult:
    resources = {name: analytics_defs.resources[name] for name in ("io_bucket", "warehouse")}
    result = dg.materialize(assets, partition_key=partition_key, resources=resources, instance=instance)
    assert result.success
    return result


def query(sql: str) -> list[tuple]:
    with analytics_defs.resources["warehouse"].process_config_and_initialize().get_connection() as con:
        return con.execute(sql).fetchall()


def sample_rows() -> list[dict]:
    with (SAMPLES / SAMPLE).open() as sample:
        return list(csv.DictReader(sample))


def test_orders_holds_every_ingested_row_with_its_source_key(warehouse_env, ingest, instance):
    for key in ("a/orders.csv", "b/commandes été.csv"):
        ingest(key)
        result = materialize([warehouse_orders], instance, partition_key=key)
        assert result.asset_materializations_for_node("warehouse__orders")[0].metadata["dagster/row_count"].value == len(sample_rows())

    counts = dict(query("SELECT source_key, count(*) FROM orders GROUP BY ALL"))
    assert counts == {"a/orders.csv": len(sample_rows()), "b/commandes été.csv": len(sample_rows())}
    # The data are Parquet files in the warehouse bucket, not in the catalog.
    assert query(f"SELECT count(*) FROM glob('{warehouse_env['WAREHOUSE_DATA_PATH']}**/*.parquet')")[0][0] >= 2


def run_reconciliation(instance) -> dg.AssetCheckEvaluation:
    resources = {name: analytics_defs.resources[name] for name in ("io_bucket", "warehouse")}
    result = dg.materialize(
        [warehouse_orders, orders_match_ingested], selection=dg.AssetSelection.checks(orders_match_ingested),
        resources=resources, instance=instance, raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_reconciliation_names_the_files_whose_rows_are_missing_until_they_are_loaded(warehouse_env, ingest, instance):
    for key in ("kept.csv", "lost.csv"):
        ingest(key)
    materialize([warehouse_orders], instance, partition_key="kept.csv")
    missing = run_reconciliation(instance)
    assert not missing.passed and "lost.csv" in missing.description and "kept.csv" not in missing.description
    materialize([warehouse_orders], instance, partition_key="lost.csv")
    assert run_reconciliation(instance).passed
    query_write("DELETE FROM orders WHERE source_key = 'kept.csv' AND order_id % 2 = 0")
    assert "kept.csv" in run_reconciliation(instance).description


def query_write(sql: str) -> None:
    resource = analytics_defs.resources["warehouse"].process_config_and_initialize()
    with resource.get_connection() as con:
        con.execute(sql)


def test_reingesting_a_key_replaces_that_files_rows(warehouse_env, ingest, instance):
    ingest("a.csv")
    materialize([warehouse_orders], instance, partition_key="a.csv")
    ingest("b.csv")
    materialize([warehouse_orders], instance, partition_key="b.csv")
    ingest("a.csv", REPLACEMENT)
    result = materialize([warehouse_orders], instance, partition_key="a.csv")

    assert result.asset_materializations_for_node("warehouse__orders")[0].metadata["rows_replaced"].value == len(sample_rows())
    with (SAMPLES / REPLACEMENT).open() as replacement:
        expected_ids = sorted(int(row["order_id"]) for row in csv.DictReader(replacement))
    assert [order_id for (order_id,) in query("SELECT order_id FROM orders WHERE source_key = 'a.csv' ORDER BY 1")] == expected_ids
    assert query("SELECT count(*) FROM orders WHERE source_key = 'b.csv'")[0][0] == len(sample_rows())


def test_daily_order_summary_counts_every_file(warehouse_env, ingest, instance):
    for key in ("a.csv", "b.csv"):
        ingest(key)
        materialize([warehouse_orders], instance, partition_key=key)
    result = materialize([daily_order_summary], instance)

    expected_revenue, expected_orders = defaultdict(Decimal), Counter()
    for row in sample_rows():
        expected_revenue[(row["order_date"], row["product"])] += 2 * int(row["quantity"]) * Decimal(row["unit_price"])
        expected_orders[(row["order_date"], row["product"])] += 2
    rows = query("SELECT strftime(order_date, '%Y-%m-%d'), product, orders, revenue FROM daily_order_summary")
    assert {(day, product): count for day, product, count, _ in rows} == dict(expected_orders)
    # Money is exact: DECIMAL cents from the CSV to the sums, compared without a tolerance.
    assert {(day, product): revenue for day, product, _, revenue in rows} == dict(expected_revenue)
    assert query("SELECT typeof(unit_price) FROM orders LIMIT 1") == [("DECIMAL(18,2)",)]
    metadata = result.asset_materializations_for_node("warehouse__daily_order_summary")[0].metadata
    assert metadata["revenue"].value == f"{sum(expected_revenue.values()):.2f}"
    latest = metadata["latest_days"].value
    assert inert_text(max(day for day, _ in expected_orders)) in latest and "00:00:00" not in latest


def test_extensions_load_from_the_wheels_and_nothing_is_fetched(warehouse_env):
    for package, name in EXTENSIONS:
        assert extension_path(package, name).is_file(), f"{package} does not ship {name}"
    loaded = {name for (name,) in query("SELECT extension_name FROM duckdb_extensions() WHERE loaded")}
    assert {"httpfs", "postgres_scanner", "ducklake"} <= loaded
    settings = dict(query(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('autoinstall_known_extensions', 'autoload_known_extensions')"
    ))
    assert settings == {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}


def test_duckdb_is_the_pinned_version_the_extension_wheels_are_built_for():
    # duckdb 2.x breaks the API used here, and the wheels' binaries load into 1.5.5 only.
    assert duckdb.__version__ == "1.5.5"


def test_storage_report_job_writes_a_markdown_report(drop, s3_client, landing_bucket, io_bucket, instance):
    drop("x.csv", body=b"12345")
    drop("![x](http:evil.example)/planted.csv", body=b"1")  # a prefix anyone may drop under
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
    assert f"## {inert_text(landing_bucket)}: 2 objects, 6 B" in report
    rendered = MarkdownIt("commonmark").enable("table").render(report)
    assert "<img" not in rendered and "![x](http:evil.example)/" in html.unescape(rendered)


def test_many_files_partitions_load_in_one_run(warehouse_env, ingest, instance):
    keys = ["burst/1.csv", "burst/2.csv", "burst/3.csv"]
    for key in keys:
        ingest(key)
    materialize([warehouse_orders], instance, partition_key="burst/2.csv")
    ingest("burst/2.csv", REPLACEMENT)  # a file corrected since: in the batch, its rows are replaced
    # What automation does after a burst: one backfill over the files, one run (single-run policy).
    job = analytics_defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance,
        asset_selection=[warehouse_orders.key],
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
    )
    assert result.success
    materialized = result.asset_materializations_for_node("warehouse__orders")
    assert sorted(m.partition for m in materialized) == keys
    assert materialized[0].metadata["files"].value == 3
    with (SAMPLES / REPLACEMENT).open() as replacement:
        replaced_rows = len(list(csv.DictReader(replacement)))
    counts = dict(query("SELECT source_key, count(*) FROM orders GROUP BY ALL"))
    assert counts == {"burst/1.csv": len(sample_rows()), "burst/2.csv": replaced_rows, "burst/3.csv": len(sample_rows())}


def test_make_sql_before_the_first_file_says_what_to_do(warehouse_env, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["analytics.sql", "SELECT count(*) FROM orders"])
    with pytest.raises(SystemExit) as exited:
        sql.main()
    assert exited.value.code == sql.NO_WAREHOUSE_YET

    # Asked to write, it creates the (empty) warehouse; then a read-only query finds no table.
    monkeypatch.setenv("WAREHOUSE_WRITE", "1")
    monkeypatch.setattr("sys.argv", ["analytics.sql", "SELECT 1 AS one"])
    sql.main()
    assert "(1 row)" in capsys.readouterr().out
    monkeypatch.delenv("WAREHOUSE_WRITE")
    monkeypatch.setattr("sys.argv", ["analytics.sql", "SELECT count(*) FROM orders"])
    with pytest.raises(SystemExit) as exited:
        sql.main()
    assert "orders does not exist" in str(exited.value.code)
