"""Where things are in the repository, and how its env files read; no Docker needed."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
# Each live stack's own files: a user's .env, volumes and ports are never touched.
TEST_ENV_FILES = {
    "STACK_ENV": str(REPO / ".stack" / "test.env"),
    "STACK_ENV_OVERRIDES": str(REPO / "tests" / "stack.env"),
}
FAULT_ENV_FILES = {
    "STACK_ENV": str(REPO / ".stack" / "faults.env"),
    "STACK_ENV_OVERRIDES": str(REPO / "tests" / "faults" / "stack.env"),
}


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[key.strip()] = value.strip().strip('"')
    return values
