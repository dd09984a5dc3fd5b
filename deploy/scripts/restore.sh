#!/usr/bin/env bash
# Restores a dump written by backup.sh into the running stack's Postgres, replacing its contents,
# and the warehouse catalog dumped beside it (backups/warehouse-<same time>.dump), if there is one.
# The webservers and daemon are stopped meanwhile so nothing writes half-way; asks first unless YES=1.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dump="${1:-}"
[ -n "$dump" ] || { echo "usage: make restore FILE=backups/dagster-<time>.dump" >&2; exit 2; }
[ -s "$dump" ] || { echo "error: '$dump' is not a dump file" >&2; exit 2; }
compose="$repo/deploy/scripts/compose.sh"
env_file="${STACK_ENV:-$repo/.env}"
. "$repo/deploy/scripts/_lib.sh"
require_internal_postgres "$env_file" "make restore"
warehouse_dump="$(dirname "$dump")/$(basename "$dump" | sed 's/^dagster-/warehouse-/')"
[ "$warehouse_dump" != "$dump" ] && [ -s "$warehouse_dump" ] || warehouse_dump=""

if [ "${YES:-}" != 1 ]; then
  read -r -p "Replace this stack's run history with $dump? [y/N] " answer
  [ "$answer" = y ] || [ "$answer" = Y ] || { echo "Nothing restored."; exit 1; }
fi

"$compose" stop webserver webserver-readonly daemon
# --clean drops each object before recreating it, so the result is the dump, whatever was there.
# Credentials come from the container's own environment: nothing here is exported to compose.
"$compose" exec -T postgres sh -c 'pg_restore --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --clean --if-exists --no-owner --single-transaction' <"$dump"
if [ -n "$warehouse_dump" ]; then
  # Restored as the warehouse's role (SET ROLE), so it owns its catalog tables again.
  read -r warehouse_db warehouse_user < <(. "$env_file"; echo "${WAREHOUSE_DB:-warehouse} ${WAREHOUSE_DB_USER:-warehouse}")
  "$compose" exec -T postgres sh -c 'pg_restore --username "$POSTGRES_USER" --dbname "$1" --role "$2" \
    --clean --if-exists --no-owner --single-transaction' restore "$warehouse_db" "$warehouse_user" <"$warehouse_dump"
  echo "Restored the warehouse catalog from $warehouse_dump."
fi
# Everything the stack runs (the read-only UI only if it is on), then the same wait as `make up`.
"$compose" up -d --no-build
"$repo/deploy/scripts/wait-healthy.py"
echo "Restored $dump."
