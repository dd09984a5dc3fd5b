"""`make new-location NAME=x` (deploy/scripts/new-location.py) on a copy of the repository: the
scaffold passes the same consistency checks as the locations we ship, and its own tests pass."""

import shutil
import subprocess
import sys

import pytest

from tests.harness.repo import REPO

SCRIPT = "deploy/scripts/new-location.py"


@pytest.fixture
def repo_copy(tmp_path):
    tracked = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, check=True).stdout
    for name in tracked.decode().split("\0"):
        source = REPO / name
        if name and source.is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tmp_path / name)
    return tmp_path


def scaffold(repo, name: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, name], cwd=repo, capture_output=True, text=True, check=False)


def test_a_new_location_is_registered_everywhere_and_its_tests_pass(repo_copy):
    result = scaffold(repo_copy, "sales")
    assert result.returncode == 0, result.stderr
    checks = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider",
         "tests/unit/test_stack_config.py", "code_locations/sales"],
        cwd=repo_copy, capture_output=True, text=True, check=False, timeout=600,
    )
    assert checks.returncode == 0, checks.stdout[-3000:]
    assert "test_greeting_materializes PASSED" in checks.stdout
    assert "test_every_code_location_has_a_server_and_a_workspace_entry PASSED" in checks.stdout


@pytest.mark.parametrize(
    "name, words",
    [
        ("Sales", "lower-case"),
        ("x;touch /tmp/p", "lower-case"),
        ("class", "lower-case"),
        ("json", "shadow"),
        ("ingestion", "exists already"),
    ],
)
def test_a_name_that_cannot_be_a_location_is_refused_and_nothing_changes(repo_copy, name, words):
    before = (repo_copy / "docker-compose.yml").read_text()
    result = scaffold(repo_copy, name)
    assert result.returncode != 0 and words in result.stderr, result.stderr
    assert (repo_copy / "docker-compose.yml").read_text() == before
