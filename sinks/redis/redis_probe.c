/*
 * Probe for `walwire check`: one connection of its own, no retries; the
 * handshake (AUTH, SELECT, INFO server) is the whole check. The result is
 * "host:port, redis 7.0.15", or what went wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "redis_sink.h"

struct rs_probe {
    struct rs_probe *next;
    struct rs_probe **list; /* the sink's list of running probes */
    struct rs_conn conn;
    rs_probe_cb cb;
    void *arg;
    bool called;
    void (*on_gone)(void *owner);
    void *owner;
};

static void unlink_probe(struct rs_probe *p)
{
    for (struct rs_probe **pp = p->list; pp && *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    p->list = NULL;
}

/* Report once, then close the connection (freed in on_closed). */
static void finish(struct rs_probe *p, int status, const char *detail)
{
    unlink_probe(p);
    if (!p->called) {
        p->called = true;
        p->cb(p->arg, status, detail);
    }
    rs_conn_close(&p->conn);
}

static void on_ready(struct rs_conn *c)
{
    struct rs_probe *p = c->data;
    char detail[400];
    snprintf(detail, sizeof detail, "%s, redis %s", c->cfg->where, c->version);
    finish(p, 0, detail);
}

static void on_fatal(struct rs_conn *c, int err, const char *msg)
{
    finish(c->data, err, msg);
}

static void on_closed(struct rs_conn *c)
{
    struct rs_probe *p = c->data;
    void (*gone)(void *) = p->on_gone;
    void *owner = p->owner;
    free(p);
    gone(owner);
}

int rs_probe_start(const struct ww_host *host, const struct rs_config *cfg, struct rs_probe **list,
                   void (*on_gone)(void *owner), void *owner, rs_probe_cb cb, void *arg)
{
    struct rs_probe *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    static const struct rs_conn_cbs cbs = {
        .on_ready = on_ready,
        .on_fatal = on_fatal,
        .on_closed = on_closed,
    };
    rs_conn_init(&p->conn, host, cfg, &cbs, false, p);
    p->cb = cb;
    p->arg = arg;
    p->on_gone = on_gone;
    p->owner = owner;
    p->list = list;
    p->next = *list;
    *list = p;
    rs_conn_start(&p->conn);
    return 0;
}

void rs_probe_cancel_all(struct rs_probe **list)
{
    while (*list)
        finish(*list, -ECANCELED, "cancelled: the sink is closing");
}
