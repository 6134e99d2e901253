#include "pg_conn.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#endif

#include "log.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 15000
/* Reads that find data closer together than this mean the server is
 * streaming continuously: switch to batched reads (ww_pgconn_batch_reads). */
#define BUSY_GAP_NS 1000000u
/* A tick reads what the socket held when it fired, and no more: libpq
 * reads at most one buffer (16 KB at first) per call, so a tick may take
 * several reads (at most TICK_MAX_READS, so that other handles get their
 * turn), but what arrives meanwhile waits for the next tick. Chasing it
 * would bring back the per-packet reads, and would cost the server too:
 * while data waits in the socket, its kernel coalesces many small sends
 * into large segments. */
#define TICK_MAX_READS 64

static void on_poll(uv_poll_t *handle, int status, int events);
static void drain_copy(struct ww_pgconn *c);
static void tick_stop(struct ww_pgconn *c);
static void on_tick(uv_poll_t *handle, int status, int events);

/* Copy libpq's message into errmsg as one line. */
static void set_error_from(struct ww_pgconn *c, const char *msg)
{
    size_t j = 0;
    for (size_t i = 0; msg && msg[i] && j + 1 < sizeof c->errmsg; i++) {
        char ch = msg[i];
        if (ch == '\n' || ch == '\t' || ch == '\r') {
            if (j > 0 && c->errmsg[j - 1] != ' ')
                c->errmsg[j++] = ' ';
            continue;
        }
        c->errmsg[j++] = ch;
    }
    while (j > 0 && c->errmsg[j - 1] == ' ')
        j--;
    c->errmsg[j] = '\0';
}

static void set_error_pq(struct ww_pgconn *c)
{
    set_error_from(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
}

static void on_handle_closed(uv_handle_t *h)
{
    struct ww_pgconn *c = h->data;
    if (--c->open_handles == 0 && c->on_closed)
        c->on_closed(c);
}

static void on_tick_closed(uv_handle_t *h)
{
    struct ww_pgconn *c = h->data;
    close(c->tick_fd);
    c->tick_fd = -1;
    on_handle_closed(h);
}

static void free_poll(uv_handle_t *h)
{
    free(h);
}

/* Forget the current poll handle (the socket may have changed). */
static void poll_drop(struct ww_pgconn *c)
{
    if (!c->poll)
        return;
    uv_close((uv_handle_t *)c->poll, free_poll);
    c->poll = NULL;
    c->poll_fd = -1;
    c->poll_events = 0;
}

/* Watch the socket for `events` (0: stop watching). */
static void poll_set(struct ww_pgconn *c, int events)
{
    int fd = c->pg ? PQsocket(c->pg) : -1;
    if (fd < 0) {
        poll_drop(c);
        return;
    }
    if (!c->poll || fd != c->poll_fd) {
        poll_drop(c);
        c->poll = malloc(sizeof *c->poll);
        if (!c->poll || uv_poll_init(c->loop, c->poll, fd) != 0) {
            fprintf(stderr, "walwire: cannot watch socket %d\n", fd);
            abort();
        }
        c->poll->data = c;
        c->poll_fd = fd;
        c->poll_events = 0;
    }
    if (events == c->poll_events)
        return;
    if (events)
        uv_poll_start(c->poll, events, on_poll);
    else
        uv_poll_stop(c->poll);
    c->poll_events = events;
}

/* The events the current state needs. */
static void poll_update(struct ww_pgconn *c)
{
    int ev = 0;
    if (c->state != WW_PGCONN_COPY || c->reading_paused)
        tick_stop(c);
    switch (c->state) {
    case WW_PGCONN_IDLE:
    case WW_PGCONN_QUERY:
        ev = UV_READABLE;
        break;
    case WW_PGCONN_COPY:
        ev = c->reading_paused || c->ticking ? 0 : UV_READABLE;
        break;
    default:
        break;
    }
    if (c->want_write && (c->state == WW_PGCONN_QUERY || c->state == WW_PGCONN_COPY))
        ev |= UV_WRITABLE;
    poll_set(c, ev);
}

void ww_pgconn_init(struct ww_pgconn *c, uv_loop_t *loop, const char *name)
{
    memset(c, 0, sizeof *c);
    c->loop = loop;
    c->name = name;
    c->poll_fd = -1;
    c->tick_fd = -1;
    c->timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_idle_init(loop, &c->kick);
    c->kick.data = c;
    c->open_handles = 2;
    c->state = WW_PGCONN_NEW;
}

/* ---- connect ---------------------------------------------------------- */

static void connect_failed(struct ww_pgconn *c, int status)
{
    uv_timer_stop(&c->timer);
    poll_drop(c);
    c->state = WW_PGCONN_FAILED;
    ww_pgconn_connect_cb cb = c->on_connect;
    c->on_connect = NULL;
    cb(c, status);
}

static void connect_step(struct ww_pgconn *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->pg);
    switch (st) {
    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
        /* libpq may have moved to another socket (next address, SSL
         * fallback), possibly with the same number: watch it afresh. */
        poll_drop(c);
        poll_set(c, st == PGRES_POLLING_READING ? UV_READABLE : UV_WRITABLE);
        return;
    case PGRES_POLLING_OK: {
        uv_timer_stop(&c->timer);
        if (PQsetnonblocking(c->pg, 1) != 0) {
            set_error_pq(c);
            connect_failed(c, -EIO);
            return;
        }
        c->state = WW_PGCONN_IDLE;
        poll_drop(c);
        poll_update(c);
        ww_pgconn_connect_cb cb = c->on_connect;
        c->on_connect = NULL;
        cb(c, 0);
        return;
    }
    default:
        set_error_pq(c);
        connect_failed(c, -ECONNREFUSED);
        return;
    }
}

static void on_timeout(uv_timer_t *t)
{
    struct ww_pgconn *c = t->data;
    if (c->state != WW_PGCONN_CONNECTING)
        return;
    snprintf(c->errmsg, sizeof c->errmsg, "timed out after %llu s while connecting",
             (unsigned long long)(c->timeout_ms / 1000));
    connect_failed(c, -ETIMEDOUT);
}

int ww_pgconn_connect(struct ww_pgconn *c, const char *const *keywords, const char *const *values,
                      ww_pgconn_connect_cb on_connect)
{
    assert(c->state == WW_PGCONN_NEW);
    c->pg = PQconnectStartParams(keywords, values, 0);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        set_error_pq(c);
        c->state = WW_PGCONN_FAILED;
        return -EINVAL;
    }
    c->state = WW_PGCONN_CONNECTING;
    c->on_connect = on_connect;
    if (c->timeout_ms)
        uv_timer_start(&c->timer, on_timeout, c->timeout_ms, 0);
    /* libpq: act as if PQconnectPoll had returned PGRES_POLLING_WRITING. */
    poll_set(c, UV_WRITABLE);
    if (!c->poll)
        connect_step(c);
    return 0;
}

/* ---- queries ---------------------------------------------------------- */

/* The connection broke while a request was running: report it once. */
static void fail_request(struct ww_pgconn *c)
{
    if (!c->errmsg[0])
        set_error_pq(c);
    enum ww_pgconn_state was = c->state;
    c->state = WW_PGCONN_FAILED;
    poll_drop(c);
    tick_stop(c);
    uv_idle_stop(&c->kick);
    if (was == WW_PGCONN_COPY && c->copy.on_end) {
        void (*end)(struct ww_pgconn *, int) = c->copy.on_end;
        c->copy.on_end = NULL;
        end(c, -EIO);
    } else if (was == WW_PGCONN_QUERY && c->on_result) {
        ww_pgconn_result_cb cb = c->on_result;
        c->on_result = NULL;
        PGresult *r = c->result;
        c->result = NULL;
        cb(c, -EIO, r, c->result_arg);
        PQclear(r);
    }
}

/* Send what libpq has queued; remember whether more remains. */
static int flush_output(struct ww_pgconn *c)
{
    int r = PQflush(c->pg);
    if (r < 0) {
        set_error_pq(c);
        return -EIO;
    }
    c->want_write = r == 1;
    return 0;
}

/* Collect results of the running query until libpq needs more input. */
static void drain_results(struct ww_pgconn *c)
{
    while (c->state == WW_PGCONN_QUERY && !PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            /* The query is complete. */
            ww_pgconn_result_cb cb = c->on_result;
            PGresult *res = c->result;
            int status = c->result_status;
            c->on_result = NULL;
            c->result = NULL;
            c->state = WW_PGCONN_IDLE;
            poll_update(c);
            cb(c, status, res, c->result_arg);
            PQclear(res);
            return;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_BOTH || st == PGRES_COPY_OUT) {
            ww_pgconn_result_cb cb = c->on_result;
            c->on_result = NULL;
            PQclear(c->result);
            c->result = NULL;
            c->state = WW_PGCONN_COPY;
            poll_update(c);
            cb(c, 0, r, c->result_arg);
            PQclear(r);
            if (c->state == WW_PGCONN_COPY)
                drain_copy(c);
            return;
        }
        if (st == PGRES_COPY_IN) {
            /* walwire never sends COPY FROM STDIN: refuse it. */
            PQputCopyEnd(c->pg, "walwire does not send COPY data");
            PQclear(r);
            continue;
        }
        if (st == PGRES_BAD_RESPONSE || st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR) {
            if (c->result_status == 0) {
                set_error_from(c, PQresultErrorMessage(r));
                c->result_status = -EIO;
                PQclear(c->result);
                c->result = r; /* keep the first error */
            } else {
                PQclear(r);
            }
            continue;
        }
        if (c->result_status == 0) {
            PQclear(c->result);
            c->result = r;
        } else {
            PQclear(r);
        }
    }
}

static int send_common(struct ww_pgconn *c, const char *sql, ww_pgconn_result_cb cb, void *arg)
{
    if (c->state != WW_PGCONN_IDLE) {
        if (c->state == WW_PGCONN_FAILED) {
            if (!c->errmsg[0])
                snprintf(c->errmsg, sizeof c->errmsg, "connection is broken");
            return -EIO;
        }
        assert(!"one request at a time");
        return -EBUSY;
    }
    if (!PQsendQuery(c->pg, sql)) {
        set_error_pq(c);
        c->state = WW_PGCONN_FAILED;
        poll_drop(c);
        return -EIO;
    }
    c->errmsg[0] = '\0';
    c->state = WW_PGCONN_QUERY;
    c->on_result = cb;
    c->result_arg = arg;
    c->result_status = 0;
    c->result = NULL;
    if (flush_output(c) < 0) {
        c->state = WW_PGCONN_FAILED;
        poll_drop(c);
        return -EIO;
    }
    poll_update(c);
    return 0;
}

int ww_pgconn_query(struct ww_pgconn *c, const char *sql, ww_pgconn_result_cb cb, void *arg)
{
    memset(&c->copy, 0, sizeof c->copy);
    return send_common(c, sql, cb, arg);
}

int ww_pgconn_start_copy(struct ww_pgconn *c, const char *sql,
                         const struct ww_pgconn_copy_handlers *handlers, ww_pgconn_result_cb cb,
                         void *arg)
{
    c->copy = *handlers;
    c->reading_paused = false;
    return send_common(c, sql, cb, arg);
}

/* ---- COPY ------------------------------------------------------------- */

/* The copy finished from the server's side: read its final result(s). */
static void copy_finished(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    (void)res;
    (void)arg;
    void (*end)(struct ww_pgconn *, int) = c->copy.on_end;
    c->copy.on_end = NULL;
    if (end)
        end(c, status);
}

/* Deliver complete CopyData messages until libpq needs more input, the
 * consumer pauses, or the copy ends. */
static void drain_copy(struct ww_pgconn *c)
{
    while (c->state == WW_PGCONN_COPY && !c->reading_paused) {
        char *buf = NULL;
        int n = PQgetCopyData(c->pg, &buf, 1);
        if (n > 0) {
            c->bytes_in += (uint64_t)n;
            if (!c->copy.on_data(c, buf, n) && c->state == WW_PGCONN_COPY) {
                c->reading_paused = true;
                poll_update(c);
            }
            continue;
        }
        if (n == 0)
            return; /* wait for the socket */
        if (n == -1) {
            /* CopyDone from the server: the command's result follows. */
            c->state = WW_PGCONN_QUERY;
            c->on_result = copy_finished;
            c->result_status = 0;
            c->result = NULL;
            poll_update(c);
            drain_results(c);
            return;
        }
        set_error_pq(c);
        fail_request(c);
        return;
    }
}

static void on_kick(uv_idle_t *idle)
{
    struct ww_pgconn *c = idle->data;
    uv_idle_stop(idle);
    if (c->state == WW_PGCONN_COPY)
        drain_copy(c);
}

int ww_pgconn_put_copy(struct ww_pgconn *c, const char *buf, size_t len)
{
    if (c->state != WW_PGCONN_COPY)
        return -EIO;
    if (PQputCopyData(c->pg, buf, (int)len) != 1 || flush_output(c) < 0) {
        set_error_pq(c);
        return -EIO;
    }
    poll_update(c);
    /* Flushing may have read input into libpq's buffer. */
    if (!c->reading_paused)
        uv_idle_start(&c->kick, on_kick);
    return 0;
}

int ww_pgconn_end_copy(struct ww_pgconn *c)
{
    if (c->state != WW_PGCONN_COPY)
        return -EIO;
    if (PQputCopyEnd(c->pg, NULL) != 1 || flush_output(c) < 0) {
        set_error_pq(c);
        return -EIO;
    }
    poll_update(c);
    return 0;
}

void ww_pgconn_pause_reading(struct ww_pgconn *c)
{
    if (c->reading_paused)
        return;
    c->reading_paused = true;
    uv_idle_stop(&c->kick);
    if (c->state == WW_PGCONN_COPY)
        poll_update(c);
}

void ww_pgconn_resume_reading(struct ww_pgconn *c)
{
    if (!c->reading_paused)
        return;
    c->reading_paused = false;
    if (c->state != WW_PGCONN_COPY)
        return;
    poll_update(c);
    uv_idle_start(&c->kick, on_kick);
}

/* ---- read batching ------------------------------------------------------ */

/* Arm the periodic tick and stop waking up on socket readiness. */
static void tick_start(struct ww_pgconn *c)
{
#ifdef __linux__
    struct itimerspec its = {
        .it_interval = {.tv_nsec = (long)c->batch_us * 1000},
        .it_value = {.tv_nsec = (long)c->batch_us * 1000},
    };
    if (timerfd_settime(c->tick_fd, 0, &its, NULL) != 0)
        return; /* stay unbatched */
    uv_poll_start(&c->tick, UV_READABLE, on_tick);
    c->ticking = true;
    poll_update(c);
#else
    (void)c;
#endif
}

/* Disarm the tick; the caller then runs poll_update() to watch the socket
 * again (poll_update itself calls this when reading must stop). */
static void tick_stop(struct ww_pgconn *c)
{
    if (!c->ticking)
        return;
    c->ticking = false;
#ifdef __linux__
    struct itimerspec off = {0};
    timerfd_settime(c->tick_fd, 0, &off, NULL);
#endif
    uv_poll_stop(&c->tick);
}

/* A read delivered data: switch to ticks when reads come in quick
 * succession (the server is streaming faster than we wake up). */
static void found_data(struct ww_pgconn *c)
{
    uint64_t now = uv_hrtime();
    bool busy = now - c->last_wake_ns < BUSY_GAP_NS;
    c->last_wake_ns = now;
    if (busy && c->tick_fd >= 0 && !c->ticking && c->state == WW_PGCONN_COPY && !c->reading_paused)
        tick_start(c);
}

/* Bytes waiting in the socket's receive queue (0 when unknown). */
static int socket_backlog(struct ww_pgconn *c)
{
    int avail = 0;
#ifdef __linux__
    if (ioctl(PQsocket(c->pg), FIONREAD, &avail) != 0)
        avail = 0;
#else
    (void)c;
#endif
    return avail;
}

/* The tick: read what the socket holds; a tick that finds nothing means the
 * burst is over, so go back to waiting for readiness. */
static void on_tick(uv_poll_t *handle, int status, int events)
{
    (void)status;
    (void)events;
    struct ww_pgconn *c = handle->data;
    uint64_t expirations;
    if (read(c->tick_fd, &expirations, sizeof expirations) < 0 && errno == EAGAIN)
        return;
    if (!c->ticking)
        return;
    if (c->state != WW_PGCONN_COPY || c->reading_paused) {
        poll_update(c);
        return;
    }
    uint64_t want = (uint64_t)socket_backlog(c), got = 0;
    want -= want / 8; /* CopyData headers and a message's unread tail */
    for (int i = 0; i < TICK_MAX_READS && want > 0; i++) {
        if (!PQconsumeInput(c->pg)) {
            set_error_pq(c);
            fail_request(c);
            return;
        }
        uint64_t before = c->bytes_in;
        drain_copy(c);
        if (c->state != WW_PGCONN_COPY || !c->ticking)
            return; /* ended, failed or paused (which stopped the tick) */
        uint64_t last = c->bytes_in - before;
        got += last;
        if (last == 0 || got >= want)
            break;
    }
    if (got > 0) {
        c->last_wake_ns = uv_hrtime();
    } else {
        tick_stop(c); /* the burst is over: wait for readiness again */
        poll_update(c);
    }
}

int ww_pgconn_batch_reads(struct ww_pgconn *c, uint32_t period_us)
{
#ifdef __linux__
    if (c->tick_fd >= 0 || period_us == 0 || period_us >= 1000000)
        return 0;
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (uv_poll_init(c->loop, &c->tick, fd) != 0) {
        close(fd);
        return -EIO;
    }
    c->tick.data = c;
    c->tick_fd = fd;
    c->batch_us = period_us;
    c->open_handles++;
#else
    (void)c;
    (void)period_us;
#endif
    return 0;
}

/* ---- events ----------------------------------------------------------- */

static void on_poll(uv_poll_t *handle, int status, int events)
{
    struct ww_pgconn *c = handle->data;
    if (c->state == WW_PGCONN_CONNECTING) {
        connect_step(c);
        return;
    }
    if (status < 0) {
        snprintf(c->errmsg, sizeof c->errmsg, "socket error: %s", uv_strerror(status));
        fail_request(c);
        return;
    }
    if ((events & UV_WRITABLE) && c->want_write) {
        if (flush_output(c) < 0) {
            fail_request(c);
            return;
        }
        poll_update(c);
    }
    if (!(events & UV_READABLE))
        return;
    if (!PQconsumeInput(c->pg)) {
        set_error_pq(c);
        if (c->state == WW_PGCONN_IDLE) {
            c->state = WW_PGCONN_FAILED;
            poll_drop(c);
            return;
        }
        fail_request(c);
        return;
    }
    switch (c->state) {
    case WW_PGCONN_QUERY:
        drain_results(c);
        break;
    case WW_PGCONN_COPY: {
        uint64_t before = c->bytes_in;
        drain_copy(c);
        if (c->bytes_in != before)
            found_data(c);
        break;
    }
    case WW_PGCONN_IDLE:
        /* Notices and the like; nothing to do. A closed connection shows
         * up as a PQconsumeInput failure above. */
        while (PQisBusy(c->pg) == 0) {
            PGresult *r = PQgetResult(c->pg);
            if (!r)
                break;
            PQclear(r);
        }
        break;
    default:
        break;
    }
}

void ww_pgconn_close(struct ww_pgconn *c, ww_pgconn_closed_cb on_closed)
{
    if (c->state == WW_PGCONN_CLOSING)
        return;
    c->state = WW_PGCONN_CLOSING;
    c->on_closed = on_closed;
    c->on_connect = NULL;
    c->on_result = NULL;
    memset(&c->copy, 0, sizeof c->copy);
    /* Stop watching before libpq closes the socket (libuv's rule). */
    poll_drop(c);
    PQclear(c->result);
    c->result = NULL;
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    tick_stop(c);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->kick, on_handle_closed);
    if (c->tick_fd >= 0)
        uv_close((uv_handle_t *)&c->tick, on_tick_closed);
}
