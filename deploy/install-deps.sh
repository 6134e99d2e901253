#!/usr/bin/env bash
# Install what walwire needs from Debian 12's archive, only what is missing.
#
#   deploy/install-deps.sh build     compilers, meson, -dev libraries
#   deploy/install-deps.sh test      build + the servers and tools the tests use
#   deploy/install-deps.sh runtime   the shared libraries walwire runs with
#   deploy/install-deps.sh quickstart   build + a PostgreSQL server
#
# Used by tests/run.sh, deploy/quickstart.sh and the Dockerfile's build
# stage, so that all three install the same things. Needs root (or sudo).
set -euo pipefail

build_pkgs=(gcc meson ninja-build pkg-config libuv1-dev libpq-dev libinih-dev
            librdkafka-dev libhiredis-dev libhttp-parser-dev)
runtime_pkgs=(libuv1 libpq5 libinih1 librdkafka1 libhiredis0.14 libhttp-parser2.9)
test_pkgs=(libcriterion-dev postgresql-15 postgresql-contrib postgresql-15-wal2json
           redis-server redis-tools kcat procps iproute2 python3 bc
           clang libclang-rt-14-dev valgrind)

case "${1:-build}" in
build) want=("${build_pkgs[@]}") ;;
test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
runtime) want=("${runtime_pkgs[@]}") ;;
quickstart) want=("${build_pkgs[@]}" postgresql-15) ;;
*) echo "usage: $0 build|test|runtime|quickstart" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's postgresql package creates and starts a default cluster; walwire's
# scripts run their own servers, so keep the package from starting one.
if [[ " ${missing[*]} " == *" postgresql-15 "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
