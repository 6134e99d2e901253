/*
 * The null sink against the sink ABI contract (walwire/sink.h), with a fake
 * host: acks come later than write(), exactly once, in order, on the loop,
 * also when nothing else wakes the loop; close() cancels what is
 * outstanding and calls done once its handles are closed; the [null]
 * section takes no keys.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "walwire/sink.h"

/* The module's one exported symbol (null_sink.c is linked in). */
const struct ww_sink_ops *ww_sink_entry(void);

#define MAX_ACKS 5000

static uv_loop_t loop;
static const struct ww_sink_ops *ops;
static void *sink;

/* What the fake host and the ack callback saw. */
static int in_write;       /* inside ops->write() */
static int acked_in_write; /* an ack came from inside write() */
static int status_of[MAX_ACKS];
static int times_acked[MAX_ACKS];
static int order[MAX_ACKS];
static int nacks;
static int done_calls;
static const char *config_keys[4];
static int nconfig_keys;
static char config_error_key[64];

static void fake_log(const struct ww_host *h, enum ww_log_level l, const char *fmt, ...)
{
    (void)h;
    (void)l;
    (void)fmt;
}

static const char *fake_get(const struct ww_host *h, const char *key)
{
    (void)h;
    (void)key;
    return NULL;
}

static int fake_foreach(const struct ww_host *h,
                        int (*fn)(void *arg, const char *key, const char *value), void *arg)
{
    (void)h;
    for (int i = 0; i < nconfig_keys; i++) {
        int rc = fn(arg, config_keys[i], "1");
        if (rc)
            return rc;
    }
    return 0;
}

static int fake_error(const struct ww_host *h, const char *key, const char *fmt, ...)
{
    (void)h;
    (void)fmt;
    snprintf(config_error_key, sizeof config_error_key, "%s", key);
    return -EINVAL;
}

static struct ww_host host = {
    .loop = &loop,
    .topic_prefix = "test",
    .max_inflight_bytes = 1 << 20,
    .log = fake_log,
    .config_get = fake_get,
    .config_foreach = fake_foreach,
    .config_error = fake_error,
};

static void on_ack(void *token, int status)
{
    int i = (int)(intptr_t)token;
    if (in_write)
        acked_in_write = 1;
    status_of[i] = status;
    times_acked[i]++;
    order[nacks++] = i;
}

static void on_done(void *arg)
{
    (void)arg;
    done_calls++;
}

static const struct ww_change change = {
    .op = WW_OP_CREATE,
    .schema = "public",
    .table = "t",
    .key = "{\"id\":1}",
    .key_len = 8,
    .value = "{}",
    .value_len = 2,
};

static int write_one(int i)
{
    in_write = 1;
    int rc = ops->write(sink, &change, on_ack, (void *)(intptr_t)i);
    in_write = 0;
    return rc;
}

static void setup(void)
{
    memset(status_of, 0x7f, sizeof status_of);
    memset(times_acked, 0, sizeof times_acked);
    nacks = done_calls = acked_in_write = nconfig_keys = 0;
    config_error_key[0] = 0;
    cr_assert_eq(uv_loop_init(&loop), 0);
    ops = ww_sink_entry();
    cr_assert_eq(ops->abi_version, WW_SINK_ABI_VERSION);
    cr_assert_geq(ops->size, WW_SINK_OPS_MIN_SIZE);
    cr_assert_str_eq(ops->name, "null");
    sink = NULL;
}

/* Close the sink (when open) and check that the loop ends clean. */
static void teardown(void)
{
    if (sink) {
        ops->close(sink, on_done, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        cr_assert_eq(done_calls, 1);
    }
    cr_assert_eq(uv_loop_close(&loop), 0, "the sink left a handle open");
}

TestSuite(null_sink, .init = setup, .fini = teardown);

Test(null_sink, refuses_any_key_in_its_section)
{
    config_keys[0] = "path";
    nconfig_keys = 1;
    cr_assert_eq(ops->open(&host, &sink), -EINVAL);
    cr_assert_str_eq(config_error_key, "path");
    sink = NULL;
}

Test(null_sink, acks_later_in_order_exactly_once)
{
    cr_assert_eq(ops->open(&host, &sink), 0);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(write_one(i), 0);
    cr_assert_eq(nacks, 0, "acked from inside write()");
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(nacks, 10);
    cr_assert_not(acked_in_write);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(order[i], i);
        cr_assert_eq(status_of[i], 0);
        cr_assert_eq(times_acked[i], 1);
    }
}

/* A write from a timer (outside the poll phase): with nothing else to
 * wake the loop, the ack must still come at once, and then the loop has
 * nothing left to wait for (uv_run returns). An unreferenced watchdog
 * timer (it keeps nothing alive, but bounds how long poll may sleep) turns
 * a loop that went to sleep waiting for I/O into a 2 s wait, caught by the
 * elapsed time. */
static int watchdog_fired;

static void write_from_timer(uv_timer_t *t)
{
    (void)t;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(write_one(i), 0);
}

static void on_watchdog(uv_timer_t *t)
{
    watchdog_fired = 1;
    uv_stop(t->loop);
}

Test(null_sink, acks_without_other_io_and_then_lets_the_loop_sleep)
{
    cr_assert_eq(ops->open(&host, &sink), 0);
    uv_timer_t t, watchdog;
    uv_timer_init(&loop, &t);
    uv_timer_init(&loop, &watchdog);
    uv_timer_start(&t, write_from_timer, 0, 0);
    uv_timer_start(&watchdog, on_watchdog, 2000, 0);
    uv_unref((uv_handle_t *)&watchdog);
    watchdog_fired = 0;
    uint64_t t0 = uv_hrtime();
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    uint64_t elapsed_ms = (uv_hrtime() - t0) / 1000000;
    cr_assert(elapsed_ms < 1000 && !watchdog_fired,
              "the acks waited %llu ms for another wake-up of the loop",
              (unsigned long long)elapsed_ms);
    cr_assert_eq(nacks, 3);
    cr_assert_eq(order[2], 2);
    uv_close((uv_handle_t *)&t, NULL);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
}

/* An ack callback that writes again (core resuming): that write's ack is
 * not delivered from inside it, and comes on a later turn. */
static void ack_and_write_again(void *token, int status)
{
    on_ack(token, status);
    if ((int)(intptr_t)token == 0)
        cr_assert_eq(write_one(1), 0);
}

Test(null_sink, write_from_an_ack_is_acked_on_a_later_turn)
{
    cr_assert_eq(ops->open(&host, &sink), 0);
    in_write = 1;
    cr_assert_eq(ops->write(sink, &change, ack_and_write_again, (void *)(intptr_t)0), 0);
    in_write = 0;
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(nacks, 1, "the second write was acked in the same pass");
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(nacks, 2);
    cr_assert_not(acked_in_write);
    cr_assert_eq(order[1], 1);
}

Test(null_sink, keeps_order_beyond_its_first_ring)
{
    cr_assert_eq(ops->open(&host, &sink), 0);
    for (int i = 0; i < MAX_ACKS; i++) {
        cr_assert_eq(write_one(i), 0);
        if (i % 700 == 699) /* drain part of it now and then: the ring wraps */
            uv_run(&loop, UV_RUN_NOWAIT);
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(nacks, MAX_ACKS);
    for (int i = 0; i < MAX_ACKS; i++)
        cr_assert_eq(order[i], i, "ack %d out of order", i);
}

Test(null_sink, close_cancels_outstanding_and_calls_done_once)
{
    cr_assert_eq(ops->open(&host, &sink), 0);
    cr_assert_eq(write_one(0), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(write_one(1), 0);
    cr_assert_eq(write_one(2), 0);
    ops->close(sink, on_done, NULL);
    sink = NULL;
    cr_assert_eq(nacks, 3);
    cr_assert_eq(status_of[0], 0);
    cr_assert_eq(status_of[1], -ECANCELED);
    cr_assert_eq(status_of[2], -ECANCELED);
    cr_assert_eq(order[2], 2);
    cr_assert_eq(done_calls, 0, "done before the handles are closed");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(done_calls, 1);
    cr_assert_eq(nacks, 3, "an ack after close");
}

static int probe_status = 1;
static char probe_detail[128];

static void on_probe(void *arg, int status, const char *detail)
{
    (void)arg;
    probe_status = status;
    snprintf(probe_detail, sizeof probe_detail, "%s", detail);
}

Test(null_sink, probe_reports_ok)
{
    cr_assert_eq(ops->open(&host, &sink), 0);
    cr_assert_not_null(ops->probe);
    ops->probe(sink, on_probe, NULL);
    cr_assert_eq(probe_status, 0);
    cr_assert_not_null(strstr(probe_detail, "null sink"));
}
