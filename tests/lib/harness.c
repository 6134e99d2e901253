#define _GNU_SOURCE
#include "harness.h"

#include "minijson.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

uint64_t wwt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void wwt_pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

const char *wwt_env(const char *name)
{
    const char *v = getenv(name);
    cr_assert(v && *v, "%s is not set: start the test servers with tests/services.sh start and "
                       "export the variables it prints (tests/run.sh does both)", name);
    return v;
}

void wwt_services(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "WW_SERVICES_DIR='%s' '%s/tests/services.sh' %s",
             wwt_env("WW_SERVICES_DIR"), WW_SOURCE_ROOT, args);
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "%s failed with %d", cmd, rc);
}

const char *wwt_walwire_bin(void)
{
    return WW_BUILD_ROOT "/walwire";
}

const char *wwt_sink_dir(void)
{
    return WW_BUILD_ROOT "/sinks";
}

PGconn *wwt_pg(const char *dbname)
{
    const char *kw[] = {"host", "port", "user", "password", "dbname", "application_name", NULL};
    const char *val[] = {wwt_env("WW_TEST_PGHOST"), wwt_env("WW_TEST_PGPORT"),
                         wwt_env("WW_TEST_PGUSER"), wwt_env("WW_TEST_PGPASSWORD"),
                         dbname, "walwire-test", NULL};
    PGconn *c = PQconnectdbParams(kw, val, 0);
    cr_assert(PQstatus(c) == CONNECTION_OK, "cannot connect to the test server: %s",
              PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

static PGresult *vquery(PGconn *c, const char *fmt, va_list ap)
{
    char *sql;
    cr_assert(vasprintf(&sql, fmt, ap) >= 0);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "SQL failed: %s\n%s",
              PQresultErrorMessage(r), sql);
    free(sql);
    return r;
}

void wwt_exec(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PQclear(vquery(c, fmt, ap));
    va_end(ap);
}

static char *vvalue(PGconn *c, const char *fmt, va_list ap)
{
    PGresult *r = vquery(c, fmt, ap);
    char *v = NULL;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

char *wwt_value(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = vvalue(c, fmt, ap);
    va_end(ap);
    return v;
}

long long wwt_int(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = vvalue(c, fmt, ap);
    va_end(ap);
    long long n = v ? strtoll(v, NULL, 10) : 0;
    free(v);
    return n;
}

uint64_t wwt_lsn(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = vvalue(c, fmt, ap);
    va_end(ap);
    unsigned hi = 0, lo = 0;
    if (v)
        cr_assert(sscanf(v, "%X/%X", &hi, &lo) == 2, "not an LSN: %s", v);
    free(v);
    return (uint64_t)hi << 32 | lo;
}

char *wwt_new_db(const char *tag)
{
    static int counter;
    char *name;
    cr_assert(asprintf(&name, "%s_%d_%d", tag, (int)getpid(), ++counter) > 0);
    PGconn *c = wwt_pg("postgres");
    wwt_exec(c, "DROP DATABASE IF EXISTS %s", name);
    wwt_exec(c, "CREATE DATABASE %s", name);
    PQfinish(c);
    return name;
}

void wwt_create_role(const char *name, const char *password, const char *attrs)
{
    PGconn *c = wwt_pg("postgres");
    wwt_exec(c, "DROP ROLE IF EXISTS %s", name);
    wwt_exec(c, "CREATE ROLE %s LOGIN PASSWORD '%s' %s", name, password, attrs);
    PQfinish(c);
}

void wwt_drop_role(char *name)
{
    PGconn *c = wwt_pg("postgres");
    wwt_exec(c, "DROP ROLE IF EXISTS %s", name);
    PQfinish(c);
    free(name);
}

PGconn *wwt_hold_slot(PGconn *admin, const char *db, const char *slot, long long *pid)
{
    const char *kw[] = {
        "host", "port", "user", "password", "dbname", "replication", "application_name", NULL};
    const char *val[] = {wwt_env("WW_TEST_PGHOST"),
                         wwt_env("WW_TEST_PGPORT"),
                         wwt_env("WW_TEST_PGUSER"),
                         wwt_env("WW_TEST_PGPASSWORD"),
                         db,
                         "database",
                         "other-consumer",
                         NULL};
    PGconn *holder = PQconnectdbParams(kw, val, 0);
    cr_assert(PQstatus(holder) == CONNECTION_OK, "%s", PQerrorMessage(holder));
    char sql[256];
    snprintf(sql, sizeof sql,
             "START_REPLICATION SLOT %s LOGICAL 0/0 (proto_version '1', publication_names "
             "'%s_pub')",
             slot, slot);
    cr_assert(PQsendQuery(holder, sql), "%s", PQerrorMessage(holder));
    cr_assert(WWT_POLL_UNTIL(10000, wwt_int(admin,
                                            "SELECT count(*) FROM pg_replication_slots "
                                            "WHERE slot_name = '%s' AND active",
                                            slot) == 1),
              "the other consumer did not take slot %s", slot);
    *pid = wwt_int(admin, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '%s'",
                   slot);
    return holder;
}

void wwt_drop_db(const char *db)
{
    PGconn *c = wwt_pg("postgres");
    wwt_exec(c, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                "WHERE database = '%s' AND active_pid IS NOT NULL", db);
    /* A terminated walsender releases its slot asynchronously. */
    bool released = WWT_POLL_UNTIL(10000, wwt_int(c, "SELECT count(*) FROM pg_replication_slots "
                                                     "WHERE database = '%s' AND active", db) == 0);
    cr_assert(released, "slots of %s still active", db);
    wwt_exec(c, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE database = '%s'", db);
    wwt_exec(c, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    PQfinish(c);
}

void wwt_walwire_init(struct wwt_walwire *w)
{
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/walwire-test-XXXXXX");
    cr_assert(mkdtemp(w->dir), "mkdtemp: %s", strerror(errno));
    snprintf(w->conf, sizeof w->conf, "%s/walwire.conf", w->dir);
    snprintf(w->log, sizeof w->log, "%s/walwire.log", w->dir);
    snprintf(w->out, sizeof w->out, "%s/out.jsonl", w->dir);
}

void wwt_write_config(struct wwt_walwire *w, const char *db, const char *slot, const char *extra)
{
    FILE *f = fopen(w->conf, "w");
    cr_assert(f, "cannot write %s", w->conf);
    fprintf(f,
            "[source]\n"
            "conninfo = host=%s port=%s dbname=%s user=%s\n"
            "slot = %s\n"
            "publication = %s_pub\n"
            "status_interval = 1s\n"
            "state_file = %s/state\n"
            "\n[sink]\ntype = file\ndir = %s\n"
            "\n[file]\npath = %s\nfsync = never\n"
            "%s\n",
            wwt_env("WW_TEST_PGHOST"), wwt_env("WW_TEST_PGPORT"), db, wwt_env("WW_TEST_PGUSER"),
            slot, slot, w->dir, wwt_sink_dir(), w->out, extra ? extra : "");
    fclose(f);
}

void wwt_start(struct wwt_walwire *w, const char *cmd, const char *const *env)
{
    /* The child's environment: ours, the password for libpq, extras. */
    size_t n = 0;
    while (environ[n])
        n++;
    size_t extra = 0;
    while (env && env[extra])
        extra++;
    char **envp = calloc(n + extra + 2, sizeof *envp);
    cr_assert(envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        envp[k++] = environ[i];
    char pw[256];
    snprintf(pw, sizeof pw, "PGPASSWORD=%s", wwt_env("WW_TEST_PGPASSWORD"));
    envp[k++] = pw;
    for (size_t i = 0; i < extra; i++)
        envp[k++] = (char *)env[i];
    envp[k] = NULL;

    w->streams_before = wwt_file_count(w->log, "streaming started");
    /* fork and exec rather than posix_spawn: the child asks to be killed
     * when the test that started it ends, so that a failed assertion never
     * leaves a walwire running. Only async-signal-safe calls after fork. */
    int logfd = open(w->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    cr_assert(logfd >= 0, "cannot open %s: %s", w->log, strerror(errno));
    char *argv[] = {(char *)wwt_walwire_bin(), (char *)cmd, "-c", w->conf, NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) /* the test already ended */
            _exit(127);
        dup2(logfd, 1);
        dup2(logfd, 2);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    int r = pid < 0 ? errno : 0;
    close(logfd);
    free(envp);
    w->pid = pid < 0 ? 0 : pid;
    cr_assert(r == 0, "cannot start %s: %s", argv[0], strerror(r));
}

static int decode_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

bool wwt_exited(struct wwt_walwire *w, int *code)
{
    if (!w->pid)
        return true;
    int status;
    pid_t p = wait4(w->pid, &status, WNOHANG, &w->usage);
    if (p != w->pid)
        return false;
    w->pid = 0;
    if (code)
        *code = decode_status(status);
    return true;
}

int wwt_wait(struct wwt_walwire *w, int timeout_ms)
{
    int code = -1;
    bool done = WWT_POLL_UNTIL(timeout_ms, wwt_exited(w, &code));
    if (!done) {
        kill(w->pid, SIGKILL);
        int status;
        wait4(w->pid, &status, 0, &w->usage);
        w->pid = 0;
        char *log = wwt_read_file(w->log, NULL);
        cr_assert_fail("walwire did not exit within %d ms; its log:\n%s", timeout_ms, log);
    }
    return code;
}

int wwt_stop(struct wwt_walwire *w)
{
    cr_assert(w->pid, "walwire is not running");
    kill(w->pid, SIGTERM);
    return wwt_wait(w, 60000);
}

void wwt_kill(struct wwt_walwire *w)
{
    if (!w->pid)
        return;
    kill(w->pid, SIGKILL);
    int status;
    wait4(w->pid, &status, 0, &w->usage);
    w->pid = 0;
}

char *wwt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    if (f) {
        size_t cap = 0;
        for (;;) {
            if (cap - n < 65536) {
                cap = cap ? cap * 2 : 1 << 20;
                buf = realloc(buf, cap + 1);
                cr_assert(buf);
            }
            size_t got = fread(buf + n, 1, cap - n, f);
            n += got;
            if (got == 0)
                break;
        }
        fclose(f);
    }
    if (!buf)
        buf = calloc(1, 1);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

size_t wwt_count_lines(const char *path)
{
    size_t len, lines = 0;
    char *s = wwt_read_file(path, &len);
    for (size_t i = 0; i < len; i++)
        lines += s[i] == '\n';
    free(s);
    return lines;
}

uint64_t wwt_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

size_t wwt_file_count(const char *path, const char *needle)
{
    char *s = wwt_read_file(path, NULL);
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(s);
    return n;
}

void wwt_wait_streaming(struct wwt_walwire *w, int timeout_ms)
{
    bool up = WWT_POLL_UNTIL(timeout_ms, wwt_file_count(w->log, "streaming started") >
                                             w->streams_before ||
                                         wwt_exited(w, NULL));
    if (!up || !w->pid) {
        char *log = wwt_read_file(w->log, NULL);
        cr_assert_fail("walwire did not start streaming; its log:\n%s", log);
    }
}

bool wwt_file_contains(const char *path, const char *needle)
{
    char *s = wwt_read_file(path, NULL);
    bool found = strstr(s, needle) != NULL;
    free(s);
    return found;
}

struct mj **wwt_read_events(const char *path, size_t *count)
{
    size_t len;
    char *text = wwt_read_file(path, &len);
    size_t cap = 1024, n = 0;
    struct mj **ev = malloc(cap * sizeof *ev);
    cr_assert(ev);
    char *line = text;
    while (line < text + len) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        cr_assert(nl, "%s ends in an incomplete line", path);
        const char *err = NULL;
        struct mj *v = mj_parse(line, (size_t)(nl - line), &err);
        cr_assert(v, "line %zu of %s is not valid JSON (%s): %.300s", n + 1, path, err, line);
        if (n == cap) {
            ev = realloc(ev, (cap *= 2) * sizeof *ev);
            cr_assert(ev);
        }
        ev[n++] = v;
        line = nl + 1;
    }
    free(text);
    *count = n;
    return ev;
}

void wwt_free_events(struct mj **ev, size_t count)
{
    for (size_t i = 0; i < count; i++)
        mj_free(ev[i]);
    free(ev);
}

void wwt_ids_in_file(const char *path, unsigned char *seen, int max_id)
{
    static const char needle[] = "\"after\":{\"id\":";
    char *s = wwt_read_file(path, NULL);
    for (const char *p = s; (p = strstr(p, needle));) {
        p += sizeof needle - 1;
        long id = strtol(p, NULL, 10);
        if (id >= 1 && id <= max_id)
            seen[id] = 1;
    }
    free(s);
}

int wwt_missing_ids(const char *path, int max_id)
{
    unsigned char *seen = calloc((size_t)max_id + 1, 1);
    cr_assert(seen);
    wwt_ids_in_file(path, seen, max_id);
    int missing = 0;
    for (int i = 1; i <= max_id; i++)
        missing += !seen[i];
    free(seen);
    return missing;
}
