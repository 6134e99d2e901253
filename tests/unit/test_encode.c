/*
 * Unit tests of the JSON encoder: the type mapping (encode_types.c), the
 * Debezium envelope (encode_json.c) and base64. Every output is also run
 * through a small strict JSON validator (RFC 8259, UTF-8 checked).
 *
 * Relations are built by hand; the unit_encode_types suite fills a type map
 * (relcache.c) for the types that are not builtin.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "encode_json.h"
#include "encode_types.h"

/* ---- a strict JSON validator ------------------------------------------ */

struct jv {
    const unsigned char *p, *end;
    int depth;
};

static void jv_ws(struct jv *v)
{
    while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' || *v->p == '\n' || *v->p == '\r'))
        v->p++;
}

static bool jv_lit(struct jv *v, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(v->end - v->p) < n || memcmp(v->p, lit, n) != 0)
        return false;
    v->p += n;
    return true;
}

static bool jv_hex4(struct jv *v)
{
    for (int i = 0; i < 4; i++, v->p++)
        if (v->p == v->end || !strchr("0123456789abcdefABCDEF", *v->p) || *v->p == 0)
            return false;
    return true;
}

/* A UTF-8 sequence starting with a byte >= 0x80 (no overlongs/surrogates). */
static bool jv_utf8(struct jv *v)
{
    unsigned char c = *v->p;
    int n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c == 0xE0)
        n = 3, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        n = 3;
    else if (c == 0xED)
        n = 3, hi = 0x9F;
    else if (c == 0xF0)
        n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        n = 4;
    else if (c == 0xF4)
        n = 4, hi = 0x8F;
    else
        return false;
    if (v->end - v->p < n || v->p[1] < lo || v->p[1] > hi)
        return false;
    for (int i = 2; i < n; i++)
        if (v->p[i] < 0x80 || v->p[i] > 0xBF)
            return false;
    v->p += n;
    return true;
}

static bool jv_string(struct jv *v)
{
    v->p++; /* opening quote */
    while (v->p < v->end) {
        unsigned char c = *v->p;
        if (c == '"') {
            v->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            v->p++;
            if (v->p == v->end)
                return false;
            c = *v->p++;
            if (c == 'u') {
                if (!jv_hex4(v))
                    return false;
            } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
                return false;
            }
        } else if (c >= 0x80) {
            if (!jv_utf8(v))
                return false;
        } else {
            v->p++;
        }
    }
    return false;
}

static bool jv_digits(struct jv *v)
{
    const unsigned char *s = v->p;
    while (v->p < v->end && *v->p >= '0' && *v->p <= '9')
        v->p++;
    return v->p > s;
}

static bool jv_number(struct jv *v)
{
    if (v->p < v->end && *v->p == '-')
        v->p++;
    if (v->p < v->end && *v->p == '0')
        v->p++;
    else if (!jv_digits(v))
        return false;
    if (v->p < v->end && *v->p == '.') {
        v->p++;
        if (!jv_digits(v))
            return false;
    }
    if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
        v->p++;
        if (v->p < v->end && (*v->p == '+' || *v->p == '-'))
            v->p++;
        if (!jv_digits(v))
            return false;
    }
    return true;
}

static bool jv_value(struct jv *v);

static bool jv_container(struct jv *v, char close, bool object)
{
    if (++v->depth > 64)
        return false;
    v->p++;
    jv_ws(v);
    if (v->p < v->end && *v->p == close) {
        v->p++;
        v->depth--;
        return true;
    }
    for (;;) {
        jv_ws(v);
        if (object) {
            if (v->p == v->end || *v->p != '"' || !jv_string(v))
                return false;
            jv_ws(v);
            if (v->p == v->end || *v->p++ != ':')
                return false;
        }
        if (!jv_value(v))
            return false;
        jv_ws(v);
        if (v->p == v->end)
            return false;
        if (*v->p == close) {
            v->p++;
            v->depth--;
            return true;
        }
        if (*v->p++ != ',')
            return false;
    }
}

static bool jv_value(struct jv *v)
{
    jv_ws(v);
    if (v->p == v->end)
        return false;
    /* clang-format off */
    switch (*v->p) {
    case '{': return jv_container(v, '}', true);
    case '[': return jv_container(v, ']', false);
    case '"': return jv_string(v);
    case 't': return jv_lit(v, "true");
    case 'f': return jv_lit(v, "false");
    case 'n': return jv_lit(v, "null");
    default: return jv_number(v);
    }
    /* clang-format on */
}

static bool is_json(const char *s, size_t len)
{
    struct jv v = {(const unsigned char *)s, (const unsigned char *)s + len, 0};
    if (!jv_value(&v))
        return false;
    jv_ws(&v);
    return v.p == v.end;
}

static bool isj(const char *s)
{
    return is_json(s, strlen(s));
}

Test(unit_encode, validator_rejects_bad_json)
{
    cr_assert(isj("{\"a\":[1,-0.5e+3,\"\\u00e9\",true,null], \"b\" : {}}"));
    cr_assert(isj("\"caf\xc3\xa9\""));
    cr_assert(!isj("{\"a\":1,}"));
    cr_assert(!isj("[01]"));
    cr_assert(!isj("\"\x01\""));
    cr_assert(!isj("\"\xff\""));
    cr_assert(!isj("\"\\x\""));
    cr_assert(!isj("NaN"));
    cr_assert(!isj("[1] [2]"));
    cr_assert(!isj("1."));
    cr_assert(!isj("{1:2}"));
    cr_assert(!isj(""));
}

/* ---- fixtures ----------------------------------------------------------- */

static struct ww_encoder enc;
static struct ww_buf out;

static void setup_plain(void)
{
    struct ww_encoder_options o = {.topic_prefix = "pfx", .db_name = "app"};
    ww_encoder_init(&enc, &o);
    memset(&out, 0, sizeof out);
}

static void setup_iso(void)
{
    struct ww_encoder_options o = {
        .topic_prefix = "pfx", .db_name = "app", .temporal_iso8601 = true};
    ww_encoder_init(&enc, &o);
    memset(&out, 0, sizeof out);
}

static void teardown(void)
{
    ww_encoder_free(&enc);
    ww_buf_free(&out);
}

/* The JSON of one value, NUL-terminated in out; also checks it is JSON. */
static const char *val(uint32_t oid, int32_t typmod, const char *text)
{
    ww_buf_reset(&out);
    ww_encode_value(&enc, &out, oid, typmod, text, strlen(text));
    const char *s = ww_buf_cstr(&out);
    cr_assert(is_json(s, out.len), "not JSON: %s (from %s)", s, text);
    return s;
}

/* expect: the JSON, and whether the value counted as bad */
#define CHECK(oid, typmod, text, expect, bad)                                                      \
    do {                                                                                           \
        uint64_t before_ = enc.bad_values;                                                         \
        const char *got_ = val((oid), (typmod), (text));                                           \
        cr_expect_str_eq(got_, (expect), "%s -> %s, expected %s", (text), got_, (expect));         \
        cr_expect_eq(enc.bad_values - before_, (uint64_t)(bad), "bad count for %s", (text));       \
    } while (0)

#define OK(oid, text, expect)  CHECK(oid, -1, text, expect, 0)
#define BAD(oid, text, expect) CHECK(oid, -1, text, expect, 1)

TestSuite(unit_encode, .init = setup_plain, .fini = teardown);

/* ---- scalars ------------------------------------------------------------ */

Test(unit_encode, integers)
{
    OK(WW_OID_INT4, "1", "1");
    OK(WW_OID_INT4, "0", "0");
    OK(WW_OID_INT4, "-2147483648", "-2147483648");
    OK(WW_OID_INT2, "-32768", "-32768");
    OK(WW_OID_INT8, "9223372036854775807", "9223372036854775807");
    OK(WW_OID_INT8, "-9223372036854775808", "-9223372036854775808");
    OK(WW_OID_OID, "4294967295", "4294967295");
    BAD(WW_OID_INT4, "12a", "\"12a\"");
    BAD(WW_OID_INT4, "", "\"\"");
    BAD(WW_OID_INT4, "-", "\"-\"");
    BAD(WW_OID_INT4, "007", "\"007\"");
    BAD(WW_OID_INT8, "1.5", "\"1.5\"");
}

Test(unit_encode, floats_in_java_layout)
{
    OK(WW_OID_FLOAT8, "100", "100.0");
    OK(WW_OID_FLOAT8, "0", "0.0");
    OK(WW_OID_FLOAT8, "-0", "-0.0");
    OK(WW_OID_FLOAT8, "1.25", "1.25");
    OK(WW_OID_FLOAT8, "10000000000", "1.0E10");
    OK(WW_OID_FLOAT8, "1e+15", "1.0E15");
    OK(WW_OID_FLOAT8, "1.5e-07", "1.5E-7");
    OK(WW_OID_FLOAT8, "-2.5e-05", "-2.5E-5");
    OK(WW_OID_FLOAT8, "123456789012", "1.23456789012E11");
    OK(WW_OID_FLOAT8, "1234567", "1234567.0");
    OK(WW_OID_FLOAT8, "9999999", "9999999.0");
    OK(WW_OID_FLOAT8, "12345678", "1.2345678E7");
    OK(WW_OID_FLOAT8, "0.001", "0.001");
    OK(WW_OID_FLOAT8, "0.0001", "1.0E-4");
    OK(WW_OID_FLOAT8, "1.7976931348623157e+308", "1.7976931348623157E308");
    OK(WW_OID_FLOAT8, "5e-324", "5.0E-324");
    OK(WW_OID_FLOAT4, "0.1", "0.1");
    OK(WW_OID_FLOAT4, "3.4028235e+38", "3.4028235E38");
    /* PostgreSQL's digits exclude an exact halfway decimal, Java's include
     * it (ties to even): Java's shorter form wins */
    OK(WW_OID_FLOAT8, "9.999999999999999e+22", "1.0E23");
    OK(WW_OID_FLOAT8, "-9.999999999999999e+22", "-1.0E23");
    OK(WW_OID_FLOAT4, "1.3421901e+08", "1.34219E8");
    OK(WW_OID_FLOAT4, "-1.3421901e+08", "-1.34219E8");
    OK(WW_OID_FLOAT8, "1.3421901e+08", "1.3421901E8"); /* not halfway as a double */
    OK(WW_OID_FLOAT8, "9.007199254740992e+15", "9.007199254740992E15");
    OK(WW_OID_FLOAT8, "1.2345678901234567e+300", "1.2345678901234567E300");
    OK(WW_OID_FLOAT4, "1.6777216e+07", "1.6777216E7");
    OK(WW_OID_FLOAT8, "NaN", "\"NaN\"");
    OK(WW_OID_FLOAT8, "Infinity", "\"Infinity\"");
    OK(WW_OID_FLOAT4, "-Infinity", "\"-Infinity\"");
    BAD(WW_OID_FLOAT8, "abc", "\"abc\"");
    BAD(WW_OID_FLOAT8, "1.", "\"1.\"");
    BAD(WW_OID_FLOAT8, ".5", "\".5\"");
    BAD(WW_OID_FLOAT8, "1e", "\"1e\"");
    BAD(WW_OID_FLOAT8, "inf", "\"inf\"");
}

/* numeric: BigDecimal.toString() of the exact value (Debezium's
 * decimal.handling.mode=string), special values as SpecialValueDecimal
 * names. */
Test(unit_encode, numeric_is_an_exact_string)
{
    OK(WW_OID_NUMERIC, "123.4500", "\"123.4500\"");
    OK(WW_OID_NUMERIC, "-0.5", "\"-0.5\"");
    OK(WW_OID_NUMERIC, "0", "\"0\"");
    OK(WW_OID_NUMERIC, "12345678901234567890123456789.000000001",
       "\"12345678901234567890123456789.000000001\"");
    OK(WW_OID_NUMERIC, "NaN", "\"NAN\"");
    OK(WW_OID_NUMERIC, "Infinity", "\"POSITIVE_INFINITY\"");
    OK(WW_OID_NUMERIC, "-Infinity", "\"NEGATIVE_INFINITY\"");
    /* adjusted exponent >= -6: plain, as printed */
    OK(WW_OID_NUMERIC, "0.000001", "\"0.000001\"");
    OK(WW_OID_NUMERIC, "0.0000010", "\"0.0000010\"");
    OK(WW_OID_NUMERIC, "0.000000", "\"0.000000\"");
    OK(WW_OID_NUMERIC, "-0.00000123", "\"-0.00000123\"");
    /* below: scientific, every digit of the unscaled value kept */
    OK(WW_OID_NUMERIC, "0.0000001", "\"1E-7\"");
    OK(WW_OID_NUMERIC, "0.00000012", "\"1.2E-7\"");
    OK(WW_OID_NUMERIC, "-0.000000120", "\"-1.20E-7\"");
    OK(WW_OID_NUMERIC, "0.0000000", "\"0E-7\"");
    OK(WW_OID_NUMERIC, "0.00000000000000000000123456789012345678901234567890",
       "\"1.23456789012345678901234567890E-21\"");
    BAD(WW_OID_NUMERIC, "1e5", "\"1e5\"");
    BAD(WW_OID_NUMERIC, "1.", "\"1.\"");
    BAD(WW_OID_NUMERIC, ".5", "\".5\"");
    BAD(WW_OID_NUMERIC, "-", "\"-\"");
    BAD(WW_OID_NUMERIC, "nan", "\"nan\"");
    BAD(WW_OID_NUMERIC, "\"", "\"\\\"\"");
}

/* money: the amount without symbol or grouping, in Double.toString's
 * layout (what Debezium writes from its double), every digit kept. */
Test(unit_encode, money_is_the_amount_as_a_string)
{
    OK(WW_OID_MONEY, "$1,234.56", "\"1234.56\"");
    OK(WW_OID_MONEY, "-$1,234,567.89", "\"-1234567.89\"");
    OK(WW_OID_MONEY, "$0.00", "\"0.0\"");
    OK(WW_OID_MONEY, "-$0.50", "\"-0.5\"");
    OK(WW_OID_MONEY, "$1,000.00", "\"1000.0\"");
    OK(WW_OID_MONEY, "$12,345,678.90", "\"1.23456789E7\"");
    OK(WW_OID_MONEY, "-$92,233,720,368,547,758.08", "\"-9.223372036854775808E16\"");
    OK(WW_OID_MONEY, "$92,233,720,368,547,758.07", "\"9.223372036854775807E16\"");
    OK(WW_OID_MONEY, "($1,234.11)", "\"-1234.11\"");
    /* en_GB, ja_JP (no fraction digits): "£1,000.05", "￥1,234" */
    OK(WW_OID_MONEY, "\302\2431,000.05", "\"1000.05\"");
    OK(WW_OID_MONEY, "\357\277\2451,234", "\"1234.0\"");
    OK(WW_OID_MONEY, "$5", "\"5.0\"");
    /* layouts that could mean another amount are refused, kept as text:
     * de_DE ("1.234,56 €"), es_CL ('.' groups), ',' as the decimal point */
    BAD(WW_OID_MONEY, "1.234,56 \342\202\254", "\"1.234,56 \342\202\254\"");
    BAD(WW_OID_MONEY, "$1.500", "\"$1.500\"");
    BAD(WW_OID_MONEY, "$1,50", "\"$1,50\"");
    BAD(WW_OID_MONEY, "$1,2345.00", "\"$1,2345.00\"");
    BAD(WW_OID_MONEY, "$,123.00", "\"$,123.00\"");
    BAD(WW_OID_MONEY, "$1.5", "\"$1.5\"");
    BAD(WW_OID_MONEY, "($1.00", "\"($1.00\"");
    BAD(WW_OID_MONEY, "$", "\"$\"");
    BAD(WW_OID_MONEY, "", "\"\"");
}

Test(unit_encode, booleans)
{
    OK(WW_OID_BOOL, "t", "true");
    OK(WW_OID_BOOL, "f", "false");
    BAD(WW_OID_BOOL, "true", "\"true\"");
    BAD(WW_OID_BOOL, "", "\"\"");
}

Test(unit_encode, text_types_are_escaped_strings)
{
    OK(WW_OID_TEXT, "plain", "\"plain\"");
    OK(WW_OID_TEXT, "", "\"\"");
    OK(WW_OID_TEXT, "a\"b\\c\n\t\x01", "\"a\\\"b\\\\c\\n\\t\\u0001\"");
    OK(WW_OID_TEXT, "caf\xc3\xa9", "\"caf\xc3\xa9\"");
    OK(WW_OID_TEXT, "bad\xff\xfe", "\"bad\\ufffd\\ufffd\"");
    OK(WW_OID_VARCHAR, "v", "\"v\"");
    OK(WW_OID_BPCHAR, "ab  ", "\"ab  \"");
    OK(WW_OID_NAME, "pg_class", "\"pg_class\"");
    OK(WW_OID_CHAR, "x", "\"x\"");
    OK(WW_OID_JSON, "{\"a\": [1, 2]}", "\"{\\\"a\\\": [1, 2]}\"");
    OK(WW_OID_JSONB, "{\"a\": 1}", "\"{\\\"a\\\": 1}\"");
    OK(WW_OID_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
       "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
    OK(869 /* inet */, "192.168.0.1/24", "\"192.168.0.1/24\"");
    OK(424242 /* unknown, e.g. an enum */, "happy", "\"happy\"");
}

Test(unit_encode, bytea_is_base64)
{
    OK(WW_OID_BYTEA, "\\x", "\"\"");
    OK(WW_OID_BYTEA, "\\x0a0b", "\"Cgs=\"");
    OK(WW_OID_BYTEA, "\\x666f6f", "\"Zm9v\"");
    OK(WW_OID_BYTEA, "\\x666f6f62", "\"Zm9vYg==\"");
    OK(WW_OID_BYTEA, "\\x666F6F6261", "\"Zm9vYmE=\"");
    OK(WW_OID_BYTEA, "\\xfffefd", "\"//79\"");
    BAD(WW_OID_BYTEA, "\\x0", "\"\\\\x0\"");
    BAD(WW_OID_BYTEA, "\\xzz", "\"\\\\xzz\"");
    BAD(WW_OID_BYTEA, "abc", "\"abc\"");
}

Test(unit_encode, base64_rfc4648_vectors)
{
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        ww_buf_reset(&out);
        ww_buf_putc(&out, '<');
        ww_base64(&out, (const unsigned char *)in[i], strlen(in[i]));
        cr_expect_eq(out.len, 1 + strlen(want[i]));
        cr_expect(memcmp(out.data + 1, want[i], strlen(want[i])) == 0, "base64(%s)", in[i]);
    }
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    ww_buf_reset(&out);
    ww_base64(&out, all, sizeof all);
    cr_expect_eq(out.len, 344);
    cr_expect(memcmp(out.data, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", 44) == 0);
    cr_expect(memcmp(out.data + 336, "/P3+/w==", 8) == 0, "%.8s", out.data + 336);
}

/* ---- temporal types ----------------------------------------------------- */

Test(unit_encode, dates_are_epoch_days)
{
    OK(WW_OID_DATE, "1970-01-01", "0");
    OK(WW_OID_DATE, "1970-01-02", "1");
    OK(WW_OID_DATE, "1969-12-31", "-1");
    OK(WW_OID_DATE, "2000-02-29", "11016");
    OK(WW_OID_DATE, "2024-03-01", "19783");
    OK(WW_OID_DATE, "2016-11-04", "17109");
    OK(WW_OID_DATE, "0001-01-01", "-719162");
    OK(WW_OID_DATE, "0001-01-01 BC", "-719528"); /* year 0 */
    OK(WW_OID_DATE, "0001-02-29 BC", "-719469"); /* 1 BC is a leap year */
    OK(WW_OID_DATE, "0044-03-15 BC", "-735160");
    OK(WW_OID_DATE, "10000-01-01", "2932897");
    OK(WW_OID_DATE, "5874897-12-31", "2145042905");
    OK(WW_OID_DATE, "infinity", "2146033979");
    OK(WW_OID_DATE, "-infinity", "-2147472691");
    BAD(WW_OID_DATE, "1900-02-29", "\"1900-02-29\"");
    BAD(WW_OID_DATE, "2023-02-29", "\"2023-02-29\"");
    BAD(WW_OID_DATE, "2024-13-01", "\"2024-13-01\"");
    BAD(WW_OID_DATE, "2024-04-31", "\"2024-04-31\"");
    BAD(WW_OID_DATE, "24-01-01", "\"24-01-01\"");
    BAD(WW_OID_DATE, "2024-01-01 AD", "\"2024-01-01 AD\"");
    BAD(WW_OID_DATE, "0000-01-01", "\"0000-01-01\"");
}

Test(unit_encode, times_are_micros_or_millis)
{
    OK(WW_OID_TIME, "00:00:00", "0");
    OK(WW_OID_TIME, "03:04:05.5", "11045500000");
    OK(WW_OID_TIME, "23:59:59.999999", "86399999999");
    OK(WW_OID_TIME, "24:00:00", "86400000000");
    CHECK(WW_OID_TIME, 3, "03:04:05.123", "11045123", 0);
    CHECK(WW_OID_TIME, 0, "03:04:05", "11045000", 0);
    CHECK(WW_OID_TIME, 6, "03:04:05.000001", "11045000001", 0);
    BAD(WW_OID_TIME, "24:00:01", "\"24:00:01\"");
    BAD(WW_OID_TIME, "3:04:05", "\"3:04:05\"");
    BAD(WW_OID_TIME, "03:60:00", "\"03:60:00\"");
    BAD(WW_OID_TIME, "03:04:05.1234567", "\"03:04:05.1234567\"");
    BAD(WW_OID_TIME, "03:04:05.", "\"03:04:05.\"");
}

Test(unit_encode, timetz_is_utc_iso_string)
{
    OK(WW_OID_TIMETZ, "03:04:05.123+02", "\"01:04:05.123Z\"");
    OK(WW_OID_TIMETZ, "03:04:05+05:30", "\"21:34:05Z\"");
    OK(WW_OID_TIMETZ, "12:00:00-08", "\"20:00:00Z\"");
    OK(WW_OID_TIMETZ, "00:00:00+14:59:59", "\"09:00:01Z\"");
    OK(WW_OID_TIMETZ, "24:00:00-01", "\"01:00:00Z\"");
    OK(WW_OID_TIMETZ, "24:00:00+00", "\"24:00:00Z\"");
    OK(WW_OID_TIMETZ, "11:51:30.123789+00", "\"11:51:30.123789Z\"");
    BAD(WW_OID_TIMETZ, "03:04:05", "\"03:04:05\"");
    BAD(WW_OID_TIMETZ, "03:04:05+5", "\"03:04:05+5\"");
}

Test(unit_encode, timestamps_are_epoch_micros)
{
    OK(WW_OID_TIMESTAMP, "1970-01-01 00:00:00", "0");
    OK(WW_OID_TIMESTAMP, "1969-12-31 23:59:59.5", "-500000");
    OK(WW_OID_TIMESTAMP, "1969-12-31 23:59:59.999999", "-1");
    OK(WW_OID_TIMESTAMP, "2024-01-02 03:04:05.123456", "1704164645123456");
    OK(WW_OID_TIMESTAMP, "2000-02-29 12:00:00", "951825600000000");
    OK(WW_OID_TIMESTAMP, "0044-03-15 10:00:00.25 BC", "-63517787999750000");
    OK(WW_OID_TIMESTAMP, "infinity", "9223372036825200000");
    OK(WW_OID_TIMESTAMP, "-infinity", "-9223372036832400000");
    CHECK(WW_OID_TIMESTAMP, 3, "2024-01-02 03:04:05.123", "1704164645123", 0);
    CHECK(WW_OID_TIMESTAMP, 3, "1969-12-31 23:59:59.5", "-500", 0);
    CHECK(WW_OID_TIMESTAMP, 6, "1969-12-31 23:59:59.5", "-500000", 0);
    /* past int64 microseconds since 1970 (PostgreSQL allows up to 294276) */
    BAD(WW_OID_TIMESTAMP, "294276-12-31 23:59:59.999999", "\"294276-12-31 23:59:59.999999\"");
    BAD(WW_OID_TIMESTAMP, "2024-01-02T03:04:05", "\"2024-01-02T03:04:05\"");
    BAD(WW_OID_TIMESTAMP, "2024-01-02 03:04:05+00", "\"2024-01-02 03:04:05+00\"");
    BAD(WW_OID_TIMESTAMP, "2024-01-02", "\"2024-01-02\"");
}

Test(unit_encode, timestamptz_is_utc_iso_string)
{
    OK(WW_OID_TIMESTAMPTZ, "2024-01-02 01:04:05.123456+00", "\"2024-01-02T01:04:05.123456Z\"");
    OK(WW_OID_TIMESTAMPTZ, "2024-01-02 03:04:05+00", "\"2024-01-02T03:04:05.000000Z\"");
    OK(WW_OID_TIMESTAMPTZ, "2024-01-02 03:04:05.5+05:30", "\"2024-01-01T21:34:05.500000Z\"");
    OK(WW_OID_TIMESTAMPTZ, "1969-12-31 23:59:59.5+00", "\"1969-12-31T23:59:59.500000Z\"");
    OK(WW_OID_TIMESTAMPTZ, "0001-01-01 00:00:00+00 BC", "\"0000-01-01T00:00:00.000000Z\"");
    OK(WW_OID_TIMESTAMPTZ, "0044-03-15 10:00:00+00 BC", "\"-0043-03-15T10:00:00.000000Z\"");
    OK(WW_OID_TIMESTAMPTZ, "21016-11-04 06:51:30+00", "\"+21016-11-04T06:51:30.000000Z\"");
    OK(WW_OID_TIMESTAMPTZ, "infinity", "\"infinity\"");
    OK(WW_OID_TIMESTAMPTZ, "-infinity", "\"-infinity\"");
    CHECK(WW_OID_TIMESTAMPTZ, 3, "2024-01-02 03:04:05.12+00", "\"2024-01-02T03:04:05.120Z\"", 0);
    CHECK(WW_OID_TIMESTAMPTZ, 0, "2024-01-02 03:04:05+00", "\"2024-01-02T03:04:05Z\"", 0);
    BAD(WW_OID_TIMESTAMPTZ, "2024-01-02 03:04:05", "\"2024-01-02 03:04:05\"");
}

Test(unit_encode, intervals_are_micros_with_debezium_months)
{
    OK(WW_OID_INTERVAL, "00:00:00", "0");
    OK(WW_OID_INTERVAL, "1 year 2 mons 3 days 04:05:06.78", "37091106780000");
    OK(WW_OID_INTERVAL, "-1 years -2 mons +3 days -04:05:06.78", "-36572706780000");
    OK(WW_OID_INTERVAL, "-00:00:00.000001", "-1");
    OK(WW_OID_INTERVAL, "100:00:00", "360000000000");
    OK(WW_OID_INTERVAL, "-1 days +23:00:00", "-3600000000");
    OK(WW_OID_INTERVAL, "1 mon -1 days", "2543400000000");
    OK(WW_OID_INTERVAL, "1 year", "31557600000000"); /* 365.25 days */
    OK(WW_OID_INTERVAL, "infinity", "\"infinity\"");
    BAD(WW_OID_INTERVAL, "178000000 years", "\"178000000 years\""); /* int64 overflow */
    BAD(WW_OID_INTERVAL, "1 fortnight", "\"1 fortnight\"");
    BAD(WW_OID_INTERVAL, "", "\"\"");
    BAD(WW_OID_INTERVAL, "1 day ", "\"1 day \"");
    BAD(WW_OID_INTERVAL, "01:02", "\"01:02\"");
}

/* ---- arrays ------------------------------------------------------------- */

Test(unit_encode, arrays_of_scalars)
{
    OK(1007, "{1,2,NULL}", "[1,2,null]");
    OK(1007, "{}", "[]");
    OK(1016, "{9223372036854775807}", "[9223372036854775807]");
    OK(1000, "{t,f,NULL}", "[true,false,null]");
    OK(1022, "{1.5,100,NaN,-Infinity}", "[1.5,100.0,\"NaN\",\"-Infinity\"]");
    OK(1231, "{1.20,NaN,0.0000001}", "[\"1.20\",\"NAN\",\"1E-7\"]");
    OK(1182, "{2016-11-04,infinity}", "[17109,2146033979]");
    OK(1115, "{\"1969-12-31 23:59:59.5\"}", "[-500000]");
    OK(1185, "{\"2020-04-01 11:51:02+00\"}", "[\"2020-04-01T11:51:02.000000Z\"]");
    OK(1183, "{00:01:02,01:02:03}", "[62000000,3723000000]");
    OK(1270, "{11:51:02+00}", "[\"11:51:02Z\"]");
    OK(1187, "{\"1 day\",00:00:01}", "[86400000000,1000000]");
    OK(2951, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
       "[\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"]");
    OK(1001, "{\"\\\\x0102\",NULL}", "[\"AQI=\",null]");
    OK(3807, "{\"{\\\"a\\\": 1}\"}", "[\"{\\\"a\\\": 1}\"]");
    OK(1041, "{192.168.2.0/12,::1}", "[\"192.168.2.0/12\",\"::1\"]");
    OK(3905, "{\"[1,5)\",empty}", "[\"[1,5)\",\"empty\"]");
    CHECK(1115, 3, "{\"2024-01-02 03:04:05.123\"}", "[1704164645123]", 0);
}

Test(unit_encode, arrays_of_text_with_quoting)
{
    OK(1009, "{\"a b\",\"c\\\"d\",NULL,\"NULL\",\"\",\"x\\\\y\",\"{\",plain}",
       "[\"a b\",\"c\\\"d\",null,\"NULL\",\"\",\"x\\\\y\",\"{\",\"plain\"]");
    OK(1009, "{null,Null}", "[null,null]");
    OK(1015, "{\" sp \",\"a,b\",\"}\"}", "[\" sp \",\"a,b\",\"}\"]");
    OK(1014, "{\"cone      \"}", "[\"cone      \"]");
    OK(1009, "{\"\\u\"}", "[\"u\"]"); /* a backslash quotes any byte */
    OK(1009, "{\"tab\there\"}", "[\"tab\\there\"]");
    OK(1009, "{\"\xff\"}", "[\"\\ufffd\"]");
}

Test(unit_encode, nested_and_decorated_arrays)
{
    OK(1007, "{{1,2},{3,NULL}}", "[[1,2],[3,null]]");
    OK(1009, "{{\"a\",NULL},{\"NULL\",\"d\"}}", "[[\"a\",null],[\"NULL\",\"d\"]]");
    OK(1007, "{{{1}},{{2}}}", "[[[1]],[[2]]]");
    OK(1007, "{{},{}}", "[[],[]]");
    OK(1007, "[0:1]={1,2}", "[1,2]");
    OK(1007, "[-2:-1][1:2]={{1,2},{3,4}}", "[[1,2],[3,4]]");
    OK(1007, "{{{{{{1}}}}}}", "[[[[[[1]]]]]]"); /* 6 dimensions: the most */
}

Test(unit_encode, malformed_arrays_are_one_string)
{
    BAD(1007, "{1,2", "\"{1,2\"");
    BAD(1007, "1,2", "\"1,2\"");
    BAD(1007, "{1,2}x", "\"{1,2}x\"");
    BAD(1007, "{1,,2}", "\"{1,,2}\"");
    BAD(1009, "{\"a}", "\"{\\\"a}\"");
    BAD(1009, "{a\"b}", "\"{a\\\"b}\"");
    BAD(1007, "{{{{{{{1}}}}}}}", "\"{{{{{{{1}}}}}}}\"");
    BAD(1007, "[0:1]{1,2}", "\"[0:1]{1,2}\"");
    BAD(1007, "", "\"\"");
    /* an element that was bad before the literal failed counts only once */
    BAD(1007, "{x,\"y", "\"{x,\\\"y\"");
    /* a bad element in a good literal: the element alone is a string */
    BAD(1007, "{1,x,3}", "[1,\"x\",3]");
    CHECK(1007, -1, "{a,b}", "[\"a\",\"b\"]", 2);
}

/* ---- types Debezium shapes its own way --------------------------------- */

Test(unit_encode, bits_are_booleans_or_little_endian_bytes)
{
    /* bit(1), varbit(1): booleans */
    CHECK(WW_OID_BIT, 1, "1", "true", 0);
    CHECK(WW_OID_BIT, 1, "0", "false", 0);
    CHECK(WW_OID_VARBIT, 1, "1", "true", 0);
    CHECK(WW_OID_VARBIT, 1, "", "\"\"", 1);
    /* Debezium's own test values (AbstractRecordsProducerTest bitbin_table) */
    CHECK(WW_OID_BIT, 2, "11", "\"Aw==\"", 0);
    CHECK(WW_OID_BIT, 7, "1000000", "\"QA==\"", 0);
    CHECK(WW_OID_BIT, 2, "00", "\"\"", 0);
    CHECK(WW_OID_BIT, 24, "000000110000001000000001", "\"AQID\"", 0);
    CHECK(WW_OID_BIT, 64, "1000000000000000000000000000000000000000000000000000000000000000",
          "\"AAAAAAAAAIA=\"", 0);
    CHECK(WW_OID_VARBIT, -1, "101", "\"BQ==\"", 0);
    CHECK(WW_OID_VARBIT, -1, "111011010001000110000001000000001", "\"AQIj2gE=\"", 0);
    CHECK(WW_OID_VARBIT, -1, "1000000000000000", "\"AIA=\"", 0);
    CHECK(WW_OID_VARBIT, -1, "0000000000000001", "\"AQ==\"", 0); /* high zero bytes dropped */
    CHECK(WW_OID_VARBIT, -1, "", "\"\"", 0);
    CHECK(WW_OID_BIT, 3, "102", "\"102\"", 1);
    CHECK(WW_OID_BIT, 1, "10", "\"10\"", 1);
    /* bit(1)[] takes the column's typmod per element */
    CHECK(1561, 1, "{1,0,NULL}", "[true,false,null]", 0);
    CHECK(1563, -1, "{101,\"\"}", "[\"BQ==\",\"\"]", 0);
}

Test(unit_encode, bits_longer_than_a_base64_chunk)
{
    /* 400 bits, every 9th set: 50 bytes, crossing the 48-byte chunk. */
    char bits[401];
    unsigned char bytes[50] = {0};
    for (int i = 0; i < 400; i++) {
        int bit = 399 - i; /* character i is bit 399 - i */
        bits[i] = bit % 9 == 0 ? '1' : '0';
        if (bit % 9 == 0)
            bytes[bit / 8] |= (unsigned char)(1u << (bit % 8));
    }
    bits[400] = '\0';
    struct ww_buf want = {0};
    ww_buf_putc(&want, '"');
    ww_base64(&want, bytes, 50); /* RFC vectors above check ww_base64 itself */
    ww_buf_putc(&want, '"');
    CHECK(WW_OID_VARBIT, -1, bits, ww_buf_cstr(&want), 0);
    ww_buf_free(&want);
}

Test(unit_encode, point_is_a_geometry_struct)
{
    OK(WW_OID_POINT, "(1.5,-2)",
       "{\"x\":1.5,\"y\":-2.0,\"wkb\":\"AQEAAAAAAAAAAAD4PwAAAAAAAADA\",\"srid\":null}");
    OK(WW_OID_POINT, "(1,1)",
       "{\"x\":1.0,\"y\":1.0,\"wkb\":\"AQEAAAAAAAAAAADwPwAAAAAAAPA/\",\"srid\":null}");
    OK(WW_OID_POINT, "(0.1,1e+300)",
       "{\"x\":0.1,\"y\":1.0E300,\"wkb\":\"AQEAAACamZmZmZm5P5x1AIg85Dd+\",\"srid\":null}");
    OK(WW_OID_POINT, "(NaN,Infinity)",
       "{\"x\":\"NaN\",\"y\":\"Infinity\",\"wkb\":\"AQEAAAAAAAAAAAD4fwAAAAAAAPB/\",\"srid\":null}");
    /* 5e-324 as the floats do: walwire 5.0E-324, Java 4.9E-324 (docs) */
    OK(WW_OID_POINT, "(-0,5e-324)",
       "{\"x\":-0.0,\"y\":5.0E-324,\"wkb\":\"AQEAAAAAAAAAAAAAgAEAAAAAAAAA\",\"srid\":null}");
    OK(1017, "{\"(1,1)\",NULL}",
       "[{\"x\":1.0,\"y\":1.0,\"wkb\":\"AQEAAAAAAAAAAADwPwAAAAAAAPA/\",\"srid\":null},null]");
    BAD(WW_OID_POINT, "(1,2", "\"(1,2\"");
    BAD(WW_OID_POINT, "(1;2)", "\"(1;2)\"");
    BAD(WW_OID_POINT, "(1,x)", "\"(1,x)\"");
    BAD(WW_OID_POINT, "(0x10,1)", "\"(0x10,1)\"");
    BAD(WW_OID_POINT, "( 1,2)", "\"( 1,2)\"");
}

Test(unit_encode, geometric_types_other_than_point_are_text)
{
    OK(603, "(3,3),(2,2)", "\"(3,3),(2,2)\"");
    OK(718, "<(1,2),3>", "\"<(1,2),3>\"");
    OK(628, "{1,-1,0}", "\"{1,-1,0}\"");
    OK(601, "[(1,2),(3,4)]", "\"[(1,2),(3,4)]\"");
    OK(602, "((1,2),(3,4))", "\"((1,2),(3,4))\"");
    OK(604, "((0,0),(1,1),(1,0))", "\"((0,0),(1,1),(1,0))\"");
    /* box[] is the one array whose elements are separated by ';' */
    OK(1020, "{(1,1),(0,0);(3,3),(2,2);NULL}", "[\"(1,1),(0,0)\",\"(3,3),(2,2)\",null]");
    OK(1027, "{\"((0,0),(1,1),(1,0))\"}", "[\"((0,0),(1,1),(1,0))\"]");
}

Test(unit_encode, other_builtin_types_are_text)
{
    OK(142, "<a>&amp;</a>", "\"<a>&amp;</a>\"");
    OK(3614, "'a' 'fat':2", "\"'a' 'fat':2\"");
    OK(3615, "'fat' & 'rat'", "\"'fat' & 'rat'\"");
    OK(3904, "[1,5)", "\"[1,5)\"");
    OK(4451, "{[1,3),[5,7)}", "\"{[1,3),[5,7)}\"");
    OK(650, "10.0.0.0/8", "\"10.0.0.0/8\"");
    OK(829, "08:00:2b:01:02:03", "\"08:00:2b:01:02:03\"");
    OK(774, "08:00:2b:01:02:03:04:05", "\"08:00:2b:01:02:03:04:05\"");
    OK(3220, "16/B374D848", "\"16/B374D848\"");
    OK(22, "1 2 3", "\"1 2 3\""); /* int2vector: not an array literal */
    OK(143, "{<a/>,NULL}", "[\"<a/>\",null]");
    OK(6150, "{\"{[1,3)}\"}", "[\"{[1,3)}\"]");
    OK(791, "{$1.50,NULL}", "[\"1.5\",null]");
}

/* ---- types through the type map (ww_relcache_type) ---------------------- */

static struct ww_relcache *types;

static void add_type(uint32_t oid, char typtype, char category, uint32_t base, uint32_t elem,
                     const char *name)
{
    struct ww_type_info t = {.oid = oid,
                             .typtype = typtype,
                             .typcategory = category,
                             .base_oid = base,
                             .elem_oid = elem,
                             .name = (char *)name};
    ww_relcache_set_type(types, &t);
}

static void setup_with_types(bool iso)
{
    types = ww_relcache_new();
    add_type(50001, 'e', 'E', 0, 0, "public.mood");
    add_type(50002, 'b', 'A', 0, 50001, "public._mood");
    add_type(50003, 'd', 'N', 1700, 0, "public.amount");
    add_type(50004, 'b', 'A', 0, 50003, "public._amount");
    add_type(50005, 'c', 'C', 0, 0, "public.pair");
    add_type(50006, 'b', 'U', 0, 0, "ext.hstore");
    add_type(50007, 'b', 'A', 0, 50006, "ext._hstore");
    add_type(50008, 'b', 'S', 0, 0, "ext.citext");
    add_type(50009, 'd', 'U', 50006, 0, "public.tags");    /* domain over hstore */
    add_type(50010, 'd', 'A', 1007, 0, "public.int_list"); /* domain over int4[] */
    add_type(50011, 'r', 'R', 0, 0, "public.floatrange");
    add_type(50012, 'd', 'D', 1082, 0, "public.birthday"); /* domain over date */
    add_type(50013, 'b', 'A', 0, 50012, "public._birthday");
    add_type(50014, 'd', 'V', 1560, 0, "public.flag"); /* domain over bit */
    add_type(13221, 'd', 'N', 23, 0, "information_schema.cardinal_number");
    add_type(50015, 'b', 'A', 0, 50015, "public.loop"); /* broken: its own element */
    add_type(50016, 'd', 'N', 50017, 0, "public.d1");   /* broken: a cycle */
    add_type(50018, 'b', 'A', 0, 50019, "public.a1");   /* broken: arrays of each other */
    add_type(50019, 'b', 'A', 0, 50018, "public.a2");
    add_type(50017, 'd', 'N', 50016, 0, "public.d2");
    struct ww_encoder_options o = {
        .topic_prefix = "pfx", .db_name = "app", .temporal_iso8601 = iso, .types = types};
    ww_encoder_init(&enc, &o);
    memset(&out, 0, sizeof out);
}

static void setup_types(void)
{
    setup_with_types(false);
}

static void teardown_types(void)
{
    teardown();
    ww_relcache_free(types);
    types = NULL;
}

TestSuite(unit_encode_types, .init = setup_types, .fini = teardown_types);

Test(unit_encode_types, enums_composites_ranges_citext_are_text)
{
    OK(50001, "happy", "\"happy\"");
    OK(50005, "(1,\"a b\")", "\"(1,\\\"a b\\\")\"");
    OK(50011, "[1.5,2.5)", "\"[1.5,2.5)\"");
    OK(50008, "AbC \xc3\xa9", "\"AbC \xc3\xa9\"");
    OK(50002, "{happy,NULL,\"very sad\"}", "[\"happy\",null,\"very sad\"]");
    OK(99999, "unknown", "\"unknown\""); /* not in the map */
}

Test(unit_encode_types, domains_are_their_base_type)
{
    OK(50003, "12.50", "\"12.50\"");
    OK(50003, "NaN", "\"NAN\"");
    OK(50004, "{1.5,NULL,0.0000001}", "[\"1.5\",null,\"1E-7\"]");
    OK(50010, "{{1,2},{3,NULL}}", "[[1,2],[3,null]]");
    OK(50012, "2016-11-04", "17109");
    OK(50013, "{2016-11-04,infinity}", "[17109,2146033979]");
    OK(50009, "\"k\"=>\"v\"", "\"{\\\"k\\\":\\\"v\\\"}\"");
    CHECK(50014, 1, "1", "true", 0);
    OK(13221, "42", "42");
    BAD(50003, "abc", "\"abc\"");
    /* broken maps end as text, not in a loop */
    OK(50015, "{1}", "\"{1}\"");
    OK(50016, "7", "\"7\"");
    OK(50018, "{1}", "[\"1\"]");
}

Test(unit_encode_types, hstore_as_debezium_json_mode)
{
    OK(50006, "", "\"{}\"");
    OK(50006, "\"a\"=>\"1\", \"b c\"=>NULL", "\"{\\\"a\\\":\\\"1\\\",\\\"b c\\\":null}\"");
    /* quotes and backslashes inside keys and values: escaped twice */
    OK(50006, "\"q\\\"x\"=>\"\\\\\"", "\"{\\\"q\\\\\\\"x\\\":\\\"\\\\\\\\\\\"}\"");
    /* control characters and UTF-8 */
    OK(50006, "\"t\"=>\"a\tb\xc3\xa9\"", "\"{\\\"t\\\":\\\"a\\\\tb\xc3\xa9\\\"}\"");
    OK(50006, "\"NULL\"=>\"NULL\"", "\"{\\\"NULL\\\":\\\"NULL\\\"}\"");
    OK(50007, "{\"\\\"a\\\"=>\\\"1\\\"\",NULL}", "[\"{\\\"a\\\":\\\"1\\\"}\",null]");
    BAD(50006, "a=>1", "\"a=>1\"");
    BAD(50006, "\"a\"=>\"1\",\"b\"=>\"2\"", "\"\\\"a\\\"=>\\\"1\\\",\\\"b\\\"=>\\\"2\\\"\"");
    BAD(50006, "\"a\"=>", "\"\\\"a\\\"=>\"");
    BAD(50006, "\"a", "\"\\\"a\"");
}

/* The hstore inner JSON, unescaped once, is itself valid JSON. */
Test(unit_encode_types, hstore_inner_text_is_json)
{
    const char *s = val(50006, -1, "\"k\\\"1\"=>\"v\\\\\", \"\xc3\xa9\"=>NULL, \"nl\"=>\"a\nb\"");
    struct ww_buf inner = {0};
    for (size_t i = 1; s[i + 1]; i++) {
        if (s[i] == '\\')
            i++;
        ww_buf_putc(&inner, s[i]);
    }
    cr_assert(is_json(inner.data, inner.len), "inner: %.*s", (int)inner.len, inner.data);
    cr_assert_str_eq(ww_buf_cstr(&inner),
                     "{\"k\\\"1\":\"v\\\\\",\"\xc3\xa9\":null,\"nl\":\"a\\nb\"}");
    ww_buf_free(&inner);
}

Test(unit_encode_types, without_a_type_map_custom_types_are_text)
{
    ww_encoder_free(&enc);
    setup_plain();
    OK(50003, "12.50", "\"12.50\"");
    OK(50006, "\"a\"=>\"1\"", "\"\\\"a\\\"=>\\\"1\\\"\"");
    OK(50004, "{1.5}", "\"{1.5}\"");
}

Test(unit_encode_types, iso_temporals_through_domains_and_arrays)
{
    ww_encoder_free(&enc);
    ww_relcache_free(types);
    setup_with_types(true);
    OK(50012, "2016-11-04", "\"2016-11-04Z\"");
    OK(50013, "{2016-11-04,-infinity,NULL}", "[\"2016-11-04Z\",\"-infinity\",null]");
    OK(1183, "{03:04:05.5}", "[\"03:04:05.5Z\"]");
    OK(1115, "{\"2024-01-02 03:04:05\",infinity}", "[\"2024-01-02T03:04:05Z\",\"infinity\"]");
    OK(1185, "{\"2024-01-02 03:04:05+00\"}", "[\"2024-01-02T03:04:05.000000Z\"]");
    OK(1270, "{03:04:05+02}", "[\"01:04:05Z\"]");
    OK(1187, "{\"1 day\",-00:00:01}", "[\"P0Y0M1DT0H0M0S\",\"P0Y0M0DT0H0M-1S\"]");
}

/* ---- ISO-8601 temporals -------------------------------------------------- */

Test(unit_encode, temporals_as_iso_strings)
{
    ww_encoder_free(&enc);
    setup_iso();
    OK(WW_OID_DATE, "2024-01-02", "\"2024-01-02Z\"");
    OK(WW_OID_DATE, "0044-03-15 BC", "\"-0043-03-15Z\"");
    OK(WW_OID_DATE, "10000-01-01", "\"+10000-01-01Z\"");
    OK(WW_OID_DATE, "infinity", "\"infinity\"");
    OK(WW_OID_TIME, "03:04:05.5", "\"03:04:05.5Z\"");
    OK(WW_OID_TIME, "03:04:05", "\"03:04:05Z\"");
    OK(WW_OID_TIME, "24:00:00", "\"24:00:00Z\"");
    CHECK(WW_OID_TIME, 3, "03:04:05.120", "\"03:04:05.12Z\"", 0);
    OK(WW_OID_TIMESTAMP, "2024-01-02 03:04:05.5", "\"2024-01-02T03:04:05.5Z\"");
    OK(WW_OID_TIMESTAMP, "1969-12-31 23:59:59.999999", "\"1969-12-31T23:59:59.999999Z\"");
    OK(WW_OID_TIMESTAMP, "0044-03-15 10:00:00 BC", "\"-0043-03-15T10:00:00Z\"");
    OK(WW_OID_TIMESTAMP, "-infinity", "\"-infinity\"");
    OK(WW_OID_TIMESTAMPTZ, "2024-01-02 03:04:05+00", "\"2024-01-02T03:04:05.000000Z\"");
    OK(WW_OID_TIMETZ, "03:04:05+02", "\"01:04:05Z\"");
    OK(WW_OID_INTERVAL, "1 year 2 mons 3 days 04:05:06.78", "\"P1Y2M3DT4H5M6.78S\"");
    OK(WW_OID_INTERVAL, "00:00:00", "\"P0Y0M0DT0H0M0S\"");
    OK(WW_OID_INTERVAL, "-1 years -2 mons +3 days -04:05:06.78", "\"P-1Y-2M3DT-4H-5M-6.78S\"");
    OK(WW_OID_INTERVAL, "-00:00:00.000001", "\"P0Y0M0DT0H0M-0.000001S\"");
    OK(WW_OID_INTERVAL, "-01:00:00", "\"P0Y0M0DT-1H0M0S\"");
    OK(1182, "{2024-01-02,NULL}", "[\"2024-01-02Z\",null]");
    OK(WW_OID_INT4, "7", "7"); /* non-temporals unchanged */
}

/* ---- the envelope ------------------------------------------------------- */

/* clang-format off */
#define COL(n, oid) \
    {.name = (char *)n, .type_oid = oid, .typmod = -1, .json_name = (char *)"\"" n "\":", \
     .json_name_len = sizeof("\"" n "\":") - 1}
/* clang-format on */

static struct ww_relcol users_cols[] = {COL("id", 23), COL("name", 25), COL("bio", 25),
                                        COL("score", 701)};
static uint16_t users_keys[] = {0};
static const char users_st[] = "\"schema\":\"public\",\"table\":\"users\"";
static struct ww_relation users = {
    .relid = 16384,
    .schema = (char *)"public",
    .table = (char *)"users",
    .replident = 'd',
    .ncols = 4,
    .cols = users_cols,
    .nkeys = 1,
    .key_cols = users_keys,
    .json_schema_table = (char *)users_st,
    .json_schema_table_len = sizeof users_st - 1,
};

static const struct ww_event_source src = {
    .lsn = 24023128,
    .xid = 742,
    .commit_time_us = INT64_C(1700000000000999),
    .snapshot = "false",
    .now_ms = INT64_C(1700000000123),
};

#define SOURCE_UPTO_TABLE(table)                                                                   \
    "\"source\":{\"version\":\"0.1.0\",\"connector\":\"walwire\",\"name\":\"pfx\","                \
    "\"ts_ms\":1700000000000,\"snapshot\":\"false\",\"db\":\"app\",\"schema\":\"public\","         \
    "\"table\":\"" table "\""
#define SOURCE_USERS SOURCE_UPTO_TABLE("users") ",\"txId\":742,\"lsn\":24023128"
#define TAIL(op)     ",\"op\":\"" op "\",\"ts_ms\":1700000000123,\"transaction\":null}"

/* clang-format off */
#define T(s) {.kind = 't', .len = sizeof(s) - 1, .data = s}
#define NUL {.kind = 'n'}
#define UNCH {.kind = 'u'}
/* clang-format on */

static const char *value_str(void)
{
    const char *s = ww_buf_cstr(&enc.value);
    cr_assert(is_json(s, enc.value.len), "value is not JSON: %s", s);
    return s;
}

static const char *key_str(void)
{
    cr_assert(!enc.key_null);
    const char *s = ww_buf_cstr(&enc.key);
    cr_assert(is_json(s, enc.key.len), "key is not JSON: %s", s);
    return s;
}

Test(unit_encode, insert_envelope)
{
    struct ww_pgo_value v[] = {T("1"), T("a \"q\""), NUL, T("1.5")};
    struct ww_pgo_tuple after = {4, v};
    cr_assert_eq(ww_encode_row(&enc, 'c', &users, NULL, &after, &src), 0);
    cr_assert_str_eq(key_str(), "{\"id\":1}");
    cr_assert_str_eq(value_str(),
                     "{\"before\":null,\"after\":{\"id\":1,\"name\":\"a \\\"q\\\"\",\"bio\":null,"
                     "\"score\":1.5}," SOURCE_USERS "}" TAIL("c"));
    cr_assert_eq(enc.bad_values, 0);
}

Test(unit_encode, update_without_old_tuple_and_unchanged_toast)
{
    struct ww_pgo_value v[] = {T("1"), T("b"), UNCH, T("NaN")};
    struct ww_pgo_tuple after = {4, v};
    cr_assert_eq(ww_encode_row(&enc, 'u', &users, NULL, &after, &src), 0);
    cr_assert_str_eq(key_str(), "{\"id\":1}");
    cr_assert_str_eq(value_str(),
                     "{\"before\":null,\"after\":{\"id\":1,\"name\":\"b\","
                     "\"bio\":\"__debezium_unavailable_value\",\"score\":\"NaN\"}," SOURCE_USERS
                     ",\"unchanged_columns\":[\"bio\"]}" TAIL("u"));
}

Test(unit_encode, update_with_full_old_tuple_fills_unchanged_toast)
{
    struct ww_pgo_value old[] = {T("1"), T("a"), T("a long biography"), T("2")};
    struct ww_pgo_value v[] = {T("1"), T("b"), UNCH, T("2")};
    struct ww_pgo_tuple before = {4, old}, after = {4, v};
    cr_assert_eq(ww_encode_row(&enc, 'u', &users, &before, &after, &src), 0);
    cr_assert_str_eq(value_str(),
                     "{\"before\":{\"id\":1,\"name\":\"a\",\"bio\":\"a long biography\","
                     "\"score\":2.0},\"after\":{\"id\":1,\"name\":\"b\","
                     "\"bio\":\"a long biography\",\"score\":2.0}," SOURCE_USERS "}" TAIL("u"));
}

Test(unit_encode, update_with_key_only_old_tuple_lists_unavailable)
{
    /* the key changed: old tuple 'K' has the key, the rest null */
    struct ww_pgo_value old[] = {T("1"), NUL, NUL, NUL};
    struct ww_pgo_value v[] = {T("2"), T("b"), UNCH, UNCH};
    struct ww_pgo_tuple before = {4, old}, after = {4, v};
    cr_assert_eq(ww_encode_row(&enc, 'u', &users, &before, &after, &src), 0);
    cr_assert_str_eq(key_str(), "{\"id\":2}");
    cr_assert_str_eq(value_str(),
                     "{\"before\":{\"id\":1,\"name\":null,\"bio\":null,\"score\":null},"
                     "\"after\":{\"id\":2,\"name\":\"b\",\"bio\":\"__debezium_unavailable_value\","
                     "\"score\":\"__debezium_unavailable_value\"}," SOURCE_USERS
                     ",\"unchanged_columns\":[\"bio\",\"score\"]}" TAIL("u"));
}

Test(unit_encode, delete_with_key_only_old_tuple)
{
    struct ww_pgo_value old[] = {T("7"), NUL, NUL, NUL};
    struct ww_pgo_tuple before = {4, old};
    cr_assert_eq(ww_encode_row(&enc, 'd', &users, &before, NULL, &src), 0);
    cr_assert_str_eq(key_str(), "{\"id\":7}");
    cr_assert_str_eq(value_str(), "{\"before\":{\"id\":7,\"name\":null,\"bio\":null,"
                                  "\"score\":null},\"after\":null," SOURCE_USERS "}" TAIL("d"));
}

Test(unit_encode, delete_without_old_tuple_has_null_key)
{
    cr_assert_eq(ww_encode_row(&enc, 'd', &users, NULL, NULL, &src), 0);
    cr_assert(enc.key_null);
    cr_assert_str_eq(value_str(), "{\"before\":null,\"after\":null," SOURCE_USERS "}" TAIL("d"));
}

Test(unit_encode, snapshot_read_with_null_txid)
{
    struct ww_event_source s = src;
    s.xid = 0;
    s.snapshot = "last";
    s.commit_time_us = -1500; /* before 1970: ts_ms rounds down */
    struct ww_pgo_value v[] = {T("1"), T("x"), T("y"), T("-0")};
    struct ww_pgo_tuple after = {4, v};
    cr_assert_eq(ww_encode_row(&enc, 'r', &users, NULL, &after, &s), 0);
    cr_assert_str_eq(value_str(),
                     "{\"before\":null,\"after\":{\"id\":1,\"name\":\"x\",\"bio\":\"y\","
                     "\"score\":-0.0},\"source\":{\"version\":\"0.1.0\",\"connector\":\"walwire\","
                     "\"name\":\"pfx\",\"ts_ms\":-2,\"snapshot\":\"last\",\"db\":\"app\","
                     "\"schema\":\"public\",\"table\":\"users\",\"txId\":null,"
                     "\"lsn\":24023128}" TAIL("r"));
}

/* The cached source block must follow every field it is built from. */
Test(unit_encode, source_block_follows_its_fields)
{
    struct ww_pgo_value v[] = {T("1"), T("x"), T("y"), T("2")};
    struct ww_pgo_tuple after = {4, v};
    struct ww_event_source s = src;
    cr_assert_eq(ww_encode_row(&enc, 'c', &users, NULL, &after, &s), 0);
    cr_assert(strstr(value_str(), SOURCE_USERS "}"));
    s.lsn = 99;
    s.now_ms = 5;
    cr_assert_eq(ww_encode_row(&enc, 'c', &users, NULL, &after, &s), 0);
    cr_assert(strstr(value_str(), "\"txId\":742,\"lsn\":99}"), "%s", value_str());
    cr_assert(strstr(value_str(), "\"ts_ms\":5,"), "%s", value_str());
    s.xid = 743;
    cr_assert_eq(ww_encode_row(&enc, 'c', &users, NULL, &after, &s), 0);
    cr_assert(strstr(value_str(), "\"txId\":743,"), "%s", value_str());
    s.commit_time_us = 2000;
    cr_assert_eq(ww_encode_row(&enc, 'c', &users, NULL, &after, &s), 0);
    cr_assert(strstr(value_str(), "\"ts_ms\":2,\"snapshot\":\"false\""), "%s", value_str());
    s.snapshot = "true";
    cr_assert_eq(ww_encode_row(&enc, 'r', &users, NULL, &after, &s), 0);
    cr_assert(strstr(value_str(), "\"snapshot\":\"true\""), "%s", value_str());
    s.snapshot = "last";
    cr_assert_eq(ww_encode_row(&enc, 'r', &users, NULL, &after, &s), 0);
    cr_assert(strstr(value_str(), "\"snapshot\":\"last\""), "%s", value_str());
    /* Same fields, another table with a name of the same length. */
    static const char other_st[] = "\"schema\":\"public\",\"table\":\"userz\"";
    struct ww_relation other = users;
    other.table = (char *)"userz";
    other.json_schema_table = (char *)other_st;
    cr_assert_eq(ww_encode_row(&enc, 'r', &other, NULL, &after, &s), 0);
    cr_assert(strstr(value_str(), "\"table\":\"userz\""), "%s", value_str());
    cr_assert_eq(ww_encode_row(&enc, 'r', &users, NULL, &after, &s), 0);
    cr_assert(strstr(value_str(), "\"table\":\"users\""), "%s", value_str());
}

Test(unit_encode, table_without_key_has_null_key)
{
    struct ww_relation nokey = users;
    nokey.nkeys = 0;
    nokey.key_cols = NULL;
    struct ww_pgo_value v[] = {T("1"), T("x"), NUL, NUL};
    struct ww_pgo_tuple after = {4, v};
    ww_buf_puts(&enc.key, "stale");
    cr_assert_eq(ww_encode_row(&enc, 'c', &nokey, NULL, &after, &src), 0);
    cr_assert(enc.key_null);
    cr_assert_eq(enc.key.len, 0);
    value_str();
}

Test(unit_encode, composite_key_in_key_column_order)
{
    uint16_t keys[] = {1, 3};
    struct ww_relation r = users;
    r.nkeys = 2;
    r.key_cols = keys;
    struct ww_pgo_value v[] = {T("1"), T("n"), NUL, T("1e+16")};
    struct ww_pgo_tuple after = {4, v};
    cr_assert_eq(ww_encode_row(&enc, 'c', &r, NULL, &after, &src), 0);
    cr_assert_str_eq(key_str(), "{\"name\":\"n\",\"score\":1.0E16}");
}

Test(unit_encode, escaped_names_everywhere)
{
    struct ww_relcol cols[] = {
        {.name = (char *)"we\"ird",
         .type_oid = 25,
         .typmod = -1,
         .json_name = (char *)"\"we\\\"ird\":",
         .json_name_len = 10},
    };
    uint16_t keys[] = {0};
    static const char st[] = "\"schema\":\"s\\\\x\",\"table\":\"t\"";
    struct ww_relation r = {.schema = (char *)"s\\x",
                            .table = (char *)"t",
                            .ncols = 1,
                            .cols = cols,
                            .nkeys = 1,
                            .key_cols = keys,
                            .json_schema_table = (char *)st,
                            .json_schema_table_len = sizeof st - 1};
    ww_encoder_free(&enc);
    struct ww_encoder_options o = {.topic_prefix = "p\"x", .db_name = "d\n"};
    ww_encoder_init(&enc, &o);
    struct ww_pgo_value v[] = {UNCH};
    struct ww_pgo_tuple after = {1, v};
    cr_assert_eq(ww_encode_row(&enc, 'u', &r, NULL, &after, &src), 0);
    cr_assert_str_eq(key_str(), "{\"we\\\"ird\":\"__debezium_unavailable_value\"}");
    cr_assert_str_eq(value_str(),
                     "{\"before\":null,\"after\":{\"we\\\"ird\":\"__debezium_unavailable_value\"},"
                     "\"source\":{\"version\":\"0.1.0\",\"connector\":\"walwire\","
                     "\"name\":\"p\\\"x\",\"ts_ms\":1700000000000,\"snapshot\":\"false\","
                     "\"db\":\"d\\n\",\"schema\":\"s\\\\x\",\"table\":\"t\",\"txId\":742,"
                     "\"lsn\":24023128,\"unchanged_columns\":[\"we\\\"ird\"]}" TAIL("u"));
}

Test(unit_encode, bad_values_are_kept_and_counted)
{
    struct ww_pgo_value v[] = {T("one"), T("x"), NUL, T("fast")};
    struct ww_pgo_tuple after = {4, v};
    cr_assert_eq(ww_encode_row(&enc, 'c', &users, NULL, &after, &src), 0);
    cr_assert_eq(enc.bad_values, 3); /* id twice (key and after), score once */
    cr_assert_str_eq(key_str(), "{\"id\":\"one\"}");
    cr_assert(strstr(value_str(), "\"after\":{\"id\":\"one\",\"name\":\"x\",\"bio\":null,"
                                  "\"score\":\"fast\"}") != NULL);
}

Test(unit_encode, column_count_mismatch_is_ebadmsg)
{
    struct ww_pgo_value v[] = {T("1"), T("x")};
    struct ww_pgo_tuple after = {2, v};
    cr_assert_eq(ww_encode_row(&enc, 'c', &users, NULL, &after, &src), -EBADMSG);
    cr_assert(strstr(enc.errmsg, "public.users") != NULL, "%s", enc.errmsg);
    cr_assert(strstr(enc.errmsg, "2 columns") != NULL, "%s", enc.errmsg);
    cr_assert_eq(enc.value.len, 0);
    struct ww_pgo_tuple before = {2, v};
    cr_assert_eq(ww_encode_row(&enc, 'd', &users, &before, NULL, &src), -EBADMSG);
    cr_assert(strstr(enc.errmsg, "old tuple") != NULL, "%s", enc.errmsg);
}

Test(unit_encode, unknown_op_is_einval)
{
    struct ww_pgo_value v[] = {T("1"), T("x"), NUL, NUL};
    struct ww_pgo_tuple after = {4, v};
    cr_assert_eq(ww_encode_row(&enc, 'x', &users, NULL, &after, &src), -EINVAL);
    cr_assert(strstr(enc.errmsg, "'x'") != NULL);
}

Test(unit_encode, truncate_envelope)
{
    cr_assert_eq(ww_encode_truncate(&enc, &users, WW_PGO_TRUNCATE_CASCADE, &src), 0);
    cr_assert(enc.key_null);
    cr_assert_str_eq(value_str(),
                     "{\"before\":null,\"after\":null," SOURCE_USERS ",\"truncate_cascade\":true,"
                     "\"truncate_restart_identity\":false}" TAIL("t"));
    cr_assert_eq(ww_encode_truncate(&enc, &users, WW_PGO_TRUNCATE_RESTART_IDENTITY, &src), 0);
    cr_assert(strstr(value_str(),
                     "\"truncate_cascade\":false,\"truncate_restart_identity\":true}") != NULL);
}

Test(unit_encode, message_envelope)
{
    cr_assert_eq(ww_encode_message(&enc, true, "audit", "hello\0x", 7, &src), 0);
    cr_assert_str_eq(key_str(), "{\"prefix\":\"audit\"}");
    cr_assert_str_eq(value_str(),
                     "{\"op\":\"m\",\"ts_ms\":1700000000123,\"source\":{\"version\":\"0.1.0\","
                     "\"connector\":\"walwire\",\"name\":\"pfx\",\"ts_ms\":1700000000000,"
                     "\"snapshot\":\"false\",\"db\":\"app\",\"schema\":\"\",\"table\":\"\","
                     "\"txId\":742,\"lsn\":24023128},"
                     "\"message\":{\"prefix\":\"audit\",\"content\":\"aGVsbG8AeA==\"}}");
    cr_assert_eq(ww_encode_message(&enc, false, "p\"q", "", 0, &src), 0);
    cr_assert_str_eq(key_str(), "{\"prefix\":\"p\\\"q\"}");
    const char *v = value_str();
    cr_assert(strstr(v, "\"txId\":null,") != NULL, "%s", v);
    cr_assert(strstr(v, "\"message\":{\"prefix\":\"p\\\"q\",\"content\":\"\"}}") != NULL, "%s", v);
}

Test(unit_encode, iso_option_reaches_rows)
{
    ww_encoder_free(&enc);
    setup_iso();
    struct ww_relcol cols[] = {COL("d", 1082), COL("ts", 1114)};
    uint16_t keys[] = {0};
    static const char st[] = "\"schema\":\"public\",\"table\":\"ev\"";
    struct ww_relation r = {.schema = (char *)"public",
                            .table = (char *)"ev",
                            .ncols = 2,
                            .cols = cols,
                            .nkeys = 1,
                            .key_cols = keys,
                            .json_schema_table = (char *)st,
                            .json_schema_table_len = sizeof st - 1};
    struct ww_pgo_value v[] = {T("2024-01-02"), T("2024-01-02 03:04:05")};
    struct ww_pgo_tuple after = {2, v};
    cr_assert_eq(ww_encode_row(&enc, 'c', &r, NULL, &after, &src), 0);
    cr_assert_str_eq(key_str(), "{\"d\":\"2024-01-02Z\"}");
    cr_assert(strstr(value_str(),
                     "\"after\":{\"d\":\"2024-01-02Z\",\"ts\":\"2024-01-02T03:04:05Z\"}") != NULL);
}

/* Every type in one wide row: all outputs together still form valid JSON,
 * and a second encode of the same row reuses the grown buffers. */
Test(unit_encode, wide_row_is_json_and_does_not_reallocate)
{
    struct ww_relcol cols[] = {
        COL("i2", 21),   COL("i8", 20),    COL("f4", 700),  COL("n", 1700),    COL("b", 16),
        COL("t", 25),    COL("j", 3802),   COL("by", 17),   COL("u", 2950),    COL("d", 1082),
        COL("tm", 1083), COL("ttz", 1266), COL("ts", 1114), COL("tstz", 1184), COL("iv", 1186),
        COL("ai", 1007), COL("at", 1009),  COL("ab", 1001), COL("bad", 23),    COL("nul", 25),
    };
    uint16_t keys[] = {0, 1};
    static const char st[] = "\"schema\":\"public\",\"table\":\"wide\"";
    struct ww_relation r = {.schema = (char *)"public",
                            .table = (char *)"wide",
                            .ncols = 20,
                            .cols = cols,
                            .nkeys = 2,
                            .key_cols = keys,
                            .json_schema_table = (char *)st,
                            .json_schema_table_len = sizeof st - 1};
    struct ww_pgo_value v[] = {
        T("-5"),
        T("42"),
        T("1.5e-07"),
        T("NaN"),
        T("t"),
        T("q\"\\\x01\xff"),
        T("{\"k\": [1]}"),
        T("\\xdeadbeef"),
        T("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        T("0044-03-15 BC"),
        T("24:00:00"),
        T("03:04:05-08"),
        T("1969-12-31 23:59:59.5"),
        T("2024-01-02 03:04:05.123456+00"),
        T("-1 days +23:00:00"),
        T("{{1,NULL},{3,4}}"),
        T("{\"a\\\\b\",NULL,\"NULL\"}"),
        T("{\"\\\\x00\"}"),
        T("oops"),
        NUL,
    };
    struct ww_pgo_tuple after = {20, v};
    cr_assert_eq(ww_encode_row(&enc, 'c', &r, NULL, &after, &src), 0);
    value_str();
    key_str();
    cr_assert_eq(enc.bad_values, 1);
    /* the largest event first: an update carrying both tuples */
    cr_assert_eq(ww_encode_row(&enc, 'u', &r, &after, &after, &src), 0);
    value_str();
    size_t len = enc.value.len, cap = enc.value.cap, key_cap = enc.key.cap;
    char *data = enc.value.data, *key = enc.key.data, *scratch = enc.scratch.data;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ww_encode_row(&enc, 'c', &r, NULL, &after, &src), 0);
        cr_assert_eq(ww_encode_row(&enc, 'u', &r, &after, &after, &src), 0);
    }
    cr_assert_eq(enc.value.len, len);
    cr_assert_eq(enc.value.data, data, "value buffer was reallocated");
    cr_assert_eq(enc.value.cap, cap);
    cr_assert_eq(enc.key.data, key, "key buffer was reallocated");
    cr_assert_eq(enc.key.cap, key_cap);
    cr_assert_eq(enc.scratch.data, scratch, "scratch buffer was reallocated");
    value_str();
}

Test(unit_encode, transaction_records_and_block)
{
    ww_encode_tx_begin(&enc, "742:24023128", INT64_C(1700000000000999));
    cr_assert_str_eq(key_str(), "{\"id\":\"742:24023128\"}");
    cr_assert_str_eq(value_str(), "{\"status\":\"BEGIN\",\"id\":\"742:24023128\","
                                  "\"ts_ms\":1700000000000,\"event_count\":null,"
                                  "\"data_collections\":null}");
    struct ww_tx_collection cols[] = {{"public", "users", 2}, {"s\"q", "t", 1}};
    ww_encode_tx_end(&enc, "742:24023128", INT64_C(1700000000000999), 3, cols, 2);
    cr_assert_str_eq(value_str(),
                     "{\"status\":\"END\",\"id\":\"742:24023128\",\"ts_ms\":1700000000000,"
                     "\"event_count\":3,\"data_collections\":[{\"data_collection\":"
                     "\"public.users\",\"event_count\":2},{\"data_collection\":\"s\\\"q.t\","
                     "\"event_count\":1}]}");
    struct ww_event_tx tx = {"742:24023128", 2, 1};
    struct ww_event_source s = src;
    s.tx = &tx;
    struct ww_pgo_value v[] = {T("1"), T("x"), NUL, T("1")};
    struct ww_pgo_tuple after = {4, v};
    cr_assert_eq(ww_encode_row(&enc, 'c', &users, NULL, &after, &s), 0);
    cr_assert(strstr(value_str(), ",\"transaction\":{\"id\":\"742:24023128\",\"total_order\":2,"
                                  "\"data_collection_order\":1}}"),
              "%s", value_str());
}
