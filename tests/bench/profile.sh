# `tests/bench/run.sh profile` (sourced by run.sh, not run by itself).
#
# Where walwire's CPU goes on the `small` workload with the null sink, so
# that nothing but walwire's own path is measured (decode, encode, sink
# write, ack, position tracking, status updates, libpq, libuv, kernel):
#   perf      `perf record -e cpu-clock -g` (a software clock: hardware
#             counters are not available in this VM) of the whole life of a
#             walwire that drains PROFILE_ROWS rows (default 1,000,000; the
#             start-up is a few ms of it);
#   callgrind instruction counts per function while walwire drains
#             CALLGRIND_ROWS rows (default 100,000; valgrind is ~50x slower).
# walwire is built for this in its own directory (WW_PROF_BUILD_DIR,
# default build-bench-prof): the release build plus -g and frame pointers,
# so that perf can walk the stack. The reports are written to
# <build>/bench-results/profile-*.txt.
# shellcheck shell=bash disable=SC2034,SC2154

# A `small`-style database with slot $2: the table, the publication, the slot.
profile_db() { # DB SLOT
    q postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
    workload_schema small "$1"
    q "$1" -c "SELECT pg_create_logical_replication_slot('$2', 'pgoutput')" >/dev/null
}

# Commit $2 rows in 100-row transactions into database $1; prints the end LSN.
profile_write() { # DB ROWS
    small_rows=$2 small_txs=$(($2 / 100)) workload_write small "$1"
    workload_fence "$1"
}

profile_cleanup_db() { # DB SLOT
    q "$1" -c "SELECT pg_drop_replication_slot('$2')" >/dev/null
    q postgres -c "DROP DATABASE $1"
}

profile() {
    local pbuild=${WW_PROF_BUILD_DIR:-build-bench-prof}
    local rows=${PROFILE_ROWS:-1000000} cgrows=${CALLGRIND_ROWS:-100000}
    local end_lsn wpid ppid deadline
    command -v perf >/dev/null || die "perf is not installed (apt-get install linux-perf)"
    command -v valgrind >/dev/null || die "valgrind is not installed"
    if [ -z "${WW_BENCH_NO_BUILD:-}" ]; then
        deploy/build.sh --no-deps --builddir "$pbuild" "-Dc_args=-g -fno-omit-frame-pointer" >&2 ||
            die "building $pbuild failed"
    fi
    walwire_bin=$root/$pbuild/walwire
    sink_dir=$root/$pbuild/sinks

    # ---- perf ----
    log "profile: $rows rows for perf..."
    profile_db bench_prof prof_perf
    q bench_prof -c "SELECT pg_create_logical_replication_slot('prof_sc_ww', 'pgoutput')" \
        -c "SELECT pg_create_logical_replication_slot('prof_sc_recv', 'pgoutput')" >/dev/null
    end_lsn=$(profile_write bench_prof "$rows")
    walwire_conf bench_prof prof_perf null ""
    # perf starts walwire itself (nothing is missed), and ends with it.
    perf record -q -e cpu-clock -F 10000 -g -o "$work/perf.data" -- \
        "$walwire_bin" run -c "$work/walwire.conf" 2>"$work/walwire.log" &
    ppid=$!
    bg_pids+=("$ppid")
    wpid=
    deadline=$((SECONDS + 30))
    until wpid=$(pgrep -P "$ppid" 2>/dev/null); do # walwire: perf's child
        [ $SECONDS -lt $deadline ] || die "perf did not start walwire"
        sleep 0.05
    done
    "$tool" wait-lsn "$base dbname=bench_prof" prof_perf "$end_lsn" 1800 "$wpid" >/dev/null ||
        { cat "$work/walwire.log" >&2; die "walwire did not drain under perf"; }
    kill -TERM "$wpid"
    wait "$ppid" || { cat "$work/walwire.log" >&2; die "walwire did not exit cleanly under perf"; }
    bg_pids=()
    q bench_prof -c "SELECT pg_drop_replication_slot('prof_perf')" >/dev/null

    # ---- syscalls: walwire and pg_recvlogical on the same backlog ----
    log "profile: system calls..."
    local events=raw_syscalls:sys_enter,syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_wait
    events=$events,syscalls:sys_enter_pselect6,syscalls:sys_enter_sendto,syscalls:sys_enter_write
    walwire_conf bench_prof prof_sc_ww null ""
    perf stat -x, -o "$work/sc-ww.csv" -e "$events" -- \
        "$walwire_bin" run -c "$work/walwire.conf" 2>"$work/walwire.log" &
    ppid=$!
    bg_pids+=("$ppid")
    deadline=$((SECONDS + 30))
    until wpid=$(pgrep -P "$ppid" 2>/dev/null); do
        [ $SECONDS -lt $deadline ] || die "perf stat did not start walwire"
        sleep 0.05
    done
    "$tool" wait-lsn "$base dbname=bench_prof" prof_sc_ww "$end_lsn" 1800 "$wpid" >/dev/null ||
        { cat "$work/walwire.log" >&2; die "walwire did not drain under perf stat"; }
    kill -TERM "$wpid"
    wait "$ppid" || die "walwire did not exit cleanly under perf stat"
    bg_pids=()
    perf stat -x, -o "$work/sc-recv.csv" -e "$events" -- "$pgbin/pg_recvlogical" \
        -d "$base dbname=bench_prof" --slot prof_sc_recv --start --no-loop --endpos "$end_lsn" \
        -o proto_version=1 -o publication_names=bench_pub -f /dev/null
    q bench_prof -c "SELECT pg_drop_replication_slot('prof_sc_ww')" \
        -c "SELECT pg_drop_replication_slot('prof_sc_recv')" >/dev/null
    q postgres -c "DROP DATABASE bench_prof"
    {
        echo "system calls per 1,000 rows, draining the same $rows-row backlog (small):"
        printf '%-16s %12s %10s %10s %10s %10s %10s\n' consumer "all" recvfrom epoll_wait pselect6 sendto write
        local f
        for f in ww recv; do
            awk -F, -v n="$rows" -v l="$([ $f = ww ] && echo "walwire null" || echo pg_recvlogical)" '
                $3 ~ /sys_enter/ { name = $3; sub(/.*sys_enter_?/, "", name); c[name == "" ? "all" : name] = $1 }
                END { printf "%-16s %12.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", l,
                          c["all"] / n * 1000, c["recvfrom"] / n * 1000, c["epoll_wait"] / n * 1000,
                          c["pselect6"] / n * 1000, c["sendto"] / n * 1000, c["write"] / n * 1000 }' \
                "$work/sc-$f.csv"
        done
    } >"$out/profile-syscalls.txt"
    {
        echo "perf record -e cpu-clock -g, walwire + null sink draining $rows rows (small), $(machine)"
        perf report -i "$work/perf.data" --stdio 2>/dev/null | awk '/^# Samples/ && !n++ { sub(/^# /, ""); print }'
        echo "self time per function (--no-children):"
        perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio -g none \
            --percent-limit 0.4 2>/dev/null | grep -v '^#' | sed -e '/^$/d' -e 's/[ -]*$//'
    } >"$out/profile-perf-self.txt"
    {
        echo "perf: time including callees (--children), functions over 3 %:"
        perf report -i "$work/perf.data" --children --sort symbol --stdio -g none \
            --percent-limit 3 2>/dev/null | grep -v '^#' | sed -e '/^$/d' -e 's/[ -]*$//'
    } >"$out/profile-perf-children.txt"
    {
        echo "perf: self time per shared object:"
        perf report -i "$work/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
            grep -v '^#' | sed '/^$/d'
    } >"$out/profile-perf-dso.txt"

    # ---- callgrind ----
    # Instrumentation starts off (--instr-atstart=no) and is switched on
    # once walwire streams (its slot is active), and only then are the rows
    # written: the start-up (SCRAM authentication in libcrypto, dlopen,
    # setup queries) is left out, and every row is counted. walwire is
    # slower than the writer under valgrind, so it mostly drains a backlog.
    log "profile: $cgrows rows for callgrind..."
    profile_db bench_cg prof_cg
    walwire_conf bench_cg prof_cg null ""
    rm -f "$work"/callgrind.out*
    valgrind -q --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" \
        "$walwire_bin" run -c "$work/walwire.conf" 2>"$work/walwire.log" &
    wpid=$!
    bg_pids+=("$wpid")
    deadline=$((SECONDS + 120))
    until [ "$(q bench_cg -c "SELECT active FROM pg_replication_slots WHERE slot_name = 'prof_cg'")" = t ]; do
        [ $SECONDS -lt $deadline ] || { cat "$work/walwire.log" >&2; die "walwire did not start under callgrind"; }
        sleep 0.05
    done
    callgrind_control -i on "$wpid" >/dev/null 2>&1 || die "callgrind_control -i on $wpid failed"
    end_lsn=$(profile_write bench_cg "$cgrows")
    "$tool" wait-lsn "$base dbname=bench_cg" prof_cg "$end_lsn" 3600 "$wpid" >/dev/null ||
        { cat "$work/walwire.log" >&2; die "walwire did not drain under callgrind"; }
    kill -TERM "$wpid"
    wait "$wpid" || { cat "$work/walwire.log" >&2; die "walwire did not exit cleanly under callgrind"; }
    bg_pids=()
    profile_cleanup_db bench_cg prof_cg
    local cg=$work/callgrind.out
    local total
    total=$(callgrind_annotate "$cg" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
    {
        echo "callgrind, walwire + null sink streaming $cgrows rows (small; start-up excluded):"
        awk -v t="$total" -v n="$cgrows" 'BEGIN { printf "%.0f instructions per row\n", t / n }'
        callgrind_annotate --inclusive=no "$cg" 2>/dev/null | sed -n '/^Ir/,$p' | sed -n '1,50p'
    } >"$out/profile-callgrind-self.txt"
    {
        echo "callgrind: instructions including callees (streaming only)"
        callgrind_annotate --inclusive=yes "$cg" 2>/dev/null | sed -n '/^Ir/,$p' | sed -n '1,60p'
    } >"$out/profile-callgrind-inclusive.txt"
    cp "$cg" "$out/callgrind.out"
    log "profile: reports in $out/profile-*.txt"
    cat "$out/profile-syscalls.txt"
    head -n 45 "$out/profile-perf-self.txt"
    cat "$out/profile-perf-dso.txt"
    sed -n '1,45p' "$out/profile-callgrind-self.txt"
}
