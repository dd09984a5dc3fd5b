# shellcheck shell=bash
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

# Seconds, to a tenth, between two $EPOCHREALTIME readings; since one until now.
seconds_between() {
  awk -v from="$1" -v to="$2" 'BEGIN { printf "%.1f", to - from }'
}
seconds_since() {
  seconds_between "$1" "$EPOCHREALTIME"
}

# Removes the tags of REPOSITORY other than KEEP that no container (running or stopped) was
# created from. Checking by name matters: a rebuilt image is often identical to the old one, and
# Docker untags a shared image even while a container uses it; a stack whose code servers still
# advertise the old tag would then fail to launch its runs.
prune_image_tags() {
  local repository="$1" keep="$2" in_use tag
  in_use="$(docker ps -a --format '{{.Image}}')"
  for tag in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "$repository"); do
    if [ "$tag" != "$keep" ] && ! grep -qxF "$tag" <<<"$in_use"; then
      docker image rm "$tag" >/dev/null 2>&1 || true
    fi
  done
}

# The code locations: one folder with a pyproject.toml each under code_locations/.
code_locations() {
  local repo="$1" project
  for project in "$repo"/code_locations/*/pyproject.toml; do
    basename "$(dirname "$project")"
  done
}

# Exports IMAGE_TAG (the stack's own images) and <LOCATION>_IMAGE_TAG for each code location, the
# tags docker-compose.yml names images by, unless already set (a test session keeps its own).
export_image_tags() {
  local repo="$1" location variable
  IMAGE_TAG="${IMAGE_TAG:-$("$repo/deploy/scripts/image-tag.sh")}"
  export IMAGE_TAG
  for location in $(code_locations "$repo"); do
    variable="$(tr '[:lower:]' '[:upper:]' <<<"$location")_IMAGE_TAG"
    if [ -z "${!variable:-}" ]; then
      export "$variable=$("$repo/deploy/scripts/image-tag.sh" "$location")"
    fi
  done
}

# Exports WORKSPACE_HASH, the hash of the workspace files (the user's and the test stacks'), which
# labels the services that mount one: a changed workspace recreates them on the next `up`.
export_workspace_hash() {
  local repo="$1"
  WORKSPACE_HASH="$(cat "$repo/workspace.yaml" "$repo"/code_locations/*/workspace.yaml | sha256sum | cut -c1-12)"
  export WORKSPACE_HASH
}
