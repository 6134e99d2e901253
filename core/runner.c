#include "runner.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "runner_int.h"

/* A stream that lived this long before failing counts as healthy. */
#define STREAM_HEALTHY_MS 60000
/* Failures in a row without progress before walwire gives up. */
#define STUCK_FAILURES_MAX 5

/* ---- closing ---------------------------------------------------------- */

static void on_repl_closed(struct ww_pgconn *c)
{
    free(c);
}

void ww_runner_close_repl(struct runner *r)
{
    if (r->repl) {
        ww_pgconn_close(r->repl, on_repl_closed);
        r->repl = NULL;
    }
}

static void on_sink_closed(void *arg)
{
    struct runner *r = arg;
    r->sink = NULL;
}

/* Close everything; uv_run returns once every handle is closed. */
static void close_all(struct runner *r)
{
    if (r->phase == P_CLOSING)
        return;
    r->phase = P_CLOSING;
    if (r->bridge_ready) {
        ww_bridge_stop(&r->bridge);
        r->bridge.stream = NULL;
    }
    if (r->snapshot_open)
        ww_snapshot_close(&r->snapshot, ww_runner_on_snapshot_closed);
    if (r->sink)
        r->mod.ops.close(r->sink, on_sink_closed, r);
    ww_stream_close(&r->stream, NULL);
    ww_runner_close_repl(r);
    ww_upkeep_close(&r->upkeep, NULL);
    ww_runner_http_close(r);
    ww_pgconn_close(&r->control, NULL);
    uv_close((uv_handle_t *)&r->timer, NULL);
    uv_close((uv_handle_t *)&r->sigint, NULL);
    uv_close((uv_handle_t *)&r->sigterm, NULL);
}

static void vfail(struct runner *r, int exit_code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void vfail(struct runner *r, int exit_code, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    ww_log_lsn(WW_LOG_ERROR, "walwire",
               r->bridge_ready ? r->bridge.tracker.confirmed : 0, "%s", msg);
    ww_runner_shutdown(r, exit_code);
}

/* A runtime failure: log it once, shut down, exit 1. */
void ww_runner_fail(struct runner *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(r, 1, fmt, ap);
    va_end(ap);
}

/* The configuration does not fit what walwire finds: exit 2. */
void ww_runner_fail_config(struct runner *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(r, 2, fmt, ap);
    va_end(ap);
}

/* ---- shutdown --------------------------------------------------------- */

static void on_stop_deadline(uv_timer_t *t)
{
    struct runner *r = t->data;
    if (r->phase != P_STOPPING)
        return;
    if (!r->stream_ended) {
        ww_warn("walwire", "shutdown: %llu change(s) still unacknowledged after %llu ms; "
                "they will be sent again at the next start",
                (unsigned long long)ww_bridge_outstanding(&r->bridge),
                (unsigned long long)r->cfg->shutdown_timeout_ms);
    }
    close_all(r);
}

/* Every accepted change is acked (or we gave up waiting): report the final
 * position and end the stream. */
static void finish_stream(struct runner *r)
{
    if (r->stream.started && !r->stream_ended) {
        ww_stream_stop(&r->stream);
        return; /* on_stream_end closes everything */
    }
    close_all(r);
}

void ww_runner_shutdown(struct runner *r, int exit_code)
{
    if (exit_code > r->exit_code)
        r->exit_code = exit_code;
    if (r->phase == P_CLOSING)
        return;
    if (r->phase == P_STREAMING && exit_code == 0 && !r->bridge.failed) {
        r->phase = P_STOPPING;
        ww_bridge_stop(&r->bridge);
        ww_stream_pause(&r->stream);
        uv_timer_start(&r->timer, on_stop_deadline, r->cfg->shutdown_timeout_ms, 0);
        ww_info("walwire", "stopping: waiting for %llu change(s) to be acknowledged",
                (unsigned long long)ww_bridge_outstanding(&r->bridge));
        if (ww_bridge_outstanding(&r->bridge) == 0)
            finish_stream(r);
        return;
    }
    if (r->phase == P_STOPPING)
        return;
    if (r->phase == P_SNAPSHOT && r->cfg->snapshot != WW_SNAPSHOT_INITIAL_ONLY &&
        !r->state.snapshot_completed)
        ww_warn("walwire", "the snapshot was interrupted: it will be taken again at the next "
                "start");
    /* A failure (or a stop before streaming): report what is confirmed, if
     * we can, and close. Nothing unacknowledged is ever confirmed. */
    if (r->phase == P_STREAMING && r->stream.started && !r->stream_ended)
        ww_stream_send_status(&r->stream, false);
    close_all(r);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct runner *r = h->data;
    r->signals++;
    if (r->signals > 1) {
        ww_warn("walwire", "second signal: exiting now; unacknowledged changes will be sent "
                "again at the next start");
        r->exit_code = 1;
        close_all(r);
        return;
    }
    ww_info("walwire", "%s received, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    ww_runner_shutdown(r, 0);
}

/* ---- streaming -------------------------------------------------------- */

static bool on_xlogdata(void *arg, ww_lsn data_start, const char *payload, size_t len)
{
    struct runner *r = arg;
    if (r->phase != P_STREAMING)
        return r->phase == P_STOPPING; /* keep reading until CopyDone when stopping */
    return ww_bridge_xlogdata(&r->bridge, data_start, payload, len);
}

static void on_keepalive(void *arg, ww_lsn wal_end)
{
    struct runner *r = arg;
    if (r->phase == P_STREAMING)
        ww_bridge_keepalive(&r->bridge, wal_end);
}

static void reconnect_now(uv_timer_t *t)
{
    struct runner *r = t->data;
    if (r->phase != P_RECONNECTING)
        return;
    ww_bridge_reset_stream(&r->bridge);
    ww_runner_connect_replication(r);
}

/* The stream is gone and every written change is acked: wait, reconnect. */
void ww_runner_schedule_reconnect(struct runner *r)
{
    ww_warn("walwire", "reconnecting to PostgreSQL in %llu ms",
            (unsigned long long)r->backoff_ms);
    uv_timer_start(&r->timer, reconnect_now, r->backoff_ms, 0);
    r->reconnects++;
    r->backoff_ms = r->backoff_ms * 2 > WW_BACKOFF_MAX_MS ? WW_BACKOFF_MAX_MS : r->backoff_ms * 2;
}

void ww_runner_on_drained(struct ww_bridge *b)
{
    struct runner *r = b->data;
    if (r->phase == P_SNAPSHOT && r->snapshot_open)
        ww_snapshot_drained(&r->snapshot);
    else if (r->phase == P_STOPPING)
        finish_stream(r);
    else if (r->phase == P_RECONNECTING && r->stream_ended && !uv_is_active((uv_handle_t *)&r->timer))
        ww_runner_schedule_reconnect(r);
}

/* Is this error worth reconnecting for, or will it ww_runner_fail the same way? */
static bool retryable(const struct runner *r, const char *msg)
{
    if (r->bridge.failed)
        return false;
    static const char *const permanent[] = {
        "does not exist",         /* slot or database dropped */
        "password authentication", /* credentials changed */
        "must be superuser or replication role",
        "wal_level",
        "protocol error",
    };
    for (size_t i = 0; i < sizeof permanent / sizeof *permanent; i++)
        if (msg && strstr(msg, permanent[i]))
            return false;
    return true;
}

static void on_stream_end(void *arg, int status, const char *msg)
{
    struct runner *r = arg;
    r->stream_ended = true;
    r->bridge.stream = NULL;
    ww_upkeep_streaming(&r->upkeep, false);
    if (r->stream.started) {
        r->streamed_once = true;
        /* A stream that moved the slot, or lived a while, worked: the next
         * reconnect starts from the first delay. One that fails again and
         * again at the same position will not heal by retrying. */
        bool progressed = r->bridge.tracker.confirmed > r->stream_start_confirmed ||
                          uv_now(r->loop) - r->stream_started_ms > STREAM_HEALTHY_MS;
        r->stuck_failures = progressed ? 0 : r->stuck_failures + 1;
        if (progressed)
            r->backoff_ms = WW_BACKOFF_FIRST_MS;
    }
    if (r->phase == P_STOPPING || r->phase == P_CLOSING) {
        if (status < 0)
            ww_warn("walwire", "the stream ended with an error while stopping: %s", msg);
        else
            ww_log_lsn(WW_LOG_INFO, "walwire", r->bridge.tracker.confirmed,
                       "stream stopped; confirmed position reported");
        close_all(r);
        return;
    }
    if (r->bridge.failed) {
        close_all(r);
        return;
    }
    /* Another process took the slot between our check and START_REPLICATION:
     * wait for it like a standby. */
    if (!r->streamed_once && msg && strstr(msg, "is active for PID")) {
        const char *p = strstr(msg, "is active for PID");
        ww_runner_close_repl(r);
        r->phase = P_STARTING;
        ww_runner_wait_for_slot(r, atoi(p + strlen("is active for PID")));
        return;
    }
    if (msg && strstr(msg, "publication") && strstr(msg, "does not exist")) {
        ww_runner_fail(r, "%s. The slot cannot stream past the change where the publication "
                       "went missing, even if it is created again: drop the slot with SELECT "
                       "pg_drop_replication_slot('%s'); and start walwire again (it takes a new "
                       "snapshot)", msg, r->cfg->slot);
        return;
    }
    if (msg && (strstr(msg, "has been invalidated") || strstr(msg, "can no longer get changes"))) {
        ww_runner_fail(r, "%s. The slot was invalidated (it exceeded max_slot_wal_keep_size): the "
                       "WAL it needed is gone, so changes were lost. Drop it with SELECT "
                       "pg_drop_replication_slot('%s'); delete the state file %s, and start "
                       "walwire again to take a new snapshot", msg, r->cfg->slot,
                       r->cfg->state_file);
        return;
    }
    if (r->stuck_failures >= STUCK_FAILURES_MAX) {
        char lsn[WW_LSN_STRLEN];
        ww_runner_fail(r, "the replication stream failed %d times in a row at %s without "
                       "moving: %s", r->stuck_failures,
                       ww_lsn_format(r->bridge.tracker.confirmed, lsn), msg ? msg : "");
        return;
    }
    if (!r->streamed_once || !retryable(r, msg)) {
        ww_runner_fail(r, "%s", msg ? msg : "the replication stream ended");
        return;
    }
    ww_log_lsn(WW_LOG_WARN, "walwire", r->bridge.tracker.confirmed, "%s", msg);
    r->phase = P_RECONNECTING;
    ww_bridge_stop(&r->bridge);
    ww_runner_close_repl(r);
    if (ww_bridge_outstanding(&r->bridge) == 0)
        ww_runner_schedule_reconnect(r);
}

void ww_runner_start_streaming(struct runner *r)
{
    static const struct ww_stream_handlers handlers = {on_xlogdata, on_keepalive, on_stream_end};
    r->phase = P_STREAMING;
    r->stream_ended = false;
    r->bridge.stream = &r->stream;
    ww_lsn confirmed = r->bridge.tracker.confirmed;
    if (ww_stream_start(&r->stream, r->repl, r->cfg->slot, r->cfg->publication, 0, confirmed,
                        &handlers, r) < 0) {
        on_stream_end(r, -EIO, r->stream.errmsg);
        return;
    }
    ww_upkeep_streaming(&r->upkeep, true);
    r->stream_start_confirmed = confirmed;
    r->stream_started_ms = uv_now(r->loop);
}

/* ---- sink host callbacks ---------------------------------------------- */

static void on_host_resume(void *arg)
{
    struct runner *r = arg;
    if (r->bridge_ready)
        ww_bridge_sink_resume(&r->bridge);
}

static void on_host_fail(void *arg, const char *msg)
{
    struct runner *r = arg;
    ww_runner_fail(r, "sink %s failed: %s", r->cfg->sink_type, msg);
}

/* ---- entry ------------------------------------------------------------ */

int ww_run(const struct ww_config *cfg)
{
    struct runner *r = calloc(1, sizeof *r);
    if (!r)
        return 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    r->loop = &loop;
    r->cfg = cfg;
    ww_metrics_init(&r->metrics);
    r->backoff_ms = WW_BACKOFF_FIRST_MS;
    int code = 0;
    char err[512];

    ww_conninfo_redact(cfg->conninfo, r->where, sizeof r->where);
    if (ww_conninfo_build(cfg->conninfo, cfg->password_file, WW_CONN_REGULAR, &r->ci_regular, err,
                          sizeof err) < 0 ||
        ww_conninfo_build(cfg->conninfo, cfg->password_file, WW_CONN_REPLICATION, &r->ci_repl,
                          err, sizeof err) < 0) {
        ww_error("config", "%s: %s", cfg->path, err);
        code = 2;
        goto out;
    }
    if (ww_sink_load(cfg->sink_dir, cfg->sink_type, &r->mod, err, sizeof err) < 0) {
        ww_error("walwire", "%s", err);
        code = 2;
        goto out;
    }
    ww_sink_host_init(&r->host, &loop, cfg, on_host_resume, on_host_fail, r);
    int rc = r->mod.ops.open(&r->host.host, &r->sink);
    if (rc < 0) {
        /* The sink said what is wrong itself (sink.h: open logs its errors). */
        code = r->host.config_errors ? 2 : 1;
        r->sink = NULL;
        uv_run(&loop, UV_RUN_DEFAULT); /* let the sink's closed handles finish */
        goto out_unload;
    }

    uv_timer_init(&loop, &r->timer);
    r->timer.data = r;
    uv_signal_init(&loop, &r->sigint);
    uv_signal_init(&loop, &r->sigterm);
    r->sigint.data = r->sigterm.data = r;
    uv_signal_start(&r->sigint, on_signal, SIGINT);
    uv_signal_start(&r->sigterm, on_signal, SIGTERM);
    /* main() blocked them until now: one that came early is delivered. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &stop_signals, NULL);
    ww_stream_init(&r->stream, &loop, cfg->status_interval_ms);

    ww_pgconn_init(&r->control, &loop, "control");
    r->control.data = r;
    r->phase = P_STARTING;
    if (ww_runner_http_start(r) < 0)
        ww_runner_shutdown(r, 1);
    ww_info("walwire", "connecting to PostgreSQL (%s), slot %s, publication %s, sink %s",
            r->where, cfg->slot, cfg->publication, cfg->sink_type);
    if (r->phase == P_STARTING && ww_pgconn_connect(&r->control, (const char *const *)r->ci_regular.keywords,
                          (const char *const *)r->ci_regular.values, ww_runner_on_control_connected) < 0)
        ww_runner_fail(r, "cannot connect to PostgreSQL (%s): %s", r->where, r->control.errmsg);

    uv_run(&loop, UV_RUN_DEFAULT);
    code = r->exit_code;
    if (r->bridge_ready) {
        char lsn[WW_LSN_STRLEN];
        ww_info("walwire", "exiting with code %d; %llu events delivered, %llu heartbeats "
                "seen, confirmed position %s", code, (unsigned long long)r->bridge.stats.acks,
                (unsigned long long)r->bridge.stats.heartbeats,
                ww_lsn_format(r->bridge.tracker.confirmed, lsn));
        ww_bridge_free(&r->bridge);
    }
    ww_setup_free(&r->setup);
out_unload:
    ww_metrics_free(&r->metrics);
    ww_sink_unload(&r->mod);
out:
    ww_conninfo_free(&r->ci_regular);
    ww_conninfo_free(&r->ci_repl);
    uv_loop_close(&loop);
    free(r);
    return code;
}
