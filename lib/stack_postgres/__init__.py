"""Dagster's Postgres storage, except that a process holding one instance keeps its connections,
and only `migrate` looks for missing tables.

dagster-postgres opens a new connection for every read and write (no pool), so that a process
building instances over and over (a code server, one per sensor tick) never piles connections up.
Each is a DNS lookup at Docker's resolver, a TCP connect, a login at PgBouncer and a backend checked
and reset there. A run worker writes an event for every materialization and check, five per file:
a 300-file burst opened some 3,000 connections. The daemon's loops opened several a second while
the stack idled. Those two hold one instance for their whole life: in them (DockerRunLauncher sets
DAGSTER_RUN_JOB_NAME in a run's container, compose sets STACK_DB_KEEP_CONNECTIONS for the daemon)
each storage keeps one connection open, and opens more only while threads use it at once; a kept
one is pinged before use, so one that a Postgres restart broke is replaced, not a failed write.
The webserver pools its own (Dagster's optimize_for_webserver).

Dagster's storages also ask Postgres for its table names whenever an instance is built (three
queries, each on a connection of its own: every sensor tick in a code server) and the schedule
storage again on most calls (the daemon's every sensor and automation tick). Here the schema is
`migrate`'s to make (deploy/postgres/prepare-database.py), before any other Dagster process starts
and whenever the dagster version changes: only it (STACK_DB_CREATES_TABLES, compose) creates
missing tables, and elsewhere a table once seen is not looked for again; tables are never dropped.
"""

import os

from dagster._core.storage.sql import db
from dagster_postgres import DagsterPostgresStorage, PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config

# Connections a storage may open beyond the one it keeps, while threads use it at once; closed
# once returned. A run worker has a few threads, the daemon a dozen.
EXTRA_CONNECTIONS = 8


def keeps_connections() -> bool:
    return bool(os.environ.get("DAGSTER_RUN_JOB_NAME") or os.environ.get("STACK_DB_KEEP_CONNECTIONS"))


def creates_tables() -> bool:
    return os.environ.get("STACK_DB_CREATES_TABLES") == "on"


class ScheduleStorageThatRemembersTables(PostgresScheduleStorage):
    """Asks for the table names only until it has seen the one it is asked about."""

    _tables_seen: frozenset[str] = frozenset()

    def _has_table(self, conn, name: str) -> bool:
        if name not in self._tables_seen:
            self._tables_seen = frozenset(db.inspect(conn).get_table_names())
        return name in self._tables_seen

    def _has_instigators_table(self, conn) -> bool:
        return self._has_table(conn, "instigators")

    def _has_asset_daemon_asset_evaluations_table(self, conn) -> bool:
        return self._has_table(conn, "asset_daemon_asset_evaluations")

    def has_secondary_index_table(self) -> bool:
        with self.connect() as conn:
            return self._has_table(conn, "secondary_indexes")


class StackPostgresStorage(DagsterPostgresStorage):
    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data=None, token_provider=None):
        should_autocreate_tables = should_autocreate_tables and creates_tables()
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        # Built without a query when it creates no tables: replacing Dagster's costs nothing.
        self._schedule_storage = ScheduleStorageThatRemembersTables(
            postgres_url, should_autocreate_tables=False, token_provider=token_provider
        )
        if keeps_connections():
            for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
                storage._engine = create_pg_engine(
                    self.postgres_url, storage._token_provider, isolation_level="AUTOCOMMIT",
                    pool_size=1, max_overflow=EXTRA_CONNECTIONS, pool_pre_ping=True,
                )

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
