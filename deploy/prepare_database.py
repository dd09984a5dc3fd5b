"""One-shot init, run as the database owner: migrate Dagster's schema, then make sure the
application role exists with exactly the rights the stack needs at run time.

Webserver, daemon, code servers and run workers connect as that role: they read and write
Dagster's tables but cannot create, alter or drop anything. Only this step holds the owner's
password. It is idempotent, so an existing database gets the role on its next start.
"""

import os
import subprocess

import psycopg2
from psycopg2 import sql


def main() -> None:
    subprocess.run(["dagster", "instance", "migrate"], check=True)

    app_user, app_password = os.environ["DAGSTER_DB_APP_USER"], os.environ["DAGSTER_DB_APP_PASSWORD"]
    owner, database = os.environ["DAGSTER_POSTGRES_USER"], os.environ["DAGSTER_POSTGRES_DB"]
    connection = psycopg2.connect(
        host=os.environ["DAGSTER_POSTGRES_HOST"],
        port=os.environ["DAGSTER_POSTGRES_PORT"],
        user=owner,
        password=os.environ["DAGSTER_POSTGRES_PASSWORD"],
        dbname=database,
    )
    role = sql.Identifier(app_user)
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (app_user,))
        verb = "ALTER" if cursor.fetchone() else "CREATE"
        # The password follows .env, so rotating it there and restarting is enough.
        cursor.execute(sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %s").format(role), (app_password,))
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
    print(f"database ready: schema migrated; role {app_user} may read and write Dagster's tables, nothing more")


if __name__ == "__main__":
    main()
