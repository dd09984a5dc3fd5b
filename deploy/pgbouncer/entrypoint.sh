#!/bin/sh
# Dagster opens a new Postgres connection for nearly every read and write (its storage uses no
# pool), and a Postgres connection is a forked backend that warms its caches from scratch: on an
# idle stack that was 13 connections a second. PgBouncer keeps a few backends and hands them out,
# so a connection costs a login, not a process. Session pooling: every Postgres feature Dagster
# uses (LISTEN, SET) behaves as with a direct connection, and DISCARD ALL cleans up in between.
#
# It stays in front of an external Postgres too (POSTGRES_HOST, docs/configuration.md): there each
# new connection also costs a TLS handshake and a network round trip or three, and managed
# servers cap connections low; the pool keeps a few open. POSTGRES_SSLMODE is libpq's sslmode.
#
# It knows the application role's login and, if POOL_READER_USER is set (compose sets it), the
# read-only webserver's reader role's; and one database, Dagster's. The owner role and the
# warehouse catalog are reached directly. Each client gets backends logged in as its own role, so
# the reader's stay read-only.
set -eu
: "${POOL_USER:?POOL_USER is not set}" "${POOL_PASSWORD:?POOL_PASSWORD is not set}" "${POOL_DATABASE:?POOL_DATABASE is not set}"
config=/tmp/pgbouncer
mkdir -p "$config"
umask 077
# The auth file's format: "user" "password", a double quote inside doubled.
login() { printf '"%s" "%s"\n' "$(printf '%s' "$1" | sed 's/"/""/g')" "$(printf '%s' "$2" | sed 's/"/""/g')"; }
{
  login "$POOL_USER" "$POOL_PASSWORD"
  if [ -n "${POOL_READER_USER:-}" ]; then
    login "$POOL_READER_USER" "${POOL_READER_PASSWORD:?POOL_READER_PASSWORD is not set}"
  fi
} >"$config/userlist.txt"
cat >"$config/pgbouncer.ini" <<INI
[databases]
$POOL_DATABASE = host=${POSTGRES_HOST:-postgres} port=${POSTGRES_PORT:-5432} dbname=$POOL_DATABASE

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir =
; A challenge-response login, on the stack's private network, with the random password
; make up generates. SCRAM's 4096 deliberate hashing rounds (there to slow the guessing of weak
; passwords) cost about 7 ms of CPU on each side of every login: a tenth of a core at the rate
; Dagster connects. PgBouncer still logs in to Postgres with SCRAM.
auth_type = md5
auth_file = $config/userlist.txt
pool_mode = session
server_reset_query = DISCARD ALL
max_client_conn = 500
default_pool_size = ${POOL_SIZE:-40}
; Backends idle a minute are closed: an idle stack keeps only the few its loops use (each
; other one held about 3 MiB; a new one costs a fork, milliseconds).
server_idle_timeout = 60
; TLS to Postgres as libpq's sslmode says (prefer: if the server offers it).
server_tls_sslmode = ${POSTGRES_SSLMODE:-prefer}
; After a failed login to Postgres (it is restarting), try again within a second, not 15.
server_login_retry = 1
; Check a pooled backend (SELECT 1) before every hand-out: after a Postgres restart the pool
; holds dead ones, and each would otherwise fail one request of the UI's.
server_check_delay = 0
; The client libraries' own settings; PgBouncer tracks the common ones itself.
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
INI
exec pgbouncer "$config/pgbouncer.ini"
