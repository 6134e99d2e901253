/* LSN parsing/formatting and the in-flight tracker's confirmation rule. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "lsn.h"

Test(lsn, parse_and_format_round_trip)
{
    ww_lsn l;
    cr_assert_eq(ww_lsn_parse("16/B374D848", &l), 0);
    cr_assert_eq(l, UINT64_C(0x16B374D848));
    char buf[WW_LSN_STRLEN];
    cr_assert_str_eq(ww_lsn_format(l, buf), "16/B374D848");
    cr_assert_eq(ww_lsn_parse("0/0", &l), 0);
    cr_assert_eq(l, 0);
    cr_assert_eq(ww_lsn_parse("FFFFFFFF/FFFFFFFF", &l), 0);
    cr_assert_eq(l, UINT64_MAX);
    cr_assert_str_eq(ww_lsn_format(UINT64_MAX, buf), "FFFFFFFF/FFFFFFFF");
}

Test(lsn, parse_rejects_malformed)
{
    ww_lsn l = 7;
    const char *bad[] = {"", "/", "0/", "/0", "16B374D848", "1/2/3", "G/0", "0/x",
                         "123456789/0", "0/123456789", " 0/0", "0/0 "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_lt(ww_lsn_parse(bad[i], &l), 0, "accepted \"%s\"", bad[i]);
    cr_assert_eq(l, 7, "a failed parse wrote its output");
}

Test(tracker, confirms_only_fully_acked_committed_prefix)
{
    struct ww_tracker t;
    ww_tracker_init(&t, 100);
    uint32_t a = ww_tracker_begin(&t);
    void *a1 = ww_tracker_add(&t, a, 10);
    void *a2 = ww_tracker_add(&t, a, 20);
    cr_assert(!ww_tracker_commit(&t, a, 200), "committed but unacked must not confirm");
    uint32_t b = ww_tracker_begin(&t);
    void *b1 = ww_tracker_add(&t, b, 5);
    cr_assert(!ww_tracker_commit(&t, b, 300));
    cr_assert_eq(t.inflight_bytes, 35);
    cr_assert_eq(t.inflight_changes, 3);

    /* b acked first: still nothing, a is older and open. */
    cr_assert(!ww_tracker_ack(&t, b1));
    cr_assert_eq(t.confirmed, 100);
    cr_assert(!ww_tracker_ack(&t, a2));
    cr_assert_eq(t.confirmed, 100);
    /* The last change of a: both a and b are now confirmed. */
    cr_assert(ww_tracker_ack(&t, a1));
    cr_assert_eq(t.confirmed, 300);
    cr_assert_eq(t.inflight_bytes, 0);
    cr_assert_eq(t.inflight_changes, 0);
    cr_assert(ww_tracker_idle(&t));
    ww_tracker_free(&t);
}

Test(tracker, open_transaction_blocks_later_ones)
{
    struct ww_tracker t;
    ww_tracker_init(&t, 0);
    uint32_t a = ww_tracker_begin(&t); /* never committed yet */
    void *a1 = ww_tracker_add(&t, a, 1);
    cr_assert(!ww_tracker_ack(&t, a1));
    cr_assert_eq(t.confirmed, 0, "an uncommitted transaction was confirmed");
    cr_assert(!ww_tracker_idle(&t));
    cr_assert(!ww_tracker_keepalive(&t, 40), "keepalive confirmed while a tx is open");
    cr_assert_eq(t.confirmed, 0);
    cr_assert(ww_tracker_commit(&t, a, 50));
    cr_assert_eq(t.confirmed, 50, "the keepalive, older, must not move it back");
    ww_tracker_free(&t);
}

Test(tracker, keepalive_only_when_idle_and_forward)
{
    struct ww_tracker t;
    ww_tracker_init(&t, 500);
    cr_assert(!ww_tracker_keepalive(&t, 400), "keepalive moved the position backwards");
    cr_assert(ww_tracker_keepalive(&t, 600));
    cr_assert_eq(t.confirmed, 600);
    uint32_t a = ww_tracker_begin(&t);
    void *tok = ww_tracker_add(&t, a, 1);
    ww_tracker_commit(&t, a, 700);
    cr_assert(!ww_tracker_keepalive(&t, 800), "keepalive confirmed past an unacked change");
    cr_assert_eq(t.confirmed, 600);
    /* Once everything before it is acked, the keepalive seen while busy is
     * confirmed: the server will not send it again. */
    cr_assert(ww_tracker_ack(&t, tok));
    cr_assert_eq(t.confirmed, 800);
    ww_tracker_free(&t);
}

Test(tracker, keepalive_waits_for_every_open_transaction)
{
    struct ww_tracker t;
    ww_tracker_init(&t, 100);
    uint32_t a = ww_tracker_begin(&t);
    void *ta = ww_tracker_add(&t, a, 1);
    ww_tracker_commit(&t, a, 200);
    uint32_t b = ww_tracker_begin(&t);
    void *tb = ww_tracker_add(&t, b, 1);
    ww_tracker_commit(&t, b, 300);
    cr_assert(!ww_tracker_keepalive(&t, 400));
    cr_assert(ww_tracker_ack(&t, ta));
    cr_assert_eq(t.confirmed, 200, "b is still in flight: only a is confirmed");
    cr_assert(ww_tracker_ack(&t, tb));
    cr_assert_eq(t.confirmed, 400);
    ww_tracker_free(&t);
}

Test(tracker, empty_and_snapshot_transactions)
{
    struct ww_tracker t;
    ww_tracker_init(&t, 10);
    uint32_t a = ww_tracker_begin(&t);
    cr_assert(ww_tracker_commit(&t, a, 20), "an empty committed tx confirms at once");
    uint32_t s = ww_tracker_begin(&t); /* end_lsn 0: confirms nothing */
    void *tok = ww_tracker_add(&t, s, 3);
    ww_tracker_commit(&t, s, 0);
    cr_assert(!ww_tracker_ack(&t, tok));
    cr_assert_eq(t.confirmed, 20);
    cr_assert(ww_tracker_idle(&t));
    ww_tracker_free(&t);
}

Test(tracker, grows_and_orders_many_transactions)
{
    struct ww_tracker t;
    ww_tracker_init(&t, 0);
    enum { N = 5000 };
    static void *tokens[N];
    for (uint32_t i = 0; i < N; i++) {
        uint32_t s = ww_tracker_begin(&t);
        tokens[i] = ww_tracker_add(&t, s, 100);
        ww_tracker_commit(&t, s, (ww_lsn)(i + 1) * 10);
    }
    cr_assert_eq(ww_tracker_open_count(&t), N);
    /* Ack in reverse: nothing confirms until the first is acked. */
    for (int i = N - 1; i >= 1; i--)
        cr_assert(!ww_tracker_ack(&t, tokens[i]));
    cr_assert_eq(t.confirmed, 0);
    cr_assert(ww_tracker_ack(&t, tokens[0]));
    cr_assert_eq(t.confirmed, (ww_lsn)N * 10);
    cr_assert_eq(ww_tracker_open_count(&t), 0);
    cr_assert_eq(t.inflight_bytes, 0);
    ww_tracker_free(&t);
}

Test(tracker, sequence_numbers_wrap)
{
    struct ww_tracker t;
    ww_tracker_init(&t, 0);
    t.head_seq = t.next_seq = UINT32_MAX - 2;
    void *tok[6];
    for (int i = 0; i < 6; i++) {
        uint32_t s = ww_tracker_begin(&t);
        tok[i] = ww_tracker_add(&t, s, 1);
        ww_tracker_commit(&t, s, (ww_lsn)(i + 1));
    }
    for (int i = 5; i >= 1; i--)
        cr_assert(!ww_tracker_ack(&t, tok[i]));
    cr_assert(ww_tracker_ack(&t, tok[0]));
    cr_assert_eq(t.confirmed, 6);
    ww_tracker_free(&t);
}

Test(tracker, huge_change_bytes_are_clamped_consistently)
{
    struct ww_tracker t;
    ww_tracker_init(&t, 0);
    uint32_t s = ww_tracker_begin(&t);
    void *tok = ww_tracker_add(&t, s, UINT64_C(1) << 40);
    cr_assert_eq(t.inflight_bytes, UINT32_MAX);
    ww_tracker_commit(&t, s, 1);
    ww_tracker_ack(&t, tok);
    cr_assert_eq(t.inflight_bytes, 0);
    ww_tracker_free(&t);
}
