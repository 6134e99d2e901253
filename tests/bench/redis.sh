#!/usr/bin/env bash
# Redis Streams sink throughput (issue 5, what must hold 4): walwire
# streaming a committed workload into Redis, against the lower of two
# ceilings measured in the same run:
#
#   pg_recvlogical   reading the same WAL (pgoutput, same publication) to
#                    /dev/null: how fast PostgreSQL hands the changes out
#   redis-benchmark  XADD on one connection with the same pipeline depth
#                    and the same value size: how fast Redis takes them
#
# The workload (ROWS rows in TXS transactions into one table) is committed
# first, between the creation of two slots at the same position; then each
# consumer reads it from its own slot. walwire's time runs from its start
# until Redis holds every row.
#
#   tests/bench/redis.sh                       1,000,000 rows, 10,000 tx
#   ROWS=200000 TXS=2000 RUNS=1 tests/bench/redis.sh
#   PIPELINE=1000 tests/bench/redis.sh         [redis] max_pending / redis-benchmark -P
#   WW_BUILD_DIR=build SKIP_BUILD=1 ...        use the binaries already built there
#
# Prints the rates (best of RUNS) and the ratio; run by hand, not in CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rows=${ROWS:-1000000}
txs=${TXS:-10000}
runs=${RUNS:-3}
pipeline=${PIPELINE:-1000}
build=${WW_BUILD_DIR:-build-bench-redis}
[ $((rows % txs)) -eq 0 ] || { echo "ROWS must be a multiple of TXS" >&2; exit 2; }
per_tx=$((rows / txs))

deploy/install-deps.sh test >/dev/null
if [ -z "${SKIP_BUILD:-}" ]; then
    [ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release >/dev/null
    ninja -C "$build" walwire sinks/redis/sink_redis.so >/dev/null ||
        { ninja -C "$build" walwire sinks/redis/sink_redis.so; exit 1; }
fi

export WW_SERVICES_DIR=/tmp/walwire-bench-redis-$$ WW_SERVICES="pg redis"
work=$(mktemp -d /tmp/walwire-bench-redis-work-XXXXXX)
ww_pid=
cleanup() {
    if [ -n "$ww_pid" ]; then kill "$ww_pid" 2>/dev/null || true; fi
    tests/services.sh stop || true
    rm -rf "$work"
}
trap cleanup EXIT
tests/services.sh start >/dev/null
# shellcheck disable=SC1091
. "$WW_SERVICES_DIR/env"
export PGPASSWORD=$WW_TEST_PGPASSWORD
psql() { command psql -X -q -At -h 127.0.0.1 -p "$WW_TEST_PGPORT" -U postgres -d postgres "$@"; }
rcli() { redis-cli -p "$WW_TEST_REDIS_PORT" "$@"; }
now() { date +%s.%N; }
best() { sort -g | head -1; }

psql -c "CREATE TABLE t (id bigint PRIMARY KEY, v text, n numeric, at timestamptz)"
psql -c "CREATE PUBLICATION bench_pub FOR TABLE t"

# One run's workload: two slots at the same position, then TXS commits.
# Prints the WAL position after the last commit.
workload() {
    local run=$1 first=$2
    psql -c "SELECT pg_create_logical_replication_slot('recv_$run', 'pgoutput')" >/dev/null
    psql -c "SELECT pg_create_logical_replication_slot('ww_$run', 'pgoutput')" >/dev/null
    psql -c "DO \$\$ BEGIN
               FOR i IN 0..$((txs - 1)) LOOP
                 INSERT INTO t SELECT g, md5(g::text), g * 1.5, now()
                   FROM generate_series($first + i * $per_tx, $first + i * $per_tx + $per_tx - 1) g;
                 COMMIT;
               END LOOP;
             END \$\$"
    psql -c "SELECT pg_current_wal_insert_lsn()"
}

recv_times=() ww_times=() rb_rates=()
value_size=0 key_size=0
for run in $(seq "$runs"); do
    echo "run $run: committing $rows rows in $txs transactions..." >&2
    end=$(workload "$run" $(((run - 1) * rows + 1)))

    # 1. pg_recvlogical, the same changes to /dev/null.
    t0=$(now)
    "$WW_TEST_PGBIN/pg_recvlogical" -h 127.0.0.1 -p "$WW_TEST_PGPORT" -U postgres -d postgres \
        --slot "recv_$run" --start --no-loop --endpos "$end" -o proto_version=1 \
        -o publication_names=bench_pub -f /dev/null
    recv_times+=("$(echo "$(now) - $t0" | bc -l)")

    # 2. walwire into Redis.
    stream="bench$run:public.t"
    cat >"$work/walwire.conf" <<CONF
[source]
conninfo = host=127.0.0.1 port=$WW_TEST_PGPORT dbname=postgres user=postgres
slot = ww_$run
publication = bench_pub
create_slot = false
create_publication = false
snapshot = never
state_file = $work/state$run
[sink]
type = redis
dir = $root/$build/sinks
topic_prefix = bench$run
[redis]
url = redis://127.0.0.1:$WW_TEST_REDIS_PORT/0
maxlen =
max_pending = $pipeline
[log]
level = warn
CONF
    t0=$(now)
    "$build/walwire" run -c "$work/walwire.conf" 2>"$work/walwire$run.log" &
    ww_pid=$!
    until [ "$(rcli XLEN "$stream")" -ge "$rows" ]; do
        kill -0 "$ww_pid" 2>/dev/null || { cat "$work/walwire$run.log" >&2; exit 1; }
        sleep 0.02
    done
    ww_times+=("$(echo "$(now) - $t0" | bc -l)")
    kill -TERM "$ww_pid"
    wait "$ww_pid" || { echo "walwire exited with $?" >&2; cat "$work/walwire$run.log" >&2; exit 1; }
    ww_pid=
    n=$(rcli XLEN "$stream")
    [ "$n" -eq "$rows" ] || { echo "Redis holds $n entries, expected $rows" >&2; exit 1; }

    # 3. redis-benchmark: XADD with walwire's key and value sizes, one
    #    connection, the same pipeline depth.
    entry=$(rcli --raw XRANGE "$stream" - + COUNT 1)
    key_size=$(sed -n 5p <<<"$entry" | tr -d '\n' | wc -c)
    value_size=$(sed -n 7p <<<"$entry" | tr -d '\n' | wc -c)
    value=$(head -c "$value_size" /dev/zero | tr '\0' v)
    key=$(head -c "$key_size" /dev/zero | tr '\0' k)
    rcli DEL "$stream" >/dev/null
    rate=$(redis-benchmark -p "$WW_TEST_REDIS_PORT" -c 1 -n "$rows" -P "$pipeline" --csv \
        XADD "rb:$stream" '*' op c key "$key" value "$value" | tail -1 | cut -d, -f2 | tr -d '"')
    rb_rates+=("$rate")
    rcli DEL "rb:$stream" >/dev/null
    psql -c "SELECT pg_drop_replication_slot('recv_$run'), pg_drop_replication_slot('ww_$run')" >/dev/null
done

recv_best=$(printf '%s\n' "${recv_times[@]}" | best)
ww_best=$(printf '%s\n' "${ww_times[@]}" | best)
rb_rate=$(printf '%s\n' "${rb_rates[@]}" | sort -g | tail -1)
recv_rate=$(echo "$rows / $recv_best" | bc -l)
ww_rate=$(echo "$rows / $ww_best" | bc -l)
ceiling=$(echo "if ($recv_rate < $rb_rate) $recv_rate else $rb_rate" | bc -l)

printf '%s rows in %s transactions, values of %s bytes, keys of %s, pipeline %s, best of %s\n' \
    "$rows" "$txs" "$value_size" "$key_size" "$pipeline" "$runs"
printf '%-52s %12s\n' "consumer" "rows/s"
printf '%-52s %12.0f\n' "pg_recvlogical (pgoutput) to /dev/null" "$recv_rate"
printf '%-52s %12.0f\n' "redis-benchmark XADD, 1 connection, -P $pipeline" "$rb_rate"
printf '%-52s %12.0f\n' "walwire, redis sink (id = lsn, MULTI/EXEC batches)" "$ww_rate"
printf 'ratio walwire / min(pg_recvlogical, redis-benchmark): %.2f (target >= 0.80)\n' \
    "$(echo "$ww_rate / $ceiling" | bc -l)"
