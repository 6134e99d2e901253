#!/usr/bin/env bash
# Kafka sink throughput (issue 4, what must hold 3): three rates on the
# same workload, in the same run, on the same machine, one after another:
#
#   pg_recvlogical   reads the workload's WAL (pgoutput) to /dev/null: the
#                    ceiling PostgreSQL's decoding sets
#   rdkafka_performance  librdkafka's own example producer: the same number
#                    of messages of the same size (key + value), with the
#                    same producer settings (idempotent, acks=all, murmur2
#                    partitioner, the two walwire headers) to the same mock
#                    cluster: the ceiling librdkafka and the mock set
#   walwire          the Kafka sink: from the start of `walwire run` until
#                    the slot's confirmed_flush_lsn passes the workload,
#                    i.e. every change delivered and acknowledged
#
# and the ratio walwire / min(the two ceilings). Run by hand:
#
#   tests/bench/kafka.sh [ROWS] [ROWS_PER_TX] [ROUNDS]  (default 1000000 100 3)
#
# Each round runs the three one after the other (each walwire and
# pg_recvlogical round has its own slot, created before the workload); the
# best round of each counts, which filters out other load on the machine.
#
# WW_BUILD_DIR (default build-bench, a release build set up if missing);
# WW_BENCH_NO_BUILD=1 measures the binaries already there.
# Uses the servers of tests/services.sh when WW_TEST_PGPORT and
# WW_TEST_KAFKA_CONTROL are set, else starts PostgreSQL and the Kafka mock
# in a throwaway directory. rdkafka_performance.c comes from Debian's
# librdkafka-dev (/usr/share/doc/librdkafka-dev/examples/), compiled here
# with a small stand-in for librdkafka's internal rd.h
# (tests/bench/rdkafka_shim/).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rows=${1:-1000000}
per_tx=${2:-100}
rounds=${3:-3}
build=${WW_BUILD_DIR:-build-bench}

log() { printf '%s\n' "$*" >&2; }

# ---- build -----------------------------------------------------------------
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" --buildtype=release -Dintegration=false >/dev/null
fi
targets=(walwire sinks/kafka/sink_kafka.so tests/kafka_mock/kafka_mock)
if [ -z "${WW_BENCH_NO_BUILD:-}" ]; then # set it to measure the binaries as they are
    ninja -C "$build" "${targets[@]}" >/dev/null ||
        { ninja -C "$build" "${targets[@]}" >&2; log "kafka.sh: build failed"; exit 1; }
fi
example=/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c
[ -f "$example" ] || example=$example.gz
perf_bin=$build/tests/bench/rdkafka_performance
mkdir -p "$build/tests/bench"
if [ ! -x "$perf_bin" ] || [ "$example" -nt "$perf_bin" ] ||
    [ tests/bench/rdkafka_shim/src/rd.h -nt "$perf_bin" ]; then
    src=$example
    if [[ $example == *.gz ]]; then
        src=$build/tests/bench/rdkafka_performance.c
        gzip -dc "$example" >"$src"
    fi
    cc -O2 -w -I "$root/tests/bench/rdkafka_shim/src" -I /usr/include/librdkafka "$src" \
        -o "$perf_bin" -lrdkafka
fi

# ---- servers ---------------------------------------------------------------
if [ -z "${WW_TEST_PGPORT:-}" ] || [ -z "${WW_TEST_KAFKA_CONTROL:-}" ]; then
    export WW_SERVICES_DIR=/tmp/walwire-bench-$$
    export WW_KAFKA_MOCK=$root/$build/tests/kafka_mock/kafka_mock
    WW_SERVICES="pg kafka" tests/services.sh start >/dev/null
    trap 'tests/services.sh stop' EXIT
    set -a
    # shellcheck disable=SC1091
    . "$WW_SERVICES_DIR/env"
    set +a
fi
export PGPASSWORD=$WW_TEST_PGPASSWORD
db=bench_kafka_$$
conninfo="host=$WW_TEST_PGHOST port=$WW_TEST_PGPORT user=$WW_TEST_PGUSER"
psql_db() { psql -X -q -At -v ON_ERROR_STOP=1 "$conninfo dbname=$1" "${@:2}"; }
kafka() { tests/services.sh kafka "$@" >/dev/null; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }

psql_db postgres -c "CREATE DATABASE $db"
cleanup_db() {
    psql_db postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                         WHERE database = '$db'" >/dev/null 2>&1 || true
    psql_db postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap 'cleanup_db; [ -n "${WW_SERVICES_DIR:-}" ] && [[ $WW_SERVICES_DIR == /tmp/walwire-bench-* ]] && tests/services.sh stop' EXIT

# ---- the workload: every slot exists before it, so all read the same WAL ---
psql_db "$db" <<SQL
CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int, price numeric(10,2),
                    at timestamptz);
CREATE PUBLICATION bench_pub FOR TABLE items;
SELECT pg_create_logical_replication_slot(kind || '_' || r, 'pgoutput')
  FROM generate_series(1, $rounds) r, unnest(ARRAY['recv', 'ww']) kind \\g /dev/null
SQL
log "workload: $rows rows in $((rows / per_tx)) transactions of $per_tx"
psql_db "$db" -c "DO \$\$ BEGIN
  FOR t IN 0 .. $((rows / per_tx - 1)) LOOP
    INSERT INTO items SELECT g, 'item ' || g, g % 1000, g * 1.25, now()
      FROM generate_series(t * $per_tx + 1, (t + 1) * $per_tx) g;
    COMMIT;
  END LOOP; END \$\$"
end_lsn=$(psql_db "$db" -c "SELECT pg_current_wal_insert_lsn()")
rows=$(( rows / per_tx * per_tx ))
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }

# ---- 1. pg_recvlogical to /dev/null ----------------------------------------
run_recvlogical() { # slot -> seconds
    local t0 t1
    t0=$(now)
    "$WW_TEST_PGBIN/pg_recvlogical" -d "$conninfo dbname=$db" --slot="$1" --start \
        --endpos="$end_lsn" --no-loop -f /dev/null \
        -o proto_version=1 -o publication_names=bench_pub
    t1=$(now)
    seconds "$t0" "$t1"
}

# ---- 2. walwire with the Kafka sink ----------------------------------------
topic=bench.public.items
kafka topic "$topic" 16
work=$(mktemp -d /tmp/walwire-bench-run-XXXXXX)
run_walwire() { # slot -> seconds
    local slot=$1 t0 t1 pid
    cat >"$work/walwire.conf" <<CONF
[source]
conninfo = $conninfo dbname=$db
slot = $slot
publication = bench_pub
create_slot = false
create_publication = false
snapshot = never
status_interval = 1s
state_file = $work/state-$slot

[sink]
type = kafka
dir = $root/$build/sinks
topic_prefix = bench

[kafka]
bootstrap.servers = $WW_TEST_KAFKA_BROKERS
CONF
    t0=$(now)
    "$build/walwire" run -c "$work/walwire.conf" 2>"$work/walwire.log" &
    pid=$!
    until [ "$(psql_db "$db" -c "SELECT confirmed_flush_lsn >= '$end_lsn'
                                 FROM pg_replication_slots WHERE slot_name = '$slot'")" = t ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "walwire exited early; its log:"; cat "$work/walwire.log" >&2; exit 1
        fi
        sleep 0.05 # the poll interval of the measurement
    done
    t1=$(now)
    kill -TERM "$pid"
    wait "$pid" || { log "walwire did not exit cleanly; its log:"; cat "$work/walwire.log" >&2; exit 1; }
    seconds "$t0" "$t1"
}

# ---- 3. rdkafka_performance, same count and size, same settings -------------
run_perf() { # size -> msgs/s
    local out r
    kafka topic "bench.perf.$2" 16
    out=$("$perf_bin" -P -t "bench.perf.$2" -b "$WW_TEST_KAFKA_BROKERS" -s "$1" -c "$rows" -a -1 \
        -X enable.idempotence=true -X message.timeout.ms=0 -X partitioner=murmur2_random \
        -X queue.buffering.max.kbytes=65536 -X queue.buffering.max.messages=262144 \
        -H walwire.lsn=1234567890 -H walwire.txid=123456 2>&1)
    r=$(printf '%s\n' "$out" | grep 'msgs/s' | tail -n 1 | sed -E 's/.*: ([0-9]+) msgs\/s.*/\1/')
    [ -n "$r" ] || { log "rdkafka_performance failed:"; log "$out"; exit 1; }
    echo "$r"
}

best_recv=0 best_ww=0 best_perf=0 size=0
for r in $(seq 1 "$rounds"); do
    s=$(run_recvlogical "recv_$r"); x=$(rate "$rows" "$s")
    log "round $r: pg_recvlogical $x rows/s ($s s)"
    [ "$x" -gt "$best_recv" ] && best_recv=$x
    s=$(run_walwire "ww_$r"); x=$(rate "$rows" "$s")
    log "round $r: walwire        $x rows/s ($s s)"
    [ "$x" -gt "$best_ww" ] && best_ww=$x
    if [ "$size" -eq 0 ]; then
        # The average record walwire wrote (key + value): what the
        # librdkafka ceiling produces.
        size=$(kcat -C -b "$WW_TEST_KAFKA_BROKERS" -t "$topic" -o -200 -e -q -f '%K %S\n' 2>/dev/null |
               awk '$2 >= 0 { n++; s += ($1 > 0 ? $1 : 0) + $2 }
                    END { if (n) printf "%d", s / n; else print 0 }')
        [ "$size" -gt 0 ] || { log "could not read walwire's records back"; exit 1; }
    fi
    x=$(run_perf "$size" "$r")
    log "round $r: rdkafka_performance $x msgs/s ($size bytes)"
    [ "$x" -gt "$best_perf" ] && best_perf=$x
done
rm -rf "$work"

ceiling=$(( best_recv < best_perf ? best_recv : best_perf ))
printf 'workload               %d rows, %d per transaction, %d bytes per record; best of %d\n' \
    "$rows" "$per_tx" "$size" "$rounds"
printf 'pg_recvlogical         %8d rows/s\n' "$best_recv"
printf 'rdkafka_performance    %8d msgs/s\n' "$best_perf"
printf 'walwire kafka sink     %8d rows/s   (delivered and confirmed)\n' "$best_ww"
awk -v w="$best_ww" -v c="$ceiling" 'BEGIN {
    r = w / c
    note = (r >= 0.8) ? "" : "  -- below the 0.8 target"
    printf "ratio                  %.2f of the lower ceiling (%d/s)%s\n", r, c, note
}'
