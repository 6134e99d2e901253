#include "lsn.h"

#include "hex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

_Static_assert(sizeof(void *) >= 8, "tokens pack 64 bits into a pointer");

/* Read 1 to 8 hex digits from *p up to `stop`; advance *p to the stop. */
static int parse_hex32(const char **p, char stop, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    for (; **p != stop; (*p)++, n++) {
        int d = ww_hex_value(**p);
        if (d < 0)
            return -EINVAL;
        v = v * 16 + (uint64_t)d;
    }
    if (n == 0 || n > 8)
        return -EINVAL;
    *out = v;
    return 0;
}

int ww_lsn_parse(const char *s, ww_lsn *out)
{
    uint64_t hi, lo;
    const char *p = s;
    if (parse_hex32(&p, '/', &hi) < 0)
        return -EINVAL;
    p++; /* the '/' */
    if (parse_hex32(&p, '\0', &lo) < 0)
        return -EINVAL;
    *out = hi << 32 | lo;
    return 0;
}

char *ww_lsn_format(ww_lsn lsn, char *buf)
{
    snprintf(buf, WW_LSN_STRLEN, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
    return buf;
}

/* ---- in-flight tracker ---------------------------------------------- */

#define TOKEN_BYTES_MAX UINT32_MAX

static inline struct ww_tx_entry *entry(struct ww_tracker *t, uint32_t seq)
{
    return &t->ring[seq & (t->cap - 1)];
}

static inline uint32_t in_ring(const struct ww_tracker *t)
{
    return t->next_seq - t->head_seq; /* wraps correctly */
}

void ww_tracker_init(struct ww_tracker *t, ww_lsn confirmed)
{
    *t = (struct ww_tracker){0};
    t->cap = 64;
    t->ring = calloc(t->cap, sizeof *t->ring);
    if (!t->ring) {
        fprintf(stderr, "walwire: out of memory\n");
        abort();
    }
    t->confirmed = confirmed;
}

void ww_tracker_free(struct ww_tracker *t)
{
    free(t->ring);
    t->ring = NULL;
}

/* Double the ring, keeping each entry at seq & (cap - 1). */
static void grow(struct ww_tracker *t)
{
    uint32_t newcap = t->cap * 2;
    struct ww_tx_entry *r = calloc(newcap, sizeof *r);
    if (!r || newcap == 0) {
        fprintf(stderr, "walwire: out of memory (%u transactions in flight)\n", t->cap);
        abort();
    }
    for (uint32_t s = t->head_seq; s != t->next_seq; s++)
        r[s & (newcap - 1)] = t->ring[s & (t->cap - 1)];
    free(t->ring);
    t->ring = r;
    t->cap = newcap;
}

uint32_t ww_tracker_begin(struct ww_tracker *t)
{
    if (in_ring(t) == t->cap)
        grow(t);
    uint32_t seq = t->next_seq++;
    *entry(t, seq) = (struct ww_tx_entry){0};
    return seq;
}

void *ww_tracker_add(struct ww_tracker *t, uint32_t seq, uint64_t bytes)
{
    if (bytes > TOKEN_BYTES_MAX)
        bytes = TOKEN_BYTES_MAX; /* accounted the same way on ack */
    entry(t, seq)->pending++;
    t->inflight_bytes += bytes;
    t->inflight_changes++;
    return (void *)(uintptr_t)(bytes << 32 | seq);
}

/* Pop every leading transaction that is committed and fully acked. */
static bool advance(struct ww_tracker *t)
{
    bool moved = false;
    while (t->head_seq != t->next_seq) {
        struct ww_tx_entry *e = entry(t, t->head_seq);
        if (!e->committed || e->pending)
            break;
        if (e->end_lsn > t->confirmed) {
            t->confirmed = e->end_lsn;
            moved = true;
        }
        t->head_seq++;
    }
    /* Idle now: a keepalive seen while busy covers everything received. */
    if (t->head_seq == t->next_seq && t->keepalive > t->confirmed) {
        t->confirmed = t->keepalive;
        moved = true;
    }
    return moved;
}

bool ww_tracker_commit(struct ww_tracker *t, uint32_t seq, ww_lsn end_lsn)
{
    struct ww_tx_entry *e = entry(t, seq);
    e->committed = true;
    e->end_lsn = end_lsn;
    return advance(t);
}

bool ww_tracker_ack(struct ww_tracker *t, void *token)
{
    uint64_t v = (uint64_t)(uintptr_t)token;
    uint32_t seq = (uint32_t)v;
    uint64_t bytes = v >> 32;
    struct ww_tx_entry *e = entry(t, seq);
    e->pending--;
    t->inflight_bytes -= bytes;
    t->inflight_changes--;
    return advance(t);
}

bool ww_tracker_idle(const struct ww_tracker *t)
{
    return t->head_seq == t->next_seq;
}

bool ww_tracker_keepalive(struct ww_tracker *t, ww_lsn wal_end)
{
    if (wal_end > t->keepalive)
        t->keepalive = wal_end;
    if (!ww_tracker_idle(t) || t->keepalive <= t->confirmed)
        return false;
    t->confirmed = t->keepalive;
    return true;
}

uint32_t ww_tracker_open_count(const struct ww_tracker *t)
{
    return in_ring(t);
}
