/*
 * The Redis Streams sink, end to end (issue 5): a real PostgreSQL, walwire
 * as a process with [sink] type = redis, and a real redis-server, read back
 * with XRANGE. Tests that stop or pause the server start a redis-server of
 * their own; the others use the shared one of tests/services.sh, each with
 * its own stream names ([sink] topic_prefix = the test's database name).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "minijson.h"
#include "redis_client.h"

#define SECRET "Sup3r-secret-pw"

static int shared_port(void)
{
    return atoi(wwt_env("WW_TEST_REDIS_PORT"));
}

static struct rcli shared_redis(void)
{
    struct rcli c;
    cr_assert(rc_open(&c, shared_port()), "cannot connect to the test redis-server");
    return c;
}

/* What a failed assertion would leave running (Criterion leaves the test
 * function at once): killed after every test by the suite's fini. */
static struct wwt_walwire *running_walwire;
static struct priv_redis *running_server;

static void kill_leftovers(void)
{
    if (running_walwire && running_walwire->pid)
        wwt_kill(running_walwire);
    if (running_server)
        priv_destroy(running_server);
    running_walwire = NULL;
    running_server = NULL;
}

TestSuite(redis, .fini = kill_leftovers);

/* A redis-server of the test's own; srv must be static. */
static void start_private(struct priv_redis *srv)
{
    running_server = srv;
    priv_start(srv);
}

/* ---- walwire with the redis sink ----------------------------------------------- */

struct run {
    struct wwt_walwire w;
    char *db;
    char slot[64];
    char env_prefix[160];
    char stream[200]; /* <prefix>:public.t */
};

/* A database with table t (id int primary key, v text) and a slot name.
 * r must be static (see kill_leftovers). */
static void run_init(struct run *r, const char *tag)
{
    memset(r, 0, sizeof *r);
    r->db = wwt_new_db(tag);
    PGconn *c = wwt_pg(r->db);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    PQfinish(c);
    snprintf(r->slot, sizeof r->slot, "%s", r->db);
    snprintf(r->env_prefix, sizeof r->env_prefix, "WALWIRE_SINK_TOPIC_PREFIX=%s", r->db);
    snprintf(r->stream, sizeof r->stream, "%s:public.t", r->db);
    wwt_walwire_init(&r->w);
    running_walwire = &r->w;
}

/* Write the configuration with a [redis] section (printf-style) and start
 * `walwire run`; the sink type and prefix come from the environment. */
static void run_start(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void run_start(struct run *r, const char *fmt, ...)
{
    char *section;
    va_list ap;
    va_start(ap, fmt);
    cr_assert(vasprintf(&section, fmt, ap) >= 0);
    va_end(ap);
    char *extra;
    cr_assert(asprintf(&extra, "\n[redis]\n%s\n", section) >= 0);
    wwt_write_config(&r->w, r->db, r->slot, extra);
    free(extra);
    free(section);
    const char *env[] = {"WALWIRE_SINK_TYPE=redis", r->env_prefix, NULL};
    wwt_start(&r->w, "run", env);
}

static void wait_streaming(struct run *r)
{
    bool up = WWT_POLL_UNTIL(60000, wwt_file_contains(r->w.log, "streaming started") ||
                                        wwt_exited(&r->w, NULL));
    char *log = wwt_read_file(r->w.log, NULL);
    cr_assert(up && r->w.pid, "walwire did not start streaming; its log:\n%s", log);
    free(log);
}

static int wait_exit(struct run *r, int timeout_ms)
{
    int code = wwt_wait(&r->w, timeout_ms);
    return code;
}

static char *log_of(struct run *r)
{
    return wwt_read_file(r->w.log, NULL);
}

static void run_free(struct run *r)
{
    if (r->w.pid)
        wwt_kill(&r->w);
    wwt_drop_db(r->db);
    free(r->db);
}

/* ---- 1. exactly once, in commit order ------------------------------------------------ */

/* Issue 5, what must hold 1: 100,000 rows in 1,000 transactions (50 rows
 * into customers, then 50 into orders, each) arrive in the two per-table
 * streams exactly once, in commit order, with LSN-derived IDs
 * "<commit LSN>-<index in the transaction>". A logical message goes to the
 * message stream. */
Test(redis, exactly_once_in_commit_order, .timeout = 600)
{
    static struct run r; /* static: kill_leftovers may need it */
    run_init(&r, "rs_order");
    PGconn *c = wwt_pg(r.db);
    wwt_exec(c, "CREATE TABLE customers (id int PRIMARY KEY, name text);"
                "CREATE TABLE orders (id int PRIMARY KEY, customer int, amount numeric(10,2))");
    run_start(&r, "url = redis://127.0.0.1:%d/0\nmaxlen =", shared_port());
    wait_streaming(&r);

    for (int t = 0; t < 1000; t++) {
        int a = t * 50 + 1, b = a + 49;
        wwt_exec(c,
                 "INSERT INTO customers SELECT g, 'customer ' || g FROM "
                 "generate_series(%d, %d) g; INSERT INTO orders SELECT g, g, g * 1.5 FROM "
                 "generate_series(%d, %d) g",
                 a, b, a, b);
    }
    wwt_exec(c, "SELECT pg_logical_emit_message(true, 'audit', 'all done')");
    uint64_t end = wwt_lsn(c, "SELECT pg_current_wal_lsn()");

    char cust[200], ord[200], msg[200];
    snprintf(cust, sizeof cust, "%s:public.customers", r.db);
    snprintf(ord, sizeof ord, "%s:public.orders", r.db);
    snprintf(msg, sizeof msg, "%s:message", r.db);
    struct rcli rc = shared_redis();
    bool all = WWT_POLL_UNTIL(300000, rc_int(&rc, "XLEN", cust, NULL) == 50000 &&
                                          rc_int(&rc, "XLEN", ord, NULL) == 50000 &&
                                          rc_int(&rc, "XLEN", msg, NULL) == 1);
    cr_assert(all, "not everything arrived: %lld customers, %lld orders, %lld messages",
              rc_int(&rc, "XLEN", cust, NULL), rc_int(&rc, "XLEN", ord, NULL),
              rc_int(&rc, "XLEN", msg, NULL));
    cr_assert(WWT_POLL_UNTIL(30000, confirmed(c, r.slot) >= end),
              "the slot was not confirmed past the last transaction");
    cr_assert_eq(wwt_stop(&r.w), 0);

    struct sentries sc, so, sm;
    read_stream(&rc, cust, &sc);
    read_stream(&rc, ord, &so);
    read_stream(&rc, msg, &sm);
    for (size_t i = 0; i < 50000; i++) {
        const struct sentry *ec = &sc.v[i], *eo = &so.v[i];
        long long id = (long long)i + 1;
        /* Exactly once and in commit order: entry i is row i + 1. */
        cr_assert_eq(after_id(ec->value), id, "customers entry %zu", i);
        cr_assert_eq(after_id(eo->value), id, "orders entry %zu", i);
        cr_assert_str_eq(ec->op, "c");
        cr_assert_eq(ec->nfields, 3, "fields are op, key, value");
        char key[32];
        snprintf(key, sizeof key, "{\"id\":%lld}", id);
        cr_assert_str_eq(ec->key, key);
        cr_assert_str_eq(eo->key, key);
        /* One transaction, one commit LSN: seq 0..49 in customers, 50..99
         * in orders, as written. */
        cr_assert_eq(ec->ms, eo->ms, "entry %zu: the two tables' IDs differ in LSN", i);
        cr_assert_eq(ec->seq, i % 50);
        cr_assert_eq(eo->seq, 50 + i % 50);
        if (i % 50 == 0 && i > 0)
            cr_assert_gt(ec->ms, sc.v[i - 1].ms, "transaction %zu: commit LSN not increasing",
                         i / 50);
        else if (i > 0)
            cr_assert_eq(ec->ms, sc.v[i - 1].ms);
        if (i % 5000 == 0) { /* the envelope, in full, now and then */
            struct mj *v = mj_parse(ec->value, strlen(ec->value), NULL);
            cr_assert(v, "entry %zu: the value is not JSON", i);
            cr_assert_str_eq(mj_str(mj_path(v, "source.table")), "customers");
            cr_assert_str_eq(mj_str(mj_path(v, "source.db")), r.db);
            cr_assert_lt((uint64_t)mj_int(mj_path(v, "source.lsn")), ec->ms + 1,
                         "a change's LSN is before its commit LSN");
            mj_free(v);
        }
    }
    cr_assert_eq(sm.n, 1);
    cr_assert_str_eq(sm.v[0].op, "m");
    cr_assert_gt(sm.v[0].ms, sc.v[49999].ms, "the message's ID is not after the rows'");
    cr_assert(strstr(sm.v[0].value, "\"prefix\":\"audit\""));
    free_stream(&sc);
    free_stream(&so);
    free_stream(&sm);
    rc_close(&rc);
    PQfinish(c);
    run_free(&r);
}

/* ---- 2. SIGKILL ---------------------------------------------------------------------- */

/* Issue 5, what must hold 2: SIGKILL five times during the workload and
 * restart: still exactly once (replays are refused by Redis as not above
 * the stream's top), and the slot never confirmed what Redis did not hold. */
Test(redis, sigkill_five_times_exactly_once, .timeout = 900)
{
    static struct run r; /* static: kill_leftovers may need it */
    run_init(&r, "rs_kill");
    PGconn *admin = wwt_pg(r.db);
    struct rcli rc = shared_redis();
    const int port = shared_port();
    run_start(&r, "url = redis://127.0.0.1:%d/0\nmaxlen =", port);
    wait_streaming(&r);

    struct writer wr;
    writer_start(&wr, r.db, 1000, 100);
    srand((unsigned)getpid());
    for (int k = 0; k < 5; k++) {
        long long target = rc_int(&rc, "XLEN", r.stream, NULL) + 500 + rand() % 8000;
        WWT_POLL_UNTIL(120000, rc_int(&rc, "XLEN", r.stream, NULL) >= target ||
                                   atomic_load(&wr.done_tx) == wr.ntx);
        check_position(admin, r.slot, &wr, &rc, r.stream);
        wwt_kill(&r.w);
        check_position(admin, r.slot, &wr, &rc, r.stream);
        cr_assert(WWT_POLL_UNTIL(20000, wwt_int(admin,
                                                "SELECT count(*) FROM "
                                                "pg_replication_slots WHERE slot_name = "
                                                "'%s' AND active",
                                                r.slot) == 0));
        wwt_start(&r.w, "run", (const char *[]){"WALWIRE_SINK_TYPE=redis", r.env_prefix, NULL});
        wait_streaming(&r);
    }
    writer_join(&wr);
    bool all = WWT_POLL_UNTIL(300000, rc_int(&rc, "XLEN", r.stream, NULL) >= 100000);
    check_position(admin, r.slot, &wr, &rc, r.stream);
    cr_assert_eq(wwt_stop(&r.w), 0);
    cr_assert(all, "only %lld of 100000 rows arrived", rc_int(&rc, "XLEN", r.stream, NULL));
    check_exactly_once(&rc, r.stream, 100000, 100);
    free(wr.last_id);
    free(wr.lsn_after);
    rc_close(&rc);
    PQfinish(admin);
    run_free(&r);
}

/* ---- 3. the server goes away ------------------------------------------------------ */

/* Issue 5, what must hold 3: redis-server stopped for 10 s mid-stream (its
 * own server, with appendfsync always). walwire reconnects and resends;
 * everything arrives once, and the slot's confirmed position, sampled
 * throughout, is never ahead of the last entry Redis holds (during the
 * outage: of what its append-only file holds). */
Test(redis, server_down_10s, .timeout = 600)
{
    static struct priv_redis srv = {0};
    start_private(&srv);
    static struct run r; /* static: kill_leftovers may need it */
    run_init(&r, "rs_down");
    PGconn *admin = wwt_pg(r.db);
    run_start(&r,
              "url = redis://127.0.0.1:%d/0\nmaxlen =\nconnect_timeout = 1s\n"
              "reply_timeout = 2s\nmax_pending = 2000",
              srv.port);
    wait_streaming(&r);
    struct rcli rc;
    cr_assert(rc_open(&rc, srv.port));

    struct writer wr;
    writer_start(&wr, r.db, 300, 100);
    cr_assert(WWT_POLL_UNTIL(120000, rc_int(&rc, "XLEN", r.stream, NULL) >= 5000));
    check_position(admin, r.slot, &wr, &rc, r.stream);
    rc_close(&rc);

    priv_stop(&srv);
    long long held = aof_max_id(&srv);
    uint64_t t0 = wwt_now_ms();
    int samples = 0;
    while (wwt_now_ms() - t0 < 10000) { /* the outage lasts 10 s, deliberately */
        int bad = confirmed_ahead(&wr, confirmed(admin, r.slot), held);
        cr_assert_eq(bad, -1,
                     "during the outage the slot confirmed transaction %d, but Redis "
                     "holds ids up to %lld only",
                     bad, held);
        cr_assert(!wwt_exited(&r.w, NULL), "walwire exited during the outage");
        samples++;
        wwt_pause_ms(200);
    }
    cr_assert_gt(samples, 10);
    priv_start(&srv);
    cr_assert(rc_open(&rc, srv.port));
    writer_join(&wr);
    bool all = WWT_POLL_UNTIL(300000, ({
                                  check_position(admin, r.slot, &wr, &rc, r.stream);
                                  rc_int(&rc, "XLEN", r.stream, NULL) >= 30000;
                              }));
    cr_assert_eq(wwt_stop(&r.w), 0);
    char *log = log_of(&r);
    cr_assert(all, "not everything arrived after the outage; walwire's log:\n%s", log);
    cr_assert(strstr(log, "again after"), "no reconnect in the log:\n%s", log);
    free(log);
    check_exactly_once(&rc, r.stream, 30000, 100);
    free(wr.last_id);
    free(wr.lsn_after);
    rc_close(&rc);
    PQfinish(admin);
    run_free(&r);
    priv_destroy(&srv);
}

/* Issue 5, what must hold 3: CLIENT PAUSE for 5 s, twice: ALL (even the
 * handshake of a new connection waits) and WRITE (reads go on, so the
 * position is checked against the stream during the pause). reply_timeout
 * is 1 s: walwire gives up waiting, reconnects and resends while paused.
 * The server has a requirepass password (legacy AUTH) and walwire uses
 * db 2 (SELECT). */
Test(redis, client_pause_5s, .timeout = 600)
{
    static const char *const extra[] = {"--requirepass", SECRET, NULL};
    static struct priv_redis srv = {.extra = extra};
    start_private(&srv);
    static struct run r; /* static: kill_leftovers may need it */
    run_init(&r, "rs_pause");
    PGconn *admin = wwt_pg(r.db);
    run_start(&r,
              "url = redis://:%s@127.0.0.1:%d/2\nmaxlen =\nconnect_timeout = 1s\n"
              "reply_timeout = 1s\nmax_pending = 1000",
              SECRET, srv.port);
    wait_streaming(&r);
    struct rcli rc;
    cr_assert(rc_open(&rc, srv.port));
    rv_free(rc_ok(&rc, "AUTH", SECRET, NULL));
    rv_free(rc_ok(&rc, "SELECT", "2", NULL));

    struct writer wr;
    writer_start(&wr, r.db, 300, 100);
    cr_assert(WWT_POLL_UNTIL(120000, rc_int(&rc, "XLEN", r.stream, NULL) >= 3000));
    rv_free(rc_ok(&rc, "CLIENT", "PAUSE", "5000", "ALL", NULL));
    /* Reads wait too: check after the pause. */
    uint64_t conf_paused = confirmed(admin, r.slot);
    check_position(admin, r.slot, &wr, &rc, r.stream);
    cr_assert_eq(confirmed_ahead(&wr, conf_paused, stream_top_id(&rc, r.stream)), -1);

    cr_assert(WWT_POLL_UNTIL(120000, rc_int(&rc, "XLEN", r.stream, NULL) >= 12000));
    rv_free(rc_ok(&rc, "CLIENT", "PAUSE", "5000", "WRITE", NULL));
    uint64_t t0 = wwt_now_ms();
    long long len_paused = rc_int(&rc, "XLEN", r.stream, NULL);
    while (wwt_now_ms() - t0 < 4500) { /* the pause lasts 5 s, deliberately */
        check_position(admin, r.slot, &wr, &rc, r.stream);
        wwt_pause_ms(100);
    }
    cr_assert_eq(rc_int(&rc, "XLEN", r.stream, NULL), len_paused,
                 "writes went on during "
                 "CLIENT PAUSE WRITE");
    writer_join(&wr);
    bool all = WWT_POLL_UNTIL(300000, ({
                                  check_position(admin, r.slot, &wr, &rc, r.stream);
                                  rc_int(&rc, "XLEN", r.stream, NULL) >= 30000;
                              }));
    cr_assert_eq(wwt_stop(&r.w), 0);
    char *log = log_of(&r);
    cr_assert(all, "not everything arrived after the pauses; walwire's log:\n%s", log);
    cr_assert(strstr(log, "no reply from Redis"), "reply_timeout never fired:\n%s", log);
    cr_assert(!strstr(log, SECRET), "the password appears in the log");
    free(log);
    check_exactly_once(&rc, r.stream, 30000, 100);
    free(wr.last_id);
    free(wr.lsn_after);
    rc_close(&rc);
    PQfinish(admin);
    run_free(&r);
    priv_destroy(&srv);
}

/* ---- errors retrying cannot fix ------------------------------------------------------ */

/* Insert n rows in one transaction; returns the WAL position just before
 * its COMMIT (its commit record comes after). */
static uint64_t insert_tx(PGconn *c, int first, int n)
{
    wwt_exec(c, "BEGIN");
    wwt_exec(c, "INSERT INTO t SELECT g, 'row ' || g FROM generate_series(%d, %d) g", first,
             first + n - 1);
    uint64_t before = wwt_lsn(c, "SELECT pg_current_wal_insert_lsn()");
    wwt_exec(c, "COMMIT");
    return before;
}

/* The stream key holds a string: walwire stops with exit code 1 and a line
 * naming the stream and WRONGTYPE; the slot stays before the transaction,
 * so once the key is fixed the same rows arrive. */
Test(redis, wrongtype_stops_without_moving_the_slot, .timeout = 300)
{
    static struct run r; /* static: kill_leftovers may need it */
    run_init(&r, "rs_wrongtype");
    struct rcli rc = shared_redis();
    rv_free(rc_ok(&rc, "SET", r.stream, "not a stream", NULL));
    PGconn *c = wwt_pg(r.db);
    run_start(&r, "url = redis://127.0.0.1:%d", shared_port());
    wait_streaming(&r);
    insert_tx(c, 1, 10);
    int code = wait_exit(&r, 60000);
    char *log = log_of(&r);
    cr_assert_eq(code, 1, "exit code %d; log:\n%s", code, log);
    char want[300];
    snprintf(want, sizeof want,
             "stream \"%s\": the key holds a value that is not a stream "
             "(WRONGTYPE",
             r.stream);
    cr_assert(strstr(log, want), "no clear error naming the stream:\n%s", log);
    free(log);
    cr_assert_eq(unconfirmed_inserts(c, r.slot), 10, "the slot moved past the failed change");

    /* Fixed: the rows come again, once. */
    rc_int(&rc, "DEL", r.stream, NULL);
    wwt_start(&r.w, "run", (const char *[]){"WALWIRE_SINK_TYPE=redis", r.env_prefix, NULL});
    cr_assert(WWT_POLL_UNTIL(60000, rc_int(&rc, "XLEN", r.stream, NULL) == 10));
    cr_assert_eq(wwt_stop(&r.w), 0);
    check_exactly_once(&rc, r.stream, 10, 10);
    rc_close(&rc);
    PQfinish(c);
    run_free(&r);
}

/* ACL users: a wrong password stops walwire with a clear error (exit 1)
 * that shows no password; the right one streams (AUTH user password). A
 * user without +xadd gets NOPERM, named with the stream. */
Test(redis, acl_user_wrong_password_and_noperm, .timeout = 300)
{
    static struct run r; /* static: kill_leftovers may need it */
    run_init(&r, "rs_acl");
    struct rcli rc = shared_redis();
    char user[64], pass_arg[64], keys[220];
    snprintf(user, sizeof user, "ww_%d", (int)getpid());
    snprintf(pass_arg, sizeof pass_arg, ">%s", SECRET);
    snprintf(keys, sizeof keys, "~%s:*", r.db);
    rv_free(rc_ok(&rc, "ACL", "SETUSER", user, "reset", "on", pass_arg, keys, "+@all", NULL));
    PGconn *c = wwt_pg(r.db);

    run_start(&r, "url = redis://%s:Wrong-%s@127.0.0.1:%d/0", user, SECRET, shared_port());
    int code = wait_exit(&r, 60000);
    char *log = log_of(&r);
    cr_assert_eq(code, 1, "exit code %d; log:\n%s", code, log);
    cr_assert(strstr(log, "refused the credentials") && strstr(log, "WRONGPASS"),
              "no clear error about the credentials:\n%s", log);
    cr_assert(!strstr(log, SECRET), "the password appears in the log:\n%s", log);
    free(log);

    run_start(&r, "url = redis://%s:%s@127.0.0.1:%d/0", user, SECRET, shared_port());
    wait_streaming(&r);
    insert_tx(c, 1, 5);
    cr_assert(WWT_POLL_UNTIL(60000, rc_int(&rc, "XLEN", r.stream, NULL) == 5));
    cr_assert_eq(wwt_stop(&r.w), 0);
    log = log_of(&r);
    cr_assert(strstr(log, "ACL user"), "%s", log);
    cr_assert(!strstr(log, SECRET), "the password appears in the log:\n%s", log);
    free(log);

    rv_free(rc_ok(&rc, "ACL", "SETUSER", user, "-xadd", NULL));
    wwt_start(&r.w, "run", (const char *[]){"WALWIRE_SINK_TYPE=redis", r.env_prefix, NULL});
    wait_streaming(&r);
    insert_tx(c, 6, 5);
    code = wait_exit(&r, 60000);
    log = log_of(&r);
    cr_assert_eq(code, 1, "exit code %d; log:\n%s", code, log);
    char want[300];
    snprintf(want, sizeof want, "stream \"%s\": the Redis user may not write it (NOPERM", r.stream);
    cr_assert(strstr(log, want), "no clear NOPERM error:\n%s", log);
    free(log);
    cr_assert_eq(unconfirmed_inserts(c, r.slot), 5, "the slot moved past the failed change");
    cr_assert_eq(rc_int(&rc, "XLEN", r.stream, NULL), 5);

    rc_int(&rc, "ACL", "DELUSER", user, NULL);
    rc_close(&rc);
    PQfinish(c);
    run_free(&r);
}

/* Configuration errors exit with 2 and name the key, never the url. */
Test(redis, config_errors_exit_2, .timeout = 300)
{
    static const struct {
        const char *section, *expect;
    } cases[] = {
        {"url = rediss://u:" SECRET "@127.0.0.1:6380/0", "a TLS proxy such as stunnel"},
        {"url = http://u:" SECRET "@127.0.0.1", "expected redis://"},
        {"url = redis://u:" SECRET "@127.0.0.1:99999/0", "the port must be a number"},
        {"url = redis://u:" SECRET "@127.0.0.1/zero", "must be a database number"},
        {"url = redis://" SECRET "@127.0.0.1/0", "a user needs a password"},
        {"url = unix://relative.sock", "absolute socket path"},
        {"maxlen = ~lots", "expected ~N"},
        {"id = time", "expected lsn"},
        {"stream = {prefix}:{tabel}", "the placeholders are {prefix}, {schema} and {table}"},
        {"reply_timeout = 0", "greater than 0"},
        {"max_pending = 0", "from 1 to 1000000"},
        {"colour = blue", "unknown key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wwt_walwire w;
        wwt_walwire_init(&w);
        char extra[300];
        snprintf(extra, sizeof extra, "\n[redis]\n%s\n", cases[i].section);
        wwt_write_config(&w, "postgres", "unused", extra);
        wwt_start(&w, "run", (const char *[]){"WALWIRE_SINK_TYPE=redis", NULL});
        int code = wwt_wait(&w, 60000);
        char *log = wwt_read_file(w.log, NULL);
        cr_assert_eq(code, 2, "%s: exit code %d; log:\n%s", cases[i].section, code, log);
        cr_assert(strstr(log, cases[i].expect), "%s: no \"%s\" in:\n%s", cases[i].section,
                  cases[i].expect, log);
        cr_assert(strstr(log, "[redis] "), "%s: the key is not named:\n%s", cases[i].section, log);
        cr_assert(!strstr(log, SECRET), "%s: the url was echoed:\n%s", cases[i].section, log);
        free(log);
    }
}

/* maxlen = 100 trims exactly; templates name the streams; id = auto lets
 * Redis assign time-based IDs. */
Test(redis, maxlen_templates_and_auto_ids, .timeout = 300)
{
    static struct run r; /* static: kill_leftovers may need it */
    run_init(&r, "rs_auto");
    struct rcli rc = shared_redis();
    PGconn *c = wwt_pg(r.db);
    run_start(&r,
              "url = redis://127.0.0.1:%d/0\nstream = {prefix}/{schema}/{table}\n"
              "message_stream = {prefix}/messages/{table}\nmaxlen = 100\nid = auto",
              shared_port());
    wait_streaming(&r);
    uint64_t t0 = (uint64_t)time(NULL) * 1000;
    for (int t = 0; t < 10; t++)
        insert_tx(c, t * 100 + 1, 100);
    wwt_exec(c, "SELECT pg_logical_emit_message(false, 'audit', 'x')");
    char stream[200], msg[200];
    snprintf(stream, sizeof stream, "%s/public/t", r.db);
    snprintf(msg, sizeof msg, "%s/messages/audit", r.db);
    cr_assert(WWT_POLL_UNTIL(60000, stream_top_id(&rc, stream) == 1000 &&
                                        rc_int(&rc, "XLEN", msg, NULL) == 1));
    cr_assert_eq(wwt_stop(&r.w), 0);
    struct sentries s;
    read_stream(&rc, stream, &s);
    cr_assert_eq(s.n, 100, "MAXLEN 100 kept %zu entries", s.n);
    for (size_t i = 0; i < s.n; i++) {
        cr_assert_eq(after_id(s.v[i].value), 901 + (long long)i);
        cr_assert(s.v[i].ms >= t0 - 60000 && s.v[i].ms <= t0 + 600000, "ID %llu-%llu is not a time",
                  (unsigned long long)s.v[i].ms, (unsigned long long)s.v[i].seq);
    }
    free_stream(&s);
    rc_close(&rc);
    PQfinish(c);
    run_free(&r);
}

/* A stream written with time-based IDs (id = auto, or another producer):
 * with id = lsn every change would be refused as a replay, so walwire stops
 * (exit 1) instead of dropping them. */
Test(redis, foreign_ids_refused, .timeout = 300)
{
    static struct run r; /* static: kill_leftovers may need it */
    run_init(&r, "rs_foreign");
    struct rcli rc = shared_redis();
    rv_free(rc_ok(&rc, "XADD", r.stream, "*", "op", "c", "key", "", "value", "{}", NULL));
    PGconn *c = wwt_pg(r.db);
    run_start(&r, "url = redis://127.0.0.1:%d/0", shared_port());
    wait_streaming(&r);
    insert_tx(c, 1, 3);
    int code = wait_exit(&r, 60000);
    char *log = log_of(&r);
    cr_assert_eq(code, 1, "exit code %d; log:\n%s", code, log);
    cr_assert(strstr(log, "is far ahead of this change's LSN-derived ID") && strstr(log, r.stream),
              "no clear error about the stream's IDs:\n%s", log);
    free(log);
    cr_assert_eq(rc_int(&rc, "XLEN", r.stream, NULL), 1);
    cr_assert_eq(unconfirmed_inserts(c, r.slot), 3, "the slot moved past the refused changes");
    rc_close(&rc);
    PQfinish(c);
    run_free(&r);
}

/* OOM with maxmemory-policy noeviction: retried for oom_wait; freed memory
 * lets everything through; past oom_wait walwire stops (exit 1) without
 * moving the slot past what Redis does not hold. */
Test(redis, oom_waits_then_gives_up, .timeout = 600)
{
    static const char *const extra[] = {"--maxmemory-policy", "noeviction", "--appendonly", "no",
                                        NULL};
    static struct priv_redis srv = {.extra = extra};
    start_private(&srv);
    struct rcli rc;
    cr_assert(rc_open(&rc, srv.port));
    char limit[32];
    struct rv *info = rc_ok(&rc, "MEMORY", "STATS", NULL);
    long long used = 0;
    for (size_t i = 0; i + 1 < info->n; i += 2)
        if (strcmp(info->el[i]->s, "total.allocated") == 0)
            used = info->el[i + 1]->i;
    rv_free(info);
    cr_assert_gt(used, 0);
    snprintf(limit, sizeof limit, "%lld", used + 300 * 1024);

    static struct run r; /* static: kill_leftovers may need it */
    run_init(&r, "rs_oom");
    PGconn *c = wwt_pg(r.db);
    rv_free(rc_ok(&rc, "CONFIG", "SET", "maxmemory", limit, NULL));
    run_start(&r, "url = redis://127.0.0.1:%d/0\nmaxlen =\noom_wait = 5min", srv.port);
    wait_streaming(&r);
    for (int t = 0; t < 40; t++)
        insert_tx(c, t * 100 + 1, 100);
    cr_assert(WWT_POLL_UNTIL(60000, wwt_file_contains(r.w.log, "Redis is out of memory")),
              "Redis never refused with OOM");
    long long held = rc_int(&rc, "XLEN", r.stream, NULL);
    cr_assert_lt(held, 4000);
    rv_free(rc_ok(&rc, "CONFIG", "SET", "maxmemory", "0", NULL));
    cr_assert(WWT_POLL_UNTIL(60000, rc_int(&rc, "XLEN", r.stream, NULL) == 4000));
    cr_assert_eq(wwt_stop(&r.w), 0);
    cr_assert(wwt_file_contains(r.w.log, "Redis accepts writes again"));
    check_exactly_once(&rc, r.stream, 4000, 100);

    /* Past oom_wait: exit 1, the slot before the first missing row. */
    rv_free(rc_ok(&rc, "FLUSHALL", NULL));
    rv_free(rc_ok(&rc, "CONFIG", "SET", "maxmemory", limit, NULL));
    run_start(&r, "url = redis://127.0.0.1:%d/0\nmaxlen =\noom_wait = 1s", srv.port);
    wait_streaming(&r);
    for (int t = 0; t < 40; t++)
        insert_tx(c, 4001 + t * 100, 100);
    int code = wait_exit(&r, 60000);
    char *log = log_of(&r);
    cr_assert_eq(code, 1, "exit code %d; log:\n%s", code, log);
    cr_assert(strstr(log, "and still was after [redis] oom_wait (1 s)") && strstr(log, r.stream),
              "no clear OOM error:\n%s", log);
    free(log);
    long long n = rc_int(&rc, "XLEN", r.stream, NULL);
    cr_assert_lt(n, 4000);
    cr_assert_geq(unconfirmed_inserts(c, r.slot), 4000 - n,
                  "the slot moved past rows Redis does not hold");
    rc_close(&rc);
    PQfinish(c);
    run_free(&r);
    priv_destroy(&srv);
}

/* A unix socket and a database number in the query; the initial snapshot
 * ('r' events, IDs below every streamed transaction's) and then the stream. */
Test(redis, unix_socket_and_snapshot, .timeout = 300)
{
    static const char *const extra[] = {"--appendonly", "no", NULL};
    static struct priv_redis srv = {.extra = extra};
    start_private(&srv);
    static struct run r; /* static: kill_leftovers may need it */
    run_init(&r, "rs_unix");
    PGconn *c = wwt_pg(r.db);
    wwt_exec(c, "INSERT INTO t SELECT g, 'old ' || g FROM generate_series(1, 1000) g");
    run_start(&r, "url = unix://%s?db=3", srv.sock);
    wait_streaming(&r);
    insert_tx(c, 1001, 10);
    struct rcli rc;
    cr_assert(rc_open_unix(&rc, srv.sock));
    rv_free(rc_ok(&rc, "SELECT", "3", NULL));
    cr_assert(WWT_POLL_UNTIL(60000, rc_int(&rc, "XLEN", r.stream, NULL) == 1010));
    cr_assert_eq(wwt_stop(&r.w), 0);

    struct sentries s;
    read_stream(&rc, r.stream, &s);
    unsigned char seen[1011] = {0};
    for (size_t i = 0; i < s.n; i++) {
        long long id = after_id(s.v[i].value);
        cr_assert(id >= 1 && id <= 1010 && !seen[id], "entry %zu: id %lld twice or unknown", i, id);
        seen[id] = 1;
        cr_assert_str_eq(s.v[i].op, i < 1000 ? "r" : "c", "entry %zu", i);
        if (i > 0)
            cr_assert(s.v[i].ms > s.v[i - 1].ms ||
                          (s.v[i].ms == s.v[i - 1].ms && s.v[i].seq > s.v[i - 1].seq),
                      "IDs not increasing at %zu", i);
    }
    cr_assert_eq(after_id(s.v[1000].value), 1001);
    free_stream(&s);
    rc_close(&rc);
    PQfinish(c);
    run_free(&r);
    priv_destroy(&srv);
}

static void *busy_script(void *arg)
{
    struct rcli c;
    cr_assert(rc_open(&c, *(int *)arg));
    /* Returns once SCRIPT KILL stops it. */
    rv_free(rc_cmd(&c, "EVAL", "while true do end", "0", NULL));
    rc_close(&c);
    return NULL;
}

/* A refusal that goes away (BUSY: a script runs): Redis refuses the whole
 * batch, walwire retries, and once the script is killed everything arrives
 * once, in order. */
Test(redis, busy_server_is_waited_out, .timeout = 300)
{
    static const char *const extra[] = {"--busy-reply-threshold", "100", "--appendonly", "no",
                                        NULL};
    static struct priv_redis srv = {.extra = extra};
    start_private(&srv);
    static struct run r; /* static: kill_leftovers may need it */
    run_init(&r, "rs_busy");
    PGconn *c = wwt_pg(r.db);
    run_start(&r, "url = redis://127.0.0.1:%d/0\nmaxlen =\nreply_timeout = 1min", srv.port);
    wait_streaming(&r);
    insert_tx(c, 1, 100);
    struct rcli rc;
    cr_assert(rc_open(&rc, srv.port));
    cr_assert(WWT_POLL_UNTIL(60000, rc_int(&rc, "XLEN", r.stream, NULL) == 100));

    pthread_t th;
    pthread_create(&th, NULL, busy_script, &srv.port);
    for (int t = 1; t < 10; t++)
        insert_tx(c, t * 100 + 1, 100);
    bool refused = WWT_POLL_UNTIL(60000, wwt_file_contains(r.w.log, "refused the batch for now "
                                                                    "(BUSY"));
    struct rcli killer;
    cr_assert(rc_open(&killer, srv.port));
    rv_free(rc_ok(&killer, "SCRIPT", "KILL", NULL));
    rc_close(&killer);
    pthread_join(th, NULL);
    char *log = log_of(&r);
    cr_assert(refused, "walwire never saw BUSY:\n%s", log);
    free(log);
    cr_assert(WWT_POLL_UNTIL(60000, rc_int(&rc, "XLEN", r.stream, NULL) == 1000));
    cr_assert_eq(wwt_stop(&r.w), 0);
    cr_assert(wwt_file_contains(r.w.log, "Redis accepts writes again"));
    check_exactly_once(&rc, r.stream, 1000, 100);
    rc_close(&rc);
    PQfinish(c);
    run_free(&r);
    priv_destroy(&srv);
}
