#!/usr/bin/env bash
# Usage: ensure-package.sh COMMAND PACKAGE WHY
# Makes sure COMMAND is installed: with apt when missing (root on Debian), else says what to install.
# Tools the tests and lint need come from Debian, never from a download (chromium included).
set -euo pipefail
. "$(dirname "$0")/_lib.sh"
command_name="$1" package="$2" why="$3"
command -v "$command_name" >/dev/null && exit 0
can_install_packages || die "$why needs $command_name: install it (Debian: apt-get install $package)"
echo "Installing $package (Debian package) for $why..."
apt_install "$package"
