/*
 * The data path: pgoutput message -> decoder -> relation cache -> encoder
 * -> sink, with the LSN tracker deciding what may be confirmed and the
 * back-pressure that stops reading WAL when the sink falls behind.
 *
 *   ww_bridge_xlogdata()  one XLogData payload from the stream; returns
 *                         false when reading must pause (the sink said
 *                         -EAGAIN, or max_inflight_bytes is reached)
 *   ww_bridge_keepalive() the server has sent everything before wal_end
 *   sink acks             through on_sink_ack(): tracker, then confirm
 *   host->resume()        ww_bridge_sink_resume(): offer queued changes
 *                         again, then resume reading
 *
 * Changes the sink refused with -EAGAIN wait, copied, in a small FIFO (at
 * most the events of one pgoutput message) and are offered again in order
 * after resume; they count as in flight from the moment they were encoded,
 * so nothing behind them can be confirmed.
 *
 * There is one bridge per process (sink acks carry only a token, so the ack
 * callback finds the bridge through a file-level pointer).
 *
 * Errors: a malformed message, a change for an unknown relation, a sink that
 * reports itself broken or an ack with an error make the bridge "failed":
 * it stops emitting, calls on_fatal once with a message, and never confirms
 * anything after that point.
 *
 * Thread: the loop thread.
 */
#ifndef WW_BRIDGE_H
#define WW_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "encode_json.h"
#include "lsn.h"
#include "metrics.h"
#include "pgoutput.h"
#include "relcache.h"
#include "setup.h"
#include "sink_loader.h"
#include "stream.h"

struct ww_pending_change; /* a change waiting for the sink, bridge.c */

struct ww_bridge_stats {
    uint64_t events;       /* changes accepted by the sink */
    uint64_t bytes;        /* key + value bytes accepted */
    uint64_t acks;         /* successful acks */
    uint64_t sink_errors;  /* acks with an error */
    uint64_t transactions; /* Commit messages seen */
    uint64_t skipped;      /* changes of tables not in [source] tables */
    uint64_t heartbeats;   /* walwire_heartbeat messages seen (not forwarded) */
    int64_t last_commit_time_us; /* of the last committed transaction seen */
};

struct ww_bridge {
    const struct ww_config *cfg;
    const struct ww_sink_ops *ops;
    void *sink;
    struct ww_stream *stream; /* set while streaming (confirmations go there) */
    const struct ww_setup *setup;

    struct ww_tracker tracker;
    struct ww_pgo_decoder dec;
    struct ww_relcache *rels;
    struct ww_encoder enc;

    /* The snapshot being read: its pseudo-transaction and row counter. */
    uint32_t snap_seq;
    ww_lsn snap_lsn;          /* consistent point */
    int64_t snap_time_us;     /* when it started, Unix epoch */
    uint32_t snap_rows;       /* rows emitted: the change's seq */

    /* The transaction being read. */
    bool in_tx;
    uint32_t tx_seq;       /* tracker's handle */
    uint32_t xid;
    ww_lsn final_lsn;      /* commit LSN, from Begin */
    int64_t commit_time_us; /* Unix epoch */
    uint32_t seq_in_tx;

    /* Transaction metadata ([format] transactions): BEGIN is emitted with
     * the transaction's first event, END at its Commit. */
    char tx_id[48];     /* "<txId>:<commit LSN>" */
    bool tx_begun;
    uint64_t tx_events; /* data events of the transaction so far */
    struct ww_tx_collection *tx_cols; /* per table (names owned) */
    size_t ntx_cols, tx_cols_cap;
    struct ww_event_tx tx_cur; /* the block of the event being encoded */

    /* Changes refused with -EAGAIN, oldest first. */
    struct ww_pending_change *pend_head, *pend_tail;
    uint32_t npending;
    bool sink_blocked;    /* waiting for host->resume() */
    bool reading_paused;  /* the stream is paused because of us */
    bool stopping;        /* shutting down: emit nothing more */
    bool failed;
    uint64_t low_water;   /* resume reading below this many bytes in flight */

    /* Relations excluded by [source] tables: a small open-addressing set
     * of relid -> included, filled at Relation messages. */
    uint32_t *filter_keys;
    uint8_t *filter_vals;
    uint32_t filter_cap;

    struct ww_bridge_stats stats;
    /* Events by table and op, when set (the runner's metrics); the last
     * table's counters are kept for the next event. */
    struct ww_metrics *metrics;
    struct ww_table_counters *last_counters;
    const char *last_counters_schema, *last_counters_table; /* the strings it was for */

    /* Called once when the bridge fails (see above). */
    void (*on_fatal)(struct ww_bridge *b, const char *msg);
    /* Called when the last outstanding ack arrived (used while draining). */
    void (*on_drained)(struct ww_bridge *b);
    /* Reading was paused (a false return) and may go on now: the owner
     * resumes whatever it reads from (the stream, the snapshot workers). */
    void (*resume_reading)(struct ww_bridge *b);

    /* Catalog lookups. A relation uses types walwire does not know (enums,
     * domains, extension types: oid >= 10000), or is REPLICA IDENTITY FULL
     * without a known primary key: their oids/relids are queued below,
     * reading pauses (waiting_catalog), and catalog_needed() asks the owner
     * to look them up. The owner takes the queues (ww_bridge_take_lookups),
     * queries pg_type / pg_index, feeds the answers in (ww_relcache_set_type,
     * ww_bridge_set_primary_key), and calls ww_bridge_catalog_done() when
     * nothing is queued any more. NULL catalog_needed: no lookups (custom
     * types are written as text, FULL tables without a known key get a null
     * key). */
    void (*catalog_needed)(struct ww_bridge *b);
    bool waiting_catalog;
    uint32_t *lookup_types;
    size_t nlookup_types, lookup_types_cap;
    uint32_t *lookup_keys; /* relids */
    size_t nlookup_keys, lookup_keys_cap;
    uint32_t *no_pk; /* FULL relids known to have no primary key */
    size_t nno_pk, no_pk_cap;
    void *data; /* the owner's */
    char errmsg[512];
};

/* ops/sink: the opened sink; confirmed: the slot's confirmed position. */
void ww_bridge_init(struct ww_bridge *b, const struct ww_config *cfg, const char *db_name,
                    const struct ww_sink_ops *ops, void *sink, ww_lsn confirmed);
void ww_bridge_free(struct ww_bridge *b);

bool ww_bridge_xlogdata(struct ww_bridge *b, ww_lsn data_start, const char *payload, size_t len);

/* Add a relation described by the catalog (the snapshot reads tables before
 * any Relation message): same as a pgoutput Relation message. */
void ww_bridge_add_relation(struct ww_bridge *b, const struct ww_pgo_msg *relation);

/* Catalog lookups (see catalog_needed above). take_lookups moves the queues
 * out: the caller owns and frees the arrays. */
void ww_bridge_take_lookups(struct ww_bridge *b, uint32_t **types, size_t *ntypes,
                            uint32_t **relids, size_t *nrelids);
/* The primary key of relid (names in key order; n 0: it has none). */
void ww_bridge_set_primary_key(struct ww_bridge *b, uint32_t relid, const char *const *cols,
                               size_t n);
void ww_bridge_catalog_done(struct ww_bridge *b);

/* The snapshot: its rows form one pseudo-transaction that confirms
 * nothing. row() encodes op 'r' with source.snapshot "true" ("last" when
 * last is set) and returns false when reading must pause (as xlogdata). */
void ww_bridge_snapshot_begin(struct ww_bridge *b, ww_lsn consistent_point, int64_t time_us);
bool ww_bridge_snapshot_row(struct ww_bridge *b, const struct ww_relation *rel,
                            const struct ww_pgo_tuple *row, bool last);
void ww_bridge_snapshot_end(struct ww_bridge *b);
void ww_bridge_keepalive(struct ww_bridge *b, ww_lsn wal_end);
/* The sink has room again (host->resume()). */
void ww_bridge_sink_resume(struct ww_bridge *b);

/* Stop emitting; queued changes are dropped (they were never written and
 * their transactions will not be confirmed). */
void ww_bridge_stop(struct ww_bridge *b);
/* Changes written to the sink and not yet acked. */
uint64_t ww_bridge_outstanding(const struct ww_bridge *b);
/* Forget every in-flight transaction after the stream was lost and every
 * written change was acked (outstanding == 0): the server will send again
 * everything after the confirmed position. */
void ww_bridge_reset_stream(struct ww_bridge *b);

#endif
