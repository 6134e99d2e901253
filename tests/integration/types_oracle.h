/*
 * The oracle of the type differential test (test_types.c): the JSON that
 * Debezium's PostgreSQL connector writes for a value (docs/types.md),
 * derived from the value's text as PostgreSQL prints it (DateStyle=ISO,
 * TimeZone=UTC, IntervalStyle=postgres, extra_float_digits=3), on its own:
 * with SQL on the server for the temporal types, bytea and hstore
 * (extract(), encode(), hstore_to_json()), and with C code unrelated to
 * walwire's encoder for the rest (floats through printf/strtod, numeric by
 * BigDecimal.toString's rules, bit strings, point WKB, array literals).
 *
 * Everything asserts (Criterion) on failure. Strings built here are
 * malloc'd in struct wwt_sb; the caller frees .s.
 */
#ifndef WWT_TYPES_ORACLE_H
#define WWT_TYPES_ORACLE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "minijson.h"

/* A growable string, NUL-terminated once anything was added. */
struct wwt_sb {
    char *s;
    size_t len, cap;
};

void wwt_sb_add(struct wwt_sb *b, const char *p, size_t n);
void wwt_sb_puts(struct wwt_sb *b, const char *s);
void wwt_sb_printf(struct wwt_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string: only what RFC 8259 requires is escaped. */
void wwt_sb_json_string(struct wwt_sb *b, const char *s, size_t n);
/* Compact JSON of a parsed tree. */
void wwt_sb_json(struct wwt_sb *b, const struct mj *v);

/* How the test derives the expected JSON from a value's text. */
/* clang-format off */
enum wwt_kind {
    WWT_INT, WWT_FLOAT4, WWT_FLOAT8, WWT_NUMERIC, WWT_MONEY, WWT_BOOL, WWT_TEXT, WWT_BYTEA,
    WWT_DATE, WWT_TIME, WWT_TIMETZ, WWT_TS, WWT_TSTZ, WWT_INTERVAL, WWT_BITS, WWT_POINT, WWT_HSTORE,
};
/* clang-format on */

/* Where SQL oracles run (a session with walwire's settings), and what to
 * write: iso for [format] temporal = iso8601. */
struct wwt_oracle {
    PGconn *pg;
    bool iso;        /* [format] temporal = iso8601 */
    int sql_oracles; /* how many values were computed by SQL */
};

/* The expected JSON of one value of kind k with text t; prec is the
 * column's precision (time, timestamp, timestamptz) or length (bit),
 * -1 when none. */
void wwt_expect_scalar(struct wwt_oracle *x, enum wwt_kind k, int prec, const char *t,
                       struct wwt_sb *o);
/* The same for a column value: t NULL is SQL NULL; array: t is an array
 * literal (elements separated by delim: ';' for box[], else ','). */
void wwt_expect_value(struct wwt_oracle *x, enum wwt_kind k, int prec, bool array, char delim,
                      const char *t, struct wwt_sb *o);
/* Structural equality; numbers by their literal text; strings of
 * WWT_HSTORE are compared as the JSON objects they hold. */
bool wwt_json_same(const struct mj *a, const struct mj *b, enum wwt_kind k);

#endif
