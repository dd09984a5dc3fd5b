#!/usr/bin/env bash
# Usage: render.sh OUT_FILE [VALUES_FILE...]
# Lints and renders Dagster's chart (deploy/kubernetes/vendor/dagster-1.12.19) with our values
# (deploy/kubernetes/values.yaml, or the VALUES_FILEs given) and the image flags for
# REGISTRY (default dagster-stack, compose's DAGSTER_IMAGE_REPO) and IMAGE_TAG (default: the
# images' content tag), into OUT_FILE as release `dagster` in namespace NAMESPACE (dagster).
#
# Offline: the chart's values schema refers to Kubernetes definitions by URL; a copy of the
# chart in a temporary folder points them at the vendored v1.19.0 _definitions.json instead.
# The vendored chart itself is never changed. `helm lint --strict` and the schema fail the
# render on a value the chart does not know or accept.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 OUT_FILE [VALUES_FILE...]" >&2; exit 2; }
out="$1"; shift
values=("$@")
[ ${#values[@]} -gt 0 ] || values=("$here/values.yaml")
python="${PYTHON:-$repo/.venv/bin/python}"
registry="${REGISTRY:-dagster-stack}"
. "$repo/deploy/scripts/_lib.sh"
export_image_tags "$repo"
tag="$IMAGE_TAG"
namespace="${NAMESPACE:-dagster}"

helm="$("$here/ensure-helm.sh")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# helm reads no config or cache of the user's, and never reaches a repository.
export HELM_CONFIG_HOME="$work/config" HELM_CACHE_HOME="$work/cache" HELM_DATA_HOME="$work/data"

cp -r "$here/vendor/dagster-1.12.19" "$work/dagster"
definitions="$here/vendor/kubernetes-json-schema-v1.19.0/_definitions.json"
remote='https://raw.githubusercontent.com/yannh/kubernetes-json-schema/master/v1.19.0/_definitions.json'
find "$work/dagster" -name values.schema.json -exec sed -i "s#$remote#file://$definitions#g" {} +
if grep -rq 'https://' --include=values.schema.json "$work/dagster"; then
  echo "render.sh: the chart's schema still refers to something remote" >&2
  exit 1
fi

args=(--namespace "$namespace")
for file in "${values[@]}"; do args+=(-f "$file"); done
mapfile -t image_flags < <("$python" "$here/image_values.py" "$registry" "$tag" "${values[0]}")
args+=("${image_flags[@]}")

"$helm" lint --strict "$work/dagster" "${args[@]}" >"$work/lint.log" 2>&1 || { cat "$work/lint.log" >&2; exit 1; }
"$helm" template dagster "$work/dagster" "${args[@]}" >"$out"
echo "Rendered $(grep -c '^kind:' "$out") manifests to $out (helm lint --strict passed; images $registry/*:$tag)."
