/*
 * Every kind of change, as Debezium consumers expect them (issue 6): keys
 * for each replica identity, key changes, unchanged TOAST values, truncate,
 * logical decoding messages, schema changes mid-stream, heartbeats.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "minijson.h"

/* A database, a walwire streaming it into a file, and the events read back. */
struct scenario {
    char *db;
    PGconn *c;
    struct wwt_walwire w;
    char slot[64];
    struct mj **ev;
    size_t nev;
};

static void begin(struct scenario *sc, const char *tag, const char *setup_sql,
                  const char *extra_config)
{
    memset(sc, 0, sizeof *sc);
    sc->db = wwt_new_db(tag);
    sc->c = wwt_pg(sc->db);
    if (setup_sql)
        wwt_exec(sc->c, "%s", setup_sql);
    wwt_walwire_init(&sc->w);
    snprintf(sc->slot, sizeof sc->slot, "%s_%d", tag, (int)getpid());
    wwt_write_config(&sc->w, sc->db, sc->slot, extra_config);
    wwt_start(&sc->w, "run", NULL);
    bool up = WWT_POLL_UNTIL(30000, wwt_file_contains(sc->w.log, "streaming started") ||
                                        wwt_exited(&sc->w, NULL));
    char *log = wwt_read_file(sc->w.log, NULL);
    cr_assert(up && sc->w.pid, "walwire did not start streaming:\n%s", log);
    free(log);
}

/* Wait for at least n events, stop walwire, parse them all. */
static void collect(struct scenario *sc, size_t n)
{
    bool arrived = WWT_POLL_UNTIL(60000, wwt_count_lines(sc->w.out) >= n);
    cr_assert(arrived, "only %zu of %zu events arrived", wwt_count_lines(sc->w.out), n);
    cr_assert_eq(wwt_stop(&sc->w), 0);
    sc->ev = wwt_read_events(sc->w.out, &sc->nev);
    cr_assert_eq(sc->nev, n, "expected %zu events, got %zu", n, sc->nev);
}

static void end(struct scenario *sc)
{
    wwt_free_events(sc->ev, sc->nev);
    PQfinish(sc->c);
    wwt_drop_db(sc->db);
    free(sc->db);
}

static const struct mj *value(struct scenario *sc, size_t i)
{
    return mj_get(sc->ev[i], "value");
}

static const char *op(struct scenario *sc, size_t i)
{
    return mj_str(mj_get(value(sc, i), "op"));
}

/* The key of event i as compact JSON-ish text: "null" or {"a":1,...}. */
static void assert_key(struct scenario *sc, size_t i, const char *col, long long want)
{
    const struct mj *key = mj_get(sc->ev[i], "key");
    if (!col) {
        cr_assert(mj_is_null(key), "event %zu: expected a null key", i);
        return;
    }
    cr_assert(key && key->type == MJ_OBJECT, "event %zu: no key object", i);
    cr_assert_eq(mj_int(mj_get(key, col)), want, "event %zu: key %s", i, col);
}

Test(events, primary_key_change_is_delete_then_create, .timeout = 120)
{
    struct scenario sc;
    begin(&sc, "keychg", "CREATE TABLE t (id int PRIMARY KEY, v text)", NULL);
    wwt_exec(sc.c, "INSERT INTO t VALUES (1, 'a')");
    wwt_exec(sc.c, "UPDATE t SET id = 2 WHERE id = 1");
    wwt_exec(sc.c, "UPDATE t SET v = 'b' WHERE id = 2");
    collect(&sc, 4);
    cr_assert_str_eq(op(&sc, 0), "c");
    cr_assert_str_eq(op(&sc, 1), "d");
    assert_key(&sc, 1, "id", 1);
    cr_assert_eq(mj_int(mj_path(value(&sc, 1), "before.id")), 1);
    cr_assert(mj_is_null(mj_get(value(&sc, 1), "after")));
    cr_assert_str_eq(op(&sc, 2), "c");
    assert_key(&sc, 2, "id", 2);
    cr_assert(mj_is_null(mj_get(value(&sc, 2), "before")));
    cr_assert_str_eq(mj_str(mj_path(value(&sc, 2), "after.v")), "a");
    cr_assert_str_eq(op(&sc, 3), "u");
    assert_key(&sc, 3, "id", 2);
    end(&sc);
}

Test(events, keys_for_every_replica_identity, .timeout = 120)
{
    struct scenario sc;
    begin(&sc, "idents",
          "CREATE TABLE pk (id int PRIMARY KEY, v text);"
          "CREATE TABLE full_pk (id int PRIMARY KEY, v text);"
          "ALTER TABLE full_pk REPLICA IDENTITY FULL;"
          "CREATE TABLE full_nopk (a int, v text);"
          "ALTER TABLE full_nopk REPLICA IDENTITY FULL;"
          "CREATE TABLE by_index (a int NOT NULL, b int NOT NULL, v text);"
          "CREATE UNIQUE INDEX by_index_ab ON by_index (b, a);"
          "ALTER TABLE by_index REPLICA IDENTITY USING INDEX by_index_ab;"
          "CREATE TABLE nothing (a int, v text);"
          "ALTER TABLE nothing REPLICA IDENTITY NOTHING;",
          NULL);
    wwt_exec(sc.c, "INSERT INTO pk VALUES (1, 'x')");
    wwt_exec(sc.c, "INSERT INTO full_pk VALUES (1, 'x')");
    wwt_exec(sc.c, "UPDATE full_pk SET v = 'y' WHERE id = 1");
    wwt_exec(sc.c, "INSERT INTO full_nopk VALUES (5, 'x')");
    wwt_exec(sc.c, "UPDATE full_nopk SET v = 'y'");
    wwt_exec(sc.c, "INSERT INTO by_index VALUES (7, 8, 'x')");
    wwt_exec(sc.c, "DELETE FROM by_index");
    wwt_exec(sc.c, "INSERT INTO nothing VALUES (9, 'x')");
    /* A FULL table created while streaming: its key is looked up then, and
     * so is an enum type it uses. */
    wwt_exec(sc.c, "CREATE TYPE mood AS ENUM ('sad', 'happy')");
    wwt_exec(sc.c, "CREATE TABLE late (k int, id int PRIMARY KEY, m mood)");
    wwt_exec(sc.c, "ALTER TABLE late REPLICA IDENTITY FULL");
    wwt_exec(sc.c, "INSERT INTO late VALUES (1, 42, 'happy')");
    collect(&sc, 9);
    assert_key(&sc, 0, "id", 1);
    /* FULL with a primary key: the key is the primary key; updates carry
     * the whole old row. */
    assert_key(&sc, 1, "id", 1);
    assert_key(&sc, 2, "id", 1);
    cr_assert_eq(mj_get(value(&sc, 2), "before")->type, MJ_OBJECT);
    cr_assert_str_eq(mj_str(mj_path(value(&sc, 2), "before.v")), "x");
    const struct mj *k2 = mj_get(sc.ev[2], "key");
    cr_assert_eq(k2->n, 1, "the FULL table's key has more than the primary key");
    /* FULL without a primary key: null key, whole old row. */
    assert_key(&sc, 3, NULL, 0);
    assert_key(&sc, 4, NULL, 0);
    cr_assert_str_eq(mj_str(mj_path(value(&sc, 4), "before.v")), "x");
    /* USING INDEX: the index's columns. */
    const struct mj *k5 = mj_get(sc.ev[5], "key");
    cr_assert_eq(k5->n, 2);
    cr_assert_eq(mj_int(mj_get(k5, "a")), 7);
    cr_assert_eq(mj_int(mj_get(k5, "b")), 8);
    cr_assert_str_eq(op(&sc, 6), "d");
    cr_assert_eq(mj_int(mj_path(value(&sc, 6), "before.b")), 8);
    /* NOTHING: null key. */
    assert_key(&sc, 7, NULL, 0);
    const struct mj *k8 = mj_get(sc.ev[8], "key");
    cr_assert(k8 && k8->n == 1, "the late FULL table's key is not its primary key");
    assert_key(&sc, 8, "id", 42);
    cr_assert_str_eq(mj_str(mj_path(value(&sc, 8), "after.m")), "happy");
    end(&sc);
}

Test(events, unchanged_toast_placeholder_or_filled, .timeout = 120)
{
    struct scenario sc;
    begin(&sc, "toast",
          "CREATE TABLE d (id int PRIMARY KEY, big text, n int);"
          "ALTER TABLE d ALTER COLUMN big SET STORAGE EXTERNAL;"
          "CREATE TABLE f (id int PRIMARY KEY, big text, n int);"
          "ALTER TABLE f ALTER COLUMN big SET STORAGE EXTERNAL;"
          "ALTER TABLE f REPLICA IDENTITY FULL;",
          NULL);
    wwt_exec(sc.c, "INSERT INTO d VALUES (1, repeat('x', 10000), 0)");
    wwt_exec(sc.c, "INSERT INTO f VALUES (1, repeat('y', 10000), 0)");
    wwt_exec(sc.c, "UPDATE d SET n = 1");
    wwt_exec(sc.c, "UPDATE f SET n = 1");
    collect(&sc, 4);
    const struct mj *v2 = value(&sc, 2);
    cr_assert_str_eq(mj_str(mj_path(v2, "after.big")), "__debezium_unavailable_value");
    const struct mj *unch = mj_path(v2, "source.unchanged_columns");
    cr_assert(unch && unch->type == MJ_ARRAY && unch->n == 1);
    cr_assert_str_eq(mj_str(mj_at(unch, 0)), "big");
    const struct mj *v3 = value(&sc, 3);
    const char *big = mj_str(mj_path(v3, "after.big"));
    cr_assert(big && strlen(big) == 10000 && big[0] == 'y', "FULL did not fill the TOAST value");
    cr_assert_null(mj_path(v3, "source.unchanged_columns"));
    end(&sc);
}

Test(events, truncate_with_flags_one_event_per_table, .timeout = 120)
{
    struct scenario sc;
    begin(&sc, "trunc",
          "CREATE TABLE a (id serial PRIMARY KEY);"
          "CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a(id));",
          NULL);
    wwt_exec(sc.c, "INSERT INTO a DEFAULT VALUES");
    wwt_exec(sc.c, "INSERT INTO b VALUES (1, 1)");
    wwt_exec(sc.c, "TRUNCATE a RESTART IDENTITY CASCADE");
    collect(&sc, 4);
    int seen_a = 0, seen_b = 0;
    for (size_t i = 2; i < 4; i++) {
        cr_assert_str_eq(op(&sc, i), "t");
        assert_key(&sc, i, NULL, 0);
        const char *table = mj_str(mj_path(value(&sc, i), "source.table"));
        seen_a += strcmp(table, "a") == 0;
        seen_b += strcmp(table, "b") == 0;
        cr_assert(mj_path(value(&sc, i), "source.truncate_cascade")->boolean);
        cr_assert(mj_path(value(&sc, i), "source.truncate_restart_identity")->boolean);
    }
    cr_assert(seen_a == 1 && seen_b == 1);
    end(&sc);
}

Test(events, logical_decoding_messages, .timeout = 120)
{
    struct scenario sc;
    begin(&sc, "msgs", "CREATE TABLE t (id int PRIMARY KEY)", NULL);
    wwt_exec(sc.c, "BEGIN; INSERT INTO t VALUES (1); "
                   "SELECT pg_logical_emit_message(true, 'audit', 'hello'); COMMIT");
    wwt_exec(sc.c, "SELECT pg_logical_emit_message(false, 'ping', '\\x00ff'::bytea)");
    /* walwire's own heartbeats are never forwarded. */
    wwt_exec(sc.c, "SELECT pg_logical_emit_message(false, 'walwire_heartbeat', '')");
    wwt_exec(sc.c, "INSERT INTO t VALUES (2)");
    collect(&sc, 4);
    cr_assert_str_eq(op(&sc, 1), "m");
    cr_assert_str_eq(mj_str(mj_path(value(&sc, 1), "message.prefix")), "audit");
    cr_assert_str_eq(mj_str(mj_path(value(&sc, 1), "message.content")), "aGVsbG8=");
    cr_assert(mj_int(mj_path(value(&sc, 1), "source.txId")) > 0);
    cr_assert_str_eq(mj_str(mj_get(mj_get(sc.ev[1], "key"), "prefix")), "audit");
    cr_assert_str_eq(op(&sc, 2), "m");
    cr_assert_str_eq(mj_str(mj_path(value(&sc, 2), "message.prefix")), "ping");
    cr_assert_str_eq(mj_str(mj_path(value(&sc, 2), "message.content")), "AP8=");
    cr_assert(mj_is_null(mj_path(value(&sc, 2), "source.txId")));
    cr_assert_str_eq(op(&sc, 3), "c");
    end(&sc);
}

Test(events, schema_changes_mid_stream, .timeout = 120)
{
    struct scenario sc;
    begin(&sc, "schema", "CREATE TABLE t (id int PRIMARY KEY, a int, b text)", NULL);
    wwt_exec(sc.c, "INSERT INTO t VALUES (1, 10, 'x')");
    wwt_exec(sc.c, "ALTER TABLE t ADD COLUMN c numeric DEFAULT 1.5");
    wwt_exec(sc.c, "INSERT INTO t VALUES (2, 20, 'y', 2.5)");
    wwt_exec(sc.c, "ALTER TABLE t DROP COLUMN b");
    wwt_exec(sc.c, "INSERT INTO t VALUES (3, 30, 3.5)");
    wwt_exec(sc.c, "ALTER TABLE t ALTER COLUMN a TYPE text");
    wwt_exec(sc.c, "INSERT INTO t VALUES (4, 'forty', 4.5)");
    collect(&sc, 4);
    const struct mj *a0 = mj_get(value(&sc, 0), "after");
    cr_assert_eq(a0->n, 3);
    cr_assert_str_eq(mj_str(mj_get(a0, "b")), "x");
    const struct mj *a1 = mj_get(value(&sc, 1), "after");
    cr_assert_eq(a1->n, 4);
    cr_assert_str_eq(mj_str(mj_get(a1, "c")), "2.5");
    const struct mj *a2 = mj_get(value(&sc, 2), "after");
    cr_assert_eq(a2->n, 3);
    cr_assert_null(mj_get(a2, "b"), "a dropped column is still there");
    cr_assert_eq(mj_int(mj_get(a2, "a")), 30);
    const struct mj *a3 = mj_get(value(&sc, 3), "after");
    cr_assert_str_eq(mj_str(mj_get(a3, "a")), "forty", "the retyped column is not text");
    end(&sc);
}

/* Retained WAL (pg_current_wal_lsn() - confirmed_flush_lsn) of the slot
 * while an unpublished table is busy and the published one idle; returns
 * the largest value sampled over `seconds`. */
static uint64_t busy_unpublished_max_retained(struct scenario *sc, int seconds)
{
    PGconn *writer = wwt_pg(sc->db);
    uint64_t worst = 0;
    uint64_t until = wwt_now_ms() + (uint64_t)seconds * 1000;
    while (wwt_now_ms() < until) {
        /* About 3 MB of WAL a second, none of it published (the pause paces
         * the workload; it waits for nothing). */
        wwt_exec(writer, "INSERT INTO busy (v) SELECT repeat('x', 100) "
                         "FROM generate_series(1, 2000)");
        wwt_pause_ms(100);
        uint64_t retained = (uint64_t)wwt_int(sc->c, "SELECT pg_current_wal_lsn() - "
                                                     "confirmed_flush_lsn FROM "
                                                     "pg_replication_slots WHERE slot_name = '%s'",
                                              sc->slot);
        if (retained > worst)
            worst = retained;
    }
    PQfinish(writer);
    return worst;
}

/* Issue 6, what must hold 3: with heartbeats, an idle published table and
 * a busy unpublished one, the slot's retained WAL stays below 16 MB over two
 * minutes. Heartbeats are not forwarded. */
Test(events, heartbeats_keep_an_idle_slot_moving, .timeout = 400)
{
    struct scenario sc;
    begin(&sc, "heartbeat",
          "CREATE TABLE idle_t (id int PRIMARY KEY); CREATE TABLE busy (id serial, v text)",
          "[source]\ntables = public.idle_t\nheartbeat_interval = 1s\n");
    uint64_t worst = busy_unpublished_max_retained(&sc, 120);
    cr_log_info("heartbeats on: largest retained WAL %llu bytes", (unsigned long long)worst);
    cr_assert_lt(worst, 16u << 20, "the slot retained %llu bytes", (unsigned long long)worst);
    wwt_exec(sc.c, "INSERT INTO idle_t VALUES (1)");
    collect(&sc, 1);
    cr_assert_str_eq(op(&sc, 0), "c", "a heartbeat was forwarded");
    char *log = wwt_read_file(sc.w.log, NULL);
    const char *p = strstr(log, "heartbeats seen");
    cr_assert(p, "%s", log);
    while (p > log && p[-1] != ' ')
        p--;
    while (p > log && p[-1] == ' ')
        p--;
    while (p > log && p[-1] >= '0' && p[-1] <= '9')
        p--;
    cr_assert_gt(atoi(p), 60, "too few heartbeats went through the slot:\n%s", log);
    free(log);
    end(&sc);
}

/* Without heartbeats, walwire still confirms the server's keepalive
 * positions whenever nothing is in flight, so the slot does not grow
 * either (unlike Debezium, which only confirms positions of events). */
Test(events, idle_slot_moves_without_heartbeats_too, .timeout = 300)
{
    struct scenario sc;
    begin(&sc, "noheartbeat",
          "CREATE TABLE idle_t (id int PRIMARY KEY); CREATE TABLE busy (id serial, v text)",
          "[source]\ntables = public.idle_t\n");
    uint64_t worst = busy_unpublished_max_retained(&sc, 30);
    cr_log_info("heartbeats off: largest retained WAL %llu bytes", (unsigned long long)worst);
    cr_assert_lt(worst, 16u << 20, "the slot retained %llu bytes", (unsigned long long)worst);
    wwt_exec(sc.c, "INSERT INTO idle_t VALUES (1)");
    collect(&sc, 1);
    end(&sc);
}

/* [format] transactions = true: BEGIN and END records around each
 * transaction's events, and every event says where it stands in it. */
Test(events, transaction_metadata, .timeout = 120)
{
    struct scenario sc;
    begin(&sc, "txmeta", "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY)",
          "[format]\ntransactions = true\n");
    wwt_exec(sc.c, "BEGIN; INSERT INTO a VALUES (1); INSERT INTO b VALUES (1); "
                   "INSERT INTO a VALUES (2); COMMIT");
    wwt_exec(sc.c, "INSERT INTO b VALUES (2)");
    collect(&sc, 5 + 3);
    /* BEGIN, a1, b1, a2, END */
    const struct mj *begin_v = value(&sc, 0);
    cr_assert_str_eq(mj_str(mj_get(begin_v, "status")), "BEGIN");
    const char *id = mj_str(mj_get(begin_v, "id"));
    cr_assert(id && strchr(id, ':'), "transaction id %s", id);
    cr_assert_str_eq(mj_str(mj_get(mj_get(sc.ev[0], "key"), "id")), id);
    cr_assert(mj_is_null(mj_get(begin_v, "event_count")));
    long long want_total[] = {1, 2, 3}, want_dco[] = {1, 1, 2};
    const char *want_table[] = {"a", "b", "a"};
    for (int i = 0; i < 3; i++) {
        const struct mj *v = value(&sc, (size_t)i + 1);
        cr_assert_str_eq(mj_str(mj_path(v, "source.table")), want_table[i]);
        cr_assert_str_eq(mj_str(mj_path(v, "transaction.id")), id);
        cr_assert_eq(mj_int(mj_path(v, "transaction.total_order")), want_total[i]);
        cr_assert_eq(mj_int(mj_path(v, "transaction.data_collection_order")), want_dco[i]);
    }
    const struct mj *end_v = value(&sc, 4);
    cr_assert_str_eq(mj_str(mj_get(end_v, "status")), "END");
    cr_assert_str_eq(mj_str(mj_get(end_v, "id")), id);
    cr_assert_eq(mj_int(mj_get(end_v, "event_count")), 3);
    const struct mj *cols = mj_get(end_v, "data_collections");
    cr_assert(cols && cols->n == 2);
    cr_assert_str_eq(mj_str(mj_get(mj_at(cols, 0), "data_collection")), "public.a");
    cr_assert_eq(mj_int(mj_get(mj_at(cols, 0), "event_count")), 2);
    cr_assert_str_eq(mj_str(mj_get(mj_at(cols, 1), "data_collection")), "public.b");
    cr_assert_eq(mj_int(mj_get(mj_at(cols, 1), "event_count")), 1);
    /* The second transaction: its own id. */
    cr_assert_str_eq(mj_str(mj_get(value(&sc, 5), "status")), "BEGIN");
    cr_assert_str_neq(mj_str(mj_get(value(&sc, 5), "id")), id);
    cr_assert_str_eq(mj_str(mj_get(value(&sc, 7), "status")), "END");
    end(&sc);
}
