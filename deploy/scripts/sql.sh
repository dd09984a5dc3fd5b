#!/usr/bin/env bash
# `make sql`: the statement in Q (none: a prompt) against the warehouse, in the analytics code
# server. Read-only unless WRITE=1: then as the warehouse's owner with the services' S3 key, as
# analytics runs do; otherwise as the catalog's SELECT-only role with the S3 reader's key, handed
# to this one command (analytics/sql.py also locks DuckDB's configuration and file access).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
compose="${COMPOSE:-$repo/deploy/scripts/compose.sh}"
env_file="${STACK_ENV:-$repo/.env}"

exec_args=(exec)
[ -n "${Q:-}" ] && exec_args+=(-T)
if [ "${WRITE:-}" = 1 ]; then
  exec_args+=(-e WAREHOUSE_WRITE=1)
else
  # Values reach `compose exec -e NAME` through the environment, never a command line.
  read_settings() { (. "$env_file"; printf '%s\n' "${S3_READ_ACCESS_KEY:-}" "${S3_READ_SECRET_KEY:-}" \
    "${WAREHOUSE_READER_USER:-warehouse_reader}" "${WAREHOUSE_READER_PASSWORD:-}"); }
  { read -r AWS_ACCESS_KEY_ID; read -r AWS_SECRET_ACCESS_KEY; read -r WAREHOUSE_DB_USER; read -r WAREHOUSE_DB_PASSWORD; } < <(read_settings)
  [ -n "$AWS_SECRET_ACCESS_KEY" ] && [ -n "$WAREHOUSE_DB_PASSWORD" ] \
    || { echo "error: $env_file lacks S3_READ_SECRET_KEY or WAREHOUSE_READER_PASSWORD; run make up once to add them" >&2; exit 1; }
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY WAREHOUSE_DB_USER WAREHOUSE_DB_PASSWORD
  exec_args+=(-e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e WAREHOUSE_DB_USER -e WAREHOUSE_DB_PASSWORD)
fi
exec "$compose" "${exec_args[@]}" code-analytics python -m analytics.sql ${Q:+"$Q"}
