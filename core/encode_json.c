/*
 * JSON encoder: the Debezium envelope around row changes, truncates and
 * logical decoding messages (contract in encode_json.h, layout in
 * docs/types.md). Values go through ww_encode_value() (encode_types.c).
 *
 * Everything is appended to buffers the encoder keeps between events, so
 * an event costs no allocation once they have grown.
 */
#include "encode_json.h"

#include "hex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode_types.h"
#include "hex.h"
#include "json.h"
#include "ww_build.h"

/* What Debezium writes for a value the event cannot carry (an unchanged
 * TOASTed column): its default unavailable.value.placeholder. */
static const char unavailable[] = "\"__debezium_unavailable_value\"";

/* ---- base64 ------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Append the 4 characters for the n (1..3) bytes in v (big-endian, 24 bits). */
static inline void put_quantum(char *p, uint32_t v, int n)
{
    p[0] = b64[v >> 18 & 63];
    p[1] = b64[v >> 12 & 63];
    p[2] = n > 1 ? b64[v >> 6 & 63] : '=';
    p[3] = n > 2 ? b64[v & 63] : '=';
}

void ww_base64(struct ww_buf *b, const unsigned char *data, size_t len)
{
    if (len == 0)
        return;
    ww_buf_reserve(b, (len + 2) / 3 * 4);
    char *p = b->data + b->len;
    size_t i = 0;
    for (; i + 3 <= len; i += 3, p += 4)
        put_quantum(p, (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2], 3);
    if (i < len) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        put_quantum(p, v, (int)(len - i));
        p += 4;
    }
    b->len = (size_t)(p - b->data);
}

bool ww_base64_hex(struct ww_buf *b, const char *hex, size_t len)
{
    if (len % 2)
        return false;
    if (len == 0)
        return true;
    size_t nbytes = len / 2;
    ww_buf_reserve(b, (nbytes + 2) / 3 * 4);
    char *p = b->data + b->len;
    uint32_t v = 0;
    int n = 0;
    for (size_t i = 0; i < len; i += 2) {
        int hi = ww_hex_value(hex[i]), lo = ww_hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return false; /* nothing appended: b->len is unchanged */
        v = v << 8 | (uint32_t)(hi << 4 | lo);
        if (++n == 3) {
            put_quantum(p, v, 3);
            p += 4;
            v = 0;
            n = 0;
        }
    }
    if (n) {
        put_quantum(p, v << (8 * (3 - n)), n);
        p += 4;
    }
    b->len = (size_t)(p - b->data);
    return true;
}

/* ---- lifetime ----------------------------------------------------------- */

void ww_encoder_init(struct ww_encoder *e, const struct ww_encoder_options *opts)
{
    memset(e, 0, sizeof *e);
    const char *prefix = opts && opts->topic_prefix ? opts->topic_prefix : "";
    const char *db = opts && opts->db_name ? opts->db_name : "";
    char *prefix_copy = strdup(prefix), *db_copy = strdup(db);
    if (!prefix_copy || !db_copy) {
        fprintf(stderr, "walwire: out of memory creating the encoder\n");
        abort();
    }
    e->opts.topic_prefix = prefix_copy;
    e->opts.db_name = db_copy;
    e->opts.temporal_iso8601 = opts && opts->temporal_iso8601;
    e->opts.types = opts ? opts->types : NULL;

    ww_buf_puts(&e->source_head, "{\"version\":\"" WW_VERSION "\",\"connector\":\"walwire\","
                                 "\"name\":");
    ww_json_string(&e->source_head, prefix, strlen(prefix));
    ww_buf_putc(&e->source_head, ',');
    ww_buf_puts(&e->source_db, "\"db\":");
    ww_json_string(&e->source_db, db, strlen(db));
    ww_buf_putc(&e->source_db, ',');
    e->key_null = true;
}

void ww_encoder_free(struct ww_encoder *e)
{
    free((char *)e->opts.topic_prefix);
    free((char *)e->opts.db_name);
    e->opts.topic_prefix = e->opts.db_name = NULL;
    ww_buf_free(&e->source_head);
    ww_buf_free(&e->source_db);
    ww_buf_free(&e->key);
    ww_buf_free(&e->value);
    ww_buf_free(&e->scratch);
    ww_buf_free(&e->source_cache);
    ww_buf_free(&e->source_cache_st);
}

/* ---- pieces of the envelope --------------------------------------------- */

/*
 * The source block up to and including "lsn":N, without the closing brace
 * (callers add their own fields first):
 *   "source":{"version":..,"connector":"walwire","name":..,"ts_ms":..,
 *   "snapshot":"false","db":..,"schema":..,"table":..,"txId":..,"lsn":..
 * schema_table is the escaped "schema":"..","table":".." pair.
 */
static void put_source(struct ww_encoder *e, const char *schema_table, size_t schema_table_len,
                       const struct ww_event_source *src, bool with_xid)
{
    const char *snap = src->snapshot ? src->snapshot : "false";
    uint32_t xid = with_xid ? src->xid : 0;
    size_t snap_len = strlen(snap);
    bool hit = e->source_cache_valid && e->source_cache_commit_us == src->commit_time_us &&
               e->source_cache_xid == xid && snap_len < sizeof e->source_cache_snapshot &&
               strcmp(e->source_cache_snapshot, snap) == 0 &&
               e->source_cache_st.len == schema_table_len &&
               memcmp(e->source_cache_st.data, schema_table, schema_table_len) == 0;
    if (!hit) {
        struct ww_buf *b = &e->source_cache;
        ww_buf_reset(b);
        ww_buf_puts(b, "\"source\":");
        ww_buf_append(b, e->source_head.data, e->source_head.len);
        ww_buf_puts(b, "\"ts_ms\":");
        /* commit time in ms, rounded down like Instant.toEpochMilli() */
        int64_t us = src->commit_time_us;
        ww_buf_put_i64(b, us / 1000 - (us % 1000 < 0));
        ww_buf_puts(b, ",\"snapshot\":");
        ww_json_string(b, snap, snap_len);
        ww_buf_putc(b, ',');
        ww_buf_append(b, e->source_db.data, e->source_db.len);
        ww_buf_append(b, schema_table, schema_table_len);
        ww_buf_puts(b, ",\"txId\":");
        if (xid != 0)
            ww_buf_put_u64(b, xid);
        else
            ww_buf_puts(b, "null");
        ww_buf_puts(b, ",\"lsn\":");
        /* Remember what it was built from (long snapshot markers: never
         * cached, they do not fit). */
        ww_buf_reset(&e->source_cache_st);
        ww_buf_append(&e->source_cache_st, schema_table, schema_table_len);
        e->source_cache_commit_us = src->commit_time_us;
        e->source_cache_xid = xid;
        e->source_cache_valid = snap_len < sizeof e->source_cache_snapshot;
        if (e->source_cache_valid)
            memcpy(e->source_cache_snapshot, snap, snap_len + 1);
    }
    ww_buf_append(&e->value, e->source_cache.data, e->source_cache.len);
    ww_buf_put_u64(&e->value, src->lsn);
}

/* ,"op":"x","ts_ms":N,"transaction":null} closes a row or truncate event. */
static void put_envelope_tail(struct ww_encoder *e, char op, const struct ww_event_source *src)
{
    struct ww_buf *b = &e->value;
    char opfield[] = ",\"op\":\"x\",\"ts_ms\":";
    opfield[7] = op;
    ww_buf_append(b, opfield, sizeof opfield - 1);
    if (src->now_ms != e->now_cached_ms || e->now_len == 0) {
        struct ww_buf digits = {e->now_digits, 0, sizeof e->now_digits};
        ww_buf_put_i64(&digits, src->now_ms); /* at most 20 bytes: fits */
        e->now_len = (uint8_t)digits.len;
        e->now_cached_ms = src->now_ms;
    }
    ww_buf_append(b, e->now_digits, e->now_len);
    if (!src->tx) {
        ww_buf_puts(b, ",\"transaction\":null}");
        return;
    }
    ww_buf_puts(b, ",\"transaction\":{\"id\":");
    ww_json_string(b, src->tx->id, strlen(src->tx->id));
    ww_buf_puts(b, ",\"total_order\":");
    ww_buf_put_u64(b, src->tx->total_order);
    ww_buf_puts(b, ",\"data_collection_order\":");
    ww_buf_put_u64(b, src->tx->data_collection_order);
    ww_buf_puts(b, "}}");
}

/* True when column i of after is an unchanged TOAST value that before
 * cannot supply: it is written as the placeholder and listed. */
static bool is_unavailable(const struct ww_pgo_tuple *before, const struct ww_pgo_tuple *after,
                           uint16_t i)
{
    return after->values[i].kind == WW_PGO_UNCHANGED &&
           !(before && before->values[i].kind == WW_PGO_TEXT);
}

/* The JSON of column i of t (after unchanged TOAST values are filled from
 * before when it has them). */
static void put_column_value(struct ww_encoder *e, struct ww_buf *out, const struct ww_relcol *col,
                             const struct ww_pgo_value *v, const struct ww_pgo_value *fallback)
{
    if (v->kind == WW_PGO_UNCHANGED && fallback && fallback->kind == WW_PGO_TEXT)
        v = fallback;
    switch (v->kind) {
    case WW_PGO_TEXT:
        ww_encode_value(e, out, col->type_oid, col->typmod, v->data, v->len);
        break;
    case WW_PGO_NULL:
        ww_buf_puts(out, "null");
        break;
    case WW_PGO_UNCHANGED:
        ww_buf_append(out, unavailable, sizeof unavailable - 1);
        break;
    default: /* binary: never requested; keep the bytes, as base64 */
        ww_buf_putc(out, '"');
        ww_base64(out, (const unsigned char *)v->data, v->len);
        ww_buf_putc(out, '"');
        e->bad_values++;
        break;
    }
}

/* {"col":value,...} for every column of t, or null. */
static void put_row(struct ww_encoder *e, const struct ww_relation *rel,
                    const struct ww_pgo_tuple *t, const struct ww_pgo_tuple *fallback)
{
    struct ww_buf *b = &e->value;
    if (!t) {
        ww_buf_puts(b, "null");
        return;
    }
    ww_buf_putc(b, '{');
    for (uint16_t i = 0; i < rel->ncols; i++) {
        const struct ww_relcol *col = &rel->cols[i];
        if (i)
            ww_buf_putc(b, ',');
        ww_buf_append(b, col->json_name, col->json_name_len);
        put_column_value(e, b, col, &t->values[i], fallback ? &fallback->values[i] : NULL);
    }
    ww_buf_putc(b, '}');
}

/* The key {"id":1} from the key columns of t, or key_null. */
static void put_key(struct ww_encoder *e, const struct ww_relation *rel,
                    const struct ww_pgo_tuple *t, const struct ww_pgo_tuple *fallback)
{
    ww_buf_reset(&e->key);
    e->key_null = rel->nkeys == 0 || !t;
    if (e->key_null)
        return;
    ww_buf_putc(&e->key, '{');
    for (uint16_t k = 0; k < rel->nkeys; k++) {
        uint16_t i = rel->key_cols[k];
        const struct ww_relcol *col = &rel->cols[i];
        if (k)
            ww_buf_putc(&e->key, ',');
        ww_buf_append(&e->key, col->json_name, col->json_name_len);
        put_column_value(e, &e->key, col, &t->values[i], fallback ? &fallback->values[i] : NULL);
    }
    ww_buf_putc(&e->key, '}');
}

static int bad_tuple(struct ww_encoder *e, const struct ww_relation *rel, const char *which,
                     const struct ww_pgo_tuple *t)
{
    snprintf(e->errmsg, sizeof e->errmsg, "%s tuple of %s.%s has %u columns, the relation has %u",
             which, rel->schema, rel->table, (unsigned)t->ncols, (unsigned)rel->ncols);
    ww_buf_reset(&e->value);
    ww_buf_reset(&e->key);
    e->key_null = true;
    return -EBADMSG;
}

/* ---- events ------------------------------------------------------------- */

int ww_encode_row(struct ww_encoder *e, char op, const struct ww_relation *rel,
                  const struct ww_pgo_tuple *before, const struct ww_pgo_tuple *after,
                  const struct ww_event_source *src)
{
    if (op != 'c' && op != 'u' && op != 'd' && op != 'r') {
        snprintf(e->errmsg, sizeof e->errmsg, "unknown row operation '%c'", op);
        return -EINVAL;
    }
    if (before && before->ncols != rel->ncols)
        return bad_tuple(e, rel, "old", before);
    if (after && after->ncols != rel->ncols)
        return bad_tuple(e, rel, "new", after);

    if (op == 'd')
        put_key(e, rel, before, NULL);
    else
        put_key(e, rel, after, before);

    struct ww_buf *b = &e->value;
    ww_buf_reset(b);
    ww_buf_puts(b, "{\"before\":");
    put_row(e, rel, before, NULL);
    ww_buf_puts(b, ",\"after\":");
    put_row(e, rel, after, before);
    ww_buf_putc(b, ',');
    put_source(e, rel->json_schema_table, rel->json_schema_table_len, src, true);

    /* "unchanged_columns":["bio",...] when some value could not be sent */
    bool listed = false;
    for (uint16_t i = 0; after && i < rel->ncols; i++) {
        if (!is_unavailable(before, after, i))
            continue;
        if (listed)
            ww_buf_putc(b, ',');
        else
            ww_buf_puts(b, ",\"unchanged_columns\":[");
        /* json_name is "\"name\":"; the quoted name is all but the ':' */
        ww_buf_append(b, rel->cols[i].json_name, rel->cols[i].json_name_len - 1);
        listed = true;
    }
    if (listed)
        ww_buf_putc(b, ']');
    ww_buf_putc(b, '}');
    put_envelope_tail(e, op, src);
    return 0;
}

int ww_encode_truncate(struct ww_encoder *e, const struct ww_relation *rel, uint8_t options,
                       const struct ww_event_source *src)
{
    ww_buf_reset(&e->key);
    e->key_null = true;
    struct ww_buf *b = &e->value;
    ww_buf_reset(b);
    ww_buf_puts(b, "{\"before\":null,\"after\":null,");
    put_source(e, rel->json_schema_table, rel->json_schema_table_len, src, true);
    ww_buf_puts(b, ",\"truncate_cascade\":");
    if (options & WW_PGO_TRUNCATE_CASCADE)
        ww_buf_puts(b, "true");
    else
        ww_buf_puts(b, "false");
    ww_buf_puts(b, ",\"truncate_restart_identity\":");
    if (options & WW_PGO_TRUNCATE_RESTART_IDENTITY)
        ww_buf_puts(b, "true}");
    else
        ww_buf_puts(b, "false}");
    put_envelope_tail(e, 't', src);
    return 0;
}

int ww_encode_message(struct ww_encoder *e, bool transactional, const char *prefix,
                      const char *content, size_t content_len, const struct ww_event_source *src)
{
    static const char no_table[] = "\"schema\":\"\",\"table\":\"\"";
    size_t prefix_len = strlen(prefix);

    ww_buf_reset(&e->key);
    ww_buf_puts(&e->key, "{\"prefix\":");
    ww_json_string(&e->key, prefix, prefix_len);
    ww_buf_putc(&e->key, '}');
    e->key_null = false;

    /* Debezium's layout: op, ts_ms, source, message. A non-transactional
     * message belongs to no transaction: txId null. */
    struct ww_buf *b = &e->value;
    ww_buf_reset(b);
    ww_buf_puts(b, "{\"op\":\"m\",\"ts_ms\":");
    ww_buf_put_i64(b, src->now_ms);
    ww_buf_putc(b, ',');
    put_source(e, no_table, sizeof no_table - 1, src, transactional);
    ww_buf_puts(b, "},\"message\":{\"prefix\":");
    ww_json_string(b, prefix, prefix_len);
    ww_buf_puts(b, ",\"content\":\"");
    ww_base64(b, (const unsigned char *)content, content_len);
    ww_buf_puts(b, "\"}}");
    return 0;
}
