#include "pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"

/* A broken contract: print what and abort, so libFuzzer keeps the input. */
#define FZ_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: check failed: %s: ", #cond);                                    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Abort with the text and the offset when s[0..len) is not a JSON object:
 * libFuzzer then reports the input as a crash. what names the output
 * ("value", "key"). */
static void require_json_object(const char *what, const char *s, size_t len)
{
    size_t where = 0;
    if (json_check_object(s, len, &where))
        return;
    fprintf(stderr, "fuzz: the encoder wrote an invalid JSON %s (%zu bytes), bad at byte %zu:\n",
            what, len, where);
    fwrite(s, 1, len, stderr);
    fputc('\n', stderr);
    abort();
}

void fz_add_types(struct ww_relcache *rels)
{
    static const struct ww_type_info types[] = {
        {16384, 'e', 'E', 0, 0, "public.mood"},
        {16385, 'd', 'N', 23, 0, "public.posint"}, /* domain over int4 */
        {16386, 'b', 'U', 0, 0, "public.hstore"},
        {16387, 'b', 'A', 0, 16386, "public._hstore"},  /* hstore[] */
        {16388, 'd', 'U', 16386, 0, "public.tags"},     /* domain over hstore */
        {16389, 'd', 'N', 16389, 0, "public.selfdom"},  /* its own base: a loop */
        {16390, 'b', 'A', 0, 16387, "public.__hstore"}, /* array of an array type */
        {16391, 'd', 'A', 1000, 0, "public.flags"},     /* domain over bool[] */
        {16392, 'b', 'A', 0, 16385, "public._posint"},  /* array of a domain */
        {16393, 'd', 'N', 16394, 0, "public.ping"},     /* ping -> pong -> ping ... */
        {16394, 'd', 'N', 16393, 0, "public.pong"},
        {16395, 'b', 'A', 0, 16395, "public.selfarr"}, /* its own element type */
        {16396, 'c', 'C', 0, 0, "public.pair"},        /* composite */
        {16397, 'b', 'S', 0, 0, "public.citext"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        ww_relcache_set_type(rels, &types[i]);
}

void fz_pipeline_init(struct fz_pipeline *p)
{
    memset(p, 0, sizeof *p);
    ww_pgo_decoder_init(&p->dec);
    p->rels = ww_relcache_new();
    fz_add_types(p->rels);
    for (int i = 0; i < 2; i++) {
        struct ww_encoder_options o = {
            .topic_prefix = "fz",
            .db_name = "fuzz\"db",
            .temporal_iso8601 = i == 1,
            .types = p->rels,
        };
        ww_encoder_init(&p->enc[i], &o);
    }
}

void fz_pipeline_free(struct fz_pipeline *p)
{
    for (int i = 0; i < 2; i++)
        ww_encoder_free(&p->enc[i]);
    ww_relcache_free(p->rels);
    ww_pgo_decoder_free(&p->dec);
}

/* Both outputs of an encoder after a successful encode. */
static void check_event(const struct ww_encoder *e)
{
    require_json_object("value", e->value.data, e->value.len);
    if (!e->key_null)
        require_json_object("key", e->key.data, e->key.len);
}

void fz_encode_row(struct fz_pipeline *p, char op, const struct ww_relation *rel,
                   const struct ww_pgo_tuple *before, const struct ww_pgo_tuple *after,
                   const struct ww_event_source *src)
{
    bool fits = (!before || before->ncols == rel->ncols) && (!after || after->ncols == rel->ncols);
    for (int i = 0; i < 2; i++) {
        struct ww_encoder *e = &p->enc[i];
        int rc = ww_encode_row(e, op, rel, before, after, src);
        if (!fits) {
            FZ_CHECK(rc == -EBADMSG && e->errmsg[0], "rc %d for a tuple of the wrong width", rc);
            continue;
        }
        FZ_CHECK(rc == 0, "rc %d: %s", rc, e->errmsg);
        check_event(e);
        p->events++;
    }
}

/* Every value of a decoded tuple lies inside the message and has a known
 * kind; NULL and unchanged values carry no data. */
static void check_tuple(const struct ww_pgo_tuple *t, const char *buf, size_t len)
{
    FZ_CHECK(t->ncols == 0 || t->values, "%u columns without values", t->ncols);
    for (uint16_t i = 0; i < t->ncols; i++) {
        const struct ww_pgo_value *v = &t->values[i];
        switch (v->kind) {
        case WW_PGO_NULL:
        case WW_PGO_UNCHANGED:
            FZ_CHECK(v->len == 0 && v->data == NULL, "column %u: data for kind %c", i, v->kind);
            break;
        case WW_PGO_TEXT:
        case WW_PGO_BINARY:
            FZ_CHECK(v->data >= buf && v->len <= len && v->data + v->len <= buf + len,
                     "column %u: value outside the message", i);
            break;
        default:
            FZ_CHECK(0, "column %u: kind 0x%02x", i, (unsigned)(unsigned char)v->kind);
        }
    }
}

/* A Relation message: into the cache, and read back. Under REPLICA
 * IDENTITY FULL core sets the primary key as the event key
 * (ww_relcache_set_key); do that with the first column for odd relids. */
static void on_relation(struct fz_pipeline *p, const struct ww_pgo_msg *m)
{
    ww_relcache_update(p->rels, m);
    const struct ww_relation *rel = ww_relcache_get(p->rels, m->relation.relid);
    FZ_CHECK(rel && rel->ncols == m->relation.ncols, "relation %u not cached", m->relation.relid);
    FZ_CHECK(rel->nkeys <= rel->ncols, "%u keys of %u columns", rel->nkeys, rel->ncols);
    if (m->relation.replident == WW_REPLIDENT_FULL && rel->ncols > 0 && (m->relation.relid & 1)) {
        const char *names[] = {m->relation.cols[0].name};
        FZ_CHECK(ww_relcache_set_key(p->rels, m->relation.relid, names, 1) == 0, "set_key");
        rel = ww_relcache_get(p->rels, m->relation.relid);
        FZ_CHECK(rel->nkeys >= 1, "the key column set was not taken");
    }
    for (uint16_t k = 0; k < rel->nkeys; k++)
        FZ_CHECK(rel->key_cols[k] < rel->ncols, "key column %u of %u", rel->key_cols[k],
                 rel->ncols);
}

static void on_change(struct fz_pipeline *p, const struct ww_pgo_msg *m,
                      const struct ww_event_source *src)
{
    const struct ww_relation *rel = ww_relcache_get(p->rels, m->change.relid);
    if (!rel)
        return; /* the bridge stops with a protocol error here */
    const struct ww_pgo_tuple *before = m->change.old_kind ? &m->change.old_tuple : NULL;
    const struct ww_pgo_tuple *after = m->kind == WW_PGO_DELETE ? NULL : &m->change.new_tuple;
    char op = m->kind == WW_PGO_INSERT ? 'c' : m->kind == WW_PGO_UPDATE ? 'u' : 'd';
    if (op == 'u' && before)
        fz_encode_row(p, 'd', rel, before, NULL, src); /* the key changed */
    fz_encode_row(p, op, rel, before, after, src);
}

static void on_truncate(struct fz_pipeline *p, const struct ww_pgo_msg *m,
                        const struct ww_event_source *src)
{
    for (uint32_t i = 0; i < m->truncate.nrelids; i++) {
        const struct ww_relation *rel = ww_relcache_get(p->rels, m->truncate.relids[i]);
        if (!rel)
            continue;
        for (int k = 0; k < 2; k++) {
            int rc = ww_encode_truncate(&p->enc[k], rel, m->truncate.options, src);
            FZ_CHECK(rc == 0, "truncate: rc %d", rc);
            FZ_CHECK(p->enc[k].key_null, "a truncate has a key");
            check_event(&p->enc[k]);
            p->events++;
        }
    }
}

static void on_message(struct fz_pipeline *p, const struct ww_pgo_msg *m,
                       struct ww_event_source *src)
{
    bool transactional = m->message.flags & WW_PGO_MESSAGE_TRANSACTIONAL;
    src->lsn = m->message.lsn;
    if (!transactional) {
        src->xid = 0;
        src->commit_time_us = 0;
    }
    for (int k = 0; k < 2; k++) {
        int rc = ww_encode_message(&p->enc[k], transactional, m->message.prefix, m->message.content,
                                   m->message.content_len, src);
        FZ_CHECK(rc == 0, "message: rc %d", rc);
        FZ_CHECK(!p->enc[k].key_null, "a message without its prefix key");
        check_event(&p->enc[k]);
        p->events++;
    }
}

void fz_pipeline_message(struct fz_pipeline *p, const char *buf, size_t len, uint64_t lsn)
{
    struct ww_pgo_msg m;
    int rc = ww_pgo_decode(&p->dec, buf, len, &m);
    if (rc < 0) {
        FZ_CHECK(rc == -EBADMSG, "decode returned %d", rc);
        FZ_CHECK(p->dec.errmsg[0] != '\0', "an error without a message");
        FZ_CHECK(memchr(p->dec.errmsg, '\0', sizeof p->dec.errmsg), "errmsg not terminated");
        return;
    }
    FZ_CHECK(len > 0 && m.kind == buf[0], "kind %c for type byte 0x%02x", m.kind,
             len ? (unsigned)(unsigned char)buf[0] : 0u);

    /* The source block of the events, as the bridge fills it. */
    struct ww_event_source src = {
        .lsn = lsn,
        .xid = p->xid,
        .commit_time_us = p->commit_time_us,
        .snapshot = "false",
        .now_ms = 1700000000123,
    };
    switch (m.kind) {
    case WW_PGO_BEGIN:
        p->in_tx = true;
        p->xid = m.begin.xid;
        /* The bridge adds the epoch offset; wrap like two's complement
         * rather than overflow on a hostile timestamp. */
        p->commit_time_us = (int64_t)((uint64_t)m.begin.commit_time + WW_PG_EPOCH_OFFSET_US);
        break;
    case WW_PGO_COMMIT:
        p->in_tx = false;
        break;
    case WW_PGO_RELATION:
        on_relation(p, &m);
        break;
    case WW_PGO_TYPE:
        ww_relcache_update_type(p->rels, &m);
        FZ_CHECK(ww_relcache_type_name(p->rels, m.type.oid), "type %u not remembered", m.type.oid);
        break;
    case WW_PGO_INSERT:
    case WW_PGO_UPDATE:
    case WW_PGO_DELETE:
        FZ_CHECK(m.change.old_kind || m.change.old_tuple.ncols == 0, "old tuple without a marker");
        FZ_CHECK(m.kind != WW_PGO_DELETE || m.change.new_tuple.ncols == 0, "delete with a new row");
        FZ_CHECK(m.kind != WW_PGO_INSERT || m.change.old_kind == 0, "insert with an old row");
        check_tuple(&m.change.old_tuple, buf, len);
        check_tuple(&m.change.new_tuple, buf, len);
        on_change(p, &m, &src);
        break;
    case WW_PGO_TRUNCATE:
        FZ_CHECK(m.truncate.nrelids == 0 || m.truncate.relids, "relids missing");
        on_truncate(p, &m, &src);
        break;
    case WW_PGO_MESSAGE:
        FZ_CHECK(m.message.content_len <= len &&
                     (m.message.content_len == 0 ||
                      (m.message.content >= buf &&
                       m.message.content + m.message.content_len <= buf + len)),
                 "message content outside the message");
        on_message(p, &m, &src);
        break;
    case WW_PGO_ORIGIN:
        break;
    default:
        FZ_CHECK(0, "decoded an unknown kind 0x%02x", (unsigned)(unsigned char)m.kind);
    }
}

char *fz_next_message(const uint8_t **data, size_t *size, size_t *len)
{
    if (*size == 0)
        return NULL;
    size_t n;
    if (*size < 2) {
        n = *size; /* a lone byte: a message of its own */
    } else {
        n = (size_t)(*data)[0] << 8 | (*data)[1];
        *data += 2;
        *size -= 2;
        if (n > *size)
            n = *size;
    }
    char *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    if (n)
        memcpy(copy, *data, n);
    *data += n;
    *size -= n;
    *len = n;
    return copy;
}
