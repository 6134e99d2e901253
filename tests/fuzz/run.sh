#!/usr/bin/env bash
# Build the libFuzzer targets of tests/fuzz with clang and run each for a
# while; exit non-zero on any finding (crash, sanitizer report, leak,
# timeout, out-of-memory) and print where the input that caused it is.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#       SECONDS   per target, default 60
#       TARGET    fuzz_pgoutput fuzz_frame fuzz_copytext fuzz_config (default: all)
#
# Environment:
#   WW_FUZZ_BUILD_DIR  build directory (default build-fuzz, in the source tree)
#   WW_FUZZ_JOBS       targets run at the same time (default: the number of CPUs)
#
# Each target runs with -max_total_time=SECONDS -timeout=5 -rss_limit_mb=512
# and leak detection, on its seeds (tests/fuzz/corpus/<target>, read only)
# and a working corpus kept in the build directory
# (<build>/fuzz-corpus/<target>, grows from run to run). Findings are
# written to <build>/fuzz-findings/<target>/ (emptied when the target runs
# again), logs to
# <build>/fuzz-logs/<target>.log. Reproduce a finding with
#   <build>/tests/fuzz/<target> <the input file>
# and, once fixed, copy the input into tests/fuzz/corpus/<target>/ as
# crash-<what> so that it stays a regression seed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_pgoutput fuzz_frame fuzz_copytext fuzz_config)
case $seconds in '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;; esac

build=${WW_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${WW_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}

if ! command -v clang >/dev/null; then
    echo "fuzz: clang is not installed (apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
fi
if ! grep -q "subdir('fuzz')" tests/meson.build; then
    echo "fuzz: tests/meson.build does not include tests/fuzz (if get_option('fuzz') subdir('fuzz') endif)" >&2
    exit 1
fi

# The whole build is instrumented (coverage for libFuzzer, ASan, UBSan
# that aborts), so that core and config are fuzzed, not only the harness.
if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" -Dfuzz=true -Dintegration=false \
        -Db_sanitize=address,undefined -Db_lundef=false \
        "-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer" \
        >"$build.setup.log" 2>&1 || { cat "$build.setup.log"; echo "fuzz: meson setup failed" >&2; exit 1; }
    rm -f "$build.setup.log"
fi
ninja -C "$build" fuzzers >/dev/null || { ninja -C "$build" fuzzers; echo "fuzz: build failed" >&2; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

dict_for() {
    case $1 in
    fuzz_pgoutput | fuzz_frame) echo tests/fuzz/pgoutput.dict ;;
    fuzz_copytext) echo tests/fuzz/copytext.dict ;;
    fuzz_config) echo tests/fuzz/config.dict ;;
    esac
}

run_one() {
    local t=$1 corpus=$build/fuzz-corpus/$1 findings=$build/fuzz-findings/$1/
    local log=$build/fuzz-logs/$1.log dict
    dict=$(dict_for "$t")
    rm -rf "$findings" # from an earlier run
    mkdir -p "$corpus" "$findings" "$build/fuzz-logs"
    # New inputs go to the first directory; the committed seeds stay as
    # they are.
    "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=512 \
        -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$findings" \
        ${dict:+-dict="$dict"} "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1
    echo $? >"$build/fuzz-logs/$t.rc"
}

rm -f "$build"/fuzz-logs/*.rc
running=0
for t in "${targets[@]}"; do
    if [ ! -x "$build/tests/fuzz/$t" ]; then
        echo "fuzz: no target $t" >&2
        exit 2
    fi
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

failed=0
for t in "${targets[@]}"; do
    log=$build/fuzz-logs/$t.log
    rc=$(cat "$build/fuzz-logs/$t.rc" 2>/dev/null || echo 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        printf '%-14s ok      %ss, %s execs (%s/s), %s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}"
    else
        failed=$((failed + 1))
        printf '%-14s FINDING (exit %s), log: %s\n' "$t" "$rc" "$log"
        grep -E '^==[0-9]+==ERROR|^SUMMARY|runtime error|fuzz: |Test unit written to|ALARM|out-of-memory' "$log" | head -n 12 | sed 's/^/    /'
        for f in "$build/fuzz-findings/$t"/*; do
            [ -e "$f" ] && echo "    input: $f  (reproduce: $build/tests/fuzz/$t $f)"
        done
    fi
done
echo "fuzz: ${#targets[@]} targets, $failed with findings"
[ "$failed" -eq 0 ]
