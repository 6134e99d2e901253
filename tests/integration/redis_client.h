/*
 * Test helpers for the Redis Streams sink suite: a small synchronous Redis
 * client (RESP2), private redis-server processes for the tests that stop or
 * pause the server, reading streams back with XRANGE, a workload thread,
 * and the checks (exactly once, the slot never ahead of Redis).
 *
 * Functions named rc_* return NULL/false on a connection failure so that a
 * test can poll a server that is down; the others assert.
 */
#ifndef WW_TEST_REDIS_CLIENT_H
#define WW_TEST_REDIS_CLIENT_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

/* A reply: type is the RESP type byte ('+', '-', ':', '$', '*'), or 0 for
 * a null bulk or array. */
struct rv {
    char type;
    long long i; /* ':' */
    char *s;     /* '+', '-', '$': NUL-terminated, len bytes */
    size_t len;
    size_t n; /* '*' */
    struct rv **el;
};
void rv_free(struct rv *v);

struct rcli {
    int fd;
    char *buf;
    size_t r, w, cap;
};

/* Connect to 127.0.0.1:port or a unix socket; false when it fails. Reads
 * time out after 60 s. */
bool rc_open(struct rcli *c, int port);
bool rc_open_unix(struct rcli *c, const char *path);
void rc_close(struct rcli *c);
/* Send a command (NULL-terminated arguments) and read its reply; NULL when
 * the connection failed. */
struct rv *rc_cmd(struct rcli *c, const char *arg0, ...) __attribute__((sentinel));
/* Like rc_cmd, asserting a reply that is not an error. */
struct rv *rc_ok(struct rcli *c, const char *arg0, ...) __attribute__((sentinel));
/* An integer reply (XLEN, DEL, ...), asserted. */
long long rc_int(struct rcli *c, const char *arg0, ...) __attribute__((sentinel));

/* One stream entry, read back. */
struct sentry {
    uint64_t ms;
    uint64_t seq;
    char *op, *key, *value; /* the entry's fields; NULL when missing */
    size_t nfields;         /* field/value pairs */
};
struct sentries {
    struct sentry *v;
    size_t n;
};
/* Every entry of stream key, in order (XRANGE in pages). */
void read_stream(struct rcli *c, const char *key, struct sentries *out);
/* The entries after ID `after` ("<ms>-<seq>"; NULL: all), in order. */
void read_stream_after(struct rcli *c, const char *key, const char *after, struct sentries *out);
void free_stream(struct sentries *s);
/* after.id of the last entry of the stream; 0 when empty; -1 when the
 * server could not be reached. */
long long stream_top_id(struct rcli *c, const char *key);
/* The value of `"after":{"id":N` in an envelope, or -1. */
long long after_id(const char *value);

/* A redis-server of the test's own (port 0: a free one is picked). */
struct priv_redis {
    pid_t pid;
    int port;
    char dir[128];            /* --dir: its AOF, log, unix socket */
    char sock[192];           /* dir/redis.sock */
    const char *const *extra; /* more arguments, NULL-terminated */
};
/* Start it (again, on the same port and dir when already set up) and wait
 * until it answers. */
void priv_start(struct priv_redis *r);
/* SIGTERM (AOF flushed and synced by Redis) and reap. */
void priv_stop(struct priv_redis *r);
/* Kill if running, remove dir; a second call does nothing. */
void priv_destroy(struct priv_redis *r);
/* The largest after.id in the server's append-only files (what it holds
 * durably); for a stopped server. */
long long aof_max_id(const struct priv_redis *r);

/* ---- the workload and the checks (walwire running against PostgreSQL) ---- */

/* confirmed_flush_lsn of the slot. */
uint64_t confirmed(PGconn *admin, const char *slot);
/* Inserts the slot still holds for the next start (walwire stopped):
 * those not confirmed yet. The publication is "<slot>_pub". */
long long unconfirmed_inserts(PGconn *admin, const char *slot);

/* A thread committing ntx transactions of rows_per_tx rows into table t
 * (ids 1, 2, ... in order). */
struct writer {
    const char *db;
    int ntx, rows_per_tx;
    int *last_id;        /* per transaction */
    uint64_t *lsn_after; /* pg_current_wal_insert_lsn() after its COMMIT: >= its end */
    atomic_int done_tx;
    pthread_t th;
};
void writer_start(struct writer *wr, const char *db, int ntx, int rows_per_tx);
/* Join, asserting that every transaction was committed. */
void writer_join(struct writer *wr);
/* The position invariant against top, the after.id of the last entry the
 * stream holds: the first transaction the slot certainly confirmed
 * (lsn_after <= conf) that is not in the stream, or -1. */
int confirmed_ahead(struct writer *wr, uint64_t conf, long long top);
/* Sample the slot, then the stream (which only grows), and assert the
 * invariant. */
void check_position(PGconn *admin, const char *slot, struct writer *wr, struct rcli *rc,
                    const char *stream);
/* The stream holds ids 1..n once each, in order, as inserts with increasing
 * IDs "<commit LSN>-<seq>", one LSN per transaction of rows_per_tx rows. */
void check_exactly_once(struct rcli *rc, const char *stream, long long n, int rows_per_tx);

#endif
