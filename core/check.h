/*
 * `walwire check`: a preflight of the database and the sink, printed as a
 * table (or JSON with --json). Each check says ok, warn, FAIL or skip, with
 * the fix for what failed (docs/check.md lists the checks).
 *
 * Runs its own libuv loop until every check is done; reads only, never
 * creates or changes anything. Returns the exit code: 0 when walwire can
 * run (warnings allowed), 3 when a check failed, 1 when the check itself
 * could not run.
 */
#ifndef WW_CHECK_H
#define WW_CHECK_H

#include <stdbool.h>

#include "config.h"

int ww_check(const struct ww_config *cfg, bool json);

#endif
