#!/usr/bin/env bash
# Creates an env file (default: .env) from .env.example, filling every empty secret with a random
# value; mode 0600. In an existing file no value is ever changed: only keys it lacks are added.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
target="${1:-$repo/.env}"
example="$repo/.env.example"

random_secret() {
  head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32
}

# An external Postgres or S3 store (docs/configuration.md) comes with its own credentials: a random
# one would open nothing there, so those stay empty for compose.sh to ask for by name.
external_value() { sed -n "s/^$1=//p" "$target" 2>/dev/null | tail -n 1; }
owned_elsewhere() {
  case "$1" in
    POSTGRES_PASSWORD) [ -n "$(external_value POSTGRES_HOST)" ] ;;
    MINIO_ROOT_PASSWORD | S3_*_SECRET_KEY) [ -n "$(external_value S3_ENDPOINT_URL)" ] ;;
    *) false ;;
  esac
}

umask 077
created=no
if [ ! -e "$target" ]; then
  mkdir -p "$(dirname "$target")"
  : >"$target"
  created=yes
fi

while IFS= read -r line || [ -n "$line" ]; do
  if [[ "$line" =~ ^([A-Z0-9_]+)=(.*)$ ]]; then
    key="${BASH_REMATCH[1]}"
    value="${BASH_REMATCH[2]}"
    if grep -q "^$key=" "$target"; then
      continue
    fi
    if [ -z "$value" ] && [[ "$key" =~ (PASSWORD|SECRET) ]] && ! owned_elsewhere "$key"; then
      value="$(random_secret)"
    fi
    echo "$key=$value" >>"$target"
  elif [ "$created" = yes ]; then
    echo "$line" >>"$target"
  fi
done <"$example"

chmod 600 "$target"
if [ "$created" = yes ]; then
  echo "Created $target with random credentials (mode 0600, git-ignored)."
fi
