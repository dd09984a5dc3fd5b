"""`make drop` stores a file under exactly the key given, whatever characters the key holds, and
runs nothing in it. The real Makefile and deploy/s3/drop.py against a real S3 server; only
`compose exec webserver` is replaced, by running drop.py here."""

import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.harness.repo import REPO, SAMPLES
from tests.harness.s3_fixtures import ACCESS_KEY, SECRET_KEY


@pytest.fixture
def compose_here(tmp_path) -> Path:
    """Stands in for deploy/scripts/compose.sh: `exec -T webserver python <drop.py> KEY` runs drop.py here."""
    script = tmp_path / "compose"
    script.write_text(
        f'#!/bin/sh\nshift 9\nPYTHONPATH={shlex.quote(str(REPO / "lib"))} '
        f'exec {shlex.quote(sys.executable)} {shlex.quote(str(REPO / "deploy" / "s3" / "drop.py"))} "$@"\n'
    )
    script.chmod(0o755)
    return script


@pytest.fixture
def uploader_env(tmp_path, stack_env) -> Path:
    """The stack's env file as `make drop` reads it: the uploader's key, here the test server's."""
    env_file = tmp_path / "stack.env"
    env_file.write_text(f"S3_UPLOAD_ACCESS_KEY={ACCESS_KEY}\nS3_UPLOAD_SECRET_KEY={SECRET_KEY}\n")
    return env_file


def make_drop(compose: Path, *args: str, env_file: Path) -> subprocess.CompletedProcess:
    # Only the env file's uploader key may reach drop.py: the test's own key is taken away.
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    return subprocess.run(
        ["make", "-s", "-C", str(REPO), "drop", f"COMPOSE={compose}", *args],
        capture_output=True, text=True, timeout=120, check=False, env={**env, "STACK_ENV": str(env_file)},
    )


@pytest.mark.parametrize(
    "template",
    [
        "x`touch {marker}`.csv",
        "x$(touch {marker}).csv",
        "x$(shell touch {marker}).csv",
        "x'; touch {marker}; echo '.csv",
        'x"; touch {marker}; echo ".csv',
        "x $$HOME $(FILE) {marker}.csv",
    ],
)
def test_drop_stores_the_literal_key_and_runs_nothing(template, compose_here, uploader_env, s3_client, landing_bucket, tmp_path):
    marker = tmp_path / f"pwned-{uuid.uuid4().hex}"
    key = template.format(marker=marker)
    result = make_drop(compose_here, f"FILE={SAMPLES / 'orders-2024-05-01.csv'}", f"KEY={key}", env_file=uploader_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not marker.exists(), "a command in the key ran"
    stored = s3_client.get_object(Bucket=landing_bucket, Key=key)["Body"].read()
    assert stored == (SAMPLES / "orders-2024-05-01.csv").read_bytes()


def test_drop_defaults_the_key_to_the_files_name(compose_here, uploader_env, s3_client, landing_bucket):
    result = make_drop(compose_here, f"FILE={SAMPLES / 'commandes été 2024.csv'}", env_file=uploader_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert s3_client.head_object(Bucket=landing_bucket, Key="commandes été 2024.csv")["ContentLength"] > 0


@pytest.mark.parametrize("key", ["processed/orders.csv", "quarantine/orders.csv"])
def test_drop_refuses_the_stacks_own_prefixes(key, compose_here, uploader_env, s3_client, landing_bucket):
    result = make_drop(compose_here, f"FILE={SAMPLES / 'orders-2024-05-01.csv'}", f"KEY={key}", env_file=uploader_env)
    assert result.returncode != 0
    assert "where the stack keeps the files it has handled" in result.stdout + result.stderr
    assert "Contents" not in s3_client.list_objects_v2(Bucket=landing_bucket)
