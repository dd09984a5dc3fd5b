#!/usr/bin/env bash
# `make backup`: one consistent set in backups/<UTC time>/ (mode 0700, files 0600): Dagster's
# database and the warehouse's catalog (pg_dump), every object of the stack's four buckets, and
# manifest.json listing all of it with checksums (deploy/scripts/backup-set.py, docs/operations.md).
#
# Consistency: the daemon (sensors, schedules, the run queue) is stopped for the backup and the
# runs already going are waited for, so no run moves a file between the dumps and the object copy.
# The catalog is dumped before the objects are copied: every Parquet file it names is in the copy,
# and a file written later is merely unlisted. Uploads keep landing meanwhile; they are ingested
# after the backup (and, if copied, again after a restore).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
. "$repo/deploy/scripts/_lib.sh"
compose="$repo/deploy/scripts/compose.sh"
env_file="${STACK_ENV:-$repo/.env}"
# How long to wait for the runs in progress to end before backing up beside them.
wait_seconds="${BACKUP_RUN_WAIT_SECONDS:-600}"

require_internal_postgres "$env_file" "make backup"
require_running "$compose" "$env_file" "a backup reads its Postgres and S3 store"
read -r dagster_db warehouse_db < <(. "$env_file"; echo "${POSTGRES_DB:-dagster} ${WAREHOUSE_DB:-warehouse}")

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
umask 077
mkdir -p "$repo/backups"
# Written under a .partial name and renamed when whole: a directory named by its time is complete.
dir="$repo/backups/$stamp"
partial="$dir.partial"
mkdir "$partial" "$partial/postgres"
started="$EPOCHREALTIME"

daemon_running="$("$compose" ps --status running -q daemon)"
resume() {
  if [ -n "$daemon_running" ]; then
    "$compose" start daemon >/dev/null 2>&1 || echo "warning: could not start the daemon again: run 'make start'" >&2
  fi
}
trap 'resume; rm -rf "$partial"' EXIT
if [ -n "$daemon_running" ]; then
  echo "Pausing the daemon (sensors, schedules, run queue) for the backup..."
  "$compose" stop daemon >/dev/null
fi

psql_value() { # DATABASE SQL
  "$compose" exec -T postgres sh -c 'psql --username "$POSTGRES_USER" --dbname "$1" -At -c "$2"' psql "$1" "$2"
}
in_progress() { psql_value "$dagster_db" "SELECT count(*) FROM runs WHERE status IN ('STARTING', 'STARTED', 'CANCELING')"; }
deadline=$((SECONDS + wait_seconds))
while [ "$(in_progress)" != 0 ]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "warning: $(in_progress) run(s) still in progress after ${wait_seconds} s; backing up beside them (their later writes are not in it)" >&2
    break
  fi
  sleep 2
done

dump() { # DATABASE NAME
  # pg_dump reads one MVCC snapshot. Credentials come from the container's own environment.
  "$compose" exec -T postgres \
    sh -c 'pg_dump --username "$POSTGRES_USER" --dbname "$1" --format=custom' dump "$1" >"$partial/postgres/$2.dump"
}
dump "$dagster_db" dagster
dump "$warehouse_db" warehouse

# What the manifest says about where the backup comes from: the time and the running images.
about="$(python3 -c 'import json, sys; print(json.dumps({"created": sys.argv[1], "project": sys.argv[2], "images": dict(line.split(" ", 1) for line in sys.argv[3].splitlines() if line)}))' \
  "$stamp" "$(docker inspect -f '{{index .Config.Labels "com.docker.compose.project"}}' "$("$compose" ps -q postgres)")" \
  "$("$compose" ps --format '{{.Service}} {{.Image}}')")"
# The objects, copied by the services' S3 identity in a one-off container of the Dagster image, as
# this host's user so the files are this user's.
"$compose" run --rm --no-deps -T --user "$(id -u):$(id -g)" \
  -v "$partial:/backup" -v "$repo/deploy/scripts/backup-set.py:/opt/dagster/deploy/backup-set.py:ro" \
  webserver python /opt/dagster/deploy/backup-set.py write /backup "$about"

resume
daemon_running=""
mv "$partial" "$dir"
trap - EXIT
echo "Wrote $dir ($(du -sh "$dir" | cut -f1), $(seconds_since "$started") s)."
echo "Keep $env_file beside it: the stack's credentials are not in the backup."
echo "Restore with: make restore FILE=backups/$stamp"
