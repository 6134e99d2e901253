/*
 * Streams by name, and the commands the sink sends, formatted in RESP (the
 * Redis protocol) once, when a change is accepted:
 *
 *   *<argc>\r\n  then each argument as  $<length>\r\n<bytes>\r\n
 *
 * Arguments are binary-safe: keys and values are copied as they are.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "redis_sink.h"

/* ---- streams by name --------------------------------------------------- */

static uint32_t fnv1a(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static int grow(struct rs_streams *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    struct rs_stream **t = calloc(cap, sizeof *t);
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct rs_stream *st = m->slots[i];
        if (!st)
            continue;
        size_t j = st->hash & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = st;
    }
    free(m->slots);
    m->slots = t;
    m->cap = cap;
    return 0;
}

struct rs_stream *rs_stream_get(struct rs_streams *m, const char *name, size_t len)
{
    if ((m->count + 1) * 2 > m->cap && grow(m) < 0)
        return NULL;
    uint32_t h = fnv1a(name, len);
    size_t i = h & (m->cap - 1);
    for (struct rs_stream *st; (st = m->slots[i]); i = (i + 1) & (m->cap - 1))
        if (st->hash == h && st->len == len && memcmp(st->name, name, len) == 0)
            return st;
    struct rs_stream *st = calloc(1, sizeof *st);
    if (!st || !(st->name = malloc(len + 1))) {
        free(st);
        return NULL;
    }
    memcpy(st->name, name, len);
    st->name[len] = '\0';
    st->len = len;
    st->hash = h;
    m->slots[i] = st;
    m->count++;
    return st;
}

void rs_streams_free(struct rs_streams *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i]) {
            free(m->slots[i]->name);
            free(m->slots[i]);
        }
    }
    free(m->slots);
    m->slots = NULL;
    m->count = m->cap = 0;
}

/* ---- RESP ------------------------------------------------------------------ */

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* "$<n>\r\n<bytes>\r\n" */
static char *put_bulk(char *p, const char *data, size_t n)
{
    *p++ = '$';
    p = put_u64(p, n);
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, data, n);
    p += n;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* "*<argc>\r\n" */
static char *put_count(char *p, unsigned argc)
{
    *p++ = '*';
    p = put_u64(p, argc);
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* Room for one bulk string of n bytes. */
#define BULK_MAX(n) ((n) + 26)

struct rs_entry *rs_format_xadd(const struct rs_config *cfg, struct rs_stream *st,
                                const struct ww_change *c)
{
    /* The entry ID: "<commit_lsn>-<seq>", or "*" (Redis assigns one). */
    char id[48];
    size_t id_len;
    if (cfg->id_mode == RS_ID_LSN) {
        char *q = put_u64(id, c->commit_lsn);
        *q++ = '-';
        id_len = (size_t)(put_u64(q, c->seq) - id);
    } else {
        id[0] = '*';
        id_len = 1;
    }
    /* No key (a table without one): an empty "key" field. */
    const char *key = c->key ? c->key : "";
    size_t key_len = c->key ? c->key_len : 0;
    char op = c->op;
    size_t maxlen_len = strlen(cfg->maxlen);
    unsigned argc = 9 + (cfg->trim ? 2 + cfg->trim_approx : 0);

    size_t cap = 16 + BULK_MAX(4) + BULK_MAX(st->len) + BULK_MAX(6) + BULK_MAX(1) +
                 BULK_MAX(maxlen_len) + BULK_MAX(id_len) + BULK_MAX(2) + BULK_MAX(1) + BULK_MAX(3) +
                 BULK_MAX(key_len) + BULK_MAX(5) + BULK_MAX(c->value_len);
    struct rs_entry *e = malloc(sizeof *e + cap);
    if (!e)
        return NULL;
    char *p = put_count(e->cmd, argc);
    p = put_bulk(p, "XADD", 4);
    p = put_bulk(p, st->name, st->len);
    if (cfg->trim) {
        p = put_bulk(p, "MAXLEN", 6);
        if (cfg->trim_approx)
            p = put_bulk(p, "~", 1);
        p = put_bulk(p, cfg->maxlen, maxlen_len);
    }
    p = put_bulk(p, id, id_len);
    p = put_bulk(p, "op", 2);
    p = put_bulk(p, &op, 1);
    p = put_bulk(p, "key", 3);
    p = put_bulk(p, key, key_len);
    p = put_bulk(p, "value", 5);
    p = put_bulk(p, c->value, c->value_len);
    e->len = (size_t)(p - e->cmd);
    *p = '\0'; /* hiredis scans formatted commands with strchr */
    e->next = NULL;
    e->stream = st;
    e->id_ms = c->commit_lsn;
    e->id_seq = c->seq;
    e->status = 0;
    return e;
}

int rs_format_xinfo(struct rs_buf *b, const struct rs_stream *st)
{
    b->len = 0;
    if (rs_buf_reserve(b, 16 + BULK_MAX(5) + BULK_MAX(6) + BULK_MAX(st->len)) < 0)
        return -ENOMEM;
    char *p = put_count(b->data, 3);
    p = put_bulk(p, "XINFO", 5);
    p = put_bulk(p, "STREAM", 6);
    p = put_bulk(p, st->name, st->len);
    b->len = (size_t)(p - b->data);
    *p = '\0'; /* hiredis scans formatted commands with strchr */
    return 0;
}
