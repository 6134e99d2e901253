/*
 * Type mapping (private to the encoder): the text output form of one
 * PostgreSQL value -> its JSON form, chosen by type OID, as Debezium's
 * PostgreSQL connector writes it with the JSON converter
 * (schemas.enable=false, decimal.handling.mode=string,
 * time.precision.mode=adaptive, interval.handling.mode=numeric,
 * binary.handling.mode=bytes, hstore.handling.mode=json).
 * docs/types.md has the full table.
 *
 * Input: the text that the server's output functions produce in a session
 * with DateStyle=ISO, TimeZone=UTC, IntervalStyle=postgres,
 * extra_float_digits=3 and bytea_output=hex (money: see docs/types.md).
 *
 * Types that are not builtin (enums, domains, composites, ranges over
 * them, extension types, their arrays) are looked up in e->opts.types
 * (ww_relcache_type); without an entry, or without a type map, a value is
 * written as its text.
 *
 * Never fails: a value whose text does not read as its type is written as a
 * JSON string of the text and counted in e->bad_values.
 *
 * Thread: whatever thread owns the encoder.
 */
#ifndef WW_ENCODE_TYPES_H
#define WW_ENCODE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "encode_json.h"

/* Builtin type OIDs (PostgreSQL's pg_type.dat; stable across versions). */
#define WW_OID_BOOL        16
#define WW_OID_BYTEA       17
#define WW_OID_CHAR        18
#define WW_OID_NAME        19
#define WW_OID_INT8        20
#define WW_OID_INT2        21
#define WW_OID_INT4        23
#define WW_OID_TEXT        25
#define WW_OID_OID         26
#define WW_OID_JSON        114
#define WW_OID_XML         142
#define WW_OID_POINT       600
#define WW_OID_BOX         603
#define WW_OID_FLOAT4      700
#define WW_OID_FLOAT8      701
#define WW_OID_MONEY       790
#define WW_OID_BPCHAR      1042
#define WW_OID_VARCHAR     1043
#define WW_OID_DATE        1082
#define WW_OID_TIME        1083
#define WW_OID_TIMESTAMP   1114
#define WW_OID_TIMESTAMPTZ 1184
#define WW_OID_INTERVAL    1186
#define WW_OID_TIMETZ      1266
#define WW_OID_BIT         1560
#define WW_OID_VARBIT      1562
#define WW_OID_NUMERIC     1700
#define WW_OID_UUID        2950
#define WW_OID_JSONB       3802

/*
 * Append to out the JSON form of the value s[0..len) of type type_oid.
 * typmod is the column's type modifier (-1 when none): it picks
 * milliseconds or microseconds for time/timestamp, the number of
 * fractional digits of timestamptz, and boolean or bytes for bit/varbit,
 * as Debezium does; array columns apply it to their elements. Reads
 * e->opts.temporal_iso8601 and e->opts.types; uses e->scratch (so out
 * must not be e->scratch); may add to e->bad_values. Does not allocate
 * once out and e->scratch have grown.
 */
void ww_encode_value(struct ww_encoder *e, struct ww_buf *out, uint32_t type_oid, int32_t typmod,
                     const char *s, size_t len);

/*
 * Append the base64 (RFC 4648, padded) of the bytes written in hex in
 * hex[0..len) (an even number of hex digits, either case). Returns false and
 * appends nothing when the text is not that. Lives in encode_json.c next to
 * ww_base64().
 */
bool ww_base64_hex(struct ww_buf *b, const char *hex, size_t len);

#endif
