/*
 * Bad data (issue 9, the bad input matrix, second half): tables without a
 * key, a table dropped mid-stream, a 100 MB value, 1,000 published tables,
 * bytes that are not UTF-8 in a SQL_ASCII database. walwire keeps running
 * (or exits with the documented code and message), never dumps core, and
 * every line it writes is valid JSON. docs/errors.md lists every case.
 *
 * Configuration and environment errors are in test_bad_input.c.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "minijson.h"

/* U+FFFD REPLACEMENT CHARACTER in UTF-8, as minijson decodes "\ufffd". */
#define FFFD "\xef\xbf\xbd"

/* ---- helpers ------------------------------------------------------------ */

/* Is [s, s+len) valid UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF)? Sets *at to the offset of the first bad byte. */
static bool utf8_valid(const unsigned char *s, size_t len, size_t *at)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c < 0x80)
            n = 1;
        else if (c >= 0xC2 && c <= 0xDF)
            n = 2;
        else if (c == 0xE0)
            n = 3, lo = 0xA0;
        else if (c == 0xED)
            n = 3, hi = 0x9F;
        else if (c >= 0xE1 && c <= 0xEF)
            n = 3;
        else if (c == 0xF0)
            n = 4, lo = 0x90;
        else if (c == 0xF4)
            n = 4, hi = 0x8F;
        else if (c >= 0xF1 && c <= 0xF3)
            n = 4;
        else
            goto bad;
        if (n > 1 && (len - i < n || s[i + 1] < lo || s[i + 1] > hi))
            goto bad;
        for (size_t k = 2; k < n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                goto bad;
        i += n;
    }
    return true;
bad:
    *at = i;
    return false;
}

/* Parse every line of path (strict JSON; the whole file valid UTF-8);
 * fails the test otherwise. */
static struct mj **read_events(const char *path, size_t *count)
{
    size_t len, bad = 0;
    char *text = wwt_read_file(path, &len);
    cr_assert(utf8_valid((const unsigned char *)text, len, &bad),
              "the output is not valid UTF-8 at byte %zu: ...%.40s", bad,
              text + (bad > 20 ? bad - 20 : 0));
    free(text);
    return wwt_read_events(path, count);
}

/* Lines of the log at ERROR level (not PostgreSQL's "ERROR:" inside one). */
static int error_lines(const char *log)
{
    int n = 0;
    for (const char *p = log; (p = strstr(p, "Z ERROR ")); p++)
        n++;
    return n;
}

/* How often needle occurs in the file at path. */
static int count_in_file(const char *path, const char *needle)
{
    char *s = wwt_read_file(path, NULL);
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    free(s);
    return n;
}

/* The walwire a test started, killed after the test even when an assertion
 * failed half-way (tests keep theirs in static storage for this). */
static struct wwt_walwire *live;

static void kill_live(void)
{
    if (live)
        wwt_kill(live);
    live = NULL;
}

TestSuite(bad_data, .fini = kill_live);

/* Start walwire and wait until it streams (after any snapshot); the log
 * may hold earlier runs. */
static void start_streaming_env(struct wwt_walwire *w, const char *const *env)
{
    live = w;
    int before = count_in_file(w->log, "streaming started");
    wwt_start(w, "run", env);
    bool up = WWT_POLL_UNTIL(120000, count_in_file(w->log, "streaming started") > before ||
                                         wwt_exited(w, NULL));
    char *log = wwt_read_file(w->log, NULL);
    cr_assert(up && w->pid, "walwire did not start streaming; its log:\n%s", log);
    free(log);
}

static void start_streaming(struct wwt_walwire *w)
{
    start_streaming_env(w, NULL);
}

/* walwire is still running, and has logged no error. */
static void assert_running_cleanly(struct wwt_walwire *w)
{
    int code = 0;
    char *log = wwt_read_file(w->log, NULL);
    cr_assert(!wwt_exited(w, &code), "walwire exited with %d:\n%s", code, log);
    cr_assert_eq(error_lines(log), 0, "walwire logged an error:\n%s", log);
    free(log);
}

/* SIGTERM: exit 0, no signal, no password in the log. */
static void stop_cleanly(struct wwt_walwire *w)
{
    int code = wwt_stop(w);
    char *log = wwt_read_file(w->log, NULL);
    cr_assert_eq(code, 0, "exit code %d on SIGTERM:\n%s", code, log);
    cr_assert(!strstr(log, wwt_env("WW_TEST_PGPASSWORD")), "the password is in the log");
    free(log);
}

/* A slot name unique to this test process. */
static void slot_for(char *slot, size_t len, const char *tag)
{
    snprintf(slot, len, "%s_%d", tag, (int)getpid());
}

static const char *ev_str(const struct mj *ev, const char *path)
{
    return mj_str(mj_path(mj_get(ev, "value"), path));
}

static const char *ev_table(const struct mj *ev)
{
    return ev_str(ev, "source.table");
}

static const char *ev_op(const struct mj *ev)
{
    return ev_str(ev, "op");
}

static long long ev_after_int(const struct mj *ev, const char *col)
{
    return mj_int(mj_get(mj_path(mj_get(ev, "value"), "after"), col));
}

/* ---- tables without a key ------------------------------------------------ */

/* Tables without a primary key: a warning at startup names each table (with
 * REPLICA IDENTITY DEFAULT) and the fix; their rows are snapshotted and
 * streamed with a null key. REPLICA IDENTITY FULL without a primary key:
 * updates and deletes carry the whole old row, the key stays null. */
Test(bad_data, tables_without_a_key, .timeout = 120)
{
    char *db = wwt_new_db("nokey");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE nokey (a int, b text)");
    wwt_exec(c, "INSERT INTO nokey VALUES (1, 'one'), (2, 'two')");
    wwt_exec(c, "CREATE TABLE fullnokey (a int, b text)");
    wwt_exec(c, "ALTER TABLE fullnokey REPLICA IDENTITY FULL");
    wwt_exec(c, "INSERT INTO fullnokey VALUES (1, 'x')");
    wwt_exec(c, "CREATE TABLE keyed (id int PRIMARY KEY)");
    wwt_exec(c, "INSERT INTO keyed VALUES (1)");
    static struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    slot_for(slot, sizeof slot, "nokey");
    wwt_write_config(&w, db, slot, "");
    start_streaming(&w);

    char *log = wwt_read_file(w.log, NULL);
    cr_assert(strstr(log, "table public.nokey has no primary key and REPLICA IDENTITY DEFAULT") &&
                  strstr(log, "null key") &&
                  strstr(log, "ALTER TABLE public.nokey REPLICA IDENTITY FULL"),
              "no warning naming public.nokey and the fix:\n%s", log);
    cr_assert(!strstr(log, "table public.keyed") && !strstr(log, "table public.fullnokey has"),
              "a warning about a table that needs none:\n%s", log);
    free(log);

    wwt_exec(c, "INSERT INTO nokey VALUES (3, 'three')");
    /* PostgreSQL itself refuses updates of such a table once it is
     * published: there is nothing to identify the row by. */
    PGresult *r = PQexec(c, "UPDATE nokey SET b = 'uno' WHERE a = 1");
    cr_assert(PQresultStatus(r) == PGRES_FATAL_ERROR &&
                  strstr(PQresultErrorMessage(r), "does not have a replica identity"),
              "%s", PQresultErrorMessage(r));
    PQclear(r);
    wwt_exec(c, "UPDATE fullnokey SET b = 'y'");
    wwt_exec(c, "DELETE FROM fullnokey");
    wwt_exec(c, "INSERT INTO keyed VALUES (2)");
    /* 4 snapshot rows, 4 changes. */
    cr_assert(WWT_POLL_UNTIL(30000, wwt_count_lines(w.out) >= 8), "only %zu events",
              wwt_count_lines(w.out));
    assert_running_cleanly(&w);
    stop_cleanly(&w);

    size_t n;
    struct mj **ev = read_events(w.out, &n);
    cr_assert_eq(n, 8);
    int nokey_r = 0, nokey_c = 0, full_seen = 0, keyed_seen = 0;
    for (size_t i = 0; i < n; i++) {
        const char *table = ev_table(ev[i]), *op = ev_op(ev[i]);
        const struct mj *key = mj_get(ev[i], "key"), *value = mj_get(ev[i], "value");
        cr_assert(table && op, "event %zu", i);
        if (strcmp(table, "keyed") == 0) {
            cr_assert_eq(mj_int(mj_get(key, "id")), ev_after_int(ev[i], "id"));
            keyed_seen++;
            continue;
        }
        cr_assert(key && mj_is_null(key), "event %zu of %s has a key", i, table);
        if (strcmp(table, "nokey") == 0) {
            long long a = ev_after_int(ev[i], "a");
            const char *b = mj_str(mj_path(value, "after.b"));
            const char *want = a == 1 ? "one" : a == 2 ? "two" : "three";
            cr_assert(b && strcmp(b, want) == 0, "nokey a=%lld: b=%s", a, b);
            if (strcmp(op, "r") == 0) {
                cr_assert(a == 1 || a == 2, "snapshot row a=%lld", a);
                nokey_r++;
            } else {
                cr_assert(strcmp(op, "c") == 0 && a == 3, "%s a=%lld", op, a);
                nokey_c++;
            }
        } else {
            cr_assert_str_eq(table, "fullnokey");
            const char *want_op = full_seen == 0 ? "r" : full_seen == 1 ? "u" : "d";
            cr_assert_str_eq(op, want_op, "fullnokey event %d", full_seen);
            if (strcmp(op, "u") == 0) {
                cr_assert_str_eq(mj_str(mj_path(value, "before.b")), "x");
                cr_assert_str_eq(mj_str(mj_path(value, "after.b")), "y");
            } else if (strcmp(op, "d") == 0) {
                cr_assert_str_eq(mj_str(mj_path(value, "before.b")), "y");
                cr_assert_eq(mj_int(mj_path(value, "before.a")), 1);
                cr_assert(mj_is_null(mj_get(value, "after")));
            }
            full_seen++;
        }
    }
    cr_assert_eq(nokey_r, 2);
    cr_assert_eq(nokey_c, 1);
    cr_assert_eq(full_seen, 3);
    cr_assert_eq(keyed_seen, 2);
    wwt_free_events(ev, n);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* ---- a table dropped mid-stream ----------------------------------------- */

/* The events of a table before its DROP arrive (also those of the
 * transaction that drops it), walwire keeps running, and the rows of other
 * tables after the drop arrive. */
Test(bad_data, table_dropped_mid_stream, .timeout = 120)
{
    char *db = wwt_new_db("dropped");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE gone (id int PRIMARY KEY, v text)");
    wwt_exec(c, "CREATE TABLE stay (id int PRIMARY KEY)");
    static struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    slot_for(slot, sizeof slot, "dropped");
    wwt_write_config(&w, db, slot, "");
    start_streaming(&w);

    wwt_exec(c, "INSERT INTO gone VALUES (1, 'a'), (2, 'b')");
    wwt_exec(c, "INSERT INTO stay VALUES (1)");
    wwt_exec(c, "BEGIN");
    wwt_exec(c, "INSERT INTO gone VALUES (3, 'c')");
    wwt_exec(c, "INSERT INTO stay VALUES (2)");
    wwt_exec(c, "DROP TABLE gone");
    wwt_exec(c, "COMMIT");
    wwt_exec(c, "INSERT INTO stay VALUES (3)");
    /* The name again (the publication is FOR ALL TABLES). */
    wwt_exec(c, "CREATE TABLE gone (id int PRIMARY KEY, w int)");
    wwt_exec(c, "INSERT INTO gone VALUES (4, 40)");
    wwt_exec(c, "INSERT INTO stay VALUES (4)");

    cr_assert(WWT_POLL_UNTIL(30000, wwt_count_lines(w.out) >= 8), "only %zu events:\n%s",
              wwt_count_lines(w.out), wwt_read_file(w.log, NULL));
    assert_running_cleanly(&w);
    stop_cleanly(&w);

    size_t n;
    struct mj **ev = read_events(w.out, &n);
    static const struct {
        const char *table;
        int id;
    } want[] = {{"gone", 1}, {"gone", 2}, {"stay", 1}, {"gone", 3},
                {"stay", 2}, {"stay", 3}, {"gone", 4}, {"stay", 4}};
    cr_assert_eq(n, sizeof want / sizeof *want, "%zu events", n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(ev_table(ev[i]), want[i].table, "event %zu", i);
        cr_assert_str_eq(ev_op(ev[i]), "c", "event %zu", i);
        cr_assert_eq(ev_after_int(ev[i], "id"), want[i].id, "event %zu", i);
    }
    /* The new table of the same name has its own columns. */
    cr_assert_str_eq(mj_str(mj_path(mj_get(ev[0], "value"), "after.v")), "a");
    cr_assert_eq(ev_after_int(ev[6], "w"), 40);
    cr_assert(!mj_get(mj_path(mj_get(ev[6], "value"), "after"), "v"));
    wwt_free_events(ev, n);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* Harder: the table (and the enum type it used) is dropped while walwire is
 * stopped, so when walwire decodes its rows neither exists any more. The
 * rows still arrive; values of the dropped type as their text form. */
Test(bad_data, table_and_type_dropped_while_stopped, .timeout = 120)
{
    char *db = wwt_new_db("dropaway");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TYPE mood AS ENUM ('sad', 'happy')");
    wwt_exec(c, "CREATE TABLE gone (id int PRIMARY KEY, m mood, ms mood[])");
    wwt_exec(c, "CREATE TABLE stay (id int PRIMARY KEY)");
    static struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    slot_for(slot, sizeof slot, "dropaway");
    wwt_write_config(&w, db, slot, "");
    start_streaming(&w);
    stop_cleanly(&w);

    wwt_exec(c, "INSERT INTO gone VALUES (1, 'happy', '{sad,happy}'), (2, 'sad', NULL)");
    wwt_exec(c, "INSERT INTO stay VALUES (1)");
    wwt_exec(c, "DROP TABLE gone");
    wwt_exec(c, "DROP TYPE mood");
    wwt_exec(c, "INSERT INTO stay VALUES (2)");

    start_streaming(&w);
    cr_assert(WWT_POLL_UNTIL(30000, wwt_count_lines(w.out) >= 4), "only %zu events:\n%s",
              wwt_count_lines(w.out), wwt_read_file(w.log, NULL));
    assert_running_cleanly(&w);
    wwt_exec(c, "INSERT INTO stay VALUES (3)");
    cr_assert(WWT_POLL_UNTIL(30000, wwt_count_lines(w.out) >= 5), "the stream stopped");
    stop_cleanly(&w);

    size_t n;
    struct mj **ev = read_events(w.out, &n);
    cr_assert_eq(n, 5, "%zu events", n);
    cr_assert_str_eq(ev_table(ev[0]), "gone");
    cr_assert_str_eq(ev_str(ev[0], "after.m"), "happy");
    /* The array's element type is gone from the catalog: its text form
     * (docs/types.md), not a JSON array. */
    cr_assert_str_eq(ev_str(ev[0], "after.ms"), "{sad,happy}");
    cr_assert_str_eq(ev_table(ev[1]), "gone");
    cr_assert_str_eq(ev_str(ev[1], "after.m"), "sad");
    cr_assert(mj_is_null(mj_path(mj_get(ev[1], "value"), "after.ms")));
    for (size_t i = 2; i < n; i++) {
        cr_assert_str_eq(ev_table(ev[i]), "stay");
        cr_assert_eq(ev_after_int(ev[i], "id"), (long long)i - 1);
    }
    wwt_free_events(ev, n);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* A table of [source] tables dropped mid-stream: its events before the drop
 * arrive and walwire streams on; at the next start the configuration names
 * a table that does not exist: exit 1, naming it. */
Test(bad_data, configured_table_dropped, .timeout = 120)
{
    char *db = wwt_new_db("cfgdrop");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE gone (id int PRIMARY KEY)");
    wwt_exec(c, "CREATE TABLE stay (id int PRIMARY KEY)");
    static struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    slot_for(slot, sizeof slot, "cfgdrop");
    wwt_write_config(&w, db, slot, "");
    /* Add the key to [source] (the first section), before its slot line. */
    char *conf = wwt_read_file(w.conf, NULL);
    char *at = strstr(conf, "slot = ");
    cr_assert(at);
    FILE *f = fopen(w.conf, "w");
    cr_assert(f);
    fprintf(f, "%.*stables = public.gone, public.stay\n%s", (int)(at - conf), conf, at);
    fclose(f);
    free(conf);
    start_streaming(&w);
    wwt_exec(c, "INSERT INTO gone VALUES (1)");
    wwt_exec(c, "DROP TABLE gone");
    wwt_exec(c, "INSERT INTO stay VALUES (1)");
    cr_assert(WWT_POLL_UNTIL(30000, wwt_count_lines(w.out) >= 2), "only %zu events",
              wwt_count_lines(w.out));
    assert_running_cleanly(&w);
    stop_cleanly(&w);
    cr_assert(wwt_file_contains(w.out, "\"table\":\"gone\""));

    wwt_start(&w, "run", NULL);
    int code = wwt_wait(&w, 60000);
    char *log = wwt_read_file(w.log, NULL);
    cr_assert_eq(code, 1, "exit code %d at the next start:\n%s", code, log);
    cr_assert(strstr(log, "[source] tables: table public.gone does not exist"), "%s", log);
    cr_assert_eq(error_lines(log), 1, "%s", log);
    free(log);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* The publication dropped mid-stream: PostgreSQL cannot decode the changes
 * after the drop with this slot any more (recreating the publication does
 * not help: decoding sees the catalog as of each change). walwire must stop
 * with exit 1 (not retry forever), after the events before the drop, with
 * one error naming the publication and the way out: drop the slot and
 * start again (a new snapshot). */
Test(bad_data, publication_dropped_mid_stream, .timeout = 120)
{
    char *db = wwt_new_db("pubdrop");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY)");
    static struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    slot_for(slot, sizeof slot, "pubdrop");
    wwt_write_config(&w, db, slot, "");
    start_streaming(&w);
    wwt_exec(c, "INSERT INTO t VALUES (1)");
    cr_assert(WWT_POLL_UNTIL(30000, wwt_count_lines(w.out) >= 1));
    wwt_exec(c, "DROP PUBLICATION %s_pub", slot);
    wwt_exec(c, "INSERT INTO t VALUES (2)");
    int code = wwt_wait(&w, 60000);
    char *log = wwt_read_file(w.log, NULL);
    cr_assert_lt(code, 128, "signal %d:\n%s", code - 128, log);
    cr_assert_eq(code, 1, "exit code %d:\n%s", code, log);
    char want[128];
    snprintf(want, sizeof want, "publication \"%s_pub\" does not exist", slot);
    cr_assert(strstr(log, want), "the publication is not named:\n%s", log);
    cr_assert_eq(error_lines(log), 1, "not one error line:\n%s", log);
    snprintf(want, sizeof want, "pg_drop_replication_slot('%s')", slot);
    cr_assert(strstr(log, want), "the error does not say how to get out (%s):\n%s", want, log);
    free(log);
    cr_assert_eq(wwt_count_lines(w.out), 1);
    cr_assert(!wwt_file_contains(w.out, "\"after\":{\"id\":2}"));
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* ---- a 100 MB value ---------------------------------------------------- */

#define BIG_REPEAT 10485760 /* times "0123456789": 100 MiB */
#define BIG_LEN    (5 + 10 * (size_t)BIG_REPEAT + 3)

/* One row whose text column holds 100 MiB ("BEGIN", the digits over and
 * over, "END"): it arrives intact on one valid JSON line, the next row
 * follows, and walwire does not crash. The line is checked without a
 * 200 MB parse: the big string byte by byte (digits need no escaping, so
 * they are valid JSON string content), then the line with the string cut
 * short through the strict parser. */
Test(bad_data, hundred_megabyte_value, .timeout = 600)
{
    char *db = wwt_new_db("huge");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE big (id int PRIMARY KEY, v text)");
    static struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    slot_for(slot, sizeof slot, "huge");
    wwt_write_config(&w, db, slot, "");
    start_streaming(&w);

    uint64_t t0 = wwt_now_ms();
    wwt_exec(c, "INSERT INTO big VALUES (1, 'BEGIN' || repeat('0123456789', %d) || 'END')",
             BIG_REPEAT);
    wwt_exec(c, "BEGIN");
    wwt_exec(c, "INSERT INTO big VALUES (2, 'small')");
    uint64_t before_commit = wwt_lsn(c, "SELECT pg_current_wal_insert_lsn()");
    wwt_exec(c, "COMMIT");
    bool confirmed =
        WWT_POLL_UNTIL(300000, wwt_lsn(c,
                                       "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE "
                                       "slot_name = '%s'",
                                       slot) > before_commit ||
                                   wwt_exited(&w, NULL));
    char *log = wwt_read_file(w.log, NULL);
    cr_assert(confirmed && w.pid, "the 100 MB row was not confirmed:\n%s", log);
    free(log);
    uint64_t took = wwt_now_ms() - t0;
    assert_running_cleanly(&w);
    stop_cleanly(&w);
    cr_log_info("100 MiB value: delivered in %llu ms; walwire's peak RSS %ld KiB",
                (unsigned long long)took, w.usage.ru_maxrss);
    /* A value this size is held a few times over (libpq's buffer, the
     * encoded event); more than six copies would be a leak or a regression. */
    cr_assert_lt(w.usage.ru_maxrss, 6L * 100 * 1024, "peak RSS %ld KiB for a 100 MiB value",
                 w.usage.ru_maxrss);

    size_t len;
    char *text = wwt_read_file(w.out, &len);
    char *nl = memchr(text, '\n', len);
    cr_assert(nl, "no complete line");
    size_t line_len = (size_t)(nl - text);
    cr_assert_gt(line_len, BIG_LEN, "the first line is %zu bytes", line_len);
    const char *open = "\"v\":\"BEGIN0123456789";
    char *s = memmem(text, line_len, open, strlen(open));
    cr_assert(s, "no \"v\":\"BEGIN... in the first line");
    const char *v = s + 5; /* the string's content */
    cr_assert_eq(memcmp(v, "BEGIN", 5), 0);
    for (size_t i = 0; i < 10 * (size_t)BIG_REPEAT; i++)
        if (v[5 + i] != (char)('0' + i % 10))
            cr_assert_fail("byte %zu of the value is 0x%02x, not '%c'", 5 + i,
                           (unsigned char)v[5 + i], (char)('0' + i % 10));
    cr_assert_eq(memcmp(v + BIG_LEN - 3, "END\"", 4), 0, "the value does not end with END\"");
    /* The line with the value cut to "BEGIN...END" must parse. */
    size_t head = (size_t)(v - text), tail = line_len - (head + BIG_LEN);
    char *cut = malloc(head + 11 + tail);
    memcpy(cut, text, head);
    memcpy(cut + head, "BEGIN...END", 11);
    memcpy(cut + head + 11, v + BIG_LEN, tail);
    const char *err = NULL;
    struct mj *ev = mj_parse(cut, head + 11 + tail, &err);
    cr_assert(ev, "the first line is not valid JSON (%s): %.300s", err, cut);
    cr_assert_str_eq(ev_op(ev), "c");
    cr_assert_str_eq(ev_table(ev), "big");
    cr_assert_eq(ev_after_int(ev, "id"), 1);
    cr_assert_str_eq(ev_str(ev, "after.v"), "BEGIN...END");
    cr_assert(mj_is_null(mj_path(mj_get(ev, "value"), "before")));
    mj_free(ev);
    free(cut);
    /* The next row is whole too. */
    char *second = nl + 1;
    char *nl2 = memchr(second, '\n', len - (size_t)(second - text));
    cr_assert(nl2, "the second row did not arrive");
    ev = mj_parse(second, (size_t)(nl2 - second), &err);
    cr_assert(ev, "the second line is not valid JSON (%s)", err);
    cr_assert_str_eq(ev_str(ev, "after.v"), "small");
    mj_free(ev);
    cr_assert_eq((size_t)(nl2 + 1 - text), len, "more than two lines");
    free(text);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* ---- 1,000 published tables ------------------------------------------- */

#define NTABLES 1000

/* 1,000 tables with a row each before walwire starts (snapshot), then one
 * row into each in one transaction, then one row into each in 1,000
 * transactions: every event arrives, exactly once, in order. listed: the
 * tables are named in [source] tables (through the environment: a config
 * file line holds at most 198 characters), so walwire creates the
 * publication FOR TABLE t1, ..., t1000; else FOR ALL TABLES. */
static void thousand_tables(bool listed)
{
    char *db = wwt_new_db(listed ? "manylisted" : "many");
    PGconn *c = wwt_pg(db);
    wwt_exec(c,
             "DO $$ BEGIN FOR i IN 1..%d LOOP "
             "EXECUTE format('CREATE TABLE t%%s (id int PRIMARY KEY, v text)', i); "
             "EXECUTE format('INSERT INTO t%%s VALUES (1, ''snap'')', i); "
             "END LOOP; END $$",
             NTABLES);
    char *tables_env = NULL;
    if (listed) {
        /* Not listed: must not show up. */
        wwt_exec(c, "CREATE TABLE other (id int PRIMARY KEY)");
        wwt_exec(c, "INSERT INTO other VALUES (1)");
        size_t cap = 32 + NTABLES * 16, len = 0;
        tables_env = malloc(cap);
        len += (size_t)snprintf(tables_env, cap, "WALWIRE_SOURCE_TABLES=");
        for (int i = 1; i <= NTABLES; i++)
            len +=
                (size_t)snprintf(tables_env + len, cap - len, "%spublic.t%d", i > 1 ? ", " : "", i);
    }
    const char *env[] = {tables_env, NULL};
    static struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    slot_for(slot, sizeof slot, "many");
    wwt_write_config(&w, db, slot, "");
    uint64_t t0 = wwt_now_ms();
    start_streaming_env(&w, listed ? env : NULL);
    uint64_t t_snap = wwt_now_ms() - t0;
    cr_assert_eq(wwt_count_lines(w.out), NTABLES, "the snapshot wrote %zu rows",
                 wwt_count_lines(w.out));
    cr_assert(wwt_file_contains(w.log, "reading 1000 table(s)"));

    t0 = wwt_now_ms();
    if (listed) /* committed first: it would arrive before the rest */
        wwt_exec(c, "INSERT INTO other VALUES (2)");
    wwt_exec(c,
             "DO $$ BEGIN FOR i IN 1..%d LOOP "
             "EXECUTE format('INSERT INTO t%%s VALUES (2, ''one tx'')', i); "
             "END LOOP; END $$",
             NTABLES);
    for (int i = 1; i <= NTABLES; i++)
        wwt_exec(c, "INSERT INTO t%d VALUES (3, 'own tx')", i);
    cr_assert(WWT_POLL_UNTIL(120000, wwt_count_lines(w.out) >= 3 * NTABLES), "only %zu events",
              wwt_count_lines(w.out));
    uint64_t t_stream = wwt_now_ms() - t0;
    assert_running_cleanly(&w);
    stop_cleanly(&w);
    cr_log_info("1,000 tables (%s): snapshot and start %llu ms, 2,000 changes %llu ms",
                listed ? "listed" : "all tables", (unsigned long long)t_snap,
                (unsigned long long)t_stream);
    if (listed)
        cr_assert(wwt_int(c,
                          "SELECT count(*) FROM pg_publication_tables WHERE pubname = "
                          "'%s_pub'",
                          slot) == NTABLES);

    size_t n;
    struct mj **ev = read_events(w.out, &n);
    cr_assert_eq(n, 3 * NTABLES);
    unsigned char *seen = calloc(NTABLES + 1, 4);
    long long one_tx = 0, last_tx = 0;
    for (size_t i = 0; i < n; i++) {
        const char *table = ev_table(ev[i]);
        cr_assert(table && table[0] == 't', "event %zu", i);
        int t = atoi(table + 1);
        cr_assert(t >= 1 && t <= NTABLES, "event %zu: table %s", i, table);
        long long id = ev_after_int(ev[i], "id");
        cr_assert(id >= 1 && id <= 3, "event %zu: id %lld", i, id);
        cr_assert(!seen[t * 4 + id], "event %zu: %s id %lld twice", i, table, id);
        seen[t * 4 + id] = 1;
        cr_assert_eq(mj_int(mj_get(mj_get(ev[i], "key"), "id")), id);
        long long tx = mj_int(mj_path(mj_get(ev[i], "value"), "source.txId"));
        const char *op = ev_op(ev[i]);
        if (i < NTABLES) {
            cr_assert(strcmp(op, "r") == 0 && id == 1, "event %zu: %s id %lld", i, op, id);
        } else if (i < 2 * NTABLES) {
            cr_assert(strcmp(op, "c") == 0 && id == 2, "event %zu: %s id %lld", i, op, id);
            cr_assert_eq(t, (int)(i - NTABLES + 1), "not in commit order");
            if (!one_tx)
                one_tx = tx;
            cr_assert_eq(tx, one_tx, "event %zu is not of the one transaction", i);
        } else {
            cr_assert(strcmp(op, "c") == 0 && id == 3, "event %zu: %s id %lld", i, op, id);
            cr_assert_eq(t, (int)(i - 2 * NTABLES + 1), "not in commit order");
            cr_assert_gt(tx, i == 2 * NTABLES ? one_tx : last_tx, "event %zu: txId", i);
            last_tx = tx;
        }
    }
    free(seen);
    wwt_free_events(ev, n);
    free(tables_env);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

Test(bad_data, thousand_tables_all_tables, .timeout = 600)
{
    thousand_tables(false);
}

Test(bad_data, thousand_tables_listed, .timeout = 600)
{
    thousand_tables(true);
}

/* ---- SQL_ASCII: bytes that are not UTF-8 ---------------------------------- */

/* The names of the test table and of its last column: plain ASCII, or with
 * a Latin-1 byte (SQL_ASCII takes any bytes in names too). */
struct ascii_names {
    const char *table_sql, *col_sql;   /* as created */
    const char *table_json, *col_json; /* as the events must carry them */
};
static const struct ascii_names plain_names = {"latin", "note", "latin", "note"};
static const struct ascii_names latin1_names = {
    .table_sql = "caf\xe9",
    .col_sql = "n\351e", /* 0xe9 in octal: "\xe9e" would read as one escape */
    .table_json = "caf" FFFD,
    .col_json = "n" FFFD "e",
};

/* A SQL_ASCII database (which stores any bytes) with the test table. */
static char *sql_ascii_db(const struct ascii_names *names)
{
    static int n;
    char *db;
    cr_assert(asprintf(&db, "sqlascii_%d_%d", (int)getpid(), ++n) > 0);
    PGconn *c = wwt_pg("postgres");
    wwt_exec(c, "DROP DATABASE IF EXISTS %s", db);
    wwt_exec(c,
             "CREATE DATABASE %s ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
             "TEMPLATE template0",
             db);
    PQfinish(c);
    c = wwt_pg(db);
    char *enc = wwt_value(c, "SHOW server_encoding");
    cr_assert_str_eq(enc, "SQL_ASCII");
    free(enc);
    wwt_exec(c,
             "CREATE TABLE \"%s\" (id text PRIMARY KEY, t text, vc varchar(40), "
             "arr text[], j json, \"%s\" text)",
             names->table_sql, names->col_sql);
    PQfinish(c);
    return db;
}

/* Two rows: Latin-1 bytes, a lone 0xff/0xfe, a truncated sequence, an
 * overlong form, a UTF-16 surrogate, next to valid UTF-8 (é, an emoji). */
static void sql_ascii_rows(PGconn *c, const struct ascii_names *names)
{
    wwt_exec(c,
             "INSERT INTO \"%s\" VALUES (E'k\\xff1', E'abc\\xffdef', E'caf\\xe9', "
             "ARRAY[E'a\\xfe', 'ok'], E'{\"k\": \"v\\xff\"}', E'\\xc3\\xa9t\\xc3\\xa9')",
             names->table_sql);
    wwt_exec(c,
             "INSERT INTO \"%s\" VALUES ('k2', E'trunc\\xc3', E'\\xc0\\xaf', '{}', "
             "'null', E'\\xed\\xa0\\x80 \\xf0\\x9f\\x98\\x80')",
             names->table_sql);
}

/* Each byte that is not valid UTF-8 became U+FFFD; valid UTF-8 is kept. */
static void check_sql_ascii_events(struct mj **ev, size_t n, const char *want_op,
                                   const struct ascii_names *names)
{
    cr_assert_eq(n, 2, "%zu events", n);
    for (size_t i = 0; i < n; i++) {
        const struct mj *value = mj_get(ev[i], "value");
        cr_assert_str_eq(ev_op(ev[i]), want_op);
        cr_assert_str_eq(ev_table(ev[i]), names->table_json, "the table name");
        const struct mj *after = mj_get(value, "after");
        const struct mj *arr = mj_get(after, "arr");
        cr_assert(arr && arr->type == MJ_ARRAY, "arr is not an array");
        const char *last = mj_str(mj_get(after, names->col_json));
        cr_assert(last, "no column %s", names->col_json);
        if (i == 0) {
            cr_assert_str_eq(mj_str(mj_get(mj_get(ev[i], "key"), "id")), "k" FFFD "1");
            cr_assert_str_eq(mj_str(mj_get(after, "id")), "k" FFFD "1");
            cr_assert_str_eq(mj_str(mj_get(after, "t")), "abc" FFFD "def");
            cr_assert_str_eq(mj_str(mj_get(after, "vc")), "caf" FFFD);
            cr_assert_eq(arr->n, 2);
            cr_assert_str_eq(mj_str(mj_at(arr, 0)), "a" FFFD);
            cr_assert_str_eq(mj_str(mj_at(arr, 1)), "ok");
            cr_assert_str_eq(mj_str(mj_get(after, "j")), "{\"k\": \"v" FFFD "\"}");
            cr_assert_str_eq(last, "\xc3\xa9t\xc3\xa9");
        } else {
            cr_assert_str_eq(mj_str(mj_get(mj_get(ev[i], "key"), "id")), "k2");
            cr_assert_str_eq(mj_str(mj_get(after, "t")), "trunc" FFFD);
            cr_assert_str_eq(mj_str(mj_get(after, "vc")), FFFD FFFD);
            cr_assert_eq(arr->n, 0);
            cr_assert_str_eq(mj_str(mj_get(after, "j")), "null");
            cr_assert_str_eq(last, FFFD FFFD FFFD " \xf0\x9f\x98\x80");
        }
    }
}

/* The rows exist before walwire starts (snapshot) or are inserted while it
 * streams: either way every line is valid JSON, each bad byte U+FFFD, and
 * walwire keeps running (no reconnect loop on an encoding error). */
static void sql_ascii_case(const struct ascii_names *names, bool snapshot)
{
    char *db = sql_ascii_db(names);
    PGconn *c = wwt_pg(db);
    if (snapshot)
        sql_ascii_rows(c, names);
    static struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    slot_for(slot, sizeof slot, snapshot ? "asciisnap" : "asciistream");
    wwt_write_config(&w, db, slot, "");
    start_streaming(&w);
    if (!snapshot)
        sql_ascii_rows(c, names);
    bool arrived = WWT_POLL_UNTIL(30000, wwt_count_lines(w.out) >= 2 || wwt_exited(&w, NULL));
    char *log = wwt_read_file(w.log, NULL);
    cr_assert(arrived && w.pid, "the rows did not arrive; walwire's log:\n%.4000s", log);
    cr_assert(!strstr(log, "replication connection lost"), "the stream broke:\n%.4000s", log);
    free(log);
    assert_running_cleanly(&w);
    stop_cleanly(&w);
    size_t n;
    struct mj **ev = read_events(w.out, &n);
    check_sql_ascii_events(ev, n, snapshot ? "r" : "c", names);
    wwt_free_events(ev, n);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

Test(bad_data, sql_ascii_invalid_utf8_snapshot, .timeout = 120)
{
    sql_ascii_case(&plain_names, true);
}

Test(bad_data, sql_ascii_invalid_utf8_stream, .timeout = 120)
{
    sql_ascii_case(&plain_names, false);
}

/* The table and a column named with a byte that is not UTF-8. */
Test(bad_data, sql_ascii_invalid_utf8_in_names, .timeout = 120)
{
    sql_ascii_case(&latin1_names, false);
}
