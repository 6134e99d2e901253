/*
 * Types that Debezium writes in a shape of their own rather than as a
 * number or their text: bit strings (booleans or little-endian bytes),
 * point (a geometry struct with WKB) and hstore (a JSON object in a
 * string). Contract in encode_conv.h; the table is in docs/types.md.
 */
#include "encode_conv.h"

#include <stdlib.h>
#include <string.h>

#include "encode_json.h"
#include "json.h"

/* ---- bit, varbit -------------------------------------------------------- */

/*
 * bit(1) and varbit(1) are booleans. Any other length is
 * io.debezium.data.Bits: Debezium reads the text into a java.util.BitSet
 * with the last character as bit 0 and writes BitSet.toByteArray(), i.e.
 * little-endian bytes (byte 0 holds bits 0..7, bit 0 in its lowest place)
 * up to the byte of the highest set bit: b'101' -> {0x05}, b'1' followed
 * by fifteen 0s -> {0x00, 0x80}, all zeros -> no bytes at all.
 * (PostgresValueConverter.convertBits; its test expects exactly these.)
 */
bool ww_conv_bits(struct ww_buf *out, int32_t typmod, const char *s, size_t len)
{
    size_t first_one = len;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '1') {
            if (first_one == len)
                first_one = i;
        } else if (s[i] != '0') {
            return false;
        }
    }
    if (typmod == 1) {
        if (len != 1)
            return false;
        if (s[0] == '1')
            ww_buf_puts(out, "true");
        else
            ww_buf_puts(out, "false");
        return true;
    }
    size_t nbytes = (len - first_one + 7) / 8;
    unsigned char chunk[48]; /* a multiple of 3: no base64 padding between chunks */
    size_t n = 0;
    ww_buf_putc(out, '"');
    for (size_t k = 0; k < nbytes; k++) {
        unsigned v = 0;
        for (unsigned j = 0; j < 8; j++) {
            size_t bit = 8 * k + j;
            if (bit < len && s[len - 1 - bit] == '1')
                v |= 1u << j;
        }
        chunk[n++] = (unsigned char)v;
        if (n == sizeof chunk) {
            ww_base64(out, chunk, n);
            n = 0;
        }
    }
    ww_base64(out, chunk, n);
    ww_buf_putc(out, '"');
    return true;
}

/* ---- point -------------------------------------------------------------- */

/* A coordinate's text (float8out: "1.5", "-2", "1e+300", "NaN",
 * "-Infinity") as a double. strtod rounds correctly, and PostgreSQL
 * printed digits that read back exactly, so this is the server's double;
 * walwire never calls setlocale, so strtod reads '.' as the point. */
static bool read_double(const char *s, size_t len, double *v)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strcmp(buf, "NaN") == 0) {
        /* Java's Double.NaN, which Debezium's WKB carries */
        uint64_t bits = UINT64_C(0x7ff8000000000000);
        memcpy(v, &bits, sizeof bits);
        return true;
    }
    char *end;
    *v = strtod(buf, &end);
    return end == buf + len;
}

/* The 8 bytes of d, least significant first (WKB byte order 1). */
static void put_le_double(unsigned char *p, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(bits >> (8 * i));
}

/*
 * point "(x,y)" -> io.debezium.data.geometry.Point, a struct written in
 * field order: {"x":1.5,"y":-2.0,"wkb":"AQEAAAAAAAAAAAD4PwAAAAAAAADA",
 * "srid":null}. x and y are FLOAT64 (Double.toString layout); wkb is the
 * 21-byte OGC WKB of the point (byte order 1 = little endian, type 1 =
 * Point, then x and y), base64; srid is always null for a point column.
 */
bool ww_conv_point(struct ww_buf *out, const char *s, size_t len)
{
    if (len < 5 || s[0] != '(' || s[len - 1] != ')')
        return false;
    const char *x = s + 1;
    const char *comma = memchr(x, ',', len - 2);
    if (!comma)
        return false;
    size_t xl = (size_t)(comma - x);
    const char *y = comma + 1;
    size_t yl = (size_t)(s + len - 1 - y);
    double dx, dy;
    if (!read_double(x, xl, &dx) || !read_double(y, yl, &dy))
        return false;
    ww_buf_puts(out, "{\"x\":");
    if (!ww_conv_float(out, false, x, xl))
        return false;
    ww_buf_puts(out, ",\"y\":");
    if (!ww_conv_float(out, false, y, yl))
        return false;
    unsigned char wkb[21] = {1, 1, 0, 0, 0};
    put_le_double(wkb + 5, dx);
    put_le_double(wkb + 13, dy);
    ww_buf_puts(out, ",\"wkb\":\"");
    ww_base64(out, wkb, sizeof wkb);
    ww_buf_puts(out, "\",\"srid\":null}");
    return true;
}

/* ---- hstore ------------------------------------------------------------- */

/* A quoted hstore key or value at s[*i] ("a\"b", with backslash before '"'
 * and '\\'), appended as a JSON string. */
static bool hstore_quoted(struct ww_buf *out, const char *s, size_t len, size_t *i)
{
    size_t p = *i;
    if (p == len || s[p] != '"')
        return false;
    p++;
    ww_buf_putc(out, '"');
    for (;;) {
        size_t run = p;
        while (p < len && s[p] != '"' && s[p] != '\\')
            p++;
        ww_json_escape(out, s + run, p - run);
        if (p == len)
            return false;
        if (s[p++] == '"')
            break;
        if (p == len)
            return false;
        ww_json_escape(out, s + p, 1); /* the escaped byte */
        p++;
    }
    ww_buf_putc(out, '"');
    *i = p;
    return true;
}

/*
 * hstore_out's text, "\"a\"=>\"1\", \"b\"=>NULL" (pairs in hstore's own
 * order, joined by ", "), becomes what Debezium's hstore.handling.mode=json
 * writes: Jackson's compact object {"a":"1","b":null} (io.debezium.data.Json),
 * itself a JSON string. The object is written first, then escaped once
 * more in place: a JSON text needs only '"' and '\\' escaped again.
 */
bool ww_conv_hstore(struct ww_buf *out, const char *s, size_t len)
{
    ww_buf_putc(out, '"');
    size_t inner = out->len;
    ww_buf_putc(out, '{');
    size_t i = 0;
    while (i < len) {
        if (i > 0) {
            if (len - i < 2 || s[i] != ',' || s[i + 1] != ' ')
                return false;
            i += 2;
            ww_buf_putc(out, ',');
        }
        if (!hstore_quoted(out, s, len, &i))
            return false;
        if (len - i < 2 || s[i] != '=' || s[i + 1] != '>')
            return false;
        i += 2;
        ww_buf_putc(out, ':');
        if (len - i >= 4 && memcmp(s + i, "NULL", 4) == 0) {
            ww_buf_puts(out, "null");
            i += 4;
        } else if (!hstore_quoted(out, s, len, &i)) {
            return false;
        }
    }
    ww_buf_putc(out, '}');

    size_t extra = 0;
    for (size_t k = inner; k < out->len; k++)
        extra += out->data[k] == '"' || out->data[k] == '\\';
    ww_buf_reserve(out, extra + 1);
    char *d = out->data;
    size_t src = out->len, dst = out->len + extra;
    while (src > inner) {
        char c = d[--src];
        d[--dst] = c;
        if (c == '"' || c == '\\')
            d[--dst] = '\\';
    }
    out->len += extra;
    ww_buf_putc(out, '"');
    return true;
}
