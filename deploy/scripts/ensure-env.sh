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
    if [ -z "$value" ] && [[ "$key" =~ (PASSWORD|SECRET) ]]; then
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
