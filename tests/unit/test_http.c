/*
 * The HTTP server: a real listener on 127.0.0.1 (port 0: the kernel picks
 * one), its loop on a thread of its own, and plain blocking sockets as
 * clients. Reads carry a receive timeout: that is the deadline of every
 * wait, there is no sleep anywhere.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

#define DEADLINE_MS  5000
#define BIG_BODY     (4u << 20)
#define METRICS_BODY "walwire_up 1\n"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- the server under test, on its own loop thread --------------------- */

static struct {
    uv_loop_t loop;
    uv_async_t stop;
    pthread_t thread;
    struct ww_http_server *srv;
    int port;
    atomic_int done_calls;
    atomic_bool loop_exited;
    atomic_int handler_calls;
    pthread_mutex_t lock; /* guards the last request seen */
    char last_method[16];
    char last_path[256];
} fx = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int handler(void *arg, const char *method, const char *path, struct ww_buf *body,
                   const char **content_type)
{
    (void)arg;
    atomic_fetch_add(&fx.handler_calls, 1);
    pthread_mutex_lock(&fx.lock);
    snprintf(fx.last_method, sizeof fx.last_method, "%s", method);
    snprintf(fx.last_path, sizeof fx.last_path, "%s", path);
    pthread_mutex_unlock(&fx.lock);
    if (strcmp(path, "/metrics") == 0) {
        ww_buf_puts(body, METRICS_BODY);
        *content_type = METRICS_TYPE;
        return 200;
    }
    if (strcmp(path, "/big") == 0) {
        ww_buf_reserve(body, BIG_BODY);
        for (uint32_t i = 0; i < BIG_BODY; i++)
            body->data[i] = (char)('a' + i % 23);
        body->len = BIG_BODY;
        return 200;
    }
    ww_buf_puts(body, "not found\n");
    return 404;
}

static void on_done(void *arg)
{
    if (arg == &fx) /* runs on the loop thread: count, the test checks */
        atomic_fetch_add(&fx.done_calls, 1);
}

static void on_stop(uv_async_t *a)
{
    ww_http_close(fx.srv, on_done, &fx);
    uv_close((uv_handle_t *)a, NULL);
}

static void *loop_main(void *arg)
{
    (void)arg;
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    atomic_store(&fx.loop_exited, true);
    return NULL;
}

/* Start the server (timeout_ms 0: the default deadline). */
static void server_start(uint64_t timeout_ms)
{
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(uv_loop_init(&fx.loop), 0);
    char err[256] = "";
    int r = ww_http_start(&fx.srv, &fx.loop, "127.0.0.1:0", handler, &fx, err, sizeof err);
    cr_assert_eq(r, 0, "start: %s", err);
    if (timeout_ms)
        ww_http_set_timeout_ms(fx.srv, timeout_ms);
    fx.port = ww_http_port(fx.srv);
    cr_assert_gt(fx.port, 0);
    uv_async_init(&fx.loop, &fx.stop, on_stop);
    cr_assert_eq(pthread_create(&fx.thread, NULL, loop_main, NULL), 0);
}

/* Close the server from its loop; the loop must then run out of handles
 * (every connection closed) and done must have been called exactly once. */
static void server_stop(void)
{
    uv_async_send(&fx.stop);
    int64_t deadline = now_ms() + DEADLINE_MS;
    while (!atomic_load(&fx.loop_exited) && now_ms() < deadline)
        poll(NULL, 0, 5);
    cr_assert(atomic_load(&fx.loop_exited), "the loop still has handles after close");
    pthread_join(fx.thread, NULL);
    cr_assert_eq(atomic_load(&fx.done_calls), 1);
    cr_assert_eq(uv_loop_close(&fx.loop), 0);
}

/* ---- a minimal blocking client ----------------------------------------- */

struct client {
    int fd;
    char *buf; /* received, not yet consumed */
    size_t len, cap;
};

struct response {
    int status;
    char content_type[128];
    char connection[32];
    char allow[32];
    long content_length;
    char *body;
    size_t body_len;
};

static int client_connect(struct client *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(c->fd, 0);
    struct timeval tv = {.tv_sec = DEADLINE_MS / 1000};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(c->fd, (struct sockaddr *)&sa, sizeof sa);
}

static void client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
}

/* Send everything; errors (the server closed) are the caller's to see in
 * the reply. */
static void client_send(struct client *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static void client_sends(struct client *c, const char *s)
{
    client_send(c, s, strlen(s));
}

/* Receive more; 0 on EOF or reset, -1 on timeout. */
static ssize_t client_fill(struct client *c)
{
    if (c->cap - c->len < 65536) {
        c->cap = c->cap ? c->cap * 2 : 131072;
        c->buf = realloc(c->buf, c->cap);
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
    if (n < 0)
        return errno == ECONNRESET ? 0 : -1;
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return n;
}

static const char *header_value(const char *headers, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(headers, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
        const char *h = p + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            const char *v = h + nl + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r");
            snprintf(out, outlen, "%.*s", (int)n, v);
            return out;
        }
    }
    out[0] = '\0';
    return NULL;
}

/* Read one response (no body when head_only); 0, or -1 on EOF/timeout. */
static int read_response(struct client *c, struct response *r, bool head_only)
{
    memset(r, 0, sizeof *r);
    char *end;
    while (!c->buf || !(end = strstr(c->buf, "\r\n\r\n")))
        if (client_fill(c) <= 0)
            return -1;
    size_t hlen = (size_t)(end - c->buf) + 4;
    char *headers = strndup(c->buf, hlen);
    cr_assert_eq(strncmp(headers, "HTTP/1.1 ", 9), 0, "status line: %.40s", headers);
    r->status = atoi(headers + 9);
    char cl[32];
    cr_assert_not_null(header_value(headers, "Content-Length", cl, sizeof cl), "no Content-Length");
    r->content_length = atol(cl);
    header_value(headers, "Content-Type", r->content_type, sizeof r->content_type);
    header_value(headers, "Connection", r->connection, sizeof r->connection);
    header_value(headers, "Allow", r->allow, sizeof r->allow);
    free(headers);
    size_t blen = head_only ? 0 : (size_t)r->content_length;
    while (c->len < hlen + blen)
        if (client_fill(c) <= 0)
            return -1;
    r->body = malloc(blen + 1);
    memcpy(r->body, c->buf + hlen, blen);
    r->body[blen] = '\0';
    r->body_len = blen;
    memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
    c->len -= hlen + blen;
    c->buf[c->len] = '\0';
    return 0;
}

/* The server closed the connection (EOF or reset) within the deadline,
 * without sending anything more. */
static void expect_closed(struct client *c)
{
    ssize_t n;
    while ((n = client_fill(c)) > 0)
        ;
    cr_assert_eq(n, 0, "the connection is still open after %d ms", DEADLINE_MS);
    cr_assert_eq(c->len, 0, "unexpected bytes: %.60s", c->buf ? c->buf : "");
}

static void last_request(char *method, char *path)
{
    pthread_mutex_lock(&fx.lock);
    strcpy(method, fx.last_method);
    strcpy(path, fx.last_path);
    pthread_mutex_unlock(&fx.lock);
}

/* ---- requests ---------------------------------------------------------- */

Test(http, get_metrics)
{
    server_start(0);
    struct client c;
    cr_assert_eq(client_connect(&c, fx.port), 0);
    client_sends(&c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    struct response r;
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, METRICS_TYPE);
    cr_assert_eq(r.content_length, (long)strlen(METRICS_BODY));
    cr_assert_str_eq(r.body, METRICS_BODY);
    cr_assert_str_eq(r.connection, "keep-alive");
    char method[16], path[256];
    last_request(method, path);
    cr_assert_str_eq(method, "GET");
    cr_assert_str_eq(path, "/metrics");
    free(r.body);
    client_close(&c);
    server_stop();
}

Test(http, keep_alive_and_pipelining)
{
    server_start(0);
    struct client c;
    cr_assert_eq(client_connect(&c, fx.port), 0);
    struct response r;
    /* Two requests one after the other on one connection. */
    for (int i = 0; i < 2; i++) {
        client_sends(&c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert_eq(read_response(&c, &r, false), 0, "request %d", i);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(r.body, METRICS_BODY);
        free(r.body);
    }
    /* Three pipelined in one write: answered in order. */
    client_sends(&c, "GET /metrics HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n"
                     "GET /metrics?x=1 HTTP/1.1\r\nConnection: close\r\n\r\n");
    int want[] = {200, 404, 200};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(read_response(&c, &r, false), 0, "pipelined %d", i);
        cr_assert_eq(r.status, want[i], "pipelined %d: %d", i, r.status);
        cr_assert_str_eq(r.connection, i < 2 ? "keep-alive" : "close");
        free(r.body);
    }
    cr_assert_eq(atomic_load(&fx.handler_calls), 5);
    /* "Connection: close" is honoured. */
    expect_closed(&c);
    client_close(&c);
    server_stop();
}

Test(http, http10_closes_unless_keep_alive)
{
    server_start(0);
    struct client c;
    struct response r;
    cr_assert_eq(client_connect(&c, fx.port), 0);
    client_sends(&c, "GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_str_eq(r.connection, "keep-alive");
    free(r.body);
    client_sends(&c, "GET /metrics HTTP/1.0\r\n\r\n");
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.connection, "close");
    free(r.body);
    expect_closed(&c);
    client_close(&c);
    server_stop();
}

Test(http, head_sends_length_without_body)
{
    server_start(0);
    struct client c;
    cr_assert_eq(client_connect(&c, fx.port), 0);
    struct response r;
    client_sends(&c, "HEAD /metrics HTTP/1.1\r\n\r\n");
    cr_assert_eq(read_response(&c, &r, true), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.content_length, (long)strlen(METRICS_BODY));
    char method[16], path[256];
    last_request(method, path);
    cr_assert_str_eq(method, "HEAD");
    free(r.body);
    /* Had a body been sent, it would now be read as the next status line. */
    client_sends(&c, "GET /nope HTTP/1.1\r\n\r\n");
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 404);
    free(r.body);
    client_close(&c);
    server_stop();
}

Test(http, handler_status_and_path_without_query)
{
    server_start(0);
    struct client c;
    cr_assert_eq(client_connect(&c, fx.port), 0);
    struct response r;
    client_sends(&c, "GET /nope?a=b#frag HTTP/1.1\r\n\r\n");
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(r.body, "not found\n");
    cr_assert_str_eq(r.content_type, "text/plain; charset=utf-8");
    char method[16], path[256];
    last_request(method, path);
    cr_assert_str_eq(path, "/nope");
    free(r.body);
    /* Absolute form: only the path reaches the handler. */
    client_sends(&c, "GET http://example.com/metrics HTTP/1.1\r\n\r\n");
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    free(r.body);
    client_close(&c);
    server_stop();
}

Test(http, other_methods_get_405)
{
    server_start(0);
    struct client c;
    cr_assert_eq(client_connect(&c, fx.port), 0);
    struct response r;
    client_sends(&c, "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 405);
    cr_assert_str_eq(r.allow, "GET, HEAD");
    free(r.body);
    client_sends(&c, "DELETE / HTTP/1.1\r\n\r\n");
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 405);
    free(r.body);
    /* The connection is still good (the body was consumed). */
    client_sends(&c, "GET /metrics HTTP/1.1\r\n\r\n");
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    free(r.body);
    cr_assert_eq(atomic_load(&fx.handler_calls), 1, "the handler saw a POST or DELETE");
    client_close(&c);
    server_stop();
}

/* Upgrade and CONNECT: answered, never switched, and closed. */
Test(http, upgrade_and_connect_are_answered_then_closed)
{
    server_start(0);
    struct client c;
    struct response r;
    cr_assert_eq(client_connect(&c, fx.port), 0);
    client_sends(&c, "GET /metrics HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.connection, "close");
    free(r.body);
    expect_closed(&c);
    client_close(&c);

    cr_assert_eq(client_connect(&c, fx.port), 0);
    client_sends(&c, "CONNECT example.com:443 HTTP/1.1\r\n\r\n");
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 405);
    cr_assert_str_eq(r.connection, "close");
    free(r.body);
    expect_closed(&c);
    client_close(&c);
    server_stop();
}

/* Each of these gets `status` and the connection closed. */
static void expect_refused(const char *request, size_t len, int status)
{
    struct client c;
    cr_assert_eq(client_connect(&c, fx.port), 0);
    client_send(&c, request, len);
    struct response r;
    cr_assert_eq(read_response(&c, &r, false), 0, "no response to %.30s", request);
    cr_assert_eq(r.status, status, "%d for %.30s", r.status, request);
    cr_assert_str_eq(r.connection, "close");
    free(r.body);
    expect_closed(&c);
    client_close(&c);
}

Test(http, malformed_requests_get_400_and_close)
{
    server_start(0);
    static const char *const bad[] = {
        "BLAH / HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1 extra\r\n\r\n",
        "GET /metrics HTTP/9\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nNo colon here\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET /met rics HTTP/1.1\r\n\r\n",
        "\x01\x02\x03\xff\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_refused(bad[i], strlen(bad[i]), 400);
    /* A NUL in the request line. */
    expect_refused("GET /a\0b HTTP/1.1\r\n\r\n", 22, 400);
    cr_assert_eq(atomic_load(&fx.handler_calls), 0);
    /* Still serving. */
    struct client c;
    struct response r;
    cr_assert_eq(client_connect(&c, fx.port), 0);
    client_sends(&c, "GET /metrics HTTP/1.1\r\n\r\n");
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    free(r.body);
    client_close(&c);
    server_stop();
}

Test(http, huge_headers_get_431_and_close)
{
    server_start(0);
    /* 100 KiB of headers. */
    size_t cap = 110 * 1024, len = 0;
    char *req = malloc(cap);
    len += (size_t)snprintf(req, cap, "GET /metrics HTTP/1.1\r\n");
    while (len < 100 * 1024)
        len += (size_t)snprintf(req + len, cap - len, "X-Pad-%zu: %0100d\r\n", len, 7);
    len += (size_t)snprintf(req + len, cap - len, "\r\n");
    expect_refused(req, len, 431);
    /* One huge request target. */
    len = (size_t)snprintf(req, cap, "GET /");
    memset(req + len, 'a', 20000);
    len += 20000;
    len += (size_t)snprintf(req + len, cap - len, " HTTP/1.1\r\n\r\n");
    expect_refused(req, len, 431);
    free(req);
    cr_assert_eq(atomic_load(&fx.handler_calls), 0);
    server_stop();
}

Test(http, large_bodies_get_413_and_close)
{
    server_start(0);
    const char *declared = "POST / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n";
    expect_refused(declared, strlen(declared), 413);
    /* A chunked body that grows past the limit. */
    size_t cap = 64 * 1024, len = 0;
    char *req = malloc(cap);
    len += (size_t)snprintf(req, cap, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 6; i++) {
        len += (size_t)snprintf(req + len, cap - len, "1000\r\n");
        memset(req + len, 'b', 4096);
        len += 4096;
        len += (size_t)snprintf(req + len, cap - len, "\r\n");
    }
    expect_refused(req, len, 413);
    free(req);
    server_stop();
}

Test(http, stalled_client_is_closed_after_the_deadline)
{
    server_start(300);
    struct client c;
    cr_assert_eq(client_connect(&c, fx.port), 0);
    int64_t t0 = now_ms();
    client_sends(&c, "GET /metrics HTTP/1.1\r\nHost: x\r\n");
    expect_closed(&c);
    int64_t took = now_ms() - t0;
    cr_assert_geq(took, 250, "closed after %lld ms, before the deadline", (long long)took);
    client_close(&c);

    /* Dribbling a byte now and then does not extend the deadline. */
    cr_assert_eq(client_connect(&c, fx.port), 0);
    const char *req = "GET /metrics HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    t0 = now_ms();
    bool closed = false;
    for (size_t i = 0; req[i] && !closed; i++) {
        send(c.fd, req + i, 1, MSG_NOSIGNAL);
        /* Wait up to 50 ms for the server to close (that is the pacing). */
        struct pollfd p = {.fd = c.fd, .events = POLLIN};
        closed = poll(&p, 1, 50) == 1;
    }
    cr_assert(closed, "a dribbling client held the connection for %lld ms",
              (long long)(now_ms() - t0));
    expect_closed(&c);
    client_close(&c);

    /* An idle keep-alive connection is closed too. */
    cr_assert_eq(client_connect(&c, fx.port), 0);
    client_sends(&c, "GET /metrics HTTP/1.1\r\n\r\n");
    struct response r;
    cr_assert_eq(read_response(&c, &r, false), 0);
    free(r.body);
    expect_closed(&c);
    client_close(&c);
    server_stop();
}

Test(http, large_response_arrives_whole)
{
    server_start(0);
    struct client c;
    cr_assert_eq(client_connect(&c, fx.port), 0);
    /* 4 MiB is more than the socket buffers hold: the server's write
     * completes in several parts while this client reads. */
    client_sends(&c, "GET /big HTTP/1.1\r\n\r\n");
    struct response r;
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, BIG_BODY);
    for (uint32_t i = 0; i < BIG_BODY; i++)
        if (r.body[i] != (char)('a' + i % 23))
            cr_assert_fail("byte %u differs", i);
    free(r.body);
    client_sends(&c, "GET /metrics HTTP/1.1\r\n\r\n");
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    free(r.body);
    client_close(&c);
    server_stop();
}

Test(http, connection_limit)
{
    server_start(0);
    enum { N = 100 };
    static struct client cs[N];
    for (int i = 0; i < N; i++)
        cr_assert_eq(client_connect(&cs[i], fx.port), 0, "connect %d: %s", i, strerror(errno));
    /* Every socket is connected (the kernel's backlog); the server keeps
     * WW_HTTP_MAX_CONNECTIONS of them and closes the rest. */
    int served = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        client_sends(&cs[i], "GET /metrics HTTP/1.1\r\n\r\n");
        struct response r;
        if (read_response(&cs[i], &r, false) == 0) {
            cr_assert_eq(r.status, 200);
            free(r.body);
            served++;
        } else {
            cr_assert_eq(cs[i].len, 0);
            refused++;
        }
    }
    cr_assert_eq(served, WW_HTTP_MAX_CONNECTIONS);
    cr_assert_eq(refused, N - WW_HTTP_MAX_CONNECTIONS);
    for (int i = 0; i < N; i++)
        client_close(&cs[i]);
    /* Once the server has seen those closes, new clients are served. */
    int64_t deadline = now_ms() + DEADLINE_MS;
    bool ok = false;
    while (!ok && now_ms() < deadline) {
        struct client c;
        struct response r;
        cr_assert_eq(client_connect(&c, fx.port), 0);
        client_sends(&c, "GET /metrics HTTP/1.1\r\n\r\n");
        if (read_response(&c, &r, false) == 0) {
            ok = r.status == 200;
            free(r.body);
        }
        client_close(&c);
    }
    cr_assert(ok, "no longer serving after the connection storm");
    server_stop();
}

Test(http, close_with_open_connections_calls_done_once)
{
    server_start(0);
    struct client idle, half, served;
    cr_assert_eq(client_connect(&idle, fx.port), 0);
    cr_assert_eq(client_connect(&half, fx.port), 0);
    cr_assert_eq(client_connect(&served, fx.port), 0);
    client_sends(&half, "GET /metrics HTTP/1.1\r\nHo");
    client_sends(&served, "GET /metrics HTTP/1.1\r\n\r\n");
    struct response r;
    cr_assert_eq(read_response(&served, &r, false), 0);
    free(r.body);
    /* All three are open on the server side (the third proved it's up;
     * the first two were accepted before it, in order). */
    server_stop();
    expect_closed(&idle);
    expect_closed(&half);
    expect_closed(&served);
    client_close(&idle);
    client_close(&half);
    client_close(&served);
}

Test(http, random_garbage_never_harms_the_server)
{
    server_start(200);
    enum { N = 60 };
    static struct client cs[N];
    static const char valid[] = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n"
                                "Content-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n";
    unsigned seed = 12345;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            char blob[sizeof valid];
            size_t len = sizeof valid - 1;
            memcpy(blob, valid, len);
            if (i % 3 == 0) {
                for (size_t k = 0; k < len; k++) /* pure noise */
                    blob[k] = (char)rand_r(&seed);
            } else {
                for (int k = 0; k < 1 + i % 5; k++) /* a few corrupted bytes */
                    blob[rand_r(&seed) % len] = (char)rand_r(&seed);
                len = 1 + (size_t)rand_r(&seed) % len; /* maybe cut short */
            }
            cr_assert_eq(client_connect(&cs[i], fx.port), 0);
            client_send(&cs[i], blob, len);
        }
        /* Whatever each got (responses, an error, nothing), the server
         * closes every connection: an error, Connection: close, or the
         * deadline for an incomplete request or an idle keep-alive. */
        for (int i = 0; i < N; i++) {
            ssize_t n;
            while ((n = client_fill(&cs[i])) > 0)
                ;
            cr_assert_eq(n, 0, "connection %d still open after %d ms", i, DEADLINE_MS);
            if (cs[i].len > 0)
                cr_assert_eq(strncmp(cs[i].buf, "HTTP/1.1 ", 9), 0, "%d: %.40s", i, cs[i].buf);
            client_close(&cs[i]);
        }
    }
    struct client c;
    struct response r;
    cr_assert_eq(client_connect(&c, fx.port), 0);
    client_sends(&c, "GET /metrics HTTP/1.1\r\n\r\n");
    cr_assert_eq(read_response(&c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    free(r.body);
    client_close(&c);
    server_stop();
}

/* ---- listen addresses ---------------------------------------------------- */

static void count_done(void *arg)
{
    (*(int *)arg)++;
}

Test(http_listen, bad_addresses_are_refused_with_the_address)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const char *const bad[] = {
        "",         "9187",           "127.0.0.1",       "::1:9187",         "[::1]9187",
        "[::1",     "127.0.0.1:",     "127.0.0.1:65536", "host:9187",        "127.0.0.1:9x",
        "1.2.3:80", "[nothost]:9187", "127.0.0.1:-1",    "127.0.0.1:123456",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct ww_http_server *s = (void *)1;
        char err[256] = "";
        int r = ww_http_start(&s, &loop, bad[i], handler, NULL, err, sizeof err);
        cr_assert_eq(r, -EINVAL, "\"%s\": %d", bad[i], r);
        cr_assert_null(s);
        char want[64];
        snprintf(want, sizeof want, "[http] listen %s:", bad[i]);
        cr_assert_not_null(strstr(err, want), "\"%s\": %s", bad[i], err);
    }
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(http_listen, address_in_use)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ww_http_server *a, *b;
    char err[256] = "";
    cr_assert_eq(ww_http_start(&a, &loop, "127.0.0.1:0", handler, NULL, err, sizeof err), 0, "%s",
                 err);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ww_http_port(a));
    int r = ww_http_start(&b, &loop, addr, handler, NULL, err, sizeof err);
    cr_assert_eq(r, -EADDRINUSE, "%d: %s", r, err);
    cr_assert_null(b);
    char want[128];
    snprintf(want, sizeof want, "[http] listen %s: address already in use", addr);
    cr_assert_str_eq(err, want);
    int done = 0;
    ww_http_close(a, count_done, &done);
    cr_assert_eq(done, 0, "done was called from inside close");
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(done, 1);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(http_listen, ipv6_loopback)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (probe < 0 || bind(probe, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (probe >= 0)
            close(probe);
        cr_skip_test("no IPv6 loopback here");
    }
    close(probe);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ww_http_server *s;
    char err[256] = "";
    cr_assert_eq(ww_http_start(&s, &loop, "[::1]:0", handler, NULL, err, sizeof err), 0, "%s", err);
    int port = ww_http_port(s);
    cr_assert_gt(port, 0);
    /* A non-blocking connect, then drive the loop until the response is in. */
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    sa.sin6_port = htons((uint16_t)port);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char *req = "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n";
    cr_assert_eq(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    char buf[1024];
    size_t len = 0;
    int64_t deadline = now_ms() + DEADLINE_MS;
    while (now_ms() < deadline) {
        uv_run(&loop, UV_RUN_NOWAIT);
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, MSG_DONTWAIT);
        if (n == 0)
            break;
        if (n > 0)
            len += (size_t)n;
        else
            poll(NULL, 0, 1);
    }
    buf[len] = '\0';
    cr_assert_not_null(strstr(buf, "HTTP/1.1 200 OK\r\n"), "got: %s", buf);
    cr_assert_not_null(strstr(buf, METRICS_BODY));
    close(fd);
    int done = 0;
    ww_http_close(s, count_done, &done);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(done, 1);
    cr_assert_eq(uv_loop_close(&loop), 0);
}
