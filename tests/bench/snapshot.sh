#!/usr/bin/env bash
# Snapshot throughput (issue 3): walwire's initial snapshot of one table
# into the file sink (fsync = never, 2 workers) against
# `psql -c "\copy t to /dev/null"` on the same table, same server.
#
#   tests/bench/snapshot.sh            1,000,000 rows
#   ROWS=5000000 RUNS=3 tests/bench/snapshot.sh
#
# Prints both rates (best of RUNS) and the ratio; run by hand, not in CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rows=${ROWS:-1000000}
runs=${RUNS:-3}
workers=${WORKERS:-2}
build=${WW_BUILD_DIR:-build-bench}

deploy/install-deps.sh test >/dev/null
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" >/dev/null

export WW_SERVICES_DIR=/tmp/walwire-bench-$$ WW_SERVICES=pg
work=$(mktemp -d /tmp/walwire-bench-work-XXXXXX)
trap 'tests/services.sh stop; rm -rf "$work"' EXIT
tests/services.sh start >/dev/null
# shellcheck disable=SC1091
. "$WW_SERVICES_DIR/env"
export PGPASSWORD=$WW_TEST_PGPASSWORD
psql() { command psql -X -q -h 127.0.0.1 -p "$WW_TEST_PGPORT" -U postgres -d postgres "$@"; }

echo "loading $rows rows..." >&2
psql -c "CREATE TABLE t (id int PRIMARY KEY, v text, n numeric, at timestamptz)"
psql -c "INSERT INTO t SELECT g, md5(g::text), g * 1.5, now() FROM generate_series(1, $rows) g"
psql -c "VACUUM ANALYZE t"

now() { date +%s.%N; }
best() { sort -g | head -1; }

copy_times=()
for _ in $(seq "$runs"); do
    t0=$(now)
    psql -c "\\copy t to /dev/null"
    copy_times+=("$(echo "$(now) - $t0" | bc -l)")
done
copy_best=$(printf '%s\n' "${copy_times[@]}" | best)

cat >"$work/walwire.conf" <<CONF
[source]
conninfo = host=127.0.0.1 port=$WW_TEST_PGPORT dbname=postgres user=postgres
slot = bench
publication = bench
tables = public.t
snapshot = initial_only
snapshot_workers = $workers
[sink]
type = file
dir = $root/$build/sinks
[file]
path = $work/out.jsonl
fsync = never
[log]
level = warn
CONF
ww_times=()
for _ in $(seq "$runs"); do
    rm -f "$work/out.jsonl"
    t0=$(now)
    "$build/walwire" run -c "$work/walwire.conf"
    ww_times+=("$(echo "$(now) - $t0" | bc -l)")
    lines=$(wc -l <"$work/out.jsonl")
    [ "$lines" -eq "$rows" ] || { echo "walwire wrote $lines events, expected $rows" >&2; exit 1; }
done
ww_best=$(printf '%s\n' "${ww_times[@]}" | best)

copy_rate=$(echo "$rows / $copy_best" | bc -l)
ww_rate=$(echo "$rows / $ww_best" | bc -l)
printf '%-44s %12s %10s\n' "consumer ($rows rows, best of $runs)" "rows/s" "seconds"
printf '%-44s %12.0f %10.2f\n' 'psql \copy t to /dev/null' "$copy_rate" "$copy_best"
printf '%-44s %12.0f %10.2f\n' "walwire snapshot, file sink, $workers workers" "$ww_rate" "$ww_best"
printf 'ratio walwire / psql: %.2f (target >= 0.80)\n' "$(echo "$ww_rate / $copy_rate" | bc -l)"
