#!/usr/bin/env bash
# Usage: with-stack.sh STACK_FILE COMMAND...
# Runs COMMAND against a stack of its own (the test, fault or bench stack), named by STACK_FILE
# (e.g. tests/stack.env: project, network, ports, and STACK_ENV, where its secrets go). The secrets
# file is created if missing (random values), the images for the current code are built, and
# COMMAND sees STACK_ENV, STACK_ENV_OVERRIDES and the image tags (IMAGE_TAG, <LOCATION>_IMAGE_TAG),
# fixed for the whole command, which deploy/scripts/compose.sh and the tests read.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
[ $# -ge 2 ] || { echo "usage: $0 STACK_FILE COMMAND..." >&2; exit 2; }
STACK_ENV_OVERRIDES="$(realpath "$1")"
shift
secrets="$(sed -n 's/^STACK_ENV=//p' "$STACK_ENV_OVERRIDES")"
[ -n "$secrets" ] || { echo "error: $STACK_ENV_OVERRIDES sets no STACK_ENV (its secrets file)" >&2; exit 2; }
STACK_ENV="$repo/$secrets"
export STACK_ENV STACK_ENV_OVERRIDES
"$here/ensure-env.sh" "$STACK_ENV" >/dev/null
. "$here/_lib.sh"
export_image_tags "$repo"
"$here/build-images.sh"
exec "$@"
