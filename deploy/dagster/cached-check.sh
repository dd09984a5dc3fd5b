#!/bin/sh
# Usage: cached-check MAX_AGE COMMAND...
# Runs a costly health probe (a whole Python and dagster start-up, about a CPU second) at most
# once per MAX_AGE seconds while it keeps passing; the checks in between trust the last success.
# The healthcheck interval stays short, so a starting service turns healthy within seconds.
# A success counts only for the container start that saw it: /tmp survives a restart, so the
# stamp records PID 1's start time, and a restarted service is probed for real before it is
# called healthy (else `up --wait` returns while the service is still starting).
set -eu
max_age="$1"
shift
stamp=/tmp/.last-healthy
this_start="$(cut -d' ' -f22 /proc/1/stat)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$this_start" ] \
  && [ $(( $(date +%s) - $(stat -c %Y "$stamp") )) -lt "$max_age" ]; then
  exit 0
fi
"$@"
echo "$this_start" >"$stamp"
