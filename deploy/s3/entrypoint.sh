#!/usr/bin/env bash
# Accepts MinIO's command line (`server DIR [--console-address :9001]`) and environment, and serves
# the same ports with SeaweedFS: S3 API on 9000, admin UI (the "console", if on) on 9001.
#
# Only those two ports listen beyond the container. The storage servers behind them (master,
# volume, filer) answer anyone who reaches them, so they stay on 127.0.0.1; otherwise a run could
# bypass its S3 identity by talking to the filer directly.
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

: "${MINIO_ROOT_USER:?MINIO_ROOT_USER is not set}"
: "${MINIO_ROOT_PASSWORD:?MINIO_ROOT_PASSWORD is not set}"

json_string() {
  case "$1" in
    *$'\n'*) echo "s3-entrypoint: credentials and bucket names may not contain a line break" >&2; exit 2 ;;
    *'"'* | *'\'*) echo "s3-entrypoint: credentials and bucket names may not contain \" or \\" >&2; exit 2 ;;
  esac
  printf '"%s"' "$1"
}

# SeaweedFS grants actions per bucket ("Write:landing"); what the uploader may not do inside landing
# (delete, or write under processed/ and quarantine/) a bucket policy denies (deploy/s3/identity.sh).
actions_on() {
  local buckets="$1" actions="$2" listed="" bucket action
  for bucket in ${buckets//,/ }; do
    for action in $actions; do
      listed+="${listed:+,}$(json_string "$action:$bucket")"
    done
  done
  printf '%s' "$listed"
}

# One identity, if its access key is set: name, access key, secret key, actions (JSON strings).
identity() {
  [ -n "$2" ] || return 0
  printf ',{"name":%s,"credentials":[{"accessKey":%s,"secretKey":%s}],"actions":[%s]}' \
    "$(json_string "$1")" "$(json_string "$2")" "$(json_string "${3:?the secret key of $1 is not set}")" "$4"
}

# Who may do what (docs/security.md): the root anything; the services (S3_APP_*) read and write
# the stack's buckets; uploaders (S3_UPLOAD_*) put files into landing; readers (S3_READ_*) read the
# buckets in S3_READ_BUCKETS and only list those in S3_READ_LIST_BUCKETS. SeaweedFS reads this file
# at start: a changed .env applies on restart.
write_identities() {
  printf '{"identities":[' >"$1"
  printf '{"name":"root","credentials":[{"accessKey":%s,"secretKey":%s}],"actions":["Admin","Read","List","Tagging","Write"]}' \
    "$(json_string "$MINIO_ROOT_USER")" "$(json_string "$MINIO_ROOT_PASSWORD")" >>"$1"
  identity stack "${S3_APP_ACCESS_KEY:-}" "${S3_APP_SECRET_KEY:-}" \
    "$(actions_on "${S3_APP_BUCKETS:-}" "Read Write List Tagging")" >>"$1"
  identity uploader "${S3_UPLOAD_ACCESS_KEY:-}" "${S3_UPLOAD_SECRET_KEY:-}" \
    "$(actions_on "${S3_UPLOAD_BUCKET:-}" "Write")" >>"$1"
  identity reader "${S3_READ_ACCESS_KEY:-}" "${S3_READ_SECRET_KEY:-}" \
    "$(actions_on "${S3_READ_BUCKETS:-}" "Read List")${S3_READ_LIST_BUCKETS:+,}$(actions_on "${S3_READ_LIST_BUCKETS:-}" "List")" >>"$1"
  printf ']}\n' >>"$1"
}

mkdir -p "$data_dir"
# Earlier versions of this image ran `weed mini`, which saved the flags of a start in mini.options
# and reapplied them at the next one. The command lines below are the whole configuration, so a
# saved copy goes; no stored object depends on it.
rm -f "$data_dir/mini.options"
# Secrets go to the servers in files only this user can read, never on a command line, which
# any process on the host can read (ps, /proc/PID/cmdline).
runtime_dir="${S3_RUNTIME_DIR:-/run}"
identities="$runtime_dir/s3-identities.json"
admin_options="$runtime_dir/s3-admin.options"
(
  umask 077
  write_identities "$identities"
  printf 'adminUser=%s\nadminPassword=%s\n' "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >"$admin_options"
)

# The container's memory limit in MiB (cgroup v2, then v1); none set counts as 1 GiB.
memory_limit_mb() {
  local bytes
  bytes="$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || true)"
  case "$bytes" in
    '' | max | *[!0-9]*) echo 1024 ;;
    *) if [ "$bytes" -ge $((1 << 50)) ]; then echo 1024; else echo $((bytes >> 20)); fi ;;
  esac
}

# Go sizes its heap by its own garbage alone and knows nothing of the container's limit: under a
# 500 MB upload the processes grew to the limit, the kernel then took back the pages of the weed
# binary itself, and everything stalled for minutes (the OOM killer ended it). Each process gets a
# soft limit (GOMEMLIMIT); Go gives freed memory back only as it nears it.
# - Go collects once the heap has grown by GOGC % since the last collection, and an idle store
#   allocates too little to start one: after a 500 MB upload and read the store held 530-600 MiB,
#   mostly garbage and pooled buffers, until Go's forced collection every two minutes. At
#   GOGC=25 it holds 310-380 MiB, and the upload takes as long (measured standalone, 2 GiB).
# - A soft limit near the server's live heap (about 300 MB during a 500 MB transfer; its volume
#   indexes and filer metadata grow with the objects stored) makes its collector run without
#   pause (0.1 cores, idle). It gets 40 % of the container's memory, the console 10 %.
# - The S3 gateway keeps about 15 MB live, yet held 570 MB of garbage for minutes after a 500 MB
#   upload and read; at 128 MiB it settles at once, and a 500 MB upload takes about a third longer.
#   It holds at most S3_UPLOAD_BUFFER_MB of request bodies at once (more waits).
# - The gateway keeps each chunk it fetched for a GET until a reader reaches the chunk's end or
#   256 newer ones push it out. Ranged reads (boto3's download_file, DuckDB) leave the chunks
#   past each range unread: at the filer's 4 MiB chunks it kept 100 MB more for each 200 MB file
#   downloaded, up to 1 GiB, live. Files are cut into 1 MiB chunks (-filer.maxMB): 256 MiB at
#   most, and transfers as fast (measured standalone). SeaweedFS 4.48 caps this itself
#   (-readerCacheSizeMB), but 4.47 and 4.48 crash on calls their callers abandoned (fault test 11).
# The container's limit, not these, bounds the work in flight.
export GOGC=25
container_mb="$(memory_limit_mb)"
server_mb="${S3_SERVER_MEMORY_MB:-$((container_mb * 40 / 100))}"
gateway_mb="${S3_GATEWAY_MEMORY_MB:-128}"
upload_buffer_mb="${S3_UPLOAD_BUFFER_MB:-$((gateway_mb / 2))}"

# Master, volume server and filer in one process, on 127.0.0.1 only, with `weed mini`'s data layout
# and 1 GiB volumes. `weed mini` itself also starts an admin server of its own that binds every
# interface. Each bucket takes seven volumes; counted by the free disk (`-volume.max=0`), 3 GiB free
# left room for one bucket and 30 GiB for four, and writes to the others failed (InternalError).
# Volumes are sparse files, so the count is a formality; a full disk turns them read-only
# (-volume.minFreeSpace, 1 %). A restarted master resumes its Raft state and waits out an election
# timeout before it leads (10 s by default, 16 s to S3 measured); it is the only master, so 1 s:
# 3-4 s to S3, as on a first start.
GOMEMLIMIT="${server_mb}MiB" weed server -dir="$data_dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -filer -filer.maxMB=1 -s3=false -webdav=false -volume.port=9340 -master.volumeSizeLimitMB=1024 -volume.max=10000 \
  -master.telemetry=false -master.electionTimeout=1s &
GOMEMLIMIT="${gateway_mb}MiB" weed s3 -ip.bind=0.0.0.0 -port=9000 -filer=127.0.0.1:8888 \
  -config="$identities" -iam=false -port.iceberg=0 -port.lance=0 \
  -concurrentUploadLimitMB="$upload_buffer_mb" &
# The console is optional, as MinIO's is (MINIO_BROWSER=off, compose's default: S3_CONSOLE in .env):
# off, its process and its 20-odd MiB are not spent, and nothing answers on 9001.
if [ "${MINIO_BROWSER:-on}" = on ]; then
  GOMEMLIMIT="$((container_mb * 10 / 100))MiB" weed admin -port=9001 -masters=127.0.0.1:9333 \
    -dataDir="$data_dir/.admin" -options="$admin_options" &
fi

# One process down means the store is down: stop the others and exit, so the restart policy
# starts them all again.
stopping=no
trap 'stopping=yes; kill $(jobs -p) 2>/dev/null' TERM INT
status=0
wait -n || status=$?
if [ "$stopping" = no ]; then
  echo "s3-entrypoint: a SeaweedFS process exited ($status); stopping the others" >&2
  # shellcheck disable=SC2046 # one word per job id
  kill $(jobs -p) 2>/dev/null || true
fi
wait || true
exit "$status"
