#!/bin/sh
# One-shot, run in the S3 store's own image: gives the stack's identity (S3_APP_ACCESS_KEY) read
# and write on the stack's buckets (S3_APP_BUCKETS) and nothing more: it cannot create or delete
# buckets, see other buckets, or administer the store. Safe to run again; a changed secret in .env
# is applied.
set -eu
: "${S3_APP_ACCESS_KEY:?S3_APP_ACCESS_KEY is not set; run make up once to add it to .env}"
: "${S3_APP_SECRET_KEY:?S3_APP_SECRET_KEY is not set; run make up once to add it to .env}"

if ! command -v mc >/dev/null 2>&1; then
  # The registry-less stand-in (SeaweedFS) reads its identities from a file its entrypoint
  # writes from the same variables (deploy/s3/entrypoint.sh).
  echo "s3-identity: $S3_APP_ACCESS_KEY is configured by the store's own entrypoint"
  exit 0
fi

# MinIO: a policy and a user, through its admin API. Only shell builtins and mc: the minio image
# ships no grep, tr or cat.
buckets="" objects=""
old_ifs="$IFS"; IFS=","
for bucket in $S3_APP_BUCKETS; do
  buckets="$buckets${buckets:+,}\"arn:aws:s3:::$bucket\""
  objects="$objects${objects:+,}\"arn:aws:s3:::$bucket/*\""
done
IFS="$old_ifs"
policy=/tmp/dagster-stack-policy.json
printf '%s\n' '{"Version": "2012-10-17", "Statement": [' \
  "{\"Effect\": \"Allow\", \"Action\": [\"s3:GetBucketLocation\", \"s3:ListBucket\", \"s3:ListBucketMultipartUploads\"], \"Resource\": [$buckets]}," \
  "{\"Effect\": \"Allow\", \"Action\": [\"s3:GetObject\", \"s3:PutObject\", \"s3:DeleteObject\", \"s3:AbortMultipartUpload\", \"s3:ListMultipartUploadParts\", \"s3:GetObjectTagging\", \"s3:PutObjectTagging\"], \"Resource\": [$objects]}" \
  ']}' >"$policy"

export MC_CONFIG_DIR=/tmp/mc
mc alias set stack http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc admin policy create stack dagster-stack-app "$policy"
mc admin user add stack "$S3_APP_ACCESS_KEY" "$S3_APP_SECRET_KEY"
# mc before late 2024 fails a repeated attach with "already in effect": that is success here.
if ! attached="$(mc admin policy attach stack dagster-stack-app --user "$S3_APP_ACCESS_KEY" 2>&1)"; then
  case "$attached" in
    *"already in effect"*) ;;
    *) echo "$attached" >&2; exit 1 ;;
  esac
fi
echo "s3-identity: $S3_APP_ACCESS_KEY may read and write $S3_APP_BUCKETS"
