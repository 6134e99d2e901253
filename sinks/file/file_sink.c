/*
 * File sink: appends one JSON line per change to a file (or stdout).
 *
 *   [file]
 *   path  = /var/lib/walwire/changes.jsonl   ; '-' (the default) is stdout
 *   fsync = batch                            ; always | batch | never
 *
 * Line format (one JSON value per line, docs/sinks.md):
 *   {"key":<key JSON or null>,"value":<Debezium envelope>}\n
 *
 * Group commit with two batches. write() appends the change, already framed
 * as its output line, to the fill batch (one contiguous buffer). When no
 * flush is running, the two batches swap and one job on libuv's threadpool
 * writes the whole flushing batch (one write(2), short writes continued)
 * and then calls fdatasync. When
 * the job is done, back on the loop thread, every change of the flush is
 * acked in order, and the next flush starts with whatever filled up in the
 * meantime. Under load one fdatasync covers many changes; the loop never
 * blocks on the disk.
 *
 *   always  a flush takes one change: one fdatasync per change
 *   batch   a flush takes the whole fill batch, then fdatasync (default)
 *   never   like batch, without fdatasync (acked once write(2) returned)
 *
 * fdatasync runs only when the output is a regular file (or block device):
 * pipes, ttys and character devices cannot be synced (fdatasync gives
 * EINVAL), so for them an ack means the bytes were handed to write(2).
 *
 * Threads: everything here runs on the loop thread except flush_work(),
 * which touches only the flushing batch and the fd while a flush runs; the
 * loop thread leaves both alone until flush_done().
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "walwire/sink.h"

#define FS_EXPORT __attribute__((visibility("default")))

/* The fill batch's cap: min([source] max_inflight_bytes, this). */
#define FS_MAX_FILL_BYTES (1u << 20)
enum fs_sync_mode { FS_SYNC_ALWAYS, FS_SYNC_BATCH, FS_SYNC_NEVER };
static const char *const sync_mode_names[] = {"always", "batch", "never"};

/* Who to ack for one record of a batch, and where its line ends. */
struct fs_ack {
    ww_ack_fn ack;
    void *token;
    size_t end; /* offset just past the record's '\n' in the batch's data */
};

/*
 * A batch: records' lines back to back in one buffer, and their acks in
 * order. The sink fills one batch while the threadpool writes the other;
 * at a flush they swap, so steady-state writing allocates nothing and each
 * flush is one write(2) (plus one fdatasync).
 */
struct fs_batch {
    char *data;
    size_t len, cap;
    struct fs_ack *acks;
    size_t nacks, acks_cap;
    size_t first; /* acks[0..first) moved out already (fsync = always) */
};

struct file_sink {
    const struct ww_host *host; /* borrowed until done */
    char *path;                 /* as configured; "-" for stdout */
    int fd;
    int is_stdout; /* fd 1: never closed by the sink */
    int sync;      /* call fdatasync after each flush */
    enum fs_sync_mode mode;
    size_t fill_limit; /* past it, write() returns -EAGAIN */

    struct fs_batch fill;     /* accepted, waiting for the next flush */
    struct fs_batch flushing; /* owned by the threadpool while flush_active */
    int flush_active;
    uv_work_t work;
    int flush_status;     /* set by flush_work: 0 or a negative errno */
    const char *flush_op; /* "writing to" or "fdatasync of": what failed */

    int error;       /* sticky: after a failed flush, every write gets it */
    int want_resume; /* a write got -EAGAIN: call host->resume() later */
    int closing;
    void (*done)(void *arg);
    void *done_arg;
};

/* Bytes of records in b not moved out yet. */
static size_t batch_bytes(const struct fs_batch *b)
{
    return b->len - (b->first ? b->acks[b->first - 1].end : 0);
}

static size_t batch_count(const struct fs_batch *b)
{
    return b->nacks - b->first;
}

static void batch_clear(struct fs_batch *b, size_t keep_cap)
{
    b->len = b->nacks = b->first = 0;
    /* Give back what one huge record made the buffer grow to. */
    if (b->cap > 2 * keep_cap) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

static void batch_free(struct fs_batch *b)
{
    free(b->data);
    free(b->acks);
    memset(b, 0, sizeof *b);
}

/* Room for len more bytes and one more ack; -ENOMEM when out of memory. */
static int batch_reserve(struct fs_batch *b, size_t len)
{
    if (b->cap - b->len < len) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap - b->len < len)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    if (b->nacks == b->acks_cap) {
        size_t cap = b->acks_cap ? b->acks_cap * 2 : 1024;
        struct fs_ack *a = realloc(b->acks, cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        b->acks = a;
        b->acks_cap = cap;
    }
    return 0;
}

/* Ack every record of b not moved out, in order, with status, then empty
 * it. The acks are copied out first, so an ack callback that re-enters the
 * sink sees a clean batch. */
static void batch_ack_all(struct fs_batch *b, int status, size_t keep_cap)
{
    size_t n = batch_count(b);
    struct fs_ack *copy = NULL;
    if (n) {
        copy = malloc(n * sizeof *copy);
        if (!copy) {
            fprintf(stderr, "walwire: out of memory in the file sink\n");
            abort();
        }
        memcpy(copy, b->acks + b->first, n * sizeof *copy);
    }
    batch_clear(b, keep_cap);
    for (size_t i = 0; i < n; i++)
        copy[i].ack(copy[i].token, status);
    free(copy);
}

/* ---- the threadpool side ---- */

/* Write all of data. Short writes go on where they stopped; EAGAIN (an
 * inherited non-blocking stdout) waits for POLLOUT, which only blocks this
 * threadpool thread. */
static int write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t w = write(fd, data, len);
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
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

static void flush_work(uv_work_t *req)
{
    struct file_sink *s = req->data;
    s->flush_op = "writing to";
    int rc = write_all(s->fd, s->flushing.data, s->flushing.len);
    if (rc == 0 && s->sync) {
        s->flush_op = "fdatasync of";
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

/* Move the oldest record of fill into the (empty) flushing batch. */
static void move_first_record(struct file_sink *s)
{
    struct fs_batch *f = &s->fill, *o = &s->flushing;
    size_t start = f->first ? f->acks[f->first - 1].end : 0;
    size_t len = f->acks[f->first].end - start;
    if (batch_reserve(o, len) < 0) {
        fprintf(stderr, "walwire: out of memory in the file sink\n");
        abort();
    }
    memcpy(o->data, f->data + start, len);
    o->len = len;
    o->acks[0] = f->acks[f->first];
    o->acks[0].end = len;
    o->nacks = 1;
    if (++f->first == f->nacks)
        batch_clear(f, s->fill_limit);
}

/* Start a flush of the fill batch when none is running and there is
 * something to write. always: one record per flush. */
static void maybe_start_flush(struct file_sink *s)
{
    if (s->flush_active || s->closing || s->error || batch_count(&s->fill) == 0)
        return;
    if (s->mode == FS_SYNC_ALWAYS) {
        move_first_record(s);
    } else {
        struct fs_batch t = s->flushing; /* empty, keeps its buffers */
        s->flushing = s->fill;
        s->fill = t;
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
        s->host->log(s->host, WW_LOG_ERROR,
                     "%s %s failed: %s; failing %zu change(s), no more will be accepted",
                     s->flush_op, s->is_stdout ? "stdout" : s->path, strerror(-rc),
                     batch_count(&s->flushing) + (s->closing ? 0 : batch_count(&s->fill)));
    }
    batch_ack_all(&s->flushing, rc, s->fill_limit);
    /* After a failure, the changes still waiting will never be written. */
    if (rc < 0 && !s->closing)
        batch_ack_all(&s->fill, rc, s->fill_limit);
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
    size_t len =
        sizeof(k_open) - 1 + key_len + sizeof(k_value) - 1 + value_len + sizeof(k_close) - 1;

    /* Bounded memory: an empty fill batch takes any one change, however
     * large; otherwise the batch stays under fill_limit. */
    struct fs_batch *b = &s->fill;
    if (batch_count(b) > 0 && batch_bytes(b) + len > s->fill_limit) {
        s->want_resume = 1;
        return -EAGAIN;
    }
    if (batch_reserve(b, len) < 0)
        return -ENOMEM;
    char *p = b->data + b->len;
    memcpy(p, k_open, sizeof(k_open) - 1);
    p += sizeof(k_open) - 1;
    memcpy(p, key, key_len);
    p += key_len;
    memcpy(p, k_value, sizeof(k_value) - 1);
    p += sizeof(k_value) - 1;
    memcpy(p, value, value_len);
    p += value_len;
    memcpy(p, k_close, sizeof(k_close) - 1);
    b->len += len;
    b->acks[b->nacks++] = (struct fs_ack){ack, token, b->len};

    /* Starting the job here is safe: its acks come from flush_done, on a
     * later turn of the loop, never from inside write(). */
    maybe_start_flush(s);
    return 0;
}

static void finish_close(struct file_sink *s)
{
    batch_ack_all(&s->fill, -ECANCELED, 0);
    if (!s->is_stdout && s->fd >= 0 && close(s->fd) < 0)
        s->host->log(s->host, WW_LOG_WARN, "closing %s: %s", s->path, strerror(errno));
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    batch_free(&s->fill);
    batch_free(&s->flushing);
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
 * in part of a line. That change was never acked, so it comes again, whole,
 * after the restart: cut the torn part off so that every line of the file
 * stays one valid JSON value. Runs once, at open.
 */
static int truncate_torn_line(const struct ww_host *host, int fd, const char *path, off_t size)
{
    /* fd is write-only: read through a second descriptor. A file we may not
     * read is left as it is. */
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    if (rfd < 0)
        return 0;
    char block[65536];
    off_t end = size, keep = 0;
    bool found = false;
    while (end > 0 && !found) {
        off_t start = end > (off_t)sizeof block ? end - (off_t)sizeof block : 0;
        ssize_t n = pread(rfd, block, (size_t)(end - start), start);
        if (n <= 0)
            break;
        for (ssize_t i = n - 1; i >= 0; i--) {
            if (block[i] == '\n') {
                keep = start + i + 1;
                found = true;
                break;
            }
        }
        end = start;
    }
    close(rfd);
    if (keep == size)
        return 0;
    host->log(host, WW_LOG_WARN,
              "%s ends with %lld bytes of an incomplete line (a crash or a full disk during a "
              "write); removing them: that change was never acknowledged and is written again",
              path, (long long)(size - keep));
    if (ftruncate(fd, keep) < 0) {
        int err = errno;
        host->log(host, WW_LOG_ERROR, "cannot truncate %s: %s", path, strerror(err));
        return -err;
    }
    return 0;
}

static int fs_open(const struct ww_host *host, void **sinkp)
{
    struct fs_config cfg = {.host = host};
    int rc = host->config_foreach(host, check_key, &cfg);
    if (rc != 0)
        return rc < 0 ? rc : -EINVAL;

    /* Unset or empty: stdout, so that `[sink] type = file` alone works. */
    const char *path = host->config_get(host, "path");
    if (!path || !*path)
        path = "-";

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
            host->log(host, WW_LOG_ERROR, "cannot open %s for appending: %s", path, strerror(err));
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
        rc = truncate_torn_line(host, s->fd, path, st.st_size);
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
static void fs_probe(void *sink, void (*cb)(void *arg, int status, const char *detail), void *arg)
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
