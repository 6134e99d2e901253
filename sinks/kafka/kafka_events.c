/*
 * librdkafka's main queue, served on the libuv loop.
 *
 * librdkafka's threads put delivery reports, errors and log lines on the
 * producer's main queue. rd_kafka_queue_io_event_enable() makes librdkafka
 * write one byte to a pipe whenever that queue goes from empty to
 * non-empty; a uv_poll_t watches the pipe's other end. When it is readable
 * the sink empties the pipe first, then the queue (so an event that arrives
 * meanwhile writes a new byte and wakes the loop again). No thread of ours,
 * no blocking call: rd_kafka_queue_poll(q, 0) returns at once.
 *
 * Acks: every accepted change has a struct ks_ack, the opaque of each of
 * its messages. A delivery report without error is durability (the
 * producer is idempotent with acks=all); with an error it is a permanent
 * failure, because librdkafka retries everything transient itself for as
 * long as message.timeout.ms allows (forever by default).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_sink.h"

#define MAX_FREE_RECS 4096

static void on_deferred(uv_timer_t *t);

/* ---- ack records ------------------------------------------------------ */

static void list_init(struct ks_ack *head)
{
    head->prev = head->next = head;
}

static void list_push(struct ks_ack *head, struct ks_ack *r)
{
    r->prev = head->prev;
    r->next = head;
    head->prev->next = r;
    head->prev = r;
}

static void list_unlink(struct ks_ack *r)
{
    r->prev->next = r->next;
    r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

struct ks_ack *ks_ack_new(struct kafka_sink *s, ww_ack_fn ack, void *token, int remaining)
{
    struct ks_ack *r = s->free_recs;
    if (r) {
        s->free_recs = r->next;
        s->nfree--;
    } else if (!(r = malloc(sizeof *r))) {
        return NULL;
    }
    r->ack = ack;
    r->token = token;
    r->remaining = remaining;
    r->status = 0;
    list_push(&s->outstanding, r);
    s->noutstanding++;
    return r;
}

static void recycle(struct kafka_sink *s, struct ks_ack *r)
{
    if (s->nfree >= MAX_FREE_RECS) {
        free(r);
        return;
    }
    r->next = s->free_recs;
    s->free_recs = r;
    s->nfree++;
}

void ks_ack_release(struct kafka_sink *s, struct ks_ack *r)
{
    list_unlink(r);
    s->noutstanding--;
    recycle(s, r);
}

void ks_ack_report(struct kafka_sink *s, struct ks_ack *r, int status)
{
    if (status && !r->status)
        r->status = status;
    if (--r->remaining > 0)
        return;
    ww_ack_fn ack = r->ack;
    void *token = r->token;
    status = r->status;
    ks_ack_release(s, r);
    ack(token, status);
}

void ks_ack_fail_later(struct kafka_sink *s, struct ks_ack *r, int status)
{
    list_unlink(r);
    s->noutstanding--;
    r->status = status;
    list_push(&s->failed, r);
    s->failures++;
    /* The acks run on the next loop turn: never from inside write(). */
    uv_timer_start(&s->deferred, on_deferred, 0, 0);
}

/* ---- errors ----------------------------------------------------------- */

int ks_errno_of(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        return -EMSGSIZE;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
        return -EACCES;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return -ENOENT;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return -ETIMEDOUT;
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__DESTROY:
        return -ECANCELED;
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
        return -EINVAL;
    default:
        return -EIO;
    }
}

static const char *hint_of(rd_kafka_resp_err_t err)
{
    switch (ks_errno_of(err)) {
    case -EMSGSIZE:
        return "; raise the producer's message.max.bytes and the topic's max.message.bytes";
    case -EACCES:
        return "; grant the producer's principal Write (and Describe) on the topic";
    case -ENOENT:
        return "; create the topic, or enable auto.create.topics.enable on the brokers";
    case -ETIMEDOUT:
        return "; message.timeout.ms expired (message.timeout.ms=0, the default, retries "
               "until the brokers are back)";
    default:
        return "";
    }
}

void ks_report_failure(struct kafka_sink *s, const char *topic, rd_kafka_resp_err_t err,
                       const char *what)
{
    if (err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
        return; /* our own close() */
    if (s->reported) {
        s->host->log(s->host, WW_LOG_DEBUG, "%s to topic %s: %s", what, topic,
                     rd_kafka_err2str(err));
        return;
    }
    s->reported = true;
    s->host->log(s->host, WW_LOG_ERROR,
                 "%s to topic %s: %s (%s)%s; walwire stops and the slot does not move past "
                 "this change",
                 what, topic, rd_kafka_err2str(err), rd_kafka_err2name(err), hint_of(err));
}

/* ---- the event loop side ---------------------------------------------- */

static void enter_dispatch(struct kafka_sink *s)
{
    s->dispatching++;
}

/* Leaving the outermost dispatch: finish a close() that came from an ack
 * callback, or hand room back to core. */
static void leave_dispatch(struct kafka_sink *s)
{
    if (--s->dispatching > 0)
        return;
    if (s->closing)
        ks_finish_close(s);
    else
        ks_after_reports(s);
}

static void on_delivery_report(struct kafka_sink *s, rd_kafka_event_t *ev)
{
    const rd_kafka_message_t *m;
    while ((m = rd_kafka_event_message_next(ev))) {
        struct ks_ack *r = m->_private;
        int status = 0;
        if (m->err) {
            status = ks_errno_of(m->err);
            ks_report_failure(s, rd_kafka_topic_name(m->rkt), m->err, "delivery failed");
        }
        if (status == 0)
            s->delivered++;
        else if (status != -ECANCELED)
            s->failures++;
        ks_ack_report(s, r, status);
    }
}

static void on_error(struct kafka_sink *s, rd_kafka_event_t *ev)
{
    const struct ww_host *host = s->host;
    rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
    char clean[512];
    ks_scrub(&s->cfg.secrets, rd_kafka_event_error_string(ev), clean, sizeof clean);
    if (rd_kafka_event_error_is_fatal(ev)) {
        /* The idempotent producer cannot guarantee order any more (e.g. the
         * broker lost its state for our producer id). Stop: the next start
         * resends from the last confirmed position with a new producer. */
        char reason[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(s->rk, reason, sizeof reason);
        ks_scrub(&s->cfg.secrets, reason, clean, sizeof clean);
        if (s->fatal)
            return;
        s->fatal = -EIO;
        host->log(host, WW_LOG_ERROR, "fatal Kafka producer error: %s: %s", rd_kafka_err2name(orig),
                  clean);
        host->fail(host,
                   "fatal Kafka producer error (%s): %s; restart walwire: it resends "
                   "from the last confirmed position",
                   rd_kafka_err2name(orig), clean);
        return;
    }
    switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
        /* librdkafka would retry forever with the same credentials. */
        if (!s->fatal)
            host->fail(host,
                       "Kafka authentication failed: %s; check security.protocol, "
                       "sasl.mechanisms, sasl.username and sasl.password",
                       clean);
        s->fatal = -EACCES;
        return;
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        host->log(host, WW_LOG_WARN,
                  "all Kafka brokers are down (%s); changes wait, "
                  "librdkafka keeps reconnecting",
                  clean);
        host->count_retry(host);
        return;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
        host->count_retry(host);
        host->log(host, WW_LOG_INFO, "%s", clean);
        return;
    default:
        host->log(host, WW_LOG_WARN, "librdkafka: %s: %s", rd_kafka_err2name(err), clean);
    }
}

static void on_log(struct kafka_sink *s, rd_kafka_event_t *ev)
{
    const char *fac = "", *str = "";
    int level = 6;
    if (rd_kafka_event_log(ev, &fac, &str, &level) != 0)
        return;
    enum ww_log_level lv = level <= 2   ? WW_LOG_ERROR
                           : level <= 4 ? WW_LOG_WARN
                           : level <= 6 ? WW_LOG_INFO
                                        : WW_LOG_DEBUG;
    char clean[1024];
    s->host->log(s->host, lv, "librdkafka %s: %s", fac,
                 ks_scrub(&s->cfg.secrets, str, clean, sizeof clean));
}

/* Serve every event now on the main queue; close() waits for the end. */
static void serve_queue(struct kafka_sink *s)
{
    rd_kafka_event_t *ev;
    while ((ev = rd_kafka_queue_poll(s->mainq, 0))) {
        switch (rd_kafka_event_type(ev)) {
        case RD_KAFKA_EVENT_DR:
            on_delivery_report(s, ev);
            break;
        case RD_KAFKA_EVENT_ERROR:
            on_error(s, ev);
            break;
        case RD_KAFKA_EVENT_LOG:
            on_log(s, ev);
            break;
        default:
            break;
        }
        rd_kafka_event_destroy(ev);
    }
}

void ks_serve_queue(struct kafka_sink *s)
{
    serve_queue(s);
}

void ks_events_drain(struct kafka_sink *s)
{
    enter_dispatch(s);
    serve_queue(s);
    leave_dispatch(s);
}

static void on_wake(uv_poll_t *h, int status, int events)
{
    struct kafka_sink *s = h->data;
    (void)status;
    (void)events;
    char buf[256];
    while (read(s->wake_rd, buf, sizeof buf) > 0)
        ;
    ks_events_drain(s);
}

/* The deferred timer: ack changes that failed before reaching librdkafka,
 * then serve the queue (which also covers events queued before the pipe
 * was connected). */
static void on_deferred(uv_timer_t *t)
{
    struct kafka_sink *s = t->data;
    enter_dispatch(s);
    while (s->failed.next != &s->failed && !s->closing) {
        struct ks_ack *r = s->failed.next;
        list_unlink(r);
        ww_ack_fn ack = r->ack;
        void *token = r->token;
        int status = r->status;
        recycle(s, r);
        ack(token, status);
    }
    serve_queue(s);
    leave_dispatch(s);
}

int ks_produce_pending(struct kafka_sink *s)
{
    struct ks_pending *p = s->pending;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        s->rk, RD_KAFKA_V_RKT(p->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(p->key, p->key_len), RD_KAFKA_V_VALUE(NULL, 0),
        RD_KAFKA_V_HEADER("walwire.lsn", p->lsn, -1),
        RD_KAFKA_V_HEADER("walwire.txid", p->txid, -1), RD_KAFKA_V_OPAQUE(p->rec), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return -EAGAIN;
    s->pending = NULL;
    if (err) {
        ks_report_failure(s, rd_kafka_topic_name(p->rkt), err, "cannot queue a tombstone");
        ks_ack_report(s, p->rec, ks_errno_of(err)); /* its delete is still out */
    }
    free(p);
    return err ? -EIO : 0;
}

void ks_after_reports(struct kafka_sink *s)
{
    if (s->closing)
        return;
    if (s->pending && ks_produce_pending(s) == -EAGAIN)
        return;
    if (s->want_resume) {
        s->want_resume = false;
        s->host->resume(s->host);
    }
}

int ks_events_start(struct kafka_sink *s)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    s->wake_rd = fds[0];
    s->wake_wr = fds[1];
    int rc = uv_poll_init(s->host->loop, &s->poll, s->wake_rd);
    if (rc < 0) {
        close(fds[0]);
        close(fds[1]);
        s->wake_rd = s->wake_wr = -1;
        return rc;
    }
    s->poll.data = s;
    uv_timer_init(s->host->loop, &s->deferred);
    s->deferred.data = s;
    s->open_handles = 2;
    list_init(&s->outstanding);
    list_init(&s->failed);
    rd_kafka_queue_io_event_enable(s->mainq, s->wake_wr, "1", 1);
    uv_poll_start(&s->poll, UV_READABLE, on_wake);
    /* Events queued before the pipe was connected (logs of rd_kafka_new)
     * would not wake us: serve them on the first loop turn. */
    uv_timer_start(&s->deferred, on_deferred, 0, 0);
    return 0;
}

void ks_ack_all(struct kafka_sink *s, int status)
{
    while (s->failed.next != &s->failed) {
        struct ks_ack *r = s->failed.next;
        list_unlink(r);
        ww_ack_fn ack = r->ack;
        void *token = r->token;
        int st = r->status;
        recycle(s, r);
        ack(token, st);
    }
    while (s->outstanding.next != &s->outstanding) {
        struct ks_ack *r = s->outstanding.next;
        r->remaining = 1;
        ks_ack_report(s, r, status);
    }
}

void ks_free_recs(struct kafka_sink *s)
{
    while (s->free_recs) {
        struct ks_ack *r = s->free_recs;
        s->free_recs = r->next;
        free(r);
    }
    s->nfree = 0;
}
