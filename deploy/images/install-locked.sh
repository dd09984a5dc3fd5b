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
find /opt/venv/lib/python3*/site-packages -type d -name tests -prune -exec rm -rf {} +
rm -rf /tmp/installer /tmp/ca "$lock"
