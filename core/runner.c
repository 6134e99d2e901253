#include "runner.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bridge.h"
#include "log.h"
#include "pg_conn.h"
#include "setup.h"
#include "sink_host.h"
#include "sink_loader.h"
#include "stream.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000

enum phase {
    P_STARTING,      /* sink open, control connection, setup, replication connection */
    P_STREAMING,     /* START_REPLICATION sent or running */
    P_RECONNECTING,  /* stream lost: draining acks, then backoff, then reconnect */
    P_STOPPING,      /* draining acks, then ending the stream */
    P_CLOSING,       /* closing handles; the loop ends when they are closed */
};

struct runner {
    uv_loop_t *loop;
    const struct ww_config *cfg;
    struct ww_conninfo ci_regular;
    struct ww_conninfo ci_repl;
    char where[512]; /* redacted conninfo, for messages */

    struct ww_sink_module mod;
    struct ww_sink_host host;
    void *sink;

    struct ww_pgconn control;
    struct ww_pgconn *repl; /* heap: replaced on reconnect */
    struct ww_setup setup;
    struct ww_slot_request slot_rq;
    struct ww_stream stream;
    struct ww_bridge bridge;
    bool bridge_ready;

    uv_signal_t sigint, sigterm;
    uv_timer_t timer; /* reconnect backoff and shutdown deadline */

    enum phase phase;
    int exit_code;
    unsigned signals;
    uint64_t backoff_ms;
    bool streamed_once;
    bool stream_ended;
};

static void begin_shutdown(struct runner *r, int exit_code);
static void connect_replication(struct runner *r);

/* ---- closing ---------------------------------------------------------- */

static void on_repl_closed(struct ww_pgconn *c)
{
    free(c);
}

static void close_repl(struct runner *r)
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
    if (r->sink)
        r->mod.ops.close(r->sink, on_sink_closed, r);
    ww_stream_close(&r->stream, NULL);
    close_repl(r);
    ww_pgconn_close(&r->control, NULL);
    uv_close((uv_handle_t *)&r->timer, NULL);
    uv_close((uv_handle_t *)&r->sigint, NULL);
    uv_close((uv_handle_t *)&r->sigterm, NULL);
}

static void fail(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct runner *r, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ww_log_lsn(WW_LOG_ERROR, "walwire",
               r->bridge_ready ? r->bridge.tracker.confirmed : 0, "%s", msg);
    begin_shutdown(r, 1);
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

static void on_drained(struct ww_bridge *b);

static void begin_shutdown(struct runner *r, int exit_code)
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
    begin_shutdown(r, 0);
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
    connect_replication(r);
}

/* The stream is gone and every written change is acked: wait, reconnect. */
static void schedule_reconnect(struct runner *r)
{
    ww_warn("walwire", "reconnecting to PostgreSQL in %llu ms",
            (unsigned long long)r->backoff_ms);
    uv_timer_start(&r->timer, reconnect_now, r->backoff_ms, 0);
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
}

static void on_drained(struct ww_bridge *b)
{
    struct runner *r = b->data;
    if (r->phase == P_STOPPING)
        finish_stream(r);
    else if (r->phase == P_RECONNECTING && r->stream_ended && !uv_is_active((uv_handle_t *)&r->timer))
        schedule_reconnect(r);
}

/* Is this error worth reconnecting for, or will it fail the same way? */
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
    if (r->stream.started) {
        /* It worked until now: a reconnect starts from the first delay. */
        r->streamed_once = true;
        r->backoff_ms = BACKOFF_FIRST_MS;
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
    if (!r->streamed_once || !retryable(r, msg)) {
        fail(r, "%s", msg ? msg : "the replication stream ended");
        return;
    }
    ww_log_lsn(WW_LOG_WARN, "walwire", r->bridge.tracker.confirmed, "%s", msg);
    r->phase = P_RECONNECTING;
    ww_bridge_stop(&r->bridge);
    close_repl(r);
    if (ww_bridge_outstanding(&r->bridge) == 0)
        schedule_reconnect(r);
}

static void start_streaming(struct runner *r)
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
}

/* ---- startup ---------------------------------------------------------- */

static void on_slot_created(struct ww_slot_request *rq, int status)
{
    struct runner *r = rq->data;
    if (r->phase != P_STARTING)
        return;
    if (status < 0) {
        fail(r, "%s", rq->errmsg);
        return;
    }
    char lsn[WW_LSN_STRLEN];
    ww_info("walwire", "created replication slot %s (pgoutput), consistent at %s", r->cfg->slot,
            ww_lsn_format(rq->consistent_point, lsn));
    r->setup.slot_exists = true;
    start_streaming(r);
}

static void on_repl_connected(struct ww_pgconn *c, int status)
{
    struct runner *r = c->data;
    if (r->phase == P_RECONNECTING) {
        if (status < 0) {
            ww_warn("walwire", "reconnecting to PostgreSQL (%s) failed: %s", r->where, c->errmsg);
            close_repl(r);
            schedule_reconnect(r);
            return;
        }
        ww_info("walwire", "reconnected to PostgreSQL");
        start_streaming(r);
        return;
    }
    if (r->phase != P_STARTING)
        return;
    if (status < 0) {
        const char *hint = strstr(c->errmsg, "must be superuser or replication role")
                               ? " (fix: ALTER ROLE ... REPLICATION)"
                               : "";
        fail(r, "cannot open a replication connection to PostgreSQL (%s): %s%s", r->where,
             c->errmsg, hint);
        return;
    }
    if (r->setup.slot_exists) {
        start_streaming(r);
        return;
    }
    r->slot_rq.cb = on_slot_created;
    r->slot_rq.data = r;
    if (ww_setup_create_slot(r->repl, r->cfg->slot, false, &r->slot_rq) < 0)
        fail(r, "%s", r->slot_rq.errmsg);
}

static void connect_replication(struct runner *r)
{
    r->repl = calloc(1, sizeof *r->repl);
    if (!r->repl)
        abort();
    ww_pgconn_init(r->repl, r->loop, "replication");
    r->repl->data = r;
    const char *const *kw = (const char *const *)r->ci_repl.keywords;
    const char *const *vals = (const char *const *)r->ci_repl.values;
    if (ww_pgconn_connect(r->repl, kw, vals, on_repl_connected) < 0) {
        char msg[sizeof r->repl->errmsg];
        snprintf(msg, sizeof msg, "%s", r->repl->errmsg);
        close_repl(r);
        if (r->phase == P_RECONNECTING) {
            schedule_reconnect(r);
            return;
        }
        fail(r, "cannot connect to PostgreSQL (%s): %s", r->where, msg);
    }
}

static void on_bridge_fatal(struct ww_bridge *b, const char *msg)
{
    struct runner *r = b->data;
    fail(r, "%s", msg);
}

static void on_setup_done(struct ww_setup *st, int status)
{
    struct runner *r = st->data;
    if (r->phase != P_STARTING)
        return;
    if (status < 0) {
        fail(r, "%s", st->errmsg);
        return;
    }
    if (st->slot_exists) {
        char lsn[WW_LSN_STRLEN];
        ww_info("walwire", "resuming replication slot %s from %s", r->cfg->slot,
                ww_lsn_format(st->slot_confirmed_flush, lsn));
    }
    ww_bridge_init(&r->bridge, r->cfg, st->db_name, &r->mod.ops, r->sink,
                   st->slot_confirmed_flush);
    r->bridge.setup = &r->setup;
    r->bridge.on_fatal = on_bridge_fatal;
    r->bridge.on_drained = on_drained;
    r->bridge.data = r;
    r->bridge_ready = true;
    connect_replication(r);
}

static void on_control_connected(struct ww_pgconn *c, int status)
{
    struct runner *r = c->data;
    if (r->phase != P_STARTING)
        return;
    if (status < 0) {
        fail(r, "cannot connect to PostgreSQL (%s): %s", r->where, c->errmsg);
        return;
    }
    r->setup.data = r;
    ww_setup_run(&r->setup, r->cfg, &r->control, on_setup_done);
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
    fail(r, "sink %s failed: %s", r->cfg->sink_type, msg);
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
    r->backoff_ms = BACKOFF_FIRST_MS;
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
        if (!r->host.config_errors)
            ww_error("walwire", "sink %s could not start: %s", cfg->sink_type, strerror(-rc));
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
    ww_stream_init(&r->stream, &loop, cfg->status_interval_ms);

    ww_pgconn_init(&r->control, &loop, "control");
    r->control.data = r;
    r->phase = P_STARTING;
    ww_info("walwire", "connecting to PostgreSQL (%s), slot %s, publication %s, sink %s",
            r->where, cfg->slot, cfg->publication, cfg->sink_type);
    if (ww_pgconn_connect(&r->control, (const char *const *)r->ci_regular.keywords,
                          (const char *const *)r->ci_regular.values, on_control_connected) < 0)
        fail(r, "cannot connect to PostgreSQL (%s): %s", r->where, r->control.errmsg);

    uv_run(&loop, UV_RUN_DEFAULT);
    code = r->exit_code;
    if (r->bridge_ready) {
        char lsn[WW_LSN_STRLEN];
        ww_info("walwire", "exiting with code %d; %llu events delivered, confirmed position %s",
                code, (unsigned long long)r->bridge.stats.acks,
                ww_lsn_format(r->bridge.tracker.confirmed, lsn));
        ww_bridge_free(&r->bridge);
    }
    ww_setup_free(&r->setup);
out_unload:
    ww_sink_unload(&r->mod);
out:
    ww_conninfo_free(&r->ci_regular);
    ww_conninfo_free(&r->ci_repl);
    uv_loop_close(&loop);
    free(r);
    return code;
}
