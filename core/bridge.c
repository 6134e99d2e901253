#include "bridge.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge_int.h"
#include "log.h"

/* A change the sink refused with -EAGAIN; one allocation holds the strings. */
struct ww_pending_change {
    struct ww_pending_change *next;
    struct ww_change change;
    void *token;
    char data[]; /* schema, table, key, value */
};

/* Sink acks carry only a token: this is how they find the bridge. */
static struct ww_bridge *g_bridge;

static void on_sink_ack(void *token, int status);

/* A PostgreSQL timestamp (µs since 2000) as µs since 1970, wrapping rather
 * than overflowing on a nonsense value from a broken server. */
static int64_t pg_to_unix_us(int64_t pg_us)
{
    return (int64_t)((uint64_t)pg_us + (uint64_t)WW_PG_EPOCH_OFFSET_US);
}

int64_t ww_bridge_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ww_bridge_fatal(struct ww_bridge *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    b->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->errmsg, sizeof b->errmsg, fmt, ap);
    va_end(ap);
    if (b->on_fatal)
        b->on_fatal(b, b->errmsg);
}

void ww_bridge_init(struct ww_bridge *b, const struct ww_config *cfg, const char *db_name,
                    const struct ww_sink_ops *ops, void *sink, ww_lsn confirmed)
{
    memset(b, 0, sizeof *b);
    b->cfg = cfg;
    b->ops = ops;
    b->sink = sink;
    ww_tracker_init(&b->tracker, confirmed);
    ww_pgo_decoder_init(&b->dec);
    b->rels = ww_relcache_new();
    struct ww_encoder_options eo = {
        .topic_prefix = cfg->topic_prefix,
        .db_name = db_name,
        .temporal_iso8601 = cfg->temporal_iso8601,
        .types = b->rels,
    };
    ww_encoder_init(&b->enc, &eo);
    b->low_water = cfg->max_inflight_bytes / 4 * 3;
    g_bridge = b;
}

static void drop_pending(struct ww_bridge *b)
{
    while (b->pend_head) {
        struct ww_pending_change *p = b->pend_head;
        b->pend_head = p->next;
        free(p);
    }
    b->pend_tail = NULL;
    b->npending = 0;
}

void ww_bridge_free(struct ww_bridge *b)
{
    drop_pending(b);
    ww_tracker_free(&b->tracker);
    ww_pgo_decoder_free(&b->dec);
    ww_relcache_free(b->rels);
    ww_encoder_free(&b->enc);
    free(b->filter_keys);
    free(b->filter_vals);
    free(b->lookup_types);
    free(b->lookup_keys);
    free(b->no_pk);
    ww_bridge_tx_reset(b);
    free(b->tx_cols);
    if (g_bridge == b)
        g_bridge = NULL;
}

/* ---- emitting ---------------------------------------------------------- */

static void queue_change(struct ww_bridge *b, const struct ww_change *c, void *token)
{
    size_t sl = strlen(c->schema) + 1, tl = strlen(c->table) + 1;
    size_t kl = c->key ? c->key_len : 0;
    struct ww_pending_change *p = malloc(sizeof *p + sl + tl + kl + c->value_len);
    if (!p) {
        fprintf(stderr, "walwire: out of memory queueing a change\n");
        abort();
    }
    char *d = p->data;
    p->next = NULL;
    p->token = token;
    p->change = *c;
    memcpy(d, c->schema, sl);
    p->change.schema = d;
    d += sl;
    memcpy(d, c->table, tl);
    p->change.table = d;
    d += tl;
    if (c->key) {
        memcpy(d, c->key, kl);
        p->change.key = d;
        d += kl;
    }
    memcpy(d, c->value, c->value_len);
    p->change.value = d;
    if (b->pend_tail)
        b->pend_tail->next = p;
    else
        b->pend_head = p;
    b->pend_tail = p;
    b->npending++;
}

/* Offer one change to the sink. 0 accepted, -EAGAIN refused for now,
 * other: the sink is broken (bridge failed). */
static int offer(struct ww_bridge *b, const struct ww_change *c, void *token)
{
    int r = b->ops->write(b->sink, c, on_sink_ack, token);
    if (r == 0) {
        size_t bytes = c->value_len + (c->key ? c->key_len : 0);
        b->stats.events++;
        b->stats.bytes += bytes;
        if (b->metrics) {
            /* Runs of one table: the same relation's strings (the cached
             * pointers are forgotten whenever a relation is replaced). */
            struct ww_table_counters *tc = b->last_counters;
            if (!tc || c->schema != b->last_counters_schema || c->table != b->last_counters_table) {
                if (!tc || strcmp(tc->table, c->table) != 0 || strcmp(tc->schema, c->schema) != 0)
                    tc = b->last_counters = ww_metrics_table(b->metrics, c->schema, c->table);
                b->last_counters_schema = c->schema;
                b->last_counters_table = c->table;
            }
            tc->events[ww_metrics_op_index(c->op)]++;
            tc->bytes += bytes;
        }
        return 0;
    }
    if (r == -EAGAIN) {
        b->sink_blocked = true;
        return r;
    }
    ww_bridge_fatal(b, "the sink refused a change of %s.%s: %s", c->schema, c->table, strerror(-r));
    return r;
}

/* Hand the encoder's output to the sink as change c (whose position
 * fields the caller filled) of tracker transaction tx_seq. */
void ww_bridge_emit(struct ww_bridge *b, struct ww_change *c, uint32_t tx_seq)
{
    c->key = b->enc.key_null ? NULL : b->enc.key.data;
    c->key_len = b->enc.key_null ? 0 : b->enc.key.len;
    c->value = b->enc.value.data;
    c->value_len = b->enc.value.len;
    void *token = ww_tracker_add(&b->tracker, tx_seq, c->key_len + c->value_len);
    if (b->npending || b->sink_blocked || offer(b, c, token) == -EAGAIN)
        queue_change(b, c, token);
}

/* A change of the transaction being read. */
void ww_bridge_emit_tx(struct ww_bridge *b, char op, const char *schema, const char *table,
                    ww_lsn lsn)
{
    struct ww_change c = {
        .op = op,
        .schema = schema,
        .table = table,
        .lsn = lsn,
        .commit_lsn = b->final_lsn,
        .seq = b->seq_in_tx++,
        .xid = b->xid,
        .commit_time_us = b->commit_time_us,
    };
    ww_bridge_emit(b, &c, b->tx_seq);
}

/* After a message or row: may the reader go on, or must it pause? */
static bool keep_reading(struct ww_bridge *b)
{
    if (b->failed || b->sink_blocked || b->npending || b->waiting_catalog ||
        b->tracker.inflight_bytes >= b->cfg->max_inflight_bytes) {
        b->reading_paused = true;
        return false;
    }
    return true;
}

void ww_bridge_confirm_moved(struct ww_bridge *b)
{
    if (b->stream)
        ww_stream_confirm(b->stream, b->tracker.confirmed);
}

bool ww_bridge_xlogdata(struct ww_bridge *b, ww_lsn data_start, const char *payload, size_t len)
{
    if (b->stopping || b->failed)
        return false;
    struct ww_pgo_msg m;
    if (ww_pgo_decode(&b->dec, payload, len, &m) < 0) {
        ww_bridge_protocol_error(b, data_start, b->dec.errmsg);
        return false;
    }
    int64_t ts = ww_bridge_now_ms();
    switch (m.kind) {
    case WW_PGO_BEGIN:
        if (b->in_tx) {
            ww_bridge_protocol_error(b, data_start, "Begin inside a transaction");
            break;
        }
        b->in_tx = true;
        b->tx_seq = ww_tracker_begin(&b->tracker);
        b->xid = m.begin.xid;
        b->final_lsn = m.begin.final_lsn;
        b->commit_time_us = pg_to_unix_us(m.begin.commit_time);
        b->seq_in_tx = 0;
        ww_bridge_tx_reset(b);
        break;
    case WW_PGO_COMMIT:
        if (!b->in_tx) {
            ww_bridge_protocol_error(b, data_start, "Commit outside a transaction");
            break;
        }
        ww_bridge_tx_end(b, data_start);
        b->in_tx = false;
        b->stats.transactions++;
        b->stats.last_commit_time_us = pg_to_unix_us(m.commit.commit_time);
        if (ww_tracker_commit(&b->tracker, b->tx_seq, m.commit.end_lsn))
            ww_bridge_confirm_moved(b);
        break;
    case WW_PGO_RELATION:
        ww_bridge_add_relation(b, &m);
        break;
    case WW_PGO_TYPE:
        ww_relcache_update_type(b->rels, &m);
        break;
    case WW_PGO_INSERT:
    case WW_PGO_UPDATE:
    case WW_PGO_DELETE:
        ww_bridge_on_row_change(b, &m, data_start, ts);
        break;
    case WW_PGO_TRUNCATE:
        ww_bridge_on_truncate(b, &m, data_start, ts);
        break;
    case WW_PGO_MESSAGE:
        ww_bridge_on_message(b, &m, data_start, ts);
        break;
    case WW_PGO_ORIGIN:
    default:
        break;
    }
    return keep_reading(b);
}

/* ---- snapshot ----------------------------------------------------------- */

void ww_bridge_snapshot_begin(struct ww_bridge *b, ww_lsn consistent_point, int64_t time_us)
{
    b->snap_seq = ww_tracker_begin(&b->tracker);
    b->snap_lsn = consistent_point;
    b->snap_time_us = time_us;
    b->snap_rows = 0;
}

bool ww_bridge_snapshot_row(struct ww_bridge *b, const struct ww_relation *rel,
                            const struct ww_pgo_tuple *row, bool last)
{
    if (b->stopping || b->failed)
        return false;
    if (!ww_bridge_relation_wanted(b, rel))
        return true;
    struct ww_event_source src = {
        .lsn = b->snap_lsn, .xid = 0, .commit_time_us = b->snap_time_us,
        .snapshot = last ? "last" : "true", .now_ms = ww_bridge_now_ms(),
    };
    if (ww_encode_row(&b->enc, WW_OP_READ, rel, NULL, row, &src) < 0) {
        ww_bridge_fatal(b, "snapshot of %s.%s: %s", rel->schema, rel->table, b->enc.errmsg);
        return false;
    }
    /* Below every streamed transaction's commit LSN (sink.h). */
    struct ww_change c = {
        .op = WW_OP_READ,
        .schema = rel->schema,
        .table = rel->table,
        .lsn = b->snap_lsn,
        .commit_lsn = b->snap_lsn ? b->snap_lsn - 1 : 0,
        .seq = b->snap_rows++,
        .commit_time_us = b->snap_time_us,
        .snapshot = 1,
    };
    ww_bridge_emit(b, &c, b->snap_seq);
    return keep_reading(b);
}

void ww_bridge_snapshot_end(struct ww_bridge *b)
{
    ww_tracker_commit(&b->tracker, b->snap_seq, 0);
}

void ww_bridge_keepalive(struct ww_bridge *b, ww_lsn wal_end)
{
    if (b->stopping || b->failed)
        return;
    if (ww_tracker_keepalive(&b->tracker, wal_end))
        ww_bridge_confirm_moved(b);
}

/* Resume reading when nothing holds it back any more. */
void ww_bridge_maybe_resume(struct ww_bridge *b)
{
    if (!b->reading_paused || b->stopping || b->failed || b->sink_blocked || b->npending ||
        b->waiting_catalog ||
        b->tracker.inflight_bytes > b->low_water)
        return;
    b->reading_paused = false;
    if (b->resume_reading)
        b->resume_reading(b);
}

void ww_bridge_sink_resume(struct ww_bridge *b)
{
    if (b->stopping || b->failed)
        return;
    b->sink_blocked = false;
    while (b->pend_head) {
        struct ww_pending_change *p = b->pend_head;
        int r = offer(b, &p->change, p->token);
        if (r == -EAGAIN || b->failed)
            return;
        b->pend_head = p->next;
        if (!b->pend_head)
            b->pend_tail = NULL;
        b->npending--;
        free(p);
    }
    ww_bridge_maybe_resume(b);
}

static void on_sink_ack(void *token, int status)
{
    struct ww_bridge *b = g_bridge;
    if (!b)
        return;
    if (status != 0) {
        /* Not durable: its transaction is never confirmed. -ECANCELED is
         * the sink closing during shutdown, which is expected. */
        if (status == -ECANCELED && b->stopping)
            return;
        b->stats.sink_errors++;
        ww_bridge_fatal(b, "the sink could not deliver a change: %s", strerror(-status));
        return;
    }
    b->stats.acks++;
    if (ww_tracker_ack(&b->tracker, token))
        ww_bridge_confirm_moved(b);
    ww_bridge_maybe_resume(b);
    if (ww_bridge_outstanding(b) == 0 && b->on_drained)
        b->on_drained(b);
}

void ww_bridge_stop(struct ww_bridge *b)
{
    b->stopping = true;
    /* Queued changes were never written: forget them (their transactions
     * stay unconfirmed, so they are sent again after a restart). */
    b->tracker.inflight_changes -= b->npending;
    drop_pending(b);
}

uint64_t ww_bridge_outstanding(const struct ww_bridge *b)
{
    return b->tracker.inflight_changes - b->npending;
}

void ww_bridge_reset_stream(struct ww_bridge *b)
{
    ww_lsn confirmed = b->tracker.confirmed;
    drop_pending(b);
    ww_tracker_free(&b->tracker);
    ww_tracker_init(&b->tracker, confirmed);
    b->in_tx = false;
    ww_bridge_tx_reset(b);
    b->sink_blocked = false;
    b->reading_paused = false;
    b->stopping = false;
}
