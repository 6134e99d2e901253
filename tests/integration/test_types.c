/*
 * Differential test of the type mapping (issue 6): one table with a column
 * of every type walwire maps (builtin types, their arrays, and an enum, a
 * domain, a composite, a range, hstore and citext with their arrays),
 * rows of ordinary and edge values, inserted, updated and deleted. The
 * changes are streamed through walwire (file sink) and through the
 * wal2json output plugin on a second slot of the same database.
 *
 * wal2json gives each value as the server's text. From that text the
 * oracle (types_oracle.c) derives, on its own, the JSON Debezium writes
 * (docs/types.md); walwire's encoder is not used. wal2json writes NaN and
 * the infinities of float and numeric columns as null: for those the text
 * comes from a query of the row. The initial snapshot (COPY), which
 * wal2json does not see, is checked against the rows' queried text.
 *
 * Every value of every event is compared; all differences are reported
 * together.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "minijson.h"
#include "types_oracle.h"

#define NVAR 4 /* value variants: rows 1, 2, 4, 5 (row 3 is all NULL) */

struct col {
    const char *name;
    const char *sqltype;
    enum wwt_kind kind;
    int prec;            /* time/timestamp(tz) precision, bit length; -1: none */
    bool array;          /* an array of kind */
    bool custom;         /* needs walwire's type map (not a builtin type) */
    const char *v[NVAR]; /* SQL expressions; NULL: SQL NULL */
};

/* clang-format off */
static const struct col cols[] = {
    {"c_int2", "smallint", WWT_INT, -1, 0, 0, {"12", "-32768", "32767", "0"}},
    {"c_int4", "integer", WWT_INT, -1, 0, 0, {"-42", "2147483647", "-2147483648", "7"}},
    {"c_int8", "bigint", WWT_INT, -1, 0, 0, {"9000000000", "-9223372036854775808", "9223372036854775807", "-1"}},
    {"c_oid", "oid", WWT_INT, -1, 0, 0, {"4242", "4294967295", "0", "1"}},
    {"c_float4", "real", WWT_FLOAT4, -1, 0, 0, {"0.1", "'NaN'", "'Infinity'", "-1.17549435e-38"}},
    {"c_float8", "double precision", WWT_FLOAT8, -1, 0, 0, {"123.456", "'-Infinity'", "'-0'", "12345678.9"}},
    {"c_float8b", "double precision", WWT_FLOAT8, -1, 0, 0, {"1e-300", "'NaN'", "1.7976931348623157e308", "0.001"}},
    {"c_numeric", "numeric", WWT_NUMERIC, -1, 0, 0, {"123.4500", "'NaN'", "'-99999999999999999999999999999999999999.000000000000000000001'", "0.00000012"}},
    {"c_numeric2", "numeric", WWT_NUMERIC, -1, 0, 0, {"0", "'Infinity'", "'-Infinity'", "0.0000000"}},
    {"c_numeric_ps", "numeric(30,10)", WWT_NUMERIC, -1, 0, 0, {"1.5", "-12345678901234567890.0123456789", "0", "0.0000000001"}},
    {"c_money", "money", WWT_MONEY, -1, 0, 0, {"'12.34'", "'-1234567890123.45'", "'1000'", "'0.05'"}},
    {"c_bool", "boolean", WWT_BOOL, -1, 0, 0, {"true", "false", "true", "false"}},
    {"c_char", "\"char\"", WWT_TEXT, -1, 0, 0, {"'a'", "'z'", "'0'", "' '"}},
    {"c_bpchar", "char(5)", WWT_TEXT, -1, 0, 0, {"'ab'", "'été'", "''", "'abcde'"}},
    {"c_varchar", "varchar(40)", WWT_TEXT, -1, 0, 0, {"'hello'", "E'tab\\there\\nnew \"q\" \\\\ back'", "''", "'🙂 emoji'"}},
    {"c_text", "text", WWT_TEXT, -1, 0, 0, {"'plain'", "E'ctl \\x01\\x02\\x1f del \\x7f quote \" backslash \\\\ /'", "'日本語 Ünïcödé'", "repeat('xyz', 300)"}},
    {"c_name", "name", WWT_TEXT, -1, 0, 0, {"'pg_class'", "'nâme'", "''", "'x'"}},
    {"c_citext", "citext", WWT_TEXT, -1, 0, 1, {"'AbC'", "'ÉtÉ'", "''", "'mixed Case'"}},
    {"c_bytea", "bytea", WWT_BYTEA, -1, 0, 0, {"'\\x00ff10'", "''", "decode(repeat('ab', 100), 'hex')", "'\\x00'"}},
    {"c_uuid", "uuid", WWT_TEXT, -1, 0, 0, {"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'", NULL}},
    {"c_json", "json", WWT_TEXT, -1, 0, 0, {"'{\"a\": [1, 2.50, \"x\"]}'", "'[]'", "'\"str\"'", "E'{\"k\" : \"v\\\\n\"}'"}},
    {"c_jsonb", "jsonb", WWT_TEXT, -1, 0, 0, {"'{\"b\": 1, \"a\": [true, null]}'", "'{}'", "'1.50'", "'\"é\\u0041\"'"}},
    {"c_xml", "xml", WWT_TEXT, -1, 0, 0, {"'<a>x</a>'", "'<r attr=\"1\">&amp;</r>'", "'text only'", NULL}},
    {"c_date", "date", WWT_DATE, -1, 0, 0, {"'2016-11-04'", "'infinity'", "'-infinity'", "'0044-03-15 BC'"}},
    {"c_date2", "date", WWT_DATE, -1, 0, 0, {"'1970-01-01'", "'0001-01-01 BC'", "'5874897-12-31'", "'1969-12-31'"}},
    {"c_time", "time", WWT_TIME, -1, 0, 0, {"'13:51:30.123456'", "'00:00:00'", "'24:00:00'", "'23:59:59.999999'"}},
    {"c_time3", "time(3)", WWT_TIME, 3, 0, 0, {"'13:51:30.123'", "'00:00:00'", "'23:59:59.999'", "'12:00:00.5'"}},
    {"c_timetz", "timetz", WWT_TIMETZ, -1, 0, 0, {"'13:51:30.123+02'", "'00:00:00+14'", "'23:59:59.999999-12'", "'12:00:00+05:30'"}},
    {"c_ts", "timestamp", WWT_TS, -1, 0, 0, {"'2016-11-04 13:51:30.123456'", "'infinity'", "'-infinity'", "'0044-03-15 10:00:00.25 BC'"}},
    {"c_ts3", "timestamp(3)", WWT_TS, 3, 0, 0, {"'2016-11-04 13:51:30.123'", "'1969-12-31 23:59:59.5'", "'infinity'", "'4713-01-01 00:00:00 BC'"}},
    {"c_tstz", "timestamptz", WWT_TSTZ, -1, 0, 0, {"'2016-11-04 13:51:30.123456+02'", "'-infinity'", "'infinity'", "'0044-03-15 10:00:00+00 BC'"}},
    {"c_tstz0", "timestamptz(0)", WWT_TSTZ, 0, 0, 0, {"'2016-11-04 13:51:30+02'", "'1969-12-31 23:59:59+00'", "'10000-01-01 00:00:00+00'", "'21016-11-04 13:51:30+07'"}},
    {"c_tstz3", "timestamptz(3)", WWT_TSTZ, 3, 0, 0, {"'2016-11-04 13:51:30.12+02'", "'1969-12-31 23:59:59.999+00'", "'infinity'", "'2000-02-29 00:00:00-11:30'"}},
    {"c_interval", "interval", WWT_INTERVAL, -1, 0, 0, {"'1 year 2 months 3 days 04:05:06.78'", "'-1 years -2 mons +3 days -04:05:06.78'", "'0'", "'100:00:00.000001'"}},
    {"c_inet", "inet", WWT_TEXT, -1, 0, 0, {"'192.168.0.1/24'", "'::1'", "'10.1.2.3'", NULL}},
    {"c_cidr", "cidr", WWT_TEXT, -1, 0, 0, {"'10.0.0.0/8'", "'2001:db8::/32'", NULL, "'192.168.1'"}},
    {"c_macaddr", "macaddr", WWT_TEXT, -1, 0, 0, {"'08:00:2b:01:02:03'", "'ff:ff:ff:ff:ff:ff'", NULL, NULL}},
    {"c_macaddr8", "macaddr8", WWT_TEXT, -1, 0, 0, {"'08:00:2b:01:02:03:04:05'", NULL, NULL, "'08:00:2b:01:02:03'"}},
    {"c_bit1", "bit(1)", WWT_BITS, 1, 0, 0, {"B'1'", "B'0'", "B'1'", "B'0'"}},
    {"c_bit10", "bit(10)", WWT_BITS, 10, 0, 0, {"B'1010101010'", "B'0000000000'", "B'1111111111'", "B'0000000001'"}},
    {"c_varbit", "varbit", WWT_BITS, -1, 0, 0, {"B'101'", "B''", "B'1000000000000000'", "B'111011010001000110000001000000001'"}},
    {"c_point", "point", WWT_POINT, -1, 0, 0, {"'(1.5,-2)'", "'(NaN,Infinity)'", "'(-0,1e-300)'", "'(1.7976931348623157e+308,0.1)'"}},
    {"c_box", "box", WWT_TEXT, -1, 0, 0, {"'((0,0),(1,1))'", "'((-1.5,2),(3,4e10))'", NULL, NULL}},
    {"c_circle", "circle", WWT_TEXT, -1, 0, 0, {"'<(1,2),3>'", NULL, "'<(0,0),0.5>'", NULL}},
    {"c_line", "line", WWT_TEXT, -1, 0, 0, {"'{1,-1,0}'", NULL, NULL, "'{0,1,-2.5}'"}},
    {"c_lseg", "lseg", WWT_TEXT, -1, 0, 0, {"'[(1,2),(3,4)]'", NULL, NULL, NULL}},
    {"c_path", "path", WWT_TEXT, -1, 0, 0, {"'[(0,0),(1,1),(2,0)]'", "'((0,0),(1,1))'", NULL, NULL}},
    {"c_polygon", "polygon", WWT_TEXT, -1, 0, 0, {"'((0,0),(1,1),(1,0))'", NULL, NULL, NULL}},
    {"c_tsvector", "tsvector", WWT_TEXT, -1, 0, 0, {"'a fat cat'", "''", "'''it''s'':1A'", NULL}},
    {"c_tsquery", "tsquery", WWT_TEXT, -1, 0, 0, {"'fat & (rat | !cat)'", NULL, NULL, NULL}},
    {"c_int4range", "int4range", WWT_TEXT, -1, 0, 0, {"'[1,5)'", "'empty'", "'(,)'", "'[3,3]'"}},
    {"c_numrange", "numrange", WWT_TEXT, -1, 0, 0, {"'[1.5,2.5]'", NULL, "'(,0.000001)'", NULL}},
    {"c_tstzrange", "tstzrange", WWT_TEXT, -1, 0, 0, {"'[2016-11-04 00:00+00,infinity)'", NULL, NULL, NULL}},
    {"c_daterange", "daterange", WWT_TEXT, -1, 0, 0, {"'[2016-11-04,2016-12-01)'", NULL, "'empty'", NULL}},
    {"c_int8multirange", "int8multirange", WWT_TEXT, -1, 0, 0, {"'{[1,3),[5,7)}'", "'{}'", NULL, NULL}},
    {"c_hstore", "hstore", WWT_HSTORE, -1, 0, 1, {"'a=>1, \"b c\"=>NULL'", "''", "hstore(ARRAY['q\"x', E'b\\\\s', 'tab', 'é'], ARRAY[E'v\\\\\"1', NULL, E'a\\tb', 'ü'])", "'k=>v'"}},
    {"c_mood", "mood", WWT_TEXT, -1, 0, 1, {"'happy'", "'sad'", "'ok'", NULL}},
    {"c_amount", "amount", WWT_NUMERIC, -1, 0, 1, {"12.5", "-9999999999.99", "0", "0.01"}},
    {"c_posint", "posint", WWT_INT, -1, 0, 1, {"1", "2147483647", "42", NULL}},
    {"c_pair", "pair", WWT_TEXT, -1, 0, 1, {"ROW(1, 'a b')", "ROW(NULL, 'x,y\"z')", "ROW(-5, '')", NULL}},
    {"c_floatrange", "floatrange", WWT_TEXT, -1, 0, 1, {"'[1.5,2.5)'", "'empty'", "'(,1e300]'", NULL}},
    {"c_birthday", "birthday", WWT_DATE, -1, 0, 1, {"'2016-11-04'", "'infinity'", "'0001-01-01 BC'", NULL}},
    /* arrays */
    {"a_int4", "int[]", WWT_INT, -1, 1, 0, {"'{1,2,NULL}'", "'{}'", "'[0:2]={7,8,9}'", "'{-2147483648}'"}},
    {"a_int4_2d", "int[][]", WWT_INT, -1, 1, 0, {"'{{1,2},{3,NULL}}'", "'{{{1}},{{2}}}'", "'{{NULL,NULL},{NULL,NULL}}'", "'[-1:-1][1:3]={{1,2,3}}'"}},
    {"a_int8", "bigint[]", WWT_INT, -1, 1, 0, {"'{9223372036854775807,-9223372036854775808}'", NULL, "'{}'", "'{0}'"}},
    {"a_text", "text[]", WWT_TEXT, -1, 1, 0, {"ARRAY['a b', 'c\"d', NULL, 'NULL', '', E'x\\\\y', '{', 'plain', E'ctl\\x01', 'null']", "'{}'", "ARRAY['日本', '🙂']", "'{{a,b},{c,d}}'"}},
    {"a_varchar", "varchar[]", WWT_TEXT, -1, 1, 0, {"ARRAY['é', ' sp ', 'a,b', '}']::varchar[]", NULL, "'{}'", NULL}},
    {"a_numeric", "numeric[]", WWT_NUMERIC, -1, 1, 0, {"ARRAY['NaN', 'Infinity', '-Infinity', '0.0000001', '1.50', NULL]::numeric[]", "'{}'", "ARRAY[123456789012345678901234567890.000000000000000000001, -0.000000000000000000000000000001]", "'{{1,2},{3,4}}'"}},
    {"a_float4", "real[]", WWT_FLOAT4, -1, 1, 0, {"ARRAY[1.5, 'NaN', '-Infinity', 0.1, 3.4028235e38]::real[]", "'{}'", "ARRAY[1e-30, 16777217]::real[]", NULL}},
    {"a_float8", "float8[]", WWT_FLOAT8, -1, 1, 0, {"ARRAY[1.5, 100, 12345678, 0.001, 0.0001, '-0', 'Infinity', NULL]::float8[]", "ARRAY[1e-300, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1e22, 1e23]::float8[]", "'{}'", "'{{1,2},{3,NaN}}'"}},
    {"a_bool", "bool[]", WWT_BOOL, -1, 1, 0, {"'{t,f,NULL}'", "'{}'", NULL, "'{{t},{f}}'"}},
    {"a_bytea", "bytea[]", WWT_BYTEA, -1, 1, 0, {"ARRAY['\\x00ff'::bytea, '', NULL]", NULL, "'{}'", NULL}},
    {"a_date", "date[]", WWT_DATE, -1, 1, 0, {"ARRAY['2016-11-04', 'infinity', '-infinity', '0044-03-15 BC', NULL]::date[]", "'{}'", NULL, "'{{1970-01-01},{1969-12-31}}'"}},
    {"a_time", "time[]", WWT_TIME, -1, 1, 0, {"ARRAY['13:51:30.5', '24:00:00']::time[]", NULL, "'{}'", NULL}},
    {"a_timetz", "timetz[]", WWT_TIMETZ, -1, 1, 0, {"ARRAY['13:51:30+02', '00:00:00.000001-01']::timetz[]", NULL, NULL, NULL}},
    {"a_ts", "timestamp[]", WWT_TS, -1, 1, 0, {"ARRAY['2016-11-04 13:51:30', 'infinity', '0001-01-01 00:00:00 BC']::timestamp[]", NULL, "'{}'", NULL}},
    {"a_ts3", "timestamp(3)[]", WWT_TS, 3, 1, 0, {"ARRAY['2016-11-04 13:51:30.123', '1969-12-31 23:59:59.999']::timestamp(3)[]", NULL, NULL, NULL}},
    {"a_tstz", "timestamptz[]", WWT_TSTZ, -1, 1, 0, {"ARRAY['2016-11-04 13:51:30.5+02', '21016-11-04 13:51:30+07', '-infinity']::timestamptz[]", NULL, NULL, NULL}},
    {"a_interval", "interval[]", WWT_INTERVAL, -1, 1, 0, {"ARRAY['1 day', '-00:00:01', '1 year 1 mon', '-1 days +23:00:00']::interval[]", NULL, NULL, NULL}},
    {"a_uuid", "uuid[]", WWT_TEXT, -1, 1, 0, {"ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11']::uuid[]", NULL, NULL, NULL}},
    {"a_jsonb", "jsonb[]", WWT_TEXT, -1, 1, 0, {"ARRAY['{\"a\": 1}', '[1, \"x\"]', 'null']::jsonb[]", NULL, NULL, NULL}},
    {"a_inet", "inet[]", WWT_TEXT, -1, 1, 0, {"'{192.168.0.1,::1}'", NULL, NULL, NULL}},
    {"a_money", "money[]", WWT_MONEY, -1, 1, 0, {"ARRAY[1.5, -1000, 0]::money[]", NULL, NULL, NULL}},
    {"a_bit1", "bit(1)[]", WWT_BITS, 1, 1, 0, {"ARRAY[B'1', B'0', NULL]::bit(1)[]", NULL, NULL, NULL}},
    {"a_varbit", "varbit[]", WWT_BITS, -1, 1, 0, {"ARRAY[B'101', B'', B'0000000000000001']::varbit[]", NULL, NULL, NULL}},
    {"a_point", "point[]", WWT_POINT, -1, 1, 0, {"ARRAY[point(1,2), point(-0.5, 1e10), NULL]", NULL, NULL, NULL}},
    {"a_box", "box[]", WWT_TEXT, -1, 1, 0, {"ARRAY[box '((0,0),(1,1))', box '((2,2),(3,3))', NULL]", NULL, NULL, NULL}},
    {"a_int4range", "int4range[]", WWT_TEXT, -1, 1, 0, {"ARRAY['[1,5)'::int4range, 'empty']", NULL, NULL, NULL}},
    {"a_mood", "mood[]", WWT_TEXT, -1, 1, 1, {"ARRAY['happy', 'sad', NULL]::mood[]", "'{}'", NULL, NULL}},
    {"a_amount", "amount[]", WWT_NUMERIC, -1, 1, 1, {"ARRAY[1.5, NULL, -2]::amount[]", NULL, NULL, NULL}},
    {"a_hstore", "hstore[]", WWT_HSTORE, -1, 1, 1, {"ARRAY['a=>1'::hstore, '', NULL]", NULL, NULL, NULL}},
    {"a_citext", "citext[]", WWT_TEXT, -1, 1, 1, {"ARRAY['AbC', 'x y']::citext[]", NULL, NULL, NULL}},
    {"a_pair", "pair[]", WWT_TEXT, -1, 1, 1, {"ARRAY[ROW(1, 'a')::pair, NULL]", NULL, NULL, NULL}},
    {"a_birthday", "birthday[]", WWT_DATE, -1, 1, 1, {"ARRAY['2016-11-04', 'infinity']::birthday[]", NULL, NULL, NULL}},
};
/* clang-format on */
#define NCOLS (sizeof cols / sizeof cols[0])

static bool is_temporal(enum wwt_kind k)
{
    return k == WWT_DATE || k == WWT_TIME || k == WWT_TIMETZ || k == WWT_TS || k == WWT_TSTZ ||
           k == WWT_INTERVAL;
}

/* Which columns a table of this test has. */
static bool in_table(const struct col *c, bool temporal_only)
{
    return !temporal_only || is_temporal(c->kind);
}

/* ---- the workload ------------------------------------------------------- */

#define NROWS 5

/* Row id -> variant (row 3 is all NULL). */
static int variant_of(int id)
{
    static const int v[NROWS + 1] = {-1, 0, 1, -1, 2, 3};
    return v[id];
}

static void create_schema(PGconn *c, const char *table, bool temporal_only)
{
    wwt_exec(c, "CREATE EXTENSION hstore");
    wwt_exec(c, "CREATE EXTENSION citext");
    wwt_exec(c, "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
    wwt_exec(c, "CREATE TYPE pair AS (a int, b text)");
    wwt_exec(c, "CREATE DOMAIN amount AS numeric(12,2)");
    wwt_exec(c, "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)");
    wwt_exec(c, "CREATE DOMAIN birthday AS date");
    wwt_exec(c, "CREATE TYPE floatrange AS RANGE (subtype = float8)");
    struct wwt_sb sql = {0};
    wwt_sb_printf(&sql, "CREATE TABLE %s (id int PRIMARY KEY", table);
    for (size_t i = 0; i < NCOLS; i++)
        if (in_table(&cols[i], temporal_only))
            wwt_sb_printf(&sql, ", %s %s", cols[i].name, cols[i].sqltype);
    wwt_sb_puts(&sql, ")");
    wwt_exec(c, "%s", sql.s);
    wwt_exec(c, "ALTER TABLE %s REPLICA IDENTITY FULL", table);
    free(sql.s);
}

static void insert_row(PGconn *c, const char *table, bool temporal_only, int id)
{
    int v = variant_of(id);
    struct wwt_sb sql = {0};
    wwt_sb_printf(&sql, "INSERT INTO %s (id", table);
    for (size_t i = 0; i < NCOLS; i++)
        if (in_table(&cols[i], temporal_only))
            wwt_sb_printf(&sql, ", %s", cols[i].name);
    wwt_sb_printf(&sql, ") VALUES (%d", id);
    for (size_t i = 0; i < NCOLS; i++)
        if (in_table(&cols[i], temporal_only))
            wwt_sb_printf(&sql, ", %s", v >= 0 && cols[i].v[v] ? cols[i].v[v] : "NULL");
    wwt_sb_puts(&sql, ")");
    wwt_exec(c, "%s", sql.s);
    free(sql.s);
}

/* Row id takes the values of variant v (every column). */
static void update_row(PGconn *c, const char *table, bool temporal_only, int id, int v)
{
    struct wwt_sb sql = {0};
    wwt_sb_printf(&sql, "UPDATE %s SET ", table);
    bool first = true;
    for (size_t i = 0; i < NCOLS; i++) {
        if (!in_table(&cols[i], temporal_only))
            continue;
        wwt_sb_printf(&sql, "%s%s = %s", first ? "" : ", ", cols[i].name,
                      cols[i].v[v] ? cols[i].v[v] : "NULL");
        first = false;
    }
    wwt_sb_printf(&sql, " WHERE id = %d", id);
    wwt_exec(c, "%s", sql.s);
    free(sql.s);
}

/* The text of every column of every row, now, as the type's output
 * function writes it (the oracle for what wal2json writes as null, and
 * for snapshot reads). snap[id][i]: malloc'd or NULL. */
struct snapshot {
    char *v[NROWS + 1][NCOLS];
};

static void take_snapshot(PGconn *c, const char *table, bool temporal_only, struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    struct wwt_sb sql = {0};
    wwt_sb_puts(&sql, "SELECT id");
    for (size_t i = 0; i < NCOLS; i++)
        if (in_table(&cols[i], temporal_only))
            wwt_sb_printf(&sql, ", %s", cols[i].name); /* not ::text: bpchar, inet differ */
    wwt_sb_printf(&sql, " FROM %s", table);
    PGresult *r = PQexec(c, sql.s);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
    for (int row = 0; row < PQntuples(r); row++) {
        int id = atoi(PQgetvalue(r, row, 0));
        cr_assert(id >= 1 && id <= NROWS);
        int f = 1;
        for (size_t i = 0; i < NCOLS; i++) {
            if (!in_table(&cols[i], temporal_only))
                continue;
            if (!PQgetisnull(r, row, f))
                s->v[id][i] = strdup(PQgetvalue(r, row, f));
            f++;
        }
    }
    PQclear(r);
    free(sql.s);
}

static void free_snapshot(struct snapshot *s)
{
    for (int id = 0; id <= NROWS; id++)
        for (size_t i = 0; i < NCOLS; i++)
            free(s->v[id][i]);
}

/* ---- reading both streams ----------------------------------------------- */

/* Settings of walwire's sessions, so that wal2json's text is the same. */
static void session_like_walwire(PGconn *c)
{
    wwt_exec(c, "SET DateStyle = ISO; SET TimeZone = 'UTC'; SET IntervalStyle = postgres; "
                "SET extra_float_digits = 3; SET bytea_output = hex");
}

/* wal2json's I/U/D changes of table, in commit order, until n arrived. */
static struct mj **wal2json_changes(PGconn *c, const char *slot, const char *table, size_t n)
{
    struct mj **ch = calloc(n + 64, sizeof *ch);
    size_t got = 0;
    bool all = WWT_POLL_UNTIL(
        60000, ({
            char sql[512];
            snprintf(sql, sizeof sql,
                     "SELECT data FROM pg_logical_slot_get_changes('%s', NULL, NULL, "
                     "'format-version', '2', 'include-types', 'true')",
                     slot);
            PGresult *r = PQexec(c, sql);
            cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
            for (int i = 0; i < PQntuples(r); i++) {
                const char *data = PQgetvalue(r, i, 0);
                struct mj *v = mj_parse(data, strlen(data), NULL);
                cr_assert(v, "wal2json wrote invalid JSON: %s", data);
                const char *action = mj_str(mj_get(v, "action"));
                const char *tbl = mj_str(mj_get(v, "table"));
                if (action && strchr("IUD", action[0]) && tbl && strcmp(tbl, table) == 0 &&
                    got < n + 64)
                    ch[got++] = v;
                else
                    mj_free(v);
            }
            PQclear(r);
            got >= n;
        }));
    cr_assert(all, "wal2json gave %zu of %zu changes", got, n);
    cr_assert_eq(got, n, "wal2json gave %zu changes, expected %zu", got, n);
    return ch;
}

/* walwire's value envelopes of table (c/u/d), in file order, once n are
 * there. */
static struct mj **walwire_events(struct wwt_walwire *w, const char *table, size_t n)
{
    struct mj **ev = calloc(n + 64, sizeof *ev);
    size_t got = 0;
    bool all = WWT_POLL_UNTIL(
        60000, ({
            for (size_t i = 0; i < got; i++)
                mj_free(ev[i]);
            got = 0;
            size_t len;
            char *text = wwt_read_file(w->out, &len);
            char *line = text;
            char *nl;
            while ((nl = memchr(line, '\n', (size_t)(text + len - line)))) {
                struct mj *v = mj_parse(line, (size_t)(nl - line), NULL);
                cr_assert(v, "walwire wrote invalid JSON: %.*s", (int)(nl - line), line);
                const struct mj *value = mj_get(v, "value");
                const char *op = mj_str(mj_get(value, "op"));
                const char *tbl = mj_str(mj_path(value, "source.table"));
                if (op && strchr("cud", op[0]) && tbl && strcmp(tbl, table) == 0 && got < n + 64)
                    ev[got++] = v;
                else
                    mj_free(v);
                line = nl + 1;
            }
            free(text);
            got >= n;
        }));
    cr_assert(all, "walwire wrote %zu of %zu events", got, n);
    cr_assert_eq(got, n, "walwire wrote %zu events, expected %zu", got, n);
    return ev;
}

/* The wal2json column named name in a "columns"/"identity" list. */
static const struct mj *w2j_column(const struct mj *list, const char *name)
{
    for (size_t i = 0; list && i < list->n; i++)
        if (strcmp(mj_str(mj_get(list->items[i], "name")), name) == 0)
            return mj_get(list->items[i], "value");
    return NULL;
}

struct diff_stats {
    size_t compared;
    size_t custom_compared;
    size_t differences;
    struct wwt_sb report;
};

/* Compare one tuple: walwire's row object against wal2json's column list,
 * texts of NaN/infinities from snap; with no list (snapshot reads, which
 * wal2json does not see), every text from snap. */
static void compare_tuple(struct wwt_oracle *x, bool temporal_only, const char *what, int id,
                          const struct mj *ww_row, const struct mj *w2j_list,
                          const struct snapshot *snap, struct diff_stats *st)
{
    cr_assert(ww_row && ww_row->type == MJ_OBJECT, "%s of row %d: walwire has no row", what, id);
    cr_assert(!w2j_list || w2j_list->type == MJ_ARRAY, "%s of row %d: bad wal2json", what, id);
    static const struct mj sql_null = {.type = MJ_NULL};
    for (size_t i = 0; i < NCOLS; i++) {
        const struct col *c = &cols[i];
        if (!in_table(c, temporal_only))
            continue;
        const struct mj *src = w2j_list ? w2j_column(w2j_list, c->name) : &sql_null;
        cr_assert(src, "%s of row %d: wal2json has no column %s", what, id, c->name);
        const char *text = NULL;
        char buf[32];
        switch (src->type) {
        case MJ_NULL:
            /* NULL, or NaN/Infinity of a float or numeric column */
            if (!w2j_list || (!c->array && (c->kind == WWT_FLOAT4 || c->kind == WWT_FLOAT8 ||
                                            c->kind == WWT_NUMERIC)))
                text = snap->v[id][i];
            break;
        case MJ_BOOL:
            snprintf(buf, sizeof buf, "%s", src->boolean ? "t" : "f");
            text = buf;
            break;
        case MJ_NUMBER:
        case MJ_STRING:
            text = src->str;
            break;
        default:
            cr_assert_fail("%s of row %d: wal2json value of %s is a container", what, id, c->name);
        }
        struct wwt_sb want = {0};
        wwt_expect_value(x, c->kind, c->prec, c->array,
                         strcmp(c->sqltype, "box[]") == 0 ? ';' : ',', text, &want);
        struct mj *expected = mj_parse(want.s, want.len, NULL);
        cr_assert(expected, "the test built invalid JSON for %s: %s", c->name, want.s);
        const struct mj *got = mj_get(ww_row, c->name);
        st->compared++;
        st->custom_compared += c->custom;
        if (!got || !wwt_json_same(got, expected, c->kind)) {
            struct wwt_sb g = {0};
            if (got)
                wwt_sb_json(&g, got);
            wwt_sb_printf(
                &st->report, "  %s of row %d, %s (%s): walwire %s, expected %s (text %s)\n", what,
                id, c->name, c->sqltype, got ? g.s : "(missing)", want.s, text ? text : "NULL");
            st->differences++;
            free(g.s);
        }
        mj_free(expected);
        free(want.s);
    }
}

/*
 * The whole scenario on one table: walwire started (with extra config),
 * wal2json slot, 5 inserts, 3 updates, 3 deletes, then every value of the
 * 11 events compared.
 */
static void run_differential(const char *tag, bool temporal_only, const char *extra_conf, bool iso)
{
    char *db = wwt_new_db(tag);
    PGconn *c = wwt_pg(db);
    session_like_walwire(c);
    const char *table = temporal_only ? "temporals" : "alltypes";
    create_schema(c, table, temporal_only);

    char slot[64], w2j_slot[64];
    snprintf(slot, sizeof slot, "%s_%d", tag, (int)getpid());
    snprintf(w2j_slot, sizeof w2j_slot, "%s_w2j_%d", tag, (int)getpid());
    wwt_exec(c, "SELECT pg_create_logical_replication_slot('%s', 'wal2json')", w2j_slot);

    struct wwt_walwire w;
    wwt_walwire_init(&w);
    wwt_write_config(&w, db, slot, extra_conf);
    wwt_start(&w, "run", NULL);
    bool up = WWT_POLL_UNTIL(30000,
                             wwt_file_contains(w.log, "streaming started") || wwt_exited(&w, NULL));
    char *log = wwt_read_file(w.log, NULL);
    cr_assert(up && w.pid, "walwire did not start streaming; its log:\n%s", log);
    free(log);

    /* inserts, one transaction each */
    for (int id = 1; id <= NROWS; id++)
        insert_row(c, table, temporal_only, id);
    struct snapshot after_inserts, after_updates;
    take_snapshot(c, table, temporal_only, &after_inserts);
    /* updates: every column takes another variant's values */
    update_row(c, table, temporal_only, 1, 1);
    update_row(c, table, temporal_only, 3, 0);
    update_row(c, table, temporal_only, 4, 3);
    take_snapshot(c, table, temporal_only, &after_updates);
    wwt_exec(c, "DELETE FROM %s WHERE id = 2", table);
    wwt_exec(c, "DELETE FROM %s WHERE id IN (4, 5)", table);

    enum { NEVENTS = NROWS + 3 + 3 };
    struct mj **w2j = wal2json_changes(c, w2j_slot, table, NEVENTS);
    struct mj **ww = walwire_events(&w, table, NEVENTS);
    cr_assert_eq(wwt_stop(&w), 0, "walwire did not exit cleanly");

    struct wwt_oracle x = {.pg = c, .iso = iso};
    struct diff_stats st = {0};
    for (size_t e = 0; e < NEVENTS; e++) {
        const struct mj *value = mj_get(ww[e], "value");
        const char *op = mj_str(mj_get(value, "op"));
        char action = mj_str(mj_get(w2j[e], "action"))[0];
        char want_op = action == 'I' ? 'c' : action == 'U' ? 'u' : 'd';
        cr_assert_eq(op[0], want_op, "event %zu: walwire op %s, wal2json action %c", e, op, action);
        const struct mj *cols_new = mj_get(w2j[e], "columns");
        const struct mj *cols_old = mj_get(w2j[e], "identity");
        const struct mj *any = cols_new ? cols_new : cols_old;
        int id = atoi(w2j_column(any, "id")->str);
        cr_assert_eq(mj_int(mj_get(mj_get(value, action == 'D' ? "before" : "after"), "id")), id,
                     "event %zu: rows differ", e);
        if (action == 'I') {
            compare_tuple(&x, temporal_only, "insert", id, mj_get(value, "after"), cols_new,
                          &after_inserts, &st);
        } else if (action == 'U') {
            compare_tuple(&x, temporal_only, "update (before)", id, mj_get(value, "before"),
                          cols_old, &after_inserts, &st);
            compare_tuple(&x, temporal_only, "update (after)", id, mj_get(value, "after"), cols_new,
                          &after_updates, &st);
        } else {
            compare_tuple(&x, temporal_only, "delete", id, mj_get(value, "before"), cols_old,
                          &after_updates, &st);
            cr_assert(mj_is_null(mj_get(value, "after")));
        }
    }
    cr_log_info("%s: %zu values compared (%zu of types from the type map), %d computed by SQL", tag,
                st.compared, st.custom_compared, x.sql_oracles);
    cr_expect_eq(st.differences, 0, "%zu of %zu values differ:\n%s", st.differences, st.compared,
                 st.report.s ? st.report.s : "");
    /* every event: 5 inserts and 3 deletes carry one tuple, 3 updates two */
    size_t ncols = 0;
    for (size_t i = 0; i < NCOLS; i++)
        ncols += in_table(&cols[i], temporal_only);
    cr_assert_eq(st.compared, ncols * (NROWS + 2 * 3 + 3));

    for (size_t e = 0; e < NEVENTS; e++) {
        mj_free(w2j[e]);
        mj_free(ww[e]);
    }
    free(w2j);
    free(ww);
    free(st.report.s);
    free_snapshot(&after_inserts);
    free_snapshot(&after_updates);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* The initial snapshot (COPY) goes through the same mapping: rows there
 * before walwire starts arrive as 'r' events equal to what the oracle
 * derives from the rows' text. */
Test(types, snapshot_rows_match_the_oracle, .timeout = 300)
{
    char *db = wwt_new_db("types_snap");
    PGconn *c = wwt_pg(db);
    session_like_walwire(c);
    create_schema(c, "alltypes", false);
    for (int id = 1; id <= NROWS; id++)
        insert_row(c, "alltypes", false, id);
    struct snapshot snap;
    take_snapshot(c, "alltypes", false, &snap);

    char slot[64];
    snprintf(slot, sizeof slot, "types_snap_%d", (int)getpid());
    struct wwt_walwire w;
    wwt_walwire_init(&w);
    wwt_write_config(&w, db, slot, "");
    wwt_start(&w, "run", NULL);
    struct mj **ev = NULL;
    size_t got = 0;
    bool all = WWT_POLL_UNTIL(60000, ({
                                  for (size_t i = 0; i < got; i++)
                                      mj_free(ev[i]);
                                  free(ev);
                                  ev = calloc(NROWS + 64, sizeof *ev);
                                  got = 0;
                                  size_t len;
                                  char *text = wwt_read_file(w.out, &len);
                                  char *line = text, *nl;
                                  while ((nl = memchr(line, '\n', (size_t)(text + len - line)))) {
                                      struct mj *v = mj_parse(line, (size_t)(nl - line), NULL);
                                      cr_assert(v, "walwire wrote invalid JSON: %.*s",
                                                (int)(nl - line), line);
                                      const char *op = mj_str(mj_path(v, "value.op"));
                                      if (op && op[0] == 'r' && got < NROWS + 64)
                                          ev[got++] = v;
                                      else
                                          mj_free(v);
                                      line = nl + 1;
                                  }
                                  free(text);
                                  got >= NROWS;
                              }));
    char *log = wwt_read_file(w.log, NULL);
    cr_assert(all, "walwire wrote %zu of %d snapshot rows; its log:\n%s", got, NROWS, log);
    free(log);
    cr_assert_eq(got, NROWS);
    cr_assert_eq(wwt_stop(&w), 0, "walwire did not exit cleanly");

    struct wwt_oracle x = {.pg = c};
    struct diff_stats st = {0};
    bool seen[NROWS + 1] = {0};
    for (size_t e = 0; e < got; e++) {
        const struct mj *after = mj_path(ev[e], "value.after");
        int id = (int)mj_int(mj_get(after, "id"));
        cr_assert(id >= 1 && id <= NROWS && !seen[id], "snapshot row id %d", id);
        seen[id] = true;
        compare_tuple(&x, false, "snapshot read", id, after, NULL, &snap, &st);
    }
    cr_log_info("snapshot: %zu values compared (%zu of types from the type map)", st.compared,
                st.custom_compared);
    cr_expect_eq(st.differences, 0, "%zu of %zu values differ:\n%s", st.differences, st.compared,
                 st.report.s ? st.report.s : "");
    cr_assert_eq(st.compared, NCOLS * NROWS);
    for (size_t e = 0; e < got; e++)
        mj_free(ev[e]);
    free(ev);
    free(st.report.s);
    free_snapshot(&snap);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* Issue 6, what must hold 1: every type, walwire against wal2json. */
Test(types, every_type_matches_wal2json, .timeout = 300)
{
    run_differential("types", false, "", false);
}

/* The same with [format] temporal = iso8601, on the temporal columns
 * (scalars, arrays, a domain over date and its array). */
Test(types, iso8601_temporals_match_wal2json, .timeout = 300)
{
    run_differential("types_iso", true, "\n[format]\ntemporal = iso8601\n", true);
}
