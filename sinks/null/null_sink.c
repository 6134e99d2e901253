/*
 * Null sink: accepts every change, keeps nothing, and acknowledges each one
 * on the next turn of the loop, in the order write() accepted them.
 *
 *   [sink]
 *   type = null          ; loads sink_null.so
 *   [null]               ; optional; it takes no keys, any key is an error
 *
 * What it is for:
 *   - benchmarks (tests/bench/run.sh): walwire's own cost -- decoding,
 *     encoding, the write/ack round trip, position tracking, status
 *     updates -- with no destination to wait for;
 *   - the smallest complete example of the sink ABI (walwire/sink.h), to
 *     copy when writing a new sink. Everything a sink must do is here:
 *     export ww_sink_entry, validate its section in open(), never ack from
 *     inside write(), ack every accepted change exactly once and in order,
 *     ack what is outstanding with -ECANCELED in close(), close its handles
 *     and free its memory before calling done.
 *
 * An ack from the null sink means nothing is durable anywhere: the change
 * is dropped. Streaming into it advances the slot, so PostgreSQL forgets
 * those changes. Do not point it at a slot whose changes you want.
 *
 * How acks are deferred. write() appends (ack, token) to a FIFO ring and
 * makes sure two libuv handles are active:
 *   - a uv_check_t, whose callback runs right after the loop's poll phase:
 *     the common case is a write() called from the replication socket's
 *     read callback (inside the poll phase), and its ack then comes at the
 *     end of that same loop iteration, after write() returned;
 *   - a uv_idle_t with an empty callback. While an idle handle is active,
 *     libuv polls with a zero timeout, so a write() called from a timer or
 *     another callback outside the poll phase never leaves its ack waiting
 *     for socket activity that may not come (core may have stopped reading
 *     until acks arrive). This check + idle pair is the usual libuv idiom
 *     for "run this on the next turn" (Node's setImmediate is built on it).
 * Both handles are stopped when the ring is empty, so an idle walwire
 * sleeps in poll as usual.
 *
 * Memory: the ring holds one (ack, token) pair per change that core has in
 * flight; core bounds that with [source] max_inflight_bytes, so the sink
 * never needs to refuse a write with -EAGAIN.
 *
 * Threads: everything runs on the loop thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "walwire/sink.h"

/* Only ww_sink_entry is exported; meson builds with -fvisibility=hidden. */
#define NS_EXPORT __attribute__((visibility("default")))

/* One accepted change waiting for its ack. */
struct ns_pending {
    ww_ack_fn ack;
    void *token;
};

struct null_sink {
    const struct ww_host *host; /* borrowed until done() */

    /* FIFO ring of pending acks: items[(head + i) & (cap - 1)] for i in
     * [0, count). cap is 0 or a power of two. */
    struct ns_pending *items;
    size_t cap, head, count;

    uv_check_t check; /* delivers the acks after the poll phase */
    uv_idle_t idle;   /* keeps poll from blocking while acks wait */
    int armed;        /* check and idle are started */

    int closing;
    int open_handles; /* handles not yet closed: done() waits for 0 */
    void (*done)(void *arg);
    void *done_arg;
};

/* ---- the ring ----------------------------------------------------------- */

/* Double the ring, keeping the order. 0 or -ENOMEM. */
static int ring_grow(struct null_sink *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    struct ns_pending *items = malloc(cap * sizeof *items);
    if (!items)
        return -ENOMEM;
    for (size_t i = 0; i < s->count; i++)
        items[i] = s->items[(s->head + i) & (s->cap - 1)];
    free(s->items);
    s->items = items;
    s->cap = cap;
    s->head = 0;
    return 0;
}

/* Remove the oldest entry into *out; the ring must not be empty. */
static void ring_pop(struct null_sink *s, struct ns_pending *out)
{
    *out = s->items[s->head];
    s->head = (s->head + 1) & (s->cap - 1);
    s->count--;
}

/* ---- deferred acks ------------------------------------------------------ */

/*
 * Ack the changes that were pending when the callback started, oldest
 * first. An ack callback may call write() again (core resumes reading and
 * offers more changes); those are appended behind and acked on a later
 * turn, never from inside the write() that accepted them. Entries are
 * copied out before each ack because write() may grow (move) the ring.
 */
static void on_check(uv_check_t *h)
{
    struct null_sink *s = h->data;
    size_t n = s->count;
    for (size_t i = 0; i < n && !s->closing; i++) { /* an ack may close the sink */
        struct ns_pending p;
        ring_pop(s, &p);
        p.ack(p.token, 0);
    }
    if (s->count == 0 && s->armed && !s->closing) {
        s->armed = 0;
        uv_check_stop(&s->check);
        uv_idle_stop(&s->idle);
    }
}

/* Nothing to do: being active is what matters (zero poll timeout). */
static void on_idle(uv_idle_t *h)
{
    (void)h;
}

/* ---- the ABI ------------------------------------------------------------ */

static int ns_write(void *sink, const struct ww_change *change, ww_ack_fn ack, void *token)
{
    struct null_sink *s = sink;
    (void)change; /* borrowed and not kept: nothing to copy */
    if (s->closing)
        return -ECANCELED;
    if (s->count == s->cap && ring_grow(s) < 0)
        return -ENOMEM; /* core treats this as a broken sink and stops */
    s->items[(s->head + s->count) & (s->cap - 1)] = (struct ns_pending){ack, token};
    s->count++;
    if (!s->armed) {
        s->armed = 1;
        uv_check_start(&s->check, on_check);
        uv_idle_start(&s->idle, on_idle);
    }
    return 0; /* accepted: the ack follows on a later turn (on_check) */
}

static void on_handle_closed(uv_handle_t *h)
{
    struct null_sink *s = h->data;
    if (--s->open_handles > 0)
        return;
    /* Both handles are closed: free everything, then tell core. Nothing
     * of the sink may be touched after done(). */
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    free(s->items);
    free(s);
    done(arg);
}

static void ns_close(void *sink, void (*done)(void *arg), void *arg)
{
    struct null_sink *s = sink;
    s->closing = 1;
    s->done = done;
    s->done_arg = arg;
    /* The contract: whatever was accepted and not acked yet is acked with
     * -ECANCELED, oldest first. (Acking it with 0 here would claim the
     * change reached the destination after core asked the sink to stop.) */
    while (s->count) {
        struct ns_pending p;
        ring_pop(s, &p);
        p.ack(p.token, -ECANCELED);
    }
    /* uv_close stops the handles; done() follows from the last close
     * callback, on a later turn of the loop. */
    uv_close((uv_handle_t *)&s->check, on_handle_closed);
    uv_close((uv_handle_t *)&s->idle, on_handle_closed);
}

/* config_foreach callback: the [null] section takes no keys. */
static int reject_key(void *arg, const char *key, const char *value)
{
    const struct ww_host *host = arg;
    (void)value;
    return host->config_error(host, key,
                              "unknown key; the null sink takes no keys "
                              "(remove it, or the whole [null] section)");
}

static int ns_open(const struct ww_host *host, void **sinkp)
{
    /* Validate the configuration before allocating anything, so that a
     * failed open() leaves nothing behind. */
    int rc = host->config_foreach(host, reject_key, (void *)host);
    if (rc != 0)
        return rc < 0 ? rc : -EINVAL;

    struct null_sink *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->host = host;
    /* uv_check_init and uv_idle_init cannot fail on a valid loop. */
    uv_check_init(host->loop, &s->check);
    uv_idle_init(host->loop, &s->idle);
    s->check.data = s;
    s->idle.data = s;
    s->open_handles = 2;
    host->log(host, WW_LOG_WARN,
              "the null sink drops every change and acknowledges it: the slot advances and "
              "nothing is kept (for benchmarks)");
    *sinkp = s;
    return 0;
}

/* For `walwire check`: there is no destination to reach. */
static void ns_probe(void *sink, void (*cb)(void *arg, int status, const char *detail), void *arg)
{
    (void)sink;
    cb(arg, 0, "null sink: changes are dropped");
}

static const struct ww_sink_ops null_sink_ops = {
    .abi_version = WW_SINK_ABI_VERSION,
    .size = sizeof(struct ww_sink_ops),
    .name = "null",
    .open = ns_open,
    .write = ns_write,
    .close = ns_close,
    .probe = ns_probe,
};

/* The one exported symbol: core calls it right after dlopen(). */
NS_EXPORT const struct ww_sink_ops *ww_sink_entry(void);
const struct ww_sink_ops *ww_sink_entry(void)
{
    return &null_sink_ops;
}
