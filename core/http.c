/*
 * The HTTP server (see http.h for the contract).
 *
 * A connection moves through these states:
 *
 *   READING  ── request complete ──► WRITING ── keep-alive ──► READING
 *      │                                │
 *      └─ malformed / too large ─►  WRITING ── close ──► LINGER ──► CLOSING
 *
 * READING feeds the bytes read to http_parser. The parser pauses itself at
 * the end of each request (on_message_complete), so that the rest of what was
 * read (a pipelined request) stays in the read buffer, unparsed, until the
 * response is written; reading from the socket stops meanwhile. This keeps
 * one response per connection in memory, whatever the client sends.
 * LINGER sends FIN and reads (and drops) what the client still sends until
 * it closes too, so that it sees our error response rather than a reset.
 * One timer per connection enforces the deadline in every state.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define READ_BUF_SIZE  8192
#define LISTEN_BACKLOG 128
#define LINGER_MS_MAX  2000
/* A response body buffer that grew past this is freed after the response,
 * so that idle keep-alive connections do not each hold a large one. */
#define BODY_KEEP_MAX 65536

enum conn_state { C_READING, C_WRITING, C_LINGER, C_CLOSING };

struct conn {
    struct ww_http_server *srv;
    struct conn *prev, *next; /* the server's list of open connections */
    uv_tcp_t tcp;
    uv_timer_t timer;   /* the deadline */
    uv_write_t wreq;    /* the response being written */
    uv_shutdown_t sreq; /* LINGER's FIN */
    int open_handles;   /* tcp + timer until both are closed */
    enum conn_state state;

    http_parser parser;
    int error_status;    /* set by a parser callback that refuses the request */
    size_t header_bytes; /* request line + header bytes of this request */
    uint64_t body_bytes; /* body bytes of this request (dropped) */
    bool keep_alive;     /* http_should_keep_alive() at the end of the request */
    struct ww_buf url;   /* the request target, as sent */

    struct ww_buf head; /* status line + headers of the response */
    struct ww_buf body; /* the handler's body */

    /* Bytes read and not yet parsed: rbuf[roff, rlen). */
    char rbuf[READ_BUF_SIZE];
    size_t roff, rlen;
};

struct ww_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    ww_http_handler handler;
    void *arg;
    uint64_t timeout_ms;
    struct conn *conns;
    unsigned nconns;
    /* Things whose close callback is still to come: the listener, every
     * connection, every refused socket. done fires when it reaches 0. */
    unsigned pending;
    bool closing;
    void (*done)(void *arg);
    void *done_arg;
};

static void conn_close(struct conn *c);
static void conn_feed(struct conn *c);

/* ---- server bookkeeping ------------------------------------------------ */

static void server_release(struct ww_http_server *s)
{
    if (--s->pending > 0 || !s->closing)
        return;
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    free(s);
    if (done)
        done(arg);
}

static void on_listener_closed(uv_handle_t *h)
{
    server_release(h->data);
}

/* ---- responses --------------------------------------------------------- */

static void restart_timer(struct conn *c, uint64_t ms);

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;
    if (status < 0 && c->state == C_LINGER)
        conn_close(c);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

/* The last response went out and the connection is to be closed: send FIN
 * and drop what the client still sends until it closes or time runs out. */
static void begin_linger(struct conn *c)
{
    c->state = C_LINGER;
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) < 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c);
        return;
    }
    restart_timer(c, c->srv->timeout_ms < LINGER_MS_MAX ? c->srv->timeout_ms : LINGER_MS_MAX);
}

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    if (c->state == C_CLOSING)
        return; /* cancelled by conn_close */
    if (status < 0) {
        ww_debug("http", "write: %s", uv_strerror(status));
        conn_close(c);
        return;
    }
    if (c->body.cap > BODY_KEEP_MAX)
        ww_buf_free(&c->body);
    if (!c->keep_alive) {
        begin_linger(c);
        return;
    }
    /* Ready for the next request, with a fresh deadline. */
    c->state = C_READING;
    restart_timer(c, c->srv->timeout_ms);
    conn_feed(c); /* a pipelined request may be waiting in rbuf */
    if (c->state == C_READING && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        conn_close(c);
}

/* Write status line, headers and (unless HEAD) c->body. */
static void send_response(struct conn *c, int status, const char *content_type, bool head_only)
{
    if (status < 100 || status > 599)
        status = 500;
    if (!content_type)
        content_type = "text/plain; charset=utf-8";
    struct ww_buf *h = &c->head;
    ww_buf_reset(h);
    ww_buf_puts(h, "HTTP/1.1 ");
    ww_buf_put_u64(h, (uint64_t)status);
    ww_buf_putc(h, ' ');
    const char *reason = http_status_str((enum http_status)status);
    ww_buf_append_str(h, reason[0] != '<' ? reason : "Unknown");
    ww_buf_puts(h, "\r\nContent-Type: ");
    ww_buf_append_str(h, content_type);
    ww_buf_puts(h, "\r\nContent-Length: ");
    ww_buf_put_u64(h, c->body.len);
    ww_buf_puts(h, "\r\nCache-Control: no-store\r\n");
    if (status == 405)
        ww_buf_puts(h, "Allow: GET, HEAD\r\n");
    if (c->keep_alive)
        ww_buf_puts(h, "Connection: keep-alive\r\n\r\n");
    else
        ww_buf_puts(h, "Connection: close\r\n\r\n");

    uv_buf_t bufs[2] = {uv_buf_init(h->data, (unsigned)h->len),
                        uv_buf_init(c->body.data, (unsigned)c->body.len)};
    unsigned nbufs = head_only || c->body.len == 0 ? 1 : 2;
    /* Stop reading until the response is out: one request at a time. */
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->state = C_WRITING;
    c->wreq.data = c;
    /* uv_write keeps writing the rest after a partial write, and calls
     * on_write once everything is out (or failed). */
    int r = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, nbufs, on_write);
    if (r < 0) {
        ww_debug("http", "write: %s", uv_strerror(r));
        conn_close(c);
    }
}

/* Refuse the request with status and a one-line text body; then close. */
static void send_error(struct conn *c, int status, const char *text)
{
    c->keep_alive = false;
    ww_buf_reset(&c->body);
    ww_buf_append_str(&c->body, text);
    ww_buf_putc(&c->body, '\n');
    send_response(c, status, NULL, false);
}

/* A complete request was parsed: answer it. */
static void dispatch(struct conn *c)
{
    enum http_method m = (enum http_method)c->parser.method;
    if (c->parser.upgrade)
        c->keep_alive = false; /* we never switch protocols */
    ww_buf_reset(&c->body);
    if (m != HTTP_GET && m != HTTP_HEAD) {
        ww_buf_puts(&c->body, "method not allowed\n");
        send_response(c, 405, NULL, false);
        return;
    }
    /* The request target: origin form ("/metrics?x") or absolute form
     * ("http://host/metrics"); only its path reaches the handler. */
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (c->url.len == 0 || http_parser_parse_url(c->url.data, c->url.len, 0, &u) != 0) {
        send_error(c, 400, "bad request target");
        return;
    }
    ww_buf_cstr(&c->url);
    const char *path = "/";
    if (u.field_set & (1u << UF_PATH)) {
        path = c->url.data + u.field_data[UF_PATH].off;
        c->url.data[u.field_data[UF_PATH].off + u.field_data[UF_PATH].len] = '\0';
    }
    const char *ct = NULL;
    int status = c->srv->handler(c->srv->arg, http_method_str(m), path, &c->body, &ct);
    if (c->state == C_CLOSING)
        return; /* the handler closed the server */
    send_response(c, status, ct, m == HTTP_HEAD);
}

/* ---- request parsing --------------------------------------------------- */

/* Count request line and header bytes against the limit. */
static int count_header(http_parser *p, size_t len)
{
    struct conn *c = p->data;
    c->header_bytes += len;
    if (c->header_bytes > WW_HTTP_MAX_HEADER) {
        c->error_status = 431;
        return -1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct conn *c = p->data;
    ww_buf_reset(&c->url);
    c->header_bytes = 0;
    c->body_bytes = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (count_header(p, len) < 0)
        return -1;
    ww_buf_append(&c->url, at, len);
    return 0;
}

static int on_header_data(http_parser *p, const char *at, size_t len)
{
    (void)at;
    return count_header(p, len);
}

static int on_headers_complete(http_parser *p)
{
    struct conn *c = p->data;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > WW_HTTP_MAX_BODY) {
        c->error_status = 413;
        return -1; /* not 1 or 2: those mean "no body" and "upgrade" */
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    (void)at;
    struct conn *c = p->data;
    c->body_bytes += len;
    if (c->body_bytes > WW_HTTP_MAX_BODY) {
        c->error_status = 413;
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct conn *c = p->data;
    c->keep_alive = http_should_keep_alive(p) != 0;
    /* Stop here: conn_feed answers this request before parsing more. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_data,
    .on_header_value = on_header_data,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Parse what is buffered; answer a complete request or refuse a bad one. */
static void conn_feed(struct conn *c)
{
    while (c->state == C_READING && c->roff < c->rlen) {
        size_t n =
            http_parser_execute(&c->parser, &parser_settings, c->rbuf + c->roff, c->rlen - c->roff);
        c->roff += n;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            dispatch(c);
            return;
        }
        if (e != HPE_OK || n == 0 || c->parser.upgrade) {
            int status = c->error_status ? c->error_status : 400;
            if (e == HPE_HEADER_OVERFLOW)
                status = 431;
            ww_debug("http", "refusing a request (%d): %s", status,
                     e != HPE_OK ? http_errno_description(e) : "unexpected upgrade");
            send_error(c, status,
                       status == 431   ? "request header too large"
                       : status == 413 ? "request body too large"
                                       : "bad request");
            return;
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *c = h->data;
    /* Reading only runs once everything buffered was parsed. */
    c->roff = c->rlen = 0;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct conn *c = stream->data;
    if (nread == 0 || c->state == C_CLOSING)
        return;
    if (nread < 0) {
        /* EOF or a socket error: nothing more will come, in any state (a
         * request cut short gets no answer, there is no one to read it). */
        conn_close(c);
        return;
    }
    if (c->state != C_READING)
        return; /* LINGER: drop it */
    c->roff = 0;
    c->rlen = (size_t)nread;
    conn_feed(c);
}

/* ---- connections ------------------------------------------------------- */

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    struct ww_http_server *s = c->srv;
    ww_buf_free(&c->url);
    ww_buf_free(&c->head);
    ww_buf_free(&c->body);
    free(c);
    server_release(s);
}

static void conn_close(struct conn *c)
{
    if (c->state == C_CLOSING)
        return;
    c->state = C_CLOSING;
    struct ww_http_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    /* Pending write and shutdown requests are cancelled (ECANCELED)
     * before the close callbacks run. */
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_deadline(uv_timer_t *t)
{
    struct conn *c = t->data;
    ww_debug("http", "closing a connection after its deadline");
    conn_close(c);
}

static void restart_timer(struct conn *c, uint64_t ms)
{
    uv_timer_start(&c->timer, on_deadline, ms, 0);
}

/* As for buffers (buf.h), running out of memory ends the process. */
static void out_of_memory(void)
{
    fprintf(stderr, "walwire: out of memory\n");
    abort();
}

static void on_refused_closed(uv_handle_t *h)
{
    struct ww_http_server *s = h->data;
    free(h);
    server_release(s);
}

/* Too many connections: take this one off the backlog and close it. */
static void refuse_connection(struct ww_http_server *s)
{
    /* libuv stops watching the listener until this connection is taken
     * with uv_accept: it must be, whatever happens. */
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t)
        out_of_memory();
    uv_tcp_init(s->loop, t);
    t->data = s;
    s->pending++;
    uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, on_refused_closed);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct ww_http_server *s = listener->data;
    if (status < 0) {
        ww_warn("http", "accept: %s", uv_strerror(status));
        return;
    }
    if (s->nconns >= WW_HTTP_MAX_CONNECTIONS) {
        ww_debug("http", "refusing a connection: %u open", s->nconns);
        refuse_connection(s);
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        out_of_memory();
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->state = C_READING;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    s->pending++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c);
        return;
    }
    restart_timer(c, s->timeout_ms);
}

/* ---- listen / close ---------------------------------------------------- */

/* Parse "host:port", "[v6]:port", "localhost:port" or ":port". */
static int parse_listen(const char *listen, struct sockaddr_storage *ss)
{
    char host[128];
    const char *port;
    bool v6 = false;
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':' || (size_t)(end - listen - 1) >= sizeof host)
            return -EINVAL;
        memcpy(host, listen + 1, (size_t)(end - listen - 1));
        host[end - listen - 1] = '\0';
        port = end + 2;
        v6 = true;
    } else {
        const char *colon = strchr(listen, ':');
        if (!colon || strchr(colon + 1, ':') || (size_t)(colon - listen) >= sizeof host)
            return -EINVAL; /* no port, or an IPv6 address without brackets */
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        port = colon + 1;
    }
    unsigned long p = 0;
    if (!port[0] || strlen(port) > 5)
        return -EINVAL;
    for (const char *d = port; *d; d++) {
        if (*d < '0' || *d > '9')
            return -EINVAL;
        p = p * 10 + (unsigned long)(*d - '0');
    }
    if (p > 65535)
        return -EINVAL;
    memset(ss, 0, sizeof *ss);
    if (v6)
        return uv_ip6_addr(host, (int)p, (struct sockaddr_in6 *)ss) < 0 ? -EINVAL : 0;
    if (!host[0] || strcmp(host, "*") == 0)
        strcpy(host, "0.0.0.0");
    else if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    return uv_ip4_addr(host, (int)p, (struct sockaddr_in *)ss) < 0 ? -EINVAL : 0;
}

int ww_http_start(struct ww_http_server **out, uv_loop_t *loop, const char *listen,
                  ww_http_handler handler, void *arg, char *err, size_t errlen)
{
    *out = NULL;
    struct sockaddr_storage ss;
    if (parse_listen(listen, &ss) < 0) {
        snprintf(err, errlen,
                 "[http] listen %s: expected an IP address and a port, e.g. 127.0.0.1:9187, "
                 "0.0.0.0:9187 or [::1]:9187",
                 listen);
        return -EINVAL;
    }
    struct ww_http_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "[http] listen %s: out of memory", listen);
        return -ENOMEM;
    }
    s->loop = loop;
    s->handler = handler;
    s->arg = arg;
    s->timeout_ms = WW_HTTP_TIMEOUT_MS;
    int r = uv_tcp_init(loop, &s->listener);
    if (r < 0) {
        free(s);
        snprintf(err, errlen, "[http] listen %s: %s", listen, uv_strerror(r));
        return r;
    }
    s->listener.data = s;
    s->pending = 1;
    r = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
    if (r < 0) {
        snprintf(err, errlen, "[http] listen %s: %s", listen, uv_strerror(r));
        s->closing = true; /* frees s once the listener is closed */
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
        return r;
    }
    *out = s;
    return 0;
}

void ww_http_close(struct ww_http_server *s, void (*done)(void *arg), void *arg)
{
    if (s->closing)
        return;
    s->closing = true;
    s->done = done;
    s->done_arg = arg;
    while (s->conns)
        conn_close(s->conns);
    /* The listener's close callback comes later, from the loop: done is
     * never called from inside this function. */
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}

int ww_http_port(const struct ww_http_server *s)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    int r = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    if (r < 0)
        return r;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void ww_http_set_timeout_ms(struct ww_http_server *s, uint64_t ms)
{
    s->timeout_ms = ms ? ms : 1;
}

unsigned ww_http_connections(const struct ww_http_server *s)
{
    return s->nconns;
}
