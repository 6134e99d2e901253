/*
 * Streaming into the file sink, end to end: a real PostgreSQL, walwire as a
 * process, its output file read back and checked event by event.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "minijson.h"

static void wait_streaming(struct wwt_walwire *w)
{
    wwt_wait_streaming(w, 30000);
}

/* Issue 2, what must hold 2: 10,000 inserts in 100 transactions, 1,000
 * updates, 1,000 deletes arrive as exactly those 12,000 events, in commit
 * order, and the slot is confirmed past the last transaction. */
Test(stream_file, inserts_updates_deletes_in_commit_order, .timeout = 300)
{
    char *db = wwt_new_db("basic");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE items (id int PRIMARY KEY, name text, qty int, "
                "price numeric(10,2), tags text[], at timestamptz)");
    struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    snprintf(slot, sizeof slot, "basic_%d", (int)getpid());
    wwt_write_config(&w, db, slot, "");
    wwt_start(&w, "run", NULL);
    wait_streaming(&w);

    for (int tx = 0; tx < 100; tx++)
        wwt_exec(c, "INSERT INTO items SELECT g, 'item ' || g, g, g * 1.25, ARRAY['a', 'b'], "
                    "'2024-01-02 03:04:05.5+00' FROM generate_series(%d, %d) g",
                 tx * 100 + 1, tx * 100 + 100);
    for (int tx = 0; tx < 10; tx++)
        wwt_exec(c, "UPDATE items SET qty = qty + 1000 WHERE id BETWEEN %d AND %d", tx * 100 + 1,
                 tx * 100 + 100);
    for (int tx = 0; tx < 9; tx++)
        wwt_exec(c, "DELETE FROM items WHERE id BETWEEN %d AND %d", 9001 + tx * 100,
                 9100 + tx * 100);
    wwt_exec(c, "BEGIN");
    wwt_exec(c, "DELETE FROM items WHERE id BETWEEN 9901 AND 10000");
    uint64_t before_last_commit = wwt_lsn(c, "SELECT pg_current_wal_insert_lsn()");
    wwt_exec(c, "COMMIT");

    cr_assert(WWT_POLL_UNTIL(120000, wwt_count_lines(w.out) >= 12000),
              "only %zu events arrived", wwt_count_lines(w.out));
    PGconn *admin = wwt_pg(db);
    bool confirmed = WWT_POLL_UNTIL(
        30000, wwt_lsn(admin, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE "
                              "slot_name = '%s'", slot) > before_last_commit);
    cr_assert(confirmed, "confirmed_flush_lsn did not pass the last transaction");
    cr_assert_eq(wwt_stop(&w), 0, "walwire did not exit cleanly on SIGTERM");

    size_t n;
    struct mj **ev = wwt_read_events(w.out, &n);
    cr_assert_eq(n, 12000, "expected exactly 12000 events, got %zu", n);
    long long last_lsn = 0;
    for (size_t i = 0; i < n; i++) {
        const struct mj *value = mj_get(ev[i], "value");
        const struct mj *key = mj_get(ev[i], "key");
        const char *op = mj_str(mj_get(value, "op"));
        long long lsn = mj_int(mj_path(value, "source.lsn"));
        cr_assert(lsn > last_lsn, "event %zu: source.lsn %lld not after %lld", i, lsn, last_lsn);
        last_lsn = lsn;
        cr_assert_str_eq(mj_str(mj_path(value, "source.table")), "items");
        cr_assert_str_eq(mj_str(mj_path(value, "source.schema")), "public");
        cr_assert_str_eq(mj_str(mj_path(value, "source.db")), db);
        cr_assert_str_eq(mj_str(mj_path(value, "source.snapshot")), "false");
        cr_assert(mj_int(mj_path(value, "source.txId")) > 0);
        long long id;
        if (i < 10000) {
            id = (long long)i + 1;
            cr_assert_str_eq(op, "c", "event %zu", i);
            cr_assert(mj_is_null(mj_get(value, "before")));
            cr_assert_eq(mj_int(mj_path(value, "after.id")), id);
            cr_assert_eq(mj_int(mj_path(value, "after.qty")), id);
            char name[32];
            snprintf(name, sizeof name, "item %lld", id);
            cr_assert_str_eq(mj_str(mj_path(value, "after.name")), name);
            char price[32];
            snprintf(price, sizeof price, "%lld.%02lld", id * 125 / 100, id * 125 % 100);
            cr_assert_str_eq(mj_str(mj_path(value, "after.price")), price);
            cr_assert_eq(mj_get(mj_get(value, "after"), "tags")->type, MJ_ARRAY);
            cr_assert_str_eq(mj_str(mj_path(value, "after.at")), "2024-01-02T03:04:05.500000Z");
        } else if (i < 11000) {
            id = (long long)i - 10000 + 1;
            cr_assert_str_eq(op, "u", "event %zu", i);
            cr_assert_eq(mj_int(mj_path(value, "after.id")), id);
            cr_assert_eq(mj_int(mj_path(value, "after.qty")), id + 1000);
        } else {
            id = (long long)i - 11000 + 9001;
            cr_assert_str_eq(op, "d", "event %zu", i);
            cr_assert(mj_is_null(mj_get(value, "after")));
            cr_assert_eq(mj_int(mj_path(value, "before.id")), id);
        }
        cr_assert_eq(mj_int(mj_get(key, "id")), id, "event %zu: key", i);
    }
    wwt_free_events(ev, n);

    /* Nothing the slot holds is left unconfirmed. */
    long long left = wwt_int(admin, "SELECT count(*) FROM pg_logical_slot_peek_binary_changes("
                                    "'%s', NULL, NULL, 'proto_version', '1', "
                                    "'publication_names', '%s_pub')", slot, slot);
    cr_assert_eq(left, 0, "the slot still has %lld messages to send", left);
    PQfinish(admin);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* ---- SIGKILL at random moments ----------------------------------------- */

struct committed_tx {
    int first_id, last_id;
    uint64_t lsn_after; /* pg_current_wal_insert_lsn() after COMMIT: >= its end (the
                         * write position may lag: synchronous_commit is off) */
};

struct writer {
    const char *db;
    int ntx, rows_per_tx;
    struct committed_tx *txs;
    atomic_int done_tx;
    atomic_bool stop;
};

static void *writer_main(void *arg)
{
    struct writer *wr = arg;
    PGconn *c = wwt_pg(wr->db);
    for (int t = 0; t < wr->ntx && !atomic_load(&wr->stop); t++) {
        int first = t * wr->rows_per_tx + 1, last = first + wr->rows_per_tx - 1;
        wwt_exec(c, "INSERT INTO t SELECT g, repeat('x', 50) FROM generate_series(%d, %d) g",
                 first, last);
        wr->txs[t].first_id = first;
        wr->txs[t].last_id = last;
        wr->txs[t].lsn_after = wwt_lsn(c, "SELECT pg_current_wal_insert_lsn()");
        atomic_store(&wr->done_tx, t + 1);
    }
    PQfinish(c);
    return NULL;
}

/* The position invariant: every transaction whose end the slot has
 * confirmed is entirely in the file. Returns the first violating tx or -1. */
static int check_confirmed_in_file(PGconn *admin, const char *slot, struct writer *wr,
                                   const char *out, unsigned char *seen, int max_id)
{
    uint64_t confirmed = wwt_lsn(admin, "SELECT confirmed_flush_lsn FROM pg_replication_slots "
                                        "WHERE slot_name = '%s'", slot);
    int done = atomic_load(&wr->done_tx);
    memset(seen, 0, (size_t)max_id + 1);
    wwt_ids_in_file(out, seen, max_id);
    for (int t = 0; t < done; t++) {
        if (wr->txs[t].lsn_after > confirmed)
            continue; /* not certainly confirmed */
        for (int id = wr->txs[t].first_id; id <= wr->txs[t].last_id; id++)
            if (!seen[id])
                return t;
    }
    return -1;
}

/* Issue 2, what must hold 3: SIGKILL at any moment, restart, nothing
 * missing, and the slot never confirmed a change the file did not hold. */
Test(stream_file, sigkill_loses_nothing, .timeout = 600)
{
    char *db = wwt_new_db("kill");
    PGconn *admin = wwt_pg(db);
    wwt_exec(admin, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    snprintf(slot, sizeof slot, "kill_%d", (int)getpid());
    wwt_write_config(&w, db, slot, "");
    wwt_start(&w, "run", NULL);
    wait_streaming(&w);

    struct writer wr = {.db = db, .ntx = 400, .rows_per_tx = 50};
    wr.txs = calloc((size_t)wr.ntx, sizeof *wr.txs);
    int max_id = wr.ntx * wr.rows_per_tx;
    unsigned char *seen = calloc((size_t)max_id + 1, 1);
    pthread_t th;
    pthread_create(&th, NULL, writer_main, &wr);

    srand((unsigned)getpid());
    for (int kill_no = 0; kill_no < 5; kill_no++) {
        /* Let a random number of further events arrive, then kill. */
        size_t target = wwt_count_lines(w.out) + 200 + (size_t)(rand() % 2000);
        WWT_POLL_UNTIL(30000, wwt_count_lines(w.out) >= target);
        int bad = check_confirmed_in_file(admin, slot, &wr, w.out, seen, max_id);
        cr_assert_eq(bad, -1, "confirmed_flush_lsn passed transaction %d, not in the file", bad);
        wwt_kill(&w);
        bad = check_confirmed_in_file(admin, slot, &wr, w.out, seen, max_id);
        cr_assert_eq(bad, -1, "after kill %d: transaction %d confirmed but missing", kill_no, bad);
        /* The killed walsender may hold the slot for a moment. */
        cr_assert(WWT_POLL_UNTIL(20000, wwt_int(admin, "SELECT count(*) FROM "
                                                       "pg_replication_slots WHERE slot_name = "
                                                       "'%s' AND active", slot) == 0));
        wwt_start(&w, "run", NULL);
        wait_streaming(&w);
    }
    pthread_join(th, NULL);
    int done = atomic_load(&wr.done_tx);
    cr_assert_eq(done, wr.ntx);

    /* Everything arrives in the end, at least once. */
    bool all = WWT_POLL_UNTIL(120000, ({
        memset(seen, 0, (size_t)max_id + 1);
        wwt_ids_in_file(w.out, seen, max_id);
        int missing = 0;
        for (int id = 1; id <= max_id; id++)
            missing += !seen[id];
        missing == 0;
    }));
    cr_assert_eq(wwt_stop(&w), 0);
    cr_assert(all, "some committed rows never arrived");
    size_t n;
    struct mj **ev = wwt_read_events(w.out, &n); /* every line is whole, valid JSON */
    cr_assert_geq(n, (size_t)max_id);
    wwt_free_events(ev, n);
    free(seen);
    free(wr.txs);
    PQfinish(admin);
    wwt_drop_db(db);
    free(db);
}

/* Issue 2, what must hold 5: one transaction of 2,000,000 rows streams in
 * bounded memory. */
Test(stream_file, big_transaction_bounded_memory, .timeout = 900)
{
    char *db = wwt_new_db("bigtx");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE big (id bigint PRIMARY KEY, v text)");
    struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    snprintf(slot, sizeof slot, "bigtx_%d", (int)getpid());
    /* The output goes to /dev/null: this test is about memory. */
    snprintf(w.out, sizeof w.out, "/dev/null");
    wwt_write_config(&w, db, slot, "");
    wwt_start(&w, "run", NULL);
    wait_streaming(&w);

    wwt_exec(c, "BEGIN");
    wwt_exec(c, "INSERT INTO big SELECT g, 'row number ' || g FROM generate_series(1, 2000000) g");
    uint64_t before_commit = wwt_lsn(c, "SELECT pg_current_wal_insert_lsn()");
    wwt_exec(c, "COMMIT");

    bool confirmed = WWT_POLL_UNTIL(
        600000, wwt_lsn(c, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE "
                           "slot_name = '%s'", slot) > before_commit);
    cr_assert(confirmed, "the 2,000,000-row transaction was not confirmed");
    cr_assert_eq(wwt_stop(&w), 0);
    long max_rss_kib = w.usage.ru_maxrss;
    cr_log_info("peak RSS streaming 2,000,000 rows in one transaction: %ld KiB", max_rss_kib);
    /* AddressSanitizer's shadow memory and quarantine add their own
     * (tests/sanitize.sh sets WW_SANITIZE); the bound is for walwire. */
    if (!getenv("WW_SANITIZE"))
        cr_assert_lt(max_rss_kib, 64 * 1024, "peak RSS %ld KiB is not under 64 MiB", max_rss_kib);
    char *log = wwt_read_file(w.log, NULL);
    cr_assert(strstr(log, "2000000 events delivered"), "walwire did not report 2000000 "
                                                        "delivered events:\n%s", log);
    free(log);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* The walsender terminated mid-stream (pg_terminate_backend): walwire
 * reconnects with backoff and resumes; nothing is missing. */
Test(stream_file, walsender_terminated_reconnects, .timeout = 300)
{
    char *db = wwt_new_db("reconn");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY)");
    struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    snprintf(slot, sizeof slot, "reconn_%d", (int)getpid());
    wwt_write_config(&w, db, slot, "");
    wwt_start(&w, "run", NULL);
    wait_streaming(&w);
    for (int round = 0; round < 3; round++) {
        for (int tx = 0; tx < 10; tx++)
            wwt_exec(c, "INSERT INTO t SELECT generate_series(%d, %d)", round * 2000 + tx * 100 + 1,
                     round * 2000 + tx * 100 + 100);
        /* Wait for the walsender of the previous reconnect. */
        cr_assert(WWT_POLL_UNTIL(30000, wwt_int(c, "SELECT count(*) FROM pg_replication_slots "
                                                   "WHERE slot_name = '%s' AND active", slot) == 1),
                  "walwire did not reconnect");
        long long killed = wwt_int(c, "SELECT count(pg_terminate_backend(active_pid)) FROM "
                                      "pg_replication_slots WHERE slot_name = '%s' AND active",
                                   slot);
        cr_assert_eq(killed, 1, "no active walsender to terminate");
        /* Changes committed while walwire is away arrive after it is back. */
        for (int tx = 0; tx < 5; tx++)
            wwt_exec(c, "INSERT INTO t SELECT generate_series(%d, %d)",
                     round * 2000 + 1000 + tx * 60 + 1, round * 2000 + 1000 + tx * 60 + 60);
    }
    /* Every committed row arrives, at least once. */
    PGresult *r = PQexec(c, "SELECT id FROM t");
    unsigned char *seen = calloc(6000, 1);
    bool all = WWT_POLL_UNTIL(60000, ({
        memset(seen, 0, 6000);
        wwt_ids_in_file(w.out, seen, 5999);
        int missing = 0;
        for (int i = 0; i < PQntuples(r); i++)
            missing += !seen[atoi(PQgetvalue(r, i, 0))];
        missing == 0;
    }));
    cr_assert(all, "not every row arrived after the reconnects");
    cr_assert(w.pid && !wwt_exited(&w, NULL), "walwire exited instead of reconnecting");
    cr_assert(wwt_file_contains(w.log, "reconnected to PostgreSQL"));
    cr_assert_eq(wwt_stop(&w), 0);
    cr_log_info("%d rows, %zu events", PQntuples(r), wwt_count_lines(w.out));
    PQclear(r);
    free(seen);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}
