/*
 * File sink: appends one JSON line per change to a file (or stdout).
 *
 *   [file]
 *   path  = /var/lib/walwire/changes.jsonl   ; '-' is stdout
 *   fsync = batch                            ; always | batch | never
 *
 * Line format (one JSON value per line, docs/sinks.md):
 *   {"key":<key JSON or null>,"value":<Debezium envelope>}\n
 *
 * Group commit with two queues. write() appends the change, already framed
 * as its output line, to the fill queue. When no flush is running, the fill
 * queue becomes the flushing queue and one job on libuv's threadpool writes
 * all of it (writev, short writes continued) and then calls fdatasync. When
 * the job is done, back on the loop thread, every change of the flush is
 * acked in order, and the next flush starts with whatever filled up in the
 * meantime. Under load one fdatasync covers many changes; the loop never
 * blocks on the disk.
 *
 *   always  a flush takes one change: one fdatasync per change
 *   batch   a flush takes the whole fill queue, then fdatasync (default)
 *   never   like batch, without fdatasync (acked once write(2) returned)
 *
 * fdatasync runs only when the output is a regular file (or block device):
 * pipes, ttys and character devices cannot be synced (fdatasync gives
 * EINVAL), so for them an ack means the bytes were handed to write(2).
 *
 * Threads: everything here runs on the loop thread except flush_work(),
 * which touches only the flushing queue and the fd while a flush runs; the
 * loop thread leaves both alone until flush_done().
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "walwire/sink.h"

#define FS_EXPORT __attribute__((visibility("default")))

/* The fill queue's cap: min([source] max_inflight_bytes, this). */
#define FS_MAX_FILL_BYTES (16u << 20)
/* Records per writev(2) call. */
#define FS_IOV_BATCH 64

enum fs_sync_mode { FS_SYNC_ALWAYS, FS_SYNC_BATCH, FS_SYNC_NEVER };
static const char *const sync_mode_names[] = {"always", "batch", "never"};

/* One accepted change: its output line and who to ack. */
struct fs_rec {
    struct fs_rec *next;
    ww_ack_fn ack;
    void *token;
    size_t len;  /* bytes of line, including the '\n' */
    char line[]; /* {"key":...,"value":...}\n */
};

/* A FIFO of records; bytes is the sum of their lengths. */
struct fs_queue {
    struct fs_rec *head;
    struct fs_rec **tailp;
    size_t count;
    size_t bytes;
};

struct file_sink {
    const struct ww_host *host; /* borrowed until done */
    char *path;                 /* as configured; "-" for stdout */
    int fd;
    int is_stdout;         /* fd 1: never closed by the sink */
    int sync;              /* call fdatasync after each flush */
    enum fs_sync_mode mode;
    size_t fill_limit;     /* past it, write() returns -EAGAIN */

    struct fs_queue fill;     /* accepted, waiting for the next flush */
    struct fs_queue flushing; /* owned by the threadpool while flush_active */
    int flush_active;
    uv_work_t work;
    int flush_status;      /* set by flush_work: 0 or a negative errno */
    const char *flush_op;  /* "write" or "fdatasync": what failed */

    int error;          /* sticky: after a failed flush, every write gets it */
    int want_resume;    /* a write got -EAGAIN: call host->resume() later */
    int closing;
    void (*done)(void *arg);
    void *done_arg;
};

static void queue_init(struct fs_queue *q)
{
    q->head = NULL;
    q->tailp = &q->head;
    q->count = 0;
    q->bytes = 0;
}

static void queue_push(struct fs_queue *q, struct fs_rec *r)
{
    r->next = NULL;
    *q->tailp = r;
    q->tailp = &r->next;
    q->count++;
    q->bytes += r->len;
}

static struct fs_rec *queue_pop(struct fs_queue *q)
{
    struct fs_rec *r = q->head;
    if (!r)
        return NULL;
    q->head = r->next;
    if (!q->head)
        q->tailp = &q->head;
    q->count--;
    q->bytes -= r->len;
    r->next = NULL;
    return r;
}

/* Ack every record of q with status, in order, and free them. q is emptied
 * first, so an ack callback that re-enters the sink sees a clean state. */
static void queue_ack_all(struct fs_queue *q, int status)
{
    struct fs_rec *r = q->head;
    queue_init(q);
    while (r) {
        struct fs_rec *next = r->next;
        r->ack(r->token, status);
        free(r);
        r = next;
    }
}

/* ---- the threadpool side ---- */

/* Write every record of the list starting at r, in order. Short writes go
 * on where they stopped; EAGAIN (an inherited non-blocking stdout) waits for
 * POLLOUT, which only blocks this threadpool thread. */
static int write_records(int fd, struct fs_rec *r)
{
    size_t skip = 0; /* bytes of r already written */
    while (r) {
        struct iovec iov[FS_IOV_BATCH];
        int n = 0;
        for (struct fs_rec *p = r; p && n < FS_IOV_BATCH; p = p->next, n++) {
            size_t off = n == 0 ? skip : 0;
            iov[n].iov_base = p->line + off;
            iov[n].iov_len = p->len - off;
        }
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                    return -errno;
                continue;
            }
            return -errno;
        }
        if (w == 0)
            return -EIO; /* no progress on a non-empty write: give up */
        size_t left = (size_t)w;
        while (r && left >= r->len - skip) {
            left -= r->len - skip;
            skip = 0;
            r = r->next;
        }
        skip = 0;
    }
    return 0;
}

static void flush_work(uv_work_t *req)
{
    struct file_sink *s = req->data;
    s->flush_op = "write";
    int rc = write_records(s->fd, s->flushing.head);
    if (rc == 0 && s->sync) {
        s->flush_op = "fdatasync";
        while ((rc = fdatasync(s->fd)) < 0 && errno == EINTR)
            ;
        if (rc < 0)
            rc = -errno;
    }
    s->flush_status = rc;
}

/* ---- the loop side ---- */

static void flush_done(uv_work_t *req, int status);
static void finish_close(struct file_sink *s);

/* Start a flush of the fill queue when none is running and there is
 * something to write. always: one record per flush. */
static void maybe_start_flush(struct file_sink *s)
{
    if (s->flush_active || s->closing || s->error || s->fill.count == 0)
        return;
    if (s->mode == FS_SYNC_ALWAYS) {
        queue_push(&s->flushing, queue_pop(&s->fill));
    } else {
        /* Move the whole queue; it is non-empty, so its tail pointer points
         * into its last record and stays valid. */
        s->flushing = s->fill;
        queue_init(&s->fill);
    }
    s->flush_active = 1;
    s->work.data = s;
    /* Fails only for a NULL work callback. */
    (void)uv_queue_work(s->host->loop, &s->work, flush_work, flush_done);
}

static void flush_done(uv_work_t *req, int status)
{
    struct file_sink *s = req->data;
    int rc = status < 0 ? status : s->flush_status;

    /* flush_active stays set while acking, so that a close() called from an
     * ack callback waits for the end of this function. */
    if (rc < 0 && !s->error) {
        s->error = rc;
        s->host->log(s->host, WW_LOG_ERROR, "%s to %s failed: %s; %zu change(s) not written",
                     s->flush_op, s->is_stdout ? "stdout" : s->path, strerror(-rc),
                     s->flushing.count + (s->closing ? 0 : s->fill.count));
    }
    queue_ack_all(&s->flushing, rc);
    /* After a failure, the changes still waiting will never be written. */
    if (rc < 0 && !s->closing)
        queue_ack_all(&s->fill, rc);
    s->flush_active = 0;

    if (s->closing) {
        finish_close(s);
        return;
    }
    maybe_start_flush(s);
    if (s->want_resume && !s->error) {
        s->want_resume = 0;
        s->host->resume(s->host);
    }
}

static int fs_write(void *sink, const struct ww_change *change, ww_ack_fn ack, void *token)
{
    struct file_sink *s = sink;
    if (s->error)
        return s->error;
    if (s->closing)
        return -ECANCELED;

    static const char k_open[] = "{\"key\":", k_value[] = ",\"value\":", k_close[] = "}\n";
    const char *key = change->key ? change->key : "null";
    size_t key_len = change->key ? change->key_len : sizeof("null") - 1;
    const char *value = change->value ? change->value : "null";
    size_t value_len = change->value ? change->value_len : sizeof("null") - 1;
    size_t len = sizeof(k_open) - 1 + key_len + sizeof(k_value) - 1 + value_len +
                 sizeof(k_close) - 1;

    /* Bounded memory: an empty fill queue takes any one change, however
     * large; otherwise the queue stays under fill_limit. */
    if (s->fill.count > 0 && s->fill.bytes + len > s->fill_limit) {
        s->want_resume = 1;
        return -EAGAIN;
    }

    struct fs_rec *r = malloc(sizeof(*r) + len);
    if (!r)
        return -ENOMEM;
    r->ack = ack;
    r->token = token;
    r->len = len;
    char *p = r->line;
    memcpy(p, k_open, sizeof(k_open) - 1);
    p += sizeof(k_open) - 1;
    memcpy(p, key, key_len);
    p += key_len;
    memcpy(p, k_value, sizeof(k_value) - 1);
    p += sizeof(k_value) - 1;
    memcpy(p, value, value_len);
    p += value_len;
    memcpy(p, k_close, sizeof(k_close) - 1);

    queue_push(&s->fill, r);
    /* Starting the job here is safe: its acks come from flush_done, on a
     * later turn of the loop, never from inside write(). */
    maybe_start_flush(s);
    return 0;
}

static void finish_close(struct file_sink *s)
{
    queue_ack_all(&s->fill, -ECANCELED);
    if (!s->is_stdout && s->fd >= 0 && close(s->fd) < 0)
        s->host->log(s->host, WW_LOG_WARN, "closing %s: %s", s->path, strerror(errno));
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    free(s->path);
    free(s);
    done(arg);
}

static void fs_close(void *sink, void (*done)(void *arg), void *arg)
{
    struct file_sink *s = sink;
    s->closing = 1;
    s->done = done;
    s->done_arg = arg;
    /* A running flush finishes (its changes are written, so they are acked
     * normally); flush_done then calls finish_close. */
    if (!s->flush_active)
        finish_close(s);
}

/* ---- configuration and open ---- */

struct fs_config {
    const struct ww_host *host;
};

static int check_key(void *arg, const char *key, const char *value)
{
    struct fs_config *c = arg;
    (void)value;
    if (strcmp(key, "path") == 0 || strcmp(key, "fsync") == 0)
        return 0;
    return c->host->config_error(c->host, key, "unknown key; valid keys: path, fsync");
}

/*
 * A crash or a full disk in the middle of a flush can leave the file ending
 * in part of a line. That change was never acked, so it comes again after
 * the restart; start it on a new line so that only the torn line is bad
 * (readers skip a line that does not parse). Runs once, at open.
 */
static int end_with_newline(const struct ww_host *host, int fd, const char *path, off_t size)
{
    /* fd is write-only: read the last byte through a second descriptor.
     * A file we may not read is left as it is. */
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    if (rfd < 0)
        return 0;
    char last = '\n';
    ssize_t n = pread(rfd, &last, 1, size - 1);
    close(rfd);
    if (n != 1 || last == '\n')
        return 0;
    host->log(host, WW_LOG_WARN,
              "%s ends with an incomplete line (a crash or a full disk during a write); "
              "appending a newline so new changes start on their own line",
              path);
    while (write(fd, "\n", 1) < 0) {
        if (errno != EINTR) {
            int err = errno;
            host->log(host, WW_LOG_ERROR, "cannot append to %s: %s", path, strerror(err));
            return -err;
        }
    }
    return 0;
}

static int fs_open(const struct ww_host *host, void **sinkp)
{
    struct fs_config cfg = {.host = host};
    int rc = host->config_foreach(host, check_key, &cfg);
    if (rc != 0)
        return rc < 0 ? rc : -EINVAL;

    const char *path = host->config_get(host, "path");
    if (!path || !*path)
        return host->config_error(host, "path",
                                  "required: the file to append to, or - for stdout");

    enum fs_sync_mode mode = FS_SYNC_BATCH;
    const char *fsync_s = host->config_get(host, "fsync");
    if (fsync_s && *fsync_s) {
        int found = 0;
        for (int i = 0; i < 3; i++) {
            if (strcmp(fsync_s, sync_mode_names[i]) == 0) {
                mode = (enum fs_sync_mode)i;
                found = 1;
            }
        }
        if (!found)
            return host->config_error(host, "fsync", "expected always, batch or never, got \"%s\"",
                                      fsync_s);
    }

    struct file_sink *s = calloc(1, sizeof(*s));
    char *path_copy = strdup(path);
    if (!s || !path_copy) {
        free(s);
        free(path_copy);
        return -ENOMEM;
    }
    s->host = host;
    s->path = path_copy;
    s->mode = mode;
    queue_init(&s->fill);
    queue_init(&s->flushing);
    s->fill_limit = FS_MAX_FILL_BYTES;
    if (host->max_inflight_bytes > 0 && host->max_inflight_bytes < s->fill_limit)
        s->fill_limit = (size_t)host->max_inflight_bytes;

    if (strcmp(path, "-") == 0) {
        s->fd = STDOUT_FILENO;
        s->is_stdout = 1;
    } else {
        s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (s->fd < 0) {
            int err = errno;
            host->log(host, WW_LOG_ERROR, "cannot open %s for appending: %s", path,
                      strerror(err));
            free(s->path);
            free(s);
            return -err;
        }
    }

    struct stat st;
    if (fstat(s->fd, &st) < 0) {
        int err = errno;
        host->log(host, WW_LOG_ERROR, "cannot stat %s: %s", s->is_stdout ? "stdout" : path,
                  strerror(err));
        if (!s->is_stdout)
            close(s->fd);
        free(s->path);
        free(s);
        return -err;
    }
    if (!s->is_stdout && S_ISREG(st.st_mode) && st.st_size > 0) {
        rc = end_with_newline(host, s->fd, path, st.st_size);
        if (rc < 0) {
            close(s->fd);
            free(s->path);
            free(s);
            return rc;
        }
    }
    int syncable = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
    s->sync = mode != FS_SYNC_NEVER && syncable;
    if (mode != FS_SYNC_NEVER && !syncable)
        host->log(host, WW_LOG_INFO,
                  "%s is not a regular file: fsync=%s cannot sync it; an ack means the "
                  "bytes were written to it",
                  s->is_stdout ? "stdout" : path, sync_mode_names[mode]);
    host->log(host, WW_LOG_INFO, "appending to %s, fsync=%s", s->is_stdout ? "stdout" : path,
              sync_mode_names[mode]);
    *sinkp = s;
    return 0;
}

/* For `walwire check`: the output is open; report whether its directory is
 * writable (a rotated or recreated file would need it). */
static void fs_probe(void *sink, void (*cb)(void *arg, int status, const char *detail),
                     void *arg)
{
    struct file_sink *s = sink;
    char detail[512];
    const char *mode = sync_mode_names[s->mode];
    if (s->is_stdout) {
        snprintf(detail, sizeof(detail), "stdout, fsync=%s%s", mode,
                 s->sync || s->mode == FS_SYNC_NEVER ? "" : " (not syncable)");
        cb(arg, 0, detail);
        return;
    }
    char *copy = strdup(s->path);
    if (!copy) {
        cb(arg, -ENOMEM, "out of memory");
        return;
    }
    const char *dir = dirname(copy);
    if (access(dir, W_OK | X_OK) < 0) {
        int err = errno;
        snprintf(detail, sizeof(detail), "directory %s of %s is not writable: %s", dir, s->path,
                 strerror(err));
        free(copy);
        cb(arg, -err, detail);
        return;
    }
    free(copy);
    snprintf(detail, sizeof(detail), "file %s, fsync=%s%s", s->path, mode,
             s->sync || s->mode == FS_SYNC_NEVER ? "" : " (not syncable)");
    cb(arg, 0, detail);
}

static const struct ww_sink_ops file_sink_ops = {
    .abi_version = WW_SINK_ABI_VERSION,
    .size = sizeof(struct ww_sink_ops),
    .name = "file",
    .open = fs_open,
    .write = fs_write,
    .close = fs_close,
    .probe = fs_probe,
};

FS_EXPORT const struct ww_sink_ops *ww_sink_entry(void);
const struct ww_sink_ops *ww_sink_entry(void)
{
    return &file_sink_ops;
}
