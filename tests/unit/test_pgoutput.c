/*
 * pgoutput decoder tests.
 *
 * fixture_*: decode every frame of tests/fixtures/pgoutput_v1.frames, a
 * session recorded from PostgreSQL 15 (tests/fixtures/session.sql says what
 * it did), and check what each message must contain.
 * malformed_*: hand-built messages, one per way a message can be broken.
 * valid_*: hand-built messages for what the fixture does not cover.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../fixtures/frames.h"
#include "pgoutput.h"

/* ---- helpers ---------------------------------------------------------- */

static struct ww_frames F;
static struct ww_pgo_decoder D;
/* The buffer of the last hand-built decode: exactly len bytes, so an
 * over-read shows under valgrind or ASan. */
static char *last_buf;

static void setup(void)
{
    ww_pgo_decoder_init(&D);
    cr_assert_eq(ww_frames_load(WW_FIXTURES_DIR "/pgoutput_v1.frames", &F), 0, "cannot load %s",
                 WW_FIXTURES_DIR "/pgoutput_v1.frames");
    cr_assert_gt(F.n, 0);
}

static void teardown(void)
{
    ww_frames_free(&F);
    ww_pgo_decoder_free(&D);
    free(last_buf);
    last_buf = NULL;
}

/* Decode a copy of p[0..len) (a copy of exactly len bytes). */
static int decode_copy(const void *p, size_t len, struct ww_pgo_msg *m)
{
    free(last_buf);
    last_buf = malloc(len ? len : 1);
    cr_assert_not_null(last_buf);
    if (len)
        memcpy(last_buf, p, len);
    return ww_pgo_decode(&D, last_buf, len, m);
}

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

static void assert_text(const struct ww_pgo_value *v, const char *s)
{
    cr_assert_eq(v->kind, WW_PGO_TEXT, "kind %c, want text \"%s\"", v->kind, s);
    cr_assert_eq(v->len, strlen(s), "length %u, want %zu for \"%s\"", v->len, strlen(s), s);
    cr_assert(memcmp(v->data, s, v->len) == 0, "value \"%.*s\", want \"%s\"", (int)v->len, v->data,
              s);
}

static void assert_null(const struct ww_pgo_value *v)
{
    cr_assert_eq(v->kind, WW_PGO_NULL);
    cr_assert_eq(v->len, 0);
    cr_assert_null(v->data);
}

/* A message builder for hand-made messages, big-endian like the wire. */
struct mb {
    unsigned char b[16384];
    size_t n;
};

static void p8(struct mb *m, unsigned v)
{
    m->b[m->n++] = (unsigned char)v;
}

static void p16(struct mb *m, unsigned v)
{
    p8(m, v >> 8);
    p8(m, v);
}

static void p32(struct mb *m, uint32_t v)
{
    p16(m, v >> 16);
    p16(m, v & 0xffff);
}

static void p64(struct mb *m, uint64_t v)
{
    p32(m, (uint32_t)(v >> 32));
    p32(m, (uint32_t)v);
}

static void pbytes(struct mb *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void pstr(struct mb *m, const char *s)
{
    pbytes(m, s, strlen(s) + 1);
}

static void ptext(struct mb *m, const char *s)
{
    p8(m, 't');
    p32(m, (uint32_t)strlen(s));
    pbytes(m, s, strlen(s));
}

static int dec(struct mb *m, struct ww_pgo_msg *out)
{
    return decode_copy(m->b, m->n, out);
}

/* Decoding must fail with -EBADMSG and an errmsg on one line that holds
 * every one of the given fragments. */
static void assert_bad(struct mb *m, const char *frag1, const char *frag2)
{
    struct ww_pgo_msg out;
    int rc = dec(m, &out);
    cr_assert_eq(rc, -EBADMSG, "rc %d, errmsg \"%s\"", rc, D.errmsg);
    cr_assert_neq(D.errmsg[0], '\0');
    cr_assert_null(strchr(D.errmsg, '\n'), "errmsg spans lines: %s", D.errmsg);
    cr_assert_not_null(strstr(D.errmsg, frag1), "\"%s\" not in \"%s\"", frag1, D.errmsg);
    if (frag2)
        cr_assert_not_null(strstr(D.errmsg, frag2), "\"%s\" not in \"%s\"", frag2, D.errmsg);
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
