/*
 * The two halves of `walwire check` (internal to check*.c). Both run at the
 * same time on the loop that ww_check() drives:
 *
 *   ww_check_db_start()    check_db.c: connect to PostgreSQL, read the
 *                          settings, the role, the publication, the slot
 *                          and the tables (check_sql.c builds the queries)
 *   ww_check_sink_start()  check_sink.c: load the sink module, open it,
 *                          probe the destination, close it
 *
 * Each start function starts its I/O and returns; the work is over when
 * uv_run() returns (every handle of both halves is closed). The finish
 * functions then turn what was found into rows of the report, in a fixed
 * order, and free the half.
 *
 * Ownership: cfg is borrowed and must outlive the finish call. A start
 * function aborts on allocation failure, like struct ww_buf.
 */
#ifndef WW_CHECK_PARTS_H
#define WW_CHECK_PARTS_H

#include <uv.h>

#include "check_report.h"
#include "config.h"

struct ww_check_db;
struct ww_check_db *ww_check_db_start(uv_loop_t *loop, const struct ww_config *cfg);
void ww_check_db_finish(struct ww_check_db *db, struct ww_check_report *rep);

/* How long the sink's probe may take before its row says it timed out. */
#define WW_CHECK_PROBE_TIMEOUT_MS 10000

struct ww_check_sink;
struct ww_check_sink *ww_check_sink_start(uv_loop_t *loop, const struct ww_config *cfg);
void ww_check_sink_finish(struct ww_check_sink *sk, struct ww_check_report *rep);

#endif
