/*
 * What runs beside the data path once the source is set up, on the control
 * connection (control.h):
 *
 *   - catalog lookups for the bridge (catalog.h);
 *   - heartbeats: while streaming, every [source] heartbeat_interval (> 0),
 *     pg_logical_emit_message(false, 'walwire_heartbeat', '') so that the
 *     slot keeps moving when the published tables are idle and the rest of
 *     the database is busy; the bridge does not forward them;
 *   - slot monitoring, every 30 s: retained WAL (pg_current_wal_lsn() -
 *     restart_lsn) and wal_status; a warning past [source] retained_wal_warn
 *     or when wal_status becomes "unreserved"; "lost" (the slot was
 *     invalidated: changes are gone) is fatal, with how to recover.
 *
 * Thread: the loop thread. Ownership: the owner embeds struct ww_upkeep.
 */
#ifndef WW_UPKEEP_H
#define WW_UPKEEP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bridge.h"
#include "catalog.h"
#include "config.h"
#include "control.h"

#define WW_SLOT_MONITOR_MS 30000

struct ww_upkeep {
    uv_loop_t *loop;
    const struct ww_config *cfg;
    struct ww_control ctl;
    struct ww_catalog catalog;
    uv_timer_t heartbeat;
    uv_timer_t monitor;
    bool heartbeat_failed_logged;
    bool unreserved_logged;
    bool started;
    unsigned open;
    /* Sampled by the monitor. */
    uint64_t slot_retained_bytes;
    char slot_wal_status[16];
    uint64_t heartbeats_sent;
    /* The slot was lost: the owner stops (exit 1). */
    void (*fatal)(void *arg, const char *msg);
    void *arg;
    void (*on_closed)(struct ww_upkeep *u);
};

void ww_upkeep_start(struct ww_upkeep *u, uv_loop_t *loop, const struct ww_config *cfg,
                     const struct ww_conninfo *ci, struct ww_bridge *bridge,
                     void (*fatal)(void *arg, const char *msg), void *arg);
/* Heartbeats go out only while streaming. */
void ww_upkeep_streaming(struct ww_upkeep *u, bool streaming);
/* Sample the slot now (also done every 30 s). */
void ww_upkeep_check_slot(struct ww_upkeep *u);
void ww_upkeep_close(struct ww_upkeep *u, void (*on_closed)(struct ww_upkeep *u));

#endif
