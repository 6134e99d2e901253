#include "stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pgoutput.h" /* WW_PG_EPOCH_OFFSET_US */

/* Delay between a move of the confirmed position and the status update
 * that reports it: many commits in a burst share one update. */
#define CONFIRM_DELAY_MS 10
/* While the server streams continuously, read the socket every 250 us
 * instead of on every packet (ww_pgconn_batch_reads): a fifth of the
 * system calls and wakeups, for at most 250 us of added latency. */
#define READ_BATCH_US 250

int64_t ww_pg_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - WW_PG_EPOCH_OFFSET_US;
}

static uint64_t get_u64(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | u[i];
    return v;
}

static void put_u64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (char)(v & 0xff);
        v >>= 8;
    }
}

int ww_stream_parse_frame(const char *buf, size_t len, struct ww_stream_frame *out, char *err,
                          size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len < 1) {
        snprintf(err, errlen, "empty CopyData message");
        return -EBADMSG;
    }
    out->kind = buf[0];
    switch (buf[0]) {
    case 'w':
        /* XLogData: Byte1('w'), Int64 dataStart (WAL position of the
         * payload), Int64 walEnd (current end of WAL on the server), Int64
         * sendTime (server clock), Byte(n) the pgoutput message. */
        if (len < 25) {
            snprintf(err, errlen, "XLogData message of %zu bytes, at least 25 expected", len);
            return -EBADMSG;
        }
        out->data_start = get_u64(buf + 1);
        out->wal_end = get_u64(buf + 9);
        out->send_time = (int64_t)get_u64(buf + 17);
        out->payload = buf + 25;
        out->payload_len = len - 25;
        return 0;
    case 'k':
        /* Primary keepalive: Byte1('k'), Int64 walEnd, Int64 sendTime,
         * Byte1 1 when the server asks for an immediate reply. */
        if (len != 18) {
            snprintf(err, errlen, "keepalive message of %zu bytes, 18 expected", len);
            return -EBADMSG;
        }
        out->wal_end = get_u64(buf + 1);
        out->send_time = (int64_t)get_u64(buf + 9);
        out->reply_requested = buf[17] != 0;
        return 0;
    default:
        snprintf(err, errlen, "unknown replication message type 0x%02x",
                 (unsigned)(unsigned char)buf[0]);
        return -EBADMSG;
    }
}

void ww_stream_build_status(char out[34], ww_lsn write, ww_lsn flush, ww_lsn apply,
                            int64_t now_pg_us, bool reply_requested)
{
    /* Standby status update: Byte1('r'), Int64 written, Int64 flushed,
     * Int64 applied (each the last byte + 1), Int64 client clock,
     * Byte1 1 to ask the server for an immediate reply. */
    out[0] = 'r';
    put_u64(out + 1, write);
    put_u64(out + 9, flush);
    put_u64(out + 17, apply);
    put_u64(out + 25, (uint64_t)now_pg_us);
    out[33] = reply_requested ? 1 : 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct ww_stream *s = h->data;
    if (--s->open_handles == 0 && s->on_closed)
        s->on_closed(s);
}

static void end_once(struct ww_stream *s, int status, const char *msg)
{
    if (s->ended)
        return;
    s->ended = true;
    uv_timer_stop(&s->status_timer);
    uv_timer_stop(&s->soon_timer);
    s->h.on_end(s->arg, status, msg);
}

int ww_stream_send_status(struct ww_stream *s, bool reply_requested)
{
    if (!s->started || s->ended)
        return -EIO;
    char msg[34];
    ww_lsn write = s->received > s->confirmed ? s->received : s->confirmed;
    ww_stream_build_status(msg, write, s->confirmed, s->confirmed, ww_pg_now_us(),
                           reply_requested);
    int r = ww_pgconn_put_copy(s->conn, msg, sizeof msg);
    if (r < 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "sending a status update failed: %s",
                 s->conn->errmsg);
        return r;
    }
    s->last_sent_flush = s->confirmed;
    s->status_updates_sent++;
    ww_log_lsn(WW_LOG_DEBUG, "stream", s->confirmed, "status update sent");
    return 0;
}

static void on_status_timer(uv_timer_t *t)
{
    struct ww_stream *s = t->data;
    if (ww_stream_send_status(s, false) < 0)
        end_once(s, -EIO, s->errmsg);
}

static void on_soon_timer(uv_timer_t *t)
{
    struct ww_stream *s = t->data;
    if (s->confirmed != s->last_sent_flush && ww_stream_send_status(s, false) < 0)
        end_once(s, -EIO, s->errmsg);
}

static bool on_copy_data(struct ww_pgconn *c, char *buf, int len)
{
    struct ww_stream *s = c->data;
    struct ww_stream_frame f;
    char err[160];
    bool keep_reading = true;
    if (ww_stream_parse_frame(buf, (size_t)len, &f, err, sizeof err) < 0) {
        PQfreemem(buf);
        snprintf(s->errmsg, sizeof s->errmsg, "malformed replication message: %s", err);
        ww_pgconn_pause_reading(c);
        end_once(s, -EBADMSG, s->errmsg);
        return false;
    }
    if (f.kind == 'w') {
        if (f.data_start > s->received)
            s->received = f.data_start;
        keep_reading = s->h.on_xlogdata(s->arg, f.data_start, f.payload, f.payload_len);
    } else {
        if (f.wal_end > s->received)
            s->received = f.wal_end;
        s->h.on_keepalive(s->arg, f.wal_end);
        if (f.reply_requested && !s->ended && ww_stream_send_status(s, false) < 0)
            end_once(s, -EIO, s->errmsg);
    }
    PQfreemem(buf);
    return keep_reading && !s->ended;
}

static void on_copy_end(struct ww_pgconn *c, int status)
{
    struct ww_stream *s = c->data;
    if (status == 0) {
        end_once(s, s->stopping ? 0 : -ECONNRESET,
                 s->stopping ? NULL : "the server ended the replication stream");
        return;
    }
    snprintf(s->errmsg, sizeof s->errmsg, "replication connection lost: %s", c->errmsg);
    end_once(s, status, s->errmsg);
}

static void on_started(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_stream *s = arg;
    if (status < 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "START_REPLICATION failed: %s", c->errmsg);
        end_once(s, status, s->errmsg);
        return;
    }
    s->started = true;
    uv_timer_start(&s->status_timer, on_status_timer, s->status_interval_ms,
                   s->status_interval_ms);
    int r = ww_pgconn_batch_reads(c, READ_BATCH_US);
    if (r < 0)
        ww_log(WW_LOG_WARN, "stream", "reading without batching: cannot create a timer: %s",
               strerror(-r));
    ww_log_lsn(WW_LOG_INFO, "stream", s->confirmed, "streaming started");
}

void ww_stream_init(struct ww_stream *s, uv_loop_t *loop, uint64_t status_interval_ms)
{
    memset(s, 0, sizeof *s);
    s->status_interval_ms = status_interval_ms ? status_interval_ms : 10000;
    uv_timer_init(loop, &s->status_timer);
    uv_timer_init(loop, &s->soon_timer);
    s->status_timer.data = s;
    s->soon_timer.data = s;
    s->open_handles = 2;
}

int ww_stream_start(struct ww_stream *s, struct ww_pgconn *conn, const char *slot,
                    const char *publication, ww_lsn start, ww_lsn confirmed,
                    const struct ww_stream_handlers *h, void *arg)
{
    s->conn = conn;
    s->h = *h;
    s->arg = arg;
    s->confirmed = confirmed;
    s->last_sent_flush = confirmed;
    s->started = s->stopping = s->ended = false;
    conn->data = s;

    /* publication_names is a string holding a list of identifiers. */
    char *pub_ident = PQescapeIdentifier(conn->pg, publication, strlen(publication));
    char *pub_lit = pub_ident ? PQescapeLiteral(conn->pg, pub_ident, strlen(pub_ident)) : NULL;
    char *slot_ident = PQescapeIdentifier(conn->pg, slot, strlen(slot));
    char lsn[WW_LSN_STRLEN];
    char sql[1024];
    int n = -1;
    if (pub_lit && slot_ident)
        n = snprintf(sql, sizeof sql,
                     "START_REPLICATION SLOT %s LOGICAL %s (proto_version '1', "
                     "publication_names %s, messages 'true')",
                     slot_ident, ww_lsn_format(start, lsn), pub_lit);
    PQfreemem(pub_ident);
    PQfreemem(pub_lit);
    PQfreemem(slot_ident);
    if (n < 0 || (size_t)n >= sizeof sql) {
        snprintf(s->errmsg, sizeof s->errmsg, "cannot build START_REPLICATION: %s",
                 PQerrorMessage(conn->pg));
        return -EINVAL;
    }
    static const struct ww_pgconn_copy_handlers handlers = {on_copy_data, on_copy_end};
    int r = ww_pgconn_start_copy(conn, sql, &handlers, on_started, s);
    if (r < 0)
        snprintf(s->errmsg, sizeof s->errmsg, "START_REPLICATION failed: %s", conn->errmsg);
    return r;
}

void ww_stream_confirm(struct ww_stream *s, ww_lsn confirmed)
{
    if (confirmed <= s->confirmed)
        return;
    s->confirmed = confirmed;
    if (s->started && !s->ended && !uv_is_active((uv_handle_t *)&s->soon_timer))
        uv_timer_start(&s->soon_timer, on_soon_timer, CONFIRM_DELAY_MS, 0);
}

void ww_stream_pause(struct ww_stream *s)
{
    ww_pgconn_pause_reading(s->conn);
}

void ww_stream_resume(struct ww_stream *s)
{
    if (!s->ended)
        ww_pgconn_resume_reading(s->conn);
}

void ww_stream_stop(struct ww_stream *s)
{
    if (s->stopping || s->ended)
        return;
    s->stopping = true;
    if (!s->started) {
        end_once(s, 0, NULL);
        return;
    }
    /* Report the final position, then end the copy; the server answers
     * with CopyDone and the command's result, which ends the stream. Keep
     * reading so that the answer arrives; further XLogData are dropped by
     * the owner (it is stopping). */
    if (ww_stream_send_status(s, false) < 0 || ww_pgconn_end_copy(s->conn) < 0) {
        end_once(s, -EIO, s->errmsg[0] ? s->errmsg : s->conn->errmsg);
        return;
    }
    ww_pgconn_resume_reading(s->conn);
}

void ww_stream_close(struct ww_stream *s, void (*on_closed)(struct ww_stream *s))
{
    s->on_closed = on_closed;
    s->ended = true;
    uv_close((uv_handle_t *)&s->status_timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->soon_timer, on_handle_closed);
}
