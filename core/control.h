/*
 * The control connection: one regular (non-replication) session that core
 * uses while streaming, for catalog lookups, heartbeats and slot
 * monitoring. Queries are queued and run one at a time, in order. When the
 * connection breaks (PostgreSQL restart, network), it reconnects by itself
 * with backoff (1 s doubling to 30 s) and runs the queued query again, so
 * only idempotent statements belong here.
 *
 * Contract: the callback of every query fires exactly once: with status 0
 * and the result (borrowed: freed after the callback returns), with
 * status < 0 and an error message when the server refused the statement,
 * or with -ECANCELED (res NULL) when the control connection is closed first.
 *
 * Thread: the loop thread. Ownership: the owner embeds struct ww_control
 * and keeps it, and the conninfo, alive until on_closed ran.
 */
#ifndef WW_CONTROL_H
#define WW_CONTROL_H

#include <stdbool.h>
#include <uv.h>

#include "pg_conn.h"

typedef void (*ww_control_cb)(void *arg, int status, PGresult *res, const char *errmsg);

struct ww_control_query; /* a queued query, control.c */

struct ww_control {
    uv_loop_t *loop;
    const struct ww_conninfo *ci;
    struct ww_pgconn *conn; /* heap: replaced on reconnect; NULL while away */
    bool connected;
    bool closing;
    struct ww_control_query *head, *tail;
    bool running; /* head has been sent */
    uv_timer_t retry;
    uint64_t backoff_ms;
    unsigned reconnects;
    void (*on_closed)(struct ww_control *c);
    unsigned open;
};

void ww_control_init(struct ww_control *c, uv_loop_t *loop, const struct ww_conninfo *ci);
/* Queue sql (copied); cb(arg, ...) follows once, as described above. */
void ww_control_query(struct ww_control *c, const char *sql, ww_control_cb cb, void *arg);
/* Cancel what is queued (callbacks get -ECANCELED), close; on_closed
 * follows. */
void ww_control_close(struct ww_control *c, void (*on_closed)(struct ww_control *c));

#endif
