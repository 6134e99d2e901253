/*
 * Redis Streams sink: each change becomes one XADD to the stream of its
 * table, with the fields op, key and value (the Debezium envelope).
 *
 *   XADD <stream> [MAXLEN [~] N] <id> op <c|u|d|r|t|m> key <key JSON or ""> value <envelope>
 *
 * Entry IDs (id = lsn, the default) are "<commit_lsn>-<seq>" from struct
 * ww_change: unique, increasing in write order, and the same for a change
 * replayed after a restart. Redis refuses an XADD whose ID is not above the
 * stream's last one with "ERR The ID specified in XADD is equal or smaller
 * than the target stream top item"; that exact refusal means the change is
 * already in the stream and is acked as a success. id = auto sends "*".
 *
 * Batches. write() queues the change with its XADD already formatted
 * (RESP), so a resend costs no formatting. When no batch is in flight, the
 * queued changes go out as one pipelined batch on the one connection:
 *
 *   MULTI, [XINFO STREAM s], XADD, XADD, ..., EXEC
 *
 * Each XADD gets its own reply (inside EXEC's array) and acks its own
 * change, in order. Why MULTI/EXEC and one batch at a time: a refusal that
 * retrying fixes (OOM, LOADING, BUSY, MISCONF, ...) is decided when Redis
 * queues a command, and then Redis discards the whole transaction. Without
 * it, in a plain pipeline, change n could be refused with OOM while change
 * n+1 of the same stream, a moment later, is written; n could then never be
 * added (its ID is now below the top), and after a restart its refusal
 * would look like a replay: lost. With atomic batches, one in flight, each
 * stream always holds an exact prefix of its changes, which is what makes
 * the "refused as duplicate = success" rule sound.
 *
 * Before the first XADD of a stream (id = lsn), XINFO STREAM reads its last
 * ID, once per stream and process: a stream whose last ID is far ahead of
 * ours holds IDs walwire did not derive from these LSNs (id = auto, another
 * producer); every change would be refused as a replay, so the sink stops
 * instead of dropping them.
 *
 * Bounds: at most max_pending changes and [source] max_inflight_bytes of
 * commands are accepted and not yet acked; past that write() returns
 * -EAGAIN and host->resume() follows when acks made room.
 *
 * Failures: a lost connection or a batch without a reply within
 * reply_timeout drops the connection; after the reconnect every change not
 * yet acked is sent again, in the same order. Transient refusals are
 * retried after a delay (OOM only for oom_wait). Refusals retrying cannot
 * fix (WRONGTYPE, NOPERM, NOAUTH, OOM past oom_wait, foreign IDs) ack the
 * change with an error after one log line naming the stream and the reason;
 * everything else still outstanding is acked with the same error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_sink.h"

#define RS_EXPORT __attribute__((visibility("default")))

/* A stream whose last ID is further ahead of a change's LSN-derived ID than
 * this (2^38, about 256 GiB of WAL: far beyond any replay window) was not
 * written from this database's LSNs. */
#define RS_FOREIGN_MARGIN (UINT64_C(1) << 38)
#define RETRY_FIRST_MS    100
#define RETRY_MAX_MS      2000

/* One command of the batch in flight, in send order: the XADD of entry,
 * or (check) the XINFO STREAM of entry's stream just before it. */
struct rs_slot {
    struct rs_entry *entry;
    bool check;
};

struct redis_sink {
    const struct ww_host *host; /* borrowed until done */
    struct rs_config cfg;
    struct rs_conn conn;
    uv_timer_t timer; /* the batch's reply deadline, or a retry delay */
    uv_check_t kick;  /* sends a batch once the loop's I/O phase is over */
    int open_handles; /* timer, kick, conn, probes */

    struct rs_streams streams;

    /* Every accepted, unacked change, in write order. The first batch_len
     * are the batch in flight, the rest wait for the next batch. */
    struct rs_entry *head, **tailp;
    size_t count, bytes, byte_limit;
    size_t batch_len;
    bool batch_out;  /* a batch is sent and its EXEC reply awaited */
    bool retry_wait; /* the timer holds the next batch back */
    uint64_t gen;    /* batch number: replies of older batches are stale */
    struct rs_slot *slots;
    size_t nslots, slots_cap;
    size_t replies; /* QUEUED replies seen for the batch */
    bool multi_failed;
    long qerr_slot; /* the first command refused when queued, or -1 */
    char qerr[256];

    uint64_t oom_since, transient_since; /* first refusal of a streak, ms */
    uint64_t retry_ms;
    bool logged_dups;

    int error; /* sticky: the sink gave up; every write gets it */
    bool want_resume;
    bool closing, finishing;
    int dispatch; /* > 0 while acking: close() waits for the end */
    struct rs_probe *probes;
    void (*done)(void *arg);
    void *done_arg;

    struct rs_last {
        char op_class; /* 't' table, 'm' message, 'x' transaction record */
        struct rs_buf schema, table; /* NUL-terminated copies */
        struct rs_stream *stream;    /* NULL: nothing remembered */
    } last;

    struct rs_buf scratch;
    uint64_t stat_acked, stat_dups, stat_batches, stat_retries;
};

static void send_batch(struct redis_sink *s);
static void finish_close(struct redis_sink *s);

/* ---- the queue ------------------------------------------------------------- */

/* Detach the first n entries (n <= count) as a list. */
static struct rs_entry *take_first(struct redis_sink *s, size_t n)
{
    struct rs_entry *first = s->head, *last = NULL;
    for (size_t i = 0; i < n; i++) {
        last = last ? last->next : s->head;
        s->bytes -= last->len;
    }
    if (!last)
        return NULL;
    s->head = last->next;
    if (!s->head)
        s->tailp = &s->head;
    last->next = NULL;
    s->count -= n;
    return first;
}

/* Ack a detached list, in order, with each entry's status (or status
 * when it is not 0), and free it. */
static void ack_list(struct redis_sink *s, struct rs_entry *e, int status)
{
    s->dispatch++;
    while (e) {
        struct rs_entry *next = e->next;
        int st = status ? status : e->status;
        if (st == 0)
            s->stat_acked++;
        e->ack(e->token, st);
        free(e);
        e = next;
    }
    s->dispatch--;
}

/* The sink gives up: every change still outstanding is acked with err. */
static void fail_all(struct redis_sink *s, int err)
{
    if (!s->error)
        s->error = err;
    uv_timer_stop(&s->timer);
    s->retry_wait = false;
    s->batch_out = false;
    s->batch_len = 0;
    ack_list(s, take_first(s, s->count), err);
}

static bool can_send(const struct redis_sink *s)
{
    return !s->closing && !s->error && !s->batch_out && !s->retry_wait && rs_conn_ready(&s->conn) &&
           s->count > 0;
}

static void maybe_resume(struct redis_sink *s)
{
    if (s->want_resume && !s->error && !s->closing && s->count < s->cfg.max_pending &&
        s->bytes < s->byte_limit) {
        s->want_resume = false;
        s->host->resume(s->host);
    }
}

/* After acking: finish a close() that came meanwhile, or carry on. */
static void after_dispatch(struct redis_sink *s)
{
    if (s->dispatch > 0)
        return;
    if (s->closing) {
        finish_close(s);
        return;
    }
    send_batch(s);
    maybe_resume(s);
}

/* ---- messages ------------------------------------------------------------- */

/* Log why the change to stream st cannot be written, and return its errno. */
static int report(struct redis_sink *s, const struct rs_entry *e, enum rs_err_class cls,
                  const char *redis_msg)
{
    const struct ww_host *h = s->host;
    const char *name = e->stream->name;
    char d[32];
    switch (cls) {
    case RS_ERR_WRONGTYPE:
        h->log(h, WW_LOG_ERROR,
               "stream \"%s\": the key holds a value that is not a stream (%s); "
               "delete or rename that key, or set [redis] stream so that walwire "
               "writes elsewhere",
               name, redis_msg);
        break;
    case RS_ERR_NOPERM:
        h->log(h, WW_LOG_ERROR,
               "stream \"%s\": the Redis user may not write it (%s); grant it, "
               "e.g. ACL SETUSER <user> +xadd +xinfo +multi +exec +info "
               "~<stream pattern>",
               name, redis_msg);
        break;
    case RS_ERR_AUTH:
        h->log(h, WW_LOG_ERROR,
               "stream \"%s\": Redis requires authentication (%s); put the user "
               "and password in [redis] url",
               name, redis_msg);
        break;
    case RS_ERR_OOM:
        h->log(h, WW_LOG_ERROR,
               "stream \"%s\": Redis is out of memory (%s) and still was after "
               "[redis] oom_wait (%s); free memory, raise maxmemory, trim the "
               "streams ([redis] maxlen) or let consumers delete entries",
               name, redis_msg, rs_fmt_ms(s->cfg.oom_wait_ms, d, sizeof d));
        break;
    case RS_ERR_DUPLICATE: /* on a foreign stream */
        h->log(h, WW_LOG_ERROR,
               "stream \"%s\": its last entry ID %s is far ahead of this "
               "change's LSN-derived ID %llu-%u: the stream holds IDs that walwire "
               "did not derive from this database's LSNs (written with id = auto "
               "or by another producer), and with id = lsn every change would be "
               "refused as a replay; write to a new stream ([redis] stream), "
               "delete this one, or set id = auto",
               name, e->stream->top, (unsigned long long)e->id_ms, (unsigned)e->id_seq);
        return -EEXIST;
    default:
        h->log(h, WW_LOG_ERROR, "stream \"%s\": Redis refused the XADD: %s", name,
               redis_msg ? redis_msg : "unexpected reply");
        break;
    }
    return rs_err_errno(cls);
}

/* ---- the batch in flight ---------------------------------------------------- */

static struct redis_sink *batch_of(redisAsyncContext *ac, void *privdata)
{
    struct rs_conn *c = rs_conn_of(ac);
    if (!c)
        return NULL;
    struct redis_sink *s = c->data;
    if (!s->batch_out || (uint64_t)(uintptr_t)privdata != (uint64_t)(uintptr_t)s->gen)
        return NULL;
    return s;
}

static void on_multi(redisAsyncContext *ac, void *r, void *privdata)
{
    const redisReply *reply = r;
    struct redis_sink *s;
    if (!reply || !(s = batch_of(ac, privdata)))
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        s->multi_failed = true;
        snprintf(s->qerr, sizeof s->qerr, "%s", reply->str);
    }
}

/* The reply to a command queued inside MULTI: QUEUED, or the reason Redis
 * refused it (and will discard the transaction at EXEC). */
static void on_queued(redisAsyncContext *ac, void *r, void *privdata)
{
    const redisReply *reply = r;
    struct redis_sink *s;
    if (!reply || !(s = batch_of(ac, privdata)))
        return;
    size_t k = s->replies++;
    if (reply->type == REDIS_REPLY_ERROR && s->qerr_slot < 0 && !s->multi_failed) {
        s->qerr_slot = (long)k;
        snprintf(s->qerr, sizeof s->qerr, "%s", reply->str);
    }
}

static void on_timer_retry(uv_timer_t *t)
{
    struct redis_sink *s = t->data;
    s->retry_wait = false;
    send_batch(s);
}

static void on_reply_timeout(uv_timer_t *t)
{
    struct redis_sink *s = t->data;
    if (!s->batch_out)
        return;
    char d[32], why[160];
    rs_fmt_ms(s->cfg.reply_timeout_ms, d, sizeof d);
    s->host->log(s->host, WW_LOG_WARN,
                 "no reply from Redis at %s within reply_timeout (%s) to a "
                 "batch of %zu change(s); reconnecting to send them again",
                 s->cfg.where, d, s->batch_len);
    snprintf(why, sizeof why, "no reply within %s", d);
    rs_conn_drop(&s->conn, why);
}

/* The whole batch was refused (EXECABORT, or MULTI failed): nothing of it
 * was written. Retry later, or give up. */
static void batch_refused(struct redis_sink *s, const char *exec_err)
{
    const char *msg = (s->multi_failed || s->qerr_slot >= 0) ? s->qerr : exec_err;
    const struct rs_entry *e = s->qerr_slot >= 0 && (size_t)s->qerr_slot < s->nslots
                                   ? s->slots[s->qerr_slot].entry
                                   : s->head;
    enum rs_err_class cls = rs_classify(msg);
    uint64_t now = rs_now_ms(&s->conn);
    s->batch_len = 0; /* the changes stay queued, in order */
    char d[32];

    if (cls == RS_ERR_OOM && !s->oom_since) {
        s->oom_since = now;
        s->host->log(s->host, WW_LOG_WARN,
                     "stream \"%s\": Redis is out of memory (%s); retrying "
                     "for up to [redis] oom_wait (%s)",
                     e->stream->name, msg, rs_fmt_ms(s->cfg.oom_wait_ms, d, sizeof d));
    }
    bool retry =
        cls == RS_ERR_TRANSIENT || (cls == RS_ERR_OOM && now - s->oom_since < s->cfg.oom_wait_ms);
    if (!retry) {
        fail_all(s, report(s, e, cls, msg));
        return;
    }
    if (cls == RS_ERR_TRANSIENT && !s->transient_since) {
        s->transient_since = now;
        s->host->log(s->host, WW_LOG_WARN,
                     "stream \"%s\": Redis refused the batch for now (%s); "
                     "retrying",
                     e->stream->name, msg);
    }
    s->stat_retries++;
    s->host->count_retry(s->host);
    s->retry_wait = true;
    uv_timer_start(&s->timer, on_timer_retry, s->retry_ms, 0);
    s->retry_ms = s->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : s->retry_ms * 2;
}

/* XINFO STREAM's reply, read before the first XADD of a stream (id = lsn). */
static void check_stream(struct rs_entry *e, const redisReply *r)
{
    struct rs_stream *st = e->stream;
    if (r->type == REDIS_REPLY_ERROR) {
        /* No such key: a new stream. Anything else (WRONGTYPE) the XADD
         * right after reports. */
        if (strncmp(r->str, "ERR no such key", 15) == 0)
            st->verified = true;
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || strcmp(k->str, "last-generated-id") != 0 ||
            v->type != REDIS_REPLY_STRING)
            continue;
        unsigned long long top = strtoull(v->str, NULL, 10);
        snprintf(st->top, sizeof st->top, "%s", v->str);
        if (top > e->id_ms && top - e->id_ms > RS_FOREIGN_MARGIN)
            st->foreign = true;
        else
            st->verified = true;
        return;
    }
}

/* EXEC's array: one reply per command of the batch, in order. */
static void batch_done(struct redis_sink *s, const redisReply *r)
{
    int first_err = 0;
    size_t dups = 0;
    for (size_t k = 0; k < s->nslots; k++) {
        struct rs_slot *sl = &s->slots[k];
        const redisReply *el = r->element[k];
        struct rs_entry *e = sl->entry;
        if (sl->check) {
            check_stream(e, el);
            continue;
        }
        e->status = 0;
        if (el->type == REDIS_REPLY_STRING || el->type == REDIS_REPLY_STATUS)
            continue;
        enum rs_err_class cls = el->type == REDIS_REPLY_ERROR ? rs_classify(el->str) : RS_ERR_OTHER;
        const char *msg = el->type == REDIS_REPLY_ERROR ? el->str : NULL;
        if (cls == RS_ERR_DUPLICATE && s->cfg.id_mode == RS_ID_LSN && !e->stream->foreign) {
            dups++; /* already in the stream: written before a crash or a lost reply */
            continue;
        }
        if (!first_err)
            first_err = e->status = report(s, e, cls, msg);
        else
            e->status = cls == RS_ERR_DUPLICATE ? -EEXIST : rs_err_errno(cls);
    }
    if (s->oom_since || s->transient_since) {
        char d[32];
        s->host->log(
            s->host, WW_LOG_INFO, "Redis accepts writes again after %s",
            rs_fmt_ms(rs_now_ms(&s->conn) - (s->oom_since ? s->oom_since : s->transient_since), d,
                      sizeof d));
    }
    s->oom_since = s->transient_since = 0;
    s->retry_ms = RETRY_FIRST_MS;
    s->stat_dups += dups;
    if (dups && !s->logged_dups) {
        s->logged_dups = true;
        s->host->log(s->host, WW_LOG_INFO,
                     "%zu change(s) were already in Redis (sent before a restart or a lost "
                     "reply); Redis refused them as replays, so each is there once",
                     dups);
    }
    struct rs_entry *done = take_first(s, s->batch_len);
    s->batch_len = 0;
    ack_list(s, done, 0);
    if (first_err)
        fail_all(s, first_err);
}

static void on_exec(redisAsyncContext *ac, void *r, void *privdata)
{
    const redisReply *reply = r;
    struct redis_sink *s;
    if (!reply || !(s = batch_of(ac, privdata)))
        return;
    uv_timer_stop(&s->timer);
    s->batch_out = false;
    s->dispatch++;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == s->nslots && !s->multi_failed)
        batch_done(s, reply);
    else
        batch_refused(s,
                      reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply to EXEC");
    s->dispatch--;
    after_dispatch(s);
}

static int slots_reserve(struct redis_sink *s, size_t n)
{
    if (n <= s->slots_cap)
        return 0;
    struct rs_slot *p = realloc(s->slots, n * sizeof *p);
    if (!p)
        return -ENOMEM;
    s->slots = p;
    s->slots_cap = n;
    return 0;
}

/* Send every queued change as one batch: MULTI, XADD..., EXEC. */
static void send_batch(struct redis_sink *s)
{
    if (!can_send(s))
        return;
    if (slots_reserve(s, 2 * s->count) < 0)
        return; /* the next ack or reconnect tries again */
    s->gen++;
    void *gen = (void *)(uintptr_t)s->gen;
    s->nslots = 0;
    s->replies = 0;
    s->multi_failed = false;
    s->qerr_slot = -1;
    s->qerr[0] = '\0';
    static const char multi[] = "*1\r\n$5\r\nMULTI\r\n", exec[] = "*1\r\n$4\r\nEXEC\r\n";
    int rc = rs_conn_send(&s->conn, on_multi, gen, multi, sizeof multi - 1);
    for (struct rs_entry *e = s->head; e && rc == 0; e = e->next) {
        struct rs_stream *st = e->stream;
        if (s->cfg.id_mode == RS_ID_LSN && !st->verified && st->check_gen != s->gen) {
            st->check_gen = s->gen;
            rc = rs_format_xinfo(&s->scratch, st);
            if (rc == 0)
                rc = rs_conn_send(&s->conn, on_queued, gen, s->scratch.data, s->scratch.len);
            s->slots[s->nslots++] = (struct rs_slot){.entry = e, .check = true};
        }
        if (rc == 0)
            rc = rs_conn_send(&s->conn, on_queued, gen, e->cmd, e->len);
        s->slots[s->nslots++] = (struct rs_slot){.entry = e, .check = false};
    }
    if (rc == 0)
        rc = rs_conn_send(&s->conn, on_exec, gen, exec, sizeof exec - 1);
    s->batch_len = s->count;
    s->batch_out = true;
    s->stat_batches++;
    if (rc < 0) {
        rs_conn_drop(&s->conn, "cannot queue commands");
        return;
    }
    uv_timer_start(&s->timer, on_reply_timeout, s->cfg.reply_timeout_ms, 0);
}

static void on_kick(uv_check_t *h)
{
    struct redis_sink *s = h->data;
    uv_check_stop(h);
    send_batch(s);
}

/* ---- the connection's events ---------------------------------------------- */

static void on_conn_ready(struct rs_conn *c)
{
    struct redis_sink *s = c->data;
    s->logged_dups = false;
    if (s->count)
        s->host->log(s->host, WW_LOG_INFO, "sending the %zu change(s) not yet acknowledged",
                     s->count);
    send_batch(s);
}

static void on_conn_down(struct rs_conn *c)
{
    struct redis_sink *s = c->data;
    /* No reply will come for the batch: it goes again after the reconnect,
     * in the same order (LSN-derived IDs make that idempotent). */
    uv_timer_stop(&s->timer);
    s->batch_out = false;
    s->batch_len = 0;
    s->retry_wait = false;
}

static void on_conn_fatal(struct rs_conn *c, int err, const char *msg)
{
    struct redis_sink *s = c->data;
    s->dispatch++;
    s->host->fail(s->host, "%s", msg);
    fail_all(s, err);
    s->dispatch--;
    after_dispatch(s);
}

static void handle_gone(struct redis_sink *s)
{
    if (--s->open_handles > 0 || !s->finishing)
        return;
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    rs_streams_free(&s->streams);
    free(s->slots);
    rs_buf_free(&s->scratch);
    rs_buf_free(&s->last.schema);
    rs_buf_free(&s->last.table);
    rs_config_free(&s->cfg);
    free(s);
    done(arg);
}

static void on_conn_closed(struct rs_conn *c)
{
    handle_gone(c->data);
}

static void on_handle_closed(uv_handle_t *h)
{
    handle_gone(h->data);
}

static void on_probe_gone(void *owner)
{
    handle_gone(owner);
}

/* The stream of change c. Changes come in runs of one table: the last
 * (schema, table) is remembered, so a run renders and looks up once. */
static struct rs_stream *stream_of(struct redis_sink *s, const struct ww_change *c)
{
    char op_class = c->op == WW_OP_MESSAGE                               ? 'm'
                    : c->op == WW_OP_TX_BEGIN || c->op == WW_OP_TX_END ? 'x'
                                                                       : 't';
    struct rs_last *l = &s->last;
    if (l->stream && l->op_class == op_class && strcmp(l->schema.data, c->schema) == 0 &&
        strcmp(l->table.data, c->table) == 0)
        return l->stream;
    if (rs_render_stream(&s->cfg, s->host->topic_prefix, c, &s->scratch) < 0)
        return NULL;
    l->stream = rs_stream_get(&s->streams, s->scratch.data, s->scratch.len);
    size_t sl = strlen(c->schema) + 1, tl = strlen(c->table) + 1;
    l->schema.len = l->table.len = 0;
    if (!l->stream || rs_buf_reserve(&l->schema, sl) < 0 || rs_buf_reserve(&l->table, tl) < 0) {
        l->stream = NULL;
        return NULL;
    }
    memcpy(l->schema.data, c->schema, sl);
    memcpy(l->table.data, c->table, tl);
    l->op_class = op_class;
    return l->stream;
}

/* ---- the ABI ------------------------------------------------------------------ */

static int rs_write(void *sink, const struct ww_change *c, ww_ack_fn ack, void *token)
{
    struct redis_sink *s = sink;
    if (s->error)
        return s->error;
    if (s->closing)
        return -ECANCELED;
    /* Bounded: an empty queue takes any one change, however large. */
    if (s->count >= s->cfg.max_pending ||
        (s->count > 0 && s->bytes + c->key_len + c->value_len > s->byte_limit)) {
        s->want_resume = true;
        return -EAGAIN;
    }
    struct rs_stream *st = stream_of(s, c);
    struct rs_entry *e = st ? rs_format_xadd(&s->cfg, st, c) : NULL;
    if (!e)
        return -ENOMEM;
    e->ack = ack;
    e->token = token;
    *s->tailp = e;
    s->tailp = &e->next;
    s->count++;
    s->bytes += e->len;
    /* The batch goes out after the loop's I/O phase, with every change
     * core hands over in this turn; never an ack from inside write(). */
    if (can_send(s) && !uv_is_active((uv_handle_t *)&s->kick))
        uv_check_start(&s->kick, on_kick);
    return 0;
}

static void finish_close(struct redis_sink *s)
{
    if (s->finishing)
        return;
    s->finishing = true;
    rs_probe_cancel_all(&s->probes);
    rs_conn_close(&s->conn); /* pending replies become stale */
    s->dispatch++;
    ack_list(s, take_first(s, s->count), -ECANCELED);
    s->dispatch--;
    s->host->log(s->host, WW_LOG_INFO,
                 "%llu change(s) written to Redis in %llu batch(es); %llu replay(s) refused as "
                 "already there; %llu batch retry(ies)",
                 (unsigned long long)s->stat_acked, (unsigned long long)s->stat_batches,
                 (unsigned long long)s->stat_dups, (unsigned long long)s->stat_retries);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->kick, on_handle_closed);
}

static void rs_close(void *sink, void (*done)(void *arg), void *arg)
{
    struct redis_sink *s = sink;
    if (s->closing)
        return;
    s->closing = true;
    s->done = done;
    s->done_arg = arg;
    /* Called from an ack (core stopping on an error): finish after the
     * acking loop, in after_dispatch. */
    if (s->dispatch == 0)
        finish_close(s);
}

static int rs_open(const struct ww_host *host, void **sinkp)
{
    struct redis_sink *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int rc = rs_config_parse(host, &s->cfg);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->host = host;
    s->tailp = &s->head;
    s->qerr_slot = -1;
    s->retry_ms = RETRY_FIRST_MS;
    s->byte_limit = host->max_inflight_bytes ? (size_t)host->max_inflight_bytes : 64u << 20;
    uv_timer_init(host->loop, &s->timer);
    uv_check_init(host->loop, &s->kick);
    s->timer.data = s->kick.data = s;
    static const struct rs_conn_cbs cbs = {
        .on_ready = on_conn_ready,
        .on_down = on_conn_down,
        .on_fatal = on_conn_fatal,
        .on_closed = on_conn_closed,
    };
    rs_conn_init(&s->conn, host, &s->cfg, &cbs, true, s);
    s->open_handles = 3; /* timer, kick, conn */

    const struct rs_config *cfg = &s->cfg;
    host->log(host, WW_LOG_INFO,
              "writing to Redis at %s, db %ld: stream %s, message_stream %s, id = %s, "
              "maxlen %s%s, max_pending %zu",
              cfg->where, cfg->db, cfg->stream_tpl, cfg->message_tpl,
              cfg->id_mode == RS_ID_LSN ? "lsn" : "auto",
              cfg->trim ? (cfg->trim_approx ? "~" : "") : "none", cfg->trim ? cfg->maxlen : "",
              cfg->max_pending);
    rs_conn_start(&s->conn);
    *sinkp = s;
    return 0;
}

/* For `walwire check`: a connection of its own, so that the batch
 * connection (inside MULTI at times) is left alone. */
static void rs_probe(void *sink, void (*cb)(void *arg, int status, const char *detail), void *arg)
{
    struct redis_sink *s = sink;
    if (s->closing) {
        cb(arg, -ECANCELED, "the sink is closing");
        return;
    }
    int rc = rs_probe_start(s->host, &s->cfg, &s->probes, on_probe_gone, s, cb, arg);
    if (rc < 0) {
        cb(arg, rc, "out of memory");
        return;
    }
    s->open_handles++;
}

static const struct ww_sink_ops redis_sink_ops = {
    .abi_version = WW_SINK_ABI_VERSION,
    .size = sizeof(struct ww_sink_ops),
    .name = "redis",
    .open = rs_open,
    .write = rs_write,
    .close = rs_close,
    .probe = rs_probe,
};

RS_EXPORT const struct ww_sink_ops *ww_sink_entry(void);
const struct ww_sink_ops *ww_sink_entry(void)
{
    return &redis_sink_ops;
}
