/*
 * Topic names and handles.
 *
 * A template is literal text with placeholders {prefix} ([sink]
 * topic_prefix), {schema} and {table}; for logical decoding messages
 * {schema} is empty and {table} is the message prefix. The rendered name
 * keeps Kafka's legal characters [A-Za-z0-9._-] and replaces any other byte
 * by '_' (as Debezium does), so "public.Order Items" becomes
 * "walwire.public.Order_Items".
 *
 * The cache maps (kind, schema, table) to a rd_kafka_topic_t, created on
 * first use and kept until the sink closes: write() renders nothing and
 * allocates nothing for a table it has seen before.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_sink.h"

static const char *const placeholders[] = {"{prefix}", "{schema}", "{table}"};

/* The placeholder at p (0, 1, 2), or -1. */
static int placeholder_at(const char *p)
{
    for (int i = 0; i < 3; i++)
        if (strncmp(p, placeholders[i], strlen(placeholders[i])) == 0)
            return i;
    return -1;
}

int ks_template_check(const char *tmpl, char *why, size_t cap)
{
    if (!*tmpl) {
        snprintf(why, cap,
                 "empty; expected a topic name template such as "
                 "{prefix}.{schema}.{table}");
        return -EINVAL;
    }
    for (const char *p = tmpl; *p; p++) {
        if (*p == '{') {
            int k = placeholder_at(p);
            if (k < 0) {
                snprintf(why, cap,
                         "unknown placeholder at \"%.20s\"; the placeholders are "
                         "{prefix}, {schema} and {table}",
                         p);
                return -EINVAL;
            }
            p += strlen(placeholders[k]) - 1;
        } else if (*p == '}') {
            snprintf(why, cap,
                     "unmatched '}'; the placeholders are {prefix}, {schema} "
                     "and {table}");
            return -EINVAL;
        }
    }
    return 0;
}

static bool legal(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int ks_template_render(const char *tmpl, const char *prefix, const char *schema, const char *table,
                       char *out, size_t cap)
{
    const char *vals[3] = {prefix, schema, table};
    size_t o = 0;
    bool overflow = false;
    for (const char *p = tmpl; *p; p++) {
        int k = *p == '{' ? placeholder_at(p) : -1;
        const char *src = k >= 0 ? vals[k] : p;
        size_t n = k >= 0 ? strlen(src) : 1;
        for (size_t i = 0; i < n; i++) {
            if (o + 1 >= cap || o >= KS_MAX_TOPIC_LEN) {
                overflow = true;
                break;
            }
            out[o++] = legal(src[i]) ? src[i] : '_';
        }
        if (k >= 0)
            p += strlen(placeholders[k]) - 1;
    }
    out[o < cap ? o : cap - 1] = '\0';
    if (overflow || o == 0)
        return -1;
    return (int)o;
}

/* ---- the cache -------------------------------------------------------- */

struct ks_topic_entry {
    uint64_t hash;
    char *key; /* kind byte, schema, '\0', table, '\0' */
    size_t key_len;
    char *name;            /* the rendered topic name */
    rd_kafka_topic_t *rkt; /* NULL: the name is not usable */
};

void ks_topics_init(struct ks_topics *t)
{
    memset(t, 0, sizeof *t);
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int grow(struct ks_topics *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 32;
    struct ks_topic_entry *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].key)
            continue;
        size_t j = t->slots[i].hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return 0;
}

rd_kafka_topic_t *ks_topics_get(struct ks_topics *t, rd_kafka_t *rk, const struct ks_config *cfg,
                                const char *prefix, const struct ww_change *c, const char **name)
{
    char kind = c->op == WW_OP_MESSAGE                               ? 'm'
                : c->op == WW_OP_TX_BEGIN || c->op == WW_OP_TX_END ? 'x'
                                                                   : 't';
    size_t ls = strlen(c->schema), lt = strlen(c->table);
    size_t key_len = 1 + ls + 1 + lt + 1;
    char stack[256];
    char *key = key_len <= sizeof stack ? stack : malloc(key_len);
    if (!key) {
        *name = c->table;
        return NULL;
    }
    key[0] = kind;
    memcpy(key + 1, c->schema, ls + 1);
    memcpy(key + 2 + ls, c->table, lt + 1);
    uint64_t h = fnv1a(key, key_len);

    if (t->cap) {
        for (size_t j = h & (t->cap - 1); t->slots[j].key; j = (j + 1) & (t->cap - 1)) {
            struct ks_topic_entry *e = &t->slots[j];
            if (e->hash == h && e->key_len == key_len && memcmp(e->key, key, key_len) == 0) {
                if (key != stack)
                    free(key);
                *name = e->name;
                return e->rkt;
            }
        }
    }

    /* First change of this table: render its name, create the handle. */
    char rendered[KS_MAX_TOPIC_LEN + 2];
    const char *tmpl = kind == 'm' ? cfg->message_tmpl : kind == 'x' ? cfg->tx_tmpl : cfg->topic_tmpl;
    int len = ks_template_render(tmpl, prefix, c->schema, c->table, rendered, sizeof rendered);
    struct ks_topic_entry e = {.hash = h, .key_len = key_len};
    e.key = malloc(key_len);
    e.name = strdup(rendered);
    if (!e.key || !e.name || ((t->used + 1) * 2 > t->cap && grow(t) < 0)) {
        free(e.key);
        free(e.name);
        if (key != stack)
            free(key);
        *name = c->table;
        return NULL;
    }
    memcpy(e.key, key, key_len);
    if (key != stack)
        free(key);
    if (len > 0)
        e.rkt = rd_kafka_topic_new(rk, e.name, NULL);
    size_t j = h & (t->cap - 1);
    while (t->slots[j].key)
        j = (j + 1) & (t->cap - 1);
    t->slots[j] = e;
    t->used++;
    *name = t->slots[j].name;
    return e.rkt;
}

void ks_topics_free(struct ks_topics *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].key)
            continue;
        if (t->slots[i].rkt)
            rd_kafka_topic_destroy(t->slots[i].rkt);
        free(t->slots[i].key);
        free(t->slots[i].name);
    }
    free(t->slots);
    memset(t, 0, sizeof *t);
}
