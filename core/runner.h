/*
 * `walwire run`: the lifecycle around the data path.
 *
 *   load + open the sink -> connect (control) -> setup checks, publication
 *   -> connect (replication) -> create the slot if new -> START_REPLICATION
 *   -> stream until SIGINT/SIGTERM or a failure
 *
 * Shutdown order on SIGINT/SIGTERM: stop reading WAL, wait (at most
 * [source] shutdown_timeout) for the sink to ack what it accepted, send a
 * last status update with the confirmed position, end the stream, close the
 * sink (it acks leftovers with -ECANCELED), close connections; exit 0. A
 * second signal exits at once with 1 (the slot keeps its last confirmed
 * position, so nothing is lost).
 *
 * A replication connection lost while streaming is reconnected with
 * exponential backoff (1 s doubling to 30 s), after every change already
 * written has been acked; the server then resends everything after the
 * confirmed position.
 *
 * Returns the process exit code: 0 clean shutdown, 1 runtime failure,
 * 2 configuration error found while opening the sink.
 */
#ifndef WW_RUNNER_H
#define WW_RUNNER_H

#include "config.h"

int ww_run(const struct ww_config *cfg);

#endif
