/*
 * The initial snapshot: reads every table of the publication as of the
 * slot's exported snapshot, on [source] snapshot_workers connections, all
 * driven by the loop (asynchronous COPY ... TO STDOUT), and hands each row
 * to the bridge as an 'r' event.
 *
 *   - Each worker: BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
 *     SET TRANSACTION SNAPSHOT '<exported>'; so every worker sees the
 *     database exactly as of the slot's consistent point.
 *   - Worker 0 reads the catalog (inside the snapshot): the published tables,
 *     their columns (honouring publication column lists and row filters),
 *     key columns, size and row estimate.
 *   - Tables larger than CHUNK_PAGES pages are split into ctid ranges
 *     ("ctid >= '(a,0)' AND ctid < '(b,0)'", served by a TID range scan), so
 *     that workers share a big table; the last range is open-ended.
 *   - The final row of the whole snapshot carries source.snapshot = "last":
 *     the most recent row is held back until the next one arrives or every
 *     chunk is read.
 *   - Back-pressure: a worker whose row the bridge answers with "pause"
 *     stops reading; ww_snapshot_resume() restarts every paused worker.
 *   - Progress: rows done / estimated (pg_class.reltuples), rate and ETA;
 *     a live line on a terminal, a log line every few seconds otherwise.
 *
 * Completion: once every row is read and handed over, the owner waits for
 * the bridge to drain (all acked) and calls ww_snapshot_drained(); done(0)
 * follows. Errors: done(< 0) with a message naming the table and the fix.
 *
 * Thread: the loop thread. Ownership: the owner embeds struct ww_snapshot
 * and keeps it until on_closed has run.
 */
#ifndef WW_SNAPSHOT_H
#define WW_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bridge.h"
#include "buf.h"
#include "pg_conn.h"

/* The numbers the progress line, the logs and the metrics show. */
struct ww_snapshot_progress {
    uint64_t rows_done;
    uint64_t rows_estimated; /* sum of pg_class.reltuples; 0 when unknown */
    uint32_t tables_done;
    uint32_t tables_total;
    uint64_t started_ms; /* uv_now() at start */
    bool running;
};

struct ww_snapshot_table;
struct ww_snapshot_chunk;
struct ww_snapshot_worker;

struct ww_snapshot {
    uv_loop_t *loop;
    const struct ww_config *cfg;
    struct ww_bridge *bridge;
    const struct ww_conninfo *ci;
    char snapshot_name[128];
    ww_lsn consistent_point;

    struct ww_snapshot_worker *workers;
    int nworkers;
    struct ww_snapshot_table *tables;
    int ntables;
    struct ww_snapshot_chunk *chunks;
    int nchunks;
    int next_chunk;
    bool planned;
    bool all_read;

    /* The row held back for the "last" marker: a COPY buffer (PQfreemem). */
    char *held;
    int held_len;
    int held_table;
    struct ww_pgo_value *values;
    size_t values_cap;
    struct ww_buf scratch;

    struct ww_snapshot_progress progress;
    uv_timer_t progress_timer;
    bool tty;
    bool live_line; /* a live line is on the terminal and needs a newline */
    uint64_t last_log_ms;

    void (*done)(struct ww_snapshot *s, int status);
    void (*on_closed)(struct ww_snapshot *s);
    void *data; /* the owner's */
    unsigned open_handles;
    bool finished;
    bool closing;
    char errmsg[1024];
};

/* Start reading the snapshot named snapshot_name (exported by the slot's
 * creation, or by pg_export_snapshot()). ci: regular connection parameters.
 * Returns 0 (done follows) or < 0 with errmsg set. */
int ww_snapshot_start(struct ww_snapshot *s, uv_loop_t *loop, const struct ww_config *cfg,
                      struct ww_bridge *bridge, const struct ww_conninfo *ci,
                      const char *snapshot_name, ww_lsn consistent_point,
                      void (*done)(struct ww_snapshot *s, int status), void *data);

/* The bridge can take rows again. */
void ww_snapshot_resume(struct ww_snapshot *s);
/* The bridge has no outstanding change: completes the snapshot when every
 * row has been read. */
void ww_snapshot_drained(struct ww_snapshot *s);
/* Close the worker connections and the timer; on_closed follows. */
void ww_snapshot_close(struct ww_snapshot *s, void (*on_closed)(struct ww_snapshot *s));

/* One progress line, e.g. "snapshot: 512000/1000000 rows (51%), 2 of 3
 * tables, 250000 rows/s, ETA 2s". */
void ww_snapshot_format_progress(const struct ww_snapshot *s, uint64_t now_ms, char *out,
                                 size_t outlen);

#endif
