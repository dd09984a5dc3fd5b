"""The stack's Postgres storage: run workers and the daemon keep connections open, code servers do not.
Its connections to a real Postgres are exercised by every run of the integration and fault suites
(fault test 3 restarts Postgres under running workers)."""

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
