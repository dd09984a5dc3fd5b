"""`make sql`: one statement (`python -m analytics.sql "select ..."`) or, without one, an
interactive prompt against the warehouse. Read-only unless WAREHOUSE_WRITE=1: the lake attached
read-only, and DuckDB itself locked (deploy/scripts/sql.sh also hands it read-only credentials)."""

import os
import sys
from contextlib import ExitStack

import duckdb
from tabulate import tabulate

from analytics.resources import quoted, warehouse

PROMPT, CONTINUATION = "warehouse> ", "       ...> "
NO_WAREHOUSE_YET = (
    "error: there is no warehouse yet: the first ingested file creates it. Drop one "
    "(make drop FILE=samples/orders-2024-05-01.csv), wait for its run to finish, and ask again."
)


def lock_down(con: duckdb.DuckDBPyConnection, data_path: str) -> None:
    """Nothing but the lake's own files from here on: no ATTACH, COPY, file or URL reads, extension
    loads, and no setting changed back."""
    con.execute(f"SET allowed_directories = [{quoted(data_path)}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def run(con: duckdb.DuckDBPyConnection, statement: str) -> str:
    cursor = con.execute(statement)
    if cursor.description is None:
        return "OK"
    rows = cursor.fetchall()
    table = tabulate(rows, headers=[column[0] for column in cursor.description], tablefmt="psql")
    return f"{table}\n({len(rows)} row{'' if len(rows) == 1 else 's'})"


def prompt(con: duckdb.DuckDBPyConnection) -> None:
    import readline  # noqa: F401  (line editing and history for input())

    print("Warehouse tables: " + ", ".join(name for (name,) in con.execute("SHOW TABLES").fetchall()))
    print("End a statement with ';'. Ctrl-D quits.")
    lines: list[str] = []
    while True:
        try:
            lines.append(input(CONTINUATION if lines else PROMPT))
        except EOFError:
            print()
            return
        statement = "\n".join(lines).strip()
        if not statement.endswith(";"):
            continue
        lines = []
        try:
            print(run(con, statement))
        except duckdb.Error as error:
            print(f"error: {error}")


def main() -> None:
    writable = os.environ.get("WAREHOUSE_WRITE") == "1"
    resource = warehouse.process_config_and_initialize().model_copy(update={"read_only": not writable})
    with ExitStack() as opened:
        try:
            con = opened.enter_context(resource.get_connection())
        except duckdb.Error as error:
            # Read-only, DuckLake will not create a missing catalog; it says the catalog "does not exist".
            sys.exit(NO_WAREHOUSE_YET if not writable and "does not exist" in str(error) else f"error: {error}")
        if not writable:
            lock_down(con, resource.data_path)
        try:
            if len(sys.argv) > 1 and sys.argv[1].strip():
                print(run(con, sys.argv[1]))
            else:
                prompt(con)
        except duckdb.Error as error:
            sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
