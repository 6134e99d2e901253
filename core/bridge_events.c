/* The pgoutput messages that become events: row changes, truncates,
 * logical decoding messages, and transaction metadata (bridge_int.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge_int.h"
#include "log.h"

/* The prefix of heartbeat messages that walwire emits itself: they keep
 * the slot moving and are not forwarded. */
#define HEARTBEAT_PREFIX "walwire_heartbeat"

/* ---- messages --------------------------------------------------------- */

void ww_bridge_protocol_error(struct ww_bridge *b, ww_lsn lsn, const char *what)
{
    char l[WW_LSN_STRLEN];
    ww_bridge_fatal(b, "replication protocol error at %s: %s", ww_lsn_format(lsn, l), what);
}

/* ---- transaction metadata ------------------------------------------------ */

/* Emit a BEGIN or END record of the current transaction (already encoded). */
static void emit_tx_record(struct ww_bridge *b, char op, ww_lsn lsn)
{
    ww_bridge_emit_tx(b, op, "", "", lsn);
}

/* The transaction block for the next event of schema.table, emitting BEGIN
 * first when this is the transaction's first event; NULL when transaction
 * metadata is off. */
static const struct ww_event_tx *tx_next(struct ww_bridge *b, const char *schema,
                                         const char *table, ww_lsn lsn)
{
    if (!b->cfg->transactions)
        return NULL;
    if (!b->tx_begun) {
        b->tx_begun = true;
        snprintf(b->tx_id, sizeof b->tx_id, "%u:%llu", b->xid,
                 (unsigned long long)b->final_lsn);
        ww_encode_tx_begin(&b->enc, b->tx_id, b->commit_time_us);
        emit_tx_record(b, WW_OP_TX_BEGIN, lsn);
    }
    struct ww_tx_collection *col = NULL;
    for (size_t i = 0; i < b->ntx_cols && !col; i++)
        if (strcmp(b->tx_cols[i].table, table) == 0 && strcmp(b->tx_cols[i].schema, schema) == 0)
            col = &b->tx_cols[i];
    if (!col) {
        if (b->ntx_cols == b->tx_cols_cap) {
            b->tx_cols_cap = b->tx_cols_cap ? b->tx_cols_cap * 2 : 8;
            struct ww_tx_collection *n = realloc(b->tx_cols, b->tx_cols_cap * sizeof *n);
            if (!n)
                abort();
            b->tx_cols = n;
        }
        col = &b->tx_cols[b->ntx_cols++];
        *col = (struct ww_tx_collection){strdup(schema), strdup(table), 0};
        if (!col->schema || !col->table)
            abort();
    }
    b->tx_cur = (struct ww_event_tx){b->tx_id, ++b->tx_events, ++col->event_count};
    return &b->tx_cur;
}

void ww_bridge_tx_reset(struct ww_bridge *b)
{
    for (size_t i = 0; i < b->ntx_cols; i++) {
        free((char *)b->tx_cols[i].schema);
        free((char *)b->tx_cols[i].table);
    }
    b->ntx_cols = 0;
    b->tx_events = 0;
    b->tx_begun = false;
}

/* At Commit: END, when the transaction had events. */
void ww_bridge_tx_end(struct ww_bridge *b, ww_lsn lsn)
{
    if (b->tx_begun) {
        ww_encode_tx_end(&b->enc, b->tx_id, b->commit_time_us, b->tx_events, b->tx_cols,
                         b->ntx_cols);
        emit_tx_record(b, WW_OP_TX_END, lsn);
    }
    ww_bridge_tx_reset(b);
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

void ww_bridge_on_row_change(struct ww_bridge *b, const struct ww_pgo_msg *m, ww_lsn lsn,
                          int64_t ts_ms)
{
    const struct ww_relation *rel = ww_relcache_get(b->rels, m->change.relid);
    if (!rel) {
        char what[96];
        snprintf(what, sizeof what, "change for relation %u before its Relation message",
                 m->change.relid);
        ww_bridge_protocol_error(b, lsn, what);
        return;
    }
    if (!b->in_tx) {
        ww_bridge_protocol_error(b, lsn, "row change outside a transaction");
        return;
    }
    if (!ww_bridge_relation_wanted(b, rel)) {
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
        src.tx = tx_next(b, rel->schema, rel->table, lsn);
        if (ww_encode_row(&b->enc, WW_OP_DELETE, rel, before, NULL, &src) < 0) {
            ww_bridge_protocol_error(b, lsn, b->enc.errmsg);
            return;
        }
        ww_bridge_emit_tx(b, WW_OP_DELETE, rel->schema, rel->table, lsn);
        op = WW_OP_CREATE;
        before = NULL;
    }
    src.tx = tx_next(b, rel->schema, rel->table, lsn);
    if (ww_encode_row(&b->enc, op, rel, before, after, &src) < 0) {
        ww_bridge_protocol_error(b, lsn, b->enc.errmsg);
        return;
    }
    ww_bridge_emit_tx(b, op, rel->schema, rel->table, lsn);
}

void ww_bridge_on_truncate(struct ww_bridge *b, const struct ww_pgo_msg *m, ww_lsn lsn,
                        int64_t ts_ms)
{
    struct ww_event_source src = {
        .lsn = lsn, .xid = b->xid, .commit_time_us = b->commit_time_us,
        .snapshot = "false", .now_ms = ts_ms,
    };
    for (uint32_t i = 0; i < m->truncate.nrelids && !b->failed; i++) {
        const struct ww_relation *rel = ww_relcache_get(b->rels, m->truncate.relids[i]);
        if (!rel) {
            ww_bridge_protocol_error(b, lsn, "truncate of a relation before its Relation message");
            return;
        }
        if (!ww_bridge_relation_wanted(b, rel))
            continue;
        src.tx = tx_next(b, rel->schema, rel->table, lsn);
        if (ww_encode_truncate(&b->enc, rel, m->truncate.options, &src) < 0) {
            ww_bridge_protocol_error(b, lsn, b->enc.errmsg);
            return;
        }
        ww_bridge_emit_tx(b, WW_OP_TRUNCATE, rel->schema, rel->table, lsn);
    }
}

void ww_bridge_on_message(struct ww_bridge *b, const struct ww_pgo_msg *m, ww_lsn lsn,
                       int64_t ts_ms)
{
    if (strcmp(m->message.prefix, HEARTBEAT_PREFIX) == 0) {
        /* Not forwarded; but its position may be confirmed when nothing is
         * in flight, which is what keeps an idle slot moving. */
        b->stats.heartbeats++;
        if (ww_tracker_keepalive(&b->tracker, m->message.lsn))
            ww_bridge_confirm_moved(b);
        return;
    }
    bool transactional = m->message.flags & WW_PGO_MESSAGE_TRANSACTIONAL;
    if (transactional && !b->in_tx) {
        ww_bridge_protocol_error(b, lsn, "transactional message outside a transaction");
        return;
    }
    struct ww_event_source src = {
        .lsn = m->message.lsn, .xid = transactional ? b->xid : 0,
        .commit_time_us = transactional ? b->commit_time_us : 0,
        .snapshot = "false", .now_ms = ts_ms,
    };
    if (ww_encode_message(&b->enc, transactional, m->message.prefix, m->message.content,
                          m->message.content_len, &src) < 0) {
        ww_bridge_protocol_error(b, lsn, b->enc.errmsg);
        return;
    }
    if (transactional) {
        ww_bridge_emit_tx(b, WW_OP_MESSAGE, "", m->message.prefix, m->message.lsn);
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
    ww_bridge_emit(b, &c, seq);
    ww_tracker_commit(&b->tracker, seq, 0);
}

