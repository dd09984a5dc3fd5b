#!/usr/bin/env bash
# Picks the world the stack runs in and writes the image choice to .stack/images.env:
#   registry  - official python / postgres / minio / nginx images, pulled as usual;
#   local     - no registry reachable: equivalents built here from Debian packages and PyPI.
# STACK_WORLD=registry|local skips the detection.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="$repo/.stack/images.env"
mkdir -p "$repo/.stack"

# The official images docker-compose.yml runs or builds on (an `image:` or a `*_IMAGE` build arg).
mapfile -t official < <(sed -nE 's/^ +([A-Z_]+_IMAGE|image): ([^$ ]+)$/\2/p' "$repo/docker-compose.yml" | sort -u)

# A tag that changes whenever what goes into a local image (or the Debian base under it) does, so an edit is never hidden by an
# older image of the same name.
local_tag() {
  local version="$1"; shift
  echo "$version-$(cd "$repo/deploy/images/local" && cat build.sh "$@" | sha256sum | cut -c1-8)"
}

available() {
  docker image inspect "$1" >/dev/null 2>&1 || docker pull -q "$1" >/dev/null 2>&1
}

world="${STACK_WORLD:-auto}"
if [ "$world" = auto ]; then
  world=registry
  for image in "${official[@]}"; do
    if ! available "$image"; then
      world=local
      echo "Cannot pull $image: no container registry reachable."
      break
    fi
  done
fi

case "$world" in
  registry)
    echo "STACK_WORLD=registry" >"$out"
    ;;
  local)
    cat >"$out" <<ENV
STACK_WORLD=local
LOCAL_DEBIAN_IMAGE=dagster-stack-local/debian:$(local_tag bookworm)
PYTHON_IMAGE=dagster-stack-local/python:$(local_tag 3.11-bookworm python.Dockerfile)
POSTGRES_IMAGE=dagster-stack-local/postgres:$(local_tag 15-bookworm postgres.Dockerfile ../../postgres/entrypoint.sh)
MINIO_IMAGE=dagster-stack-local/s3:$(local_tag seaweedfs-4.45 s3.Dockerfile ../../s3/entrypoint.sh)
NGINX_IMAGE=dagster-stack-local/nginx:$(local_tag 1.22-bookworm nginx.Dockerfile)
ENV
    echo "Building local base images from Debian packages and PyPI:"
    set -a; . "$out"; set +a
    "$repo/deploy/images/local/build.sh"
    ;;
  *)
    echo "STACK_WORLD must be registry, local or unset (auto), not '$world'" >&2
    exit 2
    ;;
esac
