#!/usr/bin/env bash
# `make restore FILE=backups/<time>`: puts a backup written by backup.sh back into the running
# stack, replacing its run history, warehouse catalog and bucket contents. The backup is checked
# against its manifest first; nothing is touched unless it is whole. Asks first unless YES=1.
# The webservers and the daemon are stopped meanwhile; then `migrate` brings the restored schema
# up to the installed dagster version (a backup from an older release) and grants the stack's
# roles their rights again, and everything starts. A Postgres-only dump of the earlier format
# (backups/dagster-<time>.dump, with warehouse-<time>.dump beside it) restores the databases only.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
. "$repo/deploy/scripts/_lib.sh"
compose="$repo/deploy/scripts/compose.sh"
env_file="${STACK_ENV:-$repo/.env}"
backup="${1:-}"
[ -n "$backup" ] || { echo "usage: make restore FILE=backups/<time>" >&2; exit 2; }
started="$EPOCHREALTIME"

if [ -d "$backup" ]; then
  backup="$(cd "$backup" && pwd)"
  python3 "$repo/deploy/scripts/backup-set.py" check "$backup" || exit 2
  dagster_dump="$backup/postgres/dagster.dump" warehouse_dump="$backup/postgres/warehouse.dump"
elif [ -f "$backup" ] && [ -s "$backup" ] && [[ "$backup" == *.dump ]]; then
  dagster_dump="$backup"
  warehouse_dump="$(dirname "$backup")/$(basename "$backup" | sed 's/^dagster-/warehouse-/')"
  [ "$warehouse_dump" != "$backup" ] && [ -s "$warehouse_dump" ] || warehouse_dump=""
  echo "note: '$backup' is a Postgres-only dump of the earlier format: the buckets are left as they are."
else
  echo "error: '$backup' is not a backup (a backups/<time>/ directory that make backup wrote)" >&2
  exit 2
fi
require_internal_postgres "$env_file" "make restore"
require_running "$compose" "$env_file" "a restore writes into its Postgres and S3 store"

if [ "${YES:-}" != 1 ]; then
  read -r -p "Replace this stack's run history, warehouse and bucket contents with $backup? [y/N] " answer
  [ "$answer" = y ] || [ "$answer" = Y ] || { echo "Nothing restored."; exit 1; }
fi

"$compose" stop webserver webserver-readonly daemon

read -r dagster_db warehouse_db warehouse_user < <(. "$env_file"; echo "${POSTGRES_DB:-dagster} ${WAREHOUSE_DB:-warehouse} ${WAREHOUSE_DB_USER:-warehouse}")
# In the postgres container: the dump on stdin replaces the schema of database $1 in one
# transaction, restored as role $2 (default: the owner), so it owns what it had. Rights are not
# restored (--no-acl): `migrate` grants them to this stack's roles. Should pg_restore fail half-way,
# a statement that fails follows its output ("\." first ends a COPY it was in): nothing commits.
restore_sql='{
  echo "DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION pg_database_owner;"
  echo "SET ROLE \"${2:-$POSTGRES_USER}\";"
  pg_restore --no-owner --no-acl --file=- || printf "\n\\\\.\nSELECT pg_restore_failed;\n"
} | psql --username "$POSTGRES_USER" --dbname "$1" --single-transaction --quiet --set ON_ERROR_STOP=1 >/dev/null'
restore_database() { # DATABASE ROLE DUMP
  "$compose" exec -T postgres sh -c "$restore_sql" restore "$1" "$2" <"$3"
  echo "Restored database $1."
}
restore_database "$dagster_db" "" "$dagster_dump"
[ -z "$warehouse_dump" ] || restore_database "$warehouse_db" "$warehouse_user" "$warehouse_dump"
"$compose" run --rm --no-deps -T migrate

if [ -d "$backup" ]; then
  "$compose" run --rm --no-deps -T --user "$(id -u):$(id -g)" \
    -v "$backup:/backup:ro" -v "$repo/deploy/scripts/backup-set.py:/opt/dagster/deploy/backup-set.py:ro" \
    webserver python /opt/dagster/deploy/backup-set.py restore /backup
fi

# Everything the stack runs (the read-only UI only if it is on), then the same wait as `make up`.
"$compose" up -d --no-build
"$repo/deploy/scripts/wait-healthy.py"
echo "Restored $backup ($(seconds_since "$started") s)."
