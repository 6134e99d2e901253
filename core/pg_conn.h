/*
 * One non-blocking libpq connection driven by the libuv loop: connect,
 * queries, and COPY (both directions) without ever blocking the loop.
 * The socket is watched by a uv_poll_t; connect and query deadlines by a
 * uv_timer_t. Modelled on hiredis's adapters/libuv.h.
 *
 * Usage:
 *   ww_pgconn_init(&c, loop, "stream");           handles, no I/O yet
 *   ww_pgconn_connect(&c, params, on_connect);     PQconnectStartParams
 *   ww_pgconn_query(&c, sql, on_result, arg);      PQsendQuery
 *   ww_pgconn_start_copy(&c, sql, &copy_handlers); COPY_BOTH or COPY_OUT
 *   ww_pgconn_close(&c, on_closed);                PQfinish + close handles
 *
 * Contract:
 *   - Every callback runs on the loop thread and fires exactly once per
 *     request (copy data: once per message). After ww_pgconn_close() no
 *     callback fires except on_closed, and pending requests are not called
 *     back (the owner is shutting them down itself).
 *   - One request at a time: query/start_copy while another is in progress
 *     is a programming error (asserted).
 *   - Errors: status < 0 and c->errmsg holds libpq's message (one line,
 *     trailing newline stripped). libpq's messages do not contain the
 *     password; conninfo strings are only logged through
 *     ww_conninfo_redact().
 *
 * Ownership: the owner embeds struct ww_pgconn and must keep it alive until
 * on_closed has run.
 */
#ifndef WW_PG_CONN_H
#define WW_PG_CONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "conninfo.h" /* the parameters ww_pgconn_connect takes */

struct ww_pgconn;

/* status 0: connected and idle. */
typedef void (*ww_pgconn_connect_cb)(struct ww_pgconn *c, int status);
/* The query finished. res is the last result, or the first error result
 * (status then < 0, errmsg set); borrowed: freed after the callback
 * returns. res may be NULL when status < 0 (connection lost). */
typedef void (*ww_pgconn_result_cb)(struct ww_pgconn *c, int status, PGresult *res, void *arg);
typedef void (*ww_pgconn_closed_cb)(struct ww_pgconn *c);

struct ww_pgconn_copy_handlers {
    /* One CopyData message. Takes ownership of buf (release with
     * PQfreemem). Return true to keep reading, false to pause reading
     * until ww_pgconn_resume_reading(). */
    bool (*on_data)(struct ww_pgconn *c, char *buf, int len);
    /* The copy ended: status 0 when the server finished it (CopyDone and a
     * command-complete result), < 0 on error or connection loss. */
    void (*on_end)(struct ww_pgconn *c, int status);
};

enum ww_pgconn_state {
    WW_PGCONN_NEW,
    WW_PGCONN_CONNECTING,
    WW_PGCONN_IDLE,
    WW_PGCONN_QUERY,
    WW_PGCONN_COPY,
    WW_PGCONN_FAILED, /* the connection is lost; close it */
    WW_PGCONN_CLOSING,
};

struct ww_pgconn {
    uv_loop_t *loop;
    const char *name; /* for logs: "stream", "control", "snapshot-1" */
    PGconn *pg;
    uv_poll_t *poll; /* NULL until connecting; replaced when the socket changes */
    int poll_fd;
    int poll_events; /* UV_READABLE | UV_WRITABLE currently requested */
    uv_timer_t timer;
    uv_idle_t kick; /* processes input libpq already buffered after a resume */
    enum ww_pgconn_state state;
    bool reading_paused;
    bool want_write; /* output is queued in libpq; flush when writable */
    unsigned open_handles;
    uint64_t timeout_ms; /* deadline of connect and queries; 0 = none */

    /* Read batching (ww_pgconn_batch_reads). */
    uint32_t batch_us;     /* tick period; 0 = read on every wakeup */
    int tick_fd;           /* timerfd; -1 while batching is off */
    uv_poll_t tick;        /* watches tick_fd */
    bool ticking;          /* COPY input is read on ticks, not on readiness */
    uint64_t last_wake_ns; /* uv_hrtime() of the last read that found data */
    uint64_t bytes_in;     /* CopyData bytes delivered to on_data so far */

    ww_pgconn_connect_cb on_connect;
    ww_pgconn_result_cb on_result;
    void *result_arg;
    PGresult *result; /* kept while a query runs */
    int result_status;
    struct ww_pgconn_copy_handlers copy;
    ww_pgconn_closed_cb on_closed;

    char errmsg[512];
    void *data; /* the owner's */
};

void ww_pgconn_init(struct ww_pgconn *c, uv_loop_t *loop, const char *name);

/* Start connecting with PQconnectStartParams(keywords, values, 0).
 * Returns 0 (on_connect follows) or < 0 (nothing follows, errmsg set). */
int ww_pgconn_connect(struct ww_pgconn *c, const char *const *keywords, const char *const *values,
                      ww_pgconn_connect_cb on_connect);

/* Send one simple-protocol query (may hold several statements). */
int ww_pgconn_query(struct ww_pgconn *c, const char *sql, ww_pgconn_result_cb cb, void *arg);

/* Send a command that enters COPY (START_REPLICATION, COPY ... TO STDOUT).
 * cb fires once with status 0 when the copy has started (res is the
 * COPY_BOTH / COPY_OUT result), or < 0 if the command failed; after a
 * successful start, handlers->on_data/on_end take over. */
int ww_pgconn_start_copy(struct ww_pgconn *c, const char *sql,
                         const struct ww_pgconn_copy_handlers *handlers, ww_pgconn_result_cb cb,
                         void *arg);

/* COPY_BOTH: queue one CopyData message to the server and flush what can
 * be flushed without blocking. 0, or < 0 when the connection is broken. */
int ww_pgconn_put_copy(struct ww_pgconn *c, const char *buf, size_t len);
/* COPY_BOTH: send CopyDone (ends the replication stream cleanly). */
int ww_pgconn_end_copy(struct ww_pgconn *c);

/* Reading in COPY: stop / restart delivering on_data. Writing goes on. */
void ww_pgconn_pause_reading(struct ww_pgconn *c);
void ww_pgconn_resume_reading(struct ww_pgconn *c);

/* COPY input in batches: while the server sends continuously (two reads
 * that found data less than a millisecond apart), stop waking up for every
 * packet and read the socket every period_us instead, until a tick finds
 * nothing. A fast sender then costs one wakeup and one recv per period
 * rather than per message, and no message waits longer than period_us.
 * Linux only (timerfd); elsewhere, and with period_us 0, a no-op.
 * Returns 0, or < 0 when the timer cannot be created (reads stay unbatched). */
int ww_pgconn_batch_reads(struct ww_pgconn *c, uint32_t period_us);

/* Close: PQfinish and close the handles; on_closed runs once all are
 * closed. Safe in any state, once. */
void ww_pgconn_close(struct ww_pgconn *c, ww_pgconn_closed_cb on_closed);

#endif
