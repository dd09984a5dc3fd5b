"""Edits to a code location's code while its stack runs (make reload, make dev), undone after."""

import os
import shutil
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path

from tests.harness.repo import REPO

ASSET_NAMES = """
query ($location: String!) {
  repositoryOrError(repositorySelector: {repositoryLocationName: $location, repositoryName: "__repository__"}) {
    ... on Repository { assetNodes { assetKey { path } } }
  }
}
"""


def asset_names(stack, location: str) -> set[str]:
    repository = stack.query(ASSET_NAMES, {"location": location})["repositoryOrError"]
    return {"/".join(node["assetKey"]["path"]) for node in repository.get("assetNodes", [])}


@contextmanager
def new_asset(location: str):
    """Adds an asset, and a job that materializes it, to a location's definitions; yields the
    asset's name (the job is `<name>_job`) and restores the file afterwards."""
    definitions = REPO / "code_locations" / location / location / "definitions.py"
    original = definitions.read_text()
    name = f"probe_{uuid.uuid4().hex[:8]}"
    definitions.write_text(
        original
        + f"\n\n@dg.asset\ndef {name}() -> None:\n    pass\n\n\n"
        + f'defs = dg.Definitions.merge(defs, dg.Definitions(assets=[{name}], jobs=[dg.define_asset_job("{name}_job", [{name}])]))\n'
    )
    try:
        yield name
    finally:
        definitions.write_text(original)


def make(stack, *arguments: str, recompute_tag_of: str | None = None, session_tags: bool = True) -> subprocess.CompletedProcess:
    """`make ...` from the host, as a user types it, against this stack. The session keeps its
    image tags fixed; `recompute_tag_of` lets one location's tag follow an edit of its code, and
    `session_tags=False` lets every tag follow the code, as in a user's shell."""
    env = {**os.environ, **stack.env_files, **(stack.image_tags if session_tags else {})}
    if not session_tags:
        env = {name: value for name, value in env.items() if not name.endswith("IMAGE_TAG")}
    if recompute_tag_of:
        env.pop(f"{recompute_tag_of.upper()}_IMAGE_TAG")
    return subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL, check=False,
    )


def dev_marker(stack) -> Path:
    return Path(f"{stack.env_files['STACK_ENV']}.dev-mode")


def worktree_files() -> dict[str, tuple[bytes, int]]:
    """Every file of the checkout that git would see (tracked, or untracked and not ignored):
    path -> (content, mode)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    files = {}
    for name in filter(None, listed.split("\0")):
        path = REPO / name
        if path.is_file():
            files[name] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return files


@contextmanager
def worktree_restored(*new_folders: Path):
    """Puts the checkout back as it was, whatever the body did or however it failed: files it
    added are removed (and `new_folders`, ignored files and all), files it changed or removed are
    written back with their modes."""
    before = worktree_files()
    try:
        yield
    finally:
        for name in set(worktree_files()) - set(before):
            (REPO / name).unlink()
        for folder in new_folders:
            shutil.rmtree(folder, ignore_errors=True)
        for name, (content, mode) in before.items():
            path = REPO / name
            if not path.is_file() or path.read_bytes() != content:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
            path.chmod(mode)
