"""The Dagster version is written once (deploy/images/runtime.in) and every other pin follows it:
what `make upgrade DAGSTER=<version>` relies on (deploy/scripts/dagster-version.py)."""

import shutil
import subprocess
import sys

import pytest

from tests.harness.repo import REPO

SCRIPT = REPO / "deploy" / "scripts" / "dagster-version.py"
PINNED = ["deploy/images", "tests/requirements.in", "tests/requirements.lock", "code_locations"]


def version_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)


def test_every_dagster_pin_follows_the_one_version():
    result = version_tool("check")
    assert result.returncode == 0, result.stderr
    assert "dagster==" + version_tool("show").stdout.strip() in (REPO / "deploy/images/runtime.lock").read_text()


@pytest.fixture
def copy(tmp_path):
    """The files that pin Dagster, copied: what `set` rewrites."""
    for relative in PINNED:
        source, target = REPO / relative, tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("tests", "__pycache__", ".tmp_dagster_home_*"))
        else:
            shutil.copy(source, target)
    return tmp_path


def test_set_rewrites_every_hand_written_pin_and_check_then_names_the_stale_locks(copy):
    assert version_tool("--root", str(copy), "set", "1.13.26").returncode == 0

    assert version_tool("--root", str(copy), "show").stdout.strip() == "1.13.26"
    assert '"dagster-duckdb==0.29.26"' in (copy / "code_locations/analytics/pyproject.toml").read_text()
    assert "dagster-k8s==0.29.26" in (copy / "deploy/images/dagster.in").read_text()
    assert "dagster-dg-cli==1.13.26" in (copy / "tests/requirements.in").read_text()
    stale = version_tool("--root", str(copy), "check")
    assert stale.returncode == 1
    assert "deploy/images/runtime.lock" in stale.stderr and "dagster-postgres==0.29.27" in stale.stderr
    assert ".in:" not in stale.stderr and "pyproject.toml" not in stale.stderr


@pytest.mark.parametrize("version", ["2.0.0", "1.13", "1.13.27; touch x", "", "latest"])
def test_set_refuses_what_is_not_a_release(copy, version):
    before = (copy / "deploy/images/runtime.in").read_text()
    result = version_tool("--root", str(copy), "set", version)
    assert result.returncode != 0 and "is not a Dagster 1.x release" in result.stderr
    assert (copy / "deploy/images/runtime.in").read_text() == before
