/*
 * A small HTTP/1.1 server on the libuv loop, for /metrics, /healthz and
 * /readyz ([http] listen). Requests are parsed with http_parser (Debian's
 * libhttp-parser); the server never blocks the loop and bounds everything a
 * client can make it hold:
 *
 *   - at most WW_HTTP_MAX_CONNECTIONS connections; further ones are accepted
 *     and closed at once;
 *   - request line + header fields and values at most WW_HTTP_MAX_HEADER
 *     bytes (431 and close), a body at most WW_HTTP_MAX_BODY bytes (413 and
 *     close); the body of a request is read and dropped;
 *   - one request at a time per connection (pipelined requests wait, unread,
 *     until the previous response is written);
 *   - a deadline (WW_HTTP_TIMEOUT_MS): a connection must complete its next
 *     request, and take its response, within it, counted from accept or from
 *     the end of the previous response; a client that stalls is closed.
 *
 * Only GET and HEAD reach the handler (405 otherwise); a malformed request
 * gets 400. Error responses close the connection (after a short lingering
 * read so that the client sees the response rather than a reset).
 * Keep-alive follows HTTP: the default for HTTP/1.1, opt-in for HTTP/1.0,
 * and "Connection: close" is honoured.
 *
 * Thread: everything here runs on the loop thread.
 */
#ifndef WW_HTTP_H
#define WW_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"

#define WW_HTTP_MAX_CONNECTIONS 64
#define WW_HTTP_MAX_HEADER      8192
#define WW_HTTP_MAX_BODY        16384
#define WW_HTTP_TIMEOUT_MS      10000

struct ww_http_server;

/*
 * Called once per complete GET or HEAD request, on the loop thread.
 * method is "GET" or "HEAD"; path is the request target's path, without
 * query string or fragment ("/metrics"); both are borrowed for the call.
 * The handler appends the response body to body (empty on entry; the server
 * owns it and drops it for HEAD, keeping its length for Content-Length),
 * may set *content_type to a static string (default
 * "text/plain; charset=utf-8"), and returns the HTTP status code (a value
 * outside 100..599 is sent as 500).
 */
typedef int (*ww_http_handler)(void *arg, const char *method, const char *path, struct ww_buf *body,
                               const char **content_type);

/*
 * Listen on `listen`: "host:port" with an IPv4 address, "[v6addr]:port",
 * "localhost:port" (127.0.0.1) or ":port" (every IPv4 interface). Port 0
 * picks a free port (see ww_http_port). handler and arg are borrowed until
 * ww_http_close's done.
 * Returns 0 and *out, or a negative errno with one line in err naming the
 * address ("[http] listen 127.0.0.1:9187: address already in use"). On
 * failure a half-made listener may still be closing: the caller runs the
 * loop before closing it, as for any other handle.
 */
int ww_http_start(struct ww_http_server **out, uv_loop_t *loop, const char *listen,
                  ww_http_handler handler, void *arg, char *err, size_t errlen);

/* Close the listener and every connection (responses in flight are dropped),
 * then call done(arg) once, from the loop, and free the server. done may be
 * NULL. Call once. */
void ww_http_close(struct ww_http_server *s, void (*done)(void *arg), void *arg);

/* The port the server listens on (useful after listening on port 0);
 * negative errno on failure. */
int ww_http_port(const struct ww_http_server *s);

/* The deadline per request (see above); applies to deadlines armed from now
 * on. Default WW_HTTP_TIMEOUT_MS. For tests and tuning. */
void ww_http_set_timeout_ms(struct ww_http_server *s, uint64_t ms);

/* Connections open now (for tests and diagnostics). */
unsigned ww_http_connections(const struct ww_http_server *s);

#endif
