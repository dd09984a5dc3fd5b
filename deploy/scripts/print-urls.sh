#!/usr/bin/env bash
# Tells the user where the running stack is and which world (image source) it runs in.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
# Plain shell variables, never exported: exported, they would override compose's env files.
. "${STACK_ENV:-$repo/.env}"
if [ -n "${STACK_ENV_OVERRIDES:-}" ]; then . "$STACK_ENV_OVERRIDES"; fi
. "$repo/.stack/images.env"
host="${BIND_ADDRESS:-127.0.0.1}"
[ "$host" = 0.0.0.0 ] && host=localhost

if [ "$STACK_WORLD" = local ]; then
  world="registry-less: base images built here from Debian packages and PyPI; SeaweedFS stands in for MinIO"
  console="S3 admin UI (SeaweedFS)"
else
  world="registry: official python, postgres and minio/minio images"
  console="MinIO console"
fi

if [ "${S3_CONSOLE:-off}" = on ]; then
  console_url="http://$host:${S3_CONSOLE_PORT:-9001}"
else
  console_url="off (S3_CONSOLE=on in ${STACK_ENV:-.env}, then make up)"
fi

scheme=http
[ "${DAGSTER_UI_TLS:-off}" = on ] && scheme=https

cat <<EOF_URLS

Dagster Stack is up ($world).
  Dagster UI     $scheme://$host:${DAGSTER_WEBSERVER_PORT:-3000}    log in as ${DAGSTER_UI_USER:-admin}, password DAGSTER_UI_PASSWORD in ${STACK_ENV:-.env}
  Read-only UI   $scheme://$host:${DAGSTER_READONLY_PORT:-3001}    log in as ${DAGSTER_VIEWER_USER:-viewer}, password DAGSTER_VIEWER_PASSWORD in ${STACK_ENV:-.env}
  S3 API         http://$host:${S3_API_PORT:-9000}    drop files into bucket '${LANDING_BUCKET:-landing}'
  $console  $console_url
  Uploads        make drop FILE=..., or any S3 client with S3_UPLOAD_ACCESS_KEY / S3_UPLOAD_SECRET_KEY
                 from ${STACK_ENV:-.env} (puts files into '${LANDING_BUCKET:-landing}', nothing more)
  $console login  MINIO_ROOT_USER / MINIO_ROOT_PASSWORD: the store's root; not for uploads
EOF_URLS
