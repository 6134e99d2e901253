/*
 * File sink: dlopens the built sink_file.so and drives it with a fake
 * struct ww_host on a real libuv loop, writing real files in a mkdtemp
 * directory (and /dev/full, a small tmpfs, stdout).
 *
 * Flushes are observed from outside the sink: acks of one flush are
 * delivered together, before the next flush starts writing, so every ack of
 * a flush sees the same file size and each flush shows one distinct size.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "walwire/sink.h"

#define SINK_PATH WW_BUILD_ROOT "/sinks/file/sink_file.so"
#define MAX_RECS 1100
#define DEADLINE_MS 10000

/* ---- the fake host ---- */

struct fake_host {
    struct ww_host host; /* first: the sink gets &fh.host */
    const char *keys[8];
    const char *vals[8];
    int nkeys;
    int resumes;
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

static void host_fail(const struct ww_host *host, const char *fmt, ...)
{
    cr_log_error("sink called host->fail");
    (void)host;
    (void)fmt;
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
}

static void teardown(void)
{
    char cmd[700];
    if (mountdir[0]) {
        snprintf(cmd, sizeof(cmd), "umount '%s'", mountdir);
        cr_expect_eq(system(cmd), 0);
    }
    cr_expect_eq(uv_loop_close(&loop), 0, "the sink left handles or requests behind");
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    cr_expect_eq(system(cmd), 0);
    dlclose(dl);
}

TestSuite(file_sink, .init = setup, .fini = teardown);

/* ---- records, acks, done ---- */

/* What the test knows about each change it writes. */
struct rec {
    int idx;
    char key[64]; /* "" means no key (NULL) */
    char *value;  /* the envelope */
    char *line;   /* the line the file must hold */
    size_t off, end;  /* where the line sits in the output */
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
    r->idx = i;
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
    cr_assert_eq(done_calls, 1, "done must come exactly once");
    cr_assert_eq(acks_at_done, ack_total, "no ack after done");
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(done_calls, 1);
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
        cr_assert_eq(recs[i].status, status, "record %d: status %d, want %d", i,
                     recs[i].status, status);
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
    out_bytes = 0;
    ack_total = 0;
    done_calls = 0;
    callback_inside_write = 0;
}

/* ---- tests: output and acks ---- */

Test(file_sink, records_land_as_lines_in_order_and_ack_after_the_bytes)
{
    reset_records();
    ack_file = outpath;
    open_sink(outpath, NULL); /* default fsync=batch */
    for (int i = 0; i < 20; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
        if (i % 7 == 0)
            uv_run(&loop, UV_RUN_NOWAIT); /* let some flushes finish between writes */
    }
    wait_acks(20);
    assert_acked(0, 20, 0);
    for (int i = 0; i < 20; i++) {
        cr_assert(recs[i].line_was_there, "record %d acked before it was in the file", i);
        cr_assert_geq(recs[i].size_at_ack, (long)recs[i].end);
    }
    close_sink();
    assert_output(outpath, "", 20);
    cr_assert(strstr(fh.log, "fsync=batch"), "%s", fh.log);
}

Test(file_sink, batch_groups_many_records_per_flush)
{
    reset_records();
    ack_file = outpath;
    open_sink(outpath, "batch");
    for (int i = 0; i < 1000; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    cr_assert_eq(ack_total, 0, "no ack before the loop runs");
    wait_acks(1000);
    assert_acked(0, 1000, 0);
    int flushes = count_flushes(1000);
    cr_log_info("batch: 1000 records in %d flushes", flushes);
    cr_assert_geq(flushes, 1);
    cr_assert_leq(flushes, 10, "1000 queued records took %d flushes", flushes);
    for (int i = 0; i < 1000; i++)
        cr_assert(recs[i].line_was_there, "record %d", i);
    close_sink();
    assert_output(outpath, "", 1000);
}

Test(file_sink, always_flushes_one_record_at_a_time)
{
    reset_records();
    ack_file = outpath;
    open_sink(outpath, "always");
    for (int i = 0; i < 25; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(25);
    assert_acked(0, 25, 0);
    cr_assert_eq(count_flushes(25), 25);
    /* Each ack sees the file end exactly after its own record. */
    for (int i = 0; i < 25; i++)
        cr_assert_eq(recs[i].size_at_ack, (long)recs[i].end, "record %d", i);
    close_sink();
    assert_output(outpath, "", 25);
}

Test(file_sink, never_writes_and_groups_without_sync)
{
    reset_records();
    ack_file = outpath;
    open_sink(outpath, "never");
    for (int i = 0; i < 300; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(300);
    assert_acked(0, 300, 0);
    cr_assert_leq(count_flushes(300), 10);
    for (int i = 0; i < 300; i++)
        cr_assert(recs[i].line_was_there, "record %d", i);
    close_sink();
    assert_output(outpath, "", 300);
}

Test(file_sink, appends_to_an_existing_file_and_mends_a_torn_last_line)
{
    FILE *f = fopen(outpath, "w");
    cr_assert_not_null(f);
    fputs("{\"key\":null,\"value\":{}}\n{\"key\":{\"id\":9},\"va", f); /* torn */
    fclose(f);
    const char *prefix = "{\"key\":null,\"value\":{}}\n{\"key\":{\"id\":9},\"va\n";

    reset_records();
    out_bytes = strlen(prefix);
    ack_file = outpath;
    open_sink(outpath, "batch");
    cr_assert(strstr(fh.log, "incomplete line"), "%s", fh.log);
    for (int i = 0; i < 3; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(3);
    assert_acked(0, 3, 0);
    for (int i = 0; i < 3; i++)
        cr_assert(recs[i].line_was_there);
    close_sink();
    assert_output(outpath, prefix, 3);
}

/* ---- tests: bounded memory ---- */

Test(file_sink, full_buffer_gives_eagain_then_resume)
{
    reset_records();
    ack_file = outpath;
    fh.host.max_inflight_bytes = 4096;
    open_sink(outpath, "batch");
    make_rec(0, 0);
    size_t len = strlen(recs[0].line);

    /* Record 0 goes straight to a flush; the rest fill up to 4096 bytes. */
    int accepted = 0, rc = 0;
    while (accepted < 200) {
        make_rec(accepted, 0);
        rc = write_rec(accepted);
        if (rc != 0)
            break;
        accepted++;
    }
    cr_assert_eq(rc, -EAGAIN);
    size_t fill = out_bytes - strlen(recs[0].line); /* bytes after record 0 */
    cr_assert_leq(fill, 4096, "fill queue holds %zu bytes, limit 4096", fill);
    cr_assert_gt(fill + strlen(recs[accepted].line), 4096,
                 "refused although %zu + %zu fits", fill, strlen(recs[accepted].line));
    cr_assert_geq(accepted, (int)(4096 / len), "accepted %d records of %zu bytes", accepted,
                  len);
    cr_assert_eq(fh.resumes, 0, "no resume before there is room");
    cr_assert_eq(write_rec(accepted), -EAGAIN, "still full");

    run_until(resumed, "resume");
    cr_assert_not(callback_inside_write);
    /* Core offers the same change again. */
    cr_assert_eq(write_rec(accepted), 0);
    accepted++;
    wait_acks(accepted);
    assert_acked(0, accepted, 0);
    close_sink();
    assert_output(outpath, "", accepted);
}

Test(file_sink, one_record_larger_than_the_limit_is_accepted_into_an_empty_buffer)
{
    reset_records();
    ack_file = outpath;
    fh.host.max_inflight_bytes = 1024;
    open_sink(outpath, "batch");
    make_rec(0, 0);
    make_rec(1, 8000); /* far beyond 1024 bytes */
    make_rec(2, 0);
    cr_assert_eq(write_rec(0), 0); /* flushing */
    cr_assert_eq(write_rec(1), 0); /* alone in the empty fill queue */
    cr_assert_eq(write_rec(2), -EAGAIN);
    run_until(resumed, "resume");
    cr_assert_eq(write_rec(2), 0);
    wait_acks(3);
    assert_acked(0, 3, 0);
    close_sink();
    assert_output(outpath, "", 3);
}

/* ---- tests: errors ---- */

Test(file_sink, write_error_acks_every_record_with_the_errno)
{
    reset_records();
    ack_file = NULL;
    open_sink("/dev/full", "batch");
    for (int i = 0; i < 5; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(5);
    assert_acked(0, 5, -ENOSPC);
    cr_assert(strstr(fh.log, "/dev/full"), "%s", fh.log);
    cr_assert(strstr(fh.log, strerror(ENOSPC)), "%s", fh.log);
    /* Broken for good: further writes get the error, and no ack. */
    make_rec(5, 0);
    cr_assert_eq(write_rec(5), -ENOSPC);
    close_sink();
    cr_assert_eq(ack_total, 5);
    cr_assert_eq(fh.resumes, 0);
}

Test(file_sink, full_tmpfs_acks_the_failed_flush_with_enospc)
{
    snprintf(mountdir, sizeof(mountdir), "%s/small", tmpdir);
    cr_assert_eq(mkdir(mountdir, 0755), 0);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=64k tmpfs '%s' 2>/dev/null", mountdir);
    if (geteuid() != 0 || system(cmd) != 0) {
        mountdir[0] = '\0';
        cr_log_warn("cannot mount a tmpfs (needs root and CAP_SYS_ADMIN): "
                    "the /dev/full test covers ENOSPC");
        cr_skip_test("cannot mount a 64k tmpfs here");
    }
    char path[400];
    snprintf(path, sizeof(path), "%s/out.jsonl", mountdir);

    reset_records();
    ack_file = path;
    open_sink(path, "batch");
    /* 20 records of ~8 KiB: record 0 fits, the flush of the others (~150 KiB)
     * runs out of space part way. */
    for (int i = 0; i < 20; i++) {
        make_rec(i, 8000);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(20);
    assert_acked(0, 1, 0);
    assert_acked(1, 20, -ENOSPC);
    cr_assert(strstr(fh.log, path), "%s", fh.log);
    cr_assert(strstr(fh.log, strerror(ENOSPC)), "%s", fh.log);
    close_sink();
}

Test(file_sink, close_waits_for_the_flush_and_cancels_the_rest)
{
    reset_records();
    ack_file = outpath;
    open_sink(outpath, "batch");
    for (int i = 0; i < 4; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    /* Record 0 is being flushed, 1..3 wait in the fill queue. */
    ops->close(sink, on_done, &done_calls);
    cr_assert_eq(done_calls, 0, "done before the running flush ended");
    run_until(done_reached, "done");
    cr_assert_eq(done_calls, 1);
    cr_assert_eq(acks_at_done, 4, "every ack before done");
    assert_acked(0, 1, 0);
    cr_assert(recs[0].line_was_there);
    assert_acked(1, 4, -ECANCELED);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(done_calls, 1);
    cr_assert_eq(ack_total, 4);
    assert_output(outpath, "", 1);
}

Test(file_sink, close_during_a_failing_flush)
{
    reset_records();
    ack_file = NULL;
    open_sink("/dev/full", "always");
    for (int i = 0; i < 3; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    ops->close(sink, on_done, &done_calls);
    run_until(done_reached, "done");
    cr_assert_eq(done_calls, 1);
    assert_acked(0, 1, -ENOSPC);
    assert_acked(1, 3, -ECANCELED);
    cr_assert_eq(acks_at_done, 3);
}

Test(file_sink, close_when_idle_calls_done_once)
{
    reset_records();
    open_sink(outpath, NULL);
    close_sink();
    cr_assert_eq(ack_total, 0);
}

/* ---- tests: configuration ---- */

Test(file_sink, unknown_key_is_a_config_error)
{
    fh.keys[0] = "path";
    fh.vals[0] = outpath;
    fh.keys[1] = "pth";
    fh.vals[1] = "/tmp/x";
    fh.nkeys = 2;
    cr_assert_eq(ops->open(&fh.host, &sink), -EINVAL);
    cr_assert_eq(fh.config_errors, 1);
    cr_assert_str_eq(fh.error_key, "pth");
    cr_assert_str_eq(fh.error_msg, "unknown key; valid keys: path, fsync");
    cr_assert_neq(access(outpath, F_OK), 0, "nothing is created on a config error");
}

Test(file_sink, bad_fsync_value_is_a_config_error)
{
    set_config(outpath, "sometimes");
    cr_assert_eq(ops->open(&fh.host, &sink), -EINVAL);
    cr_assert_str_eq(fh.error_key, "fsync");
    cr_assert(strstr(fh.error_msg, "always, batch or never"), "%s", fh.error_msg);
    cr_assert(strstr(fh.error_msg, "sometimes"), "%s", fh.error_msg);
}

Test(file_sink, path_is_required)
{
    set_config(NULL, "batch");
    cr_assert_eq(ops->open(&fh.host, &sink), -EINVAL);
    cr_assert_str_eq(fh.error_key, "path");
}

Test(file_sink, open_error_names_the_path_and_the_reason)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/no/such/dir/out.jsonl", tmpdir);
    set_config(path, NULL);
    cr_assert_eq(ops->open(&fh.host, &sink), -ENOENT);
    cr_assert(strstr(fh.log, path), "%s", fh.log);
    cr_assert(strstr(fh.log, strerror(ENOENT)), "%s", fh.log);
}

/* ---- tests: stdout and probe ---- */

Test(file_sink, dash_writes_to_stdout_and_leaves_it_open)
{
    /* Criterion runs each test in its own process: fd 1 is ours to swap. */
    int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    close(fd);

    reset_records();
    ack_file = outpath;
    open_sink("-", "batch");
    for (int i = 0; i < 10; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(10);
    assert_acked(0, 10, 0);
    for (int i = 0; i < 10; i++)
        cr_assert(recs[i].line_was_there, "record %d", i);
    close_sink();
    cr_assert_neq(fcntl(STDOUT_FILENO, F_GETFD), -1, "the sink closed stdout");
    assert_output(outpath, "", 10);
}

Test(file_sink, stdout_pipe_is_written_without_fdatasync)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
    close(p[1]);

    reset_records();
    ack_file = NULL;
    open_sink("-", "always"); /* fdatasync on a pipe would fail with EINVAL */
    cr_assert(strstr(fh.log, "not a regular file"), "%s", fh.log);
    for (int i = 0; i < 5; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(5);
    assert_acked(0, 5, 0);
    close_sink();

    char buf[8192];
    size_t n = 0;
    while (n < out_bytes) {
        ssize_t r = read(p[0], buf + n, sizeof(buf) - n);
        cr_assert_gt(r, 0);
        n += (size_t)r;
    }
    cr_assert_eq(n, out_bytes);
    size_t off = 0;
    for (int i = 0; i < 5; i++) {
        size_t l = strlen(recs[i].line);
        cr_assert_eq(memcmp(buf + off, recs[i].line, l), 0, "record %d", i);
        off += l;
    }
    close(p[0]);
}

/* The test end of a pipe on stdout, drained while the loop runs. */
static int pipe_rd = -1;
static char *piped; /* out_bytes long */
static size_t piped_len;
static int piped_too_much;

static int drain_pipe_until_all_acked(void)
{
    char buf[4096];
    ssize_t r;
    while ((r = read(pipe_rd, buf, sizeof(buf))) > 0) {
        if (piped_len + (size_t)r > out_bytes) {
            piped_too_much = 1;
            return 1;
        }
        memcpy(piped + piped_len, buf, (size_t)r);
        piped_len += (size_t)r;
    }
    return ack_total >= want_acks;
}

Test(file_sink, nonblocking_stdout_gets_short_writes_finished)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    /* A non-blocking stdout (as a parent may leave it) and a reader that
     * is slower than the writer: writev stops short and with EAGAIN. */
    cr_assert_eq(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    cr_assert_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    cr_assert_eq(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
    close(p[1]);
    pipe_rd = p[0];

    reset_records();
    ack_file = NULL;
    open_sink("-", "batch");
    for (int i = 0; i < 40; i++) {
        make_rec(i, 7000 + (size_t)i * 13); /* ~290 KiB, pipes hold 64 KiB */
        cr_assert_eq(write_rec(i), 0);
    }
    piped = malloc(out_bytes);
    piped_len = 0;
    want_acks = 40;
    run_until(drain_pipe_until_all_acked, "acks while draining the pipe");
    cr_assert_not(piped_too_much, "more bytes than were written");
    assert_acked(0, 40, 0);
    drain_pipe_until_all_acked();
    cr_assert_not(piped_too_much, "more bytes than were written");
    cr_assert_eq(piped_len, out_bytes);
    size_t off = 0;
    for (int i = 0; i < 40; i++) {
        size_t l = strlen(recs[i].line);
        cr_assert_eq(memcmp(piped + off, recs[i].line, l), 0, "record %d", i);
        off += l;
    }
    close_sink();
    free(piped);
    close(pipe_rd);
}

static int probe_calls, probe_status;
static char probe_detail[512];

static void on_probe(void *arg, int status, const char *detail)
{
    (void)arg;
    probe_calls++;
    probe_status = status;
    snprintf(probe_detail, sizeof(probe_detail), "%s", detail);
}

Test(file_sink, probe_describes_the_output)
{
    reset_records();
    cr_assert_not_null(ops->probe);
    open_sink(outpath, NULL);
    ops->probe(sink, on_probe, NULL);
    cr_assert_eq(probe_calls, 1);
    cr_assert_eq(probe_status, 0);
    char want[400];
    snprintf(want, sizeof(want), "file %s, fsync=batch", outpath);
    cr_assert_str_eq(probe_detail, want);
    close_sink();
}
