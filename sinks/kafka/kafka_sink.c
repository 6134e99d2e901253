/*
 * Kafka sink: every change becomes one Kafka record, produced with
 * librdkafka by an idempotent producer (acks=all), acked from its delivery
 * report.
 *
 *   [kafka]
 *   bootstrap.servers = kafka:9092
 *   topic = {prefix}.{schema}.{table}     ; see kafka_topics.c
 *   message_topic = {prefix}.message      ; logical decoding messages
 *   tombstones = true                     ; null value after each delete
 *   ; any other key is a librdkafka property (kafka_conf.c)
 *
 * Record: key = the change's key (JSON; a null key when the table has
 * none), value = the Debezium envelope, headers walwire.lsn (source.lsn,
 * decimal) and walwire.txid (decimal). The default partitioner is
 * murmur2_random, Java's: a key lands on the partition a Java producer
 * would pick. After a delete with a key comes a tombstone (same key, null
 * value, same headers); the delete's ack waits for both reports.
 *
 * Memory: librdkafka's queue is capped from [source] max_inflight_bytes
 * (kafka_conf.c). When it is full, write() returns -EAGAIN and the sink
 * calls host->resume() after the next delivery report frees room. If the
 * tombstone of a delete does not fit, it waits in s->pending and goes first
 * once there is room; writes get -EAGAIN until then, so order holds.
 *
 * Failures: transient ones (broker down, leader change, timeouts) are
 * retried by librdkafka, forever with message.timeout.ms=0. A failed
 * delivery report is permanent (message too large, authorization, unknown
 * topic, or a finite message.timeout.ms that expired): the change is acked
 * with a negative errno, the log names the topic and librdkafka's reason,
 * and walwire stops without confirming it. A fatal idempotent-producer
 * error calls host->fail(): walwire stops cleanly and the next start
 * resends from the last confirmed position (recreating the producer in
 * place would need a copy of every unacknowledged change; a restart has
 * them from PostgreSQL).
 *
 * close(): purge what librdkafka still holds (its reports ack those changes
 * with -ECANCELED), ack anything left the same way, close the loop handles,
 * then rd_kafka_destroy() on the threadpool (it joins librdkafka's
 * threads), and done().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_sink.h"

#define KS_EXPORT        __attribute__((visibility("default")))
#define PROBE_TIMEOUT_MS 5000

/* ---- write ------------------------------------------------------------ */

/* v in decimal into out (at least 21 bytes); snprintf costs more per change. */
static void decimal(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

static rd_kafka_resp_err_t produce(struct kafka_sink *s, rd_kafka_topic_t *rkt, const char *key,
                                   size_t key_len, const char *value, size_t value_len,
                                   const char *lsn, const char *txid, struct ks_ack *rec)
{
    return rd_kafka_producev(
        s->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
        RD_KAFKA_V_HEADER("walwire.lsn", lsn, -1), RD_KAFKA_V_HEADER("walwire.txid", txid, -1),
        RD_KAFKA_V_OPAQUE(rec), RD_KAFKA_V_END);
}

/* Keep a tombstone librdkafka had no room for (see the top comment). */
static int keep_pending(struct kafka_sink *s, rd_kafka_topic_t *rkt, const struct ww_change *c,
                        const char *lsn, const char *txid, struct ks_ack *rec)
{
    struct ks_pending *p = malloc(sizeof *p + c->key_len);
    if (!p)
        return -ENOMEM;
    p->rkt = rkt;
    p->rec = rec;
    p->key_len = c->key_len;
    memcpy(p->key, c->key, c->key_len);
    snprintf(p->lsn, sizeof p->lsn, "%s", lsn);
    snprintf(p->txid, sizeof p->txid, "%s", txid);
    s->pending = p;
    s->want_resume = true;
    return 0;
}

static int ks_write(void *sink, const struct ww_change *c, ww_ack_fn ack, void *token)
{
    struct kafka_sink *s = sink;
    if (s->fatal)
        return s->fatal;
    if (s->closing)
        return -ECANCELED;
    if (s->pending) {
        s->want_resume = true;
        return -EAGAIN;
    }
    bool tombstone = s->cfg.tombstones && c->op == WW_OP_DELETE && c->key;
    const char *topic;
    rd_kafka_topic_t *rkt =
        ks_topics_get(&s->topics, s->rk, &s->cfg, s->host->topic_prefix, c, &topic);
    struct ks_ack *rec = ks_ack_new(s, ack, token, tombstone ? 2 : 1);
    if (!rec)
        return -ENOMEM;
    if (!rkt) {
        if (!s->reported) {
            s->reported = true;
            s->host->log(s->host, WW_LOG_ERROR,
                         "no usable topic name for %s.%s (rendered \"%s\": empty or longer than "
                         "%d characters); change [kafka] topic",
                         c->schema, c->table, topic, KS_MAX_TOPIC_LEN);
        }
        ks_ack_fail_later(s, rec, -EINVAL);
        return 0;
    }

    char lsn[24], txid[16];
    decimal(lsn, c->lsn);
    decimal(txid, c->xid);
    rd_kafka_resp_err_t err =
        produce(s, rkt, c->key, c->key ? c->key_len : 0, c->value, c->value_len, lsn, txid, rec);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && s->noutstanding > 1) {
        /* Room comes back with the next delivery report. */
        ks_ack_release(s, rec);
        s->want_resume = true;
        return -EAGAIN;
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        /* Nothing else is queued: this change alone is larger than the
         * queue and would never fit. */
        s->host->log(s->host, WW_LOG_ERROR,
                     "a change of %zu bytes for topic %s does not fit in librdkafka's queue; "
                     "raise queue.buffering.max.kbytes",
                     c->value_len + c->key_len, topic);
        s->reported = true;
        ks_ack_fail_later(s, rec, -EMSGSIZE);
        return 0;
    }
    if (err) {
        ks_report_failure(s, topic, err, "cannot produce");
        ks_ack_fail_later(s, rec, ks_errno_of(err));
        return 0;
    }
    if (!tombstone)
        return 0;

    err = produce(s, rkt, c->key, c->key_len, NULL, 0, lsn, txid, rec);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        if (keep_pending(s, rkt, c, lsn, txid, rec) < 0) {
            rec->status = -ENOMEM; /* the delete's report acks it, failed */
            rec->remaining = 1;
        }
    } else if (err) {
        /* The delete itself is queued: its report acks the change, with
         * this error. */
        ks_report_failure(s, topic, err, "cannot produce a tombstone");
        rec->status = ks_errno_of(err);
        rec->remaining = 1;
    }
    return 0;
}

/* ---- close ------------------------------------------------------------ */

static void destroy_work(uv_work_t *req)
{
    struct kafka_sink *s = req->data;
    rd_kafka_destroy(s->rk);
}

static void destroy_done(uv_work_t *req, int status)
{
    struct kafka_sink *s = req->data;
    (void)status;
    if (s->wake_rd >= 0)
        close(s->wake_rd);
    if (s->wake_wr >= 0)
        close(s->wake_wr);
    s->host->log(s->host, WW_LOG_INFO, "producer closed: %llu record(s) delivered",
                 (unsigned long long)s->delivered);
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    ks_free_recs(s);
    ks_config_free(&s->cfg);
    free(s);
    done(arg);
}

/* Once the loop handles are closed and no probe runs: destroy the producer
 * off the loop. */
static void maybe_destroy(struct kafka_sink *s)
{
    if (s->open_handles > 0 || s->jobs > 0 || s->closed_rk)
        return;
    s->closed_rk = true;
    ks_topics_free(&s->topics);
    s->destroy_work.data = s;
    if (uv_queue_work(s->host->loop, &s->destroy_work, destroy_work, destroy_done) < 0) {
        rd_kafka_destroy(s->rk);
        destroy_done(&s->destroy_work, 0);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct kafka_sink *s = h->data;
    s->open_handles--;
    maybe_destroy(s);
}

void ks_finish_close(struct kafka_sink *s)
{
    if (s->mainq == NULL)
        return; /* already done */
    uv_poll_stop(&s->poll);
    uv_timer_stop(&s->deferred);
    free(s->pending); /* its change is acked below */
    s->pending = NULL;

    /* Take back everything librdkafka holds; the reports of the purged
     * messages (-ECANCELED) are on the queue when purge returns. */
    s->dispatching++;
    rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    ks_serve_queue(s);
    ks_ack_all(s, -ECANCELED);
    s->dispatching--;

    rd_kafka_queue_io_event_enable(s->mainq, -1, NULL, 0);
    rd_kafka_queue_destroy(s->mainq);
    s->mainq = NULL;
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
    uv_close((uv_handle_t *)&s->deferred, on_handle_closed);
}

static void ks_close(void *sink, void (*done)(void *arg), void *arg)
{
    struct kafka_sink *s = sink;
    s->closing = true;
    s->done = done;
    s->done_arg = arg;
    /* From inside an ack callback: the dispatch finishes the close. */
    if (s->dispatching == 0)
        ks_finish_close(s);
}

/* ---- probe ------------------------------------------------------------ */

struct probe_job {
    uv_work_t req;
    struct kafka_sink *s;
    void (*cb)(void *arg, int status, const char *detail);
    void *arg;
    int status;
    char detail[512];
};

/* On the threadpool: a metadata request (brokers only) with a deadline. */
static void probe_work(uv_work_t *req)
{
    struct probe_job *j = req->data;
    const struct rd_kafka_metadata *md = NULL;
    char raw[512];
    rd_kafka_resp_err_t err = rd_kafka_metadata(j->s->rk, 0, NULL, &md, PROBE_TIMEOUT_MS);
    if (err) {
        j->status = err == RD_KAFKA_RESP_ERR__TIMED_OUT ? -ETIMEDOUT : -EHOSTUNREACH;
        snprintf(raw, sizeof raw, "no Kafka broker answered at %s within %d ms: %s",
                 j->s->cfg.bootstrap, PROBE_TIMEOUT_MS, rd_kafka_err2str(err));
    } else {
        int n = snprintf(raw, sizeof raw, "%s: %d broker(s)", j->s->cfg.bootstrap, md->broker_cnt);
        for (int i = 0; i < md->broker_cnt && i < 8 && n > 0 && (size_t)n < sizeof raw; i++)
            n += snprintf(raw + n, sizeof raw - (size_t)n, "%s %s:%d", i ? "," : "",
                          md->brokers[i].host, md->brokers[i].port);
        if (n > 0 && (size_t)n < sizeof raw)
            snprintf(raw + n, sizeof raw - (size_t)n, "; librdkafka %s", rd_kafka_version_str());
        rd_kafka_metadata_destroy(md);
        j->status = 0;
    }
    ks_scrub(&j->s->cfg.secrets, raw, j->detail, sizeof j->detail);
}

static void probe_done(uv_work_t *req, int status)
{
    struct probe_job *j = req->data;
    struct kafka_sink *s = j->s;
    if (status < 0 && j->status == 0) {
        j->status = status;
        snprintf(j->detail, sizeof j->detail, "probe cancelled");
    }
    j->cb(j->arg, j->status, j->detail);
    free(j);
    s->jobs--;
    if (s->closing)
        maybe_destroy(s);
}

static void ks_probe(void *sink, void (*cb)(void *arg, int status, const char *detail), void *arg)
{
    struct kafka_sink *s = sink;
    struct probe_job *j = calloc(1, sizeof *j);
    if (!j) {
        cb(arg, -ENOMEM, "out of memory");
        return;
    }
    j->s = s;
    j->cb = cb;
    j->arg = arg;
    j->req.data = j;
    s->jobs++;
    if (uv_queue_work(s->host->loop, &j->req, probe_work, probe_done) < 0) {
        s->jobs--;
        free(j);
        cb(arg, -EIO, "cannot start the probe");
    }
}

/* ---- open ------------------------------------------------------------- */

struct blame {
    const char *errstr;
    const char *key; /* the first configured key the message names */
};

static int find_named_key(void *arg, const char *key, const char *value)
{
    struct blame *b = arg;
    (void)value;
    if (!b->key && strstr(b->errstr, key))
        b->key = key;
    return 0;
}

static void log_producer(struct kafka_sink *s)
{
    const rd_kafka_conf_t *conf = rd_kafka_conf(s->rk);
    char idem[16] = "?", acks[16] = "?", tmo[24] = "?", kb[24] = "?";
    size_t n;
    n = sizeof idem, rd_kafka_conf_get(conf, "enable.idempotence", idem, &n);
    n = sizeof acks, rd_kafka_conf_get(conf, "acks", acks, &n);
    n = sizeof tmo, rd_kafka_conf_get(conf, "message.timeout.ms", tmo, &n);
    n = sizeof kb, rd_kafka_conf_get(conf, "queue.buffering.max.kbytes", kb, &n);
    char boot[256];
    s->host->log(s->host, WW_LOG_INFO,
                 "producing to %s: topics %s, messages %s, tombstones %s, "
                 "enable.idempotence=%s acks=%s message.timeout.ms=%s "
                 "queue.buffering.max.kbytes=%s (librdkafka %s)",
                 ks_scrub(&s->cfg.secrets, s->cfg.bootstrap, boot, sizeof boot), s->cfg.topic_tmpl,
                 s->cfg.message_tmpl, s->cfg.tombstones ? "on" : "off", idem, acks, tmo, kb,
                 rd_kafka_version_str());
}

static int ks_open(const struct ww_host *host, void **sinkp)
{
    struct kafka_sink *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->host = host;
    s->wake_rd = s->wake_wr = -1;
    ks_topics_init(&s->topics);
    int rc = ks_config_load(host, &s->cfg);
    if (rc < 0) {
        free(s);
        return rc;
    }

    /* Reports, errors and logs as events on the main queue. */
    char errstr[512], clean[512];
    rd_kafka_conf_set_events(s->cfg.conf,
                             RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR | RD_KAFKA_EVENT_LOG);
    rd_kafka_conf_set(s->cfg.conf, "log.queue", "true", errstr, sizeof errstr);
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, s->cfg.conf, errstr, sizeof errstr);
    if (!s->rk) {
        ks_scrub(&s->cfg.secrets, errstr, clean, sizeof clean);
        struct blame b = {.errstr = clean};
        host->config_foreach(host, find_named_key, &b);
        /* A combination of settings librdkafka refuses: a configuration
         * error, blamed on the first key its message names. */
        rc = host->config_error(host, b.key ? b.key : "(librdkafka)",
                                "librdkafka refused the configuration: %s", clean);
        ks_config_free(&s->cfg);
        free(s);
        return rc;
    }
    s->cfg.conf = NULL;                  /* rd_kafka_new took it */
    rd_kafka_set_log_queue(s->rk, NULL); /* logs go to the main queue */
    s->mainq = rd_kafka_queue_get_main(s->rk);
    rc = ks_events_start(s);
    if (rc < 0) {
        host->log(host, WW_LOG_ERROR, "cannot watch librdkafka's queue: %s", strerror(-rc));
        rd_kafka_queue_destroy(s->mainq);
        rd_kafka_destroy(s->rk);
        ks_config_free(&s->cfg);
        free(s);
        return rc;
    }
    log_producer(s);
    *sinkp = s;
    return 0;
}

static const struct ww_sink_ops kafka_sink_ops = {
    .abi_version = WW_SINK_ABI_VERSION,
    .size = sizeof(struct ww_sink_ops),
    .name = "kafka",
    .open = ks_open,
    .write = ks_write,
    .close = ks_close,
    .probe = ks_probe,
};

KS_EXPORT const struct ww_sink_ops *ww_sink_entry(void);
const struct ww_sink_ops *ww_sink_entry(void)
{
    return &kafka_sink_ops;
}
