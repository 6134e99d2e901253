#include "upkeep.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define HEARTBEAT_SQL "SELECT pg_logical_emit_message(false, 'walwire_heartbeat', '')"

static void on_heartbeat_done(void *arg, int status, PGresult *res, const char *errmsg)
{
    struct ww_upkeep *u = arg;
    if (status == -ECANCELED)
        return;
    if (status < 0) {
        if (!u->heartbeat_failed_logged)
            ww_warn("heartbeat", "pg_logical_emit_message failed: %s (fix: GRANT EXECUTE ON "
                    "FUNCTION pg_logical_emit_message(boolean, text, text) TO the role, or set "
                    "heartbeat_interval = 0)", errmsg);
        u->heartbeat_failed_logged = true;
        return;
    }
    u->heartbeats_sent++;
}

static void on_heartbeat(uv_timer_t *t)
{
    struct ww_upkeep *u = t->data;
    ww_control_query(&u->ctl, HEARTBEAT_SQL, on_heartbeat_done, u);
}

/* Row layout: wal_status, retained bytes (NULL without restart_lsn). */
static void on_slot_sample(void *arg, int status, PGresult *res, const char *errmsg)
{
    struct ww_upkeep *u = arg;
    if (status == -ECANCELED)
        return;
    if (status < 0) {
        ww_warn("monitor", "sampling the replication slot failed: %s", errmsg);
        return;
    }
    const char *slot = u->cfg->slot;
    if (PQntuples(res) != 1) {
        u->fatal(u->arg, "the replication slot no longer exists (it was dropped): changes "
                         "after its last confirmed position are lost; restart walwire to "
                         "create a new slot and take a new snapshot");
        return;
    }
    const char *wal_status = PQgetvalue(res, 0, 0);
    snprintf(u->slot_wal_status, sizeof u->slot_wal_status, "%s", wal_status);
    u->slot_retained_bytes =
        PQgetisnull(res, 0, 1) ? 0 : (uint64_t)strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    if (strcmp(wal_status, "lost") == 0) {
        char msg[768];
        snprintf(msg, sizeof msg,
                 "replication slot %s was invalidated (wal_status lost, max_slot_wal_keep_size "
                 "exceeded): the WAL it needed is gone, so changes were lost. Drop it with "
                 "SELECT pg_drop_replication_slot('%s'); delete the state file %s, and start "
                 "walwire again to take a new snapshot",
                 slot, slot, u->cfg->state_file);
        u->fatal(u->arg, msg);
        return;
    }
    if (strcmp(wal_status, "unreserved") == 0 && !u->unreserved_logged) {
        ww_warn("monitor", "replication slot %s is about to lose WAL (wal_status unreserved, "
                "%" PRIu64 " bytes retained): walwire is falling behind or "
                "max_slot_wal_keep_size is too small", slot, u->slot_retained_bytes);
        u->unreserved_logged = true;
    } else if (strcmp(wal_status, "unreserved") != 0) {
        u->unreserved_logged = false;
    }
    if (u->cfg->retained_wal_warn_bytes && u->slot_retained_bytes > u->cfg->retained_wal_warn_bytes)
        ww_warn("monitor", "replication slot %s retains %" PRIu64 " MB of WAL (more than "
                "[source] retained_wal_warn): the sink is slow or down, or walwire lags",
                slot, u->slot_retained_bytes >> 20);
}

void ww_upkeep_check_slot(struct ww_upkeep *u)
{
    char sql[512];
    /* The slot name is validated by config: lower-case letters, digits, _. */
    snprintf(sql, sizeof sql,
             "SELECT wal_status, (pg_current_wal_lsn() - restart_lsn)::bigint FROM "
             "pg_replication_slots WHERE slot_name = '%s'", u->cfg->slot);
    ww_control_query(&u->ctl, sql, on_slot_sample, u);
}

static void on_monitor(uv_timer_t *t)
{
    ww_upkeep_check_slot(t->data);
}

void ww_upkeep_start(struct ww_upkeep *u, uv_loop_t *loop, const struct ww_config *cfg,
                     const struct ww_conninfo *ci, struct ww_bridge *bridge,
                     void (*fatal)(void *arg, const char *msg), void *arg)
{
    memset(u, 0, sizeof *u);
    u->loop = loop;
    u->cfg = cfg;
    u->fatal = fatal;
    u->arg = arg;
    ww_control_init(&u->ctl, loop, ci);
    ww_catalog_init(&u->catalog, bridge, &u->ctl);
    uv_timer_init(loop, &u->heartbeat);
    uv_timer_init(loop, &u->monitor);
    u->heartbeat.data = u->monitor.data = u;
    uv_timer_start(&u->monitor, on_monitor, WW_SLOT_MONITOR_MS, WW_SLOT_MONITOR_MS);
    u->started = true;
}

void ww_upkeep_streaming(struct ww_upkeep *u, bool streaming)
{
    if (!u->started || u->cfg->heartbeat_interval_ms == 0)
        return;
    if (streaming && !uv_is_active((uv_handle_t *)&u->heartbeat))
        uv_timer_start(&u->heartbeat, on_heartbeat, u->cfg->heartbeat_interval_ms,
                       u->cfg->heartbeat_interval_ms);
    else if (!streaming)
        uv_timer_stop(&u->heartbeat);
}

static void part_closed(struct ww_upkeep *u)
{
    if (--u->open == 0 && u->on_closed)
        u->on_closed(u);
}

static void on_timer_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

static void on_ctl_closed(struct ww_control *c)
{
    part_closed((struct ww_upkeep *)((char *)c - offsetof(struct ww_upkeep, ctl)));
}

void ww_upkeep_close(struct ww_upkeep *u, void (*on_closed)(struct ww_upkeep *u))
{
    if (!u->started)
        return;
    u->started = false;
    u->on_closed = on_closed;
    u->open = 3;
    ww_catalog_stop(&u->catalog);
    ww_control_close(&u->ctl, on_ctl_closed);
    uv_close((uv_handle_t *)&u->heartbeat, on_timer_closed);
    uv_close((uv_handle_t *)&u->monitor, on_timer_closed);
}
