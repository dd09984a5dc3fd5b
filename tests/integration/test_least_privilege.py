"""Nothing that stays up holds a root secret. Everything but the one-shot migration and the
read-only webserver connects to Postgres as the application role, which can read and write
Dagster's tables but not change or drop them, nor the database; the read-only webserver as the
reader role, which can only read them; and to S3 as the stack's identity, which can read and
write the stack's buckets but not create, delete or see others."""

import uuid

import docker
import pytest
import requests
from botocore.exceptions import ClientError

from tests.harness.repo import runs_the_s3_stand_in

APP_ROLE, READER_ROLE = "DAGSTER_DB_APP_PASSWORD", "DAGSTER_DB_READER_PASSWORD"
S3_LIMITED = {"S3_APP_SECRET_KEY", "S3_UPLOAD_SECRET_KEY", "S3_READ_SECRET_KEY"}
# The stack's secrets (its settings named *PASSWORD* or *SECRET*) each service's containers hold:
# exactly those its programs use (docs/security.md). Every service is listed, one-shots included.
SECRETS_HELD = {
    "postgres": {"POSTGRES_PASSWORD"},
    "migrate": {"POSTGRES_PASSWORD", APP_ROLE, READER_ROLE, "WAREHOUSE_DB_PASSWORD", "WAREHOUSE_READER_PASSWORD"},
    "pgbouncer": {APP_ROLE, READER_ROLE},
    # The store checks every S3 identity's secret: SeaweedFS is handed them, MinIO stores them.
    "minio": {"MINIO_ROOT_PASSWORD", *S3_LIMITED},
    "create-buckets": {"MINIO_ROOT_PASSWORD"},
    # MinIO's identities are created by this one-shot; SeaweedFS's by the store itself.
    "s3-identity": {"MINIO_ROOT_PASSWORD", *S3_LIMITED},
    "webserver": {APP_ROLE, "S3_APP_SECRET_KEY"},
    "webserver-readonly": {READER_ROLE, "S3_READ_SECRET_KEY"},
    # The metrics exporter reads what the read-only UI reads (DAGSTER_METRICS, test_metrics.py).
    "metrics": {READER_ROLE, "S3_READ_SECRET_KEY"},
    "prometheus": set(),
    "daemon": {APP_ROLE, "S3_APP_SECRET_KEY", "WAREHOUSE_DB_PASSWORD"},
    "code-ingestion": {APP_ROLE, "S3_APP_SECRET_KEY"},
    "code-analytics": {APP_ROLE, "S3_APP_SECRET_KEY", "WAREHOUSE_DB_PASSWORD"},
    "code-diagnostics": {APP_ROLE, "S3_APP_SECRET_KEY"},
    "proxy": {"DAGSTER_UI_PASSWORD", "DAGSTER_VIEWER_PASSWORD"},
    "docker-proxy": set(),
    "run-janitor": set(),
    "dev-reloader": set(),
}
SECRETS_HELD_IN_THE_LOCAL_WORLD = {**SECRETS_HELD, "s3-identity": {"MINIO_ROOT_PASSWORD"}}

# Storage servers behind the S3 API that must not be reachable from the stack's network:
# SeaweedFS's filer, master and volume servers (HTTP and gRPC), which check no credentials.
STORE_INTERNAL_PORTS = (8888, 18888, 9333, 19333, 9340, 19340, 8181, 9101)


def as_role(stack, user: str, password: str, sql: str, database: str):
    """Runs SQL as a login role over TCP, so its password is really checked."""
    return stack.compose(
        "exec", "-T", "-e", f"PGPASSWORD={password}", "postgres",
        "psql", "-h", "127.0.0.1", "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql,
        check=False,
    )


def as_app_role(stack, sql: str, database: str | None = None):
    settings = stack.settings
    return as_role(
        stack, settings["DAGSTER_DB_APP_USER"], settings["DAGSTER_DB_APP_PASSWORD"], sql, database or settings["POSTGRES_DB"]
    )


def as_warehouse_role(stack, sql: str, database: str):
    settings = stack.settings
    return as_role(stack, settings.get("WAREHOUSE_DB_USER", "warehouse"), settings["WAREHOUSE_DB_PASSWORD"], sql, database)


def test_runs_and_services_hold_the_limited_identities_not_the_roots(stack):
    run_id = stack.launch("analytics", "storage_report_job")
    assert stack.wait_for_run(run_id) == "SUCCESS"
    services = stack.service_containers("code-ingestion", "code-analytics", "daemon", "webserver", "run-janitor")
    root_secrets = {stack.settings["POSTGRES_PASSWORD"], stack.settings["MINIO_ROOT_PASSWORD"]}
    for container in [stack.run_container(run_id), *services]:
        env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
        assert not root_secrets & set(env.values()), f"{container.name} holds a root secret"
        if container.labels.get("com.docker.compose.service") != "run-janitor":
            assert env["DAGSTER_POSTGRES_USER"] == stack.settings["DAGSTER_DB_APP_USER"], container.name
            assert env["AWS_ACCESS_KEY_ID"] == stack.settings["S3_APP_ACCESS_KEY"], container.name


@pytest.mark.parametrize("bucket_variable", ["LANDING_BUCKET", "IO_MANAGER_BUCKET", "COMPUTE_LOG_BUCKET", "WAREHOUSE_BUCKET"])
def test_stack_identity_reads_and_writes_the_stack_buckets(stack, bucket_variable):
    s3, bucket, key = stack.s3("stack"), stack.settings[bucket_variable], f"tests/{uuid.uuid4().hex}.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"written by the stack identity")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"written by the stack identity"
    assert key in [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="tests/")["Contents"]]
    s3.delete_object(Bucket=bucket, Key=key)


def assert_denied(call, *args, **kwargs):
    with pytest.raises(ClientError) as denied:
        call(*args, **kwargs)
    assert denied.value.response["Error"]["Code"] == "AccessDenied", denied.value.response


def test_stack_identity_cannot_create_or_delete_buckets(stack):
    s3 = stack.s3("stack")
    assert_denied(s3.create_bucket, Bucket=f"intruder-{uuid.uuid4().hex[:8]}")
    assert_denied(s3.delete_bucket, Bucket=stack.settings["LANDING_BUCKET"])


def test_stack_identity_cannot_reach_other_buckets(stack):
    other = f"not-the-stacks-{uuid.uuid4().hex[:8]}"
    stack.s3("root").create_bucket(Bucket=other)
    stack.s3("root").put_object(Bucket=other, Key="private.txt", Body=b"private")
    s3 = stack.s3("stack")
    assert_denied(s3.get_object, Bucket=other, Key="private.txt")
    assert_denied(s3.put_object, Bucket=other, Key="intruder.txt", Body=b"x")
    assert_denied(s3.list_objects_v2, Bucket=other)


def test_only_the_s3_api_and_console_are_reachable_on_the_store(stack):
    # Checked from a code server, which sits on the stack's network like every run container.
    probe = (
        "import socket, sys\n"
        "def is_open(port):\n"
        "    try:\n"
        "        socket.create_connection(('minio', port), timeout=3).close()\n"
        "        return True\n"
        "    except OSError:\n"
        "        return False\n"
        "print(' '.join(f'{port}={is_open(port)}' for port in map(int, sys.argv[1:])))\n"
    )
    ports = (9000, 9001, *STORE_INTERNAL_PORTS)
    result = stack.compose("exec", "-T", "code-ingestion", "python", "-c", probe, *map(str, ports))
    reachable = dict(item.split("=") for item in result.stdout.split())
    assert reachable["9000"] == reachable["9001"] == "True", reachable
    assert [port for port in STORE_INTERNAL_PORTS if reachable[str(port)] == "True"] == [], reachable


def test_application_role_reads_and_writes(stack):
    result = as_app_role(stack, "SELECT count(*) FROM runs")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "sql",
    ["DROP TABLE runs", "CREATE TABLE intruder (id int)", "ALTER TABLE runs ADD COLUMN intruder int", "TRUNCATE runs"],
)
def test_application_role_cannot_change_the_schema(stack, sql):
    result = as_app_role(stack, sql)
    assert result.returncode != 0
    assert "must be owner" in result.stderr or "permission denied" in result.stderr, result.stderr


def test_application_role_cannot_drop_the_database(stack):
    result = as_app_role(stack, f'DROP DATABASE "{stack.settings["POSTGRES_DB"]}"', database="postgres")
    assert result.returncode != 0
    assert "must be owner" in result.stderr, result.stderr


def test_warehouse_role_and_application_role_stay_in_their_own_databases(stack):
    warehouse_db, dagster_db = stack.settings.get("WAREHOUSE_DB", "warehouse"), stack.settings["POSTGRES_DB"]
    assert as_warehouse_role(stack, "CREATE TABLE probe (id int); DROP TABLE probe", warehouse_db).returncode == 0
    denied = as_warehouse_role(stack, "SELECT 1", dagster_db)
    assert denied.returncode != 0 and "permission denied" in denied.stderr, denied.stderr
    denied = as_app_role(stack, "SELECT 1", database=warehouse_db)
    assert denied.returncode != 0 and "permission denied" in denied.stderr, denied.stderr


def test_only_the_warehouse_side_holds_the_warehouse_password(stack):
    secret = stack.settings["WAREHOUSE_DB_PASSWORD"]
    ingestion_run = stack.launch("ingestion", "inventory_job")
    analytics_run = stack.launch("analytics", "storage_report_job")
    assert stack.wait_for_run(ingestion_run) == stack.wait_for_run(analytics_run) == "SUCCESS"

    def holds(container) -> bool:
        return secret in {item.split("=", 1)[1] for item in container.attrs["Config"]["Env"]}

    holders = {c.labels["com.docker.compose.service"] for c in stack.service_containers(
        "code-ingestion", "code-analytics", "daemon", "webserver", "run-janitor") if holds(c)}
    assert holders == {"code-analytics", "daemon"}
    assert holds(stack.run_container(analytics_run))
    assert not holds(stack.run_container(ingestion_run))


# Run in the read-only webserver's container with its own credentials, the way it reaches
# Postgres (through pgbouncer): prints how the server answered a statement, which is then rolled
# back whatever happened (each names no real row anyway).
TRY_AS_READONLY_UI = """
import os, sys, psycopg2
connection = psycopg2.connect(
    host=os.environ["DAGSTER_POSTGRES_HOST"], port=os.environ["DAGSTER_POSTGRES_PORT"],
    user=os.environ["DAGSTER_POSTGRES_USER"], password=os.environ["DAGSTER_POSTGRES_PASSWORD"],
    dbname=os.environ["DAGSTER_POSTGRES_DB"],
)
try:
    connection.cursor().execute(sys.argv[1])
    print("allowed")
except psycopg2.Error as error:
    print("refused:", error.pgerror)
finally:
    connection.rollback()
"""
RUN_AND_EVENTS = """
query ($runId: ID!, $runIds: [String!]) {
  runOrError(runId: $runId) { ... on Run { status eventConnection { events { __typename } } } }
  runsOrError(filter: {runIds: $runIds}) { ... on Runs { results { runId } } }
}
"""
ASSET_CATALOG = """
{
  assetsOrError { ... on AssetConnection { nodes { key { path } } } }
  assetNodes { assetKey { path } partitionStats { numMaterialized } }
}
"""


def as_readonly_ui(stack, sql: str) -> str:
    return stack.compose("exec", "-T", "webserver-readonly", "python", "-c", TRY_AS_READONLY_UI, sql).stdout.strip()


def test_readonly_ui_connects_as_the_reader_role(stack):
    (readonly_ui,) = stack.service_containers("webserver-readonly")
    env = dict(item.split("=", 1) for item in readonly_ui.attrs["Config"]["Env"])
    assert env["DAGSTER_POSTGRES_USER"] == stack.settings["DAGSTER_DB_READER_USER"]
    assert stack.settings["DAGSTER_DB_APP_PASSWORD"] not in env.values()


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO kvs (key, value) VALUES ('intruder', 'x')",
        "UPDATE runs SET status = 'CANCELED' WHERE run_id = 'no-such-run'",
        "DELETE FROM event_logs WHERE run_id = 'no-such-run'",
        # Of asset_keys it may refresh the status cache only (test below), no other column.
        "UPDATE asset_keys SET last_materialization = NULL WHERE asset_key = 'no-such-asset'",
        "TRUNCATE kvs",
        "CREATE TABLE intruder (id int)",
        "CREATE TEMP TABLE intruder (id int)",
        "ALTER TABLE runs ADD COLUMN intruder int",
        "DROP TABLE runs",
    ],
)
def test_readonly_ui_cannot_write_to_dagsters_database(stack, sql):
    answer = as_readonly_ui(stack, sql)
    assert answer.startswith("refused:") and ("permission denied" in answer or "must be owner" in answer), answer


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM runs",
        "SELECT count(*) FROM event_logs",
        # dagster-webserver --read-only refreshes a stale partition-status cache as it shows an asset.
        "UPDATE asset_keys SET cached_status_data = NULL WHERE asset_key = 'no-such-asset'",
    ],
)
def test_readonly_ui_reads_dagsters_tables(stack, sql):
    assert as_readonly_ui(stack, sql) == "allowed"


def test_readonly_ui_shows_runs_event_logs_and_the_asset_catalog(stack):
    run_id = stack.launch("diagnostics", "smoke_job")
    assert stack.wait_for_run(run_id) == "SUCCESS"
    # The two writes the read-only UI makes on its own (deploy/postgres/prepare-database.py): the
    # instance's id, which `migrate` stores now, and stale partition-status caches.
    stack.psql("DELETE FROM instance_info; UPDATE asset_keys SET cached_status_data = NULL")
    stack.compose("run", "--rm", "--no-deps", "migrate")
    page = requests.get(f"{stack.readonly_url}/runs", headers=stack.auth_header("viewer"), timeout=30)
    assert page.status_code == 200, page.text[:500]

    run = stack.query(RUN_AND_EVENTS, {"runId": run_id, "runIds": [run_id]}, who="viewer")
    assert run["runsOrError"]["results"] == [{"runId": run_id}]
    assert run["runOrError"]["status"] == "SUCCESS"
    assert "RunSuccessEvent" in {event["__typename"] for event in run["runOrError"]["eventConnection"]["events"]}
    catalog = stack.query(ASSET_CATALOG, who="viewer")
    partitioned = {tuple(node["assetKey"]["path"]) for node in catalog["assetNodes"] if node["partitionStats"]}
    assert ("ingestion", "orders") in partitioned, catalog["assetNodes"]
    # An AssetConnection, not an error (which list it holds depends on what has run so far).
    assert "nodes" in catalog["assetsOrError"], catalog


def test_every_container_holds_only_the_secrets_it_uses(stack):
    """One-shots too: the bucket creator holds no Postgres password, migrate no S3 key."""
    expected = SECRETS_HELD_IN_THE_LOCAL_WORLD if runs_the_s3_stand_in() else SECRETS_HELD
    secrets = {name: value for name, value in stack.settings.items() if ("PASSWORD" in name or "SECRET" in name) and value}
    containers = docker.from_env().containers.list(all=True, filters={"label": f"com.docker.compose.project={stack.project}"})
    assert {"migrate", "create-buckets", "s3-identity"} <= {c.labels["com.docker.compose.service"] for c in containers}
    wrong = {}
    for container in containers:
        service = container.labels["com.docker.compose.service"]
        assert service in expected, f"{service} is missing from SECRETS_HELD"
        values = [item.split("=", 1)[1] for item in container.attrs["Config"]["Env"]]
        held = {name for name, secret in secrets.items() if any(secret in value for value in values)}
        if held != expected[service]:
            wrong[service] = {"holds unused": sorted(held - expected[service]), "lacks": sorted(expected[service] - held)}
    assert not wrong, wrong
