/*
 * The bridge's private parts, shared by bridge.c (the data path: emitting,
 * acks, back-pressure, dispatch of pgoutput messages, the snapshot),
 * bridge_events.c (row changes, truncates, messages, transaction metadata)
 * and bridge_rel.c (relations: the table filter, keys, catalog lookups).
 * See bridge.h for the behaviour. Thread: the loop thread.
 */
#ifndef WW_BRIDGE_INT_H
#define WW_BRIDGE_INT_H

#include "bridge.h"

/* The bridge failed (see bridge.h): log nothing, call on_fatal once. */
void ww_bridge_fatal(struct ww_bridge *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "replication protocol error at <LSN>: what". */
void ww_bridge_protocol_error(struct ww_bridge *b, ww_lsn lsn, const char *what);
/* Wall clock in ms, coarse (the envelope's ts_ms). */
int64_t ww_bridge_now_ms(void);

/* Hand the encoder's output to the sink as change c (whose position fields
 * the caller filled) of tracker transaction tx_seq. */
void ww_bridge_emit(struct ww_bridge *b, struct ww_change *c, uint32_t tx_seq);
/* The same, as the next change of the transaction being read. */
void ww_bridge_emit_tx(struct ww_bridge *b, char op, const char *schema, const char *table,
                       ww_lsn lsn);
/* The confirmed position moved: tell the stream. */
void ww_bridge_confirm_moved(struct ww_bridge *b);
/* Resume reading when nothing holds it back any more. */
void ww_bridge_maybe_resume(struct ww_bridge *b);

/* Is the relation in [source] tables (or are all tables wanted)? */
bool ww_bridge_relation_wanted(const struct ww_bridge *b, const struct ww_relation *rel);

/* pgoutput messages that become events (bridge_events.c). */
void ww_bridge_on_row_change(struct ww_bridge *b, const struct ww_pgo_msg *m, ww_lsn lsn,
                             int64_t ts_ms);
void ww_bridge_on_truncate(struct ww_bridge *b, const struct ww_pgo_msg *m, ww_lsn lsn,
                           int64_t ts_ms);
void ww_bridge_on_message(struct ww_bridge *b, const struct ww_pgo_msg *m, ww_lsn lsn,
                          int64_t ts_ms);
/* Transaction metadata: forget the transaction / emit its END. */
void ww_bridge_tx_reset(struct ww_bridge *b);
void ww_bridge_tx_end(struct ww_bridge *b, ww_lsn lsn);

#endif
