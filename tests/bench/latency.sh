# `tests/bench/run.sh latency` (sourced by run.sh, not run by itself).
#
# A fixed-rate writer -- pgbench --rate, LAT_RATE transactions per second
# (default 2,000) for LAT_SECONDS (default 60), two clients, each
# transaction one single-row INSERT -- while two consumers follow the
# database at the same time, each on its own slot:
#   pg_recvlogical (pgoutput, like the throughput baseline) writing to a
#   pipe, and walwire with the file sink (fsync = batch) writing to a file
#   on disk.
# Every row carries its insert time: the text column holds
# "ts=<clock_timestamp() in us * 10 + pgbench client id>.", which appears
# as it is both in pgoutput's binary output and in walwire's JSON. One
# reader per consumer (bench_tool tail; a blocking read on the pipe, an
# inotify watch on the file) notes CLOCK_REALTIME when a read() returns the
# token, and the latency of the event is that minus the insert time. Both
# clocks are the same (one machine), resolution 1 us.
# shellcheck shell=bash disable=SC2034,SC2154

# p50 p99 p99.9 max mean (ms) of column 2 of a file of "token latency_us".
lat_stats() {
    sort -n -k2,2 "$1" | awk '{ v[NR] = $2; s += $2 }
        END { if (!NR) { print "- - - - -"; exit }
              i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
              i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
              i999 = int(NR * 0.999); if (i999 < 1) i999 = 1
              printf "%.3f %.3f %.3f %.3f %.3f\n", v[i50] / 1000, v[i99] / 1000, v[i999] / 1000,
                  v[NR] / 1000, s / NR / 1000 }'
}

latency() {
    local rate=${LAT_RATE:-2000} secs=${LAT_SECONDS:-60} fsync=${LAT_FSYNC:-batch}
    local db=bench_latency
    local recv_pid ww_pid tail_recv tail_ww lsn n
    q postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    q "$db" -c "CREATE TABLE lat (id bigserial PRIMARY KEY, tag text)" \
        -c "CREATE PUBLICATION bench_pub FOR TABLE lat" \
        -c "SELECT pg_create_logical_replication_slot('lat_recv', 'pgoutput')" \
        -c "SELECT pg_create_logical_replication_slot('lat_ww', 'pgoutput')" >/dev/null

    log "latency: fdatasync on this disk..."
    local fs
    fs=$("$tool" fsync-probe "$work/fsync-probe" 1000)
    rm -f "$work/fsync-probe"

    # pg_recvlogical -> pipe -> reader.
    mkfifo "$work/recv.fifo"
    "$tool" tail -o "$work/recv.lat" -t $((secs + 300)) <"$work/recv.fifo" &
    tail_recv=$!
    bg_pids+=("$tail_recv")
    "$pgbin/pg_recvlogical" -d "$base dbname=$db" --slot lat_recv --start --no-loop \
        -o proto_version=1 -o publication_names=bench_pub -f - >"$work/recv.fifo" \
        2>"$work/recv.log" &
    recv_pid=$!
    bg_pids+=("$recv_pid")

    # walwire -> file on disk -> reader.
    walwire_conf "$db" lat_ww file ""
    sed -i -e "s|^path = .*|path = $work/lat.jsonl|" -e "s|^fsync = .*|fsync = $fsync|" \
        "$work/walwire.conf"
    "$walwire_bin" run -c "$work/walwire.conf" 2>"$work/walwire.log" &
    ww_pid=$!
    bg_pids+=("$ww_pid")
    "$tool" tail -f "$work/lat.jsonl" -o "$work/ww.lat" -t $((secs + 300)) &
    tail_ww=$!
    bg_pids+=("$tail_ww")

    # Both streaming before the clock starts: a warm-up row that walwire
    # must confirm, and pg_recvlogical's slot active.
    # (The position is read inside the transaction: see workload_fence.)
    lsn=$(q "$db" -c "BEGIN" -c "INSERT INTO lat (tag) VALUES ('warm-up')" \
        -c "SELECT pg_current_wal_insert_lsn()" -c "COMMIT")
    "$tool" wait-lsn "$base dbname=$db" lat_ww "$lsn" 60 "$ww_pid" >/dev/null ||
        { cat "$work/walwire.log" >&2; die "walwire did not start streaming"; }
    local deadline=$((SECONDS + 60))
    until [ "$(q "$db" -c "SELECT active FROM pg_replication_slots WHERE slot_name = 'lat_recv'")" = t ]; do
        [ $SECONDS -lt $deadline ] || { cat "$work/recv.log" >&2; die "pg_recvlogical did not start"; }
        sleep 0.1
    done

    log "latency: $rate transactions/s for $secs s..."
    cat >"$work/lat.sql" <<'SQL'
INSERT INTO lat (tag) VALUES ('ts=' || ((extract(epoch FROM clock_timestamp()) * 1000000)::bigint * 10 + :client_id) || '.');
SQL
    # synchronous_commit = on for the writer (services.sh sets it off): a
    # walsender only sends WAL that is flushed, and with it off the commit
    # waits for the WAL writer (up to wal_writer_delay, 200 ms). With
    # fsync = off on this test server, the flush is a write(2).
    # The same fdatasync probe, every 10 ms while the writer runs.
    "$tool" fsync-probe "$work/fsync-load" $((secs * 80)) 10 >"$work/fsync-load.txt" &
    local probe_pid=$!
    bg_pids+=("$probe_pid")
    PGOPTIONS='-c synchronous_commit=on' \
    "$pgbin/pgbench" -n -M prepared -c 2 -j 2 -R "$rate" -T "$secs" -f "$work/lat.sql" \
        "$base dbname=$db" >"$work/pgbench.log" 2>&1 ||
        { cat "$work/pgbench.log" >&2; die "pgbench failed"; }
    wait "$probe_pid" || die "the fdatasync probe failed"
    rm -f "$work/fsync-load"
    q "$db" -c "INSERT INTO lat (tag) VALUES ('ts=1.')" # the end marker
    n=$(q "$db" -c "SELECT count(*) FROM lat WHERE tag LIKE 'ts=%' AND tag <> 'ts=1.'")
    wait "$tail_recv" || die "the pg_recvlogical reader did not see the end marker"
    wait "$tail_ww" || { cat "$work/walwire.log" >&2; die "the walwire reader did not see the end marker"; }
    kill -INT "$recv_pid" 2>/dev/null || true
    wait "$recv_pid" || true
    kill -TERM "$ww_pid"
    wait "$ww_pid" || { cat "$work/walwire.log" >&2; die "walwire did not exit cleanly"; }
    bg_pids=()

    local nr nw
    nr=$(wc -l <"$work/recv.lat")
    nw=$(wc -l <"$work/ww.lat")
    # The same event in both: walwire's latency minus pg_recvlogical's.
    join <(sort -k1,1 "$work/recv.lat") <(sort -k1,1 "$work/ww.lat") |
        awk '{ print $1, $3 - $2 }' >"$work/diff.lat"
    local r w d
    read -r -a r <<<"$(lat_stats "$work/recv.lat")"
    read -r -a w <<<"$(lat_stats "$work/ww.lat")"
    read -r -a d <<<"$(lat_stats "$work/diff.lat")"
    local fsa
    read -r -a fsa <<<"$fs"
    local tps
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.log" | head -1)
    {
        echo "walwire latency, $(machine)"
        echo "$n events: pgbench --rate $rate for $secs s ($tps tx/s achieved), one single-row INSERT per transaction"
        echo "latency = when the reader's read() returned the event - the row's clock_timestamp() (ms)"
        echo
        printf '%-40s %7s %8s %8s %8s %8s %8s\n' consumer events p50 p99 p99.9 max mean
        printf '%-40s %7d %8s %8s %8s %8s %8s\n' "pg_recvlogical -> pipe" "$nr" "${r[@]}"
        printf '%-40s %7d %8s %8s %8s %8s %8s\n' "walwire file sink (fsync=$fsync) -> file" "$nw" "${w[@]}"
        printf '%-40s %7d %8s %8s %8s %8s %8s\n' "walwire - pg_recvlogical, same event" "$(wc -l <"$work/diff.lat")" "${d[@]}"
        echo
        printf 'fdatasync on this disk alone (512-byte appends): p50 %.3f ms, p99 %.3f ms, max %.3f ms\n' \
            "$(awk -v x="${fsa[0]}" 'BEGIN { print x / 1000 }')" \
            "$(awk -v x="${fsa[1]}" 'BEGIN { print x / 1000 }')" \
            "$(awk -v x="${fsa[2]}" 'BEGIN { print x / 1000 }')"
        read -r -a fsa <<<"$(cat "$work/fsync-load.txt")"
        printf 'fdatasync while the benchmark runs:               p50 %.3f ms, p99 %.3f ms, max %.3f ms\n' \
            "$(awk -v x="${fsa[0]}" 'BEGIN { print x / 1000 }')" \
            "$(awk -v x="${fsa[1]}" 'BEGIN { print x / 1000 }')" \
            "$(awk -v x="${fsa[2]}" 'BEGIN { print x / 1000 }')"
        if [ "$fsync" != never ]; then
            echo "(a line is visible in the file after write(2); walwire acks it one fdatasync later;"
            echo " with fsync = $fsync, lines written during a flush wait for its fdatasync to end)"
        fi
        echo
        awk -v w="${w[1]}" -v r="${r[1]}" -v n="$n" -v nr="$nr" -v nw="$nw" 'BEGIN {
            x = w - r
            printf "walwire adds %.3f ms at p99 over pg_recvlogical\n", x
            printf "  %s 5. under 2 ms at p99 (file sink)\n", x < 2 ? "ok  " : "FAIL"
            if (nr != n || nw != n)
                printf "  FAIL events: %d committed, pg_recvlogical saw %d, walwire %d\n", n, nr, nw
        }'
    } | tee "$out/latency.txt"
    cp "$work/recv.lat" "$out/latency-recvlogical.raw"
    cp "$work/ww.lat" "$out/latency-walwire.raw"
    q "$db" -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                WHERE slot_name IN ('lat_recv', 'lat_ww')" >/dev/null
    q postgres -c "DROP DATABASE $db"
}
