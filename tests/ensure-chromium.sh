#!/usr/bin/env bash
# The browser tests drive Debian's chromium: installed with apt when missing (root on Debian),
# never downloaded by Playwright.
set -euo pipefail
. "$(dirname "$0")/../deploy/lib.sh"
[ -x /usr/bin/chromium ] && exit 0
can_install_packages || die "the browser tests need /usr/bin/chromium: install it (Debian: apt-get install chromium)"
echo "Installing chromium (Debian package) for the browser tests..."
apt_install chromium
