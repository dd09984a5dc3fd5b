"""Edits to a code location's code while its stack runs (make reload, make dev), undone after."""

import os
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


def make(stack, *arguments: str, recompute_tag_of: str | None = None) -> subprocess.CompletedProcess:
    """`make ...` from the host, as a user types it, against this stack. The session keeps its
    image tags fixed; `recompute_tag_of` lets one location's tag follow an edit of its code."""
    env = {**os.environ, **stack.env_files, **stack.image_tags}
    if recompute_tag_of:
        env.pop(f"{recompute_tag_of.upper()}_IMAGE_TAG")
    return subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL, check=False,
    )


def dev_marker(stack) -> Path:
    return Path(f"{stack.env_files['STACK_ENV']}.dev-mode")
