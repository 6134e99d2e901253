/*
 * Core's side of struct ww_host: what a sink may use of core (logging, its
 * configuration section, resume, fail), built from the configuration.
 *
 * Ownership: the owner embeds struct ww_sink_host and keeps it (and the
 * config) alive until the sink's close() has called done.
 * Thread: the loop thread.
 */
#ifndef WW_SINK_HOST_H
#define WW_SINK_HOST_H

#include "config.h"
#include "walwire/sink.h"

struct ww_sink_host {
    struct ww_host host; /* first: the pointer lent to the sink */
    const struct ww_config *cfg;
    const struct ww_config_section *section; /* [<type>], NULL when absent */
    char component[48];                      /* "sink.<type>" for logs */
    unsigned config_errors;                  /* config_error() calls */
    uint64_t retries;                        /* count_retry() calls */
    void (*on_resume)(void *arg);
    void (*on_fail)(void *arg, const char *msg);
    void *arg;
};

void ww_sink_host_init(struct ww_sink_host *h, uv_loop_t *loop, const struct ww_config *cfg,
                       void (*on_resume)(void *arg), void (*on_fail)(void *arg, const char *msg),
                       void *arg);

#endif
