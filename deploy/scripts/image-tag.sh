#!/usr/bin/env bash
# Usage: image-tag.sh [LOCATION]
# Prints an image tag: a hash of what goes into the image, so same inputs give the same tag and any
# change a new one. Without an argument, the tag of the stack's own images (runtime, dagster, proxy,
# pgbouncer): Dockerfiles, locks, programs, the shared library, instance config and the base images
# chosen. With a code location's name, the tag of its image: the stack's tag plus that location's
# folder, so an edit to one location rebuilds and restarts only its image and code server. The
# workspace is in no image (compose mounts it), so adding a location builds only the new image.
set -euo pipefail
cd "$(dirname "$0")/../.."
location="${1:-}"

# Files under PATHS that an image build copies, with their hashes.
hash_inputs() {
  # Host-side scripts, the locations' tests and compose-level files, and Dagster's temporary homes
  # never reach an image (see .dockerignore).
  local not_in_images=('^deploy/scripts/' '/tests/' '^code_locations/conftest\.py$' '^code_locations/[^/]*/workspace\.yaml$'
    '^code_locations/[^/]*/compose\.yml$' '\.tmp_dagster_home_' __pycache__ '\.pyc$')
  {
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
      git ls-files --cached --others --exclude-standard -- "$@"
    else
      find "$@" -type f
    fi
  } | grep -v -f <(printf '%s\n' "${not_in_images[@]}") | LC_ALL=C sort -u | while IFS= read -r file; do
    if [ -f "$file" ]; then printf '%s\0' "$file"; fi
  done | xargs -0 -r sha256sum --  # one process for all files, not one each: a tag costs 0.05 s, not 2
}

if [ -z "$location" ]; then
  { hash_inputs deploy lib dagster.yaml; cat .stack/images.env 2>/dev/null || true; } \
    | sha256sum | cut -c1-12
else
  [ -f "code_locations/$location/pyproject.toml" ] || { echo "error: no code location '$location' in code_locations/" >&2; exit 2; }
  { echo "${IMAGE_TAG:-$("$0")}"; hash_inputs "code_locations/$location"; } | sha256sum | cut -c1-12
fi
