#!/usr/bin/env bash
# Usage: build-images.sh [SERVICE...]
# Builds the stack's images that are missing (all of them, or those of the SERVICEs named): the
# runtime base first, then the images that start FROM it. An image's tag is a hash of its inputs,
# so only what changed is built. Then removes the older tags of what it built.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
. "$here/_lib.sh"
export_image_tags "$repo"
compose() { "$here/compose.sh" --profile build-only "$@"; }

# "service image" for every service that builds an image of ours, the runtime base first.
built_images() {
  compose config --format json | python3 -c '
import json, sys
services = json.load(sys.stdin)["services"]
for name in sorted(services, key=lambda name: name != "runtime"):
    if "build" in services[name]:
        print(name, services[name]["image"])'
}

wanted=" ${*:-} "
# Once: each `compose config` costs about a second on a busy host.
images="$(built_images)"
missing=()
declare -A image_of
while read -r service image; do
  if [ "$wanted" != "  " ] && [[ "$wanted" != *" $service "* ]] && [ "$service" != runtime ]; then
    continue
  fi
  image_of[$service]="$image"
  docker image inspect "$image" >/dev/null 2>&1 || missing+=("$service")
done <<<"$images"

if [ ${#missing[@]} -eq 0 ]; then
  echo "Images are built (stack tag $IMAGE_TAG)."
  exit 0
fi
started=$SECONDS
echo "Building: ${missing[*]}"
built=("${missing[@]}")
if [ "${missing[0]}" = runtime ]; then
  compose build runtime
  missing=("${missing[@]:1}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  compose build "${missing[@]}"
fi
echo "Images built in $((SECONDS - started)) s."

# Older tags of what was built are superseded, unless a container (running or stopped, e.g. a
# finished run kept for `docker logs`) was created from them.
for service in "${built[@]}"; do
  prune_image_tags "${image_of[$service]%:*}" "${image_of[$service]}"
done
