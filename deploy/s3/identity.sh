#!/bin/sh
# One-shot, run in the S3 store's own image once the buckets exist: the stack's identities below
# root, each allowed only what its role needs (docs/security.md). Safe to run again; a changed
# secret in .env is applied.
#   services  S3_APP_*     read and write the stack's buckets (S3_APP_BUCKETS)
#   uploaders S3_UPLOAD_*  put objects into S3_UPLOAD_BUCKET, except under S3_UPLOAD_RESERVED (bucket/prefix/)
#   readers   S3_READ_*    read and list S3_READ_BUCKETS (the read-only UI, `make sql`), and only
#                          list S3_READ_LIST_BUCKETS (the metrics exporter counts landing's files)
# None can create or delete buckets, see other buckets, or administer the store.
set -eu
# "arn:aws:s3:::B<suffix>" for each bucket B of a comma-separated list, comma-separated.
resources() {
  listed="" old_ifs="$IFS"; IFS=","
  for item in $1; do listed="$listed${listed:+,}\"arn:aws:s3:::$item$2\""; done
  IFS="$old_ifs"
  printf '%s' "$listed"
}

if ! command -v mc >/dev/null 2>&1; then
  # SeaweedFS: its entrypoint grants each identity actions per bucket (deploy/s3/entrypoint.sh);
  # that uploaders may neither delete nor write under the reserved prefixes, a bucket policy says.
  # Signed with curl's SigV4: the stand-in's image has no S3 client.
  policy=/tmp/upload-bucket-policy.json
  uploader='{"AWS": ["arn:aws:iam::000000000000:user/uploader"]}'
  printf '%s\n' '{"Version": "2012-10-17", "Statement": [' \
    "{\"Effect\": \"Deny\", \"Principal\": $uploader, \"Action\": [\"s3:DeleteObject\"], \"Resource\": [$(resources "$S3_UPLOAD_BUCKET" "/*")]}," \
    "{\"Effect\": \"Deny\", \"Principal\": $uploader, \"Action\": [\"s3:PutObject\"], \"Resource\": [$(resources "$S3_UPLOAD_RESERVED" "*")]}" \
    ']}' >"$policy"
  # The root's password goes to curl in a file, never on its command line.
  (umask 077; printf 'user = "%s:%s"\n' "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/tmp/root.curlrc)
  # curl 7.88 signs neither the payload's hash unless given it, nor a bare `?policy` right.
  curl -fsS -K /tmp/root.curlrc --aws-sigv4 "aws:amz:us-east-1:s3" -X PUT -H "Content-Type: application/json" \
    -H "x-amz-content-sha256: $(sha256sum "$policy" | cut -d' ' -f1)" --data-binary "@$policy" \
    "http://minio:9000/$S3_UPLOAD_BUCKET?policy="
  echo "s3-identity: SeaweedFS identities are set by the store's entrypoint; the $S3_UPLOAD_BUCKET bucket policy is set"
  exit 0
fi

# MinIO: a policy and a user per identity, through its admin API. Only shell builtins and mc: the
# minio image ships no grep, tr or cat. Only here are the identities' secrets needed.
for variable in S3_APP_ACCESS_KEY S3_APP_SECRET_KEY S3_UPLOAD_ACCESS_KEY S3_UPLOAD_SECRET_KEY \
  S3_READ_ACCESS_KEY S3_READ_SECRET_KEY; do
  eval "value=\${$variable:-}"
  [ -n "$value" ] || { echo "s3-identity: $variable is not set; run make up once to add it to .env" >&2; exit 1; }
done

export MC_CONFIG_DIR=/tmp/mc
mc alias set stack http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null

# grant USER SECRET POLICY_NAME STATEMENTS...
grant() {
  user="$1" secret="$2" name="$3"
  shift 3
  policy="/tmp/$name.json"
  printf '%s\n' '{"Version": "2012-10-17", "Statement": [' "$@" ']}' >"$policy"
  mc admin policy create stack "$name" "$policy"
  mc admin user add stack "$user" "$secret"
  # mc before late 2024 fails a repeated attach with "already in effect": that is success here.
  if ! attached="$(mc admin policy attach stack "$name" --user "$user" 2>&1)"; then
    case "$attached" in
      *"already in effect"*) ;;
      *) echo "$attached" >&2; exit 1 ;;
    esac
  fi
}

grant "$S3_APP_ACCESS_KEY" "$S3_APP_SECRET_KEY" dagster-stack-app \
  "{\"Effect\": \"Allow\", \"Action\": [\"s3:GetBucketLocation\", \"s3:ListBucket\", \"s3:ListBucketMultipartUploads\"], \"Resource\": [$(resources "$S3_APP_BUCKETS" "")]}," \
  "{\"Effect\": \"Allow\", \"Action\": [\"s3:GetObject\", \"s3:PutObject\", \"s3:DeleteObject\", \"s3:AbortMultipartUpload\", \"s3:ListMultipartUploadParts\", \"s3:GetObjectTagging\", \"s3:PutObjectTagging\"], \"Resource\": [$(resources "$S3_APP_BUCKETS" "/*")]}"
grant "$S3_UPLOAD_ACCESS_KEY" "$S3_UPLOAD_SECRET_KEY" dagster-stack-upload \
  "{\"Effect\": \"Allow\", \"Action\": [\"s3:PutObject\", \"s3:AbortMultipartUpload\"], \"Resource\": [$(resources "$S3_UPLOAD_BUCKET" "/*")]}," \
  "{\"Effect\": \"Deny\", \"Action\": [\"s3:PutObject\"], \"Resource\": [$(resources "$S3_UPLOAD_RESERVED" "*")]}"
grant "$S3_READ_ACCESS_KEY" "$S3_READ_SECRET_KEY" dagster-stack-read \
  "{\"Effect\": \"Allow\", \"Action\": [\"s3:GetBucketLocation\", \"s3:ListBucket\"], \"Resource\": [$(resources "$S3_READ_BUCKETS${S3_READ_LIST_BUCKETS:+,$S3_READ_LIST_BUCKETS}" "")]}," \
  "{\"Effect\": \"Allow\", \"Action\": [\"s3:GetObject\"], \"Resource\": [$(resources "$S3_READ_BUCKETS" "/*")]}"
echo "s3-identity: $S3_APP_ACCESS_KEY reads and writes $S3_APP_BUCKETS; $S3_UPLOAD_ACCESS_KEY puts into $S3_UPLOAD_BUCKET; $S3_READ_ACCESS_KEY reads $S3_READ_BUCKETS and lists $S3_READ_LIST_BUCKETS"
