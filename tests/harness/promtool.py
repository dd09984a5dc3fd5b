"""promtool, Prometheus's own checker of configs and rules, from Debian's prometheus package: the
package is downloaded and only promtool unpacked into .stack/tools/, never installed (installing
would set up a Prometheus service on this host). One on PATH is used as it is."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.harness.repo import REPO

UNPACKED = REPO / ".stack" / "tools" / "promtool"


def promtool() -> str:
    found = shutil.which("promtool") or (str(UNPACKED) if UNPACKED.exists() else None)
    if found:
        return found
    if not shutil.which("apt-get"):
        raise RuntimeError("promtool is missing: install Prometheus (Debian: the prometheus package), or put promtool on PATH")
    with tempfile.TemporaryDirectory() as folder:
        download = ["apt-get", "download", "-q", "prometheus"]
        if subprocess.run(download, cwd=folder, capture_output=True).returncode != 0:
            # A fresh machine has no package lists yet.
            subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
            subprocess.run(download, cwd=folder, check=True, capture_output=True)
        (package,) = Path(folder).glob("prometheus_*.deb")
        subprocess.run(["dpkg-deb", "-x", package, f"{folder}/root"], check=True)
        UNPACKED.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f"{folder}/root/usr/bin/promtool", UNPACKED)
    return str(UNPACKED)
