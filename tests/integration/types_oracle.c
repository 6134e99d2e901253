/*
 * The oracle of the type differential test (test_types.c): from a value's
 * text as PostgreSQL prints it, the JSON Debezium writes for it
 * (docs/types.md), derived without walwire's encoder. Contract in
 * types_oracle.h.
 */
#define _GNU_SOURCE
#include "types_oracle.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- a string builder --------------------------------------------------- */

void wwt_sb_add(struct wwt_sb *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        cr_assert(b->s);
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void wwt_sb_puts(struct wwt_sb *b, const char *s)
{
    wwt_sb_add(b, s, strlen(s));
}

void wwt_sb_printf(struct wwt_sb *b, const char *fmt, ...)
{
    char *s;
    va_list ap;
    va_start(ap, fmt);
    cr_assert(vasprintf(&s, fmt, ap) >= 0);
    va_end(ap);
    wwt_sb_puts(b, s);
    free(s);
}

/* A JSON string: only what RFC 8259 requires is escaped. */
void wwt_sb_json_string(struct wwt_sb *b, const char *s, size_t n)
{
    wwt_sb_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            wwt_sb_add(b, e, 2);
        } else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            wwt_sb_add(b, e, 6);
        } else {
            wwt_sb_add(b, (const char *)&c, 1);
        }
    }
    wwt_sb_add(b, "\"", 1);
}

/* Compact JSON of a parsed tree (for messages). */
void wwt_sb_json(struct wwt_sb *b, const struct mj *v)
{
    /* clang-format off */
    switch (v->type) {
    case MJ_NULL: wwt_sb_puts(b, "null"); break;
    case MJ_BOOL: wwt_sb_puts(b, v->boolean ? "true" : "false"); break;
    case MJ_NUMBER: wwt_sb_add(b, v->str, v->len); break;
    case MJ_STRING: wwt_sb_json_string(b, v->str, v->len); break;
    /* clang-format on */
    case MJ_ARRAY:
    case MJ_OBJECT:
        wwt_sb_puts(b, v->type == MJ_ARRAY ? "[" : "{");
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                wwt_sb_puts(b, ",");
            if (v->type == MJ_OBJECT) {
                wwt_sb_json_string(b, v->keys[i], strlen(v->keys[i]));
                wwt_sb_puts(b, ":");
            }
            wwt_sb_json(b, v->items[i]);
        }
        wwt_sb_puts(b, v->type == MJ_ARRAY ? "]" : "}");
        break;
    }
}

/* ---- SQL oracles -------------------------------------------------------- */

/* One row of a query with one text parameter; asserts success. The caller
 * PQclears. */
static PGresult *q1(struct wwt_oracle *x, const char *sql, const char *param)
{
    const char *params[1] = {param};
    PGresult *r = PQexecParams(x->pg, sql, 1, NULL, params, NULL, NULL, 0);
    cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1,
              "oracle query failed for '%s': %s\n%s", param, PQresultErrorMessage(r), sql);
    x->sql_oracles++;
    return r;
}

/* java.time's year: 4 digits at least, '-' before year 0, '+' past 9999;
 * PostgreSQL's extract(year) has no year 0 (1 BC is -1). */
static void sb_java_year(struct wwt_sb *o, long pg_year)
{
    long y = pg_year < 0 ? pg_year + 1 : pg_year;
    if (y > 9999)
        wwt_sb_printf(o, "+%ld", y);
    else if (y < 0)
        wwt_sb_printf(o, "-%04ld", -y);
    else
        wwt_sb_printf(o, "%04ld", y);
}

/* ".5" / ".123456": a fraction of µs without trailing zeros, or exactly
 * width digits (width > 0); nothing for 0 when width <= 0. */
static void sb_fraction(struct wwt_sb *o, long us, int width)
{
    char d[8];
    snprintf(d, sizeof d, "%06ld", us);
    int n = 6;
    if (width > 0)
        n = width;
    else
        while (n > 0 && d[n - 1] == '0')
            n--;
    if (n > 0)
        wwt_sb_printf(o, ".%.*s", n, d);
}

static void sb_time_of_day(struct wwt_sb *o, long long us)
{
    long long s = us / 1000000;
    wwt_sb_printf(o, "%02lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    sb_fraction(o, (long)(us % 1000000), 0);
}

static void expect_date(struct wwt_oracle *x, const char *t, struct wwt_sb *o)
{
    bool inf = strcmp(t, "infinity") == 0, ninf = strcmp(t, "-infinity") == 0;
    if (x->iso) {
        if (inf || ninf) {
            wwt_sb_json_string(o, t, strlen(t));
            return;
        }
        PGresult *r = q1(x,
                         "SELECT extract(year FROM d), extract(month FROM d), "
                         "extract(day FROM d) FROM (SELECT $1::date AS d) s",
                         t);
        wwt_sb_puts(o, "\"");
        sb_java_year(o, atol(PQgetvalue(r, 0, 0)));
        wwt_sb_printf(o, "-%02d-%02dZ\"", atoi(PQgetvalue(r, 0, 1)), atoi(PQgetvalue(r, 0, 2)));
        PQclear(r);
        return;
    }
    /* Debezium's sentinel dates for the infinities (documented) */
    if (inf || ninf) {
        wwt_sb_puts(o, inf ? "2146033979" : "-2147472691");
        return;
    }
    PGresult *r = q1(x, "SELECT $1::date - DATE '1970-01-01'", t);
    wwt_sb_puts(o, PQgetvalue(r, 0, 0));
    PQclear(r);
}

static void expect_time(struct wwt_oracle *x, int prec, const char *t, struct wwt_sb *o)
{
    PGresult *r = q1(x, "SELECT (extract(epoch FROM $1::time) * 1000000)::bigint", t);
    long long us = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (x->iso) {
        wwt_sb_puts(o, "\"");
        sb_time_of_day(o, us);
        wwt_sb_puts(o, "Z\"");
    } else {
        wwt_sb_printf(o, "%lld", prec >= 0 && prec <= 3 ? us / 1000 : us);
    }
}

static void expect_timetz(struct wwt_oracle *x, const char *t, struct wwt_sb *o)
{
    /* epoch of a timetz: its time at UTC in seconds, maybe < 0 or >= 1 day */
    PGresult *r = q1(x, "SELECT (extract(epoch FROM $1::timetz) * 1000000)::bigint", t);
    long long us = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    long long day = 86400000000LL;
    if (us != day)
        us = ((us % day) + day) % day;
    wwt_sb_puts(o, "\"");
    sb_time_of_day(o, us);
    wwt_sb_puts(o, "Z\"");
}

static void expect_timestamp(struct wwt_oracle *x, int prec, const char *t, struct wwt_sb *o)
{
    bool inf = strcmp(t, "infinity") == 0, ninf = strcmp(t, "-infinity") == 0;
    if (x->iso) {
        if (inf || ninf) {
            wwt_sb_json_string(o, t, strlen(t));
            return;
        }
        PGresult *r = q1(x,
                         "SELECT extract(year FROM v), to_char(v, 'MM-DD\"T\"HH24:MI:SS'), "
                         "extract(microseconds FROM v)::int % 1000000 "
                         "FROM (SELECT $1::timestamp AS v) s",
                         t);
        wwt_sb_puts(o, "\"");
        sb_java_year(o, atol(PQgetvalue(r, 0, 0)));
        wwt_sb_printf(o, "-%s", PQgetvalue(r, 0, 1));
        sb_fraction(o, atol(PQgetvalue(r, 0, 2)), 0);
        wwt_sb_puts(o, "Z\"");
        PQclear(r);
        return;
    }
    bool ms = prec >= 0 && prec <= 3;
    if (inf || ninf) {
        /* the JDBC driver's DATE_POSITIVE/NEGATIVE_INFINITY in µs, as Debezium
         * documents; Debezium's Timestamp (ms) of that instant for p <= 3 */
        if (ms)
            wwt_sb_puts(o, inf ? "9223372036825200" : "-9223372036832400");
        else
            wwt_sb_puts(o, inf ? "9223372036825200000" : "-9223372036832400000");
        return;
    }
    PGresult *r = q1(x,
                     ms ? "SELECT floor(extract(epoch FROM $1::timestamp) * 1000)"
                        : "SELECT extract(epoch FROM $1::timestamp) * 1000000",
                     t);
    const char *v = PQgetvalue(r, 0, 0);
    size_t n = strcspn(v, "."); /* an integer, maybe printed with ".000" */
    wwt_sb_add(o, v, n);
    PQclear(r);
}

static void expect_timestamptz(struct wwt_oracle *x, int prec, const char *t, struct wwt_sb *o)
{
    if (strcmp(t, "infinity") == 0 || strcmp(t, "-infinity") == 0) {
        wwt_sb_json_string(o, t, strlen(t));
        return;
    }
    PGresult *r = q1(x,
                     "SELECT extract(year FROM v), to_char(v, 'MM-DD\"T\"HH24:MI:SS'), "
                     "extract(microseconds FROM v)::int % 1000000 "
                     "FROM (SELECT $1::timestamptz AT TIME ZONE 'UTC' AS v) s",
                     t);
    wwt_sb_puts(o, "\"");
    sb_java_year(o, atol(PQgetvalue(r, 0, 0)));
    wwt_sb_printf(o, "-%s", PQgetvalue(r, 0, 1));
    int width = prec < 0 ? 6 : prec;
    if (width > 0)
        sb_fraction(o, atol(PQgetvalue(r, 0, 2)), width);
    wwt_sb_puts(o, "Z\"");
    PQclear(r);
}

/* "-6.780000" -> "-6.78", "0.000000" -> "0" (BigDecimal's
 * stripTrailingZeros().toPlainString()). */
static void sb_trimmed_decimal(struct wwt_sb *o, const char *v)
{
    size_t n = strlen(v);
    if (strchr(v, '.')) {
        while (n > 0 && v[n - 1] == '0')
            n--;
        if (n > 0 && v[n - 1] == '.')
            n--;
    }
    if (n == 2 && v[0] == '-' && v[1] == '0')
        wwt_sb_puts(o, "0");
    else
        wwt_sb_add(o, v, n);
}

static void expect_interval(struct wwt_oracle *x, const char *t, struct wwt_sb *o)
{
    if (x->iso) {
        PGresult *r = q1(x,
                         "SELECT extract(year FROM i), extract(month FROM i), "
                         "extract(day FROM i), extract(hour FROM i), extract(minute FROM i), "
                         "extract(second FROM i) FROM (SELECT $1::interval AS i) s",
                         t);
        wwt_sb_printf(o, "\"P%sY%sM%sDT%sH%sM", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
                      PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4));
        sb_trimmed_decimal(o, PQgetvalue(r, 0, 5));
        wwt_sb_puts(o, "S\"");
        PQclear(r);
        return;
    }
    /* MicroDuration: a month is 365.25 / 12 days = 2629800 s */
    PGresult *r = q1(x,
                     "SELECT ((extract(year FROM i) * 12 + extract(month FROM i)) "
                     "* 2629800000000 + extract(day FROM i) * 86400000000 "
                     "+ (extract(hour FROM i) * 3600 + extract(minute FROM i) * 60) * 1000000 "
                     "+ extract(microseconds FROM i))::numeric(40,0) "
                     "FROM (SELECT $1::interval AS i) s",
                     t);
    wwt_sb_puts(o, PQgetvalue(r, 0, 0));
    PQclear(r);
}

static void expect_bytea(struct wwt_oracle *x, const char *t, struct wwt_sb *o)
{
    /* wal2json writes a bytea column's hex without "\x"; array elements
     * have it */
    const char *hex = strncmp(t, "\\x", 2) == 0 ? t + 2 : t;
    PGresult *r = q1(x, "SELECT translate(encode(decode($1, 'hex'), 'base64'), E'\\n', '')", hex);
    wwt_sb_json_string(o, PQgetvalue(r, 0, 0), strlen(PQgetvalue(r, 0, 0)));
    PQclear(r);
}

static void expect_hstore(struct wwt_oracle *x, const char *t, struct wwt_sb *o)
{
    /* compared as JSON trees (same()): hstore_to_json's spacing is not
     * Jackson's, its structure is the same */
    PGresult *r = q1(x, "SELECT hstore_to_json($1::hstore)", t);
    wwt_sb_json_string(o, PQgetvalue(r, 0, 0), strlen(PQgetvalue(r, 0, 0)));
    PQclear(r);
}

/* ---- C oracles ---------------------------------------------------------- */

/* Java's Double.toString / Float.toString (JDK 19+): the shortest decimal
 * that reads back to the same value, found here by printf at growing
 * precision (not from PostgreSQL's digits), then laid out: plain for
 * 1e-3 <= |x| < 1e7 with at least one fraction digit, else d.dddE±n. */
static void sb_java_number(struct wwt_sb *o, double d, bool is_float)
{
    if (isnan(d)) {
        wwt_sb_puts(o, "\"NaN\"");
        return;
    }
    if (isinf(d)) {
        wwt_sb_puts(o, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    if (d == 0) {
        wwt_sb_puts(o, signbit(d) ? "-0.0" : "0.0");
        return;
    }
    char buf[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, d);
        if (is_float ? strtof(buf, NULL) == (float)d : strtod(buf, NULL) == d)
            break;
    }
    /* buf: -d.ddde±XX */
    char digits[32];
    int nd = 0;
    const char *p = buf;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    if (neg)
        wwt_sb_puts(o, "-");
    double a = fabs(d);
    if (a >= 1e-3 && a < 1e7) {
        if (exp10 >= 0) {
            for (int i = 0; i <= exp10; i++)
                wwt_sb_add(o, i < nd ? &digits[i] : "0", 1);
            wwt_sb_puts(o, ".");
            if (nd > exp10 + 1)
                wwt_sb_puts(o, digits + exp10 + 1);
            else
                wwt_sb_puts(o, "0");
        } else {
            wwt_sb_puts(o, "0.");
            for (int i = -1; i > exp10; i--)
                wwt_sb_puts(o, "0");
            wwt_sb_puts(o, digits);
        }
    } else {
        wwt_sb_add(o, digits, 1);
        wwt_sb_puts(o, ".");
        wwt_sb_puts(o, nd > 1 ? digits + 1 : "0");
        wwt_sb_printf(o, "E%d", exp10);
    }
}

/* numeric text -> BigDecimal.toString() (Debezium's string mode): the
 * unscaled digits and the scale, plain while the adjusted exponent
 * (digits - 1 - scale) is >= -6, else d.dddE-n. Special values: names of
 * SpecialValueDecimal. */
static void expect_numeric(const char *t, struct wwt_sb *o)
{
    if (strcmp(t, "NaN") == 0) {
        wwt_sb_puts(o, "\"NAN\"");
        return;
    }
    if (strcmp(t, "Infinity") == 0 || strcmp(t, "-Infinity") == 0) {
        wwt_sb_puts(o, t[0] == '-' ? "\"NEGATIVE_INFINITY\"" : "\"POSITIVE_INFINITY\"");
        return;
    }
    bool neg = t[0] == '-';
    const char *dot = strchr(t, '.');
    long scale = dot ? (long)strlen(dot + 1) : 0;
    struct wwt_sb unscaled = {0};
    for (const char *p = t + neg; *p; p++)
        if (*p != '.' && !(unscaled.len == 0 && *p == '0'))
            wwt_sb_add(&unscaled, p, 1);
    if (unscaled.len == 0)
        wwt_sb_puts(&unscaled, "0");
    long adjusted = (long)unscaled.len - 1 - scale;
    wwt_sb_puts(o, "\"");
    if (neg)
        wwt_sb_puts(o, "-");
    if (adjusted >= -6) {
        /* plain: pad to at least scale + 1 digits, point before the last scale */
        struct wwt_sb padded = {0};
        for (long i = (long)unscaled.len; i < scale + 1; i++)
            wwt_sb_puts(&padded, "0");
        wwt_sb_puts(&padded, unscaled.s);
        wwt_sb_add(o, padded.s, padded.len - (size_t)scale);
        if (scale > 0) {
            wwt_sb_puts(o, ".");
            wwt_sb_puts(o, padded.s + padded.len - scale);
        }
        free(padded.s);
    } else {
        wwt_sb_add(o, unscaled.s, 1);
        if (unscaled.len > 1) {
            wwt_sb_puts(o, ".");
            wwt_sb_puts(o, unscaled.s + 1);
        }
        wwt_sb_printf(o, "E%ld", adjusted);
    }
    wwt_sb_puts(o, "\"");
    free(unscaled.s);
}

/* money "$1,234.56" / "-$1,234.56": Debezium's PGmoney double, written
 * with String.valueOf(double). (The test's amounts have at most 15
 * digits, where the double is exact.) */
static void expect_money(const char *t, struct wwt_sb *o)
{
    char digits[64];
    size_t n = 0;
    bool neg = false;
    for (const char *p = t; *p && n + 1 < sizeof digits; p++) {
        if (*p == '-' || *p == '(')
            neg = true;
        else if ((*p >= '0' && *p <= '9') || *p == '.')
            digits[n++] = *p;
    }
    digits[n] = '\0';
    double d = strtod(digits, NULL);
    wwt_sb_puts(o, "\"");
    sb_java_number(o, neg ? -d : d, false);
    wwt_sb_puts(o, "\"");
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void sb_base64(struct wwt_sb *o, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {b64chars[v >> 18 & 63], b64chars[v >> 12 & 63],
                     i + 1 < n ? b64chars[v >> 6 & 63] : '=', i + 2 < n ? b64chars[v & 63] : '='};
        wwt_sb_add(o, q, 4);
    }
}

/* bit strings: bit(1) a boolean; otherwise java.util.BitSet of the text
 * (last character = bit 0), toByteArray(): little-endian, up to the
 * highest set bit. */
static void expect_bits(int prec, const char *t, struct wwt_sb *o)
{
    size_t len = strlen(t);
    if (prec == 1) {
        wwt_sb_puts(o, t[0] == '1' ? "true" : "false");
        return;
    }
    unsigned char bytes[4096] = {0};
    size_t nbytes = 0;
    for (size_t i = 0; i < len; i++) {
        size_t bit = len - 1 - i;
        cr_assert_lt(bit / 8, sizeof bytes);
        if (t[i] == '1') {
            bytes[bit / 8] |= (unsigned char)(1u << (bit % 8));
            if (bit / 8 + 1 > nbytes)
                nbytes = bit / 8 + 1;
        }
    }
    wwt_sb_puts(o, "\"");
    sb_base64(o, bytes, nbytes);
    wwt_sb_puts(o, "\"");
}

/* point: io.debezium.data.geometry.Point {x, y, wkb, srid}. */
static void expect_point(const char *t, struct wwt_sb *o)
{
    double xy[2];
    char a[64], b[64];
    cr_assert_eq(sscanf(t, "(%63[^,],%63[^)])", a, b), 2, "point text %s", t);
    xy[0] = strtod(a, NULL);
    xy[1] = strtod(b, NULL);
    unsigned char wkb[21] = {1, 1, 0, 0, 0};
    for (int k = 0; k < 2; k++) {
        uint64_t bits;
        double d = isnan(xy[k]) ? NAN : xy[k];
        memcpy(&bits, &d, 8);
        if (isnan(d))
            bits = 0x7ff8000000000000ULL; /* Java's Double.NaN */
        for (int i = 0; i < 8; i++)
            wkb[5 + 8 * k + i] = (unsigned char)(bits >> (8 * i));
    }
    wwt_sb_puts(o, "{\"x\":");
    sb_java_number(o, xy[0], false);
    wwt_sb_puts(o, ",\"y\":");
    sb_java_number(o, xy[1], false);
    wwt_sb_puts(o, ",\"wkb\":\"");
    sb_base64(o, wkb, sizeof wkb);
    wwt_sb_puts(o, "\",\"srid\":null}");
}

/* ---- one value ---------------------------------------------------------- */

void wwt_expect_scalar(struct wwt_oracle *x, enum wwt_kind k, int prec, const char *t,
                       struct wwt_sb *o)
{
    /* clang-format off */
    switch (k) {
    case WWT_INT: wwt_sb_puts(o, t); break;
    case WWT_FLOAT4: sb_java_number(o, strtof(t, NULL), true); break;
    case WWT_FLOAT8: sb_java_number(o, strtod(t, NULL), false); break;
    case WWT_NUMERIC: expect_numeric(t, o); break;
    case WWT_MONEY: expect_money(t, o); break;
    case WWT_BOOL: wwt_sb_puts(o, t[0] == 't' ? "true" : "false"); break;
    case WWT_TEXT: wwt_sb_json_string(o, t, strlen(t)); break;
    case WWT_BYTEA: expect_bytea(x, t, o); break;
    case WWT_DATE: expect_date(x, t, o); break;
    case WWT_TIME: expect_time(x, prec, t, o); break;
    case WWT_TIMETZ: expect_timetz(x, t, o); break;
    case WWT_TS: expect_timestamp(x, prec, t, o); break;
    case WWT_TSTZ: expect_timestamptz(x, prec, t, o); break;
    case WWT_INTERVAL: expect_interval(x, t, o); break;
    case WWT_BITS: expect_bits(prec, t, o); break;
    case WWT_POINT: expect_point(t, o); break;
    case WWT_HSTORE: expect_hstore(x, t, o); break;
    }
    /* clang-format on */
}

/* An array literal (PostgreSQL's array_out) -> the JSON array of its
 * elements' expected values; *p moves past it. */
static void expect_array_level(struct wwt_oracle *x, enum wwt_kind k, int prec, char delim,
                               const char **p, struct wwt_sb *o)
{
    cr_assert_eq(**p, '{', "array literal at %s", *p);
    (*p)++;
    wwt_sb_puts(o, "[");
    bool first = true;
    while (**p != '}') {
        if (!first) {
            cr_assert_eq(**p, delim);
            (*p)++;
            wwt_sb_puts(o, ",");
        }
        first = false;
        if (**p == '{') {
            expect_array_level(x, k, prec, delim, p, o);
            continue;
        }
        struct wwt_sb el = {0};
        wwt_sb_add(&el, "", 0); /* "" rather than NULL for an empty element */
        if (**p == '"') {
            for ((*p)++; **p != '"'; (*p)++) {
                if (**p == '\\')
                    (*p)++;
                cr_assert(**p, "unterminated element");
                wwt_sb_add(&el, *p, 1);
            }
            (*p)++;
            wwt_expect_scalar(x, k, prec, el.s, o);
        } else {
            while (**p != delim && **p != '}')
                wwt_sb_add(&el, (*p)++, 1);
            if (strcasecmp(el.s, "NULL") == 0)
                wwt_sb_puts(o, "null");
            else
                wwt_expect_scalar(x, k, prec, el.s, o);
        }
        free(el.s);
    }
    (*p)++;
    wwt_sb_puts(o, "]");
}

/* The expected JSON of column c with text t (NULL: SQL NULL). */
void wwt_expect_value(struct wwt_oracle *x, enum wwt_kind k, int prec, bool array, char delim,
                      const char *t, struct wwt_sb *o)
{
    if (!t) {
        wwt_sb_puts(o, "null");
        return;
    }
    if (!array) {
        wwt_expect_scalar(x, k, prec, t, o);
        return;
    }
    const char *p = t;
    if (*p == '[') /* dimension decoration: "[0:2]={...}" */
        p = strchr(p, '=') + 1;
    expect_array_level(x, k, prec, delim, &p, o);
    cr_assert_eq(*p, '\0', "trailing text in array literal %s", t);
}

/* Structural equality; numbers by their literal text. hstore strings are
 * compared as the JSON objects they hold. */
bool wwt_json_same(const struct mj *a, const struct mj *b, enum wwt_kind k)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case MJ_NULL:
        return true;
    case MJ_BOOL:
        return a->boolean == b->boolean;
    case MJ_NUMBER:
    case MJ_STRING:
        if (a->type == MJ_STRING && k == WWT_HSTORE) {
            struct mj *ia = mj_parse(a->str, a->len, NULL), *ib = mj_parse(b->str, b->len, NULL);
            bool eq = ia && ib && wwt_json_same(ia, ib, WWT_TEXT);
            mj_free(ia);
            mj_free(ib);
            return eq;
        }
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    case MJ_ARRAY:
    case MJ_OBJECT:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++) {
            if (a->type == MJ_OBJECT && strcmp(a->keys[i], b->keys[i]) != 0)
                return false;
            if (!wwt_json_same(a->items[i], b->items[i], k))
                return false;
        }
        return true;
    }
    return false;
}
