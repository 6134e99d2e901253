#!/usr/bin/env bash
# The container image's HEALTHCHECK: GET /healthz from walwire's own HTTP
# endpoint and succeed on "200". The slim image has no curl, so this uses
# bash's /dev/tcp; installed as /usr/local/bin/walwire-healthcheck.
#
# The address is WALWIRE_HTTP_LISTEN when it is set, else the image's
# default ([http] listen = 0.0.0.0:9187 in /etc/walwire/walwire.conf). If a
# mounted configuration file moves the port, set WALWIRE_HTTP_LISTEN too (or
# WALWIRE_HEALTHCHECK_ADDR=host:port). Exit 0: healthy; 1: not.
set -u

addr=${WALWIRE_HEALTHCHECK_ADDR:-${WALWIRE_HTTP_LISTEN:-0.0.0.0:9187}}
port=${addr##*:}
host=${addr%:*}
host=${host#[}
host=${host%]}
case "$host" in
"" | "0.0.0.0" | "*") host=127.0.0.1 ;; # listening everywhere: ask loopback
"::") host=::1 ;;
esac

# Every step is bounded: connecting by the orchestrator's timeout, the
# answer by read -t.
if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
    echo "walwire-healthcheck: cannot connect to $host:$port" >&2
    exit 1
fi
printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
status=""
IFS= read -r -t 5 status <&3 || true
exec 3<&-
status=${status%$'\r'}
case "$status" in
"HTTP/1."?" 200"*) exit 0 ;;
esac
echo "walwire-healthcheck: GET /healthz on $host:$port answered \"${status:-nothing}\"" >&2
exit 1
