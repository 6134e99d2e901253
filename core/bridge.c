#include "bridge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* The prefix of heartbeat messages that walwire emits itself (issue 6):
 * they keep the slot moving and are not forwarded. */
#define HEARTBEAT_PREFIX "walwire_heartbeat"

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
static void maybe_resume(struct ww_bridge *b);
static void confirm_moved(struct ww_bridge *b);

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fatal(struct ww_bridge *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fatal(struct ww_bridge *b, const char *fmt, ...)
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
    if (g_bridge == b)
        g_bridge = NULL;
}

/* ---- table filter ----------------------------------------------------- */

static bool filter_lookup(const struct ww_bridge *b, uint32_t relid, bool *included)
{
    if (!b->filter_cap)
        return false;
    for (uint32_t i = relid * 2654435761u & (b->filter_cap - 1);; i = (i + 1) & (b->filter_cap - 1)) {
        if (b->filter_keys[i] == relid) {
            *included = b->filter_vals[i] == 2;
            return true;
        }
        if (b->filter_vals[i] == 0)
            return false;
    }
}

static void filter_store(struct ww_bridge *b, uint32_t relid, bool included)
{
    /* Grow at half full; rehash every entry. */
    uint32_t used = 0;
    for (uint32_t i = 0; i < b->filter_cap; i++)
        used += b->filter_vals[i] != 0;
    if ((used + 1) * 2 > b->filter_cap) {
        uint32_t oldcap = b->filter_cap;
        uint32_t *ok = b->filter_keys;
        uint8_t *ov = b->filter_vals;
        b->filter_cap = oldcap ? oldcap * 2 : 64;
        b->filter_keys = calloc(b->filter_cap, sizeof *b->filter_keys);
        b->filter_vals = calloc(b->filter_cap, 1);
        if (!b->filter_keys || !b->filter_vals)
            abort();
        for (uint32_t i = 0; i < oldcap; i++)
            if (ov[i])
                filter_store(b, ok[i], ov[i] == 2);
        free(ok);
        free(ov);
    }
    uint32_t i = relid * 2654435761u & (b->filter_cap - 1);
    while (b->filter_vals[i] != 0 && b->filter_keys[i] != relid)
        i = (i + 1) & (b->filter_cap - 1);
    b->filter_keys[i] = relid;
    b->filter_vals[i] = included ? 2 : 1;
}

/* Is the relation in [source] tables (or are all tables wanted)? */
static bool relation_wanted(const struct ww_bridge *b, const struct ww_relation *rel)
{
    if (b->cfg->ntables == 0)
        return true;
    bool included;
    if (filter_lookup(b, rel->relid, &included))
        return included;
    return true;
}

static void note_relation(struct ww_bridge *b, const struct ww_relation *rel)
{
    if (b->cfg->ntables) {
        size_t sl = strlen(rel->schema);
        bool included = false;
        for (size_t i = 0; i < b->cfg->ntables && !included; i++) {
            const char *t = b->cfg->tables[i];
            included = strncmp(t, rel->schema, sl) == 0 && t[sl] == '.' &&
                       strcmp(t + sl + 1, rel->table) == 0;
        }
        filter_store(b, rel->relid, included);
    }
    /* REPLICA IDENTITY FULL flags every column: key by the primary key. */
    if (rel->replident == WW_REPLIDENT_FULL && b->setup) {
        const struct ww_full_key *k = ww_setup_full_key(b->setup, rel->schema, rel->table);
        if (k)
            ww_relcache_set_key(b->rels, rel->relid, (const char *const *)k->cols, k->ncols);
    }
}

/* Append v to a growable uint32 array unless it is there already. */
static void add_unique(uint32_t **arr, size_t *n, size_t *cap, uint32_t v)
{
    for (size_t i = 0; i < *n; i++)
        if ((*arr)[i] == v)
            return;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        uint32_t *a = realloc(*arr, *cap * sizeof *a);
        if (!a)
            abort();
        *arr = a;
    }
    (*arr)[(*n)++] = v;
}

static bool contains(const uint32_t *arr, size_t n, uint32_t v)
{
    for (size_t i = 0; i < n; i++)
        if (arr[i] == v)
            return true;
    return false;
}

/* Built-in types have oids below FirstGenbkiObjectId (10000); the encoder
 * knows them. Anything above comes from CREATE TYPE or an extension. */
#define WW_FIRST_NON_BUILTIN_OID 10000u

/* Queue what the catalog must tell about rel; true when anything was. */
static bool queue_lookups(struct ww_bridge *b, const struct ww_relation *rel)
{
    if (!b->catalog_needed)
        return false;
    size_t before = b->nlookup_types + b->nlookup_keys;
    for (uint16_t i = 0; i < rel->ncols; i++) {
        uint32_t oid = rel->cols[i].type_oid;
        if (oid >= WW_FIRST_NON_BUILTIN_OID && !ww_relcache_type(b->rels, oid))
            add_unique(&b->lookup_types, &b->nlookup_types, &b->lookup_types_cap, oid);
    }
    if (rel->replident == WW_REPLIDENT_FULL && rel->nkeys == 0 &&
        !contains(b->no_pk, b->nno_pk, rel->relid))
        add_unique(&b->lookup_keys, &b->nlookup_keys, &b->lookup_keys_cap, rel->relid);
    return b->nlookup_types + b->nlookup_keys > before;
}

void ww_bridge_take_lookups(struct ww_bridge *b, uint32_t **types, size_t *ntypes,
                            uint32_t **relids, size_t *nrelids)
{
    *types = b->lookup_types;
    *ntypes = b->nlookup_types;
    *relids = b->lookup_keys;
    *nrelids = b->nlookup_keys;
    b->lookup_types = b->lookup_keys = NULL;
    b->nlookup_types = b->lookup_types_cap = b->nlookup_keys = b->lookup_keys_cap = 0;
}

void ww_bridge_set_primary_key(struct ww_bridge *b, uint32_t relid, const char *const *cols,
                               size_t n)
{
    if (n == 0) {
        add_unique(&b->no_pk, &b->nno_pk, &b->no_pk_cap, relid);
        return;
    }
    ww_relcache_set_key(b->rels, relid, cols, n);
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
            struct ww_table_counters *tc = b->last_counters;
            if (!tc || strcmp(tc->table, c->table) != 0 || strcmp(tc->schema, c->schema) != 0)
                tc = b->last_counters = ww_metrics_table(b->metrics, c->schema, c->table);
            tc->events[ww_metrics_op_index(c->op)]++;
            tc->bytes += bytes;
        }
        return 0;
    }
    if (r == -EAGAIN) {
        b->sink_blocked = true;
        return r;
    }
    fatal(b, "the sink refused a change of %s.%s: %s", c->schema, c->table, strerror(-r));
    return r;
}

/* Hand the encoder's output to the sink as change c (whose position
 * fields the caller filled) of tracker transaction tx_seq. */
static void emit(struct ww_bridge *b, struct ww_change *c, uint32_t tx_seq)
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
static void emit_tx(struct ww_bridge *b, char op, const char *schema, const char *table,
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
    emit(b, &c, b->tx_seq);
}

/* ---- messages --------------------------------------------------------- */

static void protocol_error(struct ww_bridge *b, ww_lsn lsn, const char *what)
{
    char l[WW_LSN_STRLEN];
    fatal(b, "replication protocol error at %s: %s", ww_lsn_format(lsn, l), what);
}

/* Does an UPDATE move the row to another event key? The old tuple holds
 * the key columns only when the replica identity changed ('K'), or the
 * whole row (REPLICA IDENTITY FULL): compare the key columns then. */
static bool key_changed(const struct ww_relation *rel, const struct ww_pgo_tuple *old,
                        const struct ww_pgo_tuple *new)
{
    if (rel->nkeys == 0 || old->ncols != rel->ncols || new->ncols != rel->ncols)
        return false;
    for (uint16_t k = 0; k < rel->nkeys; k++) {
        const struct ww_pgo_value *a = &old->values[rel->key_cols[k]];
        const struct ww_pgo_value *n = &new->values[rel->key_cols[k]];
        if (n->kind == WW_PGO_UNCHANGED)
            continue; /* a TOASTed key column that did not change */
        if (a->kind != n->kind || a->len != n->len ||
            (a->len && memcmp(a->data, n->data, a->len) != 0))
            return true;
    }
    return false;
}

static void on_row_change(struct ww_bridge *b, const struct ww_pgo_msg *m, ww_lsn lsn,
                          int64_t ts_ms)
{
    const struct ww_relation *rel = ww_relcache_get(b->rels, m->change.relid);
    if (!rel) {
        char what[96];
        snprintf(what, sizeof what, "change for relation %u before its Relation message",
                 m->change.relid);
        protocol_error(b, lsn, what);
        return;
    }
    if (!b->in_tx) {
        protocol_error(b, lsn, "row change outside a transaction");
        return;
    }
    if (!relation_wanted(b, rel)) {
        b->stats.skipped++;
        return;
    }
    const struct ww_pgo_tuple *before = m->change.old_kind ? &m->change.old_tuple : NULL;
    const struct ww_pgo_tuple *after = NULL;
    char op;
    switch (m->kind) {
    case WW_PGO_INSERT: op = WW_OP_CREATE; after = &m->change.new_tuple; break;
    case WW_PGO_UPDATE: op = WW_OP_UPDATE; after = &m->change.new_tuple; break;
    default: op = WW_OP_DELETE; break;
    }
    struct ww_event_source src = {
        .lsn = lsn, .xid = b->xid, .commit_time_us = b->commit_time_us,
        .snapshot = "false", .now_ms = ts_ms,
    };
    if (op == WW_OP_UPDATE && before && key_changed(rel, before, after)) {
        /* As Debezium does: the row under its old key is deleted (the sink
         * follows a delete with a tombstone) and created under the new. */
        if (ww_encode_row(&b->enc, WW_OP_DELETE, rel, before, NULL, &src) < 0) {
            protocol_error(b, lsn, b->enc.errmsg);
            return;
        }
        emit_tx(b, WW_OP_DELETE, rel->schema, rel->table, lsn);
        op = WW_OP_CREATE;
        before = NULL;
    }
    if (ww_encode_row(&b->enc, op, rel, before, after, &src) < 0) {
        protocol_error(b, lsn, b->enc.errmsg);
        return;
    }
    emit_tx(b, op, rel->schema, rel->table, lsn);
}

static void on_truncate(struct ww_bridge *b, const struct ww_pgo_msg *m, ww_lsn lsn,
                        int64_t ts_ms)
{
    struct ww_event_source src = {
        .lsn = lsn, .xid = b->xid, .commit_time_us = b->commit_time_us,
        .snapshot = "false", .now_ms = ts_ms,
    };
    for (uint32_t i = 0; i < m->truncate.nrelids && !b->failed; i++) {
        const struct ww_relation *rel = ww_relcache_get(b->rels, m->truncate.relids[i]);
        if (!rel) {
            protocol_error(b, lsn, "truncate of a relation before its Relation message");
            return;
        }
        if (!relation_wanted(b, rel))
            continue;
        if (ww_encode_truncate(&b->enc, rel, m->truncate.options, &src) < 0) {
            protocol_error(b, lsn, b->enc.errmsg);
            return;
        }
        emit_tx(b, WW_OP_TRUNCATE, rel->schema, rel->table, lsn);
    }
}

static void on_message(struct ww_bridge *b, const struct ww_pgo_msg *m, ww_lsn lsn,
                       int64_t ts_ms)
{
    if (strcmp(m->message.prefix, HEARTBEAT_PREFIX) == 0) {
        /* Not forwarded; but its position may be confirmed when nothing is
         * in flight, which is what keeps an idle slot moving. */
        b->stats.heartbeats++;
        if (!b->in_tx && ww_tracker_keepalive(&b->tracker, m->message.lsn))
            confirm_moved(b);
        return;
    }
    bool transactional = m->message.flags & WW_PGO_MESSAGE_TRANSACTIONAL;
    if (transactional && !b->in_tx) {
        protocol_error(b, lsn, "transactional message outside a transaction");
        return;
    }
    struct ww_event_source src = {
        .lsn = m->message.lsn, .xid = transactional ? b->xid : 0,
        .commit_time_us = transactional ? b->commit_time_us : 0,
        .snapshot = "false", .now_ms = ts_ms,
    };
    if (ww_encode_message(&b->enc, transactional, m->message.prefix, m->message.content,
                          m->message.content_len, &src) < 0) {
        protocol_error(b, lsn, b->enc.errmsg);
        return;
    }
    if (transactional) {
        emit_tx(b, WW_OP_MESSAGE, "", m->message.prefix, m->message.lsn);
        return;
    }
    /* A non-transactional message stands alone: a transaction of its own
     * that confirms nothing (keepalives move the position past it once it
     * is acked). */
    struct ww_change c = {
        .op = WW_OP_MESSAGE,
        .schema = "",
        .table = m->message.prefix,
        .lsn = m->message.lsn,
        .commit_lsn = m->message.lsn,
    };
    uint32_t seq = ww_tracker_begin(&b->tracker);
    emit(b, &c, seq);
    ww_tracker_commit(&b->tracker, seq, 0);
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

static void confirm_moved(struct ww_bridge *b)
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
        protocol_error(b, data_start, b->dec.errmsg);
        return false;
    }
    int64_t ts = now_ms();
    switch (m.kind) {
    case WW_PGO_BEGIN:
        if (b->in_tx) {
            protocol_error(b, data_start, "Begin inside a transaction");
            break;
        }
        b->in_tx = true;
        b->tx_seq = ww_tracker_begin(&b->tracker);
        b->xid = m.begin.xid;
        b->final_lsn = m.begin.final_lsn;
        b->commit_time_us = m.begin.commit_time + WW_PG_EPOCH_OFFSET_US;
        b->seq_in_tx = 0;
        break;
    case WW_PGO_COMMIT:
        if (!b->in_tx) {
            protocol_error(b, data_start, "Commit outside a transaction");
            break;
        }
        b->in_tx = false;
        b->stats.transactions++;
        b->stats.last_commit_time_us = m.commit.commit_time + WW_PG_EPOCH_OFFSET_US;
        if (ww_tracker_commit(&b->tracker, b->tx_seq, m.commit.end_lsn))
            confirm_moved(b);
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
        on_row_change(b, &m, data_start, ts);
        break;
    case WW_PGO_TRUNCATE:
        on_truncate(b, &m, data_start, ts);
        break;
    case WW_PGO_MESSAGE:
        on_message(b, &m, data_start, ts);
        break;
    case WW_PGO_ORIGIN:
    default:
        break;
    }
    return keep_reading(b);
}

void ww_bridge_add_relation(struct ww_bridge *b, const struct ww_pgo_msg *relation)
{
    ww_relcache_update(b->rels, relation);
    const struct ww_relation *rel = ww_relcache_get(b->rels, relation->relation.relid);
    note_relation(b, rel);
    if (queue_lookups(b, rel) && !b->waiting_catalog) {
        b->waiting_catalog = true;
        b->catalog_needed(b);
    }
}

void ww_bridge_catalog_done(struct ww_bridge *b)
{
    b->waiting_catalog = false;
    /* Whoever waited (the stream, or a snapshot not started yet) goes on. */
    b->reading_paused = true;
    maybe_resume(b);
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
    if (!relation_wanted(b, rel))
        return true;
    struct ww_event_source src = {
        .lsn = b->snap_lsn, .xid = 0, .commit_time_us = b->snap_time_us,
        .snapshot = last ? "last" : "true", .now_ms = now_ms(),
    };
    if (ww_encode_row(&b->enc, WW_OP_READ, rel, NULL, row, &src) < 0) {
        fatal(b, "snapshot of %s.%s: %s", rel->schema, rel->table, b->enc.errmsg);
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
    emit(b, &c, b->snap_seq);
    return keep_reading(b);
}

void ww_bridge_snapshot_end(struct ww_bridge *b)
{
    ww_tracker_commit(&b->tracker, b->snap_seq, 0);
}

void ww_bridge_keepalive(struct ww_bridge *b, ww_lsn wal_end)
{
    if (b->stopping || b->failed || b->in_tx)
        return;
    if (ww_tracker_keepalive(&b->tracker, wal_end))
        confirm_moved(b);
}

/* Resume reading when nothing holds it back any more. */
static void maybe_resume(struct ww_bridge *b)
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
    maybe_resume(b);
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
        fatal(b, "the sink could not deliver a change: %s", strerror(-status));
        return;
    }
    b->stats.acks++;
    if (ww_tracker_ack(&b->tracker, token))
        confirm_moved(b);
    maybe_resume(b);
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
    b->sink_blocked = false;
    b->reading_paused = false;
    b->stopping = false;
}
