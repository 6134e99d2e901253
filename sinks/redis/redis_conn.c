/*
 * One connection to Redis, driven by hiredis 0.14's async API on the loop.
 *
 * An attempt: resolve the host (uv_getaddrinfo, so DNS never blocks the
 * loop), connect, then the handshake, pipelined: AUTH user password (ACL)
 * or AUTH password (legacy requirepass) when the url has one, SELECT db
 * when db is not 0, and INFO server (the server's version, and a reply
 * that proves the connection works). The attempt has a deadline,
 * connect_timeout, because hiredis 0.14's libuv adapter has no timeouts.
 *
 * Failures that retrying may fix (refused, reset, timeout, LOADING) are
 * retried after a backoff of 100 ms doubling to 5 s; each new attempt is
 * counted with host->count_retry(). Failures it cannot fix (credentials,
 * ACL, a server without streams) end the connection: on_fatal.
 *
 * The libuv adapter: we attach with redisLibuvAttach() and then replace its
 * five hooks, for three reasons. (1) Its poll callback ignores a poll error;
 * libuv reports POLLERR (a refused connect, a reset) as a status and stops
 * the handle, so hiredis would never learn of the failure. Ours hands such
 * an event to hiredis, which then finds the error itself (getsockopt for a
 * connect, read for a connection). (2) Its cleanup closes the uv_poll_t
 * with a callback we cannot see; ours counts the handle until it is
 * closed, so that close() can call done only after every handle is gone
 * (the module may be unloaded right after). (3) It restarts the poll handle
 * for every command hiredis queues, one epoll_ctl system call each; ours
 * only when the events change.
 *
 * hiredis contracts relied on (0.14): a reply callback runs with NULL when
 * its context is freed; redisAsyncFree() inside a reply callback is
 * deferred until the callback returns; the connect callback must not free
 * its context (hiredis frees it itself after a failed connect); the
 * disconnect callback runs while the context is being freed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libuv.h>

#include "redis_sink.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   5000

enum hs_step { HS_AUTH = 1, HS_SELECT = 2, HS_INFO = 3 };

static void attempt(struct rs_conn *c);
static void handle_closed(struct rs_conn *c);

uint64_t rs_now_ms(const struct rs_conn *c)
{
    return uv_now(c->host->loop);
}

const char *rs_fmt_ms(uint64_t ms, char *buf, size_t n)
{
    if (ms < 1000)
        snprintf(buf, n, "%llu ms", (unsigned long long)ms);
    else if (ms % 1000 == 0)
        snprintf(buf, n, "%llu s", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, n, "%.1f s", (double)ms / 1000.0);
    return buf;
}

/* ---- error replies -------------------------------------------------------- */

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

enum rs_err_class rs_classify(const char *msg)
{
    static const char *const transient[] = {
        "LOADING",     "BUSY ",      "MISCONF",
        "READONLY",    "MASTERDOWN", "TRYAGAIN",
        "CLUSTERDOWN", "NOREPLICAS", "ERR max number of clients",
    };
    static const char because[] = "EXECABORT Transaction discarded because of: ";
    if (!msg)
        return RS_ERR_OTHER;
    if (starts(msg, because))
        msg += sizeof(because) - 1;
    if (starts(msg, "ERR The ID specified in XADD is equal or smaller than the target stream "
                    "top item"))
        return RS_ERR_DUPLICATE;
    for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++)
        if (starts(msg, transient[i]))
            return RS_ERR_TRANSIENT;
    if (starts(msg, "OOM"))
        return RS_ERR_OOM;
    if (starts(msg, "NOAUTH") || starts(msg, "WRONGPASS") || starts(msg, "ERR invalid password") ||
        starts(msg, "ERR invalid username-password"))
        return RS_ERR_AUTH;
    if (starts(msg, "NOPERM"))
        return RS_ERR_NOPERM;
    if (starts(msg, "WRONGTYPE"))
        return RS_ERR_WRONGTYPE;
    return RS_ERR_OTHER;
}

int rs_err_errno(enum rs_err_class cls)
{
    switch (cls) {
    case RS_ERR_AUTH:
    case RS_ERR_NOPERM:
        return -EACCES;
    case RS_ERR_OOM:
        return -ENOMEM;
    case RS_ERR_WRONGTYPE:
        return -EINVAL;
    default:
        return -EIO;
    }
}

/* ---- the libuv adapter's hooks ---------------------------------------------- */

static void poll_cb(uv_poll_t *handle, int status, int events)
{
    redisLibuvEvents *p = handle->data;
    /* A poll error: libuv stopped the handle. Both handlers run; hiredis
     * finds the error and disconnects, or re-arms what it still needs. */
    if (status < 0)
        events = UV_READABLE | UV_WRITABLE;
    if (p->context && (events & UV_READABLE))
        redisAsyncHandleRead(p->context);
    if (p->context && (events & UV_WRITABLE))
        redisAsyncHandleWrite(p->context);
}

/* hiredis asks for the write event after every command it queues. libuv's
 * uv_poll_start() always stops the handle first, which costs an epoll_ctl
 * system call each time: only restart when the events change, or when
 * libuv stopped the handle after a poll error. */
static void ev_update(redisLibuvEvents *p, int add, int del)
{
    int events = (p->events | add) & ~del;
    bool active = uv_is_active((uv_handle_t *)&p->handle);
    if (events == p->events && (active || !events))
        return;
    p->events = events;
    if (events)
        uv_poll_start(&p->handle, events, poll_cb);
    else
        uv_poll_stop(&p->handle);
}

static void ev_add_read(void *d)
{
    ev_update(d, UV_READABLE, 0);
}

static void ev_del_read(void *d)
{
    ev_update(d, 0, UV_READABLE);
}

static void ev_add_write(void *d)
{
    ev_update(d, UV_WRITABLE, 0);
}

static void ev_del_write(void *d)
{
    ev_update(d, 0, UV_WRITABLE);
}

static void poll_closed(uv_handle_t *h)
{
    struct rs_conn *c = h->data;
    free((char *)h - offsetof(redisLibuvEvents, handle));
    handle_closed(c);
}

/* hiredis is freeing the context: close its poll handle, and count it
 * until libuv has closed it. */
static void ev_cleanup(void *d)
{
    redisLibuvEvents *p = d;
    redisAsyncContext *ac = p->context;
    if (!ac)
        return;
    struct rs_conn *c = ac->data;
    ac->ev.addRead = ac->ev.delRead = ac->ev.addWrite = ac->ev.delWrite = NULL;
    ac->ev.cleanup = NULL;
    p->context = NULL;
    p->handle.data = c;
    uv_close((uv_handle_t *)&p->handle, poll_closed);
}

static int attach(struct rs_conn *c, redisAsyncContext *ac)
{
    if (redisLibuvAttach(ac, c->host->loop) != REDIS_OK) {
        ac->ev.cleanup = NULL; /* nothing attached: nothing to clean */
        return -ENOMEM;
    }
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    c->open_handles++;
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------- */

static void handle_closed(struct rs_conn *c)
{
    c->open_handles--;
    if (c->state == RS_CONN_CLOSED && c->open_handles == 0 && c->cbs.on_closed)
        c->cbs.on_closed(c);
}

static void timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

struct rs_conn *rs_conn_of(const redisAsyncContext *ac)
{
    struct rs_conn *c = ac->data;
    return c && c->ac == ac ? c : NULL;
}

bool rs_conn_ready(const struct rs_conn *c)
{
    return c->state == RS_CONN_READY;
}

/* Forget the live context; hiredis frees it now, or after the running
 * callback. Its pending callbacks get NULL and find it stale. */
static void free_context(struct rs_conn *c)
{
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    if (ac)
        redisAsyncFree(ac);
    if (c->gai_active)
        uv_cancel((uv_req_t *)&c->gai);
}

static void on_backoff_done(uv_timer_t *t)
{
    struct rs_conn *c = t->data;
    if (c->state != RS_CONN_BACKOFF)
        return;
    c->host->count_retry(c->host);
    attempt(c);
}

static void give_up(struct rs_conn *c, int err, const char *msg)
{
    free_context(c);
    uv_timer_stop(&c->timer);
    c->state = RS_CONN_FAILED;
    if (c->cbs.on_fatal)
        c->cbs.on_fatal(c, err, msg);
}

/* The attempt (or the ready connection) failed for a reason retrying may
 * fix: back off and try again. */
static void retry_later(struct rs_conn *c, int err, const char *why)
{
    bool was_ready = c->state == RS_CONN_READY;
    free_context(c);
    if (!c->retry) {
        char msg[512];
        snprintf(msg, sizeof msg, "cannot connect to Redis at %s: %s", c->cfg->where, why);
        give_up(c, err, msg);
        return;
    }
    char d[32];
    if (was_ready) {
        c->down_since_ms = rs_now_ms(c);
        c->host->log(c->host, WW_LOG_WARN, "lost the connection to Redis at %s: %s; reconnecting",
                     c->cfg->where, why);
    } else {
        c->attempts++;
        /* Attempts 1, 2, 4, 8, ...: enough to follow an outage. */
        if ((c->attempts & (c->attempts - 1)) == 0)
            c->host->log(c->host, WW_LOG_WARN,
                         "cannot connect to Redis at %s: %s; retrying in %s (attempt %u)",
                         c->cfg->where, why, rs_fmt_ms(c->backoff_ms, d, sizeof d), c->attempts);
    }
    c->state = RS_CONN_BACKOFF;
    c->addr_index++;
    uv_timer_start(&c->timer, on_backoff_done, was_ready ? BACKOFF_FIRST_MS : c->backoff_ms, 0);
    if (!was_ready)
        c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
    if (was_ready && c->cbs.on_down)
        c->cbs.on_down(c);
}

void rs_conn_drop(struct rs_conn *c, const char *why)
{
    if (c->state == RS_CONN_CLOSED || c->state == RS_CONN_FAILED || c->state == RS_CONN_BACKOFF ||
        c->state == RS_CONN_IDLE)
        return;
    retry_later(c, -ETIMEDOUT, why);
}

static void on_attempt_timeout(uv_timer_t *t)
{
    struct rs_conn *c = t->data;
    char d[32], why[96];
    const char *step = c->state == RS_CONN_HANDSHAKE   ? "no reply to the handshake"
                       : c->state == RS_CONN_RESOLVING ? "the host was not resolved"
                                                       : "not connected";
    snprintf(why, sizeof why, "%s within connect_timeout (%s)", step,
             rs_fmt_ms(c->cfg->connect_timeout_ms, d, sizeof d));
    retry_later(c, -ETIMEDOUT, why);
}

/* ---- handshake ------------------------------------------------------------ */

static void ready(struct rs_conn *c)
{
    uv_timer_stop(&c->timer);
    c->state = RS_CONN_READY;
    char d[32];
    if (c->down_since_ms || c->attempts) {
        uint64_t since = c->down_since_ms ? rs_now_ms(c) - c->down_since_ms : 0;
        c->host->log(c->host, WW_LOG_INFO,
                     "connected to Redis %s at %s again%s%s (%u failed "
                     "attempt(s))",
                     c->version, c->cfg->where, since ? " after " : "",
                     since ? rs_fmt_ms(since, d, sizeof d) : "", c->attempts);
    } else {
        c->host->log(c->host, c->retry ? WW_LOG_INFO : WW_LOG_DEBUG,
                     "%sconnected to Redis %s at %s, db %ld%s%s",
                     c->retry ? "" : "probe: ", c->version, c->cfg->where, c->cfg->db,
                     c->cfg->password ? (c->cfg->user ? ", ACL user " : ", with a password") : "",
                     c->cfg->password && c->cfg->user ? c->cfg->user : "");
    }
    c->attempts = 0;
    c->down_since_ms = 0;
    c->backoff_ms = BACKOFF_FIRST_MS;
    if (c->cbs.on_ready)
        c->cbs.on_ready(c);
}

static void parse_version(struct rs_conn *c, const redisReply *r)
{
    snprintf(c->version, sizeof c->version, "(version unknown)");
    if (r->type != REDIS_REPLY_STRING)
        return;
    const char *v = strstr(r->str, "redis_version:");
    if (!v)
        return;
    v += strlen("redis_version:");
    size_t n = strcspn(v, "\r\n");
    if (n >= sizeof c->version)
        n = sizeof c->version - 1;
    memcpy(c->version, v, n);
    c->version[n] = '\0';
}

static void on_handshake_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct rs_conn *c = rs_conn_of(ac);
    const redisReply *reply = r;
    if (!c || !reply || c->state != RS_CONN_HANDSHAKE)
        return;
    enum hs_step step = (enum hs_step)(intptr_t)privdata;
    char msg[640];
    if (reply->type == REDIS_REPLY_ERROR) {
        const char *e = reply->str;
        enum rs_err_class cls = rs_classify(e);
        if (step == HS_AUTH &&
            (strstr(e, "without any password configured") || strstr(e, "no password is set"))) {
            c->host->log(c->host, WW_LOG_WARN,
                         "Redis at %s has no password set; the password "
                         "in [redis] url is not needed",
                         c->cfg->where);
        } else if (cls == RS_ERR_TRANSIENT) {
            retry_later(c, -EAGAIN, e);
            return;
        } else if (step == HS_AUTH && strstr(e, "wrong number of arguments")) {
            snprintf(msg, sizeof msg,
                     "Redis at %s does not know ACL users (AUTH user password "
                     "needs Redis 6): for a requirepass password use "
                     "redis://:password@host in [redis] url",
                     c->cfg->where);
            give_up(c, -ENOTSUP, msg);
            return;
        } else if (step == HS_AUTH || cls == RS_ERR_AUTH) {
            if (step == HS_AUTH)
                snprintf(msg, sizeof msg,
                         "Redis at %s refused the credentials of [redis] url "
                         "(%s): check the user and password",
                         c->cfg->where, e);
            else
                snprintf(msg, sizeof msg,
                         "Redis at %s requires authentication (%s): put the "
                         "user and password in [redis] url "
                         "(redis://user:password@host:port/db)",
                         c->cfg->where, e);
            give_up(c, -EACCES, msg);
            return;
        } else if (step == HS_INFO && cls == RS_ERR_NOPERM) {
            /* INFO is only for the log: a user without +info may stream. */
        } else {
            snprintf(msg, sizeof msg, "Redis at %s refused %s: %s", c->cfg->where,
                     step == HS_SELECT ? "SELECT of the db in [redis] url" : "INFO server", e);
            give_up(c, cls == RS_ERR_NOPERM ? -EACCES : -EINVAL, msg);
            return;
        }
    } else if (step == HS_INFO) {
        parse_version(c, reply);
        if (c->version[0] >= '1' && c->version[0] <= '4' && c->version[1] == '.') {
            snprintf(msg, sizeof msg,
                     "Redis %s at %s has no streams: walwire needs Redis 5.0 "
                     "or later",
                     c->version, c->cfg->where);
            give_up(c, -ENOTSUP, msg);
            return;
        }
    }
    if (--c->handshake_left == 0)
        ready(c);
}

/* Append one command given as arguments to b (RESP). */
static int format_argv(struct rs_buf *b, int argc, const char *const *argv)
{
    size_t need = 32;
    for (int i = 0; i < argc; i++)
        need += strlen(argv[i]) + 32;
    if (rs_buf_reserve(b, need) < 0)
        return -ENOMEM;
    b->len += (size_t)snprintf(b->data + b->len, b->cap - b->len, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        b->len += (size_t)snprintf(b->data + b->len, b->cap - b->len, "$%zu\r\n", n);
        memcpy(b->data + b->len, argv[i], n);
        memcpy(b->data + b->len + n, "\r\n", 2);
        b->len += n + 2;
    }
    b->data[b->len] = '\0'; /* hiredis scans formatted commands with strchr */
    return 0;
}

static int send_argv(struct rs_conn *c, enum hs_step step, int argc, const char *const *argv)
{
    struct rs_buf b = {0};
    int rc = format_argv(&b, argc, argv);
    if (rc == 0 && redisAsyncFormattedCommand(c->ac, on_handshake_reply, (void *)(intptr_t)step,
                                              b.data, b.len) != REDIS_OK)
        rc = -ENOTCONN;
    /* The buffer may hold the password. */
    if (b.data)
        memset(b.data, 0, b.cap);
    rs_buf_free(&b);
    if (rc == 0)
        c->handshake_left++;
    return rc;
}

/* hiredis's connect callback. It must not free ac (hiredis frees it after
 * a failed connect, once we return). */
static void on_connect(const redisAsyncContext *cac, int status)
{
    struct rs_conn *c = rs_conn_of(cac);
    if (!c)
        return;
    if (status != REDIS_OK) {
        char why[160];
        snprintf(why, sizeof why, "%s", cac->c.errstr[0] ? cac->c.errstr : "connect failed");
        c->ac = NULL; /* hiredis frees it */
        retry_later(c, -ECONNREFUSED, why);
        return;
    }
    c->state = RS_CONN_HANDSHAKE;
    c->handshake_left = 0;
    const struct rs_config *cfg = c->cfg;
    char db[24];
    snprintf(db, sizeof db, "%ld", cfg->db);
    int rc = 0;
    if (cfg->password && cfg->user)
        rc = send_argv(c, HS_AUTH, 3, (const char *const[]){"AUTH", cfg->user, cfg->password});
    else if (cfg->password)
        rc = send_argv(c, HS_AUTH, 2, (const char *const[]){"AUTH", cfg->password});
    if (rc == 0 && cfg->db != 0)
        rc = send_argv(c, HS_SELECT, 2, (const char *const[]){"SELECT", db});
    if (rc == 0)
        rc = send_argv(c, HS_INFO, 2, (const char *const[]){"INFO", "server"});
    /* A failure here (out of memory) leaves the deadline to end the attempt:
     * the context must not be freed inside this callback. */
    (void)rc;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rs_conn *c = rs_conn_of(ac);
    (void)status;
    if (!c)
        return; /* we freed it ourselves */
    char why[160];
    snprintf(why, sizeof why, "%s", ac->errstr ? ac->errstr : "connection closed");
    c->ac = NULL; /* being freed by hiredis */
    retry_later(c, -ECONNRESET, why);
}

/* ---- connecting --------------------------------------------------------- */

static void connect_to(struct rs_conn *c, const char *ip)
{
    redisAsyncContext *ac = c->cfg->unix_socket ? redisAsyncConnectUnix(c->cfg->path)
                                                : redisAsyncConnect(ip, c->cfg->port);
    if (!ac) {
        retry_later(c, -ENOMEM, "out of memory");
        return;
    }
    if (ac->err) {
        char why[160];
        snprintf(why, sizeof why, "%s", ac->errstr);
        redisAsyncFree(ac); /* nothing attached yet */
        retry_later(c, -ECONNREFUSED, why);
        return;
    }
    ac->data = c;
    if (attach(c, ac) < 0) {
        redisAsyncFree(ac);
        retry_later(c, -ENOMEM, "cannot watch the socket");
        return;
    }
    c->ac = ac;
    c->state = RS_CONN_CONNECTING;
    redisAsyncSetConnectCallback(ac, on_connect); /* starts watching for writable */
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct rs_conn *c = req->data;
    c->gai_active = false;
    if (c->state != RS_CONN_RESOLVING || status == UV_ECANCELED) {
        uv_freeaddrinfo(res);
        handle_closed(c);
        return;
    }
    if (status < 0) {
        char why[160];
        snprintf(why, sizeof why, "cannot resolve the host: %s", uv_strerror(status));
        handle_closed(c);
        retry_later(c, -EHOSTUNREACH, why);
        return;
    }
    /* Successive attempts go round the addresses. */
    unsigned n = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        n++;
    struct addrinfo *a = res;
    for (unsigned i = 0; i < c->addr_index % n; i++)
        a = a->ai_next;
    char ip[64] = "";
    if (a->ai_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)a->ai_addr, ip, sizeof ip);
    else
        uv_ip4_name((const struct sockaddr_in *)a->ai_addr, ip, sizeof ip);
    uv_freeaddrinfo(res);
    handle_closed(c);
    connect_to(c, ip);
}

static void attempt(struct rs_conn *c)
{
    if (c->gai_active) {
        /* The last lookup could not be cancelled and is still running:
         * its request cannot be reused yet. */
        c->state = RS_CONN_BACKOFF;
        uv_timer_start(&c->timer, on_backoff_done, c->backoff_ms, 0);
        return;
    }
    uv_timer_start(&c->timer, on_attempt_timeout, c->cfg->connect_timeout_ms, 0);
    if (c->cfg->unix_socket) {
        connect_to(c, NULL);
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->gai.data = c;
    c->state = RS_CONN_RESOLVING;
    int rc = uv_getaddrinfo(c->host->loop, &c->gai, on_resolved, c->cfg->host, NULL, &hints);
    if (rc < 0) {
        char why[160];
        snprintf(why, sizeof why, "cannot resolve the host: %s", uv_strerror(rc));
        retry_later(c, -EHOSTUNREACH, why);
        return;
    }
    c->gai_active = true;
    c->open_handles++;
}

void rs_conn_init(struct rs_conn *c, const struct ww_host *host, const struct rs_config *cfg,
                  const struct rs_conn_cbs *cbs, bool retry, void *data)
{
    memset(c, 0, sizeof *c);
    c->host = host;
    c->cfg = cfg;
    c->cbs = *cbs;
    c->retry = retry;
    c->data = data;
    c->backoff_ms = BACKOFF_FIRST_MS;
    uv_timer_init(host->loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 1;
}

void rs_conn_start(struct rs_conn *c)
{
    if (c->state == RS_CONN_IDLE)
        attempt(c);
}

int rs_conn_send(struct rs_conn *c, redisCallbackFn *fn, void *privdata, const char *cmd,
                 size_t len)
{
    if (c->state != RS_CONN_READY || !c->ac)
        return -ENOTCONN;
    return redisAsyncFormattedCommand(c->ac, fn, privdata, cmd, len) == REDIS_OK ? 0 : -ENOTCONN;
}

void rs_conn_close(struct rs_conn *c)
{
    if (c->state == RS_CONN_CLOSED)
        return;
    c->state = RS_CONN_CLOSED;
    free_context(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, timer_closed);
}
