/*
 * LSNs and the in-flight tracker.
 *
 * The tracker decides which position walwire may report to PostgreSQL as
 * flushed. It keeps a ring of in-flight transactions in commit order, each
 * {end_lsn, pending, committed}. A transaction's end_lsn becomes the
 * confirmed position once it and every earlier transaction are committed
 * (their Commit message was read) and have no change left unacked. So the
 * confirmed position is always the end of a transaction whose changes, and
 * all changes before them, the sink holds durably.
 *
 * It also counts the bytes of changes written but not yet acked, for the
 * back-pressure limit max_inflight_bytes.
 *
 * Tokens: add() returns the token that core passes to the sink with a
 * change; ack() takes it back. A token packs the transaction's sequence
 * number (low 32 bits) and the change's byte count (high 32 bits, clamped),
 * so acking needs no lookup table and no allocation. Requires 64-bit
 * pointers.
 *
 * Thread: the loop thread only. Memory: the ring grows to the number of
 * transactions in flight, which back-pressure bounds.
 */
#ifndef WW_LSN_H
#define WW_LSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t ww_lsn;

/* "16/B374D848" plus NUL fits in 18; keep room. */
#define WW_LSN_STRLEN 20

/* Parse the PostgreSQL text form "X/Y" (hex). 0 or -EINVAL. */
int ww_lsn_parse(const char *s, ww_lsn *out);
/* Format as "X/Y" into buf (WW_LSN_STRLEN bytes); returns buf. */
char *ww_lsn_format(ww_lsn lsn, char *buf);

struct ww_tx_entry {
    ww_lsn end_lsn;     /* known once committed */
    uint64_t pending;   /* changes written and not yet acked */
    bool committed;     /* Commit seen: no more changes will be added */
};

struct ww_tracker {
    struct ww_tx_entry *ring; /* capacity is a power of two */
    uint32_t cap;
    uint32_t head_seq;  /* sequence number of the oldest entry in flight */
    uint32_t next_seq;  /* sequence number the next begin() gets */
    ww_lsn confirmed;   /* the position that may be reported as flushed */
    ww_lsn keepalive;   /* highest keepalive position seen while busy: confirmed
                         * once nothing is in flight any more */
    uint64_t inflight_bytes;
    uint64_t inflight_changes;
};

void ww_tracker_init(struct ww_tracker *t, ww_lsn confirmed);
void ww_tracker_free(struct ww_tracker *t);

/* Open a transaction (a pgoutput Begin, or a snapshot); returns its seq. */
uint32_t ww_tracker_begin(struct ww_tracker *t);
/* Count one change of transaction `seq` of `bytes` bytes as in flight;
 * returns the token for the sink. */
void *ww_tracker_add(struct ww_tracker *t, uint32_t seq, uint64_t bytes);
/* The transaction's Commit was read; end_lsn is what to confirm once all of
 * its changes are acked (0 for a snapshot: confirms nothing). Returns true
 * when the confirmed position moved. */
bool ww_tracker_commit(struct ww_tracker *t, uint32_t seq, ww_lsn end_lsn);
/* A change was acked successfully (errors are the caller's business: it
 * must not ack them here). Returns true when the confirmed position moved. */
bool ww_tracker_ack(struct ww_tracker *t, void *token);
/* Nothing in flight and no transaction open. */
bool ww_tracker_idle(const struct ww_tracker *t);
/* A keepalive says the server has sent everything up to wal_end: confirm it
 * when idle, else remember it and confirm it as soon as the tracker becomes
 * idle (every transaction received before it acked): the server does not
 * repeat a keepalive while the client's reported write position is current,
 * so dropping it would leave the slot behind until new WAL arrives.
 * Returns true when the confirmed position moved. */
bool ww_tracker_keepalive(struct ww_tracker *t, ww_lsn wal_end);
/* Transactions still in the ring (open, unacked or not yet confirmed). */
uint32_t ww_tracker_open_count(const struct ww_tracker *t);

#endif
