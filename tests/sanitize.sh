#!/usr/bin/env bash
# Run the unit and integration suites with walwire, its sink modules and the
# tests built with AddressSanitizer (+ LeakSanitizer) and
# UndefinedBehaviorSanitizer, against servers of our own; print
# "N passed, N failed" like tests/run.sh and exit non-zero when a test
# failed or any sanitizer reported anything.
#
#   tests/sanitize.sh                 every suite
#   tests/sanitize.sh --suite unit    extra arguments go to `meson test`
#
# Environment:
#   WW_SANITIZE_BUILD_DIR  build directory (default build-asan)
#   WW_SANITIZE_CC         compiler (default clang; gcc works too, but gcc's
#                          UBSan ignores log_path, see below)
#
# How a sanitizer finding becomes a failure, in every process (the tests,
# Criterion's workers, and walwire children the integration harness
# spawns through WW_BUILD_ROOT, which is this build directory):
#   - UBSan does not recover (-fno-sanitize-recover=all): undefined
#     behaviour stops the process;
#   - every report (ASan, LSan at exit, UBSan) goes to a file under
#     <build>/sanitizer-reports/ (log_path) and the process exits with code
#     86, which the tests' exit-code assertions see as a failure;
#   - after the run, any report file fails this script and is printed,
#     which also catches processes whose exit code no test checks (a
#     child killed on purpose after a report, a crash in a helper).
# The sink modules are built with -Db_lundef=false: the ASan runtime is
# linked into the executable (walwire, the test programs) and the dlopened
# modules resolve it from there; no LD_PRELOAD is needed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

deploy/install-deps.sh test || { echo "sanitize: installing dependencies failed" >&2; exit 1; }
cc=${WW_SANITIZE_CC:-clang}
command -v "$cc" >/dev/null || { echo "sanitize: $cc is not installed" >&2; exit 1; }

build=${WW_SANITIZE_BUILD_DIR:-build-asan}
if [ ! -f "$build/build.ninja" ]; then
    CC=$cc meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false \
        "-Dc_args=-fno-sanitize-recover=all -fno-omit-frame-pointer" >"$build.setup.log" 2>&1 ||
        { cat "$build.setup.log"; echo "sanitize: meson setup failed" >&2; exit 1; }
    rm -f "$build.setup.log"
fi
ninja -C "$build" >/dev/null || { ninja -C "$build"; echo "sanitize: build failed" >&2; exit 1; }

build_abs=$(cd "$build" && pwd)
reports=$build_abs/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
chmod 777 "$reports" # some processes may run as another user

export WW_SERVICES_DIR=${WW_SERVICES_DIR:-/tmp/walwire-asan-services-$$}
export WW_KAFKA_MOCK="$build_abs/tests/kafka_mock/kafka_mock"
tests/services.sh start >/dev/null || { echo "sanitize: starting the test servers failed" >&2; exit 1; }
trap 'tests/services.sh stop' EXIT
set -a
# shellcheck disable=SC1091
. "$WW_SERVICES_DIR/env"
set +a

# Set after the servers started: the options are for our processes.
# quarantine_size_mb keeps freed memory poisoned for a while without
# multiplying the footprint of the memory-bound tests. strict_string_checks
# is off: hiredis runs strchr() over the commands it is handed with a
# length (redisAsyncFormattedCommand), which walwire does not NUL-terminate;
# that reads inside the buffer up to the next '\r', not past it.
# intercept_strstr is off: ASan's strstr() measures the whole haystack on
# every call, which makes the tests that scan a growing output file line by
# line with strstr (stream_file's sigkill test) quadratic and time out;
# walwire itself only calls strstr() on short error messages.
san_common="exitcode=86:log_path=$reports/report:print_stacktrace=1"
export ASAN_OPTIONS="$san_common:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1:check_initialization_order=1:quarantine_size_mb=32:intercept_strstr=0"
export UBSAN_OPTIONS="$san_common:halt_on_error=1"
# Leaks that are not walwire's. A suppression matches a function, source
# file or module name anywhere in the stack, so each is narrow:
#  - Criterion's runner keeps its parsed arguments (criterion_handle_args)
#    until exit; the library itself is in the stack of every test, so it
#    is not named;
#  - the integration test programs (tests/integration, the harness): a
#    failed cr_assert jumps out of the test and leaves what it allocated,
#    and their leaks are not walwire's (walwire runs as a child process,
#    whose leaks are still reported). Their module name matches every
#    allocation, because the ASan runtime is linked into the executable.
# The unit test programs, which run walwire's code in process, keep full
# leak detection.
cat >"$build/lsan.supp" <<'SUPP'
leak:criterion_handle_args
leak:/tests/integration/integration_
SUPP
export LSAN_OPTIONS="exitcode=86:suppressions=$build_abs/lsan.supp:print_suppressions=0"
export WW_SANITIZE=1 # tests may relax what sanitizers distort (timings, memory)

meson test -C "$build" --no-rebuild --print-errorlogs --timeout-multiplier 3 "$@"
rc=$?

# Count test cases as tests/run.sh does (each Criterion test is one TAP line).
read -r passed failed < <(python3 tests/count_tests.py "$build/meson-logs/testlog.json")

nreports=$(find "$reports" -type f | wc -l)
if [ "$nreports" -gt 0 ]; then
    echo "sanitize: $nreports sanitizer report(s) in $reports:"
    for f in "$reports"/*; do
        echo "---- $f"
        head -n 40 "$f"
    done
fi
echo "${passed:-0} passed, ${failed:-0} failed, $nreports sanitizer reports"
[ "$rc" -eq 0 ] && [ "${failed:-1}" -eq 0 ] && [ "$nreports" -eq 0 ]
