"""Python code run in a process of its own, whose peak memory (VmHWM) is then its own to report."""

import os
import subprocess
import sys


def run_python(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    """Runs `script` with `args` in a fresh interpreter that imports what this one does."""
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
