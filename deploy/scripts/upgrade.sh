#!/usr/bin/env bash
# `make upgrade DAGSTER=<version>`: moves the stack to another Dagster release (docs/operations.md,
# "Upgrading Dagster"). It rewrites every Dagster pin from the one version
# (deploy/scripts/dagster-version.py), relocks (`make lock`; on failure every pin and lock is put
# back as it was), and rebuilds the images. A running stack is then backed up (`make backup`) and
# restarted on the new images (`make start`), whose `migrate` step runs `dagster instance migrate`
# before anything else starts: a migrated schema does not go back, the backup does.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
. "$repo/deploy/scripts/_lib.sh"
cd "$repo"
version="${1:-}"
[ -n "$version" ] || { echo "usage: make upgrade DAGSTER=<version>   (now: dagster $(python3 deploy/scripts/dagster-version.py show))" >&2; exit 2; }
make=(make --no-print-directory)
current="$(python3 deploy/scripts/dagster-version.py show)"

if [ "$version" != "$current" ]; then
  saved="$(mktemp)"
  # shellcheck disable=SC2064 # the file's name, now
  trap "rm -f '$saved'" EXIT
  # The pins and the locks as they are, to put back if the new release does not resolve.
  tar -cf "$saved" deploy/images/*.in deploy/images/*.lock code_locations/*/pyproject.toml \
    code_locations/*/requirements.lock tests/requirements.in tests/requirements.lock
  echo "Dagster $current -> $version: rewriting the pins in"
  python3 deploy/scripts/dagster-version.py set "$version"
  echo "Relocking (make lock)..."
  if ! "${make[@]}" lock || ! python3 deploy/scripts/dagster-version.py check; then
    tar -xf "$saved"
    die "dagster $version did not resolve with its integration libraries (0.x.y of the same release) on the package index; every pin and lock is back at $current"
  fi
fi

echo "Building the images for dagster $version..."
"${make[@]}" images
if [ -n "$("$repo/deploy/scripts/compose.sh" ps --status running -q postgres 2>/dev/null)" ]; then
  echo "The stack is running: backing it up before its schema is migrated..."
  "${make[@]}" backup
  echo "Restarting on dagster $version (migrate runs dagster instance migrate first)..."
  "${make[@]}" start
else
  echo "Built. 'make up' starts the stack on dagster $version; its migrate step runs dagster instance migrate first."
fi
echo "Dagster is $version. Run 'make test-unit', then commit the changed pins and locks."
