/*
 * Bad configuration and environment: each case exits with the documented
 * code and one clear error line naming the problem, never dumps core, and
 * never prints a password.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define SECRET "Sup3r-secret-pw"

/* Count the lines of the log at ERROR level. */
static int error_lines(const char *log)
{
    int n = 0;
    for (const char *p = log; (p = strstr(p, "ERROR")); p++)
        n++;
    return n;
}

/* Write conf text (with %s for the sink dir) and run `walwire run`. */
static int run_with(struct wwt_walwire *w, const char *conf, char **log)
{
    wwt_walwire_init(w);
    FILE *f = fopen(w->conf, "w");
    cr_assert(f);
    fputs(conf, f);
    fclose(f);
    wwt_start(w, "run", NULL);
    int code = wwt_wait(w, 60000);
    *log = wwt_read_file(w->log, NULL);
    cr_assert_lt(code, 128, "walwire died of signal %d:\n%s", code - 128, *log);
    cr_assert(!strstr(*log, SECRET), "the password appears in the output:\n%s", *log);
    return code;
}

static char *conf_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *conf_printf(const char *fmt, ...)
{
    char *s;
    va_list ap;
    va_start(ap, fmt);
    cr_assert(vasprintf(&s, fmt, ap) > 0);
    va_end(ap);
    return s;
}

Test(bad_input, unknown_key_names_file_line_and_key)
{
    struct wwt_walwire w;
    char *conf = conf_printf("[source]\nconninfo = host=127.0.0.1 dbname=x\nslott = s\n"
                             "[sink]\ntype = file\n[file]\npath = -\n");
    char *log;
    int code = run_with(&w, conf, &log);
    cr_assert_eq(code, 2, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "walwire.conf:3"), "no file:line in:\n%s", log);
    cr_assert(strstr(log, "slott"), "the key is not named:\n%s", log);
    free(log);
    free(conf);
}

Test(bad_input, bad_number)
{
    struct wwt_walwire w;
    char *conf = conf_printf("[source]\nconninfo = host=127.0.0.1 dbname=x\n"
                             "max_inflight_bytes = lots\n[sink]\ntype = file\n[file]\npath = -\n");
    char *log;
    int code = run_with(&w, conf, &log);
    cr_assert_eq(code, 2, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "max_inflight_bytes") && strstr(log, "lots"), "%s", log);
    free(log);
    free(conf);
}

Test(bad_input, unreachable_host)
{
    struct wwt_walwire w;
    /* Port 1 on loopback: nothing listens there. */
    char *conf = conf_printf("[source]\nconninfo = host=127.0.0.1 port=1 dbname=x user=u "
                             "password=" SECRET " connect_timeout=5\n"
                             "[sink]\ntype = file\ndir = %s\n[file]\npath = /dev/null\n",
                             wwt_sink_dir());
    char *log;
    int code = run_with(&w, conf, &log);
    cr_assert_eq(code, 1, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "cannot connect to PostgreSQL") && strstr(log, "port=1"), "%s", log);
    cr_assert_eq(error_lines(log), 1, "not one error line:\n%s", log);
    free(log);
    free(conf);
}

Test(bad_input, wrong_password)
{
    struct wwt_walwire w;
    char *conf = conf_printf("[source]\nconninfo = host=%s port=%s dbname=postgres user=%s "
                             "password=" SECRET "\n"
                             "[sink]\ntype = file\ndir = %s\n[file]\npath = /dev/null\n",
                             wwt_env("WW_TEST_PGHOST"), wwt_env("WW_TEST_PGPORT"),
                             wwt_env("WW_TEST_PGUSER"), wwt_sink_dir());
    char *log;
    int code = run_with(&w, conf, &log);
    cr_assert_eq(code, 1, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "password authentication failed"), "%s", log);
    cr_assert_eq(error_lines(log), 1, "not one error line:\n%s", log);
    free(log);
    free(conf);
}

Test(bad_input, missing_sink_module)
{
    struct wwt_walwire w;
    char *conf = conf_printf("[source]\nconninfo = host=127.0.0.1 dbname=x\n"
                             "[sink]\ntype = nosuch\ndir = %s\n", wwt_sink_dir());
    char *log;
    int code = run_with(&w, conf, &log);
    cr_assert_eq(code, 2, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "nosuch") && strstr(log, "sink_nosuch.so"), "%s", log);
    free(log);
    free(conf);
}

Test(bad_input, publication_missing_and_not_allowed)
{
    char *db = wwt_new_db("nopub");
    struct wwt_walwire w;
    char *conf = conf_printf("[source]\nconninfo = host=%s port=%s dbname=%s user=%s\n"
                             "slot = nopub_%d\npublication = nosuchpub\n"
                             "create_publication = false\n"
                             "[sink]\ntype = file\ndir = %s\n[file]\npath = /dev/null\n",
                             wwt_env("WW_TEST_PGHOST"), wwt_env("WW_TEST_PGPORT"), db,
                             wwt_env("WW_TEST_PGUSER"), (int)getpid(), wwt_sink_dir());
    char *log;
    int code = run_with(&w, conf, &log);
    cr_assert_eq(code, 1, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "publication nosuchpub does not exist"), "%s", log);
    free(log);
    free(conf);
    wwt_drop_db(db);
    free(db);
}

Test(bad_input, slot_with_another_plugin)
{
    char *db = wwt_new_db("plugin");
    PGconn *c = wwt_pg(db);
    char slot[64];
    snprintf(slot, sizeof slot, "otherplugin_%d", (int)getpid());
    wwt_exec(c, "SELECT pg_create_logical_replication_slot('%s', 'test_decoding')", slot);
    struct wwt_walwire w;
    char *conf = conf_printf("[source]\nconninfo = host=%s port=%s dbname=%s user=%s\n"
                             "slot = %s\n"
                             "[sink]\ntype = file\ndir = %s\n[file]\npath = /dev/null\n",
                             wwt_env("WW_TEST_PGHOST"), wwt_env("WW_TEST_PGPORT"), db,
                             wwt_env("WW_TEST_PGUSER"), slot, wwt_sink_dir());
    char *log;
    int code = run_with(&w, conf, &log);
    cr_assert_eq(code, 1, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "uses the output plugin test_decoding"), "%s", log);
    free(log);
    free(conf);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}
