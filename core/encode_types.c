/*
 * Type mapping: PostgreSQL text output -> JSON, by type. See
 * encode_types.h for the contract and docs/types.md for the table.
 *
 * This file decides what a value is and dispatches:
 *   1. resolve(): the column's type OID -> how to write it. Builtin types
 *      are a switch on the OID; any other type (enums, domains,
 *      composites, ranges over custom types, extension types such as
 *      hstore and citext, arrays of those) costs one lookup in the type
 *      map of e->opts.types (ww_relcache_type), followed through a
 *      domain to its base type.
 *   2. encode_scalar(): one value, by its resolved type; the converters
 *      of number, time and special types are in encode_number.c,
 *      encode_time.c and encode_special.c (encode_conv.h).
 *   3. enc_array(): an array literal, element by element, any depth.
 * Integers, booleans, bytea and everything written as a string are here.
 */
#include "encode_types.h"

#include <string.h>

#include "encode_conv.h"
#include "json.h"
#include "relcache.h"

/* Arrays nest at most this deep (PostgreSQL's MAXDIM). */
#define MAX_ARRAY_DEPTH 6

/* Type OIDs below this are fixed in PostgreSQL's catalog (pg_type.dat;
 * FirstGenbkiObjectId). Those from here to FirstNormalObjectId (16384) are
 * assigned by initdb (catalog row types, information_schema's domains):
 * they are looked up like user types. */
#define FIRST_GENBKI_OID 10000

/* How to write a value that is not a builtin type's: resolve() returns
 * these besides builtin OIDs. They are not OIDs PostgreSQL hands out. */
#define KIND_HSTORE 0xFFFFFF01u

/* Domains over domains are flattened by the catalog query (base_oid); a
 * domain over an extension type needs a second lookup, an array of it a
 * third. Past this many lookups (a type map that loops), the value is
 * written as text. */
#define MAX_RESOLVE_STEPS 4

/* ---- small helpers ------------------------------------------------------ */

/* A value that did not read as its type: keep it, as a string, and count. */
static void put_bad(struct ww_encoder *e, struct ww_buf *out, const char *s, size_t len)
{
    ww_json_string(out, s, len);
    e->bad_values++;
}

/* int2/int4/int8/oid text: '-'? digits, no leading zero (a JSON number). */
static bool is_json_int(const char *s, size_t len)
{
    size_t i = (len > 0 && s[0] == '-') ? 1 : 0;
    if (i == len || (s[i] == '0' && len - i > 1))
        return false;
    for (; i < len; i++)
        if (!ww_conv_is_digit(s[i]))
            return false;
    return true;
}

/* bytea, bytea_output=hex: "\x0a0b" -> "Cgs=" (base64, as Debezium's
 * binary.handling.mode=bytes writes it). */
static bool enc_bytea(struct ww_buf *out, const char *s, size_t len)
{
    if (len < 2 || s[0] != '\\' || s[1] != 'x')
        return false;
    ww_buf_putc(out, '"');
    if (!ww_base64_hex(out, s + 2, len - 2))
        return false;
    ww_buf_putc(out, '"');
    return true;
}

/* ---- what a type is ----------------------------------------------------- */

/* The element type of a builtin array type, or 0 for a type that is not
 * one. (int2vector and oidvector print "1 2 3", not an array literal:
 * they are written as text.) */
static uint32_t builtin_array_elem(uint32_t oid)
{
    /* clang-format off */
    switch (oid) {
    case 1000: return WW_OID_BOOL;
    case 1001: return WW_OID_BYTEA;
    case 1002: return WW_OID_CHAR;
    case 1003: return WW_OID_NAME;
    case 1005: return WW_OID_INT2;
    case 1007: return WW_OID_INT4;
    case 1009: return WW_OID_TEXT;
    case 1014: return WW_OID_BPCHAR;
    case 1015: return WW_OID_VARCHAR;
    case 1016: return WW_OID_INT8;
    case 1017: return WW_OID_POINT;
    case 1020: return WW_OID_BOX;
    case 1021: return WW_OID_FLOAT4;
    case 1022: return WW_OID_FLOAT8;
    case 1028: return WW_OID_OID;
    case 1115: return WW_OID_TIMESTAMP;
    case 1182: return WW_OID_DATE;
    case 1183: return WW_OID_TIME;
    case 1185: return WW_OID_TIMESTAMPTZ;
    case 1187: return WW_OID_INTERVAL;
    case 1231: return WW_OID_NUMERIC;
    case 1270: return WW_OID_TIMETZ;
    case 1561: return WW_OID_BIT;
    case 1563: return WW_OID_VARBIT;
    case 199:  return WW_OID_JSON;
    case 2951: return WW_OID_UUID;
    case 3807: return WW_OID_JSONB;
    case 791:  return WW_OID_MONEY;
    /* Arrays of types written as their text: the element is text. */
    case 143:  /* xml[] */
    case 271:  /* xid8[] */
    case 629:  /* line[] */
    case 651:  /* cidr[] */
    case 719:  /* circle[] */
    case 775:  /* macaddr8[] */
    case 1006: /* int2vector[] */
    case 1008: /* regproc[] */
    case 1010: /* tid[] */
    case 1011: /* xid[] */
    case 1012: /* cid[] */
    case 1013: /* oidvector[] */
    case 1018: /* lseg[] */
    case 1019: /* path[] */
    case 1027: /* polygon[] */
    case 1034: /* aclitem[] */
    case 1040: /* macaddr[] */
    case 1041: /* inet[] */
    case 1263: /* cstring[] */
    case 2201: /* refcursor[] */
    case 2207: case 2208: case 2209: case 2210: case 2211: /* reg*[] */
    case 2949: /* txid_snapshot[] */
    case 3221: /* pg_lsn[] */
    case 3643: /* tsvector[] */
    case 3644: /* gtsvector[] */
    case 3645: /* tsquery[] */
    case 3735: case 3770: /* regconfig[], regdictionary[] */
    case 3905: case 3907: case 3909: case 3911: case 3913: case 3927: /* ranges */
    case 4073: /* jsonpath[] */
    case 4090: case 4097: case 4192: /* regnamespace[], regrole[], regcollation[] */
    case 5039: /* pg_snapshot[] */
    case 6150: case 6151: case 6152: case 6153: case 6155: case 6157: /* multiranges */
        return WW_OID_TEXT;
    default:
        return 0;
    }
    /* clang-format on */
}

/* The part of "schema.name" after the schema. */
static const char *type_name_only(const char *qualified)
{
    const char *dot = qualified ? strrchr(qualified, '.') : NULL;
    return dot ? dot + 1 : (qualified ? qualified : "");
}

/*
 * How to write a value of type oid: returns the type to hand to
 * encode_scalar() (a builtin OID or a KIND_*), or, for an array type,
 * sets *elem to its element's and returns 0. Domains are written as their
 * base type, enums, composites, ranges and unknown types as text.
 */
static uint32_t resolve_from(const struct ww_encoder *e, uint32_t oid, uint32_t *elem, int step)
{
    *elem = 0;
    for (; step < MAX_RESOLVE_STEPS; step++) {
        if (oid < FIRST_GENBKI_OID) {
            uint32_t a = builtin_array_elem(oid);
            if (a) {
                *elem = a;
                return 0;
            }
            return oid; /* encode_scalar() writes the ones it does not know as text */
        }
        const struct ww_type_info *t = e->opts.types ? ww_relcache_type(e->opts.types, oid) : NULL;
        if (!t)
            return WW_OID_TEXT;
        if (t->typtype == 'd' && t->base_oid && t->base_oid != oid) {
            oid = t->base_oid;
            continue;
        }
        if (t->typcategory == 'A' && t->elem_oid && t->elem_oid != oid) {
            uint32_t inner;
            uint32_t k = resolve_from(e, t->elem_oid, &inner, step + 1);
            /* Elements that are arrays themselves (an array of a domain
             * over an array type) are written as their text. */
            *elem = inner ? WW_OID_TEXT : k;
            return 0;
        }
        if (strcmp(type_name_only(t->name), "hstore") == 0)
            return KIND_HSTORE;
        /* enums, composites, ranges, multiranges, citext, other
         * extension types: their text */
        return WW_OID_TEXT;
    }
    return WW_OID_TEXT;
}

static uint32_t resolve(const struct ww_encoder *e, uint32_t oid, uint32_t *elem)
{
    return resolve_from(e, oid, elem, 0);
}

/* ---- one value ---------------------------------------------------------- */

/* Write the value s[0..len) of the resolved type kind (see resolve()). */
static void encode_scalar(struct ww_encoder *e, struct ww_buf *out, uint32_t kind, int32_t typmod,
                          const char *s, size_t len)
{
    bool iso = e->opts.temporal_iso8601;
    size_t mark = out->len;
    bool ok;
    switch (kind) {
    case WW_OID_INT2:
    case WW_OID_INT4:
    case WW_OID_INT8:
    case WW_OID_OID:
        ok = is_json_int(s, len);
        if (ok)
            ww_buf_append(out, s, len);
        break;
    case WW_OID_FLOAT4:
    case WW_OID_FLOAT8:
        ok = ww_conv_float(out, kind == WW_OID_FLOAT4, s, len);
        break;
    case WW_OID_NUMERIC:
        ok = ww_conv_numeric(out, s, len);
        break;
    case WW_OID_MONEY:
        ok = ww_conv_money(out, s, len);
        break;
    case WW_OID_BOOL:
        ok = len == 1 && (s[0] == 't' || s[0] == 'f');
        if (ok && s[0] == 't')
            ww_buf_puts(out, "true");
        else if (ok)
            ww_buf_puts(out, "false");
        break;
    case WW_OID_BYTEA:
        ok = enc_bytea(out, s, len);
        break;
    case WW_OID_DATE:
        ok = ww_conv_date(out, iso, s, len);
        break;
    case WW_OID_TIME:
        ok = ww_conv_time(out, iso, typmod, s, len);
        break;
    case WW_OID_TIMETZ:
        ok = ww_conv_timetz(out, s, len);
        break;
    case WW_OID_TIMESTAMP:
        ok = ww_conv_timestamp(out, iso, typmod, s, len);
        break;
    case WW_OID_TIMESTAMPTZ:
        ok = ww_conv_timestamptz(out, typmod, s, len);
        break;
    case WW_OID_INTERVAL:
        ok = ww_conv_interval(out, iso, s, len);
        break;
    case WW_OID_BIT:
    case WW_OID_VARBIT:
        ok = ww_conv_bits(out, typmod, s, len);
        break;
    case WW_OID_POINT:
        ok = ww_conv_point(out, s, len);
        break;
    case KIND_HSTORE:
        ok = ww_conv_hstore(out, s, len);
        break;
    default: /* text types, json/jsonb, uuid, xml, and every other type */
        ww_json_string(out, s, len);
        return;
    }
    if (!ok) {
        out->len = mark;
        put_bad(e, out, s, len);
    }
}

/* ---- arrays ------------------------------------------------------------- */

/* Parsing state of one array literal. */
struct arr {
    struct ww_encoder *e;
    struct ww_buf *out;
    uint32_t elem; /* resolved element type */
    int32_t typmod;
    char delim; /* between elements: ',' (';' for box) */
    const char *p, *end;
};

static bool arr_eat(struct arr *a, char ch)
{
    if (a->p < a->end && *a->p == ch) {
        a->p++;
        return true;
    }
    return false;
}

/* One element of array_out's output: "quoted" (with \" and \\ escapes),
 * unquoted, or NULL (unquoted; a quoted "NULL" is the string). */
static bool arr_element(struct arr *a)
{
    if (arr_eat(a, '"')) {
        struct ww_buf *t = &a->e->scratch;
        ww_buf_reset(t);
        ww_buf_reserve(t, 1); /* data is never NULL, even for "" */
        for (;;) {
            const char *run = a->p;
            while (a->p < a->end && *a->p != '"' && *a->p != '\\')
                a->p++;
            ww_buf_append(t, run, (size_t)(a->p - run));
            if (a->p == a->end)
                return false;
            if (*a->p++ == '"')
                break;
            if (a->p == a->end) /* a backslash: take the next byte as is */
                return false;
            ww_buf_putc(t, *a->p++);
        }
        encode_scalar(a->e, a->out, a->elem, a->typmod, t->data, t->len);
        return true;
    }
    const char *start = a->p;
    while (a->p < a->end && *a->p != a->delim && *a->p != '}') {
        if (*a->p == '"' || *a->p == '{' || *a->p == '\\')
            return false;
        a->p++;
    }
    size_t n = (size_t)(a->p - start);
    if (n == 0)
        return false;
    if (n == 4 && (start[0] | 0x20) == 'n' && (start[1] | 0x20) == 'u' &&
        (start[2] | 0x20) == 'l' && (start[3] | 0x20) == 'l')
        ww_buf_puts(a->out, "null");
    else
        encode_scalar(a->e, a->out, a->elem, a->typmod, start, n);
    return true;
}

/* "{...}" at the cursor -> "[...]"; nested levels become nested arrays. */
static bool arr_level(struct arr *a, int depth)
{
    if (depth > MAX_ARRAY_DEPTH || !arr_eat(a, '{'))
        return false;
    ww_buf_putc(a->out, '[');
    if (!arr_eat(a, '}')) {
        for (;;) {
            bool ok = (a->p < a->end && *a->p == '{') ? arr_level(a, depth + 1) : arr_element(a);
            if (!ok)
                return false;
            if (arr_eat(a, '}'))
                break;
            if (!arr_eat(a, a->delim))
                return false;
            ww_buf_putc(a->out, ',');
        }
    }
    ww_buf_putc(a->out, ']');
    return true;
}

/* An array literal -> a JSON array of mapped elements; a malformed literal
 * is written whole as one string (and counted once). */
static void enc_array(struct ww_encoder *e, struct ww_buf *out, uint32_t elem, int32_t typmod,
                      const char *s, size_t len)
{
    size_t mark = out->len;
    uint64_t bad = e->bad_values;
    struct arr a = {e, out, elem, typmod, elem == WW_OID_BOX ? ';' : ',', s, s + len};
    /* Lower bounds other than 1 come first: "[0:1][1:2]={{...}}". */
    if (len > 0 && s[0] == '[') {
        while (a.p < a.end && *a.p && strchr("[]:-0123456789", *a.p))
            a.p++;
        if (!arr_eat(&a, '='))
            a.p = s; /* fails below */
    }
    if (arr_level(&a, 1) && a.p == a.end)
        return;
    out->len = mark;
    e->bad_values = bad;
    put_bad(e, out, s, len);
}

void ww_encode_value(struct ww_encoder *e, struct ww_buf *out, uint32_t type_oid, int32_t typmod,
                     const char *s, size_t len)
{
    uint32_t elem;
    uint32_t kind = resolve(e, type_oid, &elem);
    if (elem)
        enc_array(e, out, elem, typmod, s, len);
    else
        encode_scalar(e, out, kind, typmod, s, len);
}
