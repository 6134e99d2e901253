/*
 * `walwire check`: a preflight of the database (and, later, the sink),
 * printed as a table (or JSON with --json). Each check says ok, warn or
 * FAIL, with the fix for what failed.
 *
 * Returns the exit code: 0 when walwire can run, 3 when a check failed.
 */
#ifndef WW_CHECK_H
#define WW_CHECK_H

#include <stdbool.h>

#include "config.h"

int ww_check(const struct ww_config *cfg, bool json);

#endif
