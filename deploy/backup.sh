#!/usr/bin/env bash
# Writes a consistent dump of the stack's Postgres (runs, events, schedules, sensor cursors,
# partitions) to backups/, and says what else holds state.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
env_file="${STACK_ENV:-$repo/.env}"

mkdir -p "$repo/backups"
file="$repo/backups/dagster-$(date -u +%Y%m%dT%H%M%SZ).dump"
# pg_dump reads one MVCC snapshot, so the dump is consistent while the stack keeps running.
# Credentials come from the container's own environment: nothing here is exported to compose.
"$repo/deploy/compose" exec -T postgres \
  sh -c 'pg_dump --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --format=custom' >"$file.partial"
mv "$file.partial" "$file"
chmod 600 "$file"
echo "Wrote $file ($(du -h "$file" | cut -f1))."
# Read for the message only, in a subshell: exported, these would override compose's env files.
(
. "$env_file"
cat <<EOF_STATE
Also holding state, not in this dump:
  - the S3 volume (buckets ${LANDING_BUCKET:-landing}, ${IO_MANAGER_BUCKET:-dagster-io}, ${COMPUTE_LOG_BUCKET:-dagster-compute-logs}):
    copy it with any S3 client (e.g. 'aws s3 sync' against http://127.0.0.1:${S3_API_PORT:-9000}),
    or the Docker volume itself while the stack is stopped;
  - $env_file: the credentials; without it neither the dump nor the volumes can be opened.
Restore with: make restore FILE=$file
EOF_STATE
)
