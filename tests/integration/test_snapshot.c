/*
 * The initial snapshot, end to end: a table of 1,000,000 rows and two
 * smaller ones, a writer changing them during the whole snapshot, and the
 * events replayed to check that they reproduce the tables exactly.
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

#define BIG_ROWS 1000000
#define MID_ROWS 20000
#define NOKEY_ROWS 500
#define MAX_ID 1200000

static void create_tables(PGconn *c)
{
    wwt_exec(c, "CREATE TABLE big (id int PRIMARY KEY, v text, n int)");
    wwt_exec(c, "CREATE TABLE mid (id int PRIMARY KEY, v text)");
    wwt_exec(c, "CREATE TABLE nokey (a int, b text)");
    wwt_exec(c, "INSERT INTO big SELECT g, md5(g::text), g FROM generate_series(1, %d) g",
             BIG_ROWS);
    wwt_exec(c, "INSERT INTO mid SELECT g, 'mid ' || g FROM generate_series(1, %d) g", MID_ROWS);
    wwt_exec(c, "INSERT INTO nokey SELECT g, 'k' || g FROM generate_series(1, %d) g",
             NOKEY_ROWS);
    wwt_exec(c, "ANALYZE");
}

/* ---- a writer that keeps changing every table ---------------------------- */

struct writer {
    const char *db;
    atomic_bool stop;
    atomic_int txs;
};

static void *writer_main(void *arg)
{
    struct writer *wr = arg;
    PGconn *c = wwt_pg(wr->db);
    unsigned seed = (unsigned)getpid();
    int next_big = BIG_ROWS + 1, next_mid = MID_ROWS + 1, next_nokey = NOKEY_ROWS + 1;
    while (!atomic_load(&wr->stop)) {
        int a = 1 + (int)(rand_r(&seed) % BIG_ROWS), b = 1 + (int)(rand_r(&seed) % MID_ROWS);
        wwt_exec(c, "BEGIN");
        wwt_exec(c, "INSERT INTO big VALUES (%d, 'new', 0)", next_big++);
        wwt_exec(c, "UPDATE big SET v = md5(random()::text), n = n + 1 WHERE id = %d", a);
        wwt_exec(c, "DELETE FROM big WHERE id = %d", a + 7 > BIG_ROWS ? 1 : a + 7);
        wwt_exec(c, "INSERT INTO mid VALUES (%d, 'new mid')", next_mid++);
        wwt_exec(c, "UPDATE mid SET v = v || '+' WHERE id = %d", b);
        if (rand_r(&seed) % 4 == 0)
            wwt_exec(c, "DELETE FROM mid WHERE id = %d", b);
        wwt_exec(c, "INSERT INTO nokey VALUES (%d, 'k%d')", next_nokey, next_nokey);
        next_nokey++;
        wwt_exec(c, "COMMIT");
        atomic_fetch_add(&wr->txs, 1);
    }
    PQfinish(c);
    return NULL;
}

/* ---- replaying the events ------------------------------------------------- */

struct replay {
    char **big; /* by id: "v|n", NULL when absent */
    char **mid; /* by id: "v" */
    char **nokey; /* "a|b" rows, a multiset */
    size_t nnokey, nokey_cap;
    long long snapshot_lsn; /* of the snapshot being replayed */
    size_t snapshots;       /* distinct snapshots seen */
    size_t reads, lasts, streamed;
};

static void replay_reset(struct replay *rp)
{
    for (int i = 0; i <= MAX_ID; i++) {
        free(rp->big[i]);
        free(rp->mid[i]);
        rp->big[i] = rp->mid[i] = NULL;
    }
    for (size_t i = 0; i < rp->nnokey; i++)
        free(rp->nokey[i]);
    rp->nnokey = 0;
}

static char *row_string(const struct mj *row, const char *k1, const char *k2)
{
    const struct mj *a = mj_get(row, k1), *b = k2 ? mj_get(row, k2) : NULL;
    char *s;
    cr_assert(asprintf(&s, "%s|%s", a ? (a->str ? a->str : "null") : "?",
                       k2 ? (b ? (b->str ? b->str : "null") : "?") : "") > 0);
    return s;
}

/* Apply one event. A snapshot row of a new snapshot (another source.lsn)
 * starts over: a new snapshot supersedes what came before it. */
static void replay_event(struct replay *rp, const struct mj *ev)
{
    const struct mj *value = mj_get(ev, "value");
    const char *op = mj_str(mj_get(value, "op"));
    const char *table = mj_str(mj_path(value, "source.table"));
    cr_assert(op && table, "event without op or table");
    const struct mj *row = mj_get(value, strcmp(op, "d") == 0 ? "before" : "after");
    if (strcmp(op, "r") == 0) {
        long long lsn = mj_int(mj_path(value, "source.lsn"));
        if (lsn != rp->snapshot_lsn) {
            replay_reset(rp);
            rp->snapshot_lsn = lsn;
            rp->snapshots++;
        }
        rp->reads++;
        if (strcmp(mj_str(mj_path(value, "source.snapshot")), "last") == 0)
            rp->lasts++;
    } else {
        rp->streamed++;
        cr_assert_str_eq(mj_str(mj_path(value, "source.snapshot")), "false");
    }
    if (strcmp(table, "nokey") == 0) {
        cr_assert(mj_is_null(mj_get(ev, "key")), "a table without a key got a key");
        cr_assert(strcmp(op, "r") == 0 || strcmp(op, "c") == 0, "op %s on nokey", op);
        if (rp->nnokey == rp->nokey_cap) {
            rp->nokey_cap = rp->nokey_cap ? rp->nokey_cap * 2 : 1024;
            rp->nokey = realloc(rp->nokey, rp->nokey_cap * sizeof *rp->nokey);
        }
        rp->nokey[rp->nnokey++] = row_string(row, "a", "b");
        return;
    }
    long long id = mj_int(mj_get(row, "id"));
    cr_assert(id >= 1 && id <= MAX_ID, "id %lld out of range", id);
    cr_assert_eq(mj_int(mj_get(mj_get(ev, "key"), "id")), id, "key does not match the row");
    char **slot = strcmp(table, "big") == 0 ? &rp->big[id] : &rp->mid[id];
    free(*slot);
    *slot = NULL;
    if (strcmp(op, "d") != 0)
        *slot = strcmp(table, "big") == 0 ? row_string(row, "v", "n") : row_string(row, "v", NULL);
}

static void replay_file(struct replay *rp, const char *path)
{
    rp->big = calloc(MAX_ID + 1, sizeof *rp->big);
    rp->mid = calloc(MAX_ID + 1, sizeof *rp->mid);
    size_t len;
    char *text = wwt_read_file(path, &len);
    char *line = text;
    while (line < text + len) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        cr_assert(nl, "the output ends in an incomplete line");
        const char *err = NULL;
        struct mj *ev = mj_parse(line, (size_t)(nl - line), &err);
        cr_assert(ev, "invalid JSON line (%s): %.200s", err, line);
        replay_event(rp, ev);
        mj_free(ev);
        line = nl + 1;
    }
    free(text);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The replayed state must equal the tables, row for row. */
static void compare_with_tables(struct replay *rp, PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT id, v, n FROM big ORDER BY id");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    size_t in_db = (size_t)PQntuples(r), replayed = 0;
    for (int i = 0; i <= MAX_ID; i++)
        replayed += rp->big[i] != NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        int id = atoi(PQgetvalue(r, i, 0));
        char want[128];
        snprintf(want, sizeof want, "%s|%s", PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
        cr_assert(rp->big[id], "big row %d is missing from the events", id);
        cr_assert_str_eq(rp->big[id], want, "big row %d differs", id);
    }
    cr_assert_eq(replayed, in_db, "big: %zu rows replayed, %zu in the table", replayed, in_db);
    PQclear(r);

    r = PQexec(c, "SELECT id, v FROM mid ORDER BY id");
    in_db = (size_t)PQntuples(r);
    replayed = 0;
    for (int i = 0; i <= MAX_ID; i++)
        replayed += rp->mid[i] != NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        int id = atoi(PQgetvalue(r, i, 0));
        char want[256];
        snprintf(want, sizeof want, "%s|", PQgetvalue(r, i, 1));
        cr_assert(rp->mid[id], "mid row %d is missing from the events", id);
        cr_assert_str_eq(rp->mid[id], want, "mid row %d differs", id);
    }
    cr_assert_eq(replayed, in_db, "mid: %zu rows replayed, %zu in the table", replayed, in_db);
    PQclear(r);

    r = PQexec(c, "SELECT a, b FROM nokey");
    cr_assert_eq((size_t)PQntuples(r), rp->nnokey, "nokey: %zu rows replayed, %d in the table",
                 rp->nnokey, PQntuples(r));
    char **want = calloc((size_t)PQntuples(r) + 1, sizeof *want);
    for (int i = 0; i < PQntuples(r); i++)
        cr_assert(asprintf(&want[i], "%s|%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)) > 0);
    qsort(want, (size_t)PQntuples(r), sizeof *want, cmp_str);
    qsort(rp->nokey, rp->nnokey, sizeof *rp->nokey, cmp_str);
    for (size_t i = 0; i < rp->nnokey; i++) {
        cr_assert_str_eq(rp->nokey[i], want[i], "nokey rows differ");
        free(want[i]);
    }
    free(want);
    PQclear(r);
}

static void replay_free(struct replay *rp)
{
    replay_reset(rp);
    free(rp->big);
    free(rp->mid);
    free(rp->nokey);
}

/* ---- the scenario ----------------------------------------------------------- */

static size_t count_in_file(const char *path, const char *needle)
{
    char *s = wwt_read_file(path, NULL);
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    free(s);
    return n;
}

/* Stop the writer, commit a marker row, and wait until it is in the file:
 * then every change before it is there too. */
static void stop_writer_and_drain(struct writer *wr, pthread_t th, PGconn *c,
                                  struct wwt_walwire *w)
{
    atomic_store(&wr->stop, true);
    pthread_join(th, NULL);
    wwt_exec(c, "INSERT INTO mid VALUES (%d, 'marker')", MAX_ID);
    char needle[64];
    snprintf(needle, sizeof needle, "\"after\":{\"id\":%d", MAX_ID);
    bool arrived = WWT_POLL_UNTIL(180000, wwt_file_contains(w->out, needle));
    cr_assert(arrived, "the marker row never arrived");
    cr_assert_eq(wwt_stop(w), 0, "walwire did not stop cleanly");
}

static void run_scenario(bool kill_during_snapshot)
{
    char *db = wwt_new_db(kill_during_snapshot ? "snapkill" : "snap");
    PGconn *c = wwt_pg(db);
    create_tables(c);
    struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    snprintf(slot, sizeof slot, "%s_%d", kill_during_snapshot ? "snapkill" : "snap",
             (int)getpid());
    wwt_write_config(&w, db, slot, "");

    struct writer wr = {.db = db};
    pthread_t th;
    pthread_create(&th, NULL, writer_main, &wr);
    /* The writer is running before the snapshot begins. */
    cr_assert(WWT_POLL_UNTIL(30000, atomic_load(&wr.txs) >= 20));
    wwt_start(&w, "run", NULL);

    if (kill_during_snapshot) {
        /* Kill once a part of the snapshot is in the file. */
        bool started = WWT_POLL_UNTIL(120000, wwt_file_size(w.out) > 20u << 20);
        cr_assert(started, "the snapshot did not start");
        cr_assert(!wwt_file_contains(w.log, "snapshot: complete"),
                  "the snapshot completed before the kill: the test needs a bigger table");
        wwt_kill(&w);
        char statepath[256];
        snprintf(statepath, sizeof statepath, "%s/state", w.dir);
        cr_assert(wwt_file_contains(statepath, "snapshot=started"),
                  "the state file does not record the interrupted snapshot");
        cr_assert(WWT_POLL_UNTIL(20000, wwt_int(c, "SELECT count(*) FROM pg_replication_slots "
                                                   "WHERE slot_name = '%s' AND active", slot) == 0));
        wwt_start(&w, "run", NULL);
    }
    bool done = WWT_POLL_UNTIL(300000, wwt_file_contains(w.log, "snapshot: complete") ||
                                           wwt_exited(&w, NULL));
    char *log = wwt_read_file(w.log, NULL);
    cr_assert(done && w.pid, "the snapshot did not complete:\n%s", log);
    free(log);
    if (kill_during_snapshot)
        cr_assert(wwt_file_contains(w.log, "did not complete (interrupted)"),
                  "the restart did not say it takes the snapshot again");
    /* Let the writer go on while walwire streams. */
    int txs = atomic_load(&wr.txs);
    cr_assert(WWT_POLL_UNTIL(60000, atomic_load(&wr.txs) >= txs + 50));
    stop_writer_and_drain(&wr, th, c, &w);

    struct replay rp = {0};
    replay_file(&rp, w.out);
    cr_log_info("replayed %zu snapshot rows (%zu snapshot(s)) and %zu streamed changes",
                rp.reads, rp.snapshots, rp.streamed);
    cr_assert_eq(rp.snapshots, kill_during_snapshot ? 2 : 1);
    cr_assert_geq(rp.lasts, 1, "no row carried source.snapshot = \"last\"");
    cr_assert_geq(rp.reads, (size_t)BIG_ROWS, "too few snapshot rows");
    cr_assert_gt(rp.streamed, 0, "no change was streamed after the snapshot");
    compare_with_tables(&rp, c);
    replay_free(&rp);
    cr_assert_eq(count_in_file(w.out, "\"snapshot\":\"last\""), rp.lasts);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* Issue 3, what must hold 1. */
Test(snapshot, concurrent_writer_replays_to_exact_contents, .timeout = 900)
{
    run_scenario(false);
}

/* Issue 3, what must hold 2. */
Test(snapshot, sigkill_during_snapshot_still_exact, .timeout = 900)
{
    run_scenario(true);
}

/* snapshot = initial_only: the rows, then exit 0, and no slot left behind. */
Test(snapshot, initial_only_exits_without_a_slot, .timeout = 300)
{
    char *db = wwt_new_db("snaponly");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    wwt_exec(c, "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 5000) g");
    struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    snprintf(slot, sizeof slot, "snaponly_%d", (int)getpid());
    wwt_write_config(&w, db, slot, "");
    const char *env[] = {"WALWIRE_SOURCE_SNAPSHOT=initial_only", NULL};
    wwt_start(&w, "run", env);
    int code = wwt_wait(&w, 120000);
    char *log = wwt_read_file(w.log, NULL);
    cr_assert_eq(code, 0, "%s", log);
    free(log);
    cr_assert_eq(wwt_count_lines(w.out), 5000);
    cr_assert_eq(count_in_file(w.out, "\"op\":\"r\""), 5000);
    cr_assert_eq(count_in_file(w.out, "\"snapshot\":\"last\""), 1);
    cr_assert_eq(wwt_int(c, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'",
                         slot), 0, "initial_only left a slot behind");
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* A completed snapshot is not taken again; a changed configuration is a
 * clear error naming what changed; snapshot = always takes it again. */
Test(snapshot, state_file_remembers_and_guards, .timeout = 300)
{
    char *db = wwt_new_db("snapstate");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE a (id int PRIMARY KEY)");
    wwt_exec(c, "CREATE TABLE b (id int PRIMARY KEY)");
    wwt_exec(c, "INSERT INTO a SELECT generate_series(1, 100)");
    wwt_exec(c, "INSERT INTO b SELECT generate_series(1, 10)");
    struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    snprintf(slot, sizeof slot, "snapstate_%d", (int)getpid());
    wwt_write_config(&w, db, slot, "");
    wwt_start(&w, "run", NULL);
    cr_assert(WWT_POLL_UNTIL(60000, wwt_file_contains(w.log, "streaming started")));
    cr_assert_eq(wwt_stop(&w), 0);
    cr_assert_eq(wwt_count_lines(w.out), 110);

    /* Restart: no second snapshot. */
    wwt_exec(c, "INSERT INTO a VALUES (101)");
    wwt_start(&w, "run", NULL);
    cr_assert(WWT_POLL_UNTIL(60000, wwt_count_lines(w.out) >= 111));
    cr_assert_eq(wwt_stop(&w), 0);
    cr_assert_eq(wwt_count_lines(w.out), 111, "the snapshot was taken twice");

    /* Another table list: refused, naming the change. */
    const char *env_tables[] = {"WALWIRE_SOURCE_TABLES=public.a", NULL};
    wwt_start(&w, "run", env_tables);
    int code = wwt_wait(&w, 60000);
    char *log = wwt_read_file(w.log, NULL);
    cr_assert_eq(code, 2, "%s", log);
    cr_assert(strstr(log, "tables was * , is now public.a") || strstr(log, "tables was *, is now "
                                                                         "public.a"),
              "%s", log);
    cr_assert(strstr(log, "delete"), "the message does not say how to reset:\n%s", log);
    free(log);

    /* snapshot = always: every start takes it again. */
    const char *env_always[] = {"WALWIRE_SOURCE_SNAPSHOT=always", NULL};
    wwt_start(&w, "run", env_always);
    cr_assert(WWT_POLL_UNTIL(60000, wwt_count_lines(w.out) >= 111 + 111));
    cr_assert_eq(wwt_stop(&w), 0);
    cr_assert_eq(count_in_file(w.out, "\"op\":\"r\""), 110 + 111);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}
