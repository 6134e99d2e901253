#define _GNU_SOURCE
#include "redis_client.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

/* ---- RESP client ------------------------------------------------------------ */

void rv_free(struct rv *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++)
        rv_free(v->el[i]);
    free(v->el);
    free(v->s);
    free(v);
}

static bool rc_init_fd(struct rcli *c, int fd)
{
    struct timeval tv = {.tv_sec = 60};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    c->fd = fd;
    c->cap = 1 << 16;
    c->buf = malloc(c->cap);
    c->r = c->w = 0;
    return true;
}

bool rc_open(struct rcli *c, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (fd >= 0)
            close(fd);
        c->fd = -1;
        return false;
    }
    return rc_init_fd(c, fd);
}

bool rc_open_unix(struct rcli *c, const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (fd >= 0)
            close(fd);
        c->fd = -1;
        return false;
    }
    return rc_init_fd(c, fd);
}

void rc_close(struct rcli *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
}

static bool rc_fill(struct rcli *c)
{
    if (c->r > 0) {
        memmove(c->buf, c->buf + c->r, c->w - c->r);
        c->w -= c->r;
        c->r = 0;
    }
    if (c->cap - c->w < 4096) {
        c->cap *= 2;
        c->buf = realloc(c->buf, c->cap);
    }
    ssize_t n = read(c->fd, c->buf + c->w, c->cap - c->w);
    if (n <= 0)
        return false;
    c->w += (size_t)n;
    return true;
}

/* The next line (without \r\n), copied. */
static char *rc_line(struct rcli *c)
{
    for (;;) {
        char *p = memmem(c->buf + c->r, c->w - c->r, "\r\n", 2);
        if (p) {
            char *line = strndup(c->buf + c->r, (size_t)(p - (c->buf + c->r)));
            c->r = (size_t)(p + 2 - c->buf);
            return line;
        }
        if (!rc_fill(c))
            return NULL;
    }
}

static struct rv *rc_read(struct rcli *c)
{
    char *line = rc_line(c);
    if (!line)
        return NULL;
    struct rv *v = calloc(1, sizeof *v);
    v->type = line[0];
    long long n;
    switch (line[0]) {
    case '+':
    case '-':
        v->s = strdup(line + 1);
        v->len = strlen(v->s);
        break;
    case ':':
        v->i = strtoll(line + 1, NULL, 10);
        break;
    case '$':
        n = strtoll(line + 1, NULL, 10);
        if (n < 0) {
            v->type = 0;
            break;
        }
        while (c->w - c->r < (size_t)n + 2) {
            if (!rc_fill(c)) {
                free(line);
                free(v);
                return NULL;
            }
        }
        v->s = malloc((size_t)n + 1);
        memcpy(v->s, c->buf + c->r, (size_t)n);
        v->s[n] = '\0';
        v->len = (size_t)n;
        c->r += (size_t)n + 2;
        break;
    case '*':
        n = strtoll(line + 1, NULL, 10);
        if (n < 0) {
            v->type = 0;
            break;
        }
        v->n = (size_t)n;
        v->el = calloc(v->n + 1, sizeof *v->el);
        for (size_t i = 0; i < v->n; i++) {
            if (!(v->el[i] = rc_read(c))) {
                free(line);
                rv_free(v);
                return NULL;
            }
        }
        break;
    default:
        free(line);
        free(v);
        return NULL;
    }
    free(line);
    return v;
}

static struct rv *rc_vcmd(struct rcli *c, const char *arg0, va_list ap)
{
    if (c->fd < 0)
        return NULL;
    const char *argv[32];
    int argc = 0;
    for (const char *a = arg0; a && argc < 32; a = va_arg(ap, const char *))
        argv[argc++] = a;
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    fprintf(f, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        fprintf(f, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    fclose(f);
    bool sent = true;
    for (size_t off = 0; off < outlen;) {
        ssize_t n = write(c->fd, out + off, outlen - off);
        if (n <= 0) {
            sent = false;
            break;
        }
        off += (size_t)n;
    }
    free(out);
    return sent ? rc_read(c) : NULL;
}

struct rv *rc_cmd(struct rcli *c, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    struct rv *v = rc_vcmd(c, arg0, ap);
    va_end(ap);
    return v;
}

struct rv *rc_ok(struct rcli *c, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    struct rv *v = rc_vcmd(c, arg0, ap);
    va_end(ap);
    cr_assert(v, "no reply from Redis to %s", arg0);
    cr_assert(v->type != '-', "Redis refused %s: %s", arg0, v->s);
    return v;
}

long long rc_int(struct rcli *c, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    struct rv *v = rc_vcmd(c, arg0, ap);
    va_end(ap);
    cr_assert(v && v->type == ':', "%s: expected an integer reply, got %s", arg0,
              v ? (v->s ? v->s : "another type") : "no reply");
    long long i = v->i;
    rv_free(v);
    return i;
}

/* ---- streams --------------------------------------------------------------- */

static char *field(const struct rv *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->n; i += 2)
        if (strcmp(fields->el[i]->s, name) == 0)
            return strdup(fields->el[i + 1]->s);
    return NULL;
}

void read_stream(struct rcli *c, const char *key, struct sentries *out)
{
    read_stream_after(c, key, NULL, out);
}

void read_stream_after(struct rcli *c, const char *key, const char *after, struct sentries *out)
{
    size_t cap = 1024;
    out->n = 0;
    out->v = malloc(cap * sizeof *out->v);
    char start[64] = "-";
    if (after)
        snprintf(start, sizeof start, "(%s", after);
    for (;;) {
        struct rv *r = rc_ok(c, "XRANGE", key, start, "+", "COUNT", "5000", NULL);
        cr_assert_eq(r->type, '*');
        for (size_t i = 0; i < r->n; i++) {
            const struct rv *e = r->el[i];
            if (out->n == cap)
                out->v = realloc(out->v, (cap *= 2) * sizeof *out->v);
            struct sentry *s = &out->v[out->n++];
            unsigned long long ms, seq;
            cr_assert(sscanf(e->el[0]->s, "%llu-%llu", &ms, &seq) == 2, "bad ID %s", e->el[0]->s);
            s->ms = ms;
            s->seq = seq;
            s->nfields = e->el[1]->n / 2;
            s->op = field(e->el[1], "op");
            s->key = field(e->el[1], "key");
            s->value = field(e->el[1], "value");
        }
        size_t got = r->n;
        if (got)
            snprintf(start, sizeof start, "(%s", r->el[got - 1]->el[0]->s);
        rv_free(r);
        if (got < 5000)
            break;
    }
}

void free_stream(struct sentries *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].op);
        free(s->v[i].key);
        free(s->v[i].value);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

long long after_id(const char *value)
{
    const char *p = value ? strstr(value, "\"after\":{\"id\":") : NULL;
    return p ? strtoll(p + strlen("\"after\":{\"id\":"), NULL, 10) : -1;
}

long long stream_top_id(struct rcli *c, const char *key)
{
    struct rv *r = rc_cmd(c, "XREVRANGE", key, "+", "-", "COUNT", "1", NULL);
    if (!r)
        return -1;
    long long id = 0;
    if (r->type == '*' && r->n == 1) {
        char *v = field(r->el[0]->el[1], "value");
        id = after_id(v);
        free(v);
    }
    rv_free(r);
    return id;
}

/* ---- private redis-server ---------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool answers(struct priv_redis *r)
{
    struct rcli c;
    if (!rc_open(&c, r->port))
        return false;
    struct rv *v = rc_cmd(&c, "PING", NULL);
    /* PONG, or NOAUTH when it has a password: up either way. LOADING: not yet. */
    bool up = v && !(v->type == '-' && strncmp(v->s, "LOADING", 7) == 0);
    rv_free(v);
    rc_close(&c);
    return up;
}

void priv_start(struct priv_redis *r)
{
    if (!r->port) {
        snprintf(r->dir, sizeof r->dir, "/tmp/walwire-redis-XXXXXX");
        cr_assert(mkdtemp(r->dir), "mkdtemp: %s", strerror(errno));
        snprintf(r->sock, sizeof r->sock, "%s/redis.sock", r->dir);
        r->port = free_port();
    }
    char port[16], log[200];
    snprintf(port, sizeof port, "%d", r->port);
    snprintf(log, sizeof log, "%s/redis.log", r->dir);
    const char *argv[64] = {"redis-server",
                            "--port",
                            port,
                            "--bind",
                            "127.0.0.1",
                            "--dir",
                            r->dir,
                            "--save",
                            "",
                            "--appendonly",
                            "yes",
                            "--appendfsync",
                            "always",
                            "--unixsocket",
                            r->sock,
                            "--unixsocketperm",
                            "700",
                            "--logfile",
                            log,
                            "--enable-debug-command",
                            "local"};
    int argc = 21;
    for (size_t i = 0; r->extra && r->extra[i] && argc < 62; i++)
        argv[argc++] = r->extra[i];
    argv[argc] = NULL;
    int rc = posix_spawnp(&r->pid, "redis-server", NULL, NULL, (char *const *)argv, environ);
    cr_assert(rc == 0, "cannot start redis-server: %s", strerror(rc));
    bool up = WWT_POLL_UNTIL(20000, answers(r));
    cr_assert(up, "the private redis-server on port %d did not come up (see %s)", r->port, log);
}

void priv_stop(struct priv_redis *r)
{
    if (!r->pid)
        return;
    kill(r->pid, SIGTERM);
    int status;
    bool gone = WWT_POLL_UNTIL(30000, waitpid(r->pid, &status, WNOHANG) == r->pid);
    if (!gone) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, &status, 0);
    }
    r->pid = 0;
    cr_assert(gone, "redis-server did not stop on SIGTERM within 30 s");
}

void priv_destroy(struct priv_redis *r)
{
    if (r->pid) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
    if (r->dir[0]) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
        cr_expect(system(cmd) == 0);
        r->dir[0] = '\0';
    }
}

long long aof_max_id(const struct priv_redis *r)
{
    char path[300];
    snprintf(path, sizeof path, "%s/appendonlydir", r->dir);
    DIR *d = opendir(path);
    cr_assert(d, "no %s", path);
    long long max = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        char file[600];
        snprintf(file, sizeof file, "%s/%s", path, de->d_name);
        char *s = wwt_read_file(file, NULL);
        for (const char *p = s; (p = strstr(p, "\"after\":{\"id\":")); p++) {
            long long id = after_id(p - 0);
            if (id > max)
                max = id;
        }
        free(s);
    }
    closedir(d);
    return max;
}

/* ---- the workload and the checks ---------------------------------------------- */

uint64_t confirmed(PGconn *admin, const char *slot)
{
    return wwt_lsn(admin,
                   "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE "
                   "slot_name = '%s'",
                   slot);
}

/* Row changes the slot still holds for the next start (walwire stopped):
 * the inserts not confirmed yet. */
long long unconfirmed_inserts(PGconn *admin, const char *slot)
{
    return wwt_int(admin,
                   "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('%s', NULL, "
                   "NULL, 'proto_version', '1', 'publication_names', '%s_pub') "
                   "WHERE get_byte(data, 0) = 73", /* 'I': Insert */
                   slot, slot);
}

/* ---- a writer thread: ntx transactions of rows_per_tx rows into t ------------ */

static void *writer_main(void *arg)
{
    struct writer *wr = arg;
    PGconn *c = wwt_pg(wr->db);
    for (int t = 0; t < wr->ntx; t++) {
        int first = t * wr->rows_per_tx + 1, last = first + wr->rows_per_tx - 1;
        wwt_exec(c, "INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(%d, %d) g",
                 first, last);
        wr->last_id[t] = last;
        wr->lsn_after[t] = wwt_lsn(c, "SELECT pg_current_wal_insert_lsn()");
        atomic_store(&wr->done_tx, t + 1);
    }
    PQfinish(c);
    return NULL;
}

void writer_start(struct writer *wr, const char *db, int ntx, int rows_per_tx)
{
    wr->db = db;
    wr->ntx = ntx;
    wr->rows_per_tx = rows_per_tx;
    wr->last_id = calloc((size_t)ntx, sizeof *wr->last_id);
    wr->lsn_after = calloc((size_t)ntx, sizeof *wr->lsn_after);
    atomic_store(&wr->done_tx, 0);
    pthread_create(&wr->th, NULL, writer_main, wr);
}

void writer_join(struct writer *wr)
{
    pthread_join(wr->th, NULL);
    cr_assert_eq(atomic_load(&wr->done_tx), wr->ntx);
}

/* The position invariant against `top`, the after.id of the last entry the
 * stream holds: every transaction the slot has certainly confirmed is in
 * it. Returns the first violating transaction, or -1. */
int confirmed_ahead(struct writer *wr, uint64_t conf, long long top)
{
    int done = atomic_load(&wr->done_tx);
    for (int t = 0; t < done; t++)
        if (wr->lsn_after[t] <= conf && wr->last_id[t] > top)
            return t;
    return -1;
}

/* Sample the slot, then the stream (which only grows), and check. */
void check_position(PGconn *admin, const char *slot, struct writer *wr, struct rcli *rc,
                    const char *stream)
{
    uint64_t conf = confirmed(admin, slot);
    long long top = stream_top_id(rc, stream);
    cr_assert_geq(top, 0, "cannot read %s", stream);
    int bad = confirmed_ahead(wr, conf, top);
    cr_assert_eq(bad, -1,
                 "confirmed_flush_lsn %llX is past transaction %d (last id %d), but "
                 "the last entry of %s is id %lld",
                 (unsigned long long)conf, bad, bad >= 0 ? wr->last_id[bad] : 0, stream, top);
}

/* The stream holds ids 1..n once each, in order, as inserts with
 * increasing IDs; the entries of one transaction share the commit LSN. */
void check_exactly_once(struct rcli *rc, const char *stream, long long n, int rows_per_tx)
{
    struct sentries s;
    read_stream(rc, stream, &s);
    cr_assert_eq((long long)s.n, n, "%s holds %zu entries, expected %lld", stream, s.n, n);
    for (size_t i = 0; i < s.n; i++) {
        const struct sentry *e = &s.v[i];
        long long id = after_id(e->value);
        cr_assert_eq(id, (long long)i + 1,
                     "%s entry %zu is id %lld: a duplicate, a gap or out "
                     "of order",
                     stream, i, id);
        cr_assert_str_eq(e->op, "c");
        if (i > 0) {
            const struct sentry *p = &s.v[i - 1];
            cr_assert(e->ms > p->ms || (e->ms == p->ms && e->seq > p->seq),
                      "IDs not increasing at entry %zu", i);
            bool same_tx = (long long)i / rows_per_tx == ((long long)i - 1) / rows_per_tx;
            cr_assert_eq(same_tx, e->ms == p->ms,
                         "entry %zu: the ID's LSN part does not follow "
                         "the transactions",
                         i);
        }
        cr_assert_eq(e->seq, (uint64_t)(i % (size_t)rows_per_tx), "entry %zu: seq %llu", i,
                     (unsigned long long)e->seq);
    }
    free_stream(&s);
}
