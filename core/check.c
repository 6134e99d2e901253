/*
 * `walwire check`: the preflight. Runs the database checks (check_db.c,
 * judged by check_eval.c) and the sink check (check_sink.c) at the same
 * time on one loop, then prints one table (or JSON) of the results:
 * database rows first, the sink last. docs/check.md describes every row.
 *
 * Nothing here changes the server or the destination: walwire check only
 * reads, and says what `walwire run` would create.
 */
#include "check.h"

#include <stdio.h>
#include <uv.h>

#include "check_parts.h"
#include "check_report.h"

int ww_check(const struct ww_config *cfg, bool json)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) < 0) {
        fprintf(stderr, "walwire: cannot start an event loop\n");
        return 1;
    }
    struct ww_check_db *db = ww_check_db_start(&loop, cfg);
    struct ww_check_sink *sink = ww_check_sink_start(&loop, cfg);
    uv_run(&loop, UV_RUN_DEFAULT); /* returns once every connection and handle is closed */

    struct ww_check_report rep = {0};
    ww_check_db_finish(db, &rep);
    ww_check_sink_finish(sink, &rep);
    uv_loop_close(&loop);

    if (json)
        ww_check_print_json(&rep, stdout);
    else
        ww_check_print_table(&rep, stdout);
    fflush(stdout);
    bool ready = ww_check_ready(&rep);
    ww_check_report_free(&rep);
    return ready ? 0 : 3;
}
