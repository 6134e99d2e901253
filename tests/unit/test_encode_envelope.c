/*
 * Unit tests of the Debezium envelope (encode_json.c): keys, before/after,
 * unchanged TOAST values, source block, truncate, messages, transaction
 * records, on relations built by hand. Every output is checked as JSON.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "encode_fixture.h"

TestSuite(unit_encode_envelope, .init = setup_plain, .fini = teardown);

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

Test(unit_encode_envelope, insert_envelope)
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

Test(unit_encode_envelope, update_without_old_tuple_and_unchanged_toast)
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

Test(unit_encode_envelope, update_with_full_old_tuple_fills_unchanged_toast)
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

Test(unit_encode_envelope, update_with_key_only_old_tuple_lists_unavailable)
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

Test(unit_encode_envelope, delete_with_key_only_old_tuple)
{
    struct ww_pgo_value old[] = {T("7"), NUL, NUL, NUL};
    struct ww_pgo_tuple before = {4, old};
    cr_assert_eq(ww_encode_row(&enc, 'd', &users, &before, NULL, &src), 0);
    cr_assert_str_eq(key_str(), "{\"id\":7}");
    cr_assert_str_eq(value_str(), "{\"before\":{\"id\":7,\"name\":null,\"bio\":null,"
                                  "\"score\":null},\"after\":null," SOURCE_USERS "}" TAIL("d"));
}

Test(unit_encode_envelope, delete_without_old_tuple_has_null_key)
{
    cr_assert_eq(ww_encode_row(&enc, 'd', &users, NULL, NULL, &src), 0);
    cr_assert(enc.key_null);
    cr_assert_str_eq(value_str(), "{\"before\":null,\"after\":null," SOURCE_USERS "}" TAIL("d"));
}

Test(unit_encode_envelope, snapshot_read_with_null_txid)
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
Test(unit_encode_envelope, source_block_follows_its_fields)
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

Test(unit_encode_envelope, table_without_key_has_null_key)
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

Test(unit_encode_envelope, composite_key_in_key_column_order)
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

Test(unit_encode_envelope, escaped_names_everywhere)
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

Test(unit_encode_envelope, bad_values_are_kept_and_counted)
{
    struct ww_pgo_value v[] = {T("one"), T("x"), NUL, T("fast")};
    struct ww_pgo_tuple after = {4, v};
    cr_assert_eq(ww_encode_row(&enc, 'c', &users, NULL, &after, &src), 0);
    cr_assert_eq(enc.bad_values, 3); /* id twice (key and after), score once */
    cr_assert_str_eq(key_str(), "{\"id\":\"one\"}");
    cr_assert(strstr(value_str(), "\"after\":{\"id\":\"one\",\"name\":\"x\",\"bio\":null,"
                                  "\"score\":\"fast\"}") != NULL);
}

Test(unit_encode_envelope, column_count_mismatch_is_ebadmsg)
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

Test(unit_encode_envelope, unknown_op_is_einval)
{
    struct ww_pgo_value v[] = {T("1"), T("x"), NUL, NUL};
    struct ww_pgo_tuple after = {4, v};
    cr_assert_eq(ww_encode_row(&enc, 'x', &users, NULL, &after, &src), -EINVAL);
    cr_assert(strstr(enc.errmsg, "'x'") != NULL);
}

Test(unit_encode_envelope, truncate_envelope)
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

Test(unit_encode_envelope, message_envelope)
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

Test(unit_encode_envelope, iso_option_reaches_rows)
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
Test(unit_encode_envelope, wide_row_is_json_and_does_not_reallocate)
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

Test(unit_encode_envelope, transaction_records_and_block)
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
