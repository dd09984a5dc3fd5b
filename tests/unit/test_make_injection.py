"""No make variable is code: whatever FILE, Q, WRITE, SERVICE or any other variable given to make
holds reaches the command as data, and nothing in it runs. The real Makefile and host scripts; only
deploy/scripts/compose.sh is replaced, by a script that records what it was asked to run, and
`docker` by one that passes `make docker`'s checks: these tests need no Docker engine."""

import shlex
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness.repo import REPO

HOSTILE = [
    "$(shell touch {marker})",
    "x`touch {marker}`",
    "x$$(touch {marker})",
    "x\"; touch {marker}; echo \"",
    "x'; touch {marker}; echo '",
]


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / f"pwned-{uuid.uuid4().hex}"


@pytest.fixture
def recording_compose(tmp_path) -> tuple[Path, Path]:
    """A compose that writes each argument it got on a line of its own, then exits 0."""
    record, script = tmp_path / "compose-args", tmp_path / "compose"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" >{shlex.quote(str(record))}\n")
    script.chmod(0o755)
    return script, record


@pytest.fixture
def env_file(tmp_path) -> Path:
    path = tmp_path / "stack.env"
    path.write_text("S3_READ_ACCESS_KEY=reader\nS3_READ_SECRET_KEY=read-secret\nWAREHOUSE_READER_PASSWORD=pw\n")
    return path


@pytest.fixture(scope="module")
def make(tmp_path_factory) -> Callable[..., subprocess.CompletedProcess]:
    """Runs the real make with a `docker` on PATH that answers `docker info` and Compose's version."""
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "docker").write_text('#!/bin/sh\n[ "$1 $2" = "compose version" ] && echo 2.40.0\nexit 0\n')
    (bin_dir / "docker").chmod(0o755)

    def run(*args: str, env_file: Path | None = None) -> subprocess.CompletedProcess:
        env = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp"}
        env |= {"STACK_ENV": str(env_file)} if env_file else {}
        return subprocess.run(
            ["make", "-s", "-C", str(REPO), *args], capture_output=True, text=True, timeout=120, check=False, env=env
        )

    return run


@pytest.mark.parametrize("template", HOSTILE)
def test_restore_file_runs_nothing(make, template, marker):
    name = template.format(marker=marker)
    result = make("restore", f"FILE={name}")
    assert not marker.exists(), "a command in FILE ran"
    assert result.returncode == 2 and f"error: '{name}' is not a backup" in result.stderr, result.stderr


@pytest.mark.parametrize("template", [*HOSTILE, "select '$x', '$1', '$$y', $(FILE)"])
def test_sql_statement_reaches_duckdb_exactly(make, template, marker, recording_compose, env_file):
    compose, record = recording_compose
    statement = template.format(marker=marker)
    result = make("sql", f"COMPOSE={compose}", f"Q={statement}", env_file=env_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not marker.exists(), "a command in Q ran"
    assert record.read_text().splitlines()[-1] == statement


@pytest.mark.parametrize("variable", ["WRITE", "SERVICE", "YES", "ANY_OTHER"])
def test_no_variable_is_expanded_by_make(make, variable, marker, recording_compose, env_file):
    compose, _ = recording_compose
    make("sql", f"COMPOSE={compose}", "Q=select 1", f"{variable}=$(shell touch {marker})", env_file=env_file)
    assert not marker.exists(), f"a command in {variable} ran"


def test_read_only_sql_gets_the_readers_keys_not_on_the_command_line(make, recording_compose, env_file):
    compose, record = recording_compose
    assert make("sql", f"COMPOSE={compose}", "Q=select 1", env_file=env_file).returncode == 0
    args = record.read_text().splitlines()
    assert "read-secret" not in args and "pw" not in args
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "WAREHOUSE_DB_USER", "WAREHOUSE_DB_PASSWORD"} <= set(args)
    assert "WAREHOUSE_WRITE=1" not in args
