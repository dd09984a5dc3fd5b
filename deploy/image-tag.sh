#!/usr/bin/env bash
# Prints the tag for the stack's images: a hash of everything that goes into them (Dockerfiles,
# locks, code, config) and of the base images chosen. Same inputs, same tag; any change, a new one.
# deploy/kubernetes/ (chart values, vendored chart) goes into no image and is left out.
set -euo pipefail
cd "$(dirname "$0")/.."
inputs=(deploy lib code_locations tests/diagnostics dagster.yaml workspace.yaml)
{
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files --cached --others --exclude-standard -- "${inputs[@]}"
  else
    find "${inputs[@]}" -type f
  fi
} | grep -v -e __pycache__ -e '\.pyc$' -e '^deploy/kubernetes/' | LC_ALL=C sort -u | while IFS= read -r file; do
  [ -f "$file" ] && sha256sum -- "$file"
done | { cat; cat .stack/images.env 2>/dev/null || true; } | sha256sum | cut -c1-12
