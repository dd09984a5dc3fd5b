#!/usr/bin/env bash
# `docker compose` for this stack: its env file (STACK_ENV, default .env), optional overrides
# (STACK_ENV_OVERRIDES, e.g. the test stack's project name and ports, and the compose file
# STACK_COMPOSE_OVERRIDE it adds), the world select-images.sh chose (the registry-less one adds
# deploy/images/local/compose.yml), the image tags from the image inputs and the workspace hash (_lib.sh).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
. "$repo/deploy/scripts/_lib.sh"
env_file="${STACK_ENV:-$repo/.env}"
images_env="$repo/.stack/images.env"

command -v docker >/dev/null || { echo "error: Docker is not installed; 'make up' installs it (Debian, as root) or see the README" >&2; exit 1; }
[ -f "$env_file" ] || { echo "error: $env_file is missing; 'make up' creates it" >&2; exit 1; }
[ -f "$images_env" ] || { echo "error: $images_env is missing; 'make up' creates it" >&2; exit 1; }

if [ -n "${STACK_ENV_OVERRIDES:-}" ]; then
  # A test or bench stack's name, network and ports must win over anything in the environment
  # (which outranks env files): otherwise a stray variable could point it at the user's stack.
  set -a
  . "$STACK_ENV_OVERRIDES"
  set +a
fi

args=(--project-directory "$repo" -f "$repo/docker-compose.yml")
if grep -qx 'STACK_WORLD=local' "$images_env"; then
  args+=(-f "$repo/deploy/images/local/compose.yml")
fi
if [ -n "${STACK_COMPOSE_OVERRIDE:-}" ]; then
  args+=(-f "$repo/$STACK_COMPOSE_OVERRIDE")
fi
args+=(--env-file "$env_file" --env-file "$images_env")
# Optional services, each run by a setting (the environment's, else the env file's) that turns on
# its profile; the proxy reads the same settings (docker-compose.yml): the read-only UI with
# DAGSTER_READONLY_UI=on, the metrics exporter with DAGSTER_METRICS=on, and Prometheus beside it
# with DAGSTER_METRICS=monitoring.
setting() {
  if [ -n "${!1+set}" ]; then printf '%s' "${!1}"; else sed -n "s/^$1=//p" "$env_file" | tail -n 1; fi
}
readonly_ui="$(setting DAGSTER_READONLY_UI)"
case "$readonly_ui" in
  on) args+=(--profile readonly-ui) ;;
  off | "") ;;
  *) echo "error: DAGSTER_READONLY_UI must be on or off, not '$readonly_ui'" >&2; exit 2 ;;
esac
metrics="$(setting DAGSTER_METRICS)"
case "$metrics" in
  on) args+=(--profile metrics) ;;
  monitoring) args+=(--profile metrics --profile monitoring) ;;
  off | "") ;;
  *) echo "error: DAGSTER_METRICS must be off, on or monitoring, not '$metrics'" >&2; exit 2 ;;
esac
# `down` still removes them, if they ran before they were turned off: compose leaves the containers
# of a profile that is off behind (and the network they hold), --remove-orphans or not.
if [ "${1:-}" = down ]; then args+=(--profile readonly-ui --profile metrics --profile monitoring); fi

export_image_tags "$repo"
export_workspace_hash "$repo"
# What follows from the code locations (their own .env files; dev mode, which `make dev` turns on
# for this stack with a file beside its env file and `make up` off) is derived from the resolved
# config each time, so it follows every location.
derived=()
[ -f "$env_file.dev-mode" ] && derived+=(--dev)
if [ ${#derived[@]} -gt 0 ] || compgen -G "$repo/code_locations/*/.env" >/dev/null; then
  override="$env_file.derived-compose.yml"
  docker compose "${args[@]}" config --format json | python3 "$repo/deploy/scripts/derived-compose.py" "${derived[@]}" >"$override"
  args+=(-f "$override")
fi
exec docker compose "${args[@]}" "$@"
