/*
 * The state file ([source] state_file): what walwire must remember outside
 * PostgreSQL, i.e. whether the initial snapshot of this slot completed, and
 * the configuration that shaped it (database, publication, tables, slot),
 * so that a changed configuration is noticed instead of silently streaming
 * something else.
 *
 * Format: "key=value" lines, written atomically (write a temporary file,
 * fsync it, rename it over the old one, fsync the directory):
 *
 *   # walwire state; delete this file to take a new snapshot
 *   version=1
 *   slot=walwire
 *   database=app
 *   publication=walwire
 *   tables=public.orders,public.users     ("*" = every table of the publication)
 *   snapshot=started|completed
 *   consistent_point=0/16B3748
 *
 * Errors: -ENOENT when the file does not exist; other negative errnos with
 * one line in err naming the path and the problem.
 * Thread: any (the runner writes it on libuv's threadpool).
 */
#ifndef WW_STATE_H
#define WW_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "lsn.h"

struct ww_state {
    char slot[128];
    char database[256];
    char publication[256];
    char tables[8192];
    bool snapshot_completed;
    ww_lsn consistent_point;
};

/* The state this configuration would write (snapshot not completed). */
void ww_state_from_config(struct ww_state *st, const struct ww_config *cfg, const char *database);

int ww_state_read(const char *path, struct ww_state *st, char *err, size_t errlen);
int ww_state_write(const char *path, const struct ww_state *st, char *err, size_t errlen);

/* Do saved and now describe the same stream (slot, database, publication,
 * tables)? When not, diff lists what changed: "publication was a, is b". */
bool ww_state_same_stream(const struct ww_state *saved, const struct ww_state *now, char *diff,
                          size_t difflen);

#endif
