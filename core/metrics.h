/*
 * Metrics: what walwire counts and measures, rendered in the Prometheus
 * text exposition format (version 0.0.4) for GET /metrics.
 *
 * The runner owns one struct ww_metrics; the bridge, the snapshot, the
 * stream and the sink host update its fields directly (plain integers: one
 * thread, the loop's). Per-table counters live in a small map; a caller on
 * the hot path keeps the pointer ww_metrics_table() returns (it stays valid
 * until ww_metrics_free()).
 *
 * Thread: the loop thread.
 */
#ifndef WW_METRICS_H
#define WW_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

/* Events by table and op (the op's index: c u d r t m). */
enum ww_metrics_op { WW_M_C, WW_M_U, WW_M_D, WW_M_R, WW_M_T, WW_M_M, WW_M_NOPS };

struct ww_table_counters {
    char *schema;
    char *table;
    uint64_t events[WW_M_NOPS]; /* accepted by the sink */
    uint64_t bytes;             /* key + value bytes accepted */
};

struct ww_metrics {
    /* Pipeline. */
    uint64_t acks;           /* walwire_acks_total */
    uint64_t sink_errors;    /* walwire_sink_errors_total: acks with an error */
    uint64_t sink_retries;   /* walwire_sink_retries_total: host->count_retry() */
    uint64_t inflight_events; /* walwire_inflight_events (gauge) */
    uint64_t inflight_bytes;  /* walwire_inflight_bytes (gauge) */
    uint64_t transactions;    /* walwire_transactions_total */
    /* Positions. */
    uint64_t received_lsn;   /* walwire_received_lsn (gauge, bytes) */
    uint64_t confirmed_lsn;  /* walwire_confirmed_lsn (gauge, bytes) */
    uint64_t server_lsn;     /* walwire_server_wal_lsn: walEnd of the last keepalive/XLogData */
    int64_t last_commit_time_us; /* commit time of the last acked transaction; lag source */
    int64_t now_us;              /* set by the renderer's caller: lag = now - last commit */
    uint64_t slot_retained_bytes; /* walwire_slot_retained_wal_bytes (sampled) */
    /* Snapshot. */
    uint64_t snapshot_rows_done;
    uint64_t snapshot_rows_total; /* estimate */
    bool snapshot_running;
    /* State. */
    bool streaming;    /* walwire_streaming: 1 while the stream runs */
    bool active;       /* walwire_active: this instance holds the slot (HA) */
    uint64_t reconnects; /* walwire_reconnects_total */
    int64_t started_us;  /* process start, Unix epoch: walwire_start_time_seconds */

    /* Per-table counters (see ww_metrics_table). */
    struct ww_table_counters **tables;
    uint32_t ntables, tables_cap;
};

void ww_metrics_init(struct ww_metrics *m);
void ww_metrics_free(struct ww_metrics *m);

/* The counters of schema.table, created on first use; stable pointer. */
struct ww_table_counters *ww_metrics_table(struct ww_metrics *m, const char *schema,
                                           const char *table);
/* The op index of an event op character ('c', 'u', ...); WW_M_C for unknown. */
enum ww_metrics_op ww_metrics_op_index(char op);

/* Append the whole exposition (every metric with # HELP and # TYPE) to out. */
void ww_metrics_render(const struct ww_metrics *m, struct ww_buf *out);

#endif
