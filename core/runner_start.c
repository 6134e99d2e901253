/* The start of `walwire run`: setup, standby, slot, snapshot, state file
 * (see runner.h and runner_int.h). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "runner_int.h"

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
            ww_runner_fail(r, "%s", j->rc < 0 ? j->err : "writing the state file was cancelled");
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
        ww_runner_start_streaming(r);
}

void ww_runner_on_snapshot_closed(struct ww_snapshot *s)
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
        ww_runner_fail(r, "%s (the snapshot will be taken again at the next start)", s->errmsg);
        return;
    }
    ww_snapshot_close(s, ww_runner_on_snapshot_closed);
    if (r->cfg->snapshot == WW_SNAPSHOT_INITIAL_ONLY) {
        ww_info("walwire", "snapshot = initial_only: the snapshot is complete, exiting");
        ww_runner_shutdown(r, 0);
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
        ww_runner_fail(r, "%s", r->snapshot.errmsg);
}

/* ---- startup ------------------------------------------------------------- */

static void on_slot_created(struct ww_slot_request *rq, int status)
{
    struct runner *r = rq->data;
    if (r->phase != P_STARTING)
        return;
    if (status < 0) {
        ww_runner_fail(r, "%s", rq->errmsg);
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
        ww_runner_start_streaming(r);
}

static void on_repl_connected(struct ww_pgconn *c, int status)
{
    struct runner *r = c->data;
    if (r->phase == P_RECONNECTING) {
        if (status < 0) {
            ww_warn("walwire", "reconnecting to PostgreSQL (%s) failed: %s", r->where, c->errmsg);
            ww_runner_close_repl(r);
            ww_runner_schedule_reconnect(r);
            return;
        }
        ww_info("walwire", "reconnected to PostgreSQL");
        ww_runner_start_streaming(r);
        return;
    }
    if (r->phase != P_STARTING)
        return;
    if (status < 0) {
        const char *hint = strstr(c->errmsg, "must be superuser or replication role")
                               ? " (fix: ALTER ROLE ... REPLICATION)"
                               : "";
        ww_runner_fail(r, "cannot open a replication connection to PostgreSQL (%s): %s%s", r->where,
             c->errmsg, hint);
        return;
    }
    if (r->setup.slot_exists) {
        ww_runner_start_streaming(r);
        return;
    }
    r->slot_rq.cb = on_slot_created;
    r->slot_rq.data = r;
    if (ww_setup_create_slot(r->repl, r->cfg->slot, r->need_snapshot, &r->slot_rq) < 0)
        ww_runner_fail(r, "%s", r->slot_rq.errmsg);
}

void ww_runner_connect_replication(struct runner *r)
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
        ww_runner_close_repl(r);
        if (r->phase == P_RECONNECTING) {
            ww_runner_schedule_reconnect(r);
            return;
        }
        ww_runner_fail(r, "cannot connect to PostgreSQL (%s): %s", r->where, msg);
    }
}

static void on_slot_dropped(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct runner *r = arg;
    if (r->phase != P_STARTING)
        return;
    if (status < 0) {
        ww_runner_fail(r, "dropping replication slot %s to take a new snapshot failed: %s", r->cfg->slot,
             c->errmsg);
        return;
    }
    r->setup.slot_exists = false;
    ww_runner_connect_replication(r);
}

/* The state file says "snapshot started": now it is safe to drop the slot
 * and create it again (a crash from here on redoes the snapshot). */
static void after_started_state(struct runner *r)
{
    if (r->phase != P_STARTING)
        return;
    if (!r->drop_slot) {
        ww_runner_connect_replication(r);
        return;
    }
    char *lit = PQescapeLiteral(r->control.pg, r->cfg->slot, strlen(r->cfg->slot));
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT pg_drop_replication_slot(%s)", lit ? lit : "NULL");
    PQfreemem(lit);
    if (ww_pgconn_query(&r->control, sql, on_slot_dropped, r) < 0)
        ww_runner_fail(r, "dropping replication slot %s failed: %s", r->cfg->slot, r->control.errmsg);
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
        ww_runner_fail(r, "exporting a snapshot failed: %s", c->errmsg);
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
        ww_runner_connect_replication(r);
        return;
    }
    if (cfg->snapshot == WW_SNAPSHOT_INITIAL_ONLY) {
        if (ww_pgconn_query(&r->control,
                            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
                            "SELECT pg_export_snapshot(), pg_current_wal_lsn()::text",
                            on_exported, r) < 0)
            ww_runner_fail(r, "exporting a snapshot failed: %s", r->control.errmsg);
        return;
    }
    struct ww_state saved;
    char err[600];
    int rc = ww_state_read(cfg->state_file, &saved, err, sizeof err);
    if (rc < 0 && rc != -ENOENT) {
        ww_runner_fail(r, "%s", err);
        return;
    }
    ww_state_from_config(&r->state, cfg, r->setup.db_name);
    char diff[1024];
    if (rc == 0 && !ww_state_same_stream(&saved, &r->state, diff, sizeof diff)) {
        ww_runner_fail_config(r, "the state file %s was written for another stream: %s. To start over "
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
    } else if (rc == 0 && !saved.snapshot_completed) {
        r->need_snapshot = r->drop_slot = true;
        ww_warn("walwire", "the snapshot of slot %s did not complete (interrupted); "
                "dropping and recreating the slot to take it again", cfg->slot);
    } else {
        /* Completed, or no state file at all: a slot that exists is trusted
         * (a standby taking over, or a state file that was not kept). */
        r->need_snapshot = false;
        if (rc != 0)
            ww_warn("walwire", "no state file %s: replication slot %s exists, so its snapshot "
                    "is taken as done and streaming resumes from it (set snapshot = always "
                    "to take a new one)", cfg->state_file, cfg->slot);
    }
    if (!r->need_snapshot) {
        if (rc == 0) {
            ww_runner_connect_replication(r);
            return;
        }
        /* Remember the stream this slot belongs to from now on. */
        r->state.snapshot_completed = true;
        write_state(r, after_started_state);
        return;
    }
    if (r->drop_slot && !cfg->create_slot) {
        ww_runner_fail(r, "a snapshot is needed, which means recreating replication slot %s, but "
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
    ww_runner_fail(r, "%s", msg);
}

static void on_bridge_resume(struct ww_bridge *b)
{
    struct runner *r = b->data;
    if (r->phase == P_SNAPSHOT && r->snapshot_open)
        ww_snapshot_resume(&r->snapshot);
    else if (r->phase == P_STREAMING && !r->stream_ended)
        ww_stream_resume(&r->stream);
}

static void on_upkeep_fatal(void *arg, const char *msg)
{
    ww_runner_fail(arg, "%s", msg);
}

static void on_catalog_needed(struct ww_bridge *b)
{
    struct runner *r = b->data;
    ww_catalog_kick(&r->upkeep.catalog);
}

static void on_setup_done(struct ww_setup *st, int status);

static void on_standby_timer(uv_timer_t *t)
{
    struct runner *r = t->data;
    if (r->phase == P_STARTING)
        ww_setup_run(&r->setup, r->cfg, &r->control, on_setup_done);
}

/* Another process holds the slot (a second walwire for high availability):
 * check again every few seconds and take over once it is free. */
void ww_runner_wait_for_slot(struct runner *r, int pid)
{
    if (!r->standby || pid != r->standby_pid)
        ww_warn("walwire", "replication slot %s is active for PID %d (another walwire?): "
                "standing by, taking over when it is free", r->cfg->slot, pid);
    r->standby = true;
    r->standby_pid = pid;
    uv_timer_start(&r->timer, on_standby_timer, WW_STANDBY_POLL_MS, 0);
}

static void on_setup_done(struct ww_setup *st, int status)
{
    struct runner *r = st->data;
    if (r->phase != P_STARTING)
        return;
    if (status < 0) {
        ww_runner_fail(r, "%s", st->errmsg);
        return;
    }
    if (st->slot_active) {
        ww_runner_wait_for_slot(r, st->slot_active_pid);
        return;
    }
    if (r->standby)
        ww_info("walwire", "replication slot %s is free: taking over", r->cfg->slot);
    r->standby = false;
    if (st->slot_exists) {
        char lsn[WW_LSN_STRLEN];
        ww_info("walwire", "replication slot %s exists, confirmed up to %s", r->cfg->slot,
                ww_lsn_format(st->slot_confirmed_flush, lsn));
    }
    if (!r->bridge_ready) {
        ww_bridge_init(&r->bridge, r->cfg, st->db_name, &r->mod.ops, r->sink,
                       st->slot_confirmed_flush);
        r->bridge.setup = &r->setup;
        r->bridge.on_fatal = on_bridge_fatal;
        r->bridge.on_drained = ww_runner_on_drained;
        r->bridge.resume_reading = on_bridge_resume;
        r->bridge.catalog_needed = on_catalog_needed;
        r->bridge.metrics = &r->metrics;
        r->bridge.data = r;
        r->bridge_ready = true;
        ww_upkeep_start(&r->upkeep, r->loop, r->cfg, &r->ci_regular, &r->bridge,
                        on_upkeep_fatal, r);
    } else {
        r->bridge.tracker.confirmed = st->slot_confirmed_flush;
    }
    plan_start(r);
}

static void run_setup(struct runner *r)
{
    r->setup.data = r;
    ww_setup_run(&r->setup, r->cfg, &r->control, on_setup_done);
}

static void on_encoding_set(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct runner *r = arg;
    if (r->phase != P_STARTING)
        return;
    if (status < 0) {
        ww_runner_fail(r, "setting client_encoding failed: %s", c->errmsg);
        return;
    }
    run_setup(r);
}

void ww_runner_on_control_connected(struct ww_pgconn *c, int status)
{
    struct runner *r = c->data;
    if (r->phase != P_STARTING)
        return;
    if (status < 0) {
        ww_runner_fail(r, "cannot connect to PostgreSQL (%s): %s", r->where, c->errmsg);
        return;
    }
    /* A SQL_ASCII database holds bytes in no particular encoding, and the
     * server refuses to hand out bytes that are not UTF-8 to a UTF8 client:
     * read them as they are (SQL_ASCII) on every connection; the encoder
     * replaces invalid UTF-8 with U+FFFD. */
    const char *enc = PQparameterStatus(c->pg, "server_encoding");
    if (enc && strcmp(enc, "SQL_ASCII") == 0) {
        ww_info("walwire", "the database is SQL_ASCII: reading bytes as they are; bytes that "
                "are not UTF-8 become U+FFFD in events");
        ww_conninfo_set(&r->ci_regular, "client_encoding", "SQL_ASCII");
        ww_conninfo_set(&r->ci_repl, "client_encoding", "SQL_ASCII");
        if (ww_pgconn_query(c, "SET client_encoding = 'SQL_ASCII'", on_encoding_set, r) < 0)
            ww_runner_fail(r, "setting client_encoding failed: %s", c->errmsg);
        return;
    }
    run_setup(r);
}

