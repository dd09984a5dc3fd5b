"""The SeaweedFS stand-in puts no secret on a command line (any process can read those: ps,
/proc/PID/cmdline). The real entrypoint runs, with a `weed` that records how it was started."""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "deploy" / "s3" / "entrypoint.sh"
SECRETS = {"MINIO_ROOT_PASSWORD": "root-secret-4f1c9a", "S3_APP_SECRET_KEY": "app-secret-8d2e7b"}

# Records its arguments and, for `weed admin`, the options file and its mode. The others wait
# (at most 10 s) for the admin to finish recording before they exit: the first weed to exit
# makes the entrypoint stop the rest.
RECORDING_WEED = """#!/bin/sh
printf '%s\\n' "$*" >>"$RECORD/argv"
for arg in "$@"; do
  case "$arg" in -options=*) file="${arg#-options=}"; cat "$file" >"$RECORD/admin-options"; stat -c %a "$file" >"$RECORD/admin-options-mode"; touch "$RECORD/admin-done" ;; esac
done
tries=0
while [ ! -e "$RECORD/admin-done" ] && [ "$tries" -lt 100 ]; do sleep 0.1; tries=$((tries + 1)); done
"""


def test_no_secret_reaches_a_command_line_and_the_admin_still_gets_its_password(tmp_path):
    bin_dir, record, runtime = tmp_path / "bin", tmp_path / "record", tmp_path / "run"
    for folder in (bin_dir, record, runtime):
        folder.mkdir()
    (bin_dir / "weed").write_text(RECORDING_WEED)
    (bin_dir / "weed").chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "RECORD": str(record),
        "S3_RUNTIME_DIR": str(runtime),
        "MINIO_ROOT_USER": "root-user",
        "S3_APP_ACCESS_KEY": "app-user",
        "S3_APP_BUCKETS": "landing,dagster-io",
        **SECRETS,
    }
    subprocess.run(["bash", str(ENTRYPOINT), "server", str(tmp_path / "data")], env=env, timeout=60, check=False)
    command_lines = (record / "argv").read_text()
    assert command_lines.count("\n") == 3, command_lines
    assert not [secret for secret in SECRETS.values() if secret in command_lines], command_lines
    assert (record / "admin-options").read_text() == f"adminUser=root-user\nadminPassword={SECRETS['MINIO_ROOT_PASSWORD']}\n"
    assert (record / "admin-options-mode").read_text().strip() == "600"
