/*
 * Bad configuration and environment (issue 9, the bad input matrix): each
 * case exits with the documented code and one clear error line naming the
 * problem and its fix, never dumps core (exit code < 128), and never prints
 * a password. docs/errors.md lists every case.
 *
 * Bad data (tables without a key, a dropped table, huge values, many
 * tables, invalid UTF-8) is in test_bad_input2.c.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "pgserver.h"

extern char **environ;

#define SECRET "Sup3r-secret-pw"

/* The number of log lines at ERROR level: walwire's own ("<time> ERROR
 * <module>: ...") and configuration errors printed before logging starts
 * ("walwire: ..."). A PostgreSQL message quoted inside a line ("ERROR:  ...")
 * does not count. */
static int error_lines(const char *log)
{
    int n = 0;
    for (const char *line = log; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *e = memmem(line, len, "Z ERROR ", 8);
        n += e != NULL || strncmp(line, "walwire: ", 9) == 0;
        line += len + (end != NULL);
    }
    return n;
}

/* The walwire a test runs in the background, killed after the test even
 * when an assertion failed half-way (such tests keep theirs in static
 * storage for this). */
static struct wwt_walwire *live;

static void kill_live(void)
{
    if (live)
        wwt_kill(live);
    live = NULL;
}

TestSuite(bad_input, .fini = kill_live);

/* What every failing case must hold: no signal, no password in the output. */
static void assert_clean(int code, const char *log)
{
    cr_assert_lt(code, 128, "walwire died of signal %d:\n%s", code - 128, log);
    cr_assert(!strstr(log, SECRET), "the password appears in the output:\n%s", log);
    cr_assert(!strstr(log, wwt_env("WW_TEST_PGPASSWORD")),
              "the test server's password appears in the output:\n%s", log);
}

/* Write conf text and run `walwire run` (env: extra variables or NULL). */
static int run_with_env(struct wwt_walwire *w, const char *conf, const char *const *env, char **log)
{
    wwt_walwire_init(w);
    FILE *f = fopen(w->conf, "w");
    cr_assert(f);
    fputs(conf, f);
    fclose(f);
    wwt_start(w, "run", env);
    int code = wwt_wait(w, 60000);
    *log = wwt_read_file(w->log, NULL);
    assert_clean(code, *log);
    return code;
}

static int run_with(struct wwt_walwire *w, const char *conf, char **log)
{
    return run_with_env(w, conf, NULL, log);
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

/* A configuration whose [source] is `source` (whole lines) and whose sink
 * writes to /dev/null: for cases that fail before any data moves. */
static char *conf_with_source(const char *source)
{
    return conf_printf("[source]\n%s\n[sink]\ntype = file\ndir = %s\n[file]\npath = /dev/null\n",
                       source, wwt_sink_dir());
}

/* Expect a configuration error (exit 2) whose one line has every needle. */
#define assert_config_error(conf, ...)                                                             \
    do {                                                                                           \
        struct wwt_walwire w_;                                                                     \
        char *log_;                                                                                \
        int code_ = run_with(&w_, (conf), &log_);                                                  \
        cr_assert_eq(code_, 2, "exit code %d, not 2:\n%s", code_, log_);                           \
        cr_assert_eq(error_lines(log_), 1, "not one error line:\n%s", log_);                       \
        const char *needles_[] = {__VA_ARGS__, NULL};                                              \
        for (int i_ = 0; needles_[i_]; i_++)                                                       \
            cr_assert(strstr(log_, needles_[i_]), "the message does not say \"%s\":\n%s",          \
                      needles_[i_], log_);                                                         \
        free(log_);                                                                                \
    } while (0)

/* ---- malformed configuration: exit 2, file:line, key ----------------- */

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

/* A line without '=' that holds a password: the line is refused and not
 * echoed. */
Test(bad_input, line_without_equals_is_not_echoed)
{
    char *conf = conf_printf("[source]\nconninfo host=db password=" SECRET "\n"
                             "[sink]\ntype = file\n");
    assert_config_error(conf, "walwire.conf:2", "expected key = value");
    free(conf);
}

Test(bad_input, malformed_section_header)
{
    char *conf = conf_printf("[source\nconninfo = host=db\n[sink]\ntype = file\n");
    assert_config_error(conf, "walwire.conf:1", "malformed section header", "[name]");
    free(conf);
}

Test(bad_input, unknown_section_suggests_the_right_one)
{
    char *conf = conf_printf("[sauce]\nconninfo = host=db\n[sink]\ntype = file\n");
    assert_config_error(conf, "walwire.conf:1", "unknown section [sauce]", "did you mean [source]");
    free(conf);
}

Test(bad_input, missing_required_conninfo)
{
    char *conf = conf_printf("[source]\nslot = s\n[sink]\ntype = file\n");
    assert_config_error(conf, "[source] conninfo is required", "host=db dbname=app");
    free(conf);
}

Test(bad_input, bad_enum_value_lists_the_choices)
{
    char *conf = conf_printf("[source]\nconninfo = host=db\nsnapshot = sometimes\n"
                             "[sink]\ntype = file\n");
    assert_config_error(conf, "walwire.conf:3", "[source] snapshot",
                        "expected initial, never, always or initial_only", "\"sometimes\"");
    free(conf);
}

Test(bad_input, bad_duration)
{
    char *conf = conf_printf("[source]\nconninfo = host=db\nstatus_interval = -5s\n"
                             "[sink]\ntype = file\n");
    assert_config_error(conf, "walwire.conf:3", "status_interval", "expected a duration",
                        "\"-5s\"");
    free(conf);
}

Test(bad_input, number_out_of_range)
{
    char *conf = conf_printf("[source]\nconninfo = host=db\nsnapshot_workers = 0\n"
                             "[sink]\ntype = file\n");
    assert_config_error(conf, "walwire.conf:3", "snapshot_workers", "from 1 to 64", "\"0\"");
    free(conf);
}

Test(bad_input, key_set_twice)
{
    char *conf = conf_printf("[source]\nconninfo = host=a password=" SECRET "\n"
                             "conninfo = host=b password=" SECRET "\n[sink]\ntype = file\n");
    assert_config_error(conf, "walwire.conf:3", "conninfo is set twice", "lines 2 and 3");
    free(conf);
}

Test(bad_input, bad_table_list)
{
    char *conf = conf_printf("[source]\nconninfo = host=db\ntables = public.a, b.\n"
                             "[sink]\ntype = file\n");
    assert_config_error(conf, "walwire.conf:3", "[source] tables", "empty name");
    free(conf);
}

/* A line longer than inih's buffer is refused, not cut, and not echoed
 * (it may hold a password); the message says to use the environment. */
Test(bad_input, line_too_long)
{
    char tables[1200] = "";
    for (int i = 1; i <= 100; i++)
        snprintf(tables + strlen(tables), sizeof tables - strlen(tables), "%spublic.t%d",
                 i > 1 ? ", " : "", i);
    char *conf = conf_printf("[source]\nconninfo = host=db password=" SECRET "\ntables = %s\n"
                             "[sink]\ntype = file\n",
                             tables);
    assert_config_error(conf, "walwire.conf:3", "line longer than 198 characters",
                        "through the environment");
    free(conf);
}

/* A bad key of a sink's section is found when the sink opens. */
Test(bad_input, bad_sink_value)
{
    char *conf = conf_with_source("conninfo = host=127.0.0.1 port=1 dbname=x");
    char *bad = conf_printf("%sfsync = sometimes\n", conf);
    assert_config_error(bad, "walwire.conf:8", "[file] fsync", "expected always, batch or never",
                        "\"sometimes\"");
    free(bad);
    free(conf);
}

Test(bad_input, missing_config_file)
{
    struct wwt_walwire w;
    wwt_walwire_init(&w);
    snprintf(w.conf, sizeof w.conf, "%s/no-such.conf", w.dir);
    wwt_start(&w, "run", NULL);
    int code = wwt_wait(&w, 60000);
    char *log = wwt_read_file(w.log, NULL);
    assert_clean(code, log);
    cr_assert_eq(code, 2, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "cannot open") && strstr(log, "no-such.conf") &&
                  strstr(log, "No such file or directory"),
              "%s", log);
    cr_assert_eq(error_lines(log), 1, "%s", log);
    free(log);
}

/* An environment override is validated like the file and named. */
Test(bad_input, bad_environment_override)
{
    struct wwt_walwire w;
    char *conf = conf_with_source("conninfo = host=127.0.0.1 port=1 dbname=x");
    const char *env[] = {"WALWIRE_SOURCE_MAX_INFLIGHT_BYTES=lots", NULL};
    char *log;
    int code = run_with_env(&w, conf, env, &log);
    cr_assert_eq(code, 2, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "environment WALWIRE_SOURCE_MAX_INFLIGHT_BYTES") &&
                  strstr(log, "expected a size") && strstr(log, "\"lots\""),
              "%s", log);
    cr_assert_eq(error_lines(log), 1, "%s", log);
    free(log);
    free(conf);
}

Test(bad_input, password_file_missing)
{
    char *conf = conf_with_source("conninfo = host=127.0.0.1 port=1 dbname=x\n"
                                  "password_file = /nonexistent/walwire-pw");
    assert_config_error(conf, "password_file /nonexistent/walwire-pw", "No such file");
    free(conf);
}

/* A conninfo libpq cannot parse: exit 2, and the password in it is not
 * shown (the whole value is a secret). */
Test(bad_input, unparsable_conninfo_hides_the_password)
{
    char *conf = conf_with_source("conninfo = host='unterminated password=" SECRET);
    assert_config_error(conf, "[source] conninfo is not a valid libpq connection string");
    free(conf);
}

/* ---- the environment: exit 1, the fix named ---------------------------- */

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

/* The same with a URI: the password inside it is redacted too. */
Test(bad_input, unreachable_host_uri)
{
    struct wwt_walwire w;
    char *conf =
        conf_with_source("conninfo = postgresql://u:" SECRET "@127.0.0.1:1/x?connect_timeout=5");
    char *log;
    int code = run_with(&w, conf, &log);
    cr_assert_eq(code, 1, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "cannot connect to PostgreSQL") && strstr(log, "port=1") &&
                  strstr(log, "Connection refused"),
              "%s", log);
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
                             "[sink]\ntype = nosuch\ndir = %s\n",
                             wwt_sink_dir());
    char *log;
    int code = run_with(&w, conf, &log);
    cr_assert_eq(code, 2, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "nosuch") && strstr(log, "sink_nosuch.so"), "%s", log);
    free(log);
    free(conf);
}

/* The file sink cannot open its output (a directory that does not exist):
 * a runtime failure, said once, naming the path. */
Test(bad_input, file_sink_path_unwritable)
{
    struct wwt_walwire w;
    char *conf = conf_printf("[source]\nconninfo = host=127.0.0.1 port=1 dbname=x\n"
                             "[sink]\ntype = file\ndir = %s\n[file]\npath = /nonexistent/dir/out\n",
                             wwt_sink_dir());
    char *log;
    int code = run_with(&w, conf, &log);
    cr_assert_eq(code, 1, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "/nonexistent/dir/out") && strstr(log, "No such file or directory"), "%s",
              log);
    cr_assert_eq(error_lines(log), 1, "the error is not said once:\n%s", log);
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
    cr_assert(strstr(log, "CREATE PUBLICATION nosuchpub FOR TABLE"), "no fix:\n%s", log);
    cr_assert_eq(error_lines(log), 1, "not one error line:\n%s", log);
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
    char fix[128];
    snprintf(fix, sizeof fix, "pg_drop_replication_slot('%s')", slot);
    cr_assert(strstr(log, fix), "no fix:\n%s", log);
    cr_assert_eq(error_lines(log), 1, "not one error line:\n%s", log);
    /* The other plugin's slot is left alone. */
    cr_assert_eq(wwt_int(c,
                         "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s' "
                         "AND plugin = 'test_decoding'",
                         slot),
                 1);
    free(log);
    free(conf);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* ---- roles ----------------------------------------------------------- */

/* A role "<tag>_<pid>" that logs in with the test server's password (so
 * the PGPASSWORD walwire gets works, and the no-password check covers it);
 * attrs e.g. "REPLICATION". */
static char *create_role(const char *tag, const char *attrs)
{
    char *role;
    cr_assert(asprintf(&role, "%s_%d", tag, (int)getpid()) > 0);
    wwt_create_role(role, wwt_env("WW_TEST_PGPASSWORD"), attrs);
    return role;
}

/* dir/walwire.conf for the test server, db as role, the file sink; the
 * publication "<slot>_pub" must exist (create_publication = false). */
static void write_role_config(struct wwt_walwire *w, const char *db, const char *role,
                              const char *slot)
{
    FILE *f = fopen(w->conf, "w");
    cr_assert(f);
    fprintf(f,
            "[source]\nconninfo = host=%s port=%s dbname=%s user=%s\nslot = %s\n"
            "publication = %s_pub\ncreate_publication = false\nstate_file = %s/state\n"
            "[sink]\ntype = file\ndir = %s\n[file]\npath = %s\nfsync = never\n",
            wwt_env("WW_TEST_PGHOST"), wwt_env("WW_TEST_PGPORT"), db, role, slot, slot, w->dir,
            wwt_sink_dir(), w->out);
    fclose(f);
}

/* A role with LOGIN only: `walwire run` stops at setup and names the fix. */
Test(bad_input, role_without_replication)
{
    char *db = wwt_new_db("norepl");
    char *role = create_role("norepl", "");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY)");
    wwt_exec(c, "GRANT SELECT ON t TO %s", role);
    char slot[64];
    snprintf(slot, sizeof slot, "norepl_%d", (int)getpid());
    wwt_exec(c, "CREATE PUBLICATION %s_pub FOR TABLE t", slot);

    struct wwt_walwire w;
    wwt_walwire_init(&w);
    write_role_config(&w, db, role, slot);
    wwt_start(&w, "run", NULL);
    int code = wwt_wait(&w, 60000);
    char *log = wwt_read_file(w.log, NULL);
    assert_clean(code, log);
    cr_assert_eq(code, 1, "exit code %d:\n%s", code, log);
    char want[128];
    snprintf(want, sizeof want, "role %s has no REPLICATION attribute", role);
    cr_assert(strstr(log, want), "the message does not say \"%s\":\n%s", want, log);
    snprintf(want, sizeof want, "ALTER ROLE %s REPLICATION", role);
    cr_assert(strstr(log, want), "the fix \"%s\" is not named:\n%s", want, log);
    cr_assert_eq(error_lines(log), 1, "not one error line:\n%s", log);
    cr_assert_eq(
        wwt_int(c, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'", slot), 0,
        "a slot was created");
    free(log);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
    wwt_drop_role(role);
}

/* A role with REPLICATION and SELECT on every published table but one:
 * the snapshot stops with exit 1 naming that table and GRANT SELECT. */
Test(bad_input, role_without_select_on_one_table, .timeout = 120)
{
    char *db = wwt_new_db("nosel");
    char *role = create_role("nosel", "REPLICATION");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE open1 (id int PRIMARY KEY, v text)");
    wwt_exec(c, "CREATE TABLE secret (id int PRIMARY KEY, v text)");
    wwt_exec(c, "CREATE TABLE open2 (id int PRIMARY KEY, v text)");
    wwt_exec(c, "INSERT INTO open1 SELECT g, 'a' FROM generate_series(1, 10) g");
    wwt_exec(c, "INSERT INTO secret SELECT g, 's' FROM generate_series(1, 10) g");
    wwt_exec(c, "INSERT INTO open2 SELECT g, 'b' FROM generate_series(1, 10) g");
    wwt_exec(c, "GRANT SELECT ON open1, open2 TO %s", role);
    char slot[64];
    snprintf(slot, sizeof slot, "nosel_%d", (int)getpid());
    wwt_exec(c, "CREATE PUBLICATION %s_pub FOR TABLE open1, secret, open2", slot);

    static struct wwt_walwire w;
    wwt_walwire_init(&w);
    live = &w;
    write_role_config(&w, db, role, slot);
    wwt_start(&w, "run", NULL);
    int code = wwt_wait(&w, 60000);
    char *log = wwt_read_file(w.log, NULL);
    assert_clean(code, log);
    cr_assert_eq(code, 1, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "public.secret"), "the table is not named:\n%s", log);
    cr_assert(strstr(log, "permission denied"), "%s", log);
    cr_assert(strstr(log, "GRANT SELECT"), "the fix GRANT SELECT is not named:\n%s", log);
    cr_assert_eq(error_lines(log), 1, "not one error line:\n%s", log);
    cr_assert(strstr(log, "will be taken again at the next start"), "%s", log);
    /* No row of the secret table got out. */
    cr_assert(!wwt_file_contains(w.out, "\"table\":\"secret\""), "rows of secret were written");
    free(log);

    /* After the GRANT, the next start takes the whole snapshot. */
    wwt_exec(c, "GRANT SELECT ON secret TO %s", role);
    wwt_start(&w, "run", NULL);
    bool all = WWT_POLL_UNTIL(60000, wwt_file_contains(w.out, "\"snapshot\":\"last\"") ||
                                         wwt_exited(&w, NULL));
    log = wwt_read_file(w.log, NULL);
    cr_assert(all && w.pid, "the snapshot did not complete after the GRANT:\n%s", log);
    free(log);
    cr_assert_eq(wwt_stop(&w), 0);
    char *out = wwt_read_file(w.out, NULL);
    int secret_rows = 0;
    for (const char *p = out; (p = strstr(p, "\"table\":\"secret\"")); p++)
        secret_rows++;
    free(out);
    /* At least once: the open tables may have been read by the first run. */
    cr_assert_eq(secret_rows, 10, "%d rows of secret", secret_rows);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
    wwt_drop_role(role);
}

/* ---- a slot in use: stand by, take over -------------------------------- */

/* When walwire's control connection last started a query (ms since the
 * epoch, server clock; 0 when it has none): a standby runs its setup
 * queries again at every check. */
static long long setup_query_ms(PGconn *c, const char *db)
{
    return wwt_int(c,
                   "SELECT COALESCE(max((extract(epoch FROM query_start) * 1000)::bigint), 0) "
                   "FROM pg_stat_activity WHERE datname = '%s' AND application_name = 'walwire' "
                   "AND backend_type = 'client backend'",
                   db);
}

/* Another consumer holds the slot: walwire stands by (and keeps checking,
 * without exiting) until the slot is free, then takes over and streams
 * what the other consumer never confirmed. */
Test(bad_input, slot_in_use_stands_by_then_takes_over, .timeout = 180)
{
    char *db = wwt_new_db("inuse");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY)");
    char slot[64];
    snprintf(slot, sizeof slot, "inuse_%d", (int)getpid());
    wwt_exec(c, "CREATE PUBLICATION %s_pub FOR TABLE t", slot);
    wwt_exec(c, "SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", slot);

    /* The other consumer: a replication connection streaming the slot. */
    long long holder_pid;
    PGconn *holder = wwt_hold_slot(c, db, slot, &holder_pid);

    static struct wwt_walwire w;
    wwt_walwire_init(&w);
    live = &w;
    wwt_write_config(&w, db, slot, "");
    wwt_start(&w, "run", NULL);
    bool standby =
        WWT_POLL_UNTIL(30000, wwt_file_contains(w.log, "standing by") || wwt_exited(&w, NULL));
    char *log = wwt_read_file(w.log, NULL);
    cr_assert(standby && w.pid, "walwire did not stand by:\n%s", log);
    char want[96];
    snprintf(want, sizeof want, "is active for PID %lld", holder_pid);
    cr_assert(strstr(log, want), "the holder's PID is not named:\n%s", log);
    cr_assert_eq(error_lines(log), 0, "%s", log);
    free(log);

    /* A change committed while walwire waits: the holder never confirms it. */
    wwt_exec(c, "INSERT INTO t VALUES (1)");
    /* walwire checks again (twice) and is still there, still standing by.
     * The queries of one check are milliseconds apart, checks 2 s. */
    for (int round = 0; round < 2; round++) {
        long long before = setup_query_ms(c, db);
        bool rechecked =
            WWT_POLL_UNTIL(20000, setup_query_ms(c, db) > before + 1000 || wwt_exited(&w, NULL));
        cr_assert(rechecked, "walwire did not check the slot again");
        int code = 0;
        log = wwt_read_file(w.log, NULL);
        cr_assert(!wwt_exited(&w, &code), "walwire exited (%d) while the slot was held:\n%s", code,
                  log);
        free(log);
    }
    cr_assert(!wwt_file_contains(w.log, "streaming started"));
    cr_assert_eq(wwt_count_lines(w.out), 0, "walwire wrote events without the slot");

    /* The holder goes away: walwire takes over and streams from the slot. */
    PQfinish(holder);
    uint64_t released = wwt_now_ms();
    bool took_over = WWT_POLL_UNTIL(30000, wwt_file_contains(w.log, "streaming started") ||
                                               wwt_exited(&w, NULL));
    log = wwt_read_file(w.log, NULL);
    cr_assert(took_over && w.pid, "walwire did not take over:\n%s", log);
    cr_assert(strstr(log, "is free: taking over"), "%s", log);
    free(log);
    cr_log_info("took over %llu ms after the slot was released",
                (unsigned long long)(wwt_now_ms() - released));
    wwt_exec(c, "INSERT INTO t VALUES (2)");
    bool both = WWT_POLL_UNTIL(30000, wwt_file_contains(w.out, "\"after\":{\"id\":1}") &&
                                          wwt_file_contains(w.out, "\"after\":{\"id\":2}"));
    cr_assert(both, "the rows did not arrive after the takeover");
    cr_assert_eq(wwt_stop(&w), 0);
    log = wwt_read_file(w.log, NULL);
    assert_clean(0, log);
    cr_assert_eq(error_lines(log), 0, "%s", log);
    free(log);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* ---- wal_level: a second server ---------------------------------------- */

/* A throwaway server, stopped by .fini even when the test fails half-way. */
static struct wwt_server second;

static void second_start(const char *settings)
{
    wwt_server_start(&second, settings);
}

static void second_stop(void)
{
    wwt_server_stop(&second);
}

/* `walwire run` against a server with wal_level = replica: exit 1 at
 * setup, naming the setting and the fix; nothing is created. */
Test(bad_input, wal_level_replica, .timeout = 120, .fini = second_stop)
{
    second_start("-c wal_level=replica");
    struct wwt_walwire w;
    char source[256];
    snprintf(source, sizeof source,
             "conninfo = host=127.0.0.1 port=%d dbname=postgres user=postgres\n"
             "slot = replica_run",
             second.port);
    char *conf = conf_with_source(source);
    char *log;
    int code = run_with(&w, conf, &log);
    cr_assert_eq(code, 1, "exit code %d:\n%s", code, log);
    cr_assert(strstr(log, "wal_level is replica"), "the setting is not named:\n%s", log);
    cr_assert(strstr(log, "ALTER SYSTEM SET wal_level = logical") && strstr(log, "restart"),
              "the fix is not named:\n%s", log);
    cr_assert_eq(error_lines(log), 1, "not one error line:\n%s", log);
    free(log);
    free(conf);
}
