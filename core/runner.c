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
#include "snapshot.h"
#include "state.h"
#include "stream.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000

enum phase {
    P_STARTING,      /* sink open, control connection, setup, replication connection */
    P_SNAPSHOT,      /* reading the initial snapshot */
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
    struct ww_snapshot snapshot;
    bool snapshot_open;
    bool need_snapshot;   /* this start takes a snapshot */
    bool drop_slot;       /* ... after dropping the slot it cannot reuse */
    struct ww_state state; /* what the state file says / will say */

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
static void start_streaming(struct runner *r);

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

static void on_snapshot_closed(struct ww_snapshot *s);

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
        ww_snapshot_close(&r->snapshot, on_snapshot_closed);
    if (r->sink)
        r->mod.ops.close(r->sink, on_sink_closed, r);
    ww_stream_close(&r->stream, NULL);
    close_repl(r);
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
    begin_shutdown(r, exit_code);
}

/* A runtime failure: log it once, shut down, exit 1. */
static void fail(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct runner *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(r, 1, fmt, ap);
    va_end(ap);
}

/* The configuration does not fit what walwire finds: exit 2. */
static void fail_config(struct runner *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail_config(struct runner *r, const char *fmt, ...)
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
    if (r->phase == P_SNAPSHOT && r->snapshot_open)
        ww_snapshot_drained(&r->snapshot);
    else if (r->phase == P_STOPPING)
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

/* ---- snapshot ----------------------------------------------------------- */

/* Writing the state file happens on libuv's threadpool (it fsyncs). */
struct state_job {
    uv_work_t req;
    struct runner *r;
    struct ww_state st;
    void (*then)(struct runner *r);
    int rc;
    char err[600];
};

static void state_work(uv_work_t *req)
{
    struct state_job *j = req->data;
    j->rc = ww_state_write(j->r->cfg->state_file, &j->st, j->err, sizeof j->err);
}

static void state_written(uv_work_t *req, int status)
{
    struct state_job *j = req->data;
    struct runner *r = j->r;
    if (r->phase != P_CLOSING && r->phase != P_STOPPING) {
        if (j->rc < 0 || status < 0)
            fail(r, "%s", j->rc < 0 ? j->err : "writing the state file was cancelled");
        else
            j->then(r);
    }
    free(j);
}

static void write_state(struct runner *r, void (*then)(struct runner *r))
{
    struct state_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->req.data = j;
    j->r = r;
    j->st = r->state;
    j->then = then;
    uv_queue_work(r->loop, &j->req, state_work, state_written);
}

static void after_completed_state(struct runner *r)
{
    if (r->phase == P_SNAPSHOT)
        start_streaming(r);
}

static void on_snapshot_closed(struct ww_snapshot *s)
{
    struct runner *r = s->data;
    r->snapshot_open = false;
}

static void on_snapshot_done(struct ww_snapshot *s, int status)
{
    struct runner *r = s->data;
    if (r->phase != P_SNAPSHOT)
        return;
    if (status < 0) {
        fail(r, "%s (the snapshot will be taken again at the next start)", s->errmsg);
        return;
    }
    ww_snapshot_close(s, on_snapshot_closed);
    if (r->cfg->snapshot == WW_SNAPSHOT_INITIAL_ONLY) {
        ww_info("walwire", "snapshot = initial_only: the snapshot is complete, exiting");
        begin_shutdown(r, 0);
        return;
    }
    r->state.snapshot_completed = true;
    write_state(r, after_completed_state);
}

static void start_snapshot(struct runner *r, const char *name, ww_lsn consistent_point)
{
    r->phase = P_SNAPSHOT;
    r->state.consistent_point = consistent_point;
    ww_bridge_snapshot_begin(&r->bridge, consistent_point, ww_pg_now_us() + WW_PG_EPOCH_OFFSET_US);
    r->snapshot_open = true;
    if (ww_snapshot_start(&r->snapshot, r->loop, r->cfg, &r->bridge, &r->ci_regular, name,
                          consistent_point, on_snapshot_done, r) < 0)
        fail(r, "%s", r->snapshot.errmsg);
}

/* ---- startup ------------------------------------------------------------- */

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
    /* A new slot starts confirmed at its consistent point. */
    if (rq->consistent_point > r->bridge.tracker.confirmed)
        r->bridge.tracker.confirmed = rq->consistent_point;
    if (r->need_snapshot)
        start_snapshot(r, rq->snapshot_name, rq->consistent_point);
    else
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
    if (ww_setup_create_slot(r->repl, r->cfg->slot, r->need_snapshot, &r->slot_rq) < 0)
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

static void on_slot_dropped(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct runner *r = arg;
    if (r->phase != P_STARTING)
        return;
    if (status < 0) {
        fail(r, "dropping replication slot %s to take a new snapshot failed: %s", r->cfg->slot,
             c->errmsg);
        return;
    }
    r->setup.slot_exists = false;
    connect_replication(r);
}

/* The state file says "snapshot started": now it is safe to drop the slot
 * and create it again (a crash from here on redoes the snapshot). */
static void after_started_state(struct runner *r)
{
    if (r->phase != P_STARTING)
        return;
    if (!r->drop_slot) {
        connect_replication(r);
        return;
    }
    char *lit = PQescapeLiteral(r->control.pg, r->cfg->slot, strlen(r->cfg->slot));
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT pg_drop_replication_slot(%s)", lit ? lit : "NULL");
    PQfreemem(lit);
    if (ww_pgconn_query(&r->control, sql, on_slot_dropped, r) < 0)
        fail(r, "dropping replication slot %s failed: %s", r->cfg->slot, r->control.errmsg);
}

/* snapshot = initial_only: a snapshot without a slot, exported by a
 * transaction on the control connection that stays open until the workers
 * have imported it. */
static void on_exported(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct runner *r = arg;
    if (r->phase != P_STARTING)
        return;
    ww_lsn lsn = 0;
    if (status < 0 || PQntuples(res) != 1 || ww_lsn_parse(PQgetvalue(res, 0, 1), &lsn) < 0) {
        fail(r, "exporting a snapshot failed: %s", c->errmsg);
        return;
    }
    start_snapshot(r, PQgetvalue(res, 0, 0), lsn);
}

/* Decide whether this start takes a snapshot (DESIGN.md, [source] snapshot):
 *   never         no
 *   always        yes, on a slot created anew
 *   initial       when the slot is new, or the state file does not say a
 *                 snapshot of it completed (interrupted: drop, recreate)
 *   initial_only  yes, without a slot, then exit
 * A state file written for another database/publication/tables/slot is an
 * error: streaming on would silently mix two streams. */
static void plan_start(struct runner *r)
{
    const struct ww_config *cfg = r->cfg;
    if (cfg->snapshot == WW_SNAPSHOT_NEVER) {
        connect_replication(r);
        return;
    }
    if (cfg->snapshot == WW_SNAPSHOT_INITIAL_ONLY) {
        if (ww_pgconn_query(&r->control,
                            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
                            "SELECT pg_export_snapshot(), pg_current_wal_lsn()::text",
                            on_exported, r) < 0)
            fail(r, "exporting a snapshot failed: %s", r->control.errmsg);
        return;
    }
    struct ww_state saved;
    char err[600];
    int rc = ww_state_read(cfg->state_file, &saved, err, sizeof err);
    if (rc < 0 && rc != -ENOENT) {
        fail(r, "%s", err);
        return;
    }
    ww_state_from_config(&r->state, cfg, r->setup.db_name);
    char diff[1024];
    if (rc == 0 && !ww_state_same_stream(&saved, &r->state, diff, sizeof diff)) {
        fail_config(r, "the state file %s was written for another stream: %s. To start over "
                    "with this configuration, delete %s and drop the old slot with SELECT "
                    "pg_drop_replication_slot('%s'); (walwire then takes a new snapshot), or "
                    "restore the previous configuration", cfg->state_file, diff,
                    cfg->state_file, saved.slot);
        return;
    }
    bool slot_exists = r->setup.slot_exists;
    if (cfg->snapshot == WW_SNAPSHOT_ALWAYS) {
        r->need_snapshot = true;
        r->drop_slot = slot_exists;
    } else if (!slot_exists) {
        r->need_snapshot = true;
        if (rc == 0 && saved.snapshot_completed)
            ww_warn("walwire", "replication slot %s no longer exists: taking a new snapshot "
                    "(changes made while it was gone are only in the snapshot)", cfg->slot);
    } else if (rc == 0 && saved.snapshot_completed) {
        r->need_snapshot = false;
    } else {
        r->need_snapshot = r->drop_slot = true;
        if (rc == 0)
            ww_warn("walwire", "the snapshot of slot %s did not complete (interrupted); "
                    "dropping and recreating the slot to take it again", cfg->slot);
        else
            ww_warn("walwire", "replication slot %s exists but the state file %s does not "
                    "say its snapshot completed: dropping and recreating the slot to take a "
                    "snapshot (set snapshot = never to stream from the slot as it is)",
                    cfg->slot, cfg->state_file);
    }
    if (!r->need_snapshot) {
        connect_replication(r);
        return;
    }
    if (r->drop_slot && !cfg->create_slot) {
        fail(r, "a snapshot is needed, which means recreating replication slot %s, but "
             "[source] create_slot is false; set create_slot = true, or snapshot = never to "
             "stream without a snapshot", cfg->slot);
        return;
    }
    r->state.snapshot_completed = false;
    write_state(r, after_started_state);
}

static void on_bridge_fatal(struct ww_bridge *b, const char *msg)
{
    struct runner *r = b->data;
    fail(r, "%s", msg);
}

static void on_bridge_resume(struct ww_bridge *b)
{
    struct runner *r = b->data;
    if (r->phase == P_SNAPSHOT && r->snapshot_open)
        ww_snapshot_resume(&r->snapshot);
    else if (r->phase == P_STREAMING && !r->stream_ended)
        ww_stream_resume(&r->stream);
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
        ww_info("walwire", "replication slot %s exists, confirmed up to %s", r->cfg->slot,
                ww_lsn_format(st->slot_confirmed_flush, lsn));
    }
    ww_bridge_init(&r->bridge, r->cfg, st->db_name, &r->mod.ops, r->sink,
                   st->slot_confirmed_flush);
    r->bridge.setup = &r->setup;
    r->bridge.on_fatal = on_bridge_fatal;
    r->bridge.on_drained = on_drained;
    r->bridge.resume_reading = on_bridge_resume;
    r->bridge.data = r;
    r->bridge_ready = true;
    plan_start(r);
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
