#!/usr/bin/env bash
# Builds stand-ins for the official base images from Debian packages and PyPI alone,
# for hosts that cannot reach a container registry. Images that already exist are kept.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
. "$here/../../scripts/_lib.sh"

: "${LOCAL_DEBIAN_IMAGE:?}" "${PYTHON_IMAGE:?}" "${POSTGRES_IMAGE:?}" "${MINIO_IMAGE:?}" "${NGINX_IMAGE:?}"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The first plain Debian mirror the host's apt is configured with (deb822 or one-line format).
host_debian_mirror() {
  local uri
  uri="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '/^URIs:/ {print $2}' | grep -v -e security -e '^https' | head -n1 || true)"
  if [ -z "$uri" ]; then
    uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1 == "deb" {print $2}' | grep -v security | grep '/debian' | head -n1 || true)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# Like Debian's official slim images: no manuals, docs or translations, now or in later installs
# (about 50 MB less in every image built on this one).
slim_rootfs() {
  local rootfs="$1"
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
DPKG
  find "$rootfs/usr/share/doc" -type f ! -name copyright -delete
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
}

build_debian() {
  if ! command -v debootstrap >/dev/null; then
    can_install_packages || die "debootstrap is missing: install it (Debian: apt-get install debootstrap), then run make again"
    echo "  installing debootstrap (Debian package)"
    apt_install debootstrap
  fi
  local mirror rootfs
  mirror="$(host_debian_mirror)"
  rootfs="$(mktemp -d /tmp/dagster-stack-rootfs.XXXXXX)"
  echo "  debootstrap bookworm from $mirror (about 30 s)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -n 20 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/*
  slim_rootfs "$rootfs"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' - "$LOCAL_DEBIAN_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

build_from() {
  local image="$1" dockerfile="$2"
  docker build -q -t "$image" -f "$here/$dockerfile" \
    --build-arg "DEBIAN_IMAGE=$LOCAL_DEBIAN_IMAGE" --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" \
    "$repo/deploy" >/dev/null
}

step() {
  local image="$1"; shift
  if have_image "$image"; then echo "  $image: present"; return; fi
  echo "  $image: building"
  local started=$SECONDS
  "$@"
  echo "  $image: built in $((SECONDS - started)) s"
}

step "$LOCAL_DEBIAN_IMAGE" build_debian
# The images only need the Debian base (and Python for the S3 build stage): build them side by side.
step "$PYTHON_IMAGE" build_from "$PYTHON_IMAGE" python.Dockerfile &
python_job=$!
step "$POSTGRES_IMAGE" build_from "$POSTGRES_IMAGE" postgres.Dockerfile &
postgres_job=$!
wait "$python_job"
step "$MINIO_IMAGE" build_from "$MINIO_IMAGE" s3.Dockerfile
wait "$postgres_job"
step "$NGINX_IMAGE" build_from "$NGINX_IMAGE" nginx.Dockerfile

# Tags superseded by an edit go, unless a container was created from them.
for image in "$PYTHON_IMAGE" "$POSTGRES_IMAGE" "$MINIO_IMAGE" "$NGINX_IMAGE"; do
  prune_image_tags "${image%:*}" "$image"
done
