#include "control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000

struct ww_control_query {
    struct ww_control_query *next;
    ww_control_cb cb;
    void *arg;
    char sql[];
};

static void run_next(struct ww_control *c);
static void connect_now(struct ww_control *c);

/* One handle or connection of ours finished closing. */
static void on_part_closed(struct ww_control *c)
{
    if (--c->open == 0 && c->closing && c->on_closed)
        c->on_closed(c);
}

static void on_conn_closed(struct ww_pgconn *pc)
{
    struct ww_control *c = pc->data;
    free(pc);
    on_part_closed(c);
}

static void drop_conn(struct ww_control *c)
{
    if (!c->conn)
        return;
    c->open++; /* until its close completes */
    ww_pgconn_close(c->conn, on_conn_closed);
    c->conn = NULL;
    c->connected = false;
}

static void on_retry(uv_timer_t *t)
{
    connect_now(t->data);
}

/* The connection broke: forget it and try again later. */
static void lost(struct ww_control *c, const char *why)
{
    ww_warn("control", "connection lost (%s); reconnecting in %llu ms", why,
            (unsigned long long)c->backoff_ms);
    drop_conn(c);
    c->running = false;
    uv_timer_start(&c->retry, on_retry, c->backoff_ms, 0);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static void on_connected(struct ww_pgconn *pc, int status)
{
    struct ww_control *c = pc->data;
    if (c->closing)
        return;
    if (status < 0) {
        lost(c, pc->errmsg);
        return;
    }
    if (c->reconnects++ > 0)
        ww_info("control", "reconnected");
    c->connected = true;
    c->backoff_ms = BACKOFF_FIRST_MS;
    run_next(c);
}

static void connect_now(struct ww_control *c)
{
    if (c->closing || c->conn)
        return;
    c->conn = calloc(1, sizeof *c->conn);
    if (!c->conn)
        abort();
    ww_pgconn_init(c->conn, c->loop, "control");
    c->conn->data = c;
    if (ww_pgconn_connect(c->conn, (const char *const *)c->ci->keywords,
                          (const char *const *)c->ci->values, on_connected) < 0)
        lost(c, c->conn->errmsg);
}

static void on_result(struct ww_pgconn *pc, int status, PGresult *res, void *arg)
{
    struct ww_control *c = arg;
    if (c->closing)
        return;
    c->running = false;
    /* A broken connection: keep the query queued and run it again once
     * reconnected. A statement error: report it. */
    if (status < 0 && (pc->state == WW_PGCONN_FAILED || PQstatus(pc->pg) != CONNECTION_OK)) {
        lost(c, pc->errmsg);
        return;
    }
    struct ww_control_query *q = c->head;
    c->head = q->next;
    if (!c->head)
        c->tail = NULL;
    q->cb(q->arg, status, res, status < 0 ? pc->errmsg : NULL);
    free(q);
    run_next(c);
}

static void run_next(struct ww_control *c)
{
    if (c->closing || c->running || !c->head)
        return;
    if (!c->connected) {
        if (!c->conn && !uv_is_active((uv_handle_t *)&c->retry))
            connect_now(c);
        return;
    }
    c->running = true;
    if (ww_pgconn_query(c->conn, c->head->sql, on_result, c) < 0) {
        c->running = false;
        lost(c, c->conn->errmsg);
    }
}

void ww_control_init(struct ww_control *c, uv_loop_t *loop, const struct ww_conninfo *ci)
{
    memset(c, 0, sizeof *c);
    c->loop = loop;
    c->ci = ci;
    c->backoff_ms = BACKOFF_FIRST_MS;
    uv_timer_init(loop, &c->retry);
    c->retry.data = c;
    c->open = 1; /* the retry timer */
}

void ww_control_query(struct ww_control *c, const char *sql, ww_control_cb cb, void *arg)
{
    size_t len = strlen(sql);
    struct ww_control_query *q = malloc(sizeof *q + len + 1);
    if (!q)
        abort();
    q->next = NULL;
    q->cb = cb;
    q->arg = arg;
    memcpy(q->sql, sql, len + 1);
    if (c->closing) {
        cb(arg, -ECANCELED, NULL, "closing");
        free(q);
        return;
    }
    if (c->tail)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
    run_next(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    on_part_closed(h->data);
}

void ww_control_close(struct ww_control *c, void (*on_closed)(struct ww_control *c))
{
    if (c->closing)
        return;
    c->closing = true;
    c->on_closed = on_closed;
    drop_conn(c);
    struct ww_control_query *q = c->head;
    c->head = c->tail = NULL;
    while (q) {
        struct ww_control_query *next = q->next;
        q->cb(q->arg, -ECANCELED, NULL, "closing");
        free(q);
        q = next;
    }
    uv_close((uv_handle_t *)&c->retry, on_timer_closed);
}
