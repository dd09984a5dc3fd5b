"""docs/configuration.md's table is the one list of settings: every variable of .env.example and
every one a compose file interpolates has exactly one row, with the default a user gets; and the
settings that point the stack at an external Postgres or S3 store are checked before anything
starts (deploy/scripts/_lib.sh's stack_profiles)."""

import re
import subprocess

import pytest
import yaml

from tests.harness.repo import REPO

PAGE = REPO / "docs" / "configuration.md"
COMPOSE_FILES = ("docker-compose.yml", "deploy/images/local/compose.yml", "code_locations/diagnostics/compose.yml")
INTERPOLATION = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}")
EXAMPLE_SETTING = re.compile(r"^(# )?([A-Z][A-Z0-9_]*)=(.*)$", re.MULTILINE)
ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \| ([^|]*?) \| ([^|]*?) \| (.*) \|$", re.MULTILINE)
IN_ENV_FILE = "`.env`"


def example_settings() -> dict[str, str]:
    """.env.example's variables -> the default the table shows for each: its value; `random` for an
    empty secret, which `make up` generates (not for one left commented out); else `empty`."""
    defaults = {}
    for commented, name, value in EXAMPLE_SETTING.findall((REPO / ".env.example").read_text()):
        if value:
            defaults[name] = f"`{value}`"
        elif re.search("PASSWORD|SECRET", name) and not commented:
            defaults[name] = "random"
        else:
            defaults[name] = "empty"
    return defaults


def compose_variables() -> dict[str, dict[str, set[str]]]:
    """Each variable a compose file interpolates -> {"files": where, "defaults": its `:-` defaults}."""
    found: dict[str, dict[str, set[str]]] = {}
    for name in COMPOSE_FILES:
        for variable, operator, default in INTERPOLATION.findall((REPO / name).read_text()):
            entry = found.setdefault(variable, {"files": set(), "defaults": set()})
            entry["files"].add(name)
            if "-" in operator:
                entry["defaults"].add(default)
    return found


def compose_default(entry: dict[str, set[str]]) -> str:
    (default,) = entry["defaults"] or {""}
    return f"`{default}`" if default else ("empty" if entry["defaults"] else "none")


def table_rows() -> dict[str, tuple[str, str, str]]:
    rows: dict[str, tuple[str, str, str]] = {}
    for name, default, where, meaning in ROW.findall(PAGE.read_text()):
        assert name not in rows, f"docs/configuration.md has two rows for {name}"
        rows[name] = (default, where, meaning)
    return rows


def expected_rows() -> dict[str, tuple[str, str, list[str]]]:
    """Variable -> (default, where it is set, the files that name it)."""
    example, compose = example_settings(), compose_variables()
    expected = {}
    for name in example.keys() | compose.keys():
        sources = ([".env.example"] if name in example else []) + sorted(compose.get(name, {}).get("files", ()))
        if name in example:
            expected[name] = (example[name], IN_ENV_FILE, sources)
        else:
            expected[name] = (compose_default(compose[name]), "", sources)
    return expected


def test_each_variable_has_one_default_across_the_compose_files():
    differing = {name: entry["defaults"] for name, entry in compose_variables().items() if len(entry["defaults"]) > 1}
    assert not differing, f"variables with different defaults in different places: {differing}"


def test_the_table_lists_every_setting_with_its_default_and_nothing_else():
    rows, expected = table_rows(), expected_rows()
    problems = []
    for name in sorted(expected.keys() - rows.keys()):
        default, where, sources = expected[name]
        row = f"| `{name}` | {default} | {where or '<`make` or environment>'} | <what it means> |"
        problems.append(f"no row for {name} (in {', '.join(sources)}); add:\n    {row}")
    for name in sorted(rows.keys() - expected.keys()):
        problems.append(f"the row for {name} names a variable neither .env.example nor any compose file has: remove it")
    for name in sorted(rows.keys() & expected.keys()):
        (default, where, _), (wanted_default, wanted_where, sources) = rows[name], expected[name]
        if default != wanted_default:
            problems.append(f"the row for {name} gives the default {default}; {', '.join(sources)} say {wanted_default}")
        if (where == IN_ENV_FILE) != (wanted_where == IN_ENV_FILE):
            place = "is in .env.example: say `.env`" if wanted_where else "is not in .env.example: say where it is set"
            problems.append(f"the row for {name} says it is set in {where}, but it {place}")
    assert not problems, "docs/configuration.md:\n" + "\n".join(problems)


def test_the_stacks_own_postgres_and_s3_store_are_optional_and_named_by_settings_only():
    """Nothing needs them where .env names external ones, and nothing reaches them by a literal
    name or port but the settings' defaults."""
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert services["postgres"]["profiles"] == ["internal-postgres"]
    assert services["minio"]["profiles"] == services["s3-identity"]["profiles"] == ["internal-s3"]
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            # A dependency may be required where it runs whenever its dependent does.
            runs_with_it = set(service.get("profiles") or ["default"]) <= set(services[dependency].get("profiles") or [])
            if services[dependency].get("profiles") and not runs_with_it:
                assert condition.get("required") is False, f"{name} requires {dependency}, which may not run"
        for variable, value in (service.get("environment") or {}).items():
            literal = INTERPOLATION.sub("", str(value))
            assert not re.search(r"\bminio:9000|\bhost=postgres\b|\bport=5432\b|^postgres$|^5432$", literal), (name, variable, value)


def profiles(tmp_path, settings: str) -> subprocess.CompletedProcess:
    """stack_profiles for an env file of these settings (no environment of the caller's)."""
    env_file = tmp_path / "stack.env"
    env_file.write_text("POSTGRES_USER=dagster\nPOSTGRES_PASSWORD=pw\nPOSTGRES_DB=dagster\n" + settings)
    return subprocess.run(
        ["bash", "-c", f'. "{REPO}/deploy/scripts/_lib.sh"; stack_profiles "$1" up', "-", str(env_file)],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, check=False,
    )


@pytest.mark.parametrize(
    "settings, started",
    [
        ("", {"internal-postgres", "internal-s3"}),
        ("DAGSTER_READONLY_UI=on\n", {"readonly-ui", "internal-postgres", "internal-s3"}),
        ("POSTGRES_HOST=db.example.com\nPOSTGRES_PORT=6543\nPOSTGRES_SSLMODE=require\n", {"internal-s3"}),
        ("S3_ENDPOINT_URL=https://s3.eu-west-1.amazonaws.com\nMINIO_ROOT_USER=a\nMINIO_ROOT_PASSWORD=b\n"
         "S3_APP_ACCESS_KEY=c\nS3_APP_SECRET_KEY=d\nS3_UPLOAD_ACCESS_KEY=e\nS3_UPLOAD_SECRET_KEY=f\n"
         "S3_READ_ACCESS_KEY=g\nS3_READ_SECRET_KEY=h\n", {"internal-postgres"}),
    ],
)
def test_settings_choose_the_optional_and_internal_services(tmp_path, settings, started):
    result = profiles(tmp_path, settings)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == started


@pytest.mark.parametrize(
    "settings, message",
    [
        ("S3_ENDPOINT_URL=https://s3.example.com\nS3_APP_ACCESS_KEY=app\nS3_APP_SECRET_KEY=secret\n",
         "S3_ENDPOINT_URL names an external S3 store (https://s3.example.com), so {env_file} must set MINIO_ROOT_USER "
         "MINIO_ROOT_PASSWORD S3_UPLOAD_ACCESS_KEY S3_UPLOAD_SECRET_KEY S3_READ_ACCESS_KEY S3_READ_SECRET_KEY"),
        ("S3_ENDPOINT_URL=s3.example.com\n", "S3_ENDPOINT_URL must be http(s)://host[:port], not 's3.example.com'"),
        ("POSTGRES_HOST=db.example.com\nPOSTGRES_PASSWORD=\n",
         "POSTGRES_HOST names an external Postgres (db.example.com), so {env_file} must set POSTGRES_PASSWORD"),
        ("POSTGRES_PORT=6543\n", "POSTGRES_PORT=6543 is for an external Postgres, but POSTGRES_HOST is empty"),
        ("POSTGRES_SSLMODE=require\n", "the stack's own Postgres (POSTGRES_HOST empty) has none"),
        ("POSTGRES_HOST=db\nPOSTGRES_SSLMODE=verify-full\n", "POSTGRES_SSLMODE=verify-full is not supported yet"),
        ("POSTGRES_SSLMODE=on\n", "POSTGRES_SSLMODE must be one of disable, allow, prefer, require, not 'on'"),
        ("DAGSTER_READONLY_UI=yes\n", "DAGSTER_READONLY_UI must be on or off, not 'yes'"),
        ("S3_CONSOLE=true\n", "S3_CONSOLE must be on or off, not 'true'"),
    ],
)
def test_settings_that_cannot_work_are_refused_saying_what_to_set(tmp_path, settings, message):
    result = profiles(tmp_path, settings)
    assert result.returncode != 0
    assert message.format(env_file=tmp_path / "stack.env") in result.stderr


def test_make_up_leaves_an_external_services_credentials_for_the_user_to_set(tmp_path):
    """A random password would open nothing on a server the stack did not make."""
    env_file = tmp_path / "stack.env"
    env_file.write_text("POSTGRES_HOST=db.example.com\nS3_ENDPOINT_URL=https://s3.example.com\n")
    subprocess.run([REPO / "deploy" / "scripts" / "ensure-env.sh", env_file], check=True, capture_output=True)
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line and not line.startswith("#"))
    for name in ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "S3_APP_SECRET_KEY", "S3_UPLOAD_SECRET_KEY", "S3_READ_SECRET_KEY"):
        assert values[name] == "", name
    # What the stack makes there itself (migrate creates these roles) still gets a random one.
    assert values["DAGSTER_DB_APP_PASSWORD"]


def test_compose_refuses_a_half_set_configuration_before_docker_runs(tmp_path):
    """`make up` and every other door go through compose.sh: nothing is built or started."""
    env_file, called = tmp_path / "stack.env", tmp_path / "docker-was-called"
    env_file.write_text("S3_ENDPOINT_URL=https://s3.example.com\nS3_APP_ACCESS_KEY=app\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(f"#!/bin/sh\ntouch {called}\nexit 1\n")
    (bin_dir / "docker").chmod(0o755)
    result = subprocess.run(
        [REPO / "deploy" / "scripts" / "compose.sh", "up", "-d"], capture_output=True, text=True, check=False,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "STACK_ENV": str(env_file)},
    )
    assert result.returncode != 0 and "must set MINIO_ROOT_USER MINIO_ROOT_PASSWORD S3_APP_SECRET_KEY" in result.stderr
    assert not called.exists()
