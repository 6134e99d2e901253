/*
 * The logical replication stream on a replication=database connection:
 * START_REPLICATION, the CopyBoth framing (XLogData and primary keepalive
 * messages from the server, standby status updates to it), and the timers
 * that keep status updates going even while reading is paused for
 * back-pressure. Modelled on PostgreSQL's pg_recvlogical.c.
 *
 * Positions reported: write = the highest WAL position received,
 * flush = apply = the confirmed position the owner set with
 * ww_stream_confirm() (never anything else: that is what PostgreSQL keeps as
 * the slot's confirmed_flush_lsn).
 *
 * Thread: the loop thread. Ownership: the owner embeds struct ww_stream and
 * the struct ww_pgconn it streams on; the stream never closes the
 * connection.
 */
#ifndef WW_STREAM_H
#define WW_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lsn.h"
#include "pg_conn.h"

/* One message of the CopyBoth stream, parsed. */
struct ww_stream_frame {
    char kind;          /* 'w' XLogData, 'k' primary keepalive */
    ww_lsn data_start;  /* 'w': WAL position of the payload */
    ww_lsn wal_end;     /* current end of WAL on the server */
    int64_t send_time;  /* server clock, microseconds since 2000-01-01 */
    bool reply_requested; /* 'k': the server wants a status update now */
    const char *payload;  /* 'w': the pgoutput message (borrowed) */
    size_t payload_len;
};

/* Parse one CopyData message from the server. 0, or -EBADMSG with err set
 * (unknown kind, wrong length). Pure function, also used by the fuzzer. */
int ww_stream_parse_frame(const char *buf, size_t len, struct ww_stream_frame *out, char *err,
                          size_t errlen);

/* Build a standby status update ('r', 34 bytes) into out. */
void ww_stream_build_status(char out[34], ww_lsn write, ww_lsn flush, ww_lsn apply,
                            int64_t now_pg_us, bool reply_requested);

struct ww_stream_handlers {
    /* One XLogData payload. The payload is valid only during the call.
     * Return false to pause reading (ww_stream_resume() restarts it). */
    bool (*on_xlogdata)(void *arg, ww_lsn data_start, const char *payload, size_t len);
    /* A keepalive: the server has sent everything before wal_end. */
    void (*on_keepalive)(void *arg, ww_lsn wal_end);
    /* The stream ended: status 0 after ww_stream_stop() completed (or the
     * server ended it cleanly), < 0 on error with a message. Once. */
    void (*on_end)(void *arg, int status, const char *errmsg);
};

struct ww_stream {
    struct ww_pgconn *conn;
    struct ww_stream_handlers h;
    void *arg;
    uv_timer_t status_timer; /* every status_interval */
    uv_timer_t soon_timer;   /* a short delay after the confirmed position moved */
    uint64_t status_interval_ms;
    ww_lsn received;  /* highest position seen */
    ww_lsn confirmed; /* what flush/apply report */
    ww_lsn last_sent_flush;
    bool started;
    bool stopping;
    bool ended;
    unsigned open_handles;
    void (*on_closed)(struct ww_stream *s);
    char errmsg[512];
    uint64_t status_updates_sent;
};

/* Initialise timers. */
void ww_stream_init(struct ww_stream *s, uv_loop_t *loop, uint64_t status_interval_ms);

/* Send START_REPLICATION SLOT slot LOGICAL start (proto_version '1',
 * publication_names, messages 'true') on conn, which must be connected and
 * idle. start 0 lets the server begin at the slot's confirmed position.
 * `confirmed` is the position to report until ww_stream_confirm() moves
 * it. Returns 0 (handlers take over) or < 0 with errmsg set. */
int ww_stream_start(struct ww_stream *s, struct ww_pgconn *conn, const char *slot,
                    const char *publication, ww_lsn start, ww_lsn confirmed,
                    const struct ww_stream_handlers *h, void *arg);

/* The confirmed position moved: report it soon (rate-limited). */
void ww_stream_confirm(struct ww_stream *s, ww_lsn confirmed);
/* Send a status update now. */
int ww_stream_send_status(struct ww_stream *s, bool reply_requested);

void ww_stream_pause(struct ww_stream *s);
void ww_stream_resume(struct ww_stream *s);

/* Send a last status update and CopyDone; on_end(0) follows when the
 * server has ended the stream. */
void ww_stream_stop(struct ww_stream *s);

/* Close the timers; on_closed runs once they are closed. */
void ww_stream_close(struct ww_stream *s, void (*on_closed)(struct ww_stream *s));

/* Microseconds since 2000-01-01 UTC, now (the protocol's clock). */
int64_t ww_pg_now_us(void);

#endif
