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


def start(tmp_path, **settings) -> Path:
    """Runs the entrypoint with the recording weed; returns the folder of what it recorded."""
    bin_dir, record, runtime = tmp_path / "bin", tmp_path / "record", tmp_path / "run"
    for folder in (bin_dir, record, runtime):
        folder.mkdir(exist_ok=True)
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
        **settings,
    }
    subprocess.run(["bash", str(ENTRYPOINT), "server", str(tmp_path / "data")], env=env, timeout=60, check=False)
    return record


def test_no_secret_reaches_a_command_line_and_the_admin_still_gets_its_password(tmp_path):
    record = start(tmp_path, MINIO_BROWSER="on")
    command_lines = (record / "argv").read_text()
    assert command_lines.count("\n") == 3, command_lines
    assert not [secret for secret in SECRETS.values() if secret in command_lines], command_lines
    assert (record / "admin-options").read_text() == f"adminUser=root-user\nadminPassword={SECRETS['MINIO_ROOT_PASSWORD']}\n"
    assert (record / "admin-options-mode").read_text().strip() == "600"


def test_with_the_console_off_only_the_store_and_its_s3_api_run(tmp_path):
    # Compose's default (S3_CONSOLE=off): MinIO starts no console then, and neither does the stand-in.
    (tmp_path / "record").mkdir()
    (tmp_path / "record" / "admin-done").touch()  # no admin will come to record: nothing waits for it
    record = start(tmp_path, MINIO_BROWSER="off")
    started = [line.split()[0] for line in (record / "argv").read_text().splitlines()]
    assert sorted(started) == ["s3", "server"], started
