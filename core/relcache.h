/*
 * Relation cache: relation id -> what the encoder needs to turn a tuple
 * into JSON (schema, table, columns, types, key columns), built from
 * pgoutput Relation messages (and, for the snapshot, from catalog queries
 * that produce the same struct ww_pgo_msg relation shape).
 *
 * The server sends a Relation message before the first change of a
 * relation in each session and again after its schema changes, so an entry
 * is replaced wholesale by ww_relcache_update(). Custom types (enums,
 * domains, composites) arrive as Type messages and are remembered by oid.
 *
 * Ownership: the cache owns every entry and every string in it. A pointer
 * returned by ww_relcache_get() stays valid until the next update of the
 * same relid or ww_relcache_free().
 *
 * Thread: the loop thread.
 */
#ifndef WW_RELCACHE_H
#define WW_RELCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgoutput.h"

struct ww_relcol {
    char *name;
    uint32_t type_oid;
    int32_t typmod;
    bool is_identity; /* in the replica identity (the Relation message's flag) */
    bool is_key;      /* in the event key (see key_source below) */
    /* The column name as a JSON object member prefix: "\"name\":",
     * escaped, precomputed so the encoder appends it with one memcpy. */
    char *json_name;
    size_t json_name_len;
};

struct ww_relation {
    uint32_t relid;
    char *schema; /* "pg_catalog" when the message said "" */
    char *table;
    char replident; /* enum ww_replident */
    uint16_t ncols;
    struct ww_relcol *cols;
    /* Indices into cols of the key columns, in column order; nkeys 0 means
     * the event key is null. By default the key is the replica identity
     * (all columns flagged by the Relation message), except for REPLICA
     * IDENTITY FULL, where every column is flagged: then the key is the
     * primary key set with ww_relcache_set_key(), or null. */
    uint16_t nkeys;
    uint16_t *key_cols;
    /* "\"schema\":\"public\",\"table\":\"users\"" escaped, for source. */
    char *json_schema_table;
    size_t json_schema_table_len;
    /* Bumped each time the entry is replaced; lets callers cache derived
     * data per relation. */
    uint32_t generation;
};

struct ww_relcache; /* opaque */

struct ww_relcache *ww_relcache_new(void);
void ww_relcache_free(struct ww_relcache *c);

/* Add or replace the relation described by a decoded Relation message
 * (msg->kind == WW_PGO_RELATION). Copies everything it keeps. */
void ww_relcache_update(struct ww_relcache *c, const struct ww_pgo_msg *msg);
/* NULL when the relation is unknown (a change before its Relation message
 * is a protocol error the caller reports). */
const struct ww_relation *ww_relcache_get(const struct ww_relcache *c, uint32_t relid);

/* Use these columns (by name) as the key of relid from now on, overriding
 * the replica identity; ncols 0 means a null key. Kept across updates of the
 * relation until set again. Unknown names are ignored. -ENOENT when relid
 * is not cached. */
int ww_relcache_set_key(struct ww_relcache *c, uint32_t relid, const char *const *colnames,
                        size_t ncols);

/* What the encoder needs to know of a type that is not built in (enums,
 * domains, composites, ranges, extension types such as hstore and citext,
 * arrays of those). Filled from the catalog by core (pg_type), keyed by
 * oid. */
struct ww_type_info {
    uint32_t oid;
    char typtype;      /* pg_type.typtype: b base, d domain, e enum, c composite,
                        * r range, m multirange, p pseudo */
    char typcategory;  /* pg_type.typcategory: A array, ... */
    uint32_t base_oid; /* domain: its base type, through nested domains; else 0 */
    uint32_t elem_oid; /* array (typcategory A): the element type; else 0 */
    char *name;        /* "schema.name", e.g. "public.hstore" */
};

/* Add or replace what is known of a type (copies). */
void ww_relcache_set_type(struct ww_relcache *c, const struct ww_type_info *info);
/* What is known of a type, or NULL. */
const struct ww_type_info *ww_relcache_type(const struct ww_relcache *c, uint32_t type_oid);

/* Remember a Type message (msg->kind == WW_PGO_TYPE). */
void ww_relcache_update_type(struct ww_relcache *c, const struct ww_pgo_msg *msg);
/* "schema.name" of a type learnt from a Type message, or NULL. */
const char *ww_relcache_type_name(const struct ww_relcache *c, uint32_t type_oid);

#endif
