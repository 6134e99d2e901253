/*
 * The runner's private parts, shared by runner.c (lifecycle: shutdown,
 * signals, the stream, reconnects, the entry point), runner_start.c
 * (setup, high-availability standby, slot creation, the snapshot and the
 * state file) and runner_http.c (the HTTP endpoints and metrics). See
 * runner.h for the behaviour.
 *
 * Thread: the loop thread.
 */
#ifndef WW_RUNNER_INT_H
#define WW_RUNNER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bridge.h"
#include "config.h"
#include "http.h"
#include "metrics.h"
#include "pg_conn.h"
#include "setup.h"
#include "sink_host.h"
#include "sink_loader.h"
#include "snapshot.h"
#include "state.h"
#include "stream.h"
#include "upkeep.h"

#define WW_BACKOFF_FIRST_MS 1000
#define WW_BACKOFF_MAX_MS 30000
/* A standby checks this often whether the slot is free. */
#define WW_STANDBY_POLL_MS 2000

enum ww_phase {
    P_STARTING,      /* sink open, control connection, setup, replication connection */
    P_SNAPSHOT,      /* reading the initial snapshot */
    P_STREAMING,     /* START_REPLICATION sent or running */
    P_RECONNECTING,  /* stream lost: draining acks, then backoff, then reconnect */
    P_STOPPING,      /* draining acks, then ending the stream */
    P_CLOSING,       /* closing handles; the loop ends when they are closed */
};

struct runner {
    uv_loop_t *loop;
    const struct ww_config *cfg;
    struct ww_conninfo ci_regular;
    struct ww_conninfo ci_repl;
    char where[512]; /* redacted conninfo, for messages */

    struct ww_sink_module mod;
    struct ww_sink_host host;
    void *sink;

    struct ww_pgconn control;
    struct ww_pgconn *repl; /* heap: replaced on reconnect */
    struct ww_setup setup;
    struct ww_slot_request slot_rq;
    struct ww_stream stream;
    struct ww_bridge bridge;
    bool bridge_ready;
    struct ww_snapshot snapshot;
    bool snapshot_open;
    bool need_snapshot;   /* this start takes a snapshot */
    bool drop_slot;       /* ... after dropping the slot it cannot reuse */
    struct ww_state state; /* what the state file says / will say */
    struct ww_upkeep upkeep; /* control connection, catalog, heartbeats, slot monitor */
    bool standby;            /* another process holds the slot: waiting */
    int standby_pid;

    struct ww_metrics metrics;
    struct ww_http_server *http; /* NULL unless [http] listen is set */
    ww_lsn ready_confirmed;      /* readiness: the confirmed position last seen */
    uint64_t ready_moved_ms;     /* ... and when it last moved (uv_now) */
    uint64_t reconnects;

    uv_signal_t sigint, sigterm;
    uv_timer_t timer; /* reconnect backoff and shutdown deadline */

    enum ww_phase phase;
    int exit_code;
    unsigned signals;
    uint64_t backoff_ms;
    bool streamed_once;
    bool stream_ended;
    ww_lsn stream_start_confirmed; /* the confirmed position the stream began at */
    uint64_t stream_started_ms;    /* uv_now() when it began */
    int stuck_failures;            /* stream failures in a row without progress */
};

/* A runtime failure: log it once, shut down, exit 1. */
void ww_runner_fail(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The configuration does not fit what walwire finds: exit 2. */
void ww_runner_fail_config(struct runner *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Stop: gracefully (exit_code 0, while streaming: drain acks first) or at
 * once; the highest exit code asked for wins. */
void ww_runner_shutdown(struct runner *r, int exit_code);
void ww_runner_start_streaming(struct runner *r);
void ww_runner_close_repl(struct runner *r);
void ww_runner_schedule_reconnect(struct runner *r);
void ww_runner_on_drained(struct ww_bridge *b);

void ww_runner_on_control_connected(struct ww_pgconn *c, int status);
void ww_runner_connect_replication(struct runner *r);
void ww_runner_wait_for_slot(struct runner *r, int pid);
void ww_runner_on_snapshot_closed(struct ww_snapshot *s);

/* The HTTP endpoints (runner_http.c): start when [http] listen is set. */
int ww_runner_http_start(struct runner *r);
void ww_runner_http_close(struct runner *r);

#endif
