#!/usr/bin/env bash
# See walwire stream changes, on a fresh Debian 12 machine:
#   installs what is missing, builds walwire, starts a throwaway
#   PostgreSQL 15 on a free loopback port, runs walwire with the file sink
#   writing to stdout, writes a few demo rows (insert, update, delete), shows
#   the events, then stops everything and removes the throwaway server.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

deploy/install-deps.sh quickstart
build=${WW_BUILD_DIR:-build-quickstart}
deploy/build.sh --builddir "$build" --no-deps -Dtests=false >/dev/null

export WW_SERVICES_DIR=${WW_SERVICES_DIR:-/tmp/walwire-quickstart-$$} WW_SERVICES=pg
work=$(mktemp -d /tmp/walwire-quickstart-work-XXXXXX)
walwire_pid=""
cleanup() {
    [ -n "$walwire_pid" ] && kill "$walwire_pid" 2>/dev/null && wait "$walwire_pid" 2>/dev/null
    tests/services.sh stop
    rm -rf "$work"
}
trap cleanup EXIT
echo "== starting a throwaway PostgreSQL 15 (wal_level = logical)" >&2
tests/services.sh start >/dev/null
# shellcheck disable=SC1091
. "$WW_SERVICES_DIR/env"
export PGPASSWORD=$WW_TEST_PGPASSWORD
psql() { command psql -X -q -h 127.0.0.1 -p "$WW_TEST_PGPORT" -U postgres -d postgres "$@"; }

psql -c "CREATE TABLE public.customers (id int PRIMARY KEY, name text, email text,
         balance numeric(12,2), tags text[], created_at timestamptz DEFAULT now())"

cat >"$work/walwire.conf" <<CONF
[source]
conninfo = host=127.0.0.1 port=$WW_TEST_PGPORT dbname=postgres user=postgres
slot = quickstart
publication = quickstart
tables = public.customers
status_interval = 1s
state_file = $work/state

[sink]
type = file
dir = $root/$build/sinks
topic_prefix = demo

[file]
path = -
fsync = never

[log]
level = warn
CONF

echo "== walwire run -c $work/walwire.conf   (events below, one JSON line each)" >&2
"$build/walwire" run -c "$work/walwire.conf" >"$work/events.jsonl" &
walwire_pid=$!
tail -f "$work/events.jsonl" &
tail_pid=$!

# Wait until walwire has created its slot and is streaming.
for _ in $(seq 1 100); do
    [ "$(psql -Atc "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'quickstart' AND active")" = 1 ] && break
    sleep 0.1
done

echo "== writing demo rows" >&2
psql -c "INSERT INTO customers (id, name, email, balance, tags) VALUES
         (1, 'Ada', 'ada@example.com', 100.50, '{vip}'), (2, 'Linus', 'linus@example.com', 0, '{}')"
psql -c "UPDATE customers SET balance = balance + 25 WHERE id = 1"
psql -c "DELETE FROM customers WHERE id = 2"

# Wait until the four events have arrived and the slot has confirmed them.
for _ in $(seq 1 100); do
    [ "$(wc -l <"$work/events.jsonl")" -ge 4 ] && break
    sleep 0.1
done
kill -TERM "$walwire_pid"
wait "$walwire_pid" && status=0 || status=$?
walwire_pid=""
kill "$tail_pid" 2>/dev/null || true
wait "$tail_pid" 2>/dev/null || true
echo "== walwire stopped (exit $status); slot position:" >&2
psql -c "SELECT slot_name, confirmed_flush_lsn, pg_current_wal_lsn() FROM pg_replication_slots"
[ "$(wc -l <"$work/events.jsonl")" -ge 4 ] || { echo "quickstart: expected 4 events" >&2; exit 1; }
exit "$status"
