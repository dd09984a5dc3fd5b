"""Dagster's Postgres storage, except that a run worker keeps its connections open.

dagster-postgres opens a new connection for every read and write (no pool), so that a process
holding many instances never piles connections up. A run worker holds one instance and writes an
event for every materialization and check, five per file: a 300-file burst opened some 3,000
connections, each a DNS lookup, a TCP connect, a login at PgBouncer and a check and a reset of a
backend there. In a run worker (DockerRunLauncher sets DAGSTER_RUN_JOB_NAME in its container) each
storage keeps one connection open instead (more while threads write at once), pinged before each
use so that one a Postgres restart broke is replaced rather than failing a write. Every other
process uses dagster-postgres's storage as it is.
"""

import os

from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config

# Connections a run worker's storage opens beyond its one kept open, while threads write at once
# (the step, and the compute-log and run-monitoring threads); closed once returned.
RUN_WORKER_EXTRA_CONNECTIONS = 4


def in_run_worker() -> bool:
    return bool(os.environ.get("DAGSTER_RUN_JOB_NAME"))


class StackPostgresStorage(DagsterPostgresStorage):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if in_run_worker():
            for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
                storage._engine = create_pg_engine(
                    self.postgres_url, storage._token_provider, isolation_level="AUTOCOMMIT",
                    pool_size=1, max_overflow=RUN_WORKER_EXTRA_CONNECTIONS, pool_pre_ping=True,
                )

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
