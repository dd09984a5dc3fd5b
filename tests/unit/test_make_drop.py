"""`make drop` stores a file under exactly the key given, whatever characters the key holds, and
runs nothing in it. The real Makefile and deploy/s3/drop.py against a real S3 server; only
`compose exec webserver` is replaced, by running drop.py here."""

import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.harness.repo import REPO, SAMPLES


@pytest.fixture
def compose_here(tmp_path) -> Path:
    """Stands in for deploy/scripts/compose.sh: `exec -T webserver python <drop.py> KEY` runs drop.py here."""
    script = tmp_path / "compose"
    script.write_text(
        f'#!/bin/sh\nshift 5\nexec {shlex.quote(sys.executable)} {shlex.quote(str(REPO / "deploy" / "s3" / "drop.py"))} "$@"\n'
    )
    script.chmod(0o755)
    return script


def make_drop(compose: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-s", "-C", str(REPO), "drop", f"COMPOSE={compose}", *args],
        capture_output=True, text=True, timeout=120, check=False,
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
def test_drop_stores_the_literal_key_and_runs_nothing(template, compose_here, s3_client, landing_bucket, tmp_path):
    marker = tmp_path / f"pwned-{uuid.uuid4().hex}"
    key = template.format(marker=marker)
    result = make_drop(compose_here, f"FILE={SAMPLES / 'orders-2024-05-01.csv'}", f"KEY={key}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not marker.exists(), "a command in the key ran"
    stored = s3_client.get_object(Bucket=landing_bucket, Key=key)["Body"].read()
    assert stored == (SAMPLES / "orders-2024-05-01.csv").read_bytes()


def test_drop_defaults_the_key_to_the_files_name(compose_here, s3_client, landing_bucket):
    result = make_drop(compose_here, f"FILE={SAMPLES / 'commandes été 2024.csv'}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert s3_client.head_object(Bucket=landing_bucket, Key="commandes été 2024.csv")["ContentLength"] > 0
