#!/usr/bin/env bash
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/_lib.sh"
IMAGE_TAG="${IMAGE_TAG:-$("$here/image-tag.sh")}"
export IMAGE_TAG

ours="$("$here/compose.sh" config --images | grep ":$IMAGE_TAG\$")"
missing=no
for image in $ours; do
  docker image inspect "$image" >/dev/null 2>&1 || missing=yes
done
if [ "$missing" = no ]; then
  echo "Images for tag $IMAGE_TAG are built."
  exit 0
fi

started=$SECONDS
echo "Building the runtime base (tag $IMAGE_TAG)..."
"$here/compose.sh" --profile build-only build runtime
echo "Building the Dagster, proxy and pgbouncer images..."
"$here/compose.sh" build webserver proxy pgbouncer
code_servers="$("$here/compose.sh" config --services | grep '^code-')"
echo "Building code-location images: $code_servers"
# shellcheck disable=SC2086 # one word per service
"$here/compose.sh" build $code_servers
echo "Images built in $((SECONDS - started)) s."

# Older tags of our images are superseded, unless a container (running or stopped, e.g. a
# finished run kept for `docker logs`) was created from them.
for image in $ours; do
  prune_image_tags "${image%:*}" "$image"
done
