/*
 * A minimal working sink shared by the fake modules of test_sink_loader.c.
 * Each module (good.c, badabi.c, ...) includes this file and defines its own
 * struct ww_sink_ops and ww_sink_entry, broken in one way or another.
 *
 * The sink keeps every accepted change pending (it has no destination) and
 * acks them all with -ECANCELED in close(), then calls done: enough for the
 * loader test to check that the loaded ops are the module's and work.
 */
#ifndef FAKE_SINK_H
#define FAKE_SINK_H

#include <errno.h>
#include <stdlib.h>

#include "walwire/sink.h"

#define FAKE_EXPORT      __attribute__((visibility("default")))
#define FAKE_MAX_PENDING 16
/* Not every module uses every function. */
#define FAKE_FN static __attribute__((unused))

struct fake_sink {
    const struct ww_host *host;
    int n;
    ww_ack_fn ack[FAKE_MAX_PENDING];
    void *token[FAKE_MAX_PENDING];
};

FAKE_FN int fake_open(const struct ww_host *host, void **sinkp)
{
    struct fake_sink *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->host = host;
    *sinkp = s;
    return 0;
}

/* Accept up to FAKE_MAX_PENDING changes; never ack from here. */
FAKE_FN int fake_write(void *sink, const struct ww_change *change, ww_ack_fn ack, void *token)
{
    struct fake_sink *s = sink;
    (void)change;
    if (s->n == FAKE_MAX_PENDING)
        return -EAGAIN;
    s->ack[s->n] = ack;
    s->token[s->n] = token;
    s->n++;
    return 0;
}

FAKE_FN void fake_close(void *sink, void (*done)(void *arg), void *arg)
{
    struct fake_sink *s = sink;
    for (int i = 0; i < s->n; i++)
        s->ack[i](s->token[i], -ECANCELED);
    free(s);
    done(arg);
}

FAKE_FN void fake_probe(void *sink, void (*cb)(void *arg, int status, const char *detail),
                        void *arg)
{
    (void)sink;
    cb(arg, 0, "fake sink");
}

#endif
