"""External Postgres and S3 (docs/configuration.md): with POSTGRES_HOST and S3_ENDPOINT_URL set,
the stack starts neither of its own, keeps its runs and the warehouse's catalog in the external
Postgres (over TLS, POSTGRES_SSLMODE=require) and its files in the external store."""

import io
import uuid

import docker
import pyarrow.parquet as pq
import requests

from tests.harness.orders import orders_csv
from tests.harness.polling import wait_until
from tests.harness.warehouse import rows_of

INTERNAL_STORES = {"postgres", "minio", "s3-identity"}
ANY_RUN = "{ runsOrError(limit: 1) { __typename } }"


def unique_key(name: str) -> str:
    return f"external-tests/{uuid.uuid4().hex[:8]}/{name}"


def test_the_stack_starts_neither_its_own_postgres_nor_its_own_s3_store(stack):
    # Every container of the project, whatever compose's profiles show.
    containers = docker.from_env().containers.list(all=True, filters={"label": f"com.docker.compose.project={stack.project}"})
    services = {container.labels["com.docker.compose.service"] for container in containers}
    assert not services & INTERNAL_STORES, services
    assert {"pgbouncer", "migrate", "create-buckets", "webserver", "webserver-readonly", "daemon"} <= services
    # Both UIs load and read from the external database: operators' through the pool as the
    # application role, viewers' as the reader role.
    assert requests.get(stack.ui_url, headers=stack.auth_header(), timeout=30).status_code == 200
    assert stack.query(ANY_RUN)["runsOrError"]["__typename"] == "Runs"
    assert stack.query(ANY_RUN, who="viewer")["runsOrError"]["__typename"] == "Runs"


def test_a_dropped_file_is_ingested_with_its_run_and_files_in_the_external_services(stack, external):
    key = unique_key("orders.csv")
    source = stack.drop(key, orders_csv(11))
    run = stack.wait_for_sensor_run(source)
    assert run["status"] == "SUCCESS", stack.run_errors(run["runId"])

    with external.postgres() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (run["runId"],))
        assert cursor.fetchall() == [("SUCCESS",)]
        # Every session the stack holds there (the pool's, as the application role) is encrypted.
        cursor.execute(
            "SELECT a.usename, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
            "WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()"
        )
        sessions = cursor.fetchall()
    assert stack.settings["DAGSTER_DB_APP_USER"] in {user for user, _ in sessions}, sessions
    assert all(encrypted for _, encrypted in sessions), sessions

    s3 = external.s3()
    parquet = s3.get_object(Bucket=stack.settings["IO_MANAGER_BUCKET"], Key=f"ingestion/orders/{key}.parquet")
    assert pq.read_table(io.BytesIO(parquet["Body"].read())).num_rows == 11
    etag = source.rsplit("@", 1)[1]
    original = s3.get_object(Bucket=stack.settings["LANDING_BUCKET"], Key=f"processed/{key}/{etag}")
    assert original["Body"].read() == orders_csv(11)


def test_the_warehouse_keeps_its_catalog_and_files_in_the_external_services(stack, external):
    key = unique_key("orders.csv")
    stack.drop(key, orders_csv(7, first_id=700))
    # `make sql` reads through DuckLake: its catalog in the external Postgres over TLS, its
    # Parquet files in the external store.
    wait_until(f"{key}'s 7 rows in the warehouse via make sql", lambda: rows_of(stack, key) == 7, 180, 2)

    with external.postgres(stack.settings["WAREHOUSE_DB"]) as cursor:
        cursor.execute("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'ducklake%'")
        assert cursor.fetchone()[0] > 0, "no DuckLake catalog in the external Postgres"
    listed = external.s3().list_objects_v2(Bucket=stack.settings["WAREHOUSE_BUCKET"], Prefix="lake/")
    assert [item["Key"] for item in listed.get("Contents", []) if item["Key"].endswith(".parquet")]
