/*
 * Private to the encoder: the converters of one value's text to its JSON,
 * one function per family of types. encode_types.c picks the converter by
 * type (ww_encode_value); the converters live in
 *
 *   encode_number.c   float4/float8, numeric, money
 *   encode_time.c     date, time, timetz, timestamp, timestamptz, interval
 *   encode_special.c  bit/varbit, point, hstore
 *
 * Contract of every ww_conv_*(): append the JSON form of the text
 * s[0..len) to out and return true; or return false when the text does not
 * read as the type, with out possibly holding a partial write, which the
 * caller truncates (it then writes the text as a string, a "bad value").
 * Input is the server's text output in walwire's session settings
 * (encode_types.h). No allocation beyond growing out.
 *
 * Thread: whatever thread owns the encoder.
 */
#ifndef WW_ENCODE_CONV_H
#define WW_ENCODE_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Append text known to need no JSON escaping, quoted. */
static inline void ww_conv_plain_string(struct ww_buf *out, const char *s, size_t len)
{
    ww_buf_reserve(out, len + 2);
    out->data[out->len++] = '"';
    memcpy(out->data + out->len, s, len);
    out->len += len;
    out->data[out->len++] = '"';
}

static inline bool ww_conv_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- encode_number.c ---------------------------------------------------- */

/* A float8 literal ("100", "1.5e-07", "-0") as a JSON number written as
 * Java's Double.toString writes the value ("100.0", "1.5E-7", "-0.0").
 * NaN and the infinities are not literals: false. */
bool ww_conv_java_double(struct ww_buf *out, const char *s, size_t len);
/* float4 (single) / float8: as Java's Float/Double.toString, or "NaN",
 * "Infinity", "-Infinity" as strings (Jackson's WRITE_NAN_AS_STRINGS). */
bool ww_conv_float(struct ww_buf *out, bool single, const char *s, size_t len);
/* numeric: a string laid out as Java's BigDecimal.toString(); NaN and the
 * infinities as Debezium's "NAN", "POSITIVE_INFINITY", "NEGATIVE_INFINITY". */
bool ww_conv_numeric(struct ww_buf *out, const char *s, size_t len);
/* money ("$1,234.56", "-$0.50", "($3.00)"): the amount as a string in
 * Double.toString layout, every digit kept ("1234.56", "-0.5", "-3.0"). */
bool ww_conv_money(struct ww_buf *out, const char *s, size_t len);

/* ---- encode_time.c ------------------------------------------------------ */

/* iso: [format] temporal = iso8601. typmod: the column's precision, -1
 * when none (adaptive precision: milliseconds for p <= 3). */
bool ww_conv_date(struct ww_buf *out, bool iso, const char *s, size_t len);
bool ww_conv_time(struct ww_buf *out, bool iso, int32_t typmod, const char *s, size_t len);
bool ww_conv_timetz(struct ww_buf *out, const char *s, size_t len);
bool ww_conv_timestamp(struct ww_buf *out, bool iso, int32_t typmod, const char *s, size_t len);
bool ww_conv_timestamptz(struct ww_buf *out, int32_t typmod, const char *s, size_t len);
bool ww_conv_interval(struct ww_buf *out, bool iso, const char *s, size_t len);

/* ---- encode_special.c --------------------------------------------------- */

/* bit/varbit ("0101"): a boolean for bit(1)/varbit(1) (typmod 1), else
 * base64 of the bits in Debezium's little-endian byte order. */
bool ww_conv_bits(struct ww_buf *out, int32_t typmod, const char *s, size_t len);
/* point ("(1.5,-2)"): {"x":1.5,"y":-2.0,"wkb":"<base64>","srid":null}. */
bool ww_conv_point(struct ww_buf *out, const char *s, size_t len);
/* hstore ("\"a\"=>\"1\", \"b\"=>NULL"): a string holding the JSON object
 * {"a":"1","b":null}. */
bool ww_conv_hstore(struct ww_buf *out, const char *s, size_t len);

#endif
