# Helpers shared by the deploy scripts (sourced, not run).

die() {
  echo "error: $*" >&2
  exit 1
}

# Installing system packages is only done where it is safe to do unasked: root on Debian/Ubuntu.
can_install_packages() {
  [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null
}

apt_updated=no
apt_install() {
  if [ "$apt_updated" = no ]; then
    apt-get update -q >/dev/null
    apt_updated=yes
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# Polls COMMAND until it succeeds or SECONDS_ pass; returns its last status.
wait_for() {
  local seconds_="$1"; shift
  local deadline=$((SECONDS + seconds_))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 1
  done
}
