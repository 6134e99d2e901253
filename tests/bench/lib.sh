# Helpers of tests/bench/run.sh (sourced, not run): the database, the
# workloads, and one drain of a backlog by one consumer. Expects root,
# build, work, tool and the variables of tests/services.sh's env file.
# shellcheck shell=bash disable=SC2034,SC2154

log() { printf '%s\n' "$*" >&2; }
die() { log "run.sh: $*"; exit 1; }

base="host=$WW_TEST_PGHOST port=$WW_TEST_PGPORT user=$WW_TEST_PGUSER"
export PGPASSWORD=$WW_TEST_PGPASSWORD
pgbin=$WW_TEST_PGBIN
# The walwire under test and its sink modules (profile.sh points them at
# the profiling build).
walwire_bin=$root/$build/walwire
sink_dir=$root/$build/sinks

q() { # q DB SQL-ARGS...: psql, unaligned, stop on the first error
    local db=$1
    shift
    PGOPTIONS='-c client_min_messages=warning' psql -X -q -At -v ON_ERROR_STOP=1 "$base dbname=$db" "$@"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 30000))
        if port_free "$p"; then echo "$p"; return; fi
    done
    die "no free port found"
}

ns_to_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

# ---- workloads -------------------------------------------------------------
# Each workload lives in a database of its own, bench_<workload>, with one
# publication, bench_pub. workload_schema creates the tables and the
# publication; workload_write commits the changes; workload_rows prints how
# many row changes (events) the backlog holds; workload_fence ends it.
#
# The fence: one row in bench_fence (published too), committed after the
# workload, in a transaction that reads pg_current_wal_insert_lsn() before
# its commit. That position is the end LSN of the backlog: it lies after
# every change of the workload and before the fence's commit record, so
#   - pg_recvlogical --endpos=END stops at the fence, having read all;
#   - walwire's confirmed_flush_lsn passes END when it confirms the fence's
#     commit, i.e. once every earlier transaction is acknowledged.
# The end is thus reached on a commit, never on a keepalive. (An end LSN
# read after the last commit can lie past it -- other WAL follows -- and
# walwire confirms such a position only from a keepalive that arrives
# while nothing is in flight; docs/benchmarks.md has the details.)
# Consumers see one more event than the workload's rows: the fence.

small_rows=${SMALL_ROWS:-1000000}
small_txs=${SMALL_TXS:-10000}
bigtx_rows=${BIGTX_ROWS:-1000000}
wide_rows=${WIDE_ROWS:-20000}
mixed_scale=${MIXED_SCALE:-10}
mixed_txs=${MIXED_TXS:-100000}

workload_schema() { # WORKLOAD DB
    q "$2" -c "CREATE TABLE bench_fence (id int PRIMARY KEY)"
    case $1 in
    small | bigtx | bigtx10k)
        q "$2" -c "CREATE TABLE t (id int PRIMARY KEY, v text, at timestamptz)" \
            -c "CREATE PUBLICATION bench_pub FOR TABLE t, bench_fence" ;;
    wide)
        # EXTERNAL: out of line and uncompressed, so every row carries a
        # real 10 KB TOAST value, whatever pglz would make of it.
        q "$2" -c "CREATE TABLE t (id int PRIMARY KEY, n int, body text)" \
            -c "ALTER TABLE t ALTER COLUMN body SET STORAGE EXTERNAL" \
            -c "CREATE PUBLICATION bench_pub FOR TABLE t, bench_fence" ;;
    mixed)
        "$pgbin/pgbench" -i -q -s "$mixed_scale" "$base dbname=$2" >"$work/pgbench-init.log" 2>&1 ||
            { cat "$work/pgbench-init.log" >&2; die "pgbench -i failed"; }
        q "$2" -c "CREATE PUBLICATION bench_pub FOR TABLE pgbench_accounts, pgbench_branches,
                   pgbench_tellers, pgbench_history, bench_fence" ;;
    *) die "unknown workload $1" ;;
    esac
}

workload_write() { # WORKLOAD DB
    case $1 in
    small)
        # Single-row INSERTs, small_rows / small_txs of them per transaction.
        local per_tx=$((small_rows / small_txs))
        q "$2" -c "DO \$\$ BEGIN
            FOR k IN 0 .. $((small_txs - 1)) LOOP
              FOR i IN k * $per_tx + 1 .. (k + 1) * $per_tx LOOP
                INSERT INTO t VALUES (i, md5(i::text), now());
              END LOOP;
              COMMIT;
            END LOOP; END \$\$" ;;
    bigtx | bigtx10k)
        local n=$bigtx_rows
        [ "$1" = bigtx10k ] && n=10000
        q "$2" -c "INSERT INTO t SELECT g, md5(g::text), now() FROM generate_series(1, $n) g" ;;
    wide)
        # Inserts of 10,240-character bodies, then updates of n only: the
        # body is then an unchanged TOAST value that pgoutput does not send.
        q "$2" -c "DO \$\$ BEGIN
            FOR k IN 0 .. $((wide_rows / 100 - 1)) LOOP
              INSERT INTO t SELECT g, 0, repeat(md5(g::text), 320)
                FROM generate_series(k * 100 + 1, k * 100 + 100) g;
              COMMIT;
            END LOOP;
            FOR k IN 0 .. $((wide_rows / 100 - 1)) LOOP
              UPDATE t SET n = n + 1 WHERE id BETWEEN k * 100 + 1 AND k * 100 + 100;
              COMMIT;
            END LOOP; END \$\$" ;;
    mixed)
        # pgbench -N: UPDATE pgbench_accounts, SELECT, INSERT pgbench_history.
        "$pgbin/pgbench" -n -N -M prepared -c 4 -j 2 -t $((mixed_txs / 4)) "$base dbname=$2" \
            >"$work/pgbench.log" 2>&1 || { cat "$work/pgbench.log" >&2; die "pgbench -N failed"; } ;;
    esac
}

# Commit the fence (see above); prints the end LSN.
workload_fence() { # DB
    q "$1" -c "BEGIN" -c "INSERT INTO bench_fence SELECT coalesce(max(id), 0) + 1 FROM bench_fence" \
        -c "SELECT pg_current_wal_insert_lsn()" -c "COMMIT"
}

workload_rows() { # WORKLOAD DB
    case $1 in
    small) echo $((small_rows / small_txs * small_txs)) ;;
    bigtx) echo "$bigtx_rows" ;;
    bigtx10k) echo 10000 ;;
    wide) echo $((wide_rows / 100 * 100 * 2)) ;;
    mixed) echo $(($(q "$2" -c "SELECT count(*) FROM pgbench_history") * 2)) ;;
    esac
}

workload_tables() { # WORKLOAD: the tables whose events the sinks receive
    case $1 in
    mixed) echo pgbench_accounts pgbench_history ;;
    *) echo t ;;
    esac
}

# ---- consumers -------------------------------------------------------------
# A drain sets: D_WALL (seconds), D_USER, D_SYS (CPU seconds of the consumer
# process), D_RSS (peak RSS, KiB), D_WS (CPU seconds of the walsender that
# served it), D_EVENTS (events delivered, as counted at
# the destination or by walwire's metrics, the fence not included; "-"
# when not counted).

# Follow the walsender of SLOT in the background; ws_done collects D_WS.
ws_start() { # DB SLOT
    "$tool" walsender-cpu "$base dbname=$1" "$2" 60 >"$work/wscpu" 2>/dev/null &
    ws_pid=$!
}
ws_done() {
    wait "$ws_pid" || true
    D_WS=$(cat "$work/wscpu")
    [ -n "$D_WS" ] || D_WS=-
}

drain_recvlogical() { # DB SLOT END_LSN
    local rc=0
    ws_start "$1" "$2"
    "$tool" exec "$work/rusage" -- "$pgbin/pg_recvlogical" -d "$base dbname=$1" --slot "$2" \
        --start --no-loop --endpos "$3" -o proto_version=1 -o publication_names=bench_pub \
        -f /dev/null 2>"$work/consumer.log" || rc=$?
    [ "$rc" -eq 0 ] || { cat "$work/consumer.log" >&2; die "pg_recvlogical failed ($rc)"; }
    ws_done
    local start end
    read -r start end D_USER D_SYS D_RSS _ <"$work/rusage"
    D_WALL=$(ns_to_s "$start" "$end")
    D_EVENTS=-
}

# The walwire configuration for SINK on DB/SLOT, into $work/walwire.conf.
# An empty HTTP_PORT leaves the metrics endpoint off.
walwire_conf() { # DB SLOT SINK HTTP_PORT [EXTRA-INI]
    cat >"$work/walwire.conf" <<CONF
[source]
conninfo = $base dbname=$1
slot = $2
publication = bench_pub
create_slot = false
create_publication = false
snapshot = never
state_file = $work/state-$2

[sink]
type = $3
dir = $sink_dir
topic_prefix = bench

[http]
listen = ${4:+127.0.0.1:$4}

[log]
level = warn
CONF
    case $3 in
    file) printf '[file]\npath = %s\nfsync = batch\n' "$work/out.jsonl" >>"$work/walwire.conf" ;;
    redis) printf '[redis]\nurl = redis://127.0.0.1:%s/0\n' "$WW_TEST_REDIS_PORT" >>"$work/walwire.conf" ;;
    kafka) printf '[kafka]\nbootstrap.servers = %s\n' "$WW_TEST_KAFKA_BROKERS" >>"$work/walwire.conf" ;;
    esac
    # BENCH_SINK_CONF: further lines for the sink's section (experiments).
    [ -z "${BENCH_SINK_CONF:-}" ] || printf '%s\n' "$BENCH_SINK_CONF" >>"$work/walwire.conf"
    [ -z "${5:-}" ] || printf '%s\n' "$5" >>"$work/walwire.conf"
}

# Events accepted by the sink, from walwire's /metrics.
metrics_events() { # HTTP_PORT
    curl -sf "http://127.0.0.1:$1/metrics" |
        awk '/^walwire_events_total\{/ { n += $NF } END { printf "%d", n }'
}

# walwire from its start until the slot's confirmed_flush_lsn reaches
# END_LSN: every event of the backlog acknowledged by the sink and the
# position reported to PostgreSQL. Then SIGTERM, and a clean exit expected.
drain_walwire() { # DB SLOT END_LSN SINK
    local db=$1 slot=$2 end_lsn=$3 sink=$4 port pid t_end rc start end code attempt
    for attempt in 1 2 3; do
        port=$(pick_port)
        walwire_conf "$db" "$slot" "$sink" "$port"
        rm -f "$work/out.jsonl"
        ws_start "$db" "$slot"
        "$tool" exec "$work/rusage" -- "$walwire_bin" run -c "$work/walwire.conf" \
            2>"$work/consumer.log" &
        pid=$!
        rc=0
        t_end=$("$tool" wait-lsn "$base dbname=$db" "$slot" "$end_lsn" "${DRAIN_TIMEOUT:-1800}" "$pid") || rc=$?
        # Another process took the metrics port between pick_port and the
        # bind: try again with another one.
        if [ "$rc" -eq 3 ] && grep -q 'address already in use' "$work/consumer.log"; then
            wait "$pid" || true
            kill -TERM "$ws_pid" 2>/dev/null || true
            wait "$ws_pid" || true
            continue
        fi
        break
    done
    if [ "$rc" -ne 0 ]; then
        kill -TERM "$pid" "$ws_pid" 2>/dev/null || true
        wait "$pid" || true
        cat "$work/consumer.log" >&2
        die "walwire ($sink sink) did not drain slot $slot (wait-lsn: $rc)"
    fi
    D_EVENTS=$(($(metrics_events "$port" || echo 0) - 1)) # without the fence
    kill -TERM "$pid"
    wait "$pid" || { cat "$work/consumer.log" >&2; die "walwire ($sink sink) did not exit cleanly"; }
    ws_done
    read -r start end D_USER D_SYS D_RSS code <"$work/rusage"
    D_WALL=$(ns_to_s "$start" "$t_end")
    if [ "$sink" = file ]; then
        D_EVENTS=$(($(wc -l <"$work/out.jsonl") - 1))
        rm -f "$work/out.jsonl"
    fi
}
