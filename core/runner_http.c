/*
 * The HTTP endpoints of `walwire run` ([http] listen):
 *   /metrics  Prometheus text (docs/metrics.md), gathered from the parts
 *   /healthz  200 while the process and its loop are alive
 *   /readyz   200 while streaming and the confirmed position moves, or
 *             there is nothing to confirm; 503 otherwise (starting, taking
 *             a snapshot, standing by for the slot, reconnecting,
 *             stopping), with a JSON body saying why and whether this
 *             instance holds the slot
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "log.h"
#include "runner_int.h"

/* A confirmed position that has not moved for this long while changes are
 * in flight means the pipeline is stuck: not ready. */
#define READY_STALL_MS 60000

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Copy what the parts know into the metrics struct (per-table counters are
 * counted live by the bridge). */
static void gather(struct runner *r)
{
    struct ww_metrics *m = &r->metrics;
    m->now_us = now_us();
    m->streaming = r->phase == P_STREAMING && r->stream.started && !r->stream_ended;
    m->active = r->bridge_ready && !r->standby;
    m->reconnects = r->reconnects;
    m->sink_retries = r->host.retries;
    if (r->bridge_ready) {
        const struct ww_bridge *b = &r->bridge;
        m->acks = b->stats.acks;
        m->sink_errors = b->stats.sink_errors;
        m->transactions = b->stats.transactions;
        m->inflight_events = b->tracker.inflight_changes;
        m->inflight_bytes = b->tracker.inflight_bytes;
        m->confirmed_lsn = b->tracker.confirmed;
        m->last_commit_time_us = b->stats.last_commit_time_us;
    }
    m->received_lsn = r->stream.received;
    m->server_lsn = r->stream.received > m->confirmed_lsn ? r->stream.received : m->confirmed_lsn;
    m->slot_retained_bytes = r->upkeep.slot_retained_bytes;
    if (r->snapshot_open || r->snapshot.progress.rows_done) {
        m->snapshot_rows_done = r->snapshot.progress.rows_done;
        m->snapshot_rows_total = r->snapshot.progress.rows_estimated;
        m->snapshot_running = r->snapshot.progress.running;
    }
}

/* Ready, or why not. */
static bool ready(struct runner *r, char *why, size_t len)
{
    uint64_t now = uv_now(r->loop);
    if (r->standby) {
        snprintf(why, len, "standing by: slot %s is active for PID %d", r->cfg->slot,
                 r->standby_pid);
        return false;
    }
    switch (r->phase) {
    case P_STARTING: snprintf(why, len, "starting"); return false;
    case P_SNAPSHOT: snprintf(why, len, "taking the initial snapshot"); return false;
    case P_RECONNECTING: snprintf(why, len, "reconnecting to PostgreSQL"); return false;
    case P_STOPPING:
    case P_CLOSING: snprintf(why, len, "stopping"); return false;
    case P_STREAMING: break;
    }
    if (!r->stream.started || r->stream_ended) {
        snprintf(why, len, "starting the stream");
        return false;
    }
    ww_lsn confirmed = r->bridge.tracker.confirmed;
    if (confirmed != r->ready_confirmed || r->bridge.tracker.inflight_changes == 0) {
        r->ready_confirmed = confirmed;
        r->ready_moved_ms = now;
    }
    if (now - r->ready_moved_ms > READY_STALL_MS) {
        snprintf(why, len, "the confirmed position has not moved for %llu s while %llu "
                 "change(s) wait for the sink", (unsigned long long)(now - r->ready_moved_ms) / 1000,
                 (unsigned long long)r->bridge.tracker.inflight_changes);
        return false;
    }
    snprintf(why, len, "streaming");
    return true;
}

static int handle(void *arg, const char *method, const char *path, struct ww_buf *body,
                  const char **content_type)
{
    struct runner *r = arg;
    (void)method;
    if (strcmp(path, "/metrics") == 0) {
        gather(r);
        ww_metrics_render(&r->metrics, body);
        *content_type = "text/plain; version=0.0.4; charset=utf-8";
        return 200;
    }
    if (strcmp(path, "/healthz") == 0) {
        ww_buf_puts(body, "ok\n");
        return 200;
    }
    if (strcmp(path, "/readyz") == 0) {
        char why[256];
        bool ok = ready(r, why, sizeof why);
        char lsn[WW_LSN_STRLEN];
        ww_buf_puts(body, "{\"ready\":");
        ww_buf_append_str(body, ok ? "true" : "false");
        ww_buf_puts(body, ",\"active\":");
        ww_buf_append_str(body, r->bridge_ready && !r->standby ? "true" : "false");
        ww_buf_puts(body, ",\"reason\":");
        ww_json_string(body, why, strlen(why));
        ww_buf_puts(body, ",\"confirmed_lsn\":\"");
        ww_buf_append_str(body, ww_lsn_format(r->bridge_ready ? r->bridge.tracker.confirmed : 0,
                                             lsn));
        ww_buf_puts(body, "\"}\n");
        *content_type = "application/json";
        return ok ? 200 : 503;
    }
    ww_buf_puts(body, "not found: try /metrics, /healthz or /readyz\n");
    return 404;
}

int ww_runner_http_start(struct runner *r)
{
    const char *listen = r->cfg->http_listen;
    if (!listen || !listen[0])
        return 0;
    char err[512];
    int rc = ww_http_start(&r->http, r->loop, listen, handle, r, err, sizeof err);
    if (rc < 0) {
        ww_error("http", "%s", err);
        r->http = NULL;
        return rc;
    }
    ww_info("http", "serving /metrics, /healthz and /readyz on %s (port %d)", listen,
            ww_http_port(r->http));
    return 0;
}

void ww_runner_http_close(struct runner *r)
{
    if (r->http)
        ww_http_close(r->http, NULL, NULL);
    r->http = NULL;
}
