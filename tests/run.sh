#!/usr/bin/env bash
# Run every walwire test on a bare Debian 12 machine:
#   installs what is missing (apt-get), builds with warnings as errors,
#   starts PostgreSQL and Redis on loopback (tests/services.sh), runs
#   `meson test`, stops the servers, and prints "N passed, N failed" on a
#   line of its own. Exits non-zero when anything failed.
#
#   tests/run.sh                 everything
#   tests/run.sh --suite unit    extra arguments go to `meson test`
set -uo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh test || { echo "run.sh: installing dependencies failed" >&2; exit 1; }

build=${WW_BUILD_DIR:-build-tests}
# The same build script as the container image (deploy/Dockerfile); a debug
# build type keeps assert() on for the tests.
deploy/build.sh --builddir "$build" --buildtype debugoptimized -Dwerror=true ||
    { echo "run.sh: build failed" >&2; exit 1; }

export WW_SERVICES_DIR=${WW_SERVICES_DIR:-/tmp/walwire-services-$$}
export WW_KAFKA_MOCK="$(cd "$build" && pwd)/tests/kafka_mock/kafka_mock"
tests/services.sh start >/dev/null || { echo "run.sh: starting the test servers failed" >&2; exit 1; }
trap 'tests/services.sh stop' EXIT
set -a
# shellcheck disable=SC1091
. "$WW_SERVICES_DIR/env"
set +a

meson test -C "$build" --no-rebuild --print-errorlogs "$@"
rc=$?

# Count test cases (each Criterion test is one TAP line) from meson's log.
read -r passed failed < <(python3 tests/count_tests.py "$build/meson-logs/testlog.json")
echo "${passed:-0} passed, ${failed:-0} failed"
[ "$rc" -eq 0 ] && [ "${failed:-1}" -eq 0 ]
