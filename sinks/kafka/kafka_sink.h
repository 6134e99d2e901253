/*
 * Kafka sink internals, shared by the files of sinks/kafka/:
 *
 *   kafka_sink.c    the ops: open, write, close, probe
 *   kafka_conf.c    the [kafka] section -> rd_kafka_conf_t, secrets
 *   kafka_topics.c  topic name templates and the topic handle cache
 *   kafka_events.c  librdkafka's main queue on the loop: delivery reports
 *                   (acks), errors, logs
 *
 * Threads: everything here runs on the loop thread, except the two
 * threadpool jobs of kafka_sink.c (probe's metadata request and the final
 * rd_kafka_destroy), which only touch the rd_kafka_t.
 */
#ifndef WW_KAFKA_SINK_H
#define WW_KAFKA_SINK_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "walwire/sink.h"

#define KS_MAX_TOPIC_LEN 249 /* Kafka's limit on topic names */

/* ---- configuration (kafka_conf.c) ---- */

/* Values of secret properties, kept only to scrub them from librdkafka's
 * log lines and error strings. */
struct ks_secrets {
    char **values;
    size_t count;
};

struct ks_config {
    char *topic_tmpl;      /* [kafka] topic */
    char *message_tmpl;    /* [kafka] message_topic: for 'm' events */
    char *tx_tmpl;         /* [kafka] transaction_topic: for 'B'/'E' records */
    bool tombstones;       /* [kafka] tombstones */
    char *bootstrap;       /* bootstrap.servers as given, for messages */
    rd_kafka_conf_t *conf; /* owned until rd_kafka_new takes it */
    struct ks_secrets secrets;
};

/* Read the sink's section into cfg: walwire's own keys, every other key
 * passed to rd_kafka_conf_set, then walwire's defaults for what the user did
 * not set. Reports bad keys with host->config_error (never echoing a secret
 * value). 0 or a negative errno; on error cfg is freed. */
int ks_config_load(const struct ww_host *host, struct ks_config *cfg);
void ks_config_free(struct ks_config *cfg);

/* Is this librdkafka property secret (password, key, token)? */
bool ks_is_secret_key(const char *key);
/* Copy src into dst (cap bytes), every secret value replaced by
 * "[redacted]". Returns dst. */
const char *ks_scrub(const struct ks_secrets *sec, const char *src, char *dst, size_t cap);

/* ---- topics (kafka_topics.c) ---- */

/* A topic name template: literal text with {prefix}, {schema}, {table}. */
int ks_template_check(const char *tmpl, char *why, size_t cap);
/* Render tmpl into out, replacing characters Kafka does not allow in topic
 * names (anything but [A-Za-z0-9._-]) by '_'. Returns the length, or -1
 * when the name is longer than KS_MAX_TOPIC_LEN or empty. */
int ks_template_render(const char *tmpl, const char *prefix, const char *schema, const char *table,
                       char *out, size_t cap);

struct ks_topic_entry;
/* (schema, table, is-message) -> rd_kafka_topic_t, created on first use. */
struct ks_topics {
    struct ks_topic_entry *slots;
    size_t cap, used;
};
void ks_topics_init(struct ks_topics *t);
/* Look the change's topic up, creating the handle the first time. On error
 * (a name Kafka cannot take) returns NULL with *name holding what it could
 * render. *name points into the cache. */
rd_kafka_topic_t *ks_topics_get(struct ks_topics *t, rd_kafka_t *rk, const struct ks_config *cfg,
                                const char *prefix, const struct ww_change *c, const char **name);
void ks_topics_free(struct ks_topics *t);

/* ---- the sink (kafka_sink.c, kafka_events.c) ---- */

/*
 * One accepted change, from write() until its ack. Every Kafka message of
 * the change (the record, and the tombstone after a delete) carries it as
 * its opaque; the change is acked when the last of them is reported.
 */
struct ks_ack {
    struct ks_ack *prev, *next; /* the outstanding list (or the free list) */
    ww_ack_fn ack;
    void *token;
    int remaining; /* messages not yet reported */
    int status;    /* 0, or the first failure as a negative errno */
};

/* A tombstone that librdkafka refused with QUEUE_FULL after its delete was
 * queued: it is produced before any later change is accepted. */
struct ks_pending {
    rd_kafka_topic_t *rkt;
    struct ks_ack *rec;
    size_t key_len;
    char lsn[24], txid[16];
    char key[]; /* key_len bytes */
};

struct kafka_sink {
    const struct ww_host *host; /* borrowed until done */
    struct ks_config cfg;
    rd_kafka_t *rk;
    rd_kafka_queue_t *mainq; /* the main queue: delivery reports, errors, logs */
    struct ks_topics topics;

    int wake_rd, wake_wr; /* librdkafka writes a byte to wake_wr when mainq
                             becomes non-empty; uv_poll watches wake_rd */
    uv_poll_t poll;
    uv_timer_t deferred; /* acks for changes that failed before librdkafka */
    int open_handles;    /* poll, timer: closed in close() */

    struct ks_ack outstanding; /* sentinel of the list of accepted changes */
    size_t noutstanding;
    struct ks_ack *free_recs; /* recycled records */
    size_t nfree;
    struct ks_ack failed; /* sentinel: to ack with their status on the timer */
    struct ks_pending *pending;

    bool want_resume; /* a write got -EAGAIN: call host->resume() on room */
    bool reported;    /* the first delivery failure was logged */
    int fatal;        /* sticky negative errno after host->fail() (fatal producer
                         error, authentication): every later write gets it */
    int dispatching;  /* inside event dispatch: close() waits for its end */
    uint64_t delivered, failures;

    int jobs; /* threadpool jobs running (probe) */
    bool closing, closed_rk;
    void (*done)(void *arg);
    void *done_arg;
    uv_work_t destroy_work;
};

/* kafka_events.c */
int ks_events_start(struct kafka_sink *s);
/* Serve everything on the main queue now (delivery reports, errors, logs). */
void ks_events_drain(struct kafka_sink *s);
struct ks_ack *ks_ack_new(struct kafka_sink *s, ww_ack_fn ack, void *token, int remaining);
/* Forget a record that never reached librdkafka (write returns -EAGAIN). */
void ks_ack_release(struct kafka_sink *s, struct ks_ack *rec);
/* One message of rec is done with status (0 or negative errno). */
void ks_ack_report(struct kafka_sink *s, struct ks_ack *rec, int status);
/* A change that failed before reaching librdkafka: ack it with status on
 * the next loop turn (never from inside write). */
void ks_ack_fail_later(struct kafka_sink *s, struct ks_ack *rec, int status);
/* Log the first delivery failure in full, later ones at debug level. */
void ks_report_failure(struct kafka_sink *s, const char *topic, rd_kafka_resp_err_t err,
                       const char *what);
/* librdkafka error -> negative errno for ack(). */
int ks_errno_of(rd_kafka_resp_err_t err);
/* After a delivery report: produce the pending tombstone, resume core. */
void ks_after_reports(struct kafka_sink *s);
/* Produce the pending tombstone; 0, -EAGAIN (still full) or other. */
int ks_produce_pending(struct kafka_sink *s);
/* Serve the main queue without the dispatch bookkeeping (close). */
void ks_serve_queue(struct kafka_sink *s);
/* Ack everything still outstanding with status (the failed list with its
 * own status), for close(). */
void ks_ack_all(struct kafka_sink *s, int status);
void ks_free_recs(struct kafka_sink *s);
/* Called by kafka_sink.c when close() can proceed. */
void ks_finish_close(struct kafka_sink *s);

#endif
