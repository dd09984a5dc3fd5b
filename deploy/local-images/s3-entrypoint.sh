#!/usr/bin/env bash
# Accepts MinIO's command line (`server DIR [--console-address :9001]`) and environment, and serves
# the same ports with SeaweedFS: S3 API on 9000, admin UI (the "console") on 9001.
set -euo pipefail

if [ "${1:-}" != server ]; then
  exec "$@"
fi
shift
data_dir=/data
while [ $# -gt 0 ]; do
  case "$1" in
    --console-address) shift ;;
    --*) ;;
    *) data_dir="$1" ;;
  esac
  shift || true
done

export AWS_ACCESS_KEY_ID="${MINIO_ROOT_USER:?MINIO_ROOT_USER is not set}"
export AWS_SECRET_ACCESS_KEY="${MINIO_ROOT_PASSWORD:?MINIO_ROOT_PASSWORD is not set}"
mkdir -p "$data_dir"
exec weed mini -dir="$data_dir" -ip.bind=0.0.0.0 -s3.port=9000 \
  -admin.port=9001 -admin.user="$MINIO_ROOT_USER" -admin.password="$MINIO_ROOT_PASSWORD"
