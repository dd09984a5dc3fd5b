# shellcheck shell=bash
# Helpers shared by the deploy scripts (sourced, not run).

die() {
  echo "error: $*" >&2
  exit 1
}

# Installing system packages is only done where it is safe to do unasked: root on Debian/Ubuntu.
can_install_packages() {
  [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null
}

apt_updated=no
apt_install() {
  if [ "$apt_updated" = no ]; then
    apt-get update -q >/dev/null
    apt_updated=yes
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# Polls COMMAND until it succeeds or SECONDS_ pass; returns its last status.
wait_for() {
  local seconds_="$1"; shift
  local deadline=$((SECONDS + seconds_))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 1
  done
}

# Seconds, to a tenth, between two $EPOCHREALTIME readings; since one until now.
seconds_between() {
  awk -v from="$1" -v to="$2" 'BEGIN { printf "%.1f", to - from }'
}
seconds_since() {
  seconds_between "$1" "$EPOCHREALTIME"
}

# Removes the tags of REPOSITORY other than KEEP that no container (running or stopped) was
# created from. Checking by name matters: a rebuilt image is often identical to the old one, and
# Docker untags a shared image even while a container uses it; a stack whose code servers still
# advertise the old tag would then fail to launch its runs.
prune_image_tags() {
  local repository="$1" keep="$2" in_use tag
  in_use="$(docker ps -a --format '{{.Image}}')"
  for tag in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "$repository"); do
    if [ "$tag" != "$keep" ] && ! grep -qxF "$tag" <<<"$in_use"; then
      docker image rm "$tag" >/dev/null 2>&1 || true
    fi
  done
}

# The code locations: one folder with a pyproject.toml each under code_locations/.
code_locations() {
  local repo="$1" project
  for project in "$repo"/code_locations/*/pyproject.toml; do
    basename "$(dirname "$project")"
  done
}

# Exports IMAGE_TAG (the stack's own images) and <LOCATION>_IMAGE_TAG for each code location, the
# tags docker-compose.yml names images by, unless already set (a test session keeps its own).
export_image_tags() {
  local repo="$1" location variable
  IMAGE_TAG="${IMAGE_TAG:-$("$repo/deploy/scripts/image-tag.sh")}"
  export IMAGE_TAG
  for location in $(code_locations "$repo"); do
    variable="$(tr '[:lower:]' '[:upper:]' <<<"$location")_IMAGE_TAG"
    if [ -z "${!variable:-}" ]; then
      export "$variable=$("$repo/deploy/scripts/image-tag.sh" "$location")"
    fi
  done
}

# Exports WORKSPACE_HASH, the hash of the workspace files (the user's and the test stacks'), which
# labels the services that mount one: a changed workspace recreates them on the next `up`.
export_workspace_hash() {
  local repo="$1"
  WORKSPACE_HASH="$(cat "$repo/workspace.yaml" "$repo"/code_locations/*/workspace.yaml | sha256sum | cut -c1-12)"
  export WORKSPACE_HASH
}

# The value of setting NAME for the stack of ENV_FILE: the environment's, else the file's last.
stack_setting() {
  local name="$1" env_file="$2"
  if [ -n "${!name+set}" ]; then
    printf '%s' "${!name}"
  else
    sed -n "s/^$name=//p" "$env_file" | tail -n 1
  fi
}

# Prints the compose profiles the settings of ENV_FILE turn on, one a line (docs/configuration.md):
# each optional service by its setting, the stack's own Postgres and S3 store unless .env names
# external ones. For COMMAND `down`, all of them, so nothing that ran before stays behind (compose
# leaves the containers of a profile that is off, and the network they hold). Settings that
# cannot work (an external store without its keys, say) fail here, before anything starts.
stack_profiles() {
  local env_file="$1" command="${2:-}" readonly_ui s3_console metrics postgres_host s3_endpoint sslmode port
  if [ "$command" = down ]; then
    printf '%s\n' readonly-ui metrics monitoring internal-postgres internal-s3
    return
  fi
  readonly_ui="$(stack_setting DAGSTER_READONLY_UI "$env_file")"
  case "$readonly_ui" in
    on) echo readonly-ui ;;
    off | "") ;;
    *) die "DAGSTER_READONLY_UI must be on or off, not '$readonly_ui'" ;;
  esac
  # No profile: the store's own process (MinIO's MINIO_BROWSER) reads it.
  s3_console="$(stack_setting S3_CONSOLE "$env_file")"
  case "$s3_console" in
    on | off | "") ;;
    *) die "S3_CONSOLE must be on or off, not '$s3_console'" ;;
  esac
  # The metrics exporter, and Prometheus scraping it beside (docs/operations.md#metrics).
  metrics="$(stack_setting DAGSTER_METRICS "$env_file")"
  case "$metrics" in
    on) echo metrics ;;
    monitoring) printf '%s\n' metrics monitoring ;;
    off | "") ;;
    *) die "DAGSTER_METRICS must be off, on or monitoring, not '$metrics'" ;;
  esac

  postgres_host="$(stack_setting POSTGRES_HOST "$env_file")"
  port="$(stack_setting POSTGRES_PORT "$env_file")"
  sslmode="$(stack_setting POSTGRES_SSLMODE "$env_file")"
  case "$sslmode" in
    "" | disable | allow | prefer | require) ;;
    verify-ca | verify-full) die "POSTGRES_SSLMODE=$sslmode is not supported yet: it needs the server's CA certificate in every container; use require (encrypted, not verified; docs/configuration.md)" ;;
    *) die "POSTGRES_SSLMODE must be one of disable, allow, prefer, require, not '$sslmode'" ;;
  esac
  [[ "$port" =~ ^[0-9]*$ ]] || die "POSTGRES_PORT must be a port number, not '$port'"
  if [ -z "$postgres_host" ]; then
    [ -z "$port" ] || [ "$port" = 5432 ] \
      || die "POSTGRES_PORT=$port is for an external Postgres, but POSTGRES_HOST is empty (the stack's own, on 5432): set POSTGRES_HOST too, or POSTGRES_PORT=5432"
    [ "$sslmode" != require ] \
      || die "POSTGRES_SSLMODE=require needs a server with TLS; the stack's own Postgres (POSTGRES_HOST empty) has none: set POSTGRES_HOST, or POSTGRES_SSLMODE=prefer"
    echo internal-postgres
  else
    require_settings "POSTGRES_HOST names an external Postgres ($postgres_host)" "$env_file" \
      POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB
  fi

  s3_endpoint="$(stack_setting S3_ENDPOINT_URL "$env_file")"
  if [ -z "$s3_endpoint" ]; then
    echo internal-s3
  else
    [[ "$s3_endpoint" =~ ^https?://[^/]+/?$ ]] \
      || die "S3_ENDPOINT_URL must be http(s)://host[:port], not '$s3_endpoint'"
    require_settings "S3_ENDPOINT_URL names an external S3 store ($s3_endpoint)" "$env_file" \
      MINIO_ROOT_USER MINIO_ROOT_PASSWORD S3_APP_ACCESS_KEY S3_APP_SECRET_KEY \
      S3_UPLOAD_ACCESS_KEY S3_UPLOAD_SECRET_KEY S3_READ_ACCESS_KEY S3_READ_SECRET_KEY
  fi
}

# Fails, naming them, unless every setting NAME... of ENV_FILE has a value. WHY starts the message.
require_settings() {
  local why="$1" env_file="$2" name missing=()
  shift 2
  for name in "$@"; do
    [ -n "$(stack_setting "$name" "$env_file")" ] || missing+=("$name")
  done
  [ ${#missing[@]} -eq 0 ] \
    || die "$why, so $env_file must set ${missing[*]} to its credentials: the stack cannot make them there (docs/configuration.md#external-postgres-and-s3)"
}

# Fails unless the stack of ENV_FILE runs its own Postgres: WHAT works in its container only.
# Fails unless the stack's Postgres, and its S3 store unless .env names an external one, are
# running (COMPOSE is compose.sh); WHY says what needs them.
require_running() {
  local compose="$1" env_file="$2" why="$3" service
  for service in postgres $([ -n "$(stack_setting S3_ENDPOINT_URL "$env_file")" ] || echo minio); do
    [ -n "$("$compose" ps --status running -q "$service")" ] || die "the stack is not running: 'make up' first ($why)"
  done
}

require_internal_postgres() {
  local env_file="$1" what="$2" host
  host="$(stack_setting POSTGRES_HOST "$env_file")"
  [ -z "$host" ] || die "$what works on the stack's own Postgres; POSTGRES_HOST names an external one ($host): use its provider's backups, or pg_dump/pg_restore against it (docs/configuration.md#external-postgres-and-s3)"
}
