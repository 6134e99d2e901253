/*
 * Redis Streams sink: the pieces shared by its files.
 *
 *   redis_config.c  [redis] keys, the url, stream name templates
 *   redis_format.c  streams by name, XADD and XINFO in RESP
 *   redis_conn.c    one connection: resolve, connect, AUTH/SELECT/INFO,
 *                   timeouts and reconnect with backoff (hiredis on libuv)
 *   redis_sink.c    the ABI: write() queues XADDs, batches go out as
 *                   MULTI/XADD.../EXEC, replies ack the changes
 *   redis_probe.c   `walwire check`: connect once and report the version
 *
 * Everything runs on the loop thread. docs/sinks.md describes the
 * behaviour for users; the comments here describe the contracts.
 */
#ifndef WW_SINK_REDIS_H
#define WW_SINK_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "walwire/sink.h"

#define RS_DEFAULT_URL            "redis://127.0.0.1:6379/0"
#define RS_DEFAULT_STREAM         "{prefix}:{schema}.{table}"
#define RS_DEFAULT_MESSAGE_STREAM "{prefix}:message"
#define RS_DEFAULT_TX_STREAM "{prefix}:transaction"
#define RS_DEFAULT_MAXLEN         "~1000000"

/* ---- configuration (redis_config.c) ----------------------------------- */

enum rs_id_mode {
    RS_ID_LSN,  /* "<commit_lsn>-<seq>": a replay is refused by Redis itself */
    RS_ID_AUTO, /* "*": Redis assigns a time-based ID; replays duplicate */
};

struct rs_config {
    /* From url. host/port for TCP, path for a unix socket. */
    bool unix_socket;
    char *host; /* no brackets around an IPv6 address */
    int port;
    char *path;
    char *user;      /* ACL user (AUTH user password); NULL: legacy AUTH password */
    char *password;  /* NULL: no AUTH. A secret: never logged or echoed. */
    long db;         /* SELECT db when not 0 */
    char where[320]; /* "host:port" or the socket path, for messages */

    char *stream_tpl;  /* stream name template for row changes */
    char *message_tpl; /* stream name template for logical messages ('m') */
    char *tx_tpl;      /* for transaction metadata records ('B', 'E') */
    bool trim;         /* XADD MAXLEN ... */
    bool trim_approx;  /* MAXLEN ~ N */
    char maxlen[24];   /* N, decimal */
    enum rs_id_mode id_mode;
    uint64_t connect_timeout_ms; /* connect + handshake of one attempt */
    uint64_t reply_timeout_ms;   /* a batch's EXEC reply */
    uint64_t oom_wait_ms;        /* how long OOM refusals are retried */
    size_t max_pending;          /* changes accepted and not yet acked */
};

/* Read and validate the [redis] section into cfg. Every error goes through
 * host->config_error (never echoing the url) and returns -EINVAL. On error
 * nothing is left allocated. */
int rs_config_parse(const struct ww_host *host, struct rs_config *cfg);
void rs_config_free(struct rs_config *cfg);

/* A growable byte buffer (the sink's scratch space). */
struct rs_buf {
    char *data;
    size_t len, cap;
};
int rs_buf_reserve(struct rs_buf *b, size_t extra);
void rs_buf_free(struct rs_buf *b);

/* Render the stream name of change c into b (b->len = its length, not
 * NUL-terminated): message_tpl for op 'm', stream_tpl otherwise;
 * {prefix} is the topic prefix, {schema} and {table} the change's. */
int rs_render_stream(const struct rs_config *cfg, const char *prefix, const struct ww_change *c,
                     struct rs_buf *b);

/* ---- streams and commands (redis_format.c) ------------------------------ */

/* One stream the sink writes to; lives until the sink is freed. */
struct rs_stream {
    char *name;
    size_t len;
    uint32_t hash;
    bool verified;      /* id = lsn: its last ID was read and is plausible */
    bool foreign;       /* ... or it is far ahead of ours */
    uint64_t check_gen; /* the batch that carries its XINFO STREAM */
    char top[48];       /* the last ID read, for the message */
};

/* Streams by name (open addressing). */
struct rs_streams {
    struct rs_stream **slots;
    size_t count, cap;
};
/* The stream called name[0..len), created on first use; NULL: no memory. */
struct rs_stream *rs_stream_get(struct rs_streams *m, const char *name, size_t len);
void rs_streams_free(struct rs_streams *m);

/* One accepted change: who to ack, and its XADD in RESP (cmd[0..len)). */
struct rs_entry {
    struct rs_entry *next;
    ww_ack_fn ack;
    void *token;
    struct rs_stream *stream;
    uint64_t id_ms;  /* commit_lsn (id = lsn) */
    uint32_t id_seq; /* seq */
    int status;      /* the result of its batch, while acking */
    size_t len;
    char cmd[];
};

/* A new entry holding "XADD <stream> [MAXLEN [~] N] <id> op <op> key <key>
 * value <value>" for change c (copied); ack and token are left unset.
 * NULL: no memory. */
struct rs_entry *rs_format_xadd(const struct rs_config *cfg, struct rs_stream *st,
                                const struct ww_change *c);
/* b = "XINFO STREAM <stream>" in RESP. */
int rs_format_xinfo(struct rs_buf *b, const struct rs_stream *st);

/* ---- Redis error replies (redis_conn.c) -------------------------------- */

enum rs_err_class {
    RS_ERR_DUPLICATE, /* XADD: ID equal or smaller than the stream's top */
    RS_ERR_TRANSIENT, /* LOADING, BUSY, MISCONF, READONLY, ...: retry later */
    RS_ERR_OOM,       /* maxmemory reached (noeviction): retry up to oom_wait */
    RS_ERR_AUTH,      /* NOAUTH, WRONGPASS, invalid password */
    RS_ERR_NOPERM,    /* ACL: command or key not allowed */
    RS_ERR_WRONGTYPE, /* the key holds something that is not a stream */
    RS_ERR_OTHER,     /* anything else: not fixed by retrying */
};
enum rs_err_class rs_classify(const char *msg);
/* The errno a change is acked with for a class that retrying cannot fix. */
int rs_err_errno(enum rs_err_class cls);

/* ---- one connection (redis_conn.c) ------------------------------------ */

enum rs_conn_state {
    RS_CONN_IDLE,       /* not started */
    RS_CONN_RESOLVING,  /* uv_getaddrinfo running */
    RS_CONN_CONNECTING, /* TCP/unix connect in progress */
    RS_CONN_HANDSHAKE,  /* AUTH, SELECT, INFO server sent */
    RS_CONN_READY,      /* commands may be sent */
    RS_CONN_BACKOFF,    /* waiting before the next attempt */
    RS_CONN_FAILED,     /* gave up (credentials, or a probe that failed) */
    RS_CONN_CLOSED,     /* rs_conn_close called */
};

struct rs_conn;
struct rs_conn_cbs {
    /* The connection is ready: AUTH, SELECT and INFO server succeeded. */
    void (*on_ready)(struct rs_conn *c);
    /* A ready connection was lost; commands in flight got no reply and
     * will not get one. A new attempt follows after a backoff. */
    void (*on_down)(struct rs_conn *c);
    /* Gave up: wrong credentials or no permission (err -EACCES), Redis too
     * old (-ENOTSUP), or for a connection without retries any failure.
     * msg says what is wrong and how to fix it; it holds no secret. */
    void (*on_fatal)(struct rs_conn *c, int err, const char *msg);
    /* After rs_conn_close: every handle of the connection is closed. */
    void (*on_closed)(struct rs_conn *c);
};

struct rs_conn {
    const struct ww_host *host;  /* borrowed */
    const struct rs_config *cfg; /* borrowed */
    struct rs_conn_cbs cbs;
    void *data; /* the owner's */
    bool retry; /* reconnect after failures (false: a probe) */

    enum rs_conn_state state;
    redisAsyncContext *ac; /* the live context, or NULL */
    uv_timer_t timer;      /* attempt deadline, backoff */
    uv_getaddrinfo_t gai;
    bool gai_active;
    int open_handles;    /* timer, poll handles, getaddrinfo */
    unsigned attempts;   /* failed attempts since the last ready */
    unsigned addr_index; /* which resolved address to try */
    uint64_t backoff_ms;
    uint64_t down_since_ms; /* 0: not down */
    int handshake_left;     /* replies the handshake still waits for */
    char version[32];       /* redis_version from INFO server */
};

/* Set up c (its timer is initialised: rs_conn_close must follow). retry:
 * reconnect after failures (the sink's connection); false: one attempt,
 * any failure is on_fatal (a probe). data is the owner's. */
void rs_conn_init(struct rs_conn *c, const struct ww_host *host, const struct rs_config *cfg,
                  const struct rs_conn_cbs *cbs, bool retry, void *data);
/* Start the first attempt. */
void rs_conn_start(struct rs_conn *c);
bool rs_conn_ready(const struct rs_conn *c);
/* Queue one RESP-formatted command; fn(ac, reply, privdata) follows with
 * the reply, or with a NULL reply when the context goes away. Returns 0,
 * or -ENOTCONN when the connection is not ready. */
int rs_conn_send(struct rs_conn *c, redisCallbackFn *fn, void *privdata, const char *cmd,
                 size_t len);
/* The connection of a context (for reply callbacks); NULL when ac is no
 * longer the connection's live context: its callback is stale. */
struct rs_conn *rs_conn_of(const redisAsyncContext *ac);
/* Drop the live context (why: for the log) and reconnect after a backoff.
 * on_down follows when the connection was ready. Safe inside callbacks. */
void rs_conn_drop(struct rs_conn *c, const char *why);
/* Stop for good. on_closed follows on a later turn of the loop, once every
 * handle is closed; no other callback comes after this call. */
void rs_conn_close(struct rs_conn *c);

uint64_t rs_now_ms(const struct rs_conn *c);
/* "1.5 s", "200 ms": a duration for messages. */
const char *rs_fmt_ms(uint64_t ms, char *buf, size_t n);

/* ---- probe (redis_probe.c) ---------------------------------------------- */

struct rs_probe;
typedef void (*rs_probe_cb)(void *arg, int status, const char *detail);
/* Connect once with cfg and call cb(arg, 0, "host:port, redis X.Y.Z") or
 * cb(arg, -errno, what is wrong). *list links the running probes so that
 * the sink can cancel them; on_gone(owner) is called once a probe has
 * freed itself. */
int rs_probe_start(const struct ww_host *host, const struct rs_config *cfg, struct rs_probe **list,
                   void (*on_gone)(void *owner), void *owner, rs_probe_cb cb, void *arg);
/* Cancel every probe of list: cb(arg, -ECANCELED, ...), then they free
 * themselves (on_gone for each). */
void rs_probe_cancel_all(struct rs_probe **list);

#endif
