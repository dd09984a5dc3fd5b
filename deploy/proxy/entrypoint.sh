#!/usr/bin/env bash
# Writes the proxy's per-stack settings from the environment, then runs nginx in the foreground:
#   DAGSTER_UI_USER / DAGSTER_UI_PASSWORD          the operators' login (port 3000)
#   DAGSTER_VIEWER_USER / DAGSTER_VIEWER_PASSWORD  the read-only UI's login (port 3001)
#   DAGSTER_UI_AUTH        basic (default), or none when an SSO proxy in front does the login
#   DAGSTER_UI_HOSTNAMES   the names the UI is reached by (Host header), besides BIND_ADDRESS
#   DAGSTER_UI_ALLOWED_ORIGINS  further origins whose pages may send requests (e.g. an SSO proxy's)
#   DAGSTER_UI_TLS         on: HTTPS with /etc/dagster-proxy/tls/{cert,key}.pem, self-signed if absent
#   DAGSTER_UI_UPSTREAM / DAGSTER_READONLY_UPSTREAM  host:port of the two webservers (compose's
#                          service names by default; fully qualified names on Kubernetes)
#   DAGSTER_UI_RESOLVER    the DNS server nginx asks for them (default: /etc/resolv.conf's first)
#   DAGSTER_READONLY_UI    on (default) or off: whether the read-only webserver runs; when off, its
#                          port answers every request with a 404 that says how to turn it on
#   DAGSTER_METRICS        off (default), on or monitoring: the metrics exporter's /metrics and (with
#                          monitoring) Prometheus's /prometheus/ on the UI's port, behind its login;
#                          what is off answers with a 404 that says how to turn it on
#   DAGSTER_METRICS_UPSTREAM / DAGSTER_PROMETHEUS_UPSTREAM  host:port of the exporter and Prometheus
# Passwords are hashed straight from the environment into files only nginx reads: never on a
# command line, never in the image.
set -euo pipefail
run=/run/dagster-proxy
tls_dir=/etc/dagster-proxy/tls

die() { echo "proxy: $*" >&2; exit 2; }

# The worker user: `nginx` in the official image, `www-data` in Debian's package.
worker_user=www-data
if id nginx >/dev/null 2>&1; then worker_user=nginx; fi

install -d -m 0750 -g "$worker_user" "$run"

# The login of one server: an htpasswd file, or none when an SSO proxy in front has done it.
write_login() {
  local who="$1" realm="$2" user="$3" password="$4"
  case "${DAGSTER_UI_AUTH:-basic}" in
    basic)
      [[ "$user" =~ ^[A-Za-z0-9._@-]+$ ]] || die "user name '$user' may only hold letters, digits and . _ @ -"
      [ -n "$password" ] || die "no password for user '$user'"
      ( umask 027; printf '%s:%s\n' "$user" "$(printf '%s\n' "$password" | openssl passwd -apr1 -stdin)" >"$run/$who.htpasswd" )
      chgrp "$worker_user" "$run/$who.htpasswd"
      printf 'auth_basic "%s";\nauth_basic_user_file %s;\n' "$realm" "$run/$who.htpasswd" >"$run/login-$who.conf"
      ;;
    none)
      echo "proxy: DAGSTER_UI_AUTH=none: $who log in nowhere here; safe only behind an SSO proxy that is the sole way in" >&2
      echo "auth_basic off;" >"$run/login-$who.conf"
      ;;
    *) die "DAGSTER_UI_AUTH must be basic or none, not '$DAGSTER_UI_AUTH'" ;;
  esac
}

write_login operators "Dagster" "${DAGSTER_UI_USER:-admin}" "${DAGSTER_UI_PASSWORD:-}"
write_login viewers "Dagster (read-only)" "${DAGSTER_VIEWER_USER:-viewer}" "${DAGSTER_VIEWER_PASSWORD:-}"

# Where the webservers are, and who resolves their names while nginx runs (nginx's resolver
# uses no search domains: on Kubernetes the names must be fully qualified).
write_upstream() {
  local who="$1" address="$2"
  [[ "$address" =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] || die "upstream '$address' is not host:port"
  printf 'set $upstream http://%s;\n' "$address" >"$run/upstream-$who.conf"
}
write_upstream operators "${DAGSTER_UI_UPSTREAM:-webserver:3000}"
write_upstream viewers "${DAGSTER_READONLY_UPSTREAM:-webserver-readonly:3000}"
# The read-only UI is optional (compose runs it only with DAGSTER_READONLY_UI=on): without it, its
# port says so, before any login, rather than a bare 502 from a webserver that is not there.
case "${DAGSTER_READONLY_UI:-on}" in
  on) : >"$run/readonly-ui.conf" ;;
  off) printf 'return 404 "%s\\n";\n' \
    "The read-only UI is off on this stack. To turn it on: set DAGSTER_READONLY_UI=on in .env, then make up (docs/operations.md)." \
    >"$run/readonly-ui.conf" ;;
  *) die "DAGSTER_READONLY_UI must be on or off, not '$DAGSTER_READONLY_UI'" ;;
esac
write_upstream metrics "${DAGSTER_METRICS_UPSTREAM:-metrics:9464}"
write_upstream prometheus "${DAGSTER_PROMETHEUS_UPSTREAM:-prometheus:9090}"
# The exporter and Prometheus are optional too (DAGSTER_METRICS): their paths on the UI's port go to
# them once logged in, or say how to turn them on.
turn_on() {
  printf 'return 404 "%s\\n";\n' "$1 off on this stack. To turn it on: set DAGSTER_METRICS=$2 in .env, then make up (docs/operations.md)."
}
case "${DAGSTER_METRICS:-off}" in
  off) metrics_off="$(turn_on "The metrics exporter is" on)" prometheus_off="$(turn_on "Prometheus is" monitoring)" ;;
  on) metrics_off="" prometheus_off="$(turn_on "Prometheus is" monitoring)" ;;
  monitoring) metrics_off="" prometheus_off="" ;;
  *) die "DAGSTER_METRICS must be off, on or monitoring, not '$DAGSTER_METRICS'" ;;
esac
printf '%s\n' "$metrics_off" >"$run/metrics-off.conf"
printf '%s\n' "$prometheus_off" >"$run/prometheus-off.conf"
resolver="${DAGSTER_UI_RESOLVER:-$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf)}"
[[ "$resolver" =~ ^[0-9.]+$ ]] || die "DAGSTER_UI_RESOLVER: '$resolver' is not an IPv4 address"
echo "resolver $resolver valid=2s ipv6=off;" >"$run/resolver.conf"

hostnames="${DAGSTER_UI_HOSTNAMES:-localhost,127.0.0.1}"
hostnames="${hostnames//,/ }"
case "${BIND_ADDRESS:-}" in "" | 0.0.0.0 | "::") ;; *) hostnames+=" $BIND_ADDRESS" ;; esac
: >"$run/hostnames.map"
for name in $hostnames; do
  [[ "$name" =~ ^[A-Za-z0-9.-]+$ ]] || die "DAGSTER_UI_HOSTNAMES: '$name' is not a host name or IPv4 address"
  grep -qxF "$name 1;" "$run/hostnames.map" || echo "$name 1;" >>"$run/hostnames.map"
done

: >"$run/origins.map"
allowed_origins="${DAGSTER_UI_ALLOWED_ORIGINS:-}"
for origin in ${allowed_origins//,/ }; do
  [[ "$origin" =~ ^https?://[A-Za-z0-9.-]+(:[0-9]+)?$ ]] || die "DAGSTER_UI_ALLOWED_ORIGINS: '$origin' is not scheme://host[:port]"
  echo "\"$origin\" 1;" >>"$run/origins.map"
done

# A certificate for the first name, valid for all of them; the user's own is never replaced.
self_signed_certificate() {
  local names san="" name
  read -r -a names <<<"$hostnames"
  for name in "${names[@]}"; do
    if [[ "$name" =~ ^[0-9.]+$ ]]; then san+="${san:+,}IP:$name"; else san+="${san:+,}DNS:$name"; fi
  done
  echo "proxy: no certificate in $tls_dir: generating a self-signed one for ${names[*]}"
  ( umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=${names[0]}" -addext "subjectAltName=$san" \
      -keyout "$tls_dir/key.pem" -out "$tls_dir/cert.pem" 2>/dev/null )
  chmod 644 "$tls_dir/cert.pem"
}

for port in 3000 3001; do
  case "${DAGSTER_UI_TLS:-off}" in
    off) echo "listen $port;" >"$run/listen-$port.conf" ;;
    on)
      if [ ! -s "$tls_dir/cert.pem" ] || [ ! -s "$tls_dir/key.pem" ]; then self_signed_certificate; fi
      cat >"$run/listen-$port.conf" <<CONF
listen $port ssl;
ssl_certificate $tls_dir/cert.pem;
ssl_certificate_key $tls_dir/key.pem;
ssl_protocols TLSv1.2 TLSv1.3;
# Plain HTTP sent to this port: point the browser at HTTPS.
error_page 497 =301 https://\$http_host\$request_uri;
CONF
      ;;
    *) die "DAGSTER_UI_TLS must be on or off, not '$DAGSTER_UI_TLS'" ;;
  esac
done

exec nginx -c /etc/dagster-proxy/nginx.conf -g "daemon off; user $worker_user;"
