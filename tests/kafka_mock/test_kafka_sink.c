/*
 * Kafka sink against the sink ABI: dlopens the built sink_kafka.so and
 * drives it with a fake struct ww_host on a real libuv loop, producing to a
 * private kafka_mock process. Needs no other server.
 *
 * What the contract says and these tests check: every accepted change is
 * acked exactly once, never from inside write(); -EAGAIN comes with a later
 * host->resume(); order holds through back-pressure; close() acks what is
 * outstanding with -ECANCELED before done(); configuration errors name the
 * key and never echo a secret.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "mock_client.h"
#include "walwire/sink.h"

#define MAX_RECS 4096

/* ---- the fake host ----------------------------------------------------- */

static struct {
    struct ww_host host;
    const char *kv[32][2];
    size_t nkv;
    char log[1 << 16];
    size_t loglen;
    int config_errors, resumes, fails;
} fh;

static uv_loop_t loop;
static void *dl;
static const struct ww_sink_ops *ops;
static void *sink;
static int done_calls;
static struct wwk_mock mock;

static struct {
    int acks, status;
} recs[MAX_RECS];
static int in_write, acked_inside_write, ack_total;

static void append_log(const char *fmt, va_list ap)
{
    if (fh.loglen < sizeof fh.log) {
        int n = vsnprintf(fh.log + fh.loglen, sizeof fh.log - fh.loglen, fmt, ap);
        if (n > 0)
            fh.loglen += (size_t)n;
        if (fh.loglen < sizeof fh.log - 1)
            fh.log[fh.loglen++] = '\n';
        fh.log[fh.loglen < sizeof fh.log ? fh.loglen : sizeof fh.log - 1] = '\0';
    }
}

static void h_log(const struct ww_host *h, enum ww_log_level lv, const char *fmt, ...)
{
    (void)h, (void)lv;
    va_list ap;
    va_start(ap, fmt);
    append_log(fmt, ap);
    va_end(ap);
}

static const char *h_get(const struct ww_host *h, const char *key)
{
    (void)h;
    for (size_t i = 0; i < fh.nkv; i++)
        if (strcmp(fh.kv[i][0], key) == 0)
            return fh.kv[i][1];
    return NULL;
}

static int h_foreach(const struct ww_host *h, int (*fn)(void *, const char *, const char *),
                     void *arg)
{
    (void)h;
    for (size_t i = 0; i < fh.nkv; i++) {
        int r = fn(arg, fh.kv[i][0], fh.kv[i][1]);
        if (r)
            return r;
    }
    return 0;
}

static int h_config_error(const struct ww_host *h, const char *key, const char *fmt, ...)
{
    (void)h;
    char line[600];
    snprintf(line, sizeof line, "config error [kafka] %s: %s", key, fmt);
    va_list ap;
    va_start(ap, fmt);
    append_log(line, ap);
    va_end(ap);
    fh.config_errors++;
    return -EINVAL;
}

static void h_resume(const struct ww_host *h)
{
    (void)h;
    fh.resumes++;
}

static void h_fail(const struct ww_host *h, const char *fmt, ...)
{
    (void)h;
    va_list ap;
    va_start(ap, fmt);
    append_log(fmt, ap);
    va_end(ap);
    fh.fails++;
}

static void h_count_retry(const struct ww_host *h)
{
    (void)h;
}

/* Run the loop until cond or the deadline. */
#define RUN_UNTIL(ms, cond)                                                                        \
    ({                                                                                             \
        struct timespec ts0_;                                                                      \
        clock_gettime(CLOCK_MONOTONIC, &ts0_);                                                     \
        bool ok_ = false;                                                                          \
        for (;;) {                                                                                 \
            if ((cond)) {                                                                          \
                ok_ = true;                                                                        \
                break;                                                                             \
            }                                                                                      \
            struct timespec ts_;                                                                   \
            clock_gettime(CLOCK_MONOTONIC, &ts_);                                                  \
            if ((ts_.tv_sec - ts0_.tv_sec) * 1000 + (ts_.tv_nsec - ts0_.tv_nsec) / 1000000 > (ms)) \
                break;                                                                             \
            uv_run(&loop, UV_RUN_NOWAIT);                                                          \
            struct timespec nap_ = {0, 1000000};                                                   \
            nanosleep(&nap_, NULL); /* the poll interval of this deadline loop */                  \
        }                                                                                          \
        ok_;                                                                                       \
    })

static void on_done(void *arg);

static void setup(void)
{
    memset(&fh, 0, sizeof fh);
    memset(recs, 0, sizeof recs);
    in_write = acked_inside_write = ack_total = done_calls = 0;
    sink = NULL;
    uv_loop_init(&loop);
    fh.host = (struct ww_host){
        .loop = &loop,
        .topic_prefix = "unit",
        .max_inflight_bytes = 1 << 20,
        .log = h_log,
        .config_get = h_get,
        .config_foreach = h_foreach,
        .config_error = h_config_error,
        .resume = h_resume,
        .fail = h_fail,
        .count_retry = h_count_retry,
    };
    dl = dlopen(WW_BUILD_ROOT "/sinks/kafka/sink_kafka.so", RTLD_NOW | RTLD_LOCAL);
    cr_assert(dl, "%s", dlerror());
    ww_sink_entry_fn entry = (ww_sink_entry_fn)dlsym(dl, WW_SINK_ENTRY_SYMBOL);
    cr_assert(entry);
    ops = entry();
    cr_assert_eq(ops->abi_version, WW_SINK_ABI_VERSION);
    wwk_mock_start(&mock, 1);
}

static void teardown(void)
{
    /* A test that failed half way leaves its sink open. */
    if (sink && done_calls == 0) {
        ops->close(sink, on_done, NULL);
        RUN_UNTIL(20000, done_calls > 0);
    }
    wwk_mock_stop(&mock);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    dlclose(dl);
}

TestSuite(kafka_sink, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ----------------------------------------------------------- */

static void set_key(const char *k, const char *v)
{
    fh.kv[fh.nkv][0] = k;
    fh.kv[fh.nkv][1] = v;
    fh.nkv++;
}

static void on_ack(void *token, int status)
{
    int i = (int)(intptr_t)token;
    if (in_write)
        acked_inside_write++;
    recs[i].acks++;
    recs[i].status = status;
    ack_total++;
}

static void on_done(void *arg)
{
    (void)arg;
    done_calls++;
}

static int write_change(int i, char op, size_t value_len)
{
    static char value[65536];
    char key[32];
    int klen = snprintf(key, sizeof key, "{\"id\":%d}", i);
    size_t n = value_len
                   ? value_len
                   : (size_t)snprintf(value, sizeof value, "{\"op\":\"%c\",\"id\":%d}", op, i);
    if (value_len)
        memset(value, 'v', value_len);
    struct ww_change c = {
        .op = op,
        .schema = "public",
        .table = "t",
        .key = key,
        .key_len = (size_t)klen,
        .value = value,
        .value_len = n,
        .lsn = 1000 + (uint64_t)i,
        .commit_lsn = 5000,
        .seq = (uint32_t)i,
        .xid = 77,
    };
    in_write = 1;
    int rc = ops->write(sink, &c, on_ack, (void *)(intptr_t)i);
    in_write = 0;
    return rc;
}

static void open_sink(void)
{
    set_key("bootstrap.servers", mock.bootstrap);
    int rc = ops->open(&fh.host, &sink);
    cr_assert_eq(rc, 0, "open failed: %s\n%s", strerror(-rc), fh.log);
}

static void close_sink(void)
{
    ops->close(sink, on_done, NULL);
    cr_assert(RUN_UNTIL(20000, done_calls > 0), "done was not called");
    cr_assert_eq(done_calls, 1);
}

/* ---- tests ------------------------------------------------------------- */

Test(kafka_sink, every_change_acked_once_after_its_delivery_report)
{
    wwk_mock_ok(&mock, "topic unit.public.t 1");
    open_sink();
    cr_assert(strstr(fh.log, "enable.idempotence=true acks=-1 message.timeout.ms=0"), "%s", fh.log);
    /* 800 changes and 80 tombstones fit the queue this host allows. */
    for (int i = 0; i < 800; i++)
        cr_assert_eq(write_change(i, i % 10 == 9 ? 'd' : 'c', 0), 0);
    cr_assert_eq(ack_total, 0, "acks before the loop ran");
    cr_assert(RUN_UNTIL(20000, ack_total == 800), "%d of 800 acked", ack_total);
    for (int i = 0; i < 800; i++)
        cr_assert(recs[i].acks == 1 && recs[i].status == 0, "change %d: %d acks, status %d", i,
                  recs[i].acks, recs[i].status);
    cr_assert_eq(acked_inside_write, 0);
    close_sink();

    /* 800 records, and a tombstone after each of the 80 deletes. */
    struct wwk_reader *r = wwk_reader_new(mock.bootstrap);
    struct wwk_records rs;
    cr_assert_eq(wwk_read_topic(r, "unit.public.t", 880, 20000, &rs), 880);
    for (size_t i = 0, change = 0; i < rs.n; i++, change++) {
        char want[32];
        snprintf(want, sizeof want, "{\"id\":%zu}", change);
        cr_assert_str_eq(rs.v[i].key, want, "record %zu out of order", i);
        cr_assert_not_null(rs.v[i].value);
        if (change % 10 == 9) {
            i++;
            cr_assert(rs.v[i].value == NULL && strcmp(rs.v[i].key, want) == 0,
                      "no tombstone after delete %zu", change);
        }
    }
    wwk_records_free(&rs);
    wwk_reader_free(r);
}

Test(kafka_sink, full_queue_gives_eagain_then_resume_in_order)
{
    wwk_mock_ok(&mock, "topic unit.public.t 1");
    set_key("queue.buffering.max.messages", "7");
    open_sink();
    int next = 0, eagains = 0;
    while (next < 300) {
        int rc = write_change(next, next % 5 == 4 ? 'd' : 'c', 0);
        if (rc == 0) {
            next++;
            continue;
        }
        cr_assert_eq(rc, -EAGAIN, "write: %s", strerror(-rc));
        eagains++;
        int before = fh.resumes;
        cr_assert(RUN_UNTIL(10000, fh.resumes > before), "no resume after -EAGAIN");
    }
    cr_assert_gt(eagains, 10, "the queue never filled up");
    cr_assert(RUN_UNTIL(20000, ack_total == 300), "%d of 300 acked", ack_total);
    for (int i = 0; i < 300; i++)
        cr_assert(recs[i].acks == 1 && recs[i].status == 0, "change %d", i);
    cr_assert_eq(acked_inside_write, 0);
    close_sink();

    struct wwk_reader *r = wwk_reader_new(mock.bootstrap);
    struct wwk_records rs;
    cr_assert_eq(wwk_read_topic(r, "unit.public.t", 360, 20000, &rs), 360);
    for (size_t i = 0, change = 0; i < rs.n; i++, change++) {
        char want[32];
        snprintf(want, sizeof want, "{\"id\":%zu}", change);
        cr_assert_str_eq(rs.v[i].key, want, "record %zu out of order", i);
        if (change % 5 == 4)
            cr_assert(rs.v[++i].value == NULL, "no tombstone after delete %zu", change);
    }
    wwk_records_free(&rs);
    wwk_reader_free(r);
}

Test(kafka_sink, close_acks_outstanding_with_ecanceled_before_done)
{
    open_sink();
    wwk_mock_ok(&mock, "down");
    for (int i = 0; i < 50; i++)
        cr_assert_eq(write_change(i, 'c', 0), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(ack_total, 0, "acked while the broker is down");
    ops->close(sink, on_done, NULL);
    cr_assert(RUN_UNTIL(20000, done_calls > 0));
    cr_assert_eq(ack_total, 50);
    for (int i = 0; i < 50; i++)
        cr_assert(recs[i].acks == 1 && recs[i].status == -ECANCELED, "change %d: status %d", i,
                  recs[i].status);
    cr_assert_eq(done_calls, 1);
}

Test(kafka_sink, too_large_change_fails_with_emsgsize_outside_write)
{
    set_key("message.max.bytes", "2000");
    open_sink();
    cr_assert_eq(write_change(0, 'c', 0), 0);
    cr_assert_eq(write_change(1, 'c', 5000), 0, "a permanent failure is an ack, not a write error");
    cr_assert_eq(write_change(2, 'c', 0), 0);
    cr_assert(RUN_UNTIL(20000, ack_total == 3));
    cr_assert_eq(acked_inside_write, 0);
    cr_assert_eq(recs[0].status, 0);
    cr_assert_eq(recs[1].status, -EMSGSIZE);
    cr_assert_eq(recs[2].status, 0);
    cr_assert(strstr(fh.log, "topic unit.public.t") && strstr(fh.log, "MSG_SIZE_TOO_LARGE"), "%s",
              fh.log);
    close_sink();
}

static int probe_status = 1;
static char probe_detail[512];
static void on_probe(void *arg, int status, const char *detail)
{
    (void)arg;
    probe_status = status;
    snprintf(probe_detail, sizeof probe_detail, "%s", detail);
}

Test(kafka_sink, probe_reports_brokers_or_why_not)
{
    open_sink();
    probe_status = 1;
    ops->probe(sink, on_probe, NULL);
    cr_assert(RUN_UNTIL(10000, probe_status != 1));
    cr_assert_eq(probe_status, 0, "%s", probe_detail);
    cr_assert(strstr(probe_detail, "1 broker(s)"), "%s", probe_detail);
    /* Closing while a probe runs waits for it. */
    wwk_mock_ok(&mock, "down");
    probe_status = 1;
    ops->probe(sink, on_probe, NULL);
    ops->close(sink, on_done, NULL);
    cr_assert(RUN_UNTIL(20000, done_calls > 0));
    cr_assert_lt(probe_status, 0, "a probe with the broker down succeeded: %s", probe_detail);
    cr_assert(strstr(probe_detail, "no Kafka broker answered"), "%s", probe_detail);
}

Test(kafka_sink, config_errors_name_keys_and_hide_secrets)
{
    set_key("sasl.password", "Unit-Secret-42");
    set_key("no.such.thing", "1");
    set_key("tombstones", "perhaps");
    set_key("topic", "{schema}.{tabel}");
    set_key("ssl.key.password", "Unit-Secret-43");
    set_key("bootstrap.servers", mock.bootstrap);
    cr_assert_eq(ops->open(&fh.host, &sink), -EINVAL);
    cr_assert_eq(fh.config_errors, 3, "%s", fh.log);
    cr_assert(strstr(fh.log, "[kafka] no.such.thing:") && strstr(fh.log, "[kafka] tombstones:") &&
                  strstr(fh.log, "[kafka] topic:"),
              "%s", fh.log);
    cr_assert(!strstr(fh.log, "Unit-Secret"), "a secret is in the log:\n%s", fh.log);
}

Test(kafka_sink, user_settings_win_over_walwire_defaults)
{
    set_key("acks", "all");
    set_key("delivery.timeout.ms", "60000"); /* an alias of message.timeout.ms */
    set_key("queue.buffering.max.kbytes", "4096");
    open_sink();
    cr_assert(strstr(fh.log, "message.timeout.ms=60000") &&
                  strstr(fh.log, "queue.buffering.max.kbytes=4096"),
              "%s", fh.log);
    cr_assert(strstr(fh.log, "stops walwire"), "no note about a finite timeout:\n%s", fh.log);
    close_sink();
}
