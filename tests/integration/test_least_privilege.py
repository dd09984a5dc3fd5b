"""Everything but the one-shot migration connects to Postgres as the application role, which can
read and write Dagster's tables but not change or drop them, nor the database."""

import pytest


def as_app_role(stack, sql: str, database: str | None = None):
    """Runs SQL as the application role over TCP, so its password is really checked."""
    settings = stack.settings
    return stack.compose(
        "exec", "-T", "-e", f"PGPASSWORD={settings['DAGSTER_DB_APP_PASSWORD']}", "postgres",
        "psql", "-h", "127.0.0.1", "-U", settings["DAGSTER_DB_APP_USER"], "-d", database or settings["POSTGRES_DB"],
        "-v", "ON_ERROR_STOP=1", "-At", "-c", sql,
        check=False,
    )


def test_run_workers_and_code_servers_hold_the_application_role_not_the_owner(stack):
    run_id = stack.launch("analytics", "smoke_job")
    assert stack.wait_for_run(run_id) == "SUCCESS"
    containers = [stack.run_container(run_id)] + stack.service_containers("code-ingestion", "code-analytics", "daemon")
    for container in containers:
        env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
        assert env["DAGSTER_POSTGRES_USER"] == stack.settings["DAGSTER_DB_APP_USER"], container.name
        assert stack.settings["POSTGRES_PASSWORD"] not in env.values(), f"{container.name} holds the owner's password"


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
