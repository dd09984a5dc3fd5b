#!/bin/sh
# Usage (in an image build): install-locked.sh LOCKFILE
# Installs a hash-locked requirements file into /opt/venv. The venv carries no pip of its own
# (23 MB no stack process uses): a throwaway pip does the install and goes, and so do the
# packages' test suites, which nothing in a stack runs (pandas' alone is 46 MB).
# An extra CA bundle (a TLS-inspecting proxy's) in /tmp/ca is trusted for this install only.
set -eu
lock="$1"
if [ -s /tmp/ca/extra-ca.pem ]; then export PIP_CERT=/tmp/ca/extra-ca.pem; fi
python3 -m venv /tmp/installer
/tmp/installer/bin/pip --python /opt/venv/bin/python install \
  --no-cache-dir --disable-pip-version-check --require-hashes --no-deps -r "$lock"
site="$(echo /opt/venv/lib/python3*/site-packages)"
find "$site" -type d -name tests -prune -exec rm -rf {} +
# Nor do they load what follows: botocore's API models of the AWS services besides S3 and the
# credential services (27 MB; a client reads its own service's model only); pyarrow's Flight RPC
# (35 MB; nothing imports pyarrow.flight) and its C++ test module; and what only compiling against
# a package needs: C++ headers and sources, Cython sources and declarations.
if [ -d "$site/botocore/data" ]; then
  find "$site/botocore/data" -mindepth 1 -maxdepth 1 -type d \
    ! -name s3 ! -name sts ! -name sso ! -name sso-oidc ! -name signin -exec rm -rf {} +
fi
rm -rf "$site/pyarrow/include" "$site/pyarrow/src" "$site"/pyarrow/libarrow_flight.so* \
  "$site"/pyarrow/libarrow_python_flight.so* "$site"/pyarrow/_flight.*.so "$site"/pyarrow/_pyarrow_cpp_tests.*.so
find "$site" \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' \) -delete
rm -rf /tmp/installer /tmp/ca "$lock"
