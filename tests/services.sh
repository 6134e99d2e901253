#!/usr/bin/env bash
# Start and stop the real servers the integration tests talk to, on
# loopback ports that are free, in a throwaway directory.
#
#   tests/services.sh start     PostgreSQL 15 (wal_level=logical), redis-server,
#                               the Kafka mock cluster (WW_SERVICES, default
#                               "pg redis kafka"; "pg" starts only PostgreSQL)
#   tests/services.sh stop
#   tests/services.sh env       print the variables the tests read
#   tests/services.sh pg-restart | pg-stop | pg-start   (fault tests)
#   tests/services.sh kafka CMD...   a command to the Kafka mock (down, up,
#                               errors Produce MSG_SIZE_TOO_LARGE, ...: see
#                               tests/kafka_mock/kafka_mock.c)
#
# State lives in $WW_SERVICES_DIR (default /tmp/walwire-services); the
# variables are written to $WW_SERVICES_DIR/env as shell assignments:
#   WW_TEST_PGHOST WW_TEST_PGPORT WW_TEST_PGUSER WW_TEST_PGPASSWORD
#   WW_TEST_PGBIN WW_TEST_PGDATA WW_TEST_REDIS_PORT WW_SERVICES_DIR
#   WW_TEST_KAFKA_BROKERS (bootstrap servers) WW_TEST_KAFKA_CONTROL (the
#   mock's control socket)
# PostgreSQL refuses to run as root, so it runs as the postgres user.
# The Kafka mock is built, not installed: WW_KAFKA_MOCK names the binary
# (tests/run.sh sets it to <build>/tests/kafka_mock/kafka_mock); without it
# Kafka is skipped. The Kafka suites start private mocks of their own.
set -euo pipefail

dir=${WW_SERVICES_DIR:-/tmp/walwire-services}
pgbin=/usr/lib/postgresql/15/bin
pgdata=$dir/pg/data
pgpass=walwire-test-secret

as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 30000))
        if port_free "$p"; then echo "$p"; return; fi
    done
    echo "services: no free port found" >&2
    exit 1
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "services: $what did not come up within ${deadline}s" >&2
            return 1
        fi
        sleep 0.1
    done
}

start_pg() {
    local port
    port=$(pick_port)
    mkdir -p "$dir/pg"
    chown -R postgres "$dir/pg"
    printf '%s\n' "$pgpass" >"$dir/pg/pwfile"
    chown postgres "$dir/pg/pwfile"
    as_postgres "$pgbin/initdb" -D "$pgdata" -U postgres --pwfile="$dir/pg/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/pg/initdb.log"
    local plugins=""
    # PostgreSQL 15.19+ only loads output plugins listed here (issue 6 needs wal2json).
    if as_postgres "$pgbin/postgres" --describe-config 2>/dev/null | grep '^output_plugin_libraries' >/dev/null; then
        plugins="output_plugin_libraries = 'pgoutput, test_decoding, wal2json'"
    fi
    cat >>"$pgdata/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/pg'
wal_level = logical
max_replication_slots = 64
max_wal_senders = 64
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
wal_sender_timeout = 60s
log_min_messages = warning
logging_collector = off
$plugins
CONF
    as_postgres "$pgbin/pg_ctl" -D "$pgdata" -l "$dir/pg/server.log" -w -t 60 start >/dev/null
    echo "WW_TEST_PGHOST=127.0.0.1" >>"$dir/env"
    echo "WW_TEST_PGPORT=$port" >>"$dir/env"
    echo "WW_TEST_PGUSER=postgres" >>"$dir/env"
    echo "WW_TEST_PGPASSWORD=$pgpass" >>"$dir/env"
    echo "WW_TEST_PGBIN=$pgbin" >>"$dir/env"
    echo "WW_TEST_PGDATA=$pgdata" >>"$dir/env"
    echo "WW_TEST_PGSOCKET=$dir/pg" >>"$dir/env"
}

start_redis() {
    local port
    port=$(pick_port)
    mkdir -p "$dir/redis"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$dir/redis" --daemonize yes --pidfile "$dir/redis/redis.pid" \
        --logfile "$dir/redis/redis.log" --enable-debug-command local >/dev/null
    wait_for 20 redis-server redis-cli -p "$port" ping
    echo "WW_TEST_REDIS_PORT=$port" >>"$dir/env"
}

start_kafka() {
    local mock=${WW_KAFKA_MOCK:-}
    if [ -z "$mock" ] || [ ! -x "$mock" ]; then
        echo "services: kafka skipped: set WW_KAFKA_MOCK to the built tests/kafka_mock/kafka_mock" >&2
        return 0
    fi
    mkdir -p "$dir/kafka"
    "$mock" --control "$dir/kafka/control.sock" </dev/null >"$dir/kafka/bootstrap" \
        2>"$dir/kafka/mock.log" &
    echo $! >"$dir/kafka/mock.pid"
    wait_for 20 kafka_mock test -S "$dir/kafka/control.sock" -a -s "$dir/kafka/bootstrap"
    echo "WW_TEST_KAFKA_BROKERS=$(head -n 1 "$dir/kafka/bootstrap")" >>"$dir/env"
    echo "WW_TEST_KAFKA_CONTROL=$dir/kafka/control.sock" >>"$dir/env"
}

# One command line to the mock's control socket; prints its reply.
kafka_cmd() {
    python3 - "$dir/kafka/control.sock" "$*" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
reply = s.makefile().readline().strip()
print(reply)
sys.exit(0 if reply.startswith("ok") else 1)
PY
}

stop_all() {
    if [ -f "$pgdata/postmaster.pid" ]; then
        as_postgres "$pgbin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ -f "$dir/redis/redis.pid" ]; then
        kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true
    fi
    if [ -f "$dir/kafka/mock.pid" ]; then
        kill "$(cat "$dir/kafka/mock.pid")" 2>/dev/null || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
start)
    stop_all
    mkdir -p "$dir"
    chmod 755 "$dir"
    : >"$dir/env"
    echo "WW_SERVICES_DIR=$dir" >>"$dir/env"
    services=${WW_SERVICES:-pg redis kafka}
    [[ " $services " == *" pg "* ]] && start_pg
    [[ " $services " == *" redis "* ]] && start_redis
    [[ " $services " == *" kafka "* ]] && start_kafka
    cat "$dir/env"
    ;;
stop) stop_all ;;
env) cat "$dir/env" ;;
pg-stop) as_postgres "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null ;;
pg-start) as_postgres "$pgbin/pg_ctl" -D "$pgdata" -l "$dir/pg/server.log" -w -t 60 start >/dev/null ;;
pg-restart) as_postgres "$pgbin/pg_ctl" -D "$pgdata" -l "$dir/pg/server.log" -m fast -w -t 60 restart >/dev/null ;;
kafka) shift; kafka_cmd "$@" ;;
*) echo "usage: $0 start|stop|env|pg-stop|pg-start|pg-restart|kafka CMD..." >&2; exit 2 ;;
esac
