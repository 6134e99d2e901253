/*
 * Chaos (issue 9): a writer commits numbered changes to three tables while
 * walwire streams them into a sink and is killed with SIGKILL at random
 * moments and restarted; once with the file sink, once with the Redis sink.
 * At the end: every committed change is in the sink at least once (exactly
 * once in Redis, whose LSN-derived entry IDs refuse replays), each key's
 * changes are in commit order, and the slot's confirmed_flush_lsn, sampled
 * every 100 ms, was never ahead of what the sink held.
 *
 * WW_CHAOS_KILLS sets the number of kills (default 5; run 20 or more by
 * hand).
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
#include "redis_client.h"

#define NTABLES 3
#define MAX_TX 200000
#define MAX_OPS 5

/* A change, as a number: table (2 bits), id (32), version (20, 0 for a
 * delete), so that the file's lines and the writer's log compare as sets. */
static uint64_t label(int table, uint64_t id, uint64_t version)
{
    return (uint64_t)table << 60 | id << 20 | version;
}

/* ---- a set of labels ------------------------------------------------------ */

struct set {
    uint64_t *slots; /* 0 = empty; labels are never 0 (table >= 1) */
    size_t cap, n;
};

static void set_add(struct set *s, uint64_t v);

/* Fibonacci hashing: the top bits of the product, which depend on every
 * bit of the label (its low bits are only the version: taking the low bits
 * of the product would put every label of a version in one chain). */
static size_t slot_of(const struct set *s, uint64_t v)
{
    int bits = __builtin_ctzll(s->cap);
    return (size_t)((v * 0x9E3779B97F4A7C15u) >> (64 - bits));
}

static void set_grow(struct set *s)
{
    struct set bigger = {calloc(s->cap ? s->cap * 2 : 1 << 16, 8), s->cap ? s->cap * 2 : 1 << 16, 0};
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            set_add(&bigger, s->slots[i]);
    free(s->slots);
    *s = bigger;
}

static void set_add(struct set *s, uint64_t v)
{
    if ((s->n + 1) * 2 > s->cap)
        set_grow(s);
    size_t i = slot_of(s, v);
    while (s->slots[i] && s->slots[i] != v)
        i = (i + 1) & (s->cap - 1);
    if (!s->slots[i]) {
        s->slots[i] = v;
        s->n++;
    }
}

static bool set_has(const struct set *s, uint64_t v)
{
    if (!s->cap)
        return false;
    size_t i = slot_of(s, v);
    while (s->slots[i]) {
        if (s->slots[i] == v)
            return true;
        i = (i + 1) & (s->cap - 1);
    }
    return false;
}

/* ---- the writer ------------------------------------------------------------- */

struct tx_log {
    uint64_t lsn_after; /* pg_current_wal_insert_lsn() after COMMIT: >= the commit's end
                         * (the write position may lag: synchronous_commit is off) */
    int nops;
    uint64_t labels[MAX_OPS];
};

struct chaos_writer {
    const char *db;
    struct tx_log *txs;
    atomic_int done;
    atomic_bool stop;
};

static void *writer_main(void *arg)
{
    struct chaos_writer *wr = arg;
    PGconn *c = wwt_pg(wr->db);
    unsigned seed = 12345;
    /* Live rows per table: id -> version (0: never inserted or deleted). */
    static uint32_t version[NTABLES + 1][MAX_TX * 2];
    uint32_t next_id[NTABLES + 1] = {0, 1, 1, 1};
    for (int t = 0; t < MAX_TX && !atomic_load(&wr->stop); t++) {
        struct tx_log *log = &wr->txs[t];
        log->nops = 1 + (int)(rand_r(&seed) % MAX_OPS);
        wwt_exec(c, "BEGIN");
        for (int k = 0; k < log->nops; k++) {
            int table = 1 + (int)(rand_r(&seed) % NTABLES);
            int what = (int)(rand_r(&seed) % 10);
            uint32_t id = next_id[table] > 1 ? 1 + rand_r(&seed) % (next_id[table] - 1) : 0;
            if (what < 5 || id == 0 || version[table][id] == 0) {
                id = next_id[table]++;
                version[table][id] = 1;
                wwt_exec(c, "INSERT INTO t%d VALUES (%u, 1)", table, id);
                log->labels[k] = label(table, id, 1);
            } else if (what < 8) {
                uint32_t v = ++version[table][id];
                wwt_exec(c, "UPDATE t%d SET v = %u WHERE id = %u", table, v, id);
                log->labels[k] = label(table, id, v);
            } else {
                version[table][id] = 0;
                wwt_exec(c, "DELETE FROM t%d WHERE id = %u", table, id);
                log->labels[k] = label(table, id, 0);
            }
        }
        wwt_exec(c, "COMMIT");
        log->lsn_after = wwt_lsn(c, "SELECT pg_current_wal_insert_lsn()");
        atomic_store(&wr->done, t + 1);
    }
    PQfinish(c);
    return NULL;
}

/* ---- reading the sink ----------------------------------------------------------- */

enum sink_kind { SINK_FILE, SINK_REDIS };

struct reader {
    pthread_mutex_t lock; /* the sampler and the main thread both read */
    enum sink_kind kind;
    const char *path;              /* file: the output file */
    long offset;                   /* file: bytes of complete lines consumed */
    struct rcli redis;             /* redis: a connection of the reader's own */
    char stream[NTABLES + 1][200]; /* redis: <prefix>:public.tN */
    char last_id[NTABLES + 1][48]; /* redis: the last entry read, "" at first */
    struct set seen;
    /* Each key's versions in order of first appearance (per-key order). */
    uint32_t *last_version[NTABLES + 1];
    bool order_broken;
    char order_detail[256];
    size_t duplicates; /* changes seen more than once (an error in Redis) */
    char duplicate_detail[256];
};

/* The number after `key` in line, or -1. */
static long long number_after(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* The label of one event, read by searching the fields (parsing every
 * event as JSON each 100 ms would be too slow for the sampling period; the
 * file's lines are all parsed once at the end). */
static uint64_t event_label(const char *line, size_t len)
{
    const char *op = strstr(line, ",\"op\":\"");
    const char *table = strstr(line, "\"table\":\"t");
    cr_assert(op && table, "unexpected event: %.*s", (int)len, line);
    int t = table[strlen("\"table\":\"t")] - '0';
    if (op[strlen(",\"op\":\"")] == 'd')
        return label(t, (uint64_t)number_after(line, "\"before\":{\"id\":"), 0);
    const char *after = strstr(line, "\"after\":{\"id\":");
    cr_assert(after, "no after: %.*s", (int)len, line);
    return label(t, (uint64_t)number_after(after, "\"after\":{\"id\":"),
                 (uint64_t)number_after(after, ",\"v\":"));
}

/* One event read from the sink, in the sink's order (lock held). */
static void consume(struct reader *r, const char *event, size_t len)
{
    uint64_t l = event_label(event, len);
    if (set_has(&r->seen, l)) {
        /* A duplicate after a restart: allowed in the file, not in Redis. */
        if (r->duplicates++ == 0)
            snprintf(r->duplicate_detail, sizeof r->duplicate_detail, "%.*s",
                     (int)(len < 200 ? len : 200), event);
        return;
    }
    set_add(&r->seen, l);
    /* First appearances of a key's changes must follow commit order:
     * versions grow, and a delete comes last. */
    int t = (int)(l >> 60);
    uint32_t id = (uint32_t)(l >> 20), v = (uint32_t)(l & 0xFFFFF);
    uint32_t *last = &r->last_version[t][id];
    bool ok = v == 0 ? *last != UINT32_MAX : (*last != UINT32_MAX && v == *last + 1);
    if (!ok && !r->order_broken) {
        r->order_broken = true;
        snprintf(r->order_detail, sizeof r->order_detail, "t%d id %u: version %u after %d", t,
                 id, v, *last == UINT32_MAX ? -1 : (int)*last);
    }
    *last = v == 0 ? UINT32_MAX : v;
}

/* File: the complete lines appended since the last call. */
static void read_file_locked(struct reader *r)
{
    FILE *f = fopen(r->path, "r");
    if (!f)
        return;
    fseek(f, r->offset, SEEK_SET);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n')
            break; /* a line being written: next time */
        r->offset += n;
        consume(r, line, (size_t)n - 1);
    }
    free(line);
    fclose(f);
}

/* Redis: the entries added to each table's stream since the last call. */
static void read_redis_locked(struct reader *r)
{
    for (int t = 1; t <= NTABLES; t++) {
        struct sentries page;
        read_stream_after(&r->redis, r->stream[t], r->last_id[t][0] ? r->last_id[t] : NULL,
                          &page);
        for (size_t i = 0; i < page.n; i++) {
            const struct sentry *e = &page.v[i];
            cr_assert(e->value, "entry %llu-%llu of %s has no value", (unsigned long long)e->ms,
                      (unsigned long long)e->seq, r->stream[t]);
            consume(r, e->value, strlen(e->value));
            snprintf(r->last_id[t], sizeof r->last_id[t], "%llu-%llu",
                     (unsigned long long)e->ms, (unsigned long long)e->seq);
        }
        free_stream(&page);
    }
}

static void read_new_locked(struct reader *r)
{
    if (r->kind == SINK_FILE)
        read_file_locked(r);
    else
        read_redis_locked(r);
}

/* Are all changes of the first `done` transactions in the sink? */
static bool all_present(struct reader *r, const struct chaos_writer *wr, int done)
{
    pthread_mutex_lock(&r->lock);
    read_new_locked(r);
    bool all = true;
    for (int t = 0; t < done && all; t++)
        for (int k = 0; k < wr->txs[t].nops && all; k++)
            all = set_has(&r->seen, wr->txs[t].labels[k]);
    pthread_mutex_unlock(&r->lock);
    return all;
}

/* ---- the sampler: confirmed_flush_lsn never ahead of the sink ---------------- */

struct sampler {
    const char *db;
    const char *slot;
    struct chaos_writer *wr;
    struct reader *rd;
    atomic_bool stop;
    int verified; /* transactions checked confirmed-and-present */
    int violations;
    char detail[256];
    int samples;
    uint64_t longest_gap_ms; /* between two samples: the sampling is as fine as this */
};

/* Every transaction certainly confirmed (its lsn_after <= confirmed) must
 * be entirely in the sink, read after the confirmed position was. */
static void sample_once(struct sampler *s, PGconn *c)
{
    uint64_t confirmed = wwt_lsn(c, "SELECT confirmed_flush_lsn FROM pg_replication_slots "
                                    "WHERE slot_name = '%s'", s->slot);
    pthread_mutex_lock(&s->rd->lock);
    read_new_locked(s->rd);
    int done = atomic_load(&s->wr->done);
    while (s->verified < done && s->wr->txs[s->verified].lsn_after <= confirmed) {
        const struct tx_log *t = &s->wr->txs[s->verified];
        for (int k = 0; k < t->nops; k++) {
            if (!set_has(&s->rd->seen, t->labels[k]) && s->violations++ == 0)
                snprintf(s->detail, sizeof s->detail,
                         "transaction %d is confirmed (lsn_after %llX <= %llX) but change %d "
                         "(t%d id %u version %u) is not in the sink (%zu changes read)",
                         s->verified, (unsigned long long)t->lsn_after,
                         (unsigned long long)confirmed, k, (int)(t->labels[k] >> 60),
                         (unsigned)(t->labels[k] >> 20), (unsigned)(t->labels[k] & 0xFFFFF),
                         s->rd->seen.n);
        }
        s->verified++;
    }
    pthread_mutex_unlock(&s->rd->lock);
    s->samples++;
}

static void *sampler_main(void *arg)
{
    struct sampler *s = arg;
    PGconn *c = wwt_pg(s->db);
    uint64_t last = wwt_now_ms();
    while (!atomic_load(&s->stop)) {
        sample_once(s, c);
        uint64_t now = wwt_now_ms();
        if (s->samples > 1 && now - last > s->longest_gap_ms)
            s->longest_gap_ms = now - last;
        last = now;
        wwt_pause_ms(100); /* the sampling period */
    }
    PQfinish(c);
    return NULL;
}

/* The chaos run against one sink. */
static void chaos(enum sink_kind kind)
{
    int kills = getenv("WW_CHAOS_KILLS") ? atoi(getenv("WW_CHAOS_KILLS")) : 5;
    char *db = wwt_new_db(kind == SINK_FILE ? "chaos" : "chaos_redis");
    PGconn *c = wwt_pg(db);
    for (int t = 1; t <= NTABLES; t++)
        wwt_exec(c, "CREATE TABLE t%d (id int PRIMARY KEY, v int)", t);
    struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    snprintf(slot, sizeof slot, "%s", db);

    struct reader rd = {.lock = PTHREAD_MUTEX_INITIALIZER, .kind = kind, .path = w.out};
    for (int t = 1; t <= NTABLES; t++)
        rd.last_version[t] = calloc(MAX_TX * 2, sizeof(uint32_t));
    char prefix_env[160], *redis_section = NULL;
    const char *env[] = {"WALWIRE_SINK_TYPE=redis", prefix_env, NULL};
    if (kind == SINK_REDIS) {
        int port = atoi(wwt_env("WW_TEST_REDIS_PORT"));
        cr_assert(rc_open(&rd.redis, port), "cannot connect to the test redis-server");
        snprintf(prefix_env, sizeof prefix_env, "WALWIRE_SINK_TOPIC_PREFIX=%s", db);
        for (int t = 1; t <= NTABLES; t++) {
            snprintf(rd.stream[t], sizeof rd.stream[t], "%s:public.t%d", db, t);
        }
        cr_assert(asprintf(&redis_section, "\n[redis]\nurl = redis://127.0.0.1:%d/0\nmaxlen =\n",
                           port) >= 0);
    }
    wwt_write_config(&w, db, slot, redis_section ? redis_section : "");
    const char *const *start_env = kind == SINK_REDIS ? env : NULL;
    wwt_start(&w, "run", start_env);
    wwt_wait_streaming(&w, 30000);

    cr_log_info("walwire's files are in %s", w.dir);
    struct chaos_writer wr = {.db = db, .txs = calloc(MAX_TX, sizeof(struct tx_log))};
    struct sampler sm = {.db = db, .slot = slot, .wr = &wr, .rd = &rd};
    pthread_t wt, st;
    pthread_create(&wt, NULL, writer_main, &wr);
    pthread_create(&st, NULL, sampler_main, &sm);

    unsigned seed = (unsigned)getpid();
    for (int k = 0; k < kills; k++) {
        /* A random moment: the chaos schedule, not a wait for a result. */
        wwt_pause_ms(200 + (int)(rand_r(&seed) % 1300));
        wwt_kill(&w);
        cr_assert(WWT_POLL_UNTIL(20000, wwt_int(c, "SELECT count(*) FROM pg_replication_slots "
                                                   "WHERE slot_name = '%s' AND active",
                                                slot) == 0));
        wwt_start(&w, "run", start_env);
    }
    atomic_store(&wr.stop, true);
    pthread_join(wt, NULL);
    int done = atomic_load(&wr.done);

    /* Everything committed arrives in the end. */
    bool all = WWT_POLL_UNTIL(120000, all_present(&rd, &wr, done));
    atomic_store(&sm.stop, true);
    pthread_join(st, NULL);
    cr_assert_eq(wwt_stop(&w), 0);
    cr_log_info("%s: %d kills, %d transactions, %zu distinct changes, %zu duplicates, %d samples "
                "(longest gap %llu ms), %d transactions verified confirmed-and-present",
                kind == SINK_FILE ? "file" : "redis", kills, done, rd.seen.n, rd.duplicates,
                sm.samples, (unsigned long long)sm.longest_gap_ms, sm.verified);
    cr_assert(all, "committed changes are missing from the sink");
    cr_assert_eq(sm.violations, 0, "the position invariant broke %d time(s): %s", sm.violations,
                 sm.detail);
    cr_assert(!rd.order_broken, "per-key order broken: %s", rd.order_detail);
    cr_assert_gt(sm.verified, done / 2, "too few samples verified the invariant");
    if (kind == SINK_REDIS) {
        cr_assert_eq(rd.duplicates, 0, "%zu changes are in Redis twice, e.g. %s", rd.duplicates,
                     rd.duplicate_detail);
        rc_close(&rd.redis);
    } else {
        /* Every line of the file is one valid JSON value. */
        size_t nev;
        struct mj **events = wwt_read_events(w.out, &nev); /* asserts every line */
        wwt_free_events(events, nev);
    }
    char *log = wwt_read_file(w.log, NULL);
    cr_assert(!strstr(log, "ERROR"), "an error was logged:\n%s", log);
    free(log);
    for (int t = 1; t <= NTABLES; t++)
        free(rd.last_version[t]);
    free(rd.seen.slots);
    free(wr.txs);
    free(redis_section);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

Test(chaos, sigkill_file_sink, .timeout = 1800)
{
    chaos(SINK_FILE);
}

Test(chaos, sigkill_redis_sink_exactly_once, .timeout = 1800)
{
    chaos(SINK_REDIS);
}
