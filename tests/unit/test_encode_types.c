/*
 * Unit tests of the encoder for types that are not builtin: enums,
 * composites, ranges, domains, hstore, through a type map (relcache.c)
 * filled by hand.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "encode_fixture.h"
#include "relcache.h"

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
