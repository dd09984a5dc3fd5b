#!/usr/bin/env bash
# Writes consistent dumps of the stack's Postgres to backups/: Dagster's database (runs, events,
# schedules, sensor cursors, partitions) and the warehouse's catalog, and says what else holds state.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
env_file="${STACK_ENV:-$repo/.env}"
. "$repo/deploy/scripts/_lib.sh"
require_internal_postgres "$env_file" "make backup"

warehouse_db="$(. "$env_file"; echo "${WAREHOUSE_DB:-warehouse}")"
mkdir -p "$repo/backups"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
file="$repo/backups/dagster-$stamp.dump"
# The warehouse's catalog goes next to it under the same time; restore.sh finds it there.
warehouse_file="$repo/backups/warehouse-$stamp.dump"

dump() { # DATABASE FILE
  # pg_dump reads one MVCC snapshot, so the dump is consistent while the stack keeps running.
  # Credentials come from the container's own environment: nothing here is exported to compose.
  "$repo/deploy/scripts/compose.sh" exec -T postgres \
    sh -c 'pg_dump --username "$POSTGRES_USER" --dbname "$1" --format=custom' dump "$1" >"$2.partial"
  mv "$2.partial" "$2"
  chmod 600 "$2"
  echo "Wrote $2 ($(du -h "$2" | cut -f1))."
}
dump "$(. "$env_file"; echo "${POSTGRES_DB:-dagster}")" "$file"
dump "$warehouse_db" "$warehouse_file"
# Read for the message only, in a subshell: exported, these would override compose's env files.
(
. "$env_file"
cat <<EOF_STATE
Also holding state, not in this dump:
  - the S3 volume (buckets ${LANDING_BUCKET:-landing}, ${IO_MANAGER_BUCKET:-dagster-io}, ${COMPUTE_LOG_BUCKET:-dagster-compute-logs}, ${WAREHOUSE_BUCKET:-warehouse}):
    copy it with any S3 client (e.g. 'aws s3 sync' against http://127.0.0.1:${S3_API_PORT:-9000}),
    or the Docker volume itself while the stack is stopped;
  - the warehouse's data: Parquet files in bucket ${WAREHOUSE_BUCKET:-warehouse} (lake/), which the catalog
    dump lists. Copy the bucket after this dump: files the catalog names must exist, while files
    written later are merely unlisted (DuckLake never rewrites a file in place);
  - $env_file: the credentials; without it neither the dump nor the volumes can be opened.
Restore with: make restore FILE=$file
EOF_STATE
)
