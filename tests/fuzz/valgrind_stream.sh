#!/usr/bin/env bash
# walwire under valgrind memcheck on a short stream: a throwaway PostgreSQL
# (tests/services.sh, pg only, in a directory of its own), walwire streaming
# to the file sink under
#   valgrind --error-exitcode=1 --leak-check=full
# an insert/update/delete workload (with a truncate, a logical decoding
# message and a REPLICA IDENTITY FULL table), then SIGTERM. Passes when
# walwire delivered every event, exited 0, and valgrind found no error and
# no definite, indirect or possible leak.
#
#   tests/fuzz/valgrind_stream.sh
#
# Environment: WW_VALGRIND_BUILD_DIR (default build-valgrind: a plain
# debug build; valgrind and the sanitizers do not mix).
# Leaves valgrind's log in <build>/valgrind-stream/valgrind.log.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

command -v valgrind >/dev/null || { echo "valgrind: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
build=${WW_VALGRIND_BUILD_DIR:-build-valgrind}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Dbuildtype=debug -Dintegration=false >"$build.setup.log" 2>&1 ||
        { cat "$build.setup.log"; echo "valgrind: meson setup failed" >&2; exit 1; }
    rm -f "$build.setup.log"
fi
ninja -C "$build" walwire sinks/file/sink_file.so >/dev/null ||
    { ninja -C "$build" walwire sinks/file/sink_file.so; echo "valgrind: build failed" >&2; exit 1; }
bin=$(cd "$build" && pwd)/walwire
sinks=$(cd "$build" && pwd)/sinks

work=$(cd "$build" && pwd)/valgrind-stream
rm -rf "$work"
mkdir -p "$work"

export WW_SERVICES=pg
export WW_SERVICES_DIR=/tmp/walwire-valgrind-services-$$
tests/services.sh start >/dev/null || { echo "valgrind: starting PostgreSQL failed" >&2; exit 1; }
pid=
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    tests/services.sh stop
}
trap cleanup EXIT
set -a
# shellcheck disable=SC1091
. "$WW_SERVICES_DIR/env"
set +a
export PGPASSWORD=$WW_TEST_PGPASSWORD

psql_() {
    "$WW_TEST_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WW_TEST_PGHOST" -p "$WW_TEST_PGPORT" \
        -U "$WW_TEST_PGUSER" "$@"
}

# poll SECONDS COMMAND...: run COMMAND every 0.2 s until it succeeds; fail
# after SECONDS.
poll() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && return 1 # walwire is gone
        sleep 0.2
    done
}

psql_ -d postgres -c "CREATE DATABASE ww_valgrind" || exit 1
psql_ -d ww_valgrind <<'SQL' || exit 1
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE items (id int PRIMARY KEY, name text, qty int, price numeric(10, 2),
                    tags text[], at timestamptz, doc jsonb, data bytea, m mood, d date);
CREATE TABLE notes (id int PRIMARY KEY, body text);
ALTER TABLE notes REPLICA IDENTITY FULL;
INSERT INTO items VALUES (0, 'before the snapshot', 0, 0, '{}', now(), '{}', '\x00', 'ok', '2024-01-01');
SQL

cat >"$work/walwire.conf" <<CONF
[source]
conninfo = host=$WW_TEST_PGHOST port=$WW_TEST_PGPORT dbname=ww_valgrind user=$WW_TEST_PGUSER
slot = ww_valgrind
publication = ww_valgrind_pub
status_interval = 1s
state_file = $work/state

[sink]
type = file
dir = $sinks

[file]
path = $work/out.jsonl
fsync = batch
CONF

valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --track-origins=yes --num-callers=30 \
    --log-file="$work/valgrind.log" "$bin" run -c "$work/walwire.conf" >"$work/walwire.log" 2>&1 &
pid=$!

if ! poll 180 grep -q "streaming started" "$work/walwire.log"; then
    echo "valgrind: walwire did not start streaming; its log:" >&2
    cat "$work/walwire.log" >&2
    exit 1
fi

psql_ -d ww_valgrind -o /dev/null <<'SQL' || exit 1
INSERT INTO items SELECT g, 'item ' || g, g, g * 1.25, ARRAY['a', 'b"c'], '2024-01-02 03:04:05.5+00',
    jsonb_build_object('g', g), decode(md5(g::text), 'hex'), 'happy', '2024-02-29'
  FROM generate_series(1, 200) g;
BEGIN;
UPDATE items SET qty = qty + 1000 WHERE id <= 50;
UPDATE items SET id = id + 1000 WHERE id BETWEEN 51 AND 60;
SELECT pg_logical_emit_message(true, 'valgrind', 'in a transaction');
COMMIT;
DELETE FROM items WHERE id BETWEEN 100 AND 149;
INSERT INTO notes SELECT g, repeat('n', g * 40) FROM generate_series(1, 20) g;
UPDATE notes SET body = 'short' WHERE id <= 10;
DELETE FROM notes WHERE id > 15;
TRUNCATE notes;
INSERT INTO notes VALUES (9999, 'the end');
SQL

if ! poll 180 grep -q '"body":"the end"' "$work/out.jsonl"; then
    echo "valgrind: the last event did not arrive; walwire's log:" >&2
    cat "$work/walwire.log" >&2
    exit 1
fi

kill -TERM "$pid"
poll 120 bash -c "! kill -0 $pid" || { echo "valgrind: walwire did not exit within 120 s of SIGTERM" >&2; exit 1; }
wait "$pid"
rc=$?
pid=

# Every event of the workload, exactly once: the snapshot row; 200 inserts
# and 10 rows re-created under a new key (an update of the key is a delete
# and a create); 51 updates (ids 0..50); 50 deletes and the 10 deletes of
# the old keys; the message; 20 + 1 inserts, 10 updates, 5 deletes and the
# truncate of notes.
if ! python3 - "$work/out.jsonl" <<'PY'; then
import collections, json, sys
got = collections.Counter()
for line in open(sys.argv[1]):
    v = json.loads(line)["value"]
    got["%s %s" % (v["op"], v["source"]["table"])] += 1
want = {"r items": 1, "c items": 210, "u items": 51, "d items": 60, "m ": 1,
        "c notes": 21, "u notes": 10, "d notes": 5, "t notes": 1}
if got != want:
    print("valgrind: events (op table: count) %s, expected %s" % (dict(got), want))
    sys.exit(1)
PY
    echo "valgrind: FAILED: the events are not those of the workload" >&2
    exit 1
fi
events=$(wc -l <"$work/out.jsonl")
echo "valgrind: $events events written; walwire exited $rc"
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable' "$work/valgrind.log" | sed 's/^==[0-9]*== */    /'
if [ "$rc" -ne 0 ]; then
    echo "valgrind: FAILED (exit $rc); valgrind's log: $work/valgrind.log" >&2
    grep -B2 -A25 -E 'Invalid|uninitialised|definitely lost in|indirectly lost in|possibly lost in' \
        "$work/valgrind.log" | head -n 120 >&2
    exit 1
fi
echo "valgrind: clean"
