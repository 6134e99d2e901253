/*
 * The [kafka] section: walwire's own keys, and librdkafka properties.
 *
 *   topic          template of the topic of a table's changes
 *                  (default {prefix}.{schema}.{table})
 *   message_topic  template of the topic of logical decoding messages
 *   transaction_topic  of transaction BEGIN/END records ({prefix}.transaction)
 *                  (default {prefix}.message; also accepted as
 *                  message.topic, which is what WALWIRE_KAFKA_MESSAGE_TOPIC
 *                  becomes)
 *   tombstones     true|false: a null-value record after each delete
 *                  (default true)
 *   anything else  a librdkafka property, given to rd_kafka_conf_set as is
 *
 * Then walwire's defaults, each applied only when the user did not set the
 * property (or one of its aliases):
 *
 *   enable.idempotence=true  acks=all  message.timeout.ms=0
 *   partitioner=murmur2_random  client.id=walwire
 *   queue.buffering.max.kbytes / .messages from [source] max_inflight_bytes / 8
 *
 * Secrets: the value of a secret property (see ks_is_secret_key) is never
 * printed; it is remembered only to scrub librdkafka's own messages.
 * rd_kafka_conf_dump() would return them in clear, so it is never used.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kafka_sink.h"

#define DEFAULT_TOPIC         "{prefix}.{schema}.{table}"
#define DEFAULT_MESSAGE_TOPIC "{prefix}.message"
#define DEFAULT_TX_TOPIC "{prefix}.transaction"
/* librdkafka's range for queue.buffering.max.messages in 2.0.2. */
#define MAX_QUEUE_MESSAGES 10000000ull
/* The message count limit is the byte budget / PER_MESSAGE_BYTES: with
 * small rows, librdkafka's own cost per message (rd_kafka_msg_t, the
 * headers, the produce request) outweighs the payload, and the count is
 * what bounds the memory. */
#define PER_MESSAGE_BYTES 2048ull
#define CONFIG_DOC        "https://github.com/confluentinc/librdkafka/blob/v2.0.2/CONFIGURATION.md"

bool ks_is_secret_key(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") ||
           strcmp(key, "sasl.oauthbearer.config") == 0 || strcmp(key, "ssl.key.pem") == 0;
}

const char *ks_scrub(const struct ks_secrets *sec, const char *src, char *dst, size_t cap)
{
    static const char mark[] = "[redacted]";
    size_t o = 0;
    if (cap == 0)
        return dst;
    while (*src && o + 1 < cap) {
        size_t hit = 0;
        for (size_t i = 0; i < sec->count && !hit; i++) {
            size_t n = strlen(sec->values[i]);
            if (n > 0 && strncmp(src, sec->values[i], n) == 0)
                hit = n;
        }
        if (hit) {
            for (size_t k = 0; mark[k] && o + 1 < cap; k++)
                dst[o++] = mark[k];
            src += hit;
        } else {
            dst[o++] = *src++;
        }
    }
    dst[o] = '\0';
    return dst;
}

/* Keys walwire handles itself. */
static bool is_own_key(const char *key)
{
    return strcmp(key, "topic") == 0 || strcmp(key, "message_topic") == 0 ||
           strcmp(key, "message.topic") == 0 || strcmp(key, "transaction_topic") == 0 ||
           strcmp(key, "tombstones") == 0;
}

/* Properties walwire sets for its event loop integration; the user's value
 * would break delivery reports or logging. */
static bool is_reserved_key(const char *key)
{
    return strcmp(key, "log.queue") == 0 || strcmp(key, "enabled_events") == 0;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

struct loader {
    const struct ww_host *host;
    struct ks_config *cfg;
    int errors;
    /* the librdkafka properties the user set, to apply defaults to the rest */
    const char **set_keys;
    size_t nset;
};

static int remember_secret(struct ks_secrets *sec, const char *value)
{
    if (!*value)
        return 0;
    char **v = realloc(sec->values, (sec->count + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    sec->values = v;
    if (!(v[sec->count] = strdup(value)))
        return -ENOMEM;
    sec->count++;
    return 0;
}

static int set_own_key(struct loader *L, const char *key, const char *value)
{
    const struct ww_host *host = L->host;
    struct ks_config *cfg = L->cfg;
    char why[200];
    if (strcmp(key, "tombstones") == 0) {
        if (parse_bool(value, &cfg->tombstones) < 0) {
            L->errors++;
            host->config_error(host, key, "expected true or false, got \"%s\"", value);
        }
        return 0;
    }
    /* topic, message_topic */
    if (ks_template_check(value, why, sizeof why) < 0) {
        L->errors++;
        host->config_error(host, key, "%s", why);
        return 0;
    }
    char **slot = strcmp(key, "topic") == 0               ? &cfg->topic_tmpl
                  : strcmp(key, "transaction_topic") == 0 ? &cfg->tx_tmpl
                                                          : &cfg->message_tmpl;
    char *copy = strdup(value);
    if (!copy)
        return -ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

static int load_key(void *arg, const char *key, const char *value)
{
    struct loader *L = arg;
    const struct ww_host *host = L->host;
    if (is_own_key(key))
        return set_own_key(L, key, value);
    if (is_reserved_key(key)) {
        L->errors++;
        host->config_error(host, key,
                           "set by walwire itself (delivery reports and logs run on "
                           "its event loop); remove it");
        return 0;
    }
    bool secret = ks_is_secret_key(key);
    char errstr[512], clean[512];
    rd_kafka_conf_res_t r = rd_kafka_conf_set(L->cfg->conf, key, value, errstr, sizeof errstr);
    if (secret && remember_secret(&L->cfg->secrets, value) < 0)
        return -ENOMEM;
    if (r == RD_KAFKA_CONF_UNKNOWN) {
        L->errors++;
        host->config_error(host, key,
                           "not a librdkafka property (walwire's own keys are topic, "
                           "message_topic, transaction_topic and tombstones; librdkafka's are "
                           "listed in " CONFIG_DOC
                           ")");
        return 0;
    }
    if (r != RD_KAFKA_CONF_OK) {
        L->errors++;
        if (secret)
            host->config_error(host, key, "librdkafka refused the value (not shown: secret)");
        else
            host->config_error(host, key, "%s",
                               ks_scrub(&L->cfg->secrets, errstr, clean, sizeof clean));
        return 0;
    }
    const char **k = realloc(L->set_keys, (L->nset + 1) * sizeof *k);
    if (!k)
        return -ENOMEM;
    L->set_keys = k;
    k[L->nset++] = key; /* borrowed from the host until open() returns */
    if (strcmp(key, "bootstrap.servers") == 0 || strcmp(key, "metadata.broker.list") == 0) {
        free(L->cfg->bootstrap);
        if (!(L->cfg->bootstrap = strdup(value)))
            return -ENOMEM;
    }
    return 0;
}

/* Did the user set key, or one of its aliases (NULL-terminated)? */
static bool user_set(const struct loader *L, const char *const *names)
{
    for (size_t i = 0; i < L->nset; i++)
        for (const char *const *n = names; *n; n++)
            if (strcmp(L->set_keys[i], *n) == 0)
                return true;
    return false;
}

static int set_default(struct loader *L, const char *const *names, const char *value)
{
    if (user_set(L, names))
        return 0;
    char errstr[512];
    if (rd_kafka_conf_set(L->cfg->conf, names[0], value, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
        L->host->log(L->host, WW_LOG_ERROR, "cannot set %s=%s: %s", names[0], value, errstr);
        return -EINVAL;
    }
    return 0;
}

/* Queue limits: librdkafka holds at most max_inflight_bytes / 8 of payload
 * (never less than twice the largest message, so that one message always
 * fits) and that / PER_MESSAGE_BYTES messages (4,096 with the default
 * 64 MB). Measured with tests/bench on the mock cluster: with those limits,
 * one transaction of 1,000,000 small rows peaks at 18 MiB RSS, as one of
 * 10,000 rows does, and 10 KB rows (wide) go as fast as pg_recvlogical
 * reads them; a byte limit alone (8 MiB, 32,768 messages) let the small
 * rows reach 38 MiB, and a 2 MiB one held the 10 KB rows to 0.6x. */
static int set_queue_limits(struct loader *L)
{
    uint64_t budget = (L->host->max_inflight_bytes ? L->host->max_inflight_bytes : 64ull << 20) / 8;
    char buf[64];
    size_t n = sizeof buf;
    uint64_t max_msg = 1000000;
    if (rd_kafka_conf_get(L->cfg->conf, "message.max.bytes", buf, &n) == RD_KAFKA_CONF_OK)
        max_msg = strtoull(buf, NULL, 10);
    uint64_t kbytes = budget / 1024;
    if (kbytes < max_msg * 2 / 1024 + 1)
        kbytes = max_msg * 2 / 1024 + 1;
    uint64_t msgs = budget / PER_MESSAGE_BYTES;
    if (msgs < 1000)
        msgs = 1000;
    if (msgs > MAX_QUEUE_MESSAGES)
        msgs = MAX_QUEUE_MESSAGES;
    static const char *const kb[] = {"queue.buffering.max.kbytes", NULL};
    static const char *const cnt[] = {"queue.buffering.max.messages", NULL};
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)kbytes);
    int rc = set_default(L, kb, buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)msgs);
    return rc < 0 ? rc : set_default(L, cnt, buf);
}

static int apply_defaults(struct loader *L)
{
    static const char *const idem[] = {"enable.idempotence", NULL};
    static const char *const acks[] = {"acks", "request.required.acks", NULL};
    static const char *const timeout[] = {"message.timeout.ms", "delivery.timeout.ms", NULL};
    static const char *const part[] = {"partitioner", NULL};
    static const char *const client[] = {"client.id", NULL};
    int rc = 0;
    if (rc == 0)
        rc = set_default(L, idem, "true");
    if (rc == 0)
        rc = set_default(L, acks, "all");
    if (rc == 0)
        rc = set_default(L, timeout, "0");
    if (rc == 0)
        rc = set_default(L, part, "murmur2_random");
    if (rc == 0)
        rc = set_default(L, client, "walwire");
    if (rc == 0)
        rc = set_queue_limits(L);
    if (rc < 0)
        return rc;

    char buf[64];
    size_t n = sizeof buf;
    if (rd_kafka_conf_get(L->cfg->conf, "enable.idempotence", buf, &n) == RD_KAFKA_CONF_OK &&
        strcmp(buf, "false") == 0)
        L->host->log(L->host, WW_LOG_WARN,
                     "enable.idempotence=false: a retry after a broker failure can duplicate "
                     "changes or reorder them within a partition");
    n = sizeof buf;
    if (user_set(L, timeout) &&
        rd_kafka_conf_get(L->cfg->conf, "message.timeout.ms", buf, &n) == RD_KAFKA_CONF_OK &&
        strcmp(buf, "0") != 0)
        L->host->log(L->host, WW_LOG_INFO,
                     "message.timeout.ms=%s: a change not delivered in time stops walwire "
                     "(the slot does not move past it) instead of being retried",
                     buf);
    return 0;
}

void ks_config_free(struct ks_config *cfg)
{
    free(cfg->topic_tmpl);
    free(cfg->message_tmpl);
    free(cfg->tx_tmpl);
    free(cfg->bootstrap);
    if (cfg->conf)
        rd_kafka_conf_destroy(cfg->conf);
    for (size_t i = 0; i < cfg->secrets.count; i++) {
        /* Do not leave secrets in freed memory. */
        volatile char *p = cfg->secrets.values[i];
        while (*p)
            *p++ = '\0';
        free(cfg->secrets.values[i]);
    }
    free(cfg->secrets.values);
    memset(cfg, 0, sizeof *cfg);
}

int ks_config_load(const struct ww_host *host, struct ks_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tombstones = true;
    cfg->topic_tmpl = strdup(DEFAULT_TOPIC);
    cfg->message_tmpl = strdup(DEFAULT_MESSAGE_TOPIC);
    cfg->tx_tmpl = strdup(DEFAULT_TX_TOPIC);
    cfg->conf = rd_kafka_conf_new();
    if (!cfg->topic_tmpl || !cfg->message_tmpl || !cfg->tx_tmpl || !cfg->conf) {
        ks_config_free(cfg);
        return -ENOMEM;
    }
    struct loader L = {.host = host, .cfg = cfg};
    int rc = host->config_foreach(host, load_key, &L);
    if (rc == 0 && L.errors == 0 && (!cfg->bootstrap || !*cfg->bootstrap)) {
        L.errors++;
        host->config_error(host, "bootstrap.servers",
                           "required: the Kafka brokers to connect to, host:port[,host:port...] "
                           "(or WALWIRE_KAFKA_BOOTSTRAP_SERVERS)");
    }
    if (rc == 0 && L.errors == 0)
        rc = apply_defaults(&L);
    free(L.set_keys);
    if (rc == 0 && L.errors)
        rc = -EINVAL;
    if (rc < 0)
        ks_config_free(cfg);
    return rc;
}
