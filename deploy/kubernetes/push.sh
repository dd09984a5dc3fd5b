#!/usr/bin/env bash
# Usage: push.sh REGISTRY        (REGISTRY = host[:port]/namespace, e.g. registry.example.com/data)
# Builds what is missing, then tags and pushes every image of the stack (runtime, dagster, each
# code location, proxy, pgbouncer) as REGISTRY/<name>:<content tag>, and prints the helm flags
# that point deploy/kubernetes/values.yaml at them. The tags are deploy/scripts/image-tag.sh's
# content hashes, the ones compose runs: an image pushed twice is the same image.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
. "$repo/deploy/scripts/_lib.sh"
registry="${1:-}"
registry="${registry%/}"
[ -n "$registry" ] || die "usage: make push REGISTRY=host[:port]/namespace"
[[ "$registry" =~ ^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$ ]] || die "REGISTRY '$registry' is not host[:port]/namespace"
python="${PYTHON:-$repo/.venv/bin/python}"

export_image_tags "$repo"
"$repo/deploy/scripts/build-images.sh"
# Ours: the images named with one of our tags (the stack's, or a location's).
mapfile -t images < <("$repo/deploy/scripts/compose.sh" --profile build-only config --images \
  | grep -F -f <(env | sed -n 's/^[A-Z_]*IMAGE_TAG=\(.*\)$/:\1/p') | LC_ALL=C sort -u)
[ ${#images[@]} -gt 0 ] || die "no image of ours in the compose file"

echo "Pushing ${#images[@]} images to $registry:"
for image in "${images[@]}"; do
  repository="${image%:*}"
  target="$registry/${repository##*/}:${image##*:}"
  docker tag "$image" "$target"
  docker push -q "$target" >/dev/null
  digest="$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$target" \
    | grep -F "$registry/${repository##*/}@" | head -n 1)"
  echo "  $target  ($digest)"
done

flags="$repo/.stack/k8s/images-${registry//[:\/]/_}-$IMAGE_TAG.flags"
mkdir -p "$(dirname "$flags")"
"$python" "$here/image_values.py" "$registry" "$IMAGE_TAG" >"$flags"
echo
echo "Helm flags for these images (also in ${flags#"$repo"/}):"
sed 's/^/  /' "$flags"
echo
echo "helm upgrade --install dagster deploy/kubernetes/vendor/dagster-1.12.19 -n dagster \\"
echo "  -f deploy/kubernetes/values.yaml -f your-site.yaml \$(cat ${flags#"$repo"/})"
