#!/usr/bin/env bash
# Usage: reload.sh LOCATION
# Rebuilds one code location's image (its tag follows its own folder) and replaces only its code
# server; no other container is recreated. The webserver and the daemon notice the new server and
# load its definitions; runs already going finish on the old image, new runs start on the new one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
. "$here/_lib.sh"

location="${1:-}"
known="$(code_locations "$repo" | tr '\n' ' ')"
if [ -z "$location" ]; then
  die "name the location to reload: make reload LOCATION=<one of: ${known% }>"
fi
if ! [[ "$location" =~ ^[a-z][a-z0-9_]*$ ]] || [ ! -f "$repo/code_locations/$location/pyproject.toml" ]; then
  die "'$location' is not a code location (a folder of code_locations/ with a pyproject.toml): one of ${known% }"
fi

started=$EPOCHREALTIME
# Tags once, here: the scripts below inherit them instead of hashing the inputs again each.
export_image_tags "$repo"
"$here/build-images.sh" "code-$location"
built=$EPOCHREALTIME
"$here/compose.sh" up -d --no-deps --no-build "code-$location"
replaced=$EPOCHREALTIME
# Not `up --wait`: Docker's first health probe comes a whole interval after the start. The code
# server itself says when it serves, as its healthcheck asks it, polled inside the container (one
# `docker exec`, again only if the container restarted meanwhile).
container="$("$here/compose.sh" ps -q "code-$location")"
wait_for 120 docker exec "$container" python /opt/dagster/deploy/grpc-health-check.py 4000 120 \
  || die "code-$location does not serve after 120 s: see 'make logs SERVICE=code-$location'"
echo "code-$location serves its new image after $(seconds_since "$started") s (built in $(seconds_between "$started" "$built") s," \
  "replaced in $(seconds_between "$built" "$replaced") s, serving $(seconds_since "$replaced") s later); the UI picks it up within seconds."
