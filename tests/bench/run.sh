#!/usr/bin/env bash
# walwire's benchmark suite (issue 8). Run by hand, not in CI, as root (it
# starts its own PostgreSQL, Redis and Kafka mock, like tests/services.sh).
#
#   tests/bench/run.sh [throughput] [WORKLOAD...]   the throughput table (~5 min)
#   tests/bench/run.sh latency                      fixed-rate latency (~2 min)
#   tests/bench/run.sh profile                      perf + callgrind of walwire (~6 min)
#
# Throughput: for each workload, one database, one slot per consumer (and
# per run), all created BEFORE the workload is written, so that every
# consumer drains the identical backlog; then the consumers drain their
# slots one at a time, and the table gives rows/s, CPU per row (consumer
# and walsender), peak RSS and the ratio to pg_recvlogical (the baseline:
# PostgreSQL's own client, doing nothing with what it reads), followed by
# the checks of issue 8. Workloads (default: all):
#   small     1,000,000 single-row INSERTs in 10,000 transactions (int, text,
#             timestamptz)
#   bigtx     one transaction of 1,000,000 rows (BIGTX_ROWS=10000000 for the
#             10 M-row variant of the issue)
#   bigtx10k  one transaction of 10,000 rows: the reference of the peak-RSS
#             check (bigtx may use at most 20 % more memory)
#   wide      20,000 rows with a 10 KB TOASTed text column, then one update
#             of another column of each (40,000 events)
#   mixed     pgbench -N (UPDATE pgbench_accounts + INSERT pgbench_history)
#             after pgbench -i (100,000 transactions, 200,000 events)
# Consumers (CONSUMERS, default "recvlogical null file redis kafka"):
#   recvlogical  pg_recvlogical, pgoutput proto 1, to /dev/null, --endpos
#   null         walwire + the null sink (acks at once: walwire's own cost)
#   file         walwire + the file sink, fsync = batch, to a file on disk
#   redis        walwire + the Redis sink      (when sink_redis.so is built)
#   kafka        walwire + the Kafka sink on the mock cluster (when
#                sink_kafka.so and tests/kafka_mock are built)
# What each number means, the method and the latest results:
# docs/benchmarks.md.
#
# Environment: RUNS (default 3; rates use the best run, CPU the median),
# CONSUMERS, SMALL_ROWS, SMALL_TXS, BIGTX_ROWS, WIDE_ROWS, MIXED_SCALE,
# MIXED_TXS; LAT_RATE (2000 tx/s), LAT_SECONDS (60), LAT_FSYNC (batch);
# PROFILE_ROWS (1000000), CALLGRIND_ROWS (100000), WW_PROF_BUILD_DIR
# (build-bench-prof); WW_BUILD_DIR (build-bench), WW_BENCH_NO_BUILD=1
# (measure the binaries already built), DRAIN_TIMEOUT (1800 s). Results
# are also written to <build>/bench-results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
mode=throughput
case "${1:-}" in
throughput | latency | profile) mode=$1; shift ;;
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
esac
build=${WW_BUILD_DIR:-build-bench}
runs=${RUNS:-3}
out=$root/$build/bench-results
# shellcheck disable=SC2206 # a list of words
consumers=(${CONSUMERS:-recvlogical null file redis kafka})

# ---- build -----------------------------------------------------------------
if [ -z "${WW_BENCH_NO_BUILD:-}" ]; then
    deploy/build.sh --builddir "$build" >&2 || exit 1
fi
tool=$root/$build/tests/bench/bench_tool
mkdir -p "$build/tests/bench" "$out"
if [ ! -x "$tool" ] || [ tests/bench/bench_tool.c -nt "$tool" ]; then
    cc -O2 -std=c11 -Wall -Wextra -I"$(pg_config --includedir)" tests/bench/bench_tool.c \
        -o "$tool" -lpq || { echo "run.sh: building bench_tool failed" >&2; exit 1; }
fi

# Why a consumer cannot run here, or nothing when it can.
unavailable() {
    case $1 in
    recvlogical) ;;
    null | file | redis | kafka)
        [ -f "$build/sinks/$1/sink_$1.so" ] || { echo "not built"; return; }
        if [ "$1" = kafka ] && [ ! -x "$build/tests/kafka_mock/kafka_mock" ]; then
            echo "not built (tests/kafka_mock)"
        fi ;;
    *) echo "unknown consumer" ;;
    esac
}
services=pg
for c in "${consumers[@]}"; do
    [ -z "$(unavailable "$c")" ] || continue
    [ "$c" = redis ] && services="$services redis"
    [ "$c" = kafka ] && services="$services kafka"
done
[ "$mode" = throughput ] || services=pg

# ---- services ----------------------------------------------------------------
export WW_SERVICES_DIR=/tmp/walwire-bench-run-$$
export WW_KAFKA_MOCK=$root/$build/tests/kafka_mock/kafka_mock
work=$(mktemp -d /tmp/walwire-bench-work-XXXXXX) # /tmp is on disk here (not tmpfs)
bg_pids=()
cleanup() {
    for p in "${bg_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    WW_SERVICES_DIR=$WW_SERVICES_DIR tests/services.sh stop || true
    rm -rf "$work"
}
trap cleanup EXIT
WW_SERVICES="$services" tests/services.sh start >/dev/null
set -a
# shellcheck disable=SC1091
. "$WW_SERVICES_DIR/env"
set +a
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

machine() {
    printf '%s, %s CPUs (%s), %s GiB RAM, %s, PostgreSQL %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" \
        "$(nproc)" "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" \
        "$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" "$(uname -sr)" \
        "$("$pgbin/postgres" --version | awk '{ print $3 }')"
}

# ---- throughput ----------------------------------------------------------------

label() {
    case $1 in
    recvlogical) echo "pg_recvlogical" ;;
    *) echo "walwire $1" ;;
    esac
}

# Write one workload's backlog, then drain it with every consumer.
# Appends "workload consumer run rows wall user sys rss_kb events ws_cpu"
# lines to $work/results.
bench_workload() { # WORKLOAD
    local w=$1 db=bench_$1 c r t rows end_lsn t0 ready=()
    q postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    workload_schema "$w" "$db"
    for c in "${consumers[@]}"; do
        [ -n "$(unavailable "$c")" ] || ready+=("$c")
    done
    for r in $(seq "$runs"); do
        for c in "${ready[@]}"; do
            q "$db" -c "SELECT pg_create_logical_replication_slot('${c}_$r', 'pgoutput')" >/dev/null
        done
    done
    log "$w: writing the workload..."
    t0=$(date +%s.%N)
    workload_write "$w" "$db"
    end_lsn=$(workload_fence "$db")
    rows=$(workload_rows "$w" "$db")
    log "$w: $rows events up to $end_lsn, written in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
    if [[ " ${ready[*]} " == *" kafka "* ]]; then
        for t in $(workload_tables "$w"); do
            tests/services.sh kafka topic "bench.public.$t" 16 >/dev/null 2>&1 || true
        done
    fi
    local n=${#ready[@]} i
    for r in $(seq "$runs"); do
        # Each run starts with the next consumer, so that none always goes
        # first (or right after a given other one).
        for i in $(seq 0 $((n - 1))); do
            c=${ready[$(((i + r - 1) % n))]}
            [ "$c" = redis ] && redis-cli -p "$WW_TEST_REDIS_PORT" FLUSHALL >/dev/null
            if [ "$c" = recvlogical ]; then
                drain_recvlogical "$db" "${c}_$r" "$end_lsn"
            else
                drain_walwire "$db" "${c}_$r" "$end_lsn" "$c"
            fi
            q "$db" -c "SELECT pg_drop_replication_slot('${c}_$r')" >/dev/null
            log "$w: run $r: $(label "$c"): $D_WALL s, CPU ${D_USER}+${D_SYS} s, peak RSS $((D_RSS / 1024)) MiB, events $D_EVENTS, walsender CPU $D_WS s"
            echo "$w $c $r $rows $D_WALL $D_USER $D_SYS $D_RSS $D_EVENTS $D_WS" >>"$work/results"
        done
    done
    q postgres -c "DROP DATABASE $db"
}

# Per workload and consumer, from $work/results ("workload consumer run
# rows wall user sys rss events ws_cpu" lines), one line:
#   workload consumer rows best_wall median_wall median_user median_sys
#   max_rss_kb events_ok(1/0) median_ws_cpu baseline_best_wall
# Rates and ratios use the best (shortest) run: other load on the machine
# only ever slows a run down. CPU is the median of the runs (it varies
# with how often the consumer had to wait), peak RSS the highest.
summarize() {
    sort -k1,1 -k2,2 -k5,5g "$work/results" | awk '
        function med(a, n,   i, j, t) { # median of a[1..n]
            for (i = 2; i <= n; i++)
                for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        function flush() {
            if (key == "") return
            print key, rows, wall[1], med(wall, n), med(usr, n), med(sys, n), rss, ok, (nw ? med(ws, nw) : "-")
        }
        $1 " " $2 != key { flush(); key = $1 " " $2; n = 0; nw = 0; rss = 0; ok = 1; rows = $4 }
        { n++; wall[n] = $5; usr[n] = $6; sys[n] = $7
          if ($10 != "" && $10 != "-") ws[++nw] = $10
          if ($8 > rss) rss = $8
          if ($9 != "-" && $9 != $4) ok = 0 }
        END { flush() }' |
        awk '{ line[NR] = $0; if ($2 == "recvlogical") base[$1] = $4 }
             END { for (i = 1; i <= NR; i++) { split(line[i], f, " ")
                       print line[i], (f[1] in base) ? base[f[1]] : "-" } }'
}

print_table() {
    summarize >"$work/summary"
    printf '%-9s %-15s %9s %8s %8s %10s %8s %8s %8s %8s %8s  %s\n' workload consumer events best_s \
        median_s rows/s "CPU s/M" "usr s/M" "sys s/M" "RSS MiB" "wsnd s/M" "x base"
    local w c why
    for w in "${workloads[@]}"; do
        for c in "${consumers[@]}"; do
            why=$(unavailable "$c")
            if [ -n "$why" ]; then
                printf '%-9s %-15s %s\n' "$w" "$(label "$c")" "$why"
                continue
            fi
            awk -v w="$w" -v c="$c" -v l="$(label "$c")" '$1 == w && $2 == c {
                ratio = $11 == "-" ? "-" : sprintf("%.2f", $11 / $4)
                wsnd = $10 == "-" ? "-" : sprintf("%.2f", $10 / $3 * 1e6)
                printf "%-9s %-15s %9d %8.2f %8.2f %10.0f %8.2f %8.2f %8.2f %8.1f %8s  %s%s\n", w, l,
                    $3, $4, $5, $3 / $4, ($6 + $7) / $3 * 1e6, $6 / $3 * 1e6, $7 / $3 * 1e6,
                    $8 / 1024, wsnd, ratio, $9 ? "" : "  WRONG EVENT COUNT"
            }' "$work/summary"
        done
    done
}

# What must hold (issue 8), from $work/summary.
print_checks() {
    awk -v bigrows="$bigtx_rows" '
        { k = $1 " " $2; best[k] = $4; cpu[k] = ($6 + $7) / $3 * 1e6; rss[k] = $8; seen[$2] = 1 }
        function ratio(w, c) { return best[w " recvlogical"] / best[w " " c] }
        function have(w, c) { return (w " " c) in best && (w " recvlogical") in best }
        function verdict(ok) { return ok ? "ok  " : "FAIL" }
        END {
            print "\nWhat must hold (issue 8):"
            for (i = 1; i <= 2; i++) {
                w = i == 1 ? "small" : "bigtx"
                if (!have(w, "null")) continue
                printf "  %s 1. null sink on %-8s %.2fx baseline (>= 0.95), %.2f us CPU per row (< 2)\n",
                    verdict(ratio(w, "null") >= 0.95 && cpu[w " null"] < 2), w, ratio(w, "null"), cpu[w " null"]
            }
            n = split("small bigtx wide mixed", ws, " ")
            for (i = 1; i <= n; i++) {
                w = ws[i]
                if (have(w, "file"))
                    printf "  %s 2. file sink on %-8s %.2fx baseline (>= 0.90)\n",
                        verdict(ratio(w, "file") >= 0.9), w, ratio(w, "file")
            }
            for (i = 1; i <= n; i++) {
                for (j = 1; j <= 2; j++) {
                    c = j == 1 ? "redis" : "kafka"
                    w = ws[i]
                    if (have(w, c))
                        printf "  %s 3. %s sink on %-8s %.2fx baseline (>= 0.80 of min(baseline, %s ceiling): see tests/bench/%s.sh)\n",
                            verdict(ratio(w, c) >= 0.8), c, w, ratio(w, c), c, c
                }
            }
            for (k in rss) {
                split(k, p, " ")
                if (p[2] == "recvlogical") continue
                if (rss[k] >= 64 * 1024) { bad++; printf "  FAIL 4. peak RSS %.1f MiB on %s (>= 64 MiB)\n", rss[k] / 1024, k }
                if (rss[k] > maxrss) { maxrss = rss[k]; maxk = k }
            }
            if (!bad && maxk != "")
                printf "  ok   4. peak RSS under 64 MiB everywhere (highest %.1f MiB: %s)\n", maxrss / 1024, maxk
            for (c in seen) {
                if (c == "recvlogical" || !(("bigtx " c) in rss) || !(("bigtx10k " c) in rss)) continue
                g = rss["bigtx " c] / rss["bigtx10k " c]
                printf "  %s 4. %s sink: peak RSS with %d rows in one transaction is %.2fx that with 10,000 (<= 1.20)\n",
                    verdict(g <= 1.2), c, bigrows, g
            }
        }' "$work/summary"
}

throughput() {
    workloads=("$@")
    [ ${#workloads[@]} -gt 0 ] || workloads=(small bigtx bigtx10k wide mixed)
    : >"$work/results"
    for w in "${workloads[@]}"; do
        bench_workload "$w"
    done
    {
        echo "walwire throughput, $(machine)"
        echo "best of $runs run(s); time = start of the consumer until the whole backlog is delivered (walwire: acknowledged and confirmed to PostgreSQL)"
        echo
        print_table
        print_checks
    } | tee "$out/throughput.txt"
    cp "$work/results" "$out/throughput.raw"
}

# ---- latency -------------------------------------------------------------------
# shellcheck source=tests/bench/latency.sh
. tests/bench/latency.sh
# ---- profile -------------------------------------------------------------------
# shellcheck source=tests/bench/profile.sh
. tests/bench/profile.sh

case $mode in
throughput) throughput "$@" ;;
latency) latency ;;
profile) profile ;;
esac
