/*
 * Streaming into Kafka, end to end: a real PostgreSQL, walwire as a process
 * with the Kafka sink, a private librdkafka mock cluster per test
 * (tests/kafka_mock) for fault injection, and a real librdkafka consumer
 * reading the topics back.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "minijson.h"
#include "mock_client.h"

/* One test's world: the mock, a database, walwire, a reader. */
struct kt {
    struct wwk_mock mock;
    struct wwt_walwire w;
    struct wwk_reader *reader;
    char *db;
    PGconn *c;
    char slot[64], prefix[64], topic[160];
};

static bool log_has(struct wwt_walwire *w, const char *needle)
{
    return wwt_file_contains(w->log, needle);
}

static void launch(struct kt *t, const char *const *env, bool wait_streaming)
{
    const char *envp[16];
    char prefix[96];
    size_t n = 0;
    snprintf(prefix, sizeof prefix, "WALWIRE_SINK_TOPIC_PREFIX=%s", t->prefix);
    envp[n++] = "WALWIRE_SINK_TYPE=kafka";
    envp[n++] = prefix;
    for (; env && *env && n < 15; env++)
        envp[n++] = *env;
    envp[n] = NULL;
    wwt_start(&t->w, "run", envp);
    if (!wait_streaming)
        return;
    bool up = WWT_POLL_UNTIL(30000, log_has(&t->w, "streaming started") || wwt_exited(&t->w, NULL));
    char *log = wwt_read_file(t->w.log, NULL);
    cr_assert(up && t->w.pid, "walwire did not start streaming; its log:\n%s", log);
    free(log);
}

/* A private mock, a fresh database with ddl, walwire (type kafka) with the
 * lines kafka_extra in [kafka] and env in its environment; mock_cmd (if
 * any) goes to the mock before walwire starts. */
static void kt_start(struct kt *t, const char *tag, const char *ddl, const char *kafka_extra,
                     const char *const *env, const char *mock_cmd, bool wait_streaming)
{
    memset(t, 0, sizeof *t);
    wwk_mock_start(&t->mock, 1);
    t->db = wwt_new_db(tag);
    t->c = wwt_pg(t->db);
    wwt_exec(t->c, "%s", ddl);
    snprintf(t->slot, sizeof t->slot, "%s_%d", tag, (int)getpid());
    snprintf(t->prefix, sizeof t->prefix, "wwt-%s", tag);
    snprintf(t->topic, sizeof t->topic, "%s.public.items", t->prefix);
    wwt_walwire_init(&t->w);
    char extra[2048];
    snprintf(extra, sizeof extra, "[kafka]\nbootstrap.servers = %s\n%s", t->mock.bootstrap,
             kafka_extra ? kafka_extra : "");
    wwt_write_config(&t->w, t->db, t->slot, extra);
    t->reader = wwk_reader_new(t->mock.bootstrap);
    /* The mock keeps about 5 MB per partition and drops older records:
     * enough partitions keep every record of a test readable. */
    wwk_mock_ok(&t->mock, "topic %s 16", t->topic);
    if (mock_cmd)
        wwk_mock_ok(&t->mock, "%s", mock_cmd);
    launch(t, env, wait_streaming);
}

static void kt_end(struct kt *t)
{
    wwt_kill(&t->w);
    wwk_reader_free(t->reader);
    wwk_mock_stop(&t->mock);
    PQfinish(t->c);
    wwt_drop_db(t->db);
    free(t->db);
}

static uint64_t confirmed_lsn(struct kt *t)
{
    return wwt_lsn(t->c,
                   "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE "
                   "slot_name = '%s'",
                   t->slot);
}

/* ---- records as events ------------------------------------------------ */

struct ev {
    char op;       /* c u d m ..., or 'T' for a tombstone */
    long long id;  /* after.id, before.id, or the key's id */
    long long lsn; /* source.lsn (a tombstone: its header) */
    int32_t partition;
    const struct wwk_record *rec;
};

/* Parse every record; checks the headers against the envelope and the key
 * against the row. */
static struct ev *to_events(const struct wwk_records *rs)
{
    struct ev *ev = calloc(rs->n ? rs->n : 1, sizeof *ev);
    for (size_t i = 0; i < rs->n; i++) {
        const struct wwk_record *r = &rs->v[i];
        ev[i].rec = r;
        ev[i].partition = r->partition;
        cr_assert(r->lsn_header && r->txid_header, "record %zu lacks walwire headers", i);
        ev[i].lsn = strtoll(r->lsn_header, NULL, 10);
        struct mj *key = r->key ? mj_parse(r->key, r->key_len, NULL) : NULL;
        cr_assert(!r->key || key, "record %zu: key is not JSON: %s", i, r->key);
        long long key_id = key ? mj_int(mj_get(key, "id")) : -1;
        mj_free(key);
        if (!r->value) {
            ev[i].op = 'T';
            ev[i].id = key_id;
            continue;
        }
        const char *err = NULL;
        struct mj *v = mj_parse(r->value, r->value_len, &err);
        cr_assert(v, "record %zu: value is not JSON (%s)", i, err);
        ev[i].op = mj_str(mj_get(v, "op"))[0];
        const struct mj *row =
            mj_is_null(mj_get(v, "after")) ? mj_get(v, "before") : mj_get(v, "after");
        ev[i].id = mj_int(mj_get(row, "id"));
        cr_assert_eq(mj_int(mj_path(v, "source.lsn")), ev[i].lsn, "record %zu: walwire.lsn", i);
        cr_assert_eq(mj_int(mj_path(v, "source.txId")), strtoll(r->txid_header, NULL, 10),
                     "record %zu: walwire.txid", i);
        if (key)
            cr_assert_eq(key_id, ev[i].id, "record %zu: key", i);
        mj_free(v);
    }
    return ev;
}

/* Java's partitioner (Kafka's Utils.murmur2, seed 0x9747b28c): the
 * partition a Java producer picks for key. */
static int32_t java_partition(const char *key, size_t len, int32_t nparts)
{
    const uint32_t m = 0x5bd1e995;
    const unsigned char *d = (const unsigned char *)key;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t k =
            d[i] | (uint32_t)d[i + 1] << 8 | (uint32_t)d[i + 2] << 16 | (uint32_t)d[i + 3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)d[i + 2] << 16; /* fall through */
    case 2:
        h ^= (uint32_t)d[i + 1] << 8; /* fall through */
    case 1:
        h ^= d[i];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)((h & 0x7fffffff) % (uint32_t)nparts);
}

/* ---- issue 4, what must hold 1 ---------------------------------------- */

/* 100,000 rows in 1,000 transactions, then updates and deletes of some of
 * them: every event arrives exactly once, in commit order per key, on the
 * partition Java's partitioner picks for its key, deletes followed by a
 * tombstone. */
Test(kafka, rows_once_in_commit_order_per_key, .timeout = 600)
{
    struct kt t;
    kt_start(&t, "korder", "CREATE TABLE items (id int PRIMARY KEY, v text)", NULL, NULL, NULL,
             true);
    for (int tx = 0; tx < 1000; tx++)
        wwt_exec(t.c, "INSERT INTO items SELECT g, 'row ' || g FROM generate_series(%d, %d) g",
                 tx * 100 + 1, tx * 100 + 100);
    for (int k = 0; k < 3; k++)
        wwt_exec(t.c, "UPDATE items SET v = v || '+' WHERE id <= 1000");
    wwt_exec(t.c, "DELETE FROM items WHERE id <= 100");
    uint64_t end = wwt_lsn(t.c, "SELECT pg_current_wal_insert_lsn()");
    const size_t expected = 100000 + 3000 + 100 + 100;

    cr_assert(WWT_POLL_UNTIL(300000, wwk_topic_count(t.reader, t.topic) >= (long long)expected),
              "only %lld of %zu records arrived", wwk_topic_count(t.reader, t.topic), expected);
    cr_assert(WWT_POLL_UNTIL(30000, confirmed_lsn(&t) >= end),
              "confirmed_flush_lsn did not reach the end of the workload");
    cr_assert_eq(wwt_stop(&t.w), 0, "walwire did not exit cleanly on SIGTERM");

    struct wwk_records rs;
    size_t n = wwk_read_topic(t.reader, t.topic, expected, 120000, &rs);
    cr_assert_eq(n, expected, "expected exactly %zu records, read %zu", expected, n);
    struct ev *ev = to_events(&rs);
    int32_t nparts = 0;
    for (size_t i = 0; i < n; i++)
        nparts = ev[i].partition + 1 > nparts ? ev[i].partition + 1 : nparts;

    /* Per key: c, then u u u (ids <= 1000), then d and its tombstone
     * (ids <= 100), all on one partition, in this order. */
    unsigned char *seen = calloc(100001, 1);
    int32_t *part_of = calloc(100001, sizeof *part_of);
    for (size_t i = 0; i < n; i++) {
        long long id = ev[i].id;
        cr_assert(id >= 1 && id <= 100000, "record %zu: id %lld", i, id);
        int step = seen[id]++;
        char want = step == 0 ? 'c' : step <= 3 ? 'u' : step == 4 ? 'd' : 'T';
        cr_assert_eq(ev[i].op, want, "id %lld: event %d is '%c', expected '%c'", id, step + 1,
                     ev[i].op, want);
        if (step == 0) {
            part_of[id] = ev[i].partition;
            cr_assert_eq(ev[i].partition,
                         java_partition(ev[i].rec->key, ev[i].rec->key_len, nparts),
                         "id %lld is not on murmur2's partition", id);
        }
        cr_assert_eq(ev[i].partition, part_of[id], "id %lld moved partitions", id);
        /* Within a partition, commit order: LSNs increase; a tombstone
         * directly follows its delete with the same LSN. */
        if (i > 0 && ev[i - 1].partition == ev[i].partition) {
            if (ev[i].op == 'T')
                cr_assert(ev[i - 1].op == 'd' && ev[i - 1].id == id && ev[i - 1].lsn == ev[i].lsn,
                          "tombstone of %lld does not follow its delete", id);
            else
                cr_assert_gt(ev[i].lsn, ev[i - 1].lsn, "partition %d: LSN went back at offset %lld",
                             ev[i].partition, (long long)ev[i].rec->offset);
        }
    }
    for (long long id = 1; id <= 100000; id++) {
        int want = id <= 100 ? 6 : id <= 1000 ? 4 : 1;
        cr_assert_eq(seen[id], want, "id %lld: %d events, expected %d", id, seen[id], want);
    }
    free(seen);
    free(part_of);
    free(ev);
    wwk_records_free(&rs);
    kt_end(&t);
}

/* ---- issue 4, what must hold 2 ---------------------------------------- */

struct committed_tx {
    int first_id, last_id;
    uint64_t lsn_before; /* pg_current_wal_insert_lsn() before COMMIT: < its end */
    uint64_t lsn_after;  /* pg_current_wal_insert_lsn() after COMMIT: >= its end (the
                            write position may lag: synchronous_commit is off) */
};

struct writer {
    const char *db;
    int rows_per_tx, max_tx;
    struct committed_tx *txs;
    atomic_int done_tx;
    atomic_bool stop;
};

/* Commits transactions until told to stop; paced (2 ms between
 * transactions) so that the stream runs through the whole outage. */
static void *writer_main(void *arg)
{
    struct writer *wr = arg;
    PGconn *c = wwt_pg(wr->db);
    for (int t = 0; t < wr->max_tx && !atomic_load(&wr->stop); t++) {
        int first = t * wr->rows_per_tx + 1, last = first + wr->rows_per_tx - 1;
        wwt_exec(c, "BEGIN");
        wwt_exec(c, "INSERT INTO items SELECT g, repeat('x', 100) FROM generate_series(%d, %d) g",
                 first, last);
        wr->txs[t].lsn_before = wwt_lsn(c, "SELECT pg_current_wal_insert_lsn()");
        wwt_exec(c, "COMMIT");
        wr->txs[t].lsn_after = wwt_lsn(c, "SELECT pg_current_wal_insert_lsn()");
        wr->txs[t].first_id = first;
        wr->txs[t].last_id = last;
        atomic_store(&wr->done_tx, t + 1);
        wwt_pause_ms(2); /* workload pacing, not a wait for a result */
    }
    PQfinish(c);
    return NULL;
}

/* The only broker goes down for 10 s in the middle of a stream that keeps
 * going: nothing is lost, and while it is down the slot never confirms a
 * transaction committed after it went down (none of those can have been
 * delivered). A small max_inflight_bytes makes back-pressure (QUEUE_FULL,
 * -EAGAIN, resume) part of it. */
Test(kafka, broker_down_ten_seconds_nothing_lost, .timeout = 600)
{
    struct kt t;
    const char *env[] = {"WALWIRE_SOURCE_MAX_INFLIGHT_BYTES=256kB", NULL};
    kt_start(&t, "kdown", "CREATE TABLE items (id int PRIMARY KEY, v text)", NULL, env, NULL, true);
    struct writer wr = {.db = t.db, .rows_per_tx = 20, .max_tx = 10000};
    wr.txs = calloc((size_t)wr.max_tx, sizeof *wr.txs);
    pthread_t th;
    pthread_create(&th, NULL, writer_main, &wr);

    cr_assert(WWT_POLL_UNTIL(60000, wwk_topic_count(t.reader, t.topic) >= 2000),
              "the stream did not get going");
    wwk_mock_ok(&t.mock, "down");
    uint64_t down_lsn = wwt_lsn(t.c, "SELECT pg_current_wal_insert_lsn()");
    int first_outage_tx = atomic_load(&wr.done_tx); /* earlier ones may be delivered */
    uint64_t outage_end = wwt_now_ms() + 10000, samples = 0, confirmed = 0;
    while (wwt_now_ms() < outage_end) {
        confirmed = confirmed_lsn(&t);
        samples++;
        int done = atomic_load(&wr.done_tx);
        for (int i = first_outage_tx; i < done; i++) {
            if (wr.txs[i].lsn_before < down_lsn)
                continue; /* may have committed before the broker went down */
            cr_assert_lt(confirmed, wr.txs[i].lsn_after,
                         "broker down, yet the slot confirmed %llX, past transaction %d "
                         "committed after the outage began",
                         (unsigned long long)confirmed, i);
        }
        cr_assert(!wwt_exited(&t.w, NULL), "walwire exited during the outage");
        wwt_pause_ms(50); /* the sampling interval */
    }
    int outage_txs = atomic_load(&wr.done_tx) - first_outage_tx;
    cr_log_info("%llu samples during the outage, %d transactions committed meanwhile, "
                "confirmed stayed at or below %llX",
                (unsigned long long)samples, outage_txs, (unsigned long long)confirmed);
    cr_assert_gt(outage_txs, 10, "the workload did not go on during the outage");
    wwk_mock_ok(&t.mock, "up");

    long long at_up = wwk_topic_count(t.reader, t.topic);
    cr_assert(WWT_POLL_UNTIL(60000, wwk_topic_count(t.reader, t.topic) > at_up + 2000),
              "the stream did not resume after the broker came back");
    atomic_store(&wr.stop, true);
    pthread_join(th, NULL);
    int ntx = atomic_load(&wr.done_tx);
    long long rows = (long long)ntx * wr.rows_per_tx;
    cr_assert(WWT_POLL_UNTIL(120000, confirmed_lsn(&t) >= wr.txs[ntx - 1].lsn_after),
              "the slot did not catch up after the outage");
    cr_assert_eq(wwt_stop(&t.w), 0);

    struct wwk_records rs;
    wwk_read_topic(t.reader, t.topic, (size_t)rows, 120000, &rs);
    struct ev *ev = to_events(&rs);
    unsigned char *seen = calloc((size_t)rows + 1, 1);
    size_t dups = 0;
    for (size_t i = 0; i < rs.n; i++) {
        cr_assert(ev[i].id >= 1 && ev[i].id <= rows, "unexpected id %lld", ev[i].id);
        dups += seen[ev[i].id]++ > 0;
    }
    for (long long id = 1; id <= rows; id++)
        cr_assert(seen[id], "row %lld (of %lld) was lost", id, rows);
    cr_log_info("%lld rows in %d transactions, %zu records, %zu duplicates", rows, ntx, rs.n, dups);
    free(seen);
    free(ev);
    free(wr.txs);
    wwk_records_free(&rs);
    kt_end(&t);
}

/* ---- transient errors ------------------------------------------------- */

/* Retriable produce errors (leader moves, timeouts, a dropped connection)
 * are retried by the idempotent producer: every row exactly once, in
 * order. */
Test(kafka, injected_produce_errors_are_retried, .timeout = 300)
{
    struct kt t;
    kt_start(&t, "kretry", "CREATE TABLE items (id int PRIMARY KEY, v text)", NULL, NULL, NULL,
             true);
    const char *errs = "NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT:300 NOT_ENOUGH_REPLICAS "
                       "_TRANSPORT LEADER_NOT_AVAILABLE NOT_ENOUGH_REPLICAS_AFTER_APPEND";
    wwk_mock_ok(&t.mock, "broker-errors 1 Produce %s", errs);
    for (int tx = 0; tx < 100; tx++) {
        if (tx == 50)
            wwk_mock_ok(&t.mock, "broker-errors 1 Produce %s", errs);
        wwt_exec(t.c, "INSERT INTO items SELECT g, 'v' FROM generate_series(%d, %d) g",
                 tx * 100 + 1, tx * 100 + 100);
    }
    cr_assert(WWT_POLL_UNTIL(120000, wwk_topic_count(t.reader, t.topic) >= 10000),
              "only %lld of 10000 rows arrived", wwk_topic_count(t.reader, t.topic));
    const char *left = wwk_mock_ok(&t.mock, "pending 1 Produce");
    cr_assert_str_eq(left, "ok 0", "not every injected error was hit: %s", left);
    cr_assert_eq(wwt_stop(&t.w), 0);

    struct wwk_records rs;
    size_t n = wwk_read_topic(t.reader, t.topic, 10000, 60000, &rs);
    cr_assert_eq(n, 10000, "expected exactly 10000 records, read %zu", n);
    struct ev *ev = to_events(&rs);
    unsigned char *seen = calloc(10001, 1);
    for (size_t i = 0; i < n; i++) {
        cr_assert(ev[i].id >= 1 && ev[i].id <= 10000 && !seen[ev[i].id]++, "id %lld twice",
                  ev[i].id);
        if (i > 0 && ev[i - 1].partition == ev[i].partition)
            cr_assert_gt(ev[i].lsn, ev[i - 1].lsn, "order broken in partition %d", ev[i].partition);
    }
    free(seen);
    free(ev);
    wwk_records_free(&rs);
    kt_end(&t);
}

/* ---- permanent failures ----------------------------------------------- */

struct failure_case {
    const char *tag;
    const char *kafka_extra;
    const char *table;   /* the second transaction's table */
    const char *trigger; /* mock command before it; {prefix}: the topic prefix */
    int value_size;      /* of its rows' v */
    const char *reason;  /* in walwire's log */
};

/* A first transaction is delivered and confirmed; then the failure makes
 * the second one undeliverable: walwire exits 1 naming the topic and the
 * reason, and the second transaction is still in the slot. */
static void permanent_failure(const struct failure_case *fc)
{
    struct kt t;
    kt_start(&t, fc->tag,
             "CREATE TABLE items (id int PRIMARY KEY, v text); "
             "CREATE TABLE other (id int PRIMARY KEY, v text)",
             fc->kafka_extra, NULL, NULL, true);
    wwt_exec(t.c, "INSERT INTO items SELECT g, 'v' FROM generate_series(1, 20) g");
    uint64_t tx1 = wwt_lsn(t.c, "SELECT pg_current_wal_insert_lsn()");
    cr_assert(
        WWT_POLL_UNTIL(60000, wwk_topic_count(t.reader, t.topic) >= 20 && confirmed_lsn(&t) >= tx1),
        "the first transaction was not delivered and confirmed");
    if (fc->trigger) {
        const char *at = strstr(fc->trigger, "{prefix}");
        if (at)
            wwk_mock_ok(&t.mock, "%.*s%s%s", (int)(at - fc->trigger), fc->trigger, t.prefix,
                        at + strlen("{prefix}"));
        else
            wwk_mock_ok(&t.mock, "%s", fc->trigger);
    }
    wwt_exec(t.c, "INSERT INTO %s SELECT g, repeat('y', %d) FROM generate_series(101, 103) g",
             fc->table, fc->value_size);

    int code = wwt_wait(&t.w, 60000);
    char *log = wwt_read_file(t.w.log, NULL);
    char topic[160];
    snprintf(topic, sizeof topic, "topic %s.public.%s", t.prefix, fc->table);
    cr_assert_eq(code, 1, "walwire exited with %d, expected 1; its log:\n%s", code, log);
    cr_assert(strstr(log, topic) && strstr(log, fc->reason),
              "the log does not name \"%s\" and \"%s\":\n%s", topic, fc->reason, log);
    free(log);
    /* The slot still holds the second transaction (Begin, Relation, 3
     * Inserts, Commit), not the first (20 Inserts). */
    long long left = wwt_int(t.c,
                             "SELECT count(*) FROM pg_logical_slot_peek_binary_changes("
                             "'%s', NULL, NULL, 'proto_version', '1', "
                             "'publication_names', '%s_pub')",
                             t.slot, t.slot);
    cr_assert(left >= 5 && left < 20,
              "the slot holds %lld messages; expected the failed "
              "transaction only",
              left);
    kt_end(&t);
}

Test(kafka, topic_authorization_failure_stops, .timeout = 120)
{
    permanent_failure(&(struct failure_case){"kauth", NULL, "items",
                                             "errors Produce TOPIC_AUTHORIZATION_FAILED", 10,
                                             "Topic authorization failed"});
}

Test(kafka, broker_rejects_message_size_stops, .timeout = 120)
{
    permanent_failure(&(struct failure_case){
        "ksize", NULL, "items", "errors Produce MSG_SIZE_TOO_LARGE", 10, "Message size too large"});
}

Test(kafka, unknown_topic_stops, .timeout = 120)
{
    permanent_failure(
        &(struct failure_case){"kunknown", "topic.metadata.propagation.max.ms = 1000\n", "other",
                               "topic-error {prefix}.public.other UNKNOWN_TOPIC_OR_PART", 10,
                               "Unknown topic or partition"});
}

Test(kafka, producer_message_max_bytes_stops, .timeout = 120)
{
    permanent_failure(&(struct failure_case){"kmaxb", "message.max.bytes = 4000\n", "items", NULL,
                                             10000, "MSG_SIZE_TOO_LARGE"});
}

/* A finite message.timeout.ms that the user chose: an outage longer than it
 * fails the change, and walwire stops instead of leaving a hole. */
Test(kafka, finite_message_timeout_stops_without_hole, .timeout = 120)
{
    permanent_failure(&(struct failure_case){"ktimeout", "message.timeout.ms = 2000\n", "items",
                                             "down", 10, "Message timed out"});
}

/* A fatal idempotent-producer error (here: no producer id) stops walwire
 * with exit code 1 and says why. */
Test(kafka, fatal_producer_error_stops, .timeout = 120)
{
    struct kt t;
    kt_start(&t, "kfatal", "CREATE TABLE items (id int PRIMARY KEY, v text)", NULL, NULL,
             "errors InitProducerId CLUSTER_AUTHORIZATION_FAILED", false);
    int code = wwt_wait(&t.w, 60000);
    char *log = wwt_read_file(t.w.log, NULL);
    cr_assert_eq(code, 1, "exit code %d; log:\n%s", code, log);
    cr_assert(strstr(log, "fatal Kafka producer error") &&
                  strstr(log, "CLUSTER_AUTHORIZATION_FAILED"),
              "the log does not explain the fatal error:\n%s", log);
    free(log);
    kt_end(&t);
}

/* ---- configuration ---------------------------------------------------- */

/* Bad [kafka] settings exit with 2 and name the key; a secret's value never
 * appears, even next to an error. No broker or database is needed: the
 * sink refuses to start before walwire connects anywhere. */
Test(kafka, config_errors_name_the_key, .timeout = 120)
{
    static const struct {
        const char *kafka, *env, *key, *why;
    } cases[] = {
        {"no.such.property = 1\n", NULL, "no.such.property", "not a librdkafka property"},
        {"acks = banana\n", NULL, "acks", "Invalid value"},
        {"topic = {nope}.x\n", NULL, "topic", "unknown placeholder"},
        {"message_topic = x}\n", NULL, "message_topic", "unmatched"},
        {"tombstones = maybe\n", NULL, "tombstones", "expected true or false"},
        {"acks = 1\n", NULL, "acks", "enable.idempotence"},
        {"log.queue = false\n", NULL, "log.queue", "set by walwire"},
        {"security.protocol = sasl_plaintext\nsasl.mechanisms = NOPE\n", NULL, "(librdkafka)",
         "NOPE"},
        {"", "WALWIRE_KAFKA_NO_SUCH_THING=1", "no.such.thing", "not a librdkafka property"},
        {"", "WALWIRE_KAFKA_BOOTSTRAP_SERVERS=", "bootstrap.servers", "required"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wwt_walwire w;
        wwt_walwire_init(&w);
        char extra[1024];
        snprintf(extra, sizeof extra,
                 "[kafka]\nsasl.password = S3cr3t-Pw-4711\nbootstrap.servers = 127.0.0.1:9\n%s",
                 cases[i].kafka);
        wwt_write_config(&w, "postgres", "kconf", extra);
        const char *env[] = {"WALWIRE_SINK_TYPE=kafka",
                             "WALWIRE_KAFKA_SSL_KEY_PASSWORD=Kp-Env-5150", cases[i].env, NULL};
        wwt_start(&w, "run", env);
        int code = wwt_wait(&w, 30000);
        char *log = wwt_read_file(w.log, NULL);
        char named[96];
        snprintf(named, sizeof named, "[kafka] %s:", cases[i].key);
        cr_assert_eq(code, 2, "case %zu: exit code %d, expected 2; log:\n%s", i, code, log);
        cr_assert(strstr(log, named) && strstr(log, cases[i].why),
                  "case %zu: the log does not name %s and \"%s\":\n%s", i, named, cases[i].why,
                  log);
        cr_assert(!strstr(log, "S3cr3t-Pw-4711") && !strstr(log, "Kp-Env-5150"),
                  "case %zu: a secret is in the log:\n%s", i, log);
        free(log);
    }
}

/* A whole run with librdkafka's debug logging on: secrets from the file
 * and from the environment never reach the log. */
Test(kafka, secrets_never_logged, .timeout = 120)
{
    struct kt t;
    const char *env[] = {"WALWIRE_LOG_LEVEL=debug", "WALWIRE_KAFKA_SSL_KEY_PASSWORD=Kp-Env-5150",
                         NULL};
    kt_start(&t, "ksecret", "CREATE TABLE items (id int PRIMARY KEY, v text)",
             "sasl.username = walwire\nsasl.password = Pw-File-9f8e7d\n"
             "sasl.oauthbearer.config = principal=x token=Tk-File-31337\n"
             "debug = generic,broker,conf,security,msg\n",
             env, NULL, true);
    wwt_exec(t.c, "INSERT INTO items SELECT g, 'v' FROM generate_series(1, 50) g");
    cr_assert(WWT_POLL_UNTIL(60000, wwk_topic_count(t.reader, t.topic) >= 50));
    cr_assert_eq(wwt_stop(&t.w), 0);
    char *log = wwt_read_file(t.w.log, NULL);
    cr_assert(strstr(log, "librdkafka"), "no librdkafka debug lines reached the log:\n%s", log);
    cr_assert(!strstr(log, "Pw-File-9f8e7d") && !strstr(log, "Kp-Env-5150") &&
                  !strstr(log, "Tk-File-31337"),
              "a secret is in the log:\n%s", log);
    free(log);
    kt_end(&t);
}

/* ---- event shape ------------------------------------------------------ */

/* Topic templates (with a name Kafka needs sanitised), a table without a
 * key, a logical decoding message, tombstones off, and the warning when
 * idempotence is turned off. */
Test(kafka, templates_messages_null_keys_no_tombstones, .timeout = 120)
{
    struct kt t;
    kt_start(
        &t, "kshape",
        "CREATE TABLE items (id int PRIMARY KEY, v text); CREATE TABLE nokey (id int, v text); "
        "CREATE TABLE \"Order Items\" (id int PRIMARY KEY)",
        "topic = cdc-{schema}-{table}\nmessage_topic = cdc-msg-{table}\n"
        "tombstones = false\nenable.idempotence = false\n",
        NULL, NULL, true);
    wwt_exec(t.c, "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    wwt_exec(t.c, "INSERT INTO nokey VALUES (7, 'x'), (8, 'y')");
    wwt_exec(t.c, "INSERT INTO \"Order Items\" VALUES (5)");
    wwt_exec(t.c, "DELETE FROM items WHERE id = 1");
    wwt_exec(t.c, "SELECT pg_logical_emit_message(true, 'myprefix', 'hello')");
    cr_assert(WWT_POLL_UNTIL(60000, wwk_topic_count(t.reader, "cdc-msg-myprefix") >= 1),
              "the message did not arrive");
    cr_assert_eq(wwt_stop(&t.w), 0);
    char *log = wwt_read_file(t.w.log, NULL);
    cr_assert(strstr(log, "enable.idempotence=false"), "no warning about idempotence:\n%s", log);
    free(log);

    struct wwk_records rs;
    cr_assert_eq(wwk_read_topic(t.reader, "cdc-public-items", 4, 30000, &rs), 4,
                 "items: expected 3 inserts and 1 delete, without tombstone");
    struct ev *ev = to_events(&rs);
    int ops[128] = {0};
    for (size_t i = 0; i < rs.n; i++)
        ops[(unsigned char)ev[i].op]++;
    cr_assert(ops['c'] == 3 && ops['d'] == 1 && ops['T'] == 0);
    free(ev);
    wwk_records_free(&rs);

    cr_assert_eq(wwk_read_topic(t.reader, "cdc-public-nokey", 2, 30000, &rs), 2);
    ev = to_events(&rs);
    for (size_t i = 0; i < rs.n; i++)
        cr_assert(rs.v[i].key == NULL && ev[i].op == 'c', "a keyless table has a null key");
    free(ev);
    wwk_records_free(&rs);

    cr_assert_eq(wwk_read_topic(t.reader, "cdc-public-Order_Items", 1, 30000, &rs), 1,
                 "\"Order Items\" did not go to cdc-public-Order_Items");
    wwk_records_free(&rs);

    cr_assert_eq(wwk_read_topic(t.reader, "cdc-msg-myprefix", 1, 30000, &rs), 1);
    struct mj *v = mj_parse(rs.v[0].value, rs.v[0].value_len, NULL);
    cr_assert(v && strcmp(mj_str(mj_get(v, "op")), "m") == 0, "not a message event: %s",
              rs.v[0].value);
    mj_free(v);
    wwk_records_free(&rs);
    kt_end(&t);
}

/* [format] transactions = true: BEGIN and END records on {prefix}.transaction,
 * keyed by the transaction id, and no tombstone after them. */
Test(kafka, transaction_records_on_their_topic, .timeout = 120)
{
    struct kt t;
    const char *env[] = {"WALWIRE_FORMAT_TRANSACTIONS=true", NULL};
    kt_start(&t, "ktx", "CREATE TABLE items (id int PRIMARY KEY)", NULL, env, NULL, true);
    char txtopic[160];
    snprintf(txtopic, sizeof txtopic, "%s.transaction", t.prefix);
    wwt_exec(t.c, "BEGIN; INSERT INTO items VALUES (1), (2); DELETE FROM items WHERE id = 1; "
                  "COMMIT");
    cr_assert(WWT_POLL_UNTIL(60000, wwk_topic_count(t.reader, txtopic) >= 2),
              "the transaction records did not arrive");
    struct wwk_records rs;
    cr_assert_eq(wwk_read_topic(t.reader, txtopic, 2, 30000, &rs), 2);
    struct mj *b = mj_parse(rs.v[0].value, rs.v[0].value_len, NULL);
    struct mj *e = mj_parse(rs.v[1].value, rs.v[1].value_len, NULL);
    cr_assert(b && e);
    cr_assert_str_eq(mj_str(mj_get(b, "status")), "BEGIN");
    cr_assert_str_eq(mj_str(mj_get(e, "status")), "END");
    cr_assert_eq(mj_int(mj_get(e, "event_count")), 3);
    struct mj *key = mj_parse(rs.v[1].key, rs.v[1].key_len, NULL);
    cr_assert_str_eq(mj_str(mj_get(key, "id")), mj_str(mj_get(e, "id")));
    mj_free(key);
    mj_free(b);
    mj_free(e);
    wwk_records_free(&rs);
    /* The row topic: 2 creates, a delete and its tombstone. */
    cr_assert_eq(wwk_read_topic(t.reader, t.topic, 4, 30000, &rs), 4);
    wwk_records_free(&rs);
    cr_assert_eq(wwt_stop(&t.w), 0);
    kt_end(&t);
}
