/*
 * `walwire check` against the real server of tests/services.sh (and, for
 * wal_level and a lost slot, a second server started here): each test sets
 * up one situation in its own database, runs the preflight, and reads the
 * table (or the JSON) it prints: the exit code, the verdict of the rows
 * concerned, and the fix they name.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "pgserver.h"
#include "minijson.h"

extern char **environ;

#define SECRET  "Sup3r-secret-pw"
#define ROLE_PW "check-role-pw"

/* Every row a ready database shows, in order. */
static const char *const all_rows[] = {
    "connection",  "server",      "wal_level", "replication slots",
    "wal senders", "connections", "role",      "replication connection",
    "publication", "tables",      "select",    "slot",
    "slot wal",    "keys",        "toast",     "heartbeat",
    "sink",
};

/* ---- running walwire check ------------------------------------------- */

struct check_run {
    struct wwt_walwire w;
    int code;
    char *out; /* stdout: the table or the JSON */
    char *err; /* stderr */
};

/* Write the configuration: a [source] for db as `user` (NULL: the test
 * superuser), slot and publication "<slot>_pub", then source_extra lines;
 * sink: the file sink, or `sink` (whole sections) when given. */
static void write_conf(struct check_run *r, const char *conninfo, const char *slot,
                       const char *source_extra, const char *sink)
{
    FILE *f = fopen(r->w.conf, "w");
    cr_assert(f, "cannot write %s", r->w.conf);
    fprintf(f,
            "[source]\nconninfo = %s\nslot = %s\npublication = %s_pub\nstate_file = %s/state\n"
            "%s\n",
            conninfo, slot, slot, r->w.dir, source_extra ? source_extra : "");
    if (sink)
        fprintf(f, "%s\n", sink);
    else
        fprintf(f, "[sink]\ntype = file\ndir = %s\n[file]\npath = %s\nfsync = never\n",
                wwt_sink_dir(), r->w.out);
    fclose(f);
}

/* The conninfo of the test server for db as user (NULL: the superuser). */
static char *conninfo_for(const char *db, const char *user)
{
    char *s;
    cr_assert(asprintf(&s, "host=%s port=%s dbname=%s user=%s", wwt_env("WW_TEST_PGHOST"),
                       wwt_env("WW_TEST_PGPORT"), db, user ? user : wwt_env("WW_TEST_PGUSER")) > 0);
    return s;
}

/* Run `walwire check -c conf [--json]` with stdout and stderr apart; env:
 * "NAME=value" strings that replace variables of ours (PGPASSWORD is the
 * test server's unless given). */
static void run_check(struct check_run *r, bool json, const char *const *env)
{
    char out_path[256], err_path[256];
    snprintf(out_path, sizeof out_path, "%s/stdout", r->w.dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", r->w.dir);

    size_t n = 0, extra = 0;
    while (environ[n])
        n++;
    while (env && env[extra])
        extra++;
    char **envp = calloc(n + extra + 2, sizeof *envp);
    cr_assert(envp);
    size_t k = 0;
    bool has_pw = false;
    for (size_t i = 0; i < extra; i++) {
        envp[k++] = (char *)env[i];
        has_pw |= strncmp(env[i], "PGPASSWORD=", 11) == 0;
    }
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t len = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
        bool replaced = strncmp(environ[i], "PGPASSWORD=", 11) == 0;
        for (size_t j = 0; j < extra && !replaced; j++)
            replaced = strncmp(environ[i], env[j], len) == 0;
        if (!replaced)
            envp[k++] = environ[i];
    }
    char pw[256];
    if (!has_pw) {
        snprintf(pw, sizeof pw, "PGPASSWORD=%s", wwt_env("WW_TEST_PGPASSWORD"));
        envp[k++] = pw;
    }
    envp[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *argv[] = {(char *)wwt_walwire_bin(), "check", "-c", r->w.conf,
                    json ? "--json" : NULL,    NULL};
    int rc = posix_spawn(&r->w.pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    cr_assert(rc == 0, "cannot start %s: %s", argv[0], strerror(rc));
    r->code = wwt_wait(&r->w, 60000);
    free(r->out);
    free(r->err);
    r->out = wwt_read_file(out_path, NULL);
    r->err = wwt_read_file(err_path, NULL);
    cr_assert_lt(r->code, 128, "walwire died of signal %d:\n%s%s", r->code - 128, r->out, r->err);
}

static void run_free(struct check_run *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* ---- reading the table ------------------------------------------------ */

struct row {
    char verdict[8]; /* ok warn FAIL skip */
    char detail[2048];
    char fix[2048]; /* "" when the row has none */
};

/* Copy line [s, e) trimmed of spaces into buf. */
static void trimmed(const char *s, const char *e, char *buf, size_t len)
{
    while (s < e && *s == ' ')
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\n'))
        e--;
    size_t n = (size_t)(e - s) < len - 1 ? (size_t)(e - s) : len - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
}

/* Find row `name` in the table: the header gives the column offsets. */
static bool find_row(const char *out, const char *name, struct row *row)
{
    const char *result = strstr(out, "RESULT"), *detail = strstr(out, "DETAIL");
    cr_assert(strncmp(out, "CHECK", 5) == 0 && result && detail, "no table header:\n%s", out);
    size_t rcol = (size_t)(result - out), dcol = (size_t)(detail - out);
    bool found = false;
    for (const char *line = strchr(out, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        const char *s = line + 1, *end = strchr(s, '\n');
        if (!end)
            end = s + strlen(s);
        if ((size_t)(end - s) <= dcol)
            continue;
        char col1[64], col2[16];
        trimmed(s, s + rcol, col1, sizeof col1);
        trimmed(s + rcol, s + dcol, col2, sizeof col2);
        if (found) { /* the fix line, if any, follows its row */
            if (!col1[0] && !col2[0] && strncmp(s + dcol, "fix: ", 5) == 0)
                trimmed(s + dcol + 5, end, row->fix, sizeof row->fix);
            return true;
        }
        if (strcmp(col1, name) == 0) {
            found = true;
            snprintf(row->verdict, sizeof row->verdict, "%s", col2);
            trimmed(s + dcol, end, row->detail, sizeof row->detail);
            row->fix[0] = '\0';
        }
    }
    return found;
}

/* The row, which must exist. */
static struct row get_row(const struct check_run *r, const char *name)
{
    struct row row;
    cr_assert(find_row(r->out, name, &row), "no row \"%s\" in:\n%s\nstderr:\n%s", name, r->out,
              r->err);
    return row;
}

#define assert_row(r, name, want, ...)                                                             \
    do {                                                                                           \
        struct row row_ = get_row((r), (name));                                                    \
        cr_assert_str_eq(row_.verdict, (want), "row %s is %s, not %s:\n%s", (name), row_.verdict,  \
                         (want), (r)->out);                                                        \
    } while (0)

static int count_verdict(const char *out, const char *verdict)
{
    int n = 0;
    for (size_t i = 0; i < sizeof all_rows / sizeof *all_rows; i++) {
        struct row row;
        if (find_row(out, all_rows[i], &row) && strcmp(row.verdict, verdict) == 0)
            n++;
    }
    return n;
}

/* ---- fixtures --------------------------------------------------------- */

static char *slot_name(const char *tag)
{
    static int n;
    char *s;
    cr_assert(asprintf(&s, "%s_%d_%d", tag, (int)getpid(), ++n) > 0);
    return s;
}

/* A role that logs in with ROLE_PW; attrs e.g. "REPLICATION". */
static char *create_role(const char *tag, const char *attrs)
{
    char *role = slot_name(tag);
    wwt_create_role(role, ROLE_PW, attrs);
    return role;
}

static const char *const role_env[] = {"PGPASSWORD=" ROLE_PW, NULL};

/* ---- tests against the shared server ---------------------------------- */

Test(check, ready_database_lists_every_check)
{
    char *db = wwt_new_db("chk_ready");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE items (id int PRIMARY KEY, qty int)");
    char *slot = slot_name("ready");
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *ci = conninfo_for(db, NULL);
    write_conf(&r, ci, slot, NULL, NULL);
    run_check(&r, false, NULL);

    cr_assert_eq(r.code, 0, "check failed on a ready database:\n%s\n%s", r.out, r.err);
    for (size_t i = 0; i < sizeof all_rows / sizeof *all_rows; i++) {
        struct row row = get_row(&r, all_rows[i]);
        cr_assert(strcmp(row.verdict, "ok") == 0, "row %s is %s on a ready database:\n%s",
                  all_rows[i], row.verdict, r.out);
    }
    struct row row = get_row(&r, "wal_level");
    cr_assert_str_eq(row.detail, "logical");
    row = get_row(&r, "publication");
    cr_assert(strstr(row.detail, "will create it FOR ALL TABLES"), "%s", r.out);
    row = get_row(&r, "slot");
    cr_assert(strstr(row.detail, "will create it"), "%s", r.out);
    row = get_row(&r, "sink");
    cr_assert(strstr(row.detail, r.w.out), "the sink row does not name the file:\n%s", r.out);
    cr_assert(strstr(r.out, "\nready:"), "no summary:\n%s", r.out);
    cr_assert(!strstr(r.out, "FAIL"), "%s", r.out);
    /* The check only reads: nothing was created. */
    cr_assert_eq(
        wwt_int(c, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'", slot), 0);
    cr_assert_eq(wwt_int(c, "SELECT count(*) FROM pg_publication"), 0);

    run_free(&r);
    free(ci);
    free(slot);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

Test(check, missing_publication_not_allowed)
{
    char *db = wwt_new_db("chk_nopub");
    char *slot = slot_name("nopub");
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *ci = conninfo_for(db, NULL);
    write_conf(&r, ci, slot, "create_publication = false", NULL);
    run_check(&r, false, NULL);

    cr_assert_eq(r.code, 3, "exit %d:\n%s", r.code, r.out);
    struct row row = get_row(&r, "publication");
    cr_assert_str_eq(row.verdict, "FAIL", "%s", r.out);
    cr_assert(strstr(row.detail, "does not exist") && strstr(row.detail, "create_publication"),
              "%s", r.out);
    cr_assert(strstr(row.fix, "CREATE PUBLICATION") && strstr(row.fix, slot), "%s", r.out);
    cr_assert(strstr(r.out, "\nnot ready:"), "%s", r.out);
    run_free(&r);
    free(ci);
    free(slot);
    wwt_drop_db(db);
    free(db);
}

Test(check, table_without_key_warns)
{
    char *db = wwt_new_db("chk_nokey");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE keyed (id int PRIMARY KEY)");
    wwt_exec(c, "CREATE TABLE nokey (a int, b int)");
    char *slot = slot_name("nokey");
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *ci = conninfo_for(db, NULL);
    write_conf(&r, ci, slot, NULL, NULL);
    run_check(&r, false, NULL);

    cr_assert_eq(r.code, 0, "a warning must not fail the check:\n%s", r.out);
    struct row row = get_row(&r, "keys");
    cr_assert_str_eq(row.verdict, "warn", "%s", r.out);
    cr_assert(strstr(row.detail, "public.nokey") && !strstr(row.detail, "public.keyed"), "%s",
              r.out);
    cr_assert(strstr(row.detail, "null key"), "%s", r.out);
    cr_assert(strstr(row.fix, "REPLICA IDENTITY FULL"), "%s", r.out);

    /* REPLICA IDENTITY FULL is a key: the warning goes away. */
    wwt_exec(c, "ALTER TABLE nokey REPLICA IDENTITY FULL");
    run_check(&r, false, NULL);
    cr_assert_eq(r.code, 0, "%s", r.out);
    assert_row(&r, "keys", "ok");

    run_free(&r);
    free(ci);
    free(slot);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

Test(check, toast_column_without_full_warns)
{
    char *db = wwt_new_db("chk_toast");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE docs (id int PRIMARY KEY, n int, body text, meta jsonb)");
    wwt_exec(c, "CREATE TABLE plain (id int PRIMARY KEY, n bigint)");
    char *slot = slot_name("toast");
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *ci = conninfo_for(db, NULL);
    write_conf(&r, ci, slot, NULL, NULL);
    run_check(&r, false, NULL);

    cr_assert_eq(r.code, 0, "a warning must not fail the check:\n%s", r.out);
    struct row row = get_row(&r, "toast");
    cr_assert_str_eq(row.verdict, "warn", "%s", r.out);
    cr_assert(strstr(row.detail, "public.docs (body, meta)"), "%s", r.out);
    cr_assert(!strstr(row.detail, "plain"), "%s", r.out);
    cr_assert(strstr(row.detail, "__debezium_unavailable_value"), "%s", r.out);
    cr_assert(strstr(row.fix, "ALTER TABLE public.docs REPLICA IDENTITY FULL"), "%s", r.out);

    wwt_exec(c, "ALTER TABLE docs REPLICA IDENTITY FULL");
    run_check(&r, false, NULL);
    assert_row(&r, "toast", "ok");

    run_free(&r);
    free(ci);
    free(slot);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

Test(check, role_without_replication)
{
    char *db = wwt_new_db("chk_norepl");
    char *role = create_role("norepl", "");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY)");
    wwt_exec(c, "GRANT SELECT ON t TO %s", role);
    char *slot = slot_name("norepl");
    wwt_exec(c, "CREATE PUBLICATION %s_pub FOR TABLE t", slot);
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *ci = conninfo_for(db, role);
    write_conf(&r, ci, slot, NULL, NULL);
    run_check(&r, false, role_env);

    cr_assert_eq(r.code, 3, "exit %d:\n%s\n%s", r.code, r.out, r.err);
    struct row row = get_row(&r, "connection");
    cr_assert_str_eq(row.verdict, "ok", "the role could not even connect:\n%s", r.out);
    row = get_row(&r, "role");
    cr_assert_str_eq(row.verdict, "FAIL", "%s", r.out);
    char want[128];
    snprintf(want, sizeof want, "ALTER ROLE %s REPLICATION", role);
    cr_assert(strstr(row.fix, want), "the fix does not say %s:\n%s", want, r.out);
    assert_row(&r, "replication connection", "skip");
    assert_row(&r, "select", "ok");
    assert_row(&r, "publication", "ok");
    cr_assert(!strstr(r.out, ROLE_PW) && !strstr(r.err, ROLE_PW), "password printed:\n%s", r.out);

    run_free(&r);
    free(ci);
    free(slot);
    PQfinish(c);
    wwt_drop_db(db);
    wwt_drop_role(role);
    free(db);
}

Test(check, role_without_select_on_one_table)
{
    char *db = wwt_new_db("chk_nosel");
    char *role = create_role("nosel", "REPLICATION");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE readable (id int PRIMARY KEY)");
    wwt_exec(c, "CREATE TABLE secret (id int PRIMARY KEY)");
    wwt_exec(c, "GRANT SELECT ON readable TO %s", role);
    char *slot = slot_name("nosel");
    wwt_exec(c, "CREATE PUBLICATION %s_pub FOR TABLE readable, secret", slot);
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *ci = conninfo_for(db, role);
    write_conf(&r, ci, slot, NULL, NULL);
    run_check(&r, false, role_env);

    cr_assert_eq(r.code, 3, "exit %d:\n%s\n%s", r.code, r.out, r.err);
    struct row row = get_row(&r, "select");
    cr_assert_str_eq(row.verdict, "FAIL", "%s", r.out);
    cr_assert(strstr(row.detail, "public.secret") && !strstr(row.detail, "readable"), "%s", r.out);
    char want[160];
    snprintf(want, sizeof want, "GRANT SELECT ON public.secret TO %s;", role);
    cr_assert(strstr(row.fix, want), "the fix does not say %s:\n%s", want, r.out);
    /* Everything else about this role is fine, including a walsender. */
    assert_row(&r, "role", "ok");
    assert_row(&r, "replication connection", "ok");
    assert_row(&r, "publication", "ok");
    cr_assert_eq(count_verdict(r.out, "FAIL"), 1, "%s", r.out);

    run_free(&r);
    free(ci);
    free(slot);
    PQfinish(c);
    wwt_drop_db(db);
    wwt_drop_role(role);
    free(db);
}

Test(check, heartbeat_without_emit_message)
{
    char *db = wwt_new_db("chk_hb");
    char *role = create_role("hb", "REPLICATION");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY)");
    wwt_exec(c, "GRANT SELECT ON t TO %s", role);
    char *slot = slot_name("hb");
    wwt_exec(c, "CREATE PUBLICATION %s_pub FOR TABLE t", slot);
    /* pg_proc is per database: this changes only the test's own. */
    wwt_exec(c, "REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) "
                "FROM PUBLIC");
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *ci = conninfo_for(db, role);
    write_conf(&r, ci, slot, "heartbeat_interval = 5s", NULL);
    run_check(&r, false, role_env);
    cr_assert_eq(r.code, 3, "exit %d:\n%s\n%s", r.code, r.out, r.err);
    struct row row = get_row(&r, "heartbeat");
    cr_assert_str_eq(row.verdict, "FAIL", "%s", r.out);
    cr_assert(strstr(row.fix, "GRANT EXECUTE ON FUNCTION pg_logical_emit_message"), "%s", r.out);

    /* Without a heartbeat the same role is ready. */
    write_conf(&r, ci, slot, "heartbeat_interval = 0", NULL);
    run_check(&r, false, role_env);
    cr_assert_eq(r.code, 0, "%s", r.out);
    row = get_row(&r, "heartbeat");
    cr_assert(strstr(row.detail, "may not run"), "%s", r.out);

    run_free(&r);
    free(ci);
    free(slot);
    PQfinish(c);
    wwt_drop_db(db);
    wwt_drop_role(role);
    free(db);
}

Test(check, configured_tables_missing_or_unpublished)
{
    char *db = wwt_new_db("chk_tables");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE a (id int PRIMARY KEY)");
    wwt_exec(c, "CREATE TABLE b (id int PRIMARY KEY)");
    char *slot = slot_name("tables");
    wwt_exec(c, "CREATE PUBLICATION %s_pub FOR TABLE a", slot);
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *ci = conninfo_for(db, NULL);

    /* b is not published but walwire may add it; nosuch does not exist. */
    write_conf(&r, ci, slot, "tables = public.a, public.b, public.nosuch", NULL);
    run_check(&r, false, NULL);
    cr_assert_eq(r.code, 3, "%s", r.out);
    struct row row = get_row(&r, "tables");
    cr_assert_str_eq(row.verdict, "FAIL", "%s", r.out);
    cr_assert(strstr(row.detail, "not found: public.nosuch"), "%s", r.out);

    /* Without nosuch, walwire adds b itself. */
    write_conf(&r, ci, slot, "tables = public.a, public.b", NULL);
    run_check(&r, false, NULL);
    cr_assert_eq(r.code, 0, "%s", r.out);
    row = get_row(&r, "tables");
    cr_assert(strstr(row.detail, "will add public.b"), "%s", r.out);

    /* ... unless it may not change the publication. */
    write_conf(&r, ci, slot, "tables = public.a, public.b\ncreate_publication = false", NULL);
    run_check(&r, false, NULL);
    cr_assert_eq(r.code, 3, "%s", r.out);
    row = get_row(&r, "tables");
    cr_assert_str_eq(row.verdict, "FAIL", "%s", r.out);
    char want[160];
    snprintf(want, sizeof want, "ALTER PUBLICATION %s_pub ADD TABLE public.b;", slot);
    cr_assert(strstr(row.fix, want), "the fix does not say %s:\n%s", want, r.out);

    run_free(&r);
    free(ci);
    free(slot);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

Test(check, slot_with_another_plugin)
{
    char *db = wwt_new_db("chk_plugin");
    PGconn *c = wwt_pg(db);
    char *slot = slot_name("plugin");
    wwt_exec(c, "SELECT pg_create_logical_replication_slot('%s', 'test_decoding')", slot);
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *ci = conninfo_for(db, NULL);
    write_conf(&r, ci, slot, NULL, NULL);
    run_check(&r, false, NULL);

    cr_assert_eq(r.code, 3, "exit %d:\n%s", r.code, r.out);
    struct row row = get_row(&r, "slot");
    cr_assert_str_eq(row.verdict, "FAIL", "%s", r.out);
    cr_assert(strstr(row.detail, "test_decoding") && strstr(row.detail, "pgoutput"), "%s", r.out);
    cr_assert(strstr(row.fix, "pg_drop_replication_slot"), "%s", r.out);
    assert_row(&r, "slot wal", "ok");

    run_free(&r);
    free(ci);
    free(slot);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

Test(check, active_slot_warns_with_pid)
{
    char *db = wwt_new_db("chk_active");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY)");
    char *slot = slot_name("active");
    wwt_exec(c, "CREATE PUBLICATION %s_pub FOR TABLE t", slot);
    wwt_exec(c, "SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", slot);

    /* Another consumer streams from the slot. */
    long long pid;
    PGconn *repl = wwt_hold_slot(c, db, slot, &pid);

    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *ci = conninfo_for(db, NULL);
    write_conf(&r, ci, slot, NULL, NULL);
    run_check(&r, false, NULL);

    cr_assert_eq(r.code, 0, "an active slot is a warning, not a failure:\n%s", r.out);
    struct row row = get_row(&r, "slot");
    cr_assert_str_eq(row.verdict, "warn", "%s", r.out);
    char want[64];
    snprintf(want, sizeof want, "active for PID %lld", pid);
    cr_assert(strstr(row.detail, want) && strstr(row.detail, "other-consumer"),
              "the row does not name PID %lld:\n%s", pid, r.out);
    row = get_row(&r, "slot wal");
    cr_assert(strstr(row.detail, "wal_status reserved"), "%s", r.out);

    PQfinish(repl);
    run_free(&r);
    free(ci);
    free(slot);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* The verdicts of the JSON output, as the table spells them. */
static const char *table_verdict(const char *json_result)
{
    return strcmp(json_result, "fail") == 0 ? "FAIL" : json_result;
}

/* Rows whose detail holds numbers that move between two runs (WAL
 * positions, connection counts). */
static bool is_volatile(const char *name)
{
    static const char *const rows[] = {"replication slots", "wal senders", "connections",
                                       "replication connection", "slot wal"};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        if (strcmp(name, rows[i]) == 0)
            return true;
    return false;
}

Test(check, json_has_the_same_verdicts)
{
    char *db = wwt_new_db("chk_json");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE nokey (a int, \"quoted \"\" name\" text)");
    char *slot = slot_name("json");
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *ci = conninfo_for(db, NULL);
    /* One failure (publication) and warnings (keys, toast). */
    write_conf(&r, ci, slot, "create_publication = false", NULL);
    run_check(&r, false, NULL);
    cr_assert_eq(r.code, 3, "%s", r.out);
    char *table = strdup(r.out);
    run_check(&r, true, NULL);
    cr_assert_eq(r.code, 3, "%s", r.out);

    const char *err = NULL;
    struct mj *doc = mj_parse(r.out, strlen(r.out), &err);
    cr_assert(doc, "not JSON (%s):\n%s", err, r.out);
    cr_assert(mj_get(doc, "ready") && mj_get(doc, "ready")->type == MJ_BOOL &&
                  !mj_get(doc, "ready")->boolean,
              "%s", r.out);
    const struct mj *checks = mj_get(doc, "checks");
    cr_assert(checks && checks->type == MJ_ARRAY, "%s", r.out);
    cr_assert_eq(checks->n, sizeof all_rows / sizeof *all_rows, "%s", r.out);
    int failed = 0, warned = 0;
    for (size_t i = 0; i < checks->n; i++) {
        const struct mj *ck = mj_at(checks, i);
        const char *name = mj_str(mj_get(ck, "name")), *result = mj_str(mj_get(ck, "result"));
        const char *detail = mj_str(mj_get(ck, "detail"));
        cr_assert(name && result && detail, "incomplete check %zu:\n%s", i, r.out);
        cr_assert_str_eq(name, all_rows[i], "rows out of order:\n%s", r.out);
        struct row row;
        cr_assert(find_row(table, name, &row), "%s is not in the table:\n%s", name, table);
        cr_assert_str_eq(row.verdict, table_verdict(result), "%s: table %s, JSON %s", name,
                         row.verdict, result);
        if (!is_volatile(name))
            cr_assert_str_eq(row.detail, detail, "%s: the details differ", name);
        const struct mj *fix = mj_get(ck, "fix");
        cr_assert(fix, "%s has no fix member", name);
        if (strcmp(result, "fail") == 0) {
            failed++;
            cr_assert(mj_str(fix) && *mj_str(fix), "failed row %s has no fix:\n%s", name, r.out);
            cr_assert_str_eq(row.fix, mj_str(fix));
        }
        warned += strcmp(result, "warn") == 0;
    }
    cr_assert_eq(failed, 1, "%s", r.out);
    cr_assert_geq(warned, 2, "%s", r.out);
    cr_assert_eq(mj_int(mj_get(doc, "failed")), failed);
    cr_assert_eq(mj_int(mj_get(doc, "warnings")), warned);
    cr_assert_str_eq(r.err, "", "stderr is not empty:\n%s", r.err);

    mj_free(doc);
    free(table);
    run_free(&r);
    free(ci);
    free(slot);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

Test(check, wrong_password)
{
    char *db = wwt_new_db("chk_pw");
    char *slot = slot_name("pw");
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *base = conninfo_for(db, NULL), *ci;
    cr_assert(asprintf(&ci, "%s password=%s", base, SECRET) > 0);
    write_conf(&r, ci, slot, NULL, NULL);
    run_check(&r, false, NULL);

    cr_assert_eq(r.code, 3, "exit %d:\n%s", r.code, r.out);
    struct row row = get_row(&r, "connection");
    cr_assert_str_eq(row.verdict, "FAIL", "%s", r.out);
    cr_assert(strstr(row.detail, "password authentication failed"), "%s", r.out);
    cr_assert(row.fix[0], "no fix:\n%s", r.out);
    cr_assert_eq(count_verdict(r.out, "FAIL"), 1, "not one failed row:\n%s", r.out);
    cr_assert(!strstr(r.out, SECRET) && !strstr(r.err, SECRET), "the password is printed:\n%s%s",
              r.out, r.err);
    /* The JSON says the same, without the password either. */
    run_check(&r, true, NULL);
    cr_assert_eq(r.code, 3);
    cr_assert(strstr(r.out, "password authentication failed") && !strstr(r.out, SECRET), "%s",
              r.out);

    run_free(&r);
    free(ci);
    free(base);
    free(slot);
    wwt_drop_db(db);
    free(db);
}

Test(check, unreachable_server)
{
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    /* Port 1 on loopback: nothing listens there. */
    write_conf(&r, "host=127.0.0.1 port=1 dbname=x user=u connect_timeout=5", "unreach", NULL,
               NULL);
    run_check(&r, false, NULL);
    cr_assert_eq(r.code, 3, "exit %d:\n%s", r.code, r.out);
    struct row row = get_row(&r, "connection");
    cr_assert_str_eq(row.verdict, "FAIL", "%s", r.out);
    cr_assert(strstr(row.detail, "port=1"), "%s", r.out);
    cr_assert_eq(count_verdict(r.out, "FAIL"), 1, "not one failed row:\n%s", r.out);
    assert_row(&r, "sink", "ok");
    run_free(&r);
}

Test(check, unknown_sink_type)
{
    char *db = wwt_new_db("chk_sink");
    char *slot = slot_name("sink");
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *ci = conninfo_for(db, NULL), *sink;
    cr_assert(asprintf(&sink, "[sink]\ntype = nosuch\ndir = %s", wwt_sink_dir()) > 0);
    write_conf(&r, ci, slot, NULL, sink);
    run_check(&r, false, NULL);

    cr_assert_eq(r.code, 3, "exit %d:\n%s", r.code, r.out);
    struct row row = get_row(&r, "sink");
    cr_assert_str_eq(row.verdict, "FAIL", "%s", r.out);
    cr_assert(strstr(row.detail, "sink_nosuch.so"), "the module is not named:\n%s", r.out);
    cr_assert(row.fix[0], "%s", r.out);
    assert_row(&r, "wal_level", "ok"); /* the database half ran all the same */
    cr_assert_eq(count_verdict(r.out, "FAIL"), 1, "%s", r.out);

    run_free(&r);
    free(sink);
    free(ci);
    free(slot);
    wwt_drop_db(db);
    free(db);
}

Test(check, sink_that_fails_to_open)
{
    char *db = wwt_new_db("chk_sinkopen");
    char *slot = slot_name("sinkopen");
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char *ci = conninfo_for(db, NULL), *sink;
    cr_assert(asprintf(&sink,
                       "[sink]\ntype = file\ndir = %s\n[file]\npath = %s/out\n"
                       "fsync = sometimes",
                       wwt_sink_dir(), r.w.dir) > 0);
    write_conf(&r, ci, slot, NULL, sink);
    run_check(&r, false, NULL);

    cr_assert_eq(r.code, 3, "exit %d:\n%s", r.code, r.out);
    struct row row = get_row(&r, "sink");
    cr_assert_str_eq(row.verdict, "FAIL", "%s", r.out);
    cr_assert(strstr(row.detail, "fsync") && strstr(row.detail, "sometimes"),
              "the sink's message is not in the row:\n%s", r.out);
    cr_assert(strstr(row.fix, "[file]"), "%s", r.out);

    run_free(&r);
    free(sink);
    free(ci);
    free(slot);
    wwt_drop_db(db);
    free(db);
}

/* ---- a second server -------------------------------------------------- */

/* The second server of the running test, stopped by .fini even when the
 * test fails half-way. */
static struct wwt_server second;

static void stop_second(void)
{
    wwt_server_stop(&second);
}


Test(check, wal_level_replica, .timeout = 120, .fini = stop_second)
{
    uint64_t t0 = wwt_now_ms();
    struct wwt_server *s = &second;
    wwt_server_start(s, "-c wal_level=replica");
    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char ci[128];
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d dbname=postgres user=postgres", s->port);
    write_conf(&r, ci, "replica_check", NULL, NULL);
    run_check(&r, false, NULL);

    cr_assert_eq(r.code, 3, "exit %d:\n%s\n%s", r.code, r.out, r.err);
    struct row row = get_row(&r, "wal_level");
    cr_assert_str_eq(row.verdict, "FAIL", "%s", r.out);
    cr_assert(strstr(row.detail, "replica"), "%s", r.out);
    cr_assert(strstr(row.fix, "ALTER SYSTEM SET wal_level = logical") && strstr(row.fix, "restart"),
              "%s", r.out);
    cr_assert_eq(count_verdict(r.out, "FAIL"), 1, "%s", r.out);
    cr_log_info("wal_level test with its own server took %llu ms",
                (unsigned long long)(wwt_now_ms() - t0));
    run_free(&r);
}

/* One round of WAL past the slot: a segment switch and a checkpoint (which
 * invalidates slots beyond max_slot_wal_keep_size). Is the slot lost? */
static bool push_wal_past_slot(PGconn *c)
{
    wwt_exec(c, "INSERT INTO filler SELECT generate_series(1, 100)");
    wwt_exec(c, "SELECT pg_switch_wal()");
    wwt_exec(c, "CHECKPOINT");
    char *status = wwt_value(c, "SELECT wal_status FROM pg_replication_slots");
    bool lost = status && strcmp(status, "lost") == 0;
    free(status);
    return lost;
}

Test(check, lost_slot, .timeout = 120, .fini = stop_second)
{
    struct wwt_server *s = &second;
    wwt_server_start(s, "-c wal_level=logical -c max_slot_wal_keep_size=1MB");
    PGconn *c = wwt_server_connect(s);
    wwt_exec(c, "SELECT pg_create_logical_replication_slot('lost_slot', 'pgoutput')");
    wwt_exec(c, "CREATE TABLE filler (a int)");
    bool lost = WWT_POLL_UNTIL(30000, push_wal_past_slot(c));
    PQfinish(c);
    cr_assert(lost, "the slot was not invalidated");

    struct check_run r = {0};
    wwt_walwire_init(&r.w);
    char ci[128];
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d dbname=postgres user=postgres", s->port);
    write_conf(&r, ci, "lost_slot", NULL, NULL);
    run_check(&r, false, NULL);

    cr_assert_eq(r.code, 3, "exit %d:\n%s\n%s", r.code, r.out, r.err);
    struct row row = get_row(&r, "slot wal");
    cr_assert_str_eq(row.verdict, "FAIL", "%s", r.out);
    cr_assert(strstr(row.detail, "lost") && strstr(row.detail, "gap"), "%s", r.out);
    cr_assert(strstr(row.fix, "pg_drop_replication_slot('lost_slot')") &&
                  strstr(row.fix, "snapshot"),
              "%s", r.out);
    run_free(&r);
}
