/*
 * pgoutput decoder, protocol version 1. The message formats are those of
 * PostgreSQL 15's "Logical Replication Message Formats" documentation and
 * the read functions of src/backend/replication/logical/proto.c. Every
 * integer is in network byte order; every String is NUL-terminated.
 *
 * Each field is read through a struct reader that checks the bytes left
 * before it reads, so a message that is short, long or malformed ends in
 * -EBADMSG with a one-line description, never in a read past the input.
 */
#include "pgoutput.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A cursor over one message. `what` names the message for error texts;
 * while a list of columns is read, `cols` names it ("new tuple", "") and
 * col/ncols say which column, so an error can point at it without any
 * formatting on the way when nothing is wrong. */
struct reader {
    const unsigned char *p;
    size_t left;
    const char *what;
    const char *cols; /* NULL outside a column list */
    unsigned col, ncols;
    struct ww_pgo_decoder *d;
};

/* Print "<message>: [<list> column i of n: ]<details>" into d->errmsg;
 * returns -EBADMSG. */
__attribute__((format(printf, 2, 3))) static int fail(struct reader *r, const char *fmt, ...)
{
    int n;
    if (r->cols)
        n = snprintf(r->d->errmsg, sizeof r->d->errmsg, "%s: %s%scolumn %u of %u: ", r->what,
                     r->cols, r->cols[0] ? " " : "", r->col + 1, r->ncols);
    else
        n = snprintf(r->d->errmsg, sizeof r->d->errmsg, "%s: ", r->what);
    if (n < 0 || (size_t)n >= sizeof r->d->errmsg)
        return -EBADMSG;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->d->errmsg + n, sizeof r->d->errmsg - (size_t)n, fmt, ap);
    va_end(ap);
    return -EBADMSG;
}

/* Fail unless n more bytes are there for `field`. */
static int need(struct reader *r, size_t n, const char *field)
{
    if (r->left < n)
        return fail(r, "%s: truncated: needs %zu bytes, %zu left", field, n, r->left);
    return 0;
}

static int get_u8(struct reader *r, const char *field, uint8_t *out)
{
    int rc = need(r, 1, field);
    if (rc)
        return rc;
    *out = r->p[0];
    r->p += 1;
    r->left -= 1;
    return 0;
}

static int get_u16(struct reader *r, const char *field, uint16_t *out)
{
    int rc = need(r, 2, field);
    if (rc)
        return rc;
    *out = (uint16_t)((unsigned)r->p[0] << 8 | r->p[1]);
    r->p += 2;
    r->left -= 2;
    return 0;
}

static int get_u32(struct reader *r, const char *field, uint32_t *out)
{
    int rc = need(r, 4, field);
    if (rc)
        return rc;
    *out = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    r->left -= 4;
    return 0;
}

static int get_u64(struct reader *r, const char *field, uint64_t *out)
{
    int rc = need(r, 8, field);
    if (rc)
        return rc;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | r->p[i];
    *out = v;
    r->p += 8;
    r->left -= 8;
    return 0;
}

static int get_i64(struct reader *r, const char *field, int64_t *out)
{
    uint64_t v;
    int rc = get_u64(r, field, &v);
    if (rc == 0)
        *out = (int64_t)v; /* two's complement, as the server wrote it */
    return rc;
}

/* A count or length sent as a signed Int16/Int32 (the server's int): a
 * negative value is malformed. */
static int get_count16(struct reader *r, const char *field, uint16_t *out)
{
    int rc = get_u16(r, field, out);
    if (rc == 0 && *out > INT16_MAX)
        return fail(r, "%s: negative count %d", field, (int)*out - 65536);
    return rc;
}

static int get_count32(struct reader *r, const char *field, uint32_t *out)
{
    int rc = get_u32(r, field, out);
    if (rc == 0 && *out > INT32_MAX)
        return fail(r, "%s: negative length %lld", field, (long long)*out - 4294967296LL);
    return rc;
}

/* String: bytes up to a NUL, which must lie within the message. The result
 * borrows the input buffer. */
static int get_string(struct reader *r, const char *field, const char **out)
{
    const unsigned char *nul = memchr(r->p, '\0', r->left);
    if (!nul)
        return fail(r, "%s: string has no NUL terminator within the %zu bytes left", field,
                    r->left);
    *out = (const char *)r->p;
    r->left -= (size_t)(nul - r->p) + 1;
    r->p = nul + 1;
    return 0;
}

/* Grow arr to hold at least `need` elements of `elem` bytes, doubling;
 * returns the (possibly moved) array. */
static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return arr;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(arr, n * elem);
    if (!p) {
        fprintf(stderr, "walwire: out of memory growing the pgoutput decoder to %zu items\n", n);
        abort();
    }
    *cap = n;
    return p;
}

/*
 * TupleData, stored at d->values[base ..):
 *   Int16   number of columns
 *   then per column one of
 *     Byte1 'n'                     NULL
 *     Byte1 'u'                     unchanged TOASTed value (not sent)
 *     Byte1 't', Int32 len, bytes   text form
 *     Byte1 'b', Int32 len, bytes   binary form
 * `old` says which tuple of the message this is, for error texts.
 */
static int read_tuple(struct reader *r, bool old, size_t base, uint16_t *ncols_out)
{
    struct ww_pgo_decoder *d = r->d;
    const char *which = old ? "old tuple" : "new tuple";
    uint16_t ncols;
    int rc = get_count16(r, old ? "old tuple column count" : "new tuple column count",
                         &ncols); /* Int16: number of columns */
    if (rc)
        return rc;
    /* Each column takes at least its kind byte: reject an impossible count
     * before growing the array for it. */
    if (ncols > r->left)
        return fail(r, "%s: %u columns cannot fit in the %zu bytes left", which, ncols, r->left);
    d->values = grow(d->values, &d->values_cap, base + ncols, sizeof *d->values);

    r->cols = which;
    r->ncols = ncols;
    for (uint16_t i = 0; i < ncols; i++) {
        struct ww_pgo_value *v = &d->values[base + i];
        uint8_t kind;
        r->col = i;
        if ((rc = get_u8(r, "value kind", &kind))) /* Byte1: value kind */
            return rc;
        v->kind = (char)kind;
        v->len = 0;
        v->data = NULL;
        switch (kind) {
        case WW_PGO_NULL:
        case WW_PGO_UNCHANGED:
            break; /* no data follows */
        case WW_PGO_TEXT:
        case WW_PGO_BINARY:
            if ((rc = get_count32(r, "value length", &v->len))) /* Int32: value length */
                return rc;
            if (v->len > r->left)
                return fail(r, "value length %u exceeds the %zu bytes left", v->len, r->left);
            v->data = (const char *)r->p; /* Byte(len): the value */
            r->p += v->len;
            r->left -= v->len;
            break;
        default:
            return fail(r, "unknown value kind 0x%02x", kind);
        }
    }
    r->cols = NULL;
    *ncols_out = ncols;
    return 0;
}

/* Begin: Int64 final LSN of the transaction (its commit record),
 *        Int64 commit timestamp, Int32 xid. */
static int read_begin(struct reader *r, struct ww_pgo_msg *m)
{
    int rc;
    if ((rc = get_u64(r, "final_lsn", &m->begin.final_lsn)) ||     /* Int64 final LSN */
        (rc = get_i64(r, "commit_time", &m->begin.commit_time)) || /* Int64 commit time */
        (rc = get_u32(r, "xid", &m->begin.xid)))                   /* Int32 xid */
        return rc;
    return 0;
}

/* Commit: Int8 flags (unused, 0), Int64 commit LSN, Int64 end LSN of the
 *         transaction, Int64 commit timestamp. */
static int read_commit(struct reader *r, struct ww_pgo_msg *m)
{
    int rc;
    if ((rc = get_u8(r, "flags", &m->commit.flags)) ||            /* Int8 flags */
        (rc = get_u64(r, "commit_lsn", &m->commit.commit_lsn)) || /* Int64 commit LSN */
        (rc = get_u64(r, "end_lsn", &m->commit.end_lsn)) ||       /* Int64 end LSN */
        (rc = get_i64(r, "commit_time", &m->commit.commit_time))) /* Int64 commit time */
        return rc;
    return 0;
}

/* Origin: Int64 commit LSN on the origin server, String origin name. */
static int read_origin(struct reader *r, struct ww_pgo_msg *m)
{
    int rc;
    if ((rc = get_u64(r, "commit_lsn", &m->origin.commit_lsn)) || /* Int64 commit LSN */
        (rc = get_string(r, "name", &m->origin.name)))            /* String origin name */
        return rc;
    return 0;
}

/*
 * Relation: Int32 relation id, String namespace ("" for pg_catalog),
 *   String relation name, Int8 replica identity (relreplident),
 *   Int16 number of columns, then per column:
 *     Int8 flags (1: part of the key), String name, Int32 type oid,
 *     Int32 type modifier (atttypmod).
 */
static int read_relation(struct reader *r, struct ww_pgo_msg *m)
{
    struct ww_pgo_decoder *d = r->d;
    uint8_t replident;
    uint16_t ncols;
    int rc;
    if ((rc = get_u32(r, "relid", &m->relation.relid)) ||              /* Int32 relid */
        (rc = get_string(r, "namespace", &m->relation.nspname)) ||     /* String namespace */
        (rc = get_string(r, "relation name", &m->relation.relname)) || /* String name */
        (rc = get_u8(r, "replica identity", &replident)))              /* Int8 relreplident */
        return rc;
    if (replident != WW_REPLIDENT_DEFAULT && replident != WW_REPLIDENT_NOTHING &&
        replident != WW_REPLIDENT_FULL && replident != WW_REPLIDENT_INDEX)
        return fail(r, "replica identity: unknown value 0x%02x", replident);
    m->relation.replident = (char)replident;
    if ((rc = get_count16(r, "column count", &ncols))) /* Int16 number of columns */
        return rc;
    /* A column takes at least 10 bytes (flags, "" name, oid, typmod). */
    if ((size_t)ncols * 10 > r->left)
        return fail(r, "%u columns cannot fit in the %zu bytes left", ncols, r->left);
    d->cols = grow(d->cols, &d->cols_cap, ncols, sizeof *d->cols);

    r->cols = "";
    r->ncols = ncols;
    for (uint16_t i = 0; i < ncols; i++) {
        struct ww_pgo_column *c = &d->cols[i];
        uint8_t flags;
        uint32_t typmod;
        r->col = i;
        if ((rc = get_u8(r, "flags", &flags)) ||           /* Int8: flags */
            (rc = get_string(r, "name", &c->name)) ||      /* String: column name */
            (rc = get_u32(r, "type oid", &c->type_oid)) || /* Int32: type oid */
            (rc = get_u32(r, "typmod", &typmod)))          /* Int32: atttypmod */
            return rc;
        c->is_identity = (flags & 1) != 0;
        c->typmod = (int32_t)typmod;
    }
    r->cols = NULL;
    m->relation.ncols = ncols;
    m->relation.cols = d->cols;
    return 0;
}

/* Type: Int32 type oid, String namespace ("" for pg_catalog), String name. */
static int read_type(struct reader *r, struct ww_pgo_msg *m)
{
    int rc;
    if ((rc = get_u32(r, "oid", &m->type.oid)) ||              /* Int32 type oid */
        (rc = get_string(r, "namespace", &m->type.nspname)) || /* String namespace */
        (rc = get_string(r, "type name", &m->type.typname)))   /* String type name */
        return rc;
    return 0;
}

/*
 * Insert: Int32 relid, Byte1 'N', TupleData (new row).
 * Update: Int32 relid, optionally Byte1 'K' (key columns of the old row) or
 *         'O' (whole old row, REPLICA IDENTITY FULL) + TupleData,
 *         then Byte1 'N' + TupleData (new row).
 * Delete: Int32 relid, Byte1 'K' or 'O', TupleData (old row).
 * The old tuple goes to d->values[0, n), the new one right after it.
 */
static int read_change(struct reader *r, struct ww_pgo_msg *m)
{
    uint8_t marker;
    uint16_t nold = 0, nnew = 0;
    int rc;
    if ((rc = get_u32(r, "relid", &m->change.relid)) || /* Int32 relid */
        (rc = get_u8(r, "tuple marker", &marker)))      /* Byte1 'K', 'O' or 'N' */
        return rc;

    if (m->kind == WW_PGO_DELETE) {
        /* Delete: the old row is mandatory. */
        if (marker != 'K' && marker != 'O')
            return fail(r, "tuple marker: expected 'K' or 'O', got 0x%02x", marker);
        m->change.old_kind = (char)marker;
        if ((rc = read_tuple(r, true, 0, &nold)))
            return rc;
    } else {
        if (m->kind == WW_PGO_UPDATE && (marker == 'K' || marker == 'O')) {
            /* Update: the optional old row, then the 'N' marker. */
            m->change.old_kind = (char)marker;
            if ((rc = read_tuple(r, true, 0, &nold)) ||
                (rc = get_u8(r, "new tuple marker", &marker)))
                return rc;
            if (marker != 'N')
                return fail(r, "new tuple marker: expected 'N', got 0x%02x", marker);
        } else if (marker != 'N') {
            return fail(r, "tuple marker: expected %s, got 0x%02x",
                        m->kind == WW_PGO_UPDATE ? "'K', 'O' or 'N'" : "'N'", marker);
        }
        if ((rc = read_tuple(r, false, nold, &nnew)))
            return rc;
    }

    /* Pointers are taken only now: reading the new tuple may have moved
     * the array. */
    m->change.old_tuple.ncols = nold;
    m->change.old_tuple.values = nold ? r->d->values : NULL;
    m->change.new_tuple.ncols = nnew;
    m->change.new_tuple.values = nnew ? r->d->values + nold : NULL;
    return 0;
}

/* Truncate: Int32 number of relations, Int8 options (1 CASCADE,
 *           2 RESTART IDENTITY), then that many Int32 relids. */
static int read_truncate(struct reader *r, struct ww_pgo_msg *m)
{
    struct ww_pgo_decoder *d = r->d;
    uint32_t n;
    int rc;
    if ((rc = get_count32(r, "relation count", &n)) ||     /* Int32 number of relids */
        (rc = get_u8(r, "options", &m->truncate.options))) /* Int8 option bits */
        return rc;
    if (n > r->left / 4)
        return fail(r, "%u relids cannot fit in the %zu bytes left", n, r->left);
    d->relids = grow(d->relids, &d->relids_cap, n, sizeof *d->relids);
    for (uint32_t i = 0; i < n; i++)
        if ((rc = get_u32(r, "relid", &d->relids[i]))) /* Int32 relid */
            return rc;
    m->truncate.nrelids = n;
    m->truncate.relids = n ? d->relids : NULL;
    return 0;
}

/* Message (protocol 1, so no xid): Int8 flags (1: transactional),
 *   Int64 LSN of the message, String prefix, Int32 content length, bytes. */
static int read_message(struct reader *r, struct ww_pgo_msg *m)
{
    int rc;
    if ((rc = get_u8(r, "flags", &m->message.flags)) ||                   /* Int8 flags */
        (rc = get_u64(r, "lsn", &m->message.lsn)) ||                      /* Int64 LSN */
        (rc = get_string(r, "prefix", &m->message.prefix)) ||             /* String prefix */
        (rc = get_count32(r, "content length", &m->message.content_len))) /* Int32 length */
        return rc;
    if (m->message.content_len > r->left)
        return fail(r, "content length %u exceeds the %zu bytes left", m->message.content_len,
                    r->left);
    m->message.content = (const char *)r->p; /* Byte(n) content */
    r->p += m->message.content_len;
    r->left -= m->message.content_len;
    return 0;
}

/* The message types of protocol version 1, their names and readers. */
static const struct msg_type {
    uint8_t type;
    const char *name;
    int (*read)(struct reader *r, struct ww_pgo_msg *m);
} msg_types[] = {
    {WW_PGO_BEGIN, "Begin", read_begin},
    {WW_PGO_COMMIT, "Commit", read_commit},
    {WW_PGO_ORIGIN, "Origin", read_origin},
    {WW_PGO_RELATION, "Relation", read_relation},
    {WW_PGO_TYPE, "Type", read_type},
    {WW_PGO_INSERT, "Insert", read_change},
    {WW_PGO_UPDATE, "Update", read_change},
    {WW_PGO_DELETE, "Delete", read_change},
    {WW_PGO_TRUNCATE, "Truncate", read_truncate},
    {WW_PGO_MESSAGE, "Message", read_message},
};

void ww_pgo_decoder_init(struct ww_pgo_decoder *d)
{
    memset(d, 0, sizeof *d);
}

void ww_pgo_decoder_free(struct ww_pgo_decoder *d)
{
    free(d->cols);
    free(d->values);
    free(d->relids);
    memset(d, 0, sizeof *d);
}

int ww_pgo_decode(struct ww_pgo_decoder *d, const char *buf, size_t len, struct ww_pgo_msg *out)
{
    struct reader r = {.p = (const unsigned char *)buf, .left = len, .what = "pgoutput", .d = d};
    d->errmsg[0] = '\0';
    memset(out, 0, sizeof *out);
    if (len == 0)
        return fail(&r, "empty message");

    uint8_t type = r.p[0]; /* Byte1: message type */
    r.p++;
    r.left--;
    out->kind = (char)type;

    const struct msg_type *t = NULL;
    for (size_t i = 0; i < sizeof msg_types / sizeof msg_types[0]; i++)
        if (msg_types[i].type == type)
            t = &msg_types[i];
    if (!t) {
        if (type >= 0x20 && type < 0x7f)
            return fail(&r, "unknown message type '%c' (0x%02x)", type, type);
        return fail(&r, "unknown message type 0x%02x", type);
    }
    r.what = t->name;

    int rc = t->read(&r, out);
    if (rc)
        return rc;
    if (r.left)
        return fail(&r, "%zu bytes of trailing garbage after the message", r.left);
    return 0;
}
