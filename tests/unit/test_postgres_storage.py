"""The stack's Postgres storage: run workers and the daemon keep connections open, code servers do
not; only `migrate` creates tables, and the schedule storage stops looking for a table it has seen.
Its connections to a real Postgres are exercised by every run of the integration and fault suites
(fault test 3 restarts Postgres under running workers)."""

import sqlalchemy
import stack_postgres
import yaml
from dagster._core.instance.config import dagster_instance_config
from sqlalchemy.pool import NullPool, QueuePool
from stack_postgres import StackPostgresStorage

from tests.harness.repo import REPO

URL = "postgresql+psycopg2://user:secret@pgbouncer:6432/dagster"


def engines(storage: StackPostgresStorage):
    return [s._engine for s in (storage.run_storage, storage.event_log_storage, storage.schedule_storage)]


def test_a_run_worker_keeps_a_connection_open_and_pings_it_before_use(monkeypatch):
    monkeypatch.setenv("DAGSTER_RUN_JOB_NAME", "ingest_orders_job")  # DockerRunLauncher sets it
    for engine in engines(StackPostgresStorage(URL, should_autocreate_tables=False)):
        assert isinstance(engine.pool, QueuePool) and engine.pool.size() == 1
        assert engine.pool._pre_ping, "a connection a Postgres restart broke would fail a write"


def test_the_daemon_keeps_a_connection_open_as_compose_asks():
    daemon = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["daemon"]["environment"]
    assert daemon["STACK_DB_KEEP_CONNECTIONS"] == "on"


def test_other_processes_open_a_connection_per_use_as_dagster_postgres_does(monkeypatch):
    # Code servers build an instance from a ref for every sensor tick: a pool each would pile up.
    monkeypatch.delenv("DAGSTER_RUN_JOB_NAME", raising=False)
    monkeypatch.delenv("STACK_DB_KEEP_CONNECTIONS", raising=False)
    for engine in engines(StackPostgresStorage(URL, should_autocreate_tables=False)):
        assert isinstance(engine.pool, NullPool)


def test_dagster_yaml_names_this_storage(monkeypatch, tmp_path):
    for variable in ("HOST", "PORT", "USER", "PASSWORD", "DB"):
        monkeypatch.setenv(f"DAGSTER_POSTGRES_{variable}", "5432" if variable == "PORT" else "x")
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    storage = config["storage"]["custom"]
    assert (storage["module"], storage["class"]) == ("stack_postgres", "StackPostgresStorage")


def test_only_migrate_creates_tables_so_building_an_instance_asks_postgres_nothing(monkeypatch):
    # Nothing listens on port 1: a storage that looked for its tables would fail here, after retries.
    monkeypatch.delenv("STACK_DB_CREATES_TABLES", raising=False)
    storage = StackPostgresStorage("postgresql+psycopg2://user:secret@127.0.0.1:1/dagster")
    assert not storage.should_autocreate_tables
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    creators = [name for name, service in compose.items()
                if (service.get("environment") or {}).get("STACK_DB_CREATES_TABLES") == "on"]
    assert creators == ["migrate"]


def test_the_schedule_storage_looks_for_a_table_until_it_has_seen_it(monkeypatch):
    inspected = []
    real_inspect = stack_postgres.db.inspect
    monkeypatch.setattr(stack_postgres.db, "inspect", lambda conn: inspected.append(conn) or real_inspect(conn))
    storage = StackPostgresStorage(URL, should_autocreate_tables=False).schedule_storage
    with sqlalchemy.create_engine("sqlite://").connect() as conn:
        assert not storage._has_instigators_table(conn) and not storage._has_instigators_table(conn)
        assert len(inspected) == 2, "a missing table is looked for every time, as Dagster does"
        conn.execute(sqlalchemy.text("CREATE TABLE instigators (id INTEGER)"))
        conn.execute(sqlalchemy.text("CREATE TABLE asset_daemon_asset_evaluations (id INTEGER)"))
        assert all(storage._has_instigators_table(conn) for _ in range(3))
        assert storage._has_asset_daemon_asset_evaluations_table(conn)
        assert len(inspected) == 3
