/*
 * walwire sink ABI: the only header a sink module includes.
 *
 * A sink is a shared module (sink_<type>.so) that exports one symbol:
 *
 *     const struct ww_sink_ops *ww_sink_entry(void);
 *
 * The loader opens it with RTLD_NOW | RTLD_LOCAL, calls ww_sink_entry() and
 * refuses the module when ops->abi_version != WW_SINK_ABI_VERSION or when
 * ops->size is smaller than the part of struct ww_sink_ops that this ABI
 * version requires (WW_SINK_OPS_MIN_SIZE). Fields are only ever appended; a
 * field beyond ops->size is treated as NULL.
 *
 * A sink never links against core. Everything it needs from core comes
 * through the struct ww_host that core lends it in open(): the loop, logging,
 * its own configuration section, and resume().
 *
 * Threads: every function here, and every callback a sink invokes (ack,
 * done, resume, log), runs on the loop thread. A sink that uses library
 * threads (librdkafka) brings their results back to the loop itself.
 *
 * The write/ack contract:
 *
 *   - write(sink, change, ack, token) returns
 *       0        the change is accepted. ack(token, status) follows exactly
 *                once, later, on the loop thread, and never from inside
 *                write().
 *       -EAGAIN  the change is not accepted and no ack will come. Core stops
 *                reading WAL and offers the same change again after the sink
 *                calls host->resume().
 *       other negative errno: the sink is broken; core stops.
 *   - status == 0 in ack() means the change is durable at the destination: a
 *     Kafka delivery report without error (idempotent producer, acks=all), a
 *     Redis reply that is not an error, an fsync that covers the record.
 *     Transient outages are retried inside the sink (reconnect with backoff,
 *     order kept); meanwhile acks simply do not come and back-pressure
 *     reaches PostgreSQL.
 *   - status != 0 (a negative errno) means the sink gave up on this change.
 *     Core stops advancing the slot, exits with a clear error and a non-zero
 *     code, and the next start resumes from the last confirmed position.
 *   - Acks may arrive out of order across partitions or streams; core orders
 *     them. Within one table (one topic, stream or file) a sink keeps the
 *     order in which write() accepted the changes.
 *   - Change data is borrowed for the duration of write(); a sink copies what
 *     it keeps.
 *   - close(sink, done, arg) stops the sink: everything still outstanding is
 *     acked with -ECANCELED, handles are closed, and done(arg) is called
 *     exactly once after that (possibly from inside close()). The sink frees
 *     its memory before calling done. No callback fires after done.
 */
#ifndef WALWIRE_SINK_H
#define WALWIRE_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WW_SINK_ABI_VERSION 1u

/* Event kinds; the value is the character of the envelope's "op" field. */
enum ww_op {
    WW_OP_CREATE = 'c',   /* INSERT */
    WW_OP_UPDATE = 'u',   /* UPDATE */
    WW_OP_DELETE = 'd',   /* DELETE */
    WW_OP_READ = 'r',     /* a row read by the initial snapshot */
    WW_OP_TRUNCATE = 't', /* TRUNCATE, one event per table */
    WW_OP_MESSAGE = 'm',  /* pg_logical_emit_message() */
    /* Transaction metadata records ([format] transactions = true), not row
     * changes: schema and table are "", the key is {"id":"<txId>:<LSN>"},
     * and sinks send them to their transaction topic or stream
     * ("{prefix}.transaction" by default). BEGIN comes before the first
     * event of a transaction, END after its last. */
    WW_OP_TX_BEGIN = 'B',
    WW_OP_TX_END = 'E',
};

/*
 * One change event, already encoded. Every pointer is borrowed for the
 * duration of write().
 */
struct ww_change {
    char op; /* enum ww_op */
    /* The table the change belongs to, NUL-terminated. For messages ('m'),
     * schema is "" and table is the message prefix; for transaction records
     * ('B', 'E') both are "". */
    const char *schema;
    const char *table;
    /* Encoded key (JSON). NULL when the table has no key: the sink writes a
     * null key (Kafka), an empty "key" field (Redis) or JSON null (file). */
    const char *key;
    size_t key_len;
    /* Encoded value: the Debezium envelope (JSON). Never NULL. */
    const char *value;
    size_t value_len;
    /* WAL position of this change (the envelope's source.lsn); for snapshot
     * rows, the slot's consistent point. */
    uint64_t lsn;
    /* LSN of the commit record of the change's transaction (pgoutput Begin's
     * final_lsn). Strictly increasing from one transaction to the next in
     * commit order; the same for a change replayed after a restart. For
     * snapshot rows, the slot's consistent point minus one: below the
     * commit_lsn of every transaction streamed after the snapshot. */
    uint64_t commit_lsn;
    /* Index of this change within its transaction, from 0, in the order core
     * writes them; for snapshot rows, the index of the row within the whole
     * snapshot. (commit_lsn, seq) is unique and increases in write order. */
    uint32_t seq;
    /* Transaction id (0 for snapshot rows and non-transactional messages). */
    uint32_t xid;
    /* Commit time, microseconds since the Unix epoch (0 when unknown). */
    int64_t commit_time_us;
    /* Non-zero for rows of the initial snapshot. */
    int snapshot;
};

/* Acknowledge one accepted change; see the contract above. */
typedef void (*ww_ack_fn)(void *token, int status);

enum ww_log_level {
    WW_LOG_ERROR = 0,
    WW_LOG_WARN = 1,
    WW_LOG_INFO = 2,
    WW_LOG_DEBUG = 3,
};

/*
 * What core lends a sink. Valid from open() until the sink calls done; the
 * sink must not free it. Every function takes the host itself as first
 * argument.
 */
struct ww_host {
    uv_loop_t *loop;
    /* [sink] topic_prefix: the Debezium "topic.prefix" / server name. */
    const char *topic_prefix;
    /* [source] max_inflight_bytes: the memory a sink may buffer for changes
     * it has accepted but not yet acked. */
    uint64_t max_inflight_bytes;

    /* Log one line as component "sink.<type>". Never pass secrets. */
    void (*log)(const struct ww_host *host, enum ww_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* The value of key in the sink's own section ([file], [kafka], ...),
     * after environment overrides; NULL when unset. Borrowed. */
    const char *(*config_get)(const struct ww_host *host, const char *key);
    /* Call fn for every key set in the sink's section, in file order, then
     * keys set only by the environment. Stops and returns fn's value when
     * it is non-zero. */
    int (*config_foreach)(const struct ww_host *host,
                          int (*fn)(void *arg, const char *key, const char *value), void *arg);
    /* Report a bad key or value in the sink's section. The message names the
     * file, line (or environment variable), section and key. Returns
     * -EINVAL so that open() can `return host->config_error(...)`. */
    int (*config_error)(const struct ww_host *host, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* After write() returned -EAGAIN: the sink has room again. May be called
     * at any time on the loop thread (spurious calls are harmless), but not
     * from inside write(). */
    void (*resume)(const struct ww_host *host);
    /* The sink gave up for a reason not tied to one change (e.g. wrong
     * credentials found while reconnecting): core stops with exit code 1.
     * The message says what is wrong and how to fix it. */
    void (*fail)(const struct ww_host *host, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
    /* Count a retry (reconnect, resend) for the metrics endpoint. */
    void (*count_retry)(const struct ww_host *host);

    void *core; /* core's private data; sinks do not touch it */
};

struct ww_sink_ops {
    uint32_t abi_version; /* WW_SINK_ABI_VERSION the module was built with */
    uint32_t size;        /* sizeof(struct ww_sink_ops) the module was built with */
    const char *name;     /* "file", "kafka", ... */

    /* Validate the configuration and start the sink (connecting may go on
     * in the background; writes before then are buffered or get -EAGAIN).
     * On success store the sink handle in *sinkp and return 0. On error
     * return a negative errno after logging (or config_error) what is
     * wrong; nothing is left open. */
    int (*open)(const struct ww_host *host, void **sinkp);
    /* See the write/ack contract at the top of this file. */
    int (*write)(void *sink, const struct ww_change *change, ww_ack_fn ack, void *token);
    /* See the close contract at the top of this file. */
    void (*close)(void *sink, void (*done)(void *arg), void *arg);

    /* Optional (may be NULL): check that the destination is reachable, for
     * `walwire check`. Calls cb exactly once, on the loop thread, with 0 and
     * a short description ("127.0.0.1:6379, redis 7.0.15"), or a negative
     * errno and what is wrong. */
    void (*probe)(void *sink, void (*cb)(void *arg, int status, const char *detail), void *arg);
};

/* The part of struct ww_sink_ops that version 1 requires. */
#define WW_SINK_OPS_MIN_SIZE (offsetof(struct ww_sink_ops, close) + sizeof(void (*)(void)))

/* The one symbol a sink module exports. */
typedef const struct ww_sink_ops *(*ww_sink_entry_fn)(void);
#define WW_SINK_ENTRY_SYMBOL "ww_sink_entry"

#ifdef __cplusplus
}
#endif

#endif /* WALWIRE_SINK_H */
