/*
 * pgoutput decoder tests on hand-built messages.
 * malformed_*: one per way a message can be broken.
 * valid_*: what the recorded session (test_pgoutput.c) does not cover.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pgo_fixture.h"

/* ---- hand-built messages that must be rejected ------------------------ */

TestSuite(malformed, .init = setup, .fini = teardown);

Test(malformed, empty_message)
{
    struct mb m = {0};
    assert_bad(&m, "empty", NULL);
}

Test(malformed, unknown_message_type)
{
    struct mb m = {0};
    p8(&m, 'Z');
    p32(&m, 0);
    assert_bad(&m, "unknown message type 'Z'", NULL);
    m.n = 0;
    p8(&m, 0x00);
    assert_bad(&m, "unknown message type 0x00", NULL);
    /* Protocol 2+ streaming messages are not version 1. */
    m.n = 0;
    p8(&m, 'S');
    p32(&m, 1);
    p8(&m, 1);
    assert_bad(&m, "unknown message type 'S'", NULL);
}

Test(malformed, truncated_begin_names_the_field)
{
    struct mb m = {0};
    p8(&m, 'B');
    p64(&m, 0x100);
    p64(&m, 0);
    p16(&m, 0); /* xid cut in half */
    assert_bad(&m, "Begin: xid: truncated", "2 left");
}

Test(malformed, trailing_garbage_after_commit)
{
    struct mb m = {0};
    p8(&m, 'C');
    p8(&m, 0);
    p64(&m, 1);
    p64(&m, 2);
    p64(&m, 3);
    struct ww_pgo_msg out;
    cr_assert_eq(dec(&m, &out), 0, "%s", D.errmsg);
    p8(&m, 0);
    assert_bad(&m, "Commit", "1 bytes of trailing garbage");
}

Test(malformed, strings_without_nul)
{
    struct mb m = {0};
    p8(&m, 'R');
    p32(&m, 1);
    pbytes(&m, "public", 6); /* no NUL, end of message */
    assert_bad(&m, "Relation: namespace", "NUL");

    m.n = 0;
    p8(&m, 'Y');
    p32(&m, 1);
    pstr(&m, "public");
    pbytes(&m, "mood", 4);
    assert_bad(&m, "Type: type name", "NUL");

    m.n = 0;
    p8(&m, 'O');
    p64(&m, 1);
    pbytes(&m, "up", 2);
    assert_bad(&m, "Origin: name", "NUL");

    m.n = 0;
    p8(&m, 'M');
    p8(&m, 1);
    p64(&m, 1);
    pbytes(&m, "pre", 3);
    assert_bad(&m, "Message: prefix", "NUL");
}

Test(malformed, column_name_without_nul)
{
    struct mb m = {0};
    p8(&m, 'R');
    p32(&m, 1);
    pstr(&m, "public");
    pstr(&m, "t");
    p8(&m, 'd');
    p16(&m, 1);
    p8(&m, 1);
    pbytes(&m, "idxxxxxxxxxxxx", 14); /* enough bytes, but no NUL */
    assert_bad(&m, "Relation: column 1 of 1", "NUL");
}

/* The head of an Insert of one column: 'I', relid, 'N', ncols 1. */
static void insert_head(struct mb *m)
{
    p8(m, 'I');
    p32(m, 16384);
    p8(m, 'N');
    p16(m, 1);
}

Test(malformed, negative_value_length)
{
    struct mb m = {0};
    insert_head(&m);
    p8(&m, 't');
    p32(&m, 0xffffffff);
    assert_bad(&m, "Insert: new tuple column 1 of 1", "negative length -1");
}

Test(malformed, oversize_value_length)
{
    struct mb m = {0};
    insert_head(&m);
    p8(&m, 't');
    p32(&m, 1000);
    pbytes(&m, "twelve bytes", 12);
    assert_bad(&m, "Insert: new tuple column 1 of 1",
               "value length 1000 exceeds the 12 bytes left");

    m.n = 0;
    insert_head(&m);
    p8(&m, 'b');
    p32(&m, 0x7fffffff);
    assert_bad(&m, "value length 2147483647 exceeds the 0 bytes left", NULL);
}

Test(malformed, unknown_value_kind)
{
    struct mb m = {0};
    insert_head(&m);
    p8(&m, 'x');
    assert_bad(&m, "Insert: new tuple column 1 of 1", "unknown value kind 0x78");
}

Test(malformed, negative_and_impossible_column_counts)
{
    struct mb m = {0};
    p8(&m, 'I');
    p32(&m, 1);
    p8(&m, 'N');
    p16(&m, 0xffff);
    assert_bad(&m, "Insert: new tuple column count", "negative count -1");

    /* 30000 columns announced, 3 bytes follow: rejected before the
     * decoder grows its arrays for them. */
    m.n = 0;
    p8(&m, 'I');
    p32(&m, 1);
    p8(&m, 'N');
    p16(&m, 30000);
    pbytes(&m, "nnn", 3);
    assert_bad(&m, "30000 columns cannot fit in the 3 bytes left", NULL);
    cr_assert_lt(D.values_cap, 30000);

    m.n = 0;
    p8(&m, 'R');
    p32(&m, 1);
    pstr(&m, "public");
    pstr(&m, "t");
    p8(&m, 'd');
    p16(&m, 0x8000);
    assert_bad(&m, "Relation: column count", "negative count -32768");

    m.n = 0;
    p8(&m, 'R');
    p32(&m, 1);
    pstr(&m, "public");
    pstr(&m, "t");
    p8(&m, 'd');
    p16(&m, 2);
    p8(&m, 1);
    pstr(&m, "id");
    p32(&m, 23);
    p32(&m, 0xffffffff);
    assert_bad(&m, "Relation", "2 columns cannot fit in the 12 bytes left");
    cr_assert_lt(D.cols_cap, 30000);
}

Test(malformed, unknown_replica_identity)
{
    struct mb m = {0};
    p8(&m, 'R');
    p32(&m, 1);
    pstr(&m, "public");
    pstr(&m, "t");
    p8(&m, 'z');
    p16(&m, 0);
    assert_bad(&m, "Relation: replica identity", "unknown value 0x7a");
}

Test(malformed, bad_tuple_markers)
{
    struct mb m = {0};
    p8(&m, 'U');
    p32(&m, 1);
    p8(&m, 'X');
    p16(&m, 0);
    assert_bad(&m, "Update: tuple marker", "expected 'K', 'O' or 'N', got 0x58");

    /* An old key tuple, then something other than 'N'. */
    m.n = 0;
    p8(&m, 'U');
    p32(&m, 1);
    p8(&m, 'K');
    p16(&m, 1);
    ptext(&m, "1");
    p8(&m, 'K');
    p16(&m, 1);
    ptext(&m, "2");
    assert_bad(&m, "Update: new tuple marker", "expected 'N', got 0x4b");

    /* Update with an old tuple and no new one at all. */
    m.n = 0;
    p8(&m, 'U');
    p32(&m, 1);
    p8(&m, 'O');
    p16(&m, 1);
    ptext(&m, "1");
    assert_bad(&m, "Update: new tuple marker: truncated", NULL);

    m.n = 0;
    p8(&m, 'I');
    p32(&m, 1);
    p8(&m, 'K');
    p16(&m, 0);
    assert_bad(&m, "Insert: tuple marker", "expected 'N'");

    m.n = 0;
    p8(&m, 'D');
    p32(&m, 1);
    p8(&m, 'N');
    p16(&m, 0);
    assert_bad(&m, "Delete: tuple marker", "expected 'K' or 'O'");
}

Test(malformed, truncate_counts)
{
    struct mb m = {0};
    p8(&m, 'T');
    p32(&m, 0x80000000);
    p8(&m, 0);
    assert_bad(&m, "Truncate: relation count", "negative length");

    /* A million relids announced, one present. */
    m.n = 0;
    p8(&m, 'T');
    p32(&m, 1000000);
    p8(&m, 1);
    p32(&m, 42);
    assert_bad(&m, "Truncate", "1000000 relids cannot fit in the 4 bytes left");
    cr_assert_lt(D.relids_cap, 1000000);

    /* Two relids announced, one and a half given. */
    m.n = 0;
    p8(&m, 'T');
    p32(&m, 2);
    p8(&m, 0);
    p32(&m, 1);
    p16(&m, 0);
    assert_bad(&m, "Truncate", "2 relids cannot fit in the 6 bytes left");
}

Test(malformed, message_content_length)
{
    struct mb m = {0};
    p8(&m, 'M');
    p8(&m, 0);
    p64(&m, 5);
    pstr(&m, "p");
    p32(&m, 0xfffffffe);
    assert_bad(&m, "Message: content length", "negative length -2");

    m.n = 0;
    p8(&m, 'M');
    p8(&m, 0);
    p64(&m, 5);
    pstr(&m, "p");
    p32(&m, 10);
    pbytes(&m, "short", 5);
    assert_bad(&m, "Message: content length 10 exceeds the 5 bytes left", NULL);
}

/* ---- hand-built messages that must decode ----------------------------- */

TestSuite(valid, .init = setup, .fini = teardown);

Test(valid, begin_and_commit_take_full_width_fields)
{
    struct mb m = {0};
    struct ww_pgo_msg out;
    p8(&m, 'B');
    p64(&m, UINT64_C(0xFFFFFFFFFFFFFFFE));
    p64(&m, UINT64_C(0xFFFFFFFFFFFFFFFF)); /* -1 µs: just before 2000 */
    p32(&m, 0xFFFFFFFF);
    cr_assert_eq(dec(&m, &out), 0, "%s", D.errmsg);
    cr_assert_eq(out.kind, WW_PGO_BEGIN);
    cr_assert_eq(out.begin.final_lsn, UINT64_C(0xFFFFFFFFFFFFFFFE));
    cr_assert_eq(out.begin.commit_time, -1);
    cr_assert_eq(out.begin.xid, 0xFFFFFFFF);

    m.n = 0;
    p8(&m, 'C');
    p8(&m, 0);
    p64(&m, 0x0102030405060708);
    p64(&m, 0x1112131415161718);
    p64(&m, 757382400000000);
    cr_assert_eq(dec(&m, &out), 0, "%s", D.errmsg);
    cr_assert_eq(out.commit.commit_lsn, 0x0102030405060708);
    cr_assert_eq(out.commit.end_lsn, 0x1112131415161718);
    cr_assert_eq(out.commit.commit_time, 757382400000000);
}

Test(valid, binary_values_and_empty_text)
{
    struct mb m = {0};
    struct ww_pgo_msg out;
    p8(&m, 'I');
    p32(&m, 7);
    p8(&m, 'N');
    p16(&m, 3);
    p8(&m, 'b');
    p32(&m, 4);
    pbytes(&m, "\x00\x00\x00\x2a", 4);
    p8(&m, 't');
    p32(&m, 0);
    p8(&m, 'u');
    cr_assert_eq(dec(&m, &out), 0, "%s", D.errmsg);
    const struct ww_pgo_value *v = out.change.new_tuple.values;
    cr_assert_eq(out.change.new_tuple.ncols, 3);
    cr_assert_eq(v[0].kind, WW_PGO_BINARY);
    cr_assert_eq(v[0].len, 4);
    cr_assert(memcmp(v[0].data, "\x00\x00\x00\x2a", 4) == 0);
    cr_assert_eq(v[1].kind, WW_PGO_TEXT);
    cr_assert_eq(v[1].len, 0);
    cr_assert_eq(v[2].kind, WW_PGO_UNCHANGED);
}

Test(valid, truncate_relids_in_host_order)
{
    struct mb m = {0};
    struct ww_pgo_msg out;
    p8(&m, 'T');
    p32(&m, 3);
    p8(&m, WW_PGO_TRUNCATE_RESTART_IDENTITY);
    p32(&m, 0x01020304);
    p32(&m, 16384);
    p32(&m, 0xFFFFFFFF);
    cr_assert_eq(dec(&m, &out), 0, "%s", D.errmsg);
    cr_assert_eq(out.truncate.options, WW_PGO_TRUNCATE_RESTART_IDENTITY);
    cr_assert_eq(out.truncate.nrelids, 3);
    cr_assert_eq(out.truncate.relids[0], 0x01020304);
    cr_assert_eq(out.truncate.relids[1], 16384);
    cr_assert_eq(out.truncate.relids[2], 0xFFFFFFFF);

    m.n = 0;
    p8(&m, 'T');
    p32(&m, 0);
    p8(&m, 0);
    cr_assert_eq(dec(&m, &out), 0, "%s", D.errmsg);
    cr_assert_eq(out.truncate.nrelids, 0);
}

Test(valid, message_content_may_hold_nul_bytes)
{
    struct mb m = {0};
    struct ww_pgo_msg out;
    p8(&m, 'M');
    p8(&m, 0);
    p64(&m, 0x16B374D848);
    pstr(&m, "");
    p32(&m, 3);
    pbytes(&m, "a\0b", 3);
    cr_assert_eq(dec(&m, &out), 0, "%s", D.errmsg);
    cr_assert_eq(out.message.lsn, 0x16B374D848);
    cr_assert_str_eq(out.message.prefix, "");
    cr_assert_eq(out.message.content_len, 3);
    cr_assert(memcmp(out.message.content, "a\0b", 3) == 0);
}

Test(valid, relation_in_pg_catalog_with_typmod)
{
    struct mb m = {0};
    struct ww_pgo_msg out;
    p8(&m, 'R');
    p32(&m, 1259);
    pstr(&m, "");
    pstr(&m, "weird \"name\"");
    p8(&m, 'n');
    p16(&m, 2);
    p8(&m, 0);
    pstr(&m, "v");
    p32(&m, 1043);
    p32(&m, 14);  /* varchar(10) */
    p8(&m, 0xFE); /* only bit 1 means anything */
    pstr(&m, "");
    p32(&m, 25);
    p32(&m, 0xFFFFFFFF);
    cr_assert_eq(dec(&m, &out), 0, "%s", D.errmsg);
    cr_assert_eq(out.relation.relid, 1259);
    cr_assert_str_eq(out.relation.nspname, "");
    cr_assert_str_eq(out.relation.relname, "weird \"name\"");
    cr_assert_eq(out.relation.replident, WW_REPLIDENT_NOTHING);
    cr_assert_eq(out.relation.cols[0].typmod, 14);
    cr_assert(!out.relation.cols[0].is_identity);
    cr_assert_str_eq(out.relation.cols[1].name, "");
    cr_assert_eq(out.relation.cols[1].typmod, -1);
    cr_assert(!out.relation.cols[1].is_identity);
}

Test(valid, arrays_grow_for_a_wide_update)
{
    /* An Update of 1600 columns (PostgreSQL's maximum) with an old row. */
    static struct mb m;
    struct ww_pgo_msg out;
    m.n = 0;
    p8(&m, 'U');
    p32(&m, 9);
    p8(&m, 'O');
    p16(&m, 1600);
    for (int i = 0; i < 1600; i++)
        p8(&m, i % 2 ? 'n' : 'u');
    p8(&m, 'N');
    p16(&m, 1600);
    for (int i = 0; i < 1600; i++)
        ptext(&m, i == 1599 ? "last" : "");
    cr_assert_leq(m.n, sizeof m.b);
    cr_assert_eq(dec(&m, &out), 0, "%s", D.errmsg);
    cr_assert_eq(out.change.old_kind, 'O');
    cr_assert_eq(out.change.old_tuple.ncols, 1600);
    cr_assert_eq(out.change.new_tuple.ncols, 1600);
    cr_assert_geq(D.values_cap, 3200);
    cr_assert_eq(out.change.old_tuple.values[0].kind, WW_PGO_UNCHANGED);
    cr_assert_eq(out.change.old_tuple.values[1599].kind, WW_PGO_NULL);
    cr_assert_eq(out.change.new_tuple.values, out.change.old_tuple.values + 1600);
    assert_text(&out.change.new_tuple.values[1599], "last");
}
