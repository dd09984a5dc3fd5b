#!/usr/bin/env bash
# Usage: with-stack.sh ENV_FILE OVERRIDES_FILE COMMAND...
# Runs COMMAND against a stack of its own (the test, fault or bench stack): its env file is
# created if missing (random secrets), the images for the current code are built, and COMMAND
# sees STACK_ENV, STACK_ENV_OVERRIDES and IMAGE_TAG, which deploy/scripts/compose.sh and the tests read.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 3 ] || { echo "usage: $0 ENV_FILE OVERRIDES_FILE COMMAND..." >&2; exit 2; }
export STACK_ENV="$1" STACK_ENV_OVERRIDES="$2"
shift 2
"$here/ensure-env.sh" "$STACK_ENV" >/dev/null
IMAGE_TAG="$("$here/image-tag.sh")"
export IMAGE_TAG
"$here/build-images.sh"
exec "$@"
