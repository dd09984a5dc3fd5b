"""Where things are in the repository, and how its env files read; no Docker needed."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
# Each live stack is named by one file: its compose project, network and ports, and (STACK_ENV)
# the git-ignored file its generated secrets go to. A user's .env, volumes and ports are never touched.
TEST_STACK = REPO / "tests" / "stack.env"
FAULT_STACK = REPO / "tests" / "faults" / "stack.env"
BENCH_STACK = REPO / "bench" / "stack.env"


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[key.strip()] = value.strip().strip('"')
    return values


def runs_the_s3_stand_in() -> bool:
    """Whether stacks here run the registry-less world's SeaweedFS in place of MinIO."""
    return read_env_file(REPO / ".stack" / "images.env").get("STACK_WORLD") == "local"


def stack_files(stack_file: Path) -> dict[str, str]:
    """The two files deploy/scripts/compose.sh reads for a stack: its secrets and its identity."""
    return {
        "STACK_ENV": str(REPO / read_env_file(stack_file)["STACK_ENV"]),
        "STACK_ENV_OVERRIDES": str(stack_file),
    }
