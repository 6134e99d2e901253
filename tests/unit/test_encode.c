/*
 * Unit tests of the JSON encoder's type mapping (encode_types.c) and
 * base64, one value at a time. Every output is also run through a strict
 * JSON validator (json_check.c). The envelope is tested in
 * test_encode_envelope.c, types through the type map in
 * test_encode_types.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "encode_fixture.h"

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
