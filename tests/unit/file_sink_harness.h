/*
 * Harness for test_file_sink.c (included once, by it): a fake struct
 * ww_host that records what the sink does with it, the fixture (libuv loop,
 * the dlopened module, a mkdtemp directory), and the bookkeeping of written
 * records and their acks.
 *
 * Every ack checks, from inside the callback, that its record is already in
 * the output file at the right offset, and notes the file's size: acks of
 * one flush are delivered together before the next flush starts, so each
 * flush shows as one distinct size.
 */
#ifndef FILE_SINK_HARNESS_H
#define FILE_SINK_HARNESS_H

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "walwire/sink.h"

#define SINK_PATH   WW_BUILD_ROOT "/sinks/file/sink_file.so"
#define MAX_RECS    1100
#define DEADLINE_MS 10000

/* ---- the fake host ---- */

struct fake_host {
    struct ww_host host; /* first: the sink gets &fh.host */
    const char *keys[8];
    const char *vals[8];
    int nkeys;
    int resumes;
    int fails;
    int config_errors;
    char error_key[64];
    char error_msg[256];
    char log[8192]; /* every line the sink logged */
};

static struct fake_host fh;
static int in_write; /* set around ops->write: no callback may fire inside */
static int callback_inside_write;

static void host_log(const struct ww_host *host, enum ww_log_level level, const char *fmt, ...)
{
    struct fake_host *h = (struct fake_host *)host;
    size_t used = strlen(h->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->log + used, sizeof(h->log) - used, fmt, ap);
    va_end(ap);
    used = strlen(h->log);
    if (used + 1 < sizeof(h->log))
        strcat(h->log, "\n");
    (void)level;
}

static const char *host_config_get(const struct ww_host *host, const char *key)
{
    struct fake_host *h = (struct fake_host *)host;
    for (int i = 0; i < h->nkeys; i++)
        if (strcmp(h->keys[i], key) == 0)
            return h->vals[i];
    return NULL;
}

static int host_config_foreach(const struct ww_host *host,
                               int (*fn)(void *arg, const char *key, const char *value), void *arg)
{
    struct fake_host *h = (struct fake_host *)host;
    for (int i = 0; i < h->nkeys; i++) {
        int rc = fn(arg, h->keys[i], h->vals[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int host_config_error(const struct ww_host *host, const char *key, const char *fmt, ...)
{
    struct fake_host *h = (struct fake_host *)host;
    h->config_errors++;
    snprintf(h->error_key, sizeof(h->error_key), "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->error_msg, sizeof(h->error_msg), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static void host_resume(const struct ww_host *host)
{
    struct fake_host *h = (struct fake_host *)host;
    if (in_write)
        callback_inside_write = 1;
    h->resumes++;
}

/* The file sink has no failure outside a change; close_sink checks that
 * this never ran. */
static void host_fail(const struct ww_host *host, const char *fmt, ...)
{
    struct fake_host *h = (struct fake_host *)host;
    (void)fmt;
    h->fails++;
}

static void host_count_retry(const struct ww_host *host)
{
    (void)host;
}

/* ---- fixture: loop, module, temporary directory ---- */

static uv_loop_t loop;
static void *dl;
static const struct ww_sink_ops *ops;
static void *sink;
static char tmpdir[256];
static char outpath[300];
static char mountdir[300]; /* non-empty while a tmpfs is mounted there */

static void reset_records(void);

static void setup(void)
{
    memset(&fh, 0, sizeof(fh));
    fh.host.loop = &loop;
    fh.host.topic_prefix = "test";
    fh.host.max_inflight_bytes = 64u << 20;
    fh.host.log = host_log;
    fh.host.config_get = host_config_get;
    fh.host.config_foreach = host_config_foreach;
    fh.host.config_error = host_config_error;
    fh.host.resume = host_resume;
    fh.host.fail = host_fail;
    fh.host.count_retry = host_count_retry;
    cr_assert_eq(uv_loop_init(&loop), 0);

    dl = dlopen(SINK_PATH, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(dl, "dlopen: %s", dlerror());
    void *sym = dlsym(dl, WW_SINK_ENTRY_SYMBOL);
    cr_assert_not_null(sym);
    ww_sink_entry_fn entry;
    memcpy(&entry, &sym, sizeof(entry));
    ops = entry();
    cr_assert_eq(ops->abi_version, WW_SINK_ABI_VERSION);
    cr_assert_str_eq(ops->name, "file");

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ww_file_sink_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(outpath, sizeof(outpath), "%s/out.jsonl", tmpdir);
    mountdir[0] = '\0';
    sink = NULL;
    reset_records();
}

static int pipe_rd = -1; /* the test's end of a pipe on stdout, if any */

static void teardown(void)
{
    char cmd[700];
    /* A failed test may leave a flush blocked on a full pipe: closing the
     * reading end ends it (EPIPE), so the threadpool can be joined at exit. */
    if (pipe_rd >= 0)
        close(pipe_rd);
    pipe_rd = -1;
    if (mountdir[0]) {
        snprintf(cmd, sizeof(cmd), "umount -l '%s'", mountdir);
        cr_expect_eq(system(cmd), 0);
    }
    cr_expect_eq(uv_loop_close(&loop), 0, "the sink left handles or requests behind");
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    cr_expect_eq(system(cmd), 0);
    dlclose(dl);
}

/* ---- records, acks, done ---- */

/* What the test knows about each change it writes. */
struct rec {
    char key[64];    /* "" means no key (NULL) */
    char *value;     /* the envelope */
    char *line;      /* the line the file must hold */
    size_t off, end; /* where the line sits in the output */
    int acks;
    int status;
    int order;        /* position among all acks */
    long size_at_ack; /* output size when the ack came */
    int line_was_there;
};

static struct rec recs[MAX_RECS];
static size_t out_bytes; /* expected output size after every accepted record */
static int ack_total;
static int done_calls;
static int acks_at_done;
static const char *ack_file; /* where ack checks look; NULL: no check */

/* Record i: key {"id":i} (none for every fifth), and an envelope whose
 * name is padded with value_pad bytes. */
static void make_rec(int i, size_t value_pad)
{
    struct rec *r = &recs[i];
    free(r->value);
    free(r->line);
    memset(r, 0, sizeof(*r));
    if (i % 5 != 4)
        snprintf(r->key, sizeof(r->key), "{\"id\":%d}", i);
    char *pad = malloc(value_pad + 1);
    cr_assert_not_null(pad);
    memset(pad, 'x', value_pad);
    pad[value_pad] = '\0';
    size_t cap = value_pad + 200;
    r->value = malloc(cap);
    r->line = malloc(cap + 100);
    cr_assert(r->value && r->line);
    snprintf(r->value, cap,
             "{\"before\":null,\"after\":{\"id\":%d,\"name\":\"row %d%s\"},\"op\":\"c\"}", i, i,
             pad);
    snprintf(r->line, cap + 100, "{\"key\":%s,\"value\":%s}\n", r->key[0] ? r->key : "null",
             r->value);
    free(pad);
}

/* In the ack: the record must already be in the file, where it belongs. */
static void on_ack(void *token, int status)
{
    struct rec *r = token;
    if (in_write)
        callback_inside_write = 1;
    r->acks++;
    r->status = status;
    r->order = ack_total++;
    if (ack_file && status == 0) {
        struct stat st;
        if (stat(ack_file, &st) == 0)
            r->size_at_ack = (long)st.st_size;
        int fd = open(ack_file, O_RDONLY);
        if (fd >= 0) {
            size_t len = r->end - r->off;
            char *buf = malloc(len);
            r->line_was_there = buf && pread(fd, buf, len, (off_t)r->off) == (ssize_t)len &&
                                memcmp(buf, r->line, len) == 0;
            free(buf);
            close(fd);
        }
    }
}

static void on_done(void *arg)
{
    cr_expect_eq(arg, &done_calls);
    done_calls++;
    acks_at_done = ack_total;
}

/* Offer record i to the sink; on 0 it counts as accepted. */
static int write_rec(int i)
{
    struct rec *r = &recs[i];
    struct ww_change c = {
        .op = WW_OP_CREATE,
        .schema = "public",
        .table = "t",
        .key = r->key[0] ? r->key : NULL,
        .key_len = strlen(r->key),
        .value = r->value,
        .value_len = strlen(r->value),
        .lsn = 1000 + (uint64_t)i,
        .commit_lsn = 2000,
        .seq = (uint32_t)i,
        .xid = 7,
    };
    in_write = 1;
    int rc = ops->write(sink, &c, on_ack, r);
    in_write = 0;
    if (rc == 0) {
        r->off = out_bytes;
        out_bytes += strlen(r->line);
        r->end = out_bytes;
    }
    return rc;
}

/* ---- running the loop with a deadline ---- */

static void tick(uv_timer_t *t)
{
    (void)t; /* only makes UV_RUN_ONCE return regularly */
}

/* Run the loop until cond() holds; fail after DEADLINE_MS. */
static void run_until(int (*cond)(void), const char *what)
{
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    uv_timer_start(&timer, tick, 5, 5);
    uint64_t deadline = uv_now(&loop) + DEADLINE_MS;
    while (!cond() && uv_now(&loop) < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert(cond(), "timed out waiting for %s", what);
}

static int want_acks;
static int acks_reached(void)
{
    return ack_total >= want_acks;
}
static int done_reached(void)
{
    return done_calls > 0;
}
static int resumed(void)
{
    return fh.resumes > 0;
}

static void wait_acks(int n)
{
    want_acks = n;
    run_until(acks_reached, "acks");
}

static void set_config(const char *path, const char *fsync_mode)
{
    fh.nkeys = 0;
    if (path) {
        fh.keys[fh.nkeys] = "path";
        fh.vals[fh.nkeys++] = path;
    }
    if (fsync_mode) {
        fh.keys[fh.nkeys] = "fsync";
        fh.vals[fh.nkeys++] = fsync_mode;
    }
}

static void open_sink(const char *path, const char *fsync_mode)
{
    set_config(path, fsync_mode);
    int rc = ops->open(&fh.host, &sink);
    cr_assert_eq(rc, 0, "open: %d, log: %s, config error: %s", rc, fh.log, fh.error_msg);
    cr_assert_not_null(sink);
}

static void close_sink(void)
{
    ops->close(sink, on_done, &done_calls);
    run_until(done_reached, "done");
    uv_run(&loop, UV_RUN_NOWAIT); /* give a stray callback its chance */
    cr_assert_eq(done_calls, 1, "done must come exactly once");
    cr_assert_eq(acks_at_done, ack_total, "no ack after done");
    cr_assert_eq(fh.fails, 0, "host->fail was called");
}

/* Point fd 1 at path. Criterion runs each test in its own process, so
 * fd 1 is the test's to swap. */
static void stdout_to_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    close(fd);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The output holds exactly the lines of records [0, n), in order. */
static void assert_output(const char *path, const char *prefix, int n)
{
    size_t len;
    char *got = slurp(path, &len);
    size_t plen = strlen(prefix);
    cr_assert_geq(len, plen);
    cr_assert_eq(memcmp(got, prefix, plen), 0);
    size_t off = plen;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(recs[i].line);
        cr_assert_leq(off + l, len, "output ends before record %d", i);
        cr_assert_eq(memcmp(got + off, recs[i].line, l), 0, "record %d: want %s got %.*s", i,
                     recs[i].line, (int)l, got + off);
        off += l;
    }
    cr_assert_eq(off, len, "%zu extra bytes after the last record", len - off);
    free(got);
}

/* Every record of [from, to) acked once with status, in write order. */
static void assert_acked(int from, int to, int status)
{
    for (int i = from; i < to; i++) {
        cr_assert_eq(recs[i].acks, 1, "record %d acked %d times", i, recs[i].acks);
        cr_assert_eq(recs[i].status, status, "record %d: status %d, want %d", i, recs[i].status,
                     status);
        if (i > from)
            cr_assert_gt(recs[i].order, recs[i - 1].order, "ack order at record %d", i);
    }
    cr_assert_not(callback_inside_write, "a callback fired inside write()");
}

/* Distinct output sizes seen by the acks of [0, n): one per flush. */
static int count_flushes(int n)
{
    int flushes = 0;
    long last = -1;
    for (int i = 0; i < n; i++) {
        cr_assert_geq(recs[i].size_at_ack, last, "output shrank");
        if (recs[i].size_at_ack != last)
            flushes++;
        last = recs[i].size_at_ack;
    }
    return flushes;
}

static void reset_records(void)
{
    ack_file = NULL;
    out_bytes = 0;
    ack_total = 0;
    done_calls = 0;
    callback_inside_write = 0;
}

#endif
