/*
 * pgoutput decoder tests on a recorded session: decode every frame of
 * tests/fixtures/pgoutput_v1.frames, a session recorded from PostgreSQL 15
 * (tests/fixtures/session.sql says what it did), and check what each
 * message must contain. Hand-built messages: test_pgoutput_built.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pgo_fixture.h"

/* ---- finding messages in the recorded session ------------------------- */

static void decode_frame(size_t i, struct ww_pgo_msg *m)
{
    int rc = ww_pgo_decode(&D, F.frames[i].data, F.frames[i].len, m);
    cr_assert_eq(rc, 0, "frame %zu: %s", i, D.errmsg);
}

/* Relation names learnt while scanning the fixture. */
static struct {
    uint32_t relid;
    char name[64];
} rels[32];
static size_t nrels;

static const char *relname_of(uint32_t relid)
{
    for (size_t i = 0; i < nrels; i++)
        if (rels[i].relid == relid)
            return rels[i].name;
    return NULL;
}

static void learn(const struct ww_pgo_msg *m)
{
    if (m->kind != WW_PGO_RELATION || relname_of(m->relation.relid))
        return;
    cr_assert_lt(nrels, 32);
    rels[nrels].relid = m->relation.relid;
    snprintf(rels[nrels].name, sizeof rels[nrels].name, "%s", m->relation.relname);
    nrels++;
}

/* Decode the fixture from the start up to the nth (0-based) message of
 * `kind` on table `table` (NULL: any), leave it in *m, return its index. */
static size_t find(char kind, const char *table, int nth, struct ww_pgo_msg *m)
{
    int want = nth;
    for (size_t i = 0; i < F.n; i++) {
        decode_frame(i, m);
        learn(m);
        if (m->kind != kind)
            continue;
        if (table) {
            uint32_t relid = kind == WW_PGO_RELATION ? m->relation.relid : m->change.relid;
            const char *name = relname_of(relid);
            cr_assert_not_null(name, "frame %zu: change before its Relation message", i);
            if (strcmp(name, table) != 0)
                continue;
        }
        if (nth-- == 0)
            return i;
    }
    cr_assert_fail("no message %c #%d for %s in the fixture", kind, want, table ? table : "-");
    return 0;
}

/* ---- the recorded session --------------------------------------------- */

TestSuite(fixture, .init = setup, .fini = teardown);

Test(fixture, every_frame_decodes_in_the_recorded_order)
{
    /* session.sql, transaction by transaction (the non-transactional
     * message stands alone). */
    static const char want[] = "BYRIIC"
                               "BUC"
                               "BUC"
                               "BRIC"
                               "BUC"
                               "BRIC"
                               "BUC"
                               "BDC"
                               "BDC"
                               "BRIC"
                               "BRRTC"
                               "BMRIC"
                               "M"
                               "BYRIC"
                               "BRIC"
                               "BOIC";
    cr_assert_eq(F.n, strlen(want), "%zu frames, want %zu", F.n, strlen(want));
    for (size_t i = 0; i < F.n; i++) {
        struct ww_pgo_msg m;
        decode_frame(i, &m);
        cr_assert_eq(m.kind, want[i], "frame %zu: %c, want %c", i, m.kind, want[i]);
        cr_assert_eq(D.errmsg[0], '\0');
    }
}

Test(fixture, begin_commit_pairs_and_lsn_order)
{
    ww_lsn last_end = 0;
    uint32_t last_xid = 0;
    struct ww_pgo_msg m, begin = {0};
    bool open = false;
    int ntx = 0;
    for (size_t i = 0; i < F.n; i++) {
        decode_frame(i, &m);
        if (m.kind == WW_PGO_BEGIN) {
            cr_assert(!open, "frame %zu: Begin inside a transaction", i);
            open = true;
            begin = m;
            cr_assert_gt(m.begin.final_lsn, last_end, "frame %zu", i);
            cr_assert_gt(m.begin.xid, last_xid, "frame %zu: xids go up", i);
            last_xid = m.begin.xid;
        } else if (m.kind == WW_PGO_COMMIT) {
            cr_assert(open, "frame %zu: Commit without Begin", i);
            open = false;
            ntx++;
            cr_assert_eq(m.commit.flags, 0);
            cr_assert_eq(m.commit.commit_lsn, begin.begin.final_lsn, "frame %zu", i);
            cr_assert_gt(m.commit.end_lsn, m.commit.commit_lsn, "frame %zu", i);
            cr_assert_eq(m.commit.commit_time, begin.begin.commit_time, "frame %zu", i);
            last_end = m.commit.end_lsn;
        } else if (m.kind == WW_PGO_MESSAGE) {
            /* A transactional message lies inside its transaction; the
             * other one stands alone, after the previous commit. */
            bool tx = m.message.flags & WW_PGO_MESSAGE_TRANSACTIONAL;
            cr_assert_eq(tx, open, "frame %zu", i);
            if (tx)
                cr_assert_lt(m.message.lsn, begin.begin.final_lsn, "frame %zu", i);
            else
                cr_assert_gt(m.message.lsn, last_end, "frame %zu", i);
        } else {
            cr_assert(open, "frame %zu: %c outside a transaction", i, m.kind);
        }
    }
    cr_assert(!open);
    cr_assert_eq(ntx, 15);
    /* Commit times are microseconds since 2000-01-01, and the session ran
     * after 2020-01-01 (631152000 s later). */
    cr_assert_gt(begin.begin.commit_time, INT64_C(631152000) * 1000000);
}

Test(fixture, type_and_relation_of_users)
{
    struct ww_pgo_msg m;
    size_t i = find(WW_PGO_TYPE, NULL, 0, &m);
    cr_assert_eq(i, 1);
    cr_assert_str_eq(m.type.nspname, "public");
    cr_assert_str_eq(m.type.typname, "mood");
    uint32_t mood = m.type.oid;
    cr_assert_geq(mood, 16384, "a user type's oid");

    find(WW_PGO_RELATION, "users", 0, &m);
    cr_assert_str_eq(m.relation.nspname, "public");
    cr_assert_str_eq(m.relation.relname, "users");
    cr_assert_eq(m.relation.replident, WW_REPLIDENT_DEFAULT);
    static const struct {
        const char *name;
        uint32_t oid;
        int32_t typmod;
    } want[] = {
        {"id", 23, -1},
        {"name", 25, -1},
        {"score", 23, -1},
        {"big", 20, -1},
        {"ratio", 701, -1},
        {"active", 16, -1},
        /* numeric(10,2): ((precision << 16) | scale) + VARHDRSZ */
        {"amount", 1700, (10 << 16 | 2) + 4},
        {"born", 1082, -1},
        {"created", 1184, -1},
        {"tags", 1009, -1},
        {"doc", 3802, -1},
        {"photo", 17, -1},
        {"mood", 0, -1},
    };
    cr_assert_eq(m.relation.ncols, 13);
    for (int c = 0; c < 13; c++) {
        const struct ww_pgo_column *col = &m.relation.cols[c];
        cr_assert_str_eq(col->name, want[c].name);
        cr_assert_eq(col->type_oid, want[c].oid ? want[c].oid : mood, "column %s", col->name);
        cr_assert_eq(col->typmod, want[c].typmod, "column %s", col->name);
        cr_assert_eq(col->is_identity, c == 0, "column %s", col->name);
    }
}

Test(fixture, inserts_of_many_types_and_nulls)
{
    struct ww_pgo_msg m;
    find(WW_PGO_RELATION, "users", 0, &m);
    uint32_t users = m.relation.relid;

    find(WW_PGO_INSERT, "users", 0, &m);
    cr_assert_eq(m.change.relid, users);
    cr_assert_eq(m.change.old_kind, 0);
    cr_assert_eq(m.change.old_tuple.ncols, 0);
    cr_assert_eq(m.change.new_tuple.ncols, 13);
    const struct ww_pgo_value *v = m.change.new_tuple.values;
    static const char *const want[] = {
        "1",
        "Ada \"the first\"",
        "42",
        "9007199254740993",
        "1.5",
        "t",
        "1234.56",
        "1815-12-10",
        "2024-01-02 03:04:05.123456+00",
        "{a,b}",
        "{\"k\": [1, 2]}",
        "\\xdeadbeef",
        "happy",
    };
    for (int c = 0; c < 13; c++)
        assert_text(&v[c], want[c]);

    find(WW_PGO_INSERT, "users", 1, &m);
    cr_assert_eq(m.change.new_tuple.ncols, 13);
    assert_text(&m.change.new_tuple.values[0], "2");
    for (int c = 1; c < 13; c++)
        assert_null(&m.change.new_tuple.values[c]);
}

Test(fixture, update_without_key_change_has_no_old_tuple)
{
    struct ww_pgo_msg m;
    find(WW_PGO_UPDATE, "users", 0, &m);
    cr_assert_eq(m.change.old_kind, 0);
    cr_assert_eq(m.change.old_tuple.ncols, 0);
    cr_assert_null(m.change.old_tuple.values);
    cr_assert_eq(m.change.new_tuple.ncols, 13);
    assert_text(&m.change.new_tuple.values[0], "1");
    assert_text(&m.change.new_tuple.values[2], "43");
}

Test(fixture, update_that_changes_the_key_carries_the_old_key)
{
    struct ww_pgo_msg m;
    find(WW_PGO_UPDATE, "users", 1, &m);
    cr_assert_eq(m.change.old_kind, 'K');
    cr_assert_eq(m.change.old_tuple.ncols, 13);
    assert_text(&m.change.old_tuple.values[0], "2");
    for (int c = 1; c < 13; c++)
        assert_null(&m.change.old_tuple.values[c]);
    cr_assert_eq(m.change.new_tuple.ncols, 13);
    assert_text(&m.change.new_tuple.values[0], "10");
    /* The storage layout the header promises: new right after old. */
    cr_assert_eq(m.change.old_tuple.values, D.values);
    cr_assert_eq(m.change.new_tuple.values, D.values + 13);
}

Test(fixture, replica_identity_full_update_and_delete)
{
    struct ww_pgo_msg m;
    find(WW_PGO_RELATION, "full_t", 0, &m);
    cr_assert_eq(m.relation.replident, WW_REPLIDENT_FULL);
    cr_assert_eq(m.relation.ncols, 2);
    cr_assert(m.relation.cols[0].is_identity && m.relation.cols[1].is_identity,
              "FULL flags every column");

    find(WW_PGO_UPDATE, "full_t", 0, &m);
    cr_assert_eq(m.change.old_kind, 'O');
    cr_assert_eq(m.change.old_tuple.ncols, 2);
    assert_text(&m.change.old_tuple.values[0], "1");
    assert_text(&m.change.old_tuple.values[1], "before");
    cr_assert_eq(m.change.new_tuple.ncols, 2);
    assert_text(&m.change.new_tuple.values[0], "1");
    assert_text(&m.change.new_tuple.values[1], "after");

    find(WW_PGO_DELETE, "full_t", 0, &m);
    cr_assert_eq(m.change.old_kind, 'O');
    cr_assert_eq(m.change.new_tuple.ncols, 0);
    cr_assert_null(m.change.new_tuple.values);
    cr_assert_eq(m.change.old_tuple.ncols, 2);
    assert_text(&m.change.old_tuple.values[0], "1");
    assert_text(&m.change.old_tuple.values[1], "after");
}

Test(fixture, delete_with_default_identity_carries_the_key_only)
{
    struct ww_pgo_msg m;
    find(WW_PGO_DELETE, "users", 0, &m);
    cr_assert_eq(m.change.old_kind, 'K');
    cr_assert_eq(m.change.new_tuple.ncols, 0);
    cr_assert_eq(m.change.old_tuple.ncols, 13);
    assert_text(&m.change.old_tuple.values[0], "10");
    for (int c = 1; c < 13; c++)
        assert_null(&m.change.old_tuple.values[c]);
}

Test(fixture, unchanged_toast_column)
{
    struct ww_pgo_msg m;
    find(WW_PGO_INSERT, "toasty", 0, &m);
    cr_assert_eq(m.change.new_tuple.ncols, 3);
    const struct ww_pgo_value *payload = &m.change.new_tuple.values[1];
    cr_assert_eq(payload->kind, WW_PGO_TEXT);
    cr_assert_eq(payload->len, 200 * 32, "200 md5 hex digests");
    /* md5('1') then md5('2') ... */
    cr_assert(memcmp(payload->data,
                     "c4ca4238a0b923820dcc509a6f75849bc81e728d9d4c2f636f067f89cc14862c", 64) == 0);
    for (uint32_t k = 0; k < payload->len; k++)
        cr_assert(strchr("0123456789abcdef", payload->data[k]) != NULL);

    find(WW_PGO_UPDATE, "toasty", 0, &m);
    cr_assert_eq(m.change.old_kind, 0);
    cr_assert_eq(m.change.new_tuple.ncols, 3);
    assert_text(&m.change.new_tuple.values[0], "1");
    cr_assert_eq(m.change.new_tuple.values[1].kind, WW_PGO_UNCHANGED);
    cr_assert_eq(m.change.new_tuple.values[1].len, 0);
    cr_assert_null(m.change.new_tuple.values[1].data);
    assert_text(&m.change.new_tuple.values[2], "1");
}

Test(fixture, truncate_of_two_tables)
{
    struct ww_pgo_msg m;
    find(WW_PGO_RELATION, "parent", 0, &m);
    uint32_t parent = m.relation.relid;
    find(WW_PGO_RELATION, "child", 0, &m);
    uint32_t child = m.relation.relid;
    cr_assert_neq(parent, child);

    find(WW_PGO_TRUNCATE, NULL, 0, &m);
    cr_assert_eq(m.truncate.options, WW_PGO_TRUNCATE_CASCADE | WW_PGO_TRUNCATE_RESTART_IDENTITY);
    cr_assert_eq(m.truncate.nrelids, 2);
    cr_assert_eq(m.truncate.relids, D.relids);
    cr_assert_eq(m.truncate.relids[0], parent);
    cr_assert_eq(m.truncate.relids[1], child);
}

Test(fixture, logical_decoding_messages)
{
    struct ww_pgo_msg m;
    find(WW_PGO_MESSAGE, NULL, 0, &m);
    cr_assert_eq(m.message.flags, WW_PGO_MESSAGE_TRANSACTIONAL);
    cr_assert_str_eq(m.message.prefix, "walwire");
    cr_assert_eq(m.message.content_len, strlen("in a transaction"));
    cr_assert(memcmp(m.message.content, "in a transaction", m.message.content_len) == 0);
    ww_lsn first = m.message.lsn;
    cr_assert_gt(first, 0);

    find(WW_PGO_MESSAGE, NULL, 1, &m);
    cr_assert_eq(m.message.flags, 0);
    cr_assert_str_eq(m.message.prefix, "walwire.heartbeat");
    cr_assert_eq(m.message.content_len, strlen("outside"));
    cr_assert(memcmp(m.message.content, "outside", m.message.content_len) == 0);
    cr_assert_gt(m.message.lsn, first);
}

Test(fixture, add_column_sends_a_second_relation)
{
    struct ww_pgo_msg m;
    find(WW_PGO_RELATION, "users", 0, &m);
    uint32_t users = m.relation.relid;

    find(WW_PGO_RELATION, "users", 1, &m);
    cr_assert_eq(m.relation.relid, users);
    cr_assert_eq(m.relation.ncols, 14);
    cr_assert_str_eq(m.relation.cols[13].name, "extra");
    cr_assert_eq(m.relation.cols[13].type_oid, 25);
    cr_assert_str_eq(m.relation.cols[12].name, "mood");

    find(WW_PGO_INSERT, "users", 2, &m);
    cr_assert_eq(m.change.new_tuple.ncols, 14);
    assert_text(&m.change.new_tuple.values[1], "after alter");
    assert_text(&m.change.new_tuple.values[13], "x");
}

Test(fixture, replica_identity_using_index)
{
    struct ww_pgo_msg m;
    find(WW_PGO_RELATION, "ri", 0, &m);
    cr_assert_eq(m.relation.replident, WW_REPLIDENT_INDEX);
    cr_assert_eq(m.relation.ncols, 3);
    cr_assert(m.relation.cols[0].is_identity);
    cr_assert(m.relation.cols[1].is_identity);
    cr_assert(!m.relation.cols[2].is_identity);
}

Test(fixture, origin_of_a_replayed_transaction)
{
    struct ww_pgo_msg m;
    size_t i = find(WW_PGO_ORIGIN, NULL, 0, &m);
    cr_assert_str_eq(m.origin.name, "upstream");
    cr_assert_eq(m.origin.commit_lsn, 0xABCDEF);
    /* pg_replication_origin_xact_setup() also set the commit time:
     * 2024-01-01 00:00:00 UTC is 757382400 s after 2000-01-01. */
    decode_frame(i - 1, &m);
    cr_assert_eq(m.kind, WW_PGO_BEGIN);
    cr_assert_eq(m.begin.commit_time, INT64_C(757382400) * 1000000);
}

Test(fixture, decoding_allocates_nothing_once_grown)
{
    struct ww_pgo_msg m;
    for (size_t i = 0; i < F.n; i++)
        decode_frame(i, &m);
    struct ww_pgo_decoder before = D;
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < F.n; i++)
            decode_frame(i, &m);
    cr_assert_eq(D.cols, before.cols);
    cr_assert_eq(D.cols_cap, before.cols_cap);
    cr_assert_eq(D.values, before.values);
    cr_assert_eq(D.values_cap, before.values_cap);
    cr_assert_eq(D.relids, before.relids);
    cr_assert_eq(D.relids_cap, before.relids_cap);
}

/* Every strict prefix of every recorded message is incomplete: decoding it
 * must fail cleanly. Each prefix is decoded from a buffer of exactly its
 * length, so valgrind would see any over-read. */
Test(fixture, every_truncation_of_every_frame_is_rejected)
{
    struct ww_pgo_msg m;
    for (size_t i = 0; i < F.n; i++) {
        for (size_t len = 0; len < F.frames[i].len; len++) {
            int rc = decode_copy(F.frames[i].data, len, &m);
            cr_assert_eq(rc, -EBADMSG, "frame %zu cut at %zu of %zu: rc %d", i, len,
                         F.frames[i].len, rc);
            cr_assert_neq(D.errmsg[0], '\0');
        }
    }
}

Test(fixture, every_frame_with_a_trailing_byte_is_rejected)
{
    struct ww_pgo_msg m;
    static char buf[1 << 16];
    for (size_t i = 0; i < F.n; i++) {
        cr_assert_lt(F.frames[i].len, sizeof buf);
        memcpy(buf, F.frames[i].data, F.frames[i].len);
        buf[F.frames[i].len] = 'x';
        cr_assert_eq(decode_copy(buf, F.frames[i].len + 1, &m), -EBADMSG, "frame %zu", i);
        cr_assert_not_null(strstr(D.errmsg, "trailing"), "frame %zu: %s", i, D.errmsg);
    }
}
