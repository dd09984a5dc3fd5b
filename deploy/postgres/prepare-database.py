"""One-shot init, run as the database owner: migrate Dagster's schema, then make sure the
application role exists with exactly the rights the stack needs at run time.

Webserver, daemon, code servers and run workers connect as that role: they read and write
Dagster's tables but cannot create, alter or drop anything. The read-only webserver connects as
the reader role, which may only read them (and refresh one cache column, see grant_reader).
Only this step holds the owner's password. It is idempotent, so an existing database gets the
roles on its next start.

It also keeps the warehouse's catalog: a database of its own (WAREHOUSE_DB) owned by a role of
its own (WAREHOUSE_DB_USER), which may do anything there and nothing in Dagster's database, while
the application role may not even connect to the warehouse's.
"""

import os
import subprocess
import time
from importlib.metadata import version

import psycopg2
from psycopg2 import sql

# This service starts beside Postgres, not once it is healthy: the first connection waits for it.
STARTUP_DEADLINE_SECONDS = 120
# What Dagster's schema records once this dagster version's `dagster instance migrate` has run on
# it: a comment on its alembic_version table, so the mark goes wherever the data goes (a restored
# backup brings its own, or none). A start that finds it skips the migration, which imports
# dagster and checks every table (about 4 s of CPU on every `make up`, while the rest starts).
MIGRATED_MARK = f"migrated by dagster {version('dagster')}"


def connect(database: str):
    return psycopg2.connect(
        host=os.environ["DAGSTER_POSTGRES_HOST"],
        port=os.environ["DAGSTER_POSTGRES_PORT"],
        user=os.environ["DAGSTER_POSTGRES_USER"],
        password=os.environ["DAGSTER_POSTGRES_PASSWORD"],
        dbname=database,
    )


def wait_for_postgres(database: str) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while True:
        try:
            connect(database).close()
            return
        except psycopg2.OperationalError as error:  # not listening yet, or still starting up
            if time.monotonic() > deadline:
                raise
            print(f"waiting for Postgres: {str(error).strip()}", flush=True)
            time.sleep(0.5)


def ensure_login_role(cursor, name: str, password: str) -> None:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
    verb = "ALTER" if cursor.fetchone() else "CREATE"
    # The password follows .env, so rotating it there and restarting is enough.
    statement = sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %s")
    cursor.execute(statement.format(sql.Identifier(name)), (password,))


def prepare_warehouse_catalog(dagster_database: str) -> str:
    user, database = os.environ["WAREHOUSE_DB_USER"], os.environ["WAREHOUSE_DB"]
    connection = connect(dagster_database)
    connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
    with connection.cursor() as cursor:
        ensure_login_role(cursor, user, os.environ["WAREHOUSE_DB_PASSWORD"])
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if not cursor.fetchone():
            cursor.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(user)))
        # Each database admits its own roles only (and the owner): PUBLIC may connect to neither.
        for name in (database, dagster_database):
            cursor.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))
    connection.close()
    reader = grant_catalog_reader(database, user)
    return f"role {user} owns the warehouse catalog database {database}; role {reader} may only read it"


def grant_read_only(database: str, owner: str, reader: str, password: str, *more: str) -> str:
    """Keeps `reader` a login role that may SELECT the owner's tables, now and after later
    migrations (default privileges), and whatever `more` grants; returns its name."""
    connection = connect(database)
    with connection, connection.cursor() as cursor:
        ensure_login_role(cursor, reader, password)
        for statement in (
            "GRANT CONNECT ON DATABASE {db} TO {reader}",
            "GRANT USAGE ON SCHEMA public TO {reader}",
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT ON TABLES TO {reader}",
            *more,
        ):
            cursor.execute(sql.SQL(statement).format(
                db=sql.Identifier(database), reader=sql.Identifier(reader), owner=sql.Identifier(owner)
            ))
    connection.close()
    return reader


def grant_catalog_reader(database: str, owner: str) -> str:
    """The role `make sql` reads the catalog as."""
    return grant_read_only(database, owner, os.environ["WAREHOUSE_READER_USER"], os.environ["WAREHOUSE_READER_PASSWORD"])


def grant_reader(database: str, owner: str) -> str:
    """The read-only webserver's role: SELECT on Dagster's tables.

    `dagster-webserver --read-only` still writes twice, both found in dagster 1.13's sources and
    seen refused on a live stack: its index page stores the instance's id in `instance_info` the
    first time it is served (so this step stores it instead), and showing a partitioned asset
    refreshes the partition-status cache in `asset_keys.cached_status_data` when it is stale (so
    the role may update that one column, which only caches what the event log says).
    """
    return grant_read_only(
        database, owner, os.environ["DAGSTER_DB_READER_USER"], os.environ["DAGSTER_DB_READER_PASSWORD"],
        "GRANT UPDATE (cached_status_data) ON asset_keys TO {reader}",
    )


def schema_state(database: str) -> tuple[str | None, bool]:
    """The migration mark (None: no schema yet, or not marked) and whether the instance's id is stored."""
    connection = connect(database)
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT obj_description(to_regclass('public.alembic_version'), 'pg_class')")
        (mark,) = cursor.fetchone()
        has_id = False
        if mark:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM instance_info)")
            (has_id,) = cursor.fetchone()
    connection.close()
    return mark, has_id


def migrate(database: str) -> str:
    """Dagster's schema and data migrations, unless this dagster version already ran them here."""
    mark, has_id = schema_state(database)
    if mark == MIGRATED_MARK:
        if not has_id:
            store_instance_id()
        return f"schema already {MIGRATED_MARK}"
    subprocess.run(["dagster", "instance", "migrate"], check=True)
    store_instance_id()
    connection = connect(database)
    with connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("COMMENT ON TABLE alembic_version IS {}").format(sql.Literal(MIGRATED_MARK)))
    connection.close()
    return f"schema {MIGRATED_MARK} (was {mark or 'not marked'})"


def store_instance_id() -> None:
    """Dagster's own code stores the id, as the webserver would on its first page."""
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        instance.run_storage.get_run_storage_id()


def main() -> None:
    app_user, app_password = os.environ["DAGSTER_DB_APP_USER"], os.environ["DAGSTER_DB_APP_PASSWORD"]
    owner, database = os.environ["DAGSTER_POSTGRES_USER"], os.environ["DAGSTER_POSTGRES_DB"]
    wait_for_postgres(database)
    schema = migrate(database)

    connection = connect(database)
    role = sql.Identifier(app_user)
    with connection, connection.cursor() as cursor:
        ensure_login_role(cursor, app_user, app_password)
        statements = [
            "GRANT CONNECT ON DATABASE {db} TO {role}",
            "GRANT USAGE ON SCHEMA public TO {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
            "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
            # Tables a later `dagster instance migrate` adds are covered too.
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
        ]
        for statement in statements:
            cursor.execute(sql.SQL(statement).format(db=sql.Identifier(database), role=role, owner=sql.Identifier(owner)))
    connection.close()
    reader = grant_reader(database, owner)
    warehouse = prepare_warehouse_catalog(database)
    print(
        f"database ready: {schema}; role {app_user} may read and write Dagster's tables, nothing more; "
        f"role {reader} may only read them; {warehouse}"
    )


if __name__ == "__main__":
    main()
