/*
 * Catalog lookups for the bridge: when a relation uses types walwire does
 * not know (enums, domains, composites, ranges, extension types such as
 * hstore and citext, arrays of those) or is REPLICA IDENTITY FULL without a
 * known primary key, the bridge pauses reading and queues the oids/relids
 * (bridge.h); ww_catalog_kick() takes the queues, asks pg_type / pg_index on
 * the control connection, feeds the answers into the relation cache, and
 * lets the bridge go on.
 *
 * A lookup that the server refuses (a type dropped meanwhile) is logged and
 * the bridge goes on without the answer: such values are written as their
 * text form, such tables get a null key.
 *
 * Thread: the loop thread.
 */
#ifndef WW_CATALOG_H
#define WW_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge.h"
#include "control.h"

struct ww_catalog {
    struct ww_bridge *bridge;
    struct ww_control *ctl;
    bool busy;
    int pending;    /* queries in flight */
    bool closing;
    uint32_t *types; /* being looked up */
    size_t ntypes;
    uint32_t *relids;
    size_t nrelids;
};

void ww_catalog_init(struct ww_catalog *c, struct ww_bridge *b, struct ww_control *ctl);
/* The bridge queued lookups (its catalog_needed hook). */
void ww_catalog_kick(struct ww_catalog *c);
/* Stop: answers still in flight are ignored. */
void ww_catalog_stop(struct ww_catalog *c);

#endif
