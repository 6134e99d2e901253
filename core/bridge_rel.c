/* The bridge and relations: the table filter, event keys, catalog lookups
 * (bridge.h, bridge_int.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge_int.h"
#include "log.h"

/* ---- table filter ----------------------------------------------------- */

static bool filter_lookup(const struct ww_bridge *b, uint32_t relid, bool *included)
{
    if (!b->filter_cap)
        return false;
    for (uint32_t i = relid * 2654435761u & (b->filter_cap - 1);; i = (i + 1) & (b->filter_cap - 1)) {
        if (b->filter_keys[i] == relid) {
            *included = b->filter_vals[i] == 2;
            return true;
        }
        if (b->filter_vals[i] == 0)
            return false;
    }
}

static void filter_store(struct ww_bridge *b, uint32_t relid, bool included)
{
    /* Grow at half full; rehash every entry. */
    uint32_t used = 0;
    for (uint32_t i = 0; i < b->filter_cap; i++)
        used += b->filter_vals[i] != 0;
    if ((used + 1) * 2 > b->filter_cap) {
        uint32_t oldcap = b->filter_cap;
        uint32_t *ok = b->filter_keys;
        uint8_t *ov = b->filter_vals;
        b->filter_cap = oldcap ? oldcap * 2 : 64;
        b->filter_keys = calloc(b->filter_cap, sizeof *b->filter_keys);
        b->filter_vals = calloc(b->filter_cap, 1);
        if (!b->filter_keys || !b->filter_vals)
            abort();
        for (uint32_t i = 0; i < oldcap; i++)
            if (ov[i])
                filter_store(b, ok[i], ov[i] == 2);
        free(ok);
        free(ov);
    }
    uint32_t i = relid * 2654435761u & (b->filter_cap - 1);
    while (b->filter_vals[i] != 0 && b->filter_keys[i] != relid)
        i = (i + 1) & (b->filter_cap - 1);
    b->filter_keys[i] = relid;
    b->filter_vals[i] = included ? 2 : 1;
}

/* Is the relation in [source] tables (or are all tables wanted)? */
bool ww_bridge_relation_wanted(const struct ww_bridge *b, const struct ww_relation *rel)
{
    if (b->cfg->ntables == 0)
        return true;
    bool included;
    if (filter_lookup(b, rel->relid, &included))
        return included;
    return true;
}

static void note_relation(struct ww_bridge *b, const struct ww_relation *rel)
{
    if (b->cfg->ntables) {
        size_t sl = strlen(rel->schema);
        bool included = false;
        for (size_t i = 0; i < b->cfg->ntables && !included; i++) {
            const char *t = b->cfg->tables[i];
            included = strncmp(t, rel->schema, sl) == 0 && t[sl] == '.' &&
                       strcmp(t + sl + 1, rel->table) == 0;
        }
        filter_store(b, rel->relid, included);
    }
    /* REPLICA IDENTITY FULL flags every column: key by the primary key. */
    if (rel->replident == WW_REPLIDENT_FULL && b->setup) {
        const struct ww_full_key *k = ww_setup_full_key(b->setup, rel->schema, rel->table);
        if (k)
            ww_relcache_set_key(b->rels, rel->relid, (const char *const *)k->cols, k->ncols);
    }
}

/* Append v to a growable uint32 array unless it is there already. */
static void add_unique(uint32_t **arr, size_t *n, size_t *cap, uint32_t v)
{
    for (size_t i = 0; i < *n; i++)
        if ((*arr)[i] == v)
            return;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        uint32_t *a = realloc(*arr, *cap * sizeof *a);
        if (!a)
            abort();
        *arr = a;
    }
    (*arr)[(*n)++] = v;
}

static bool contains(const uint32_t *arr, size_t n, uint32_t v)
{
    for (size_t i = 0; i < n; i++)
        if (arr[i] == v)
            return true;
    return false;
}

/* Built-in types have oids below FirstGenbkiObjectId (10000); the encoder
 * knows them. Anything above comes from CREATE TYPE or an extension. */
#define WW_FIRST_NON_BUILTIN_OID 10000u

/* Queue what the catalog must tell about rel; true when anything was. */
static bool queue_lookups(struct ww_bridge *b, const struct ww_relation *rel)
{
    if (!b->catalog_needed)
        return false;
    size_t before = b->nlookup_types + b->nlookup_keys;
    for (uint16_t i = 0; i < rel->ncols; i++) {
        uint32_t oid = rel->cols[i].type_oid;
        if (oid >= WW_FIRST_NON_BUILTIN_OID && !ww_relcache_type(b->rels, oid))
            add_unique(&b->lookup_types, &b->nlookup_types, &b->lookup_types_cap, oid);
    }
    if (rel->replident == WW_REPLIDENT_FULL && rel->nkeys == 0 &&
        !contains(b->no_pk, b->nno_pk, rel->relid))
        add_unique(&b->lookup_keys, &b->nlookup_keys, &b->lookup_keys_cap, rel->relid);
    return b->nlookup_types + b->nlookup_keys > before;
}

void ww_bridge_take_lookups(struct ww_bridge *b, uint32_t **types, size_t *ntypes,
                            uint32_t **relids, size_t *nrelids)
{
    *types = b->lookup_types;
    *ntypes = b->nlookup_types;
    *relids = b->lookup_keys;
    *nrelids = b->nlookup_keys;
    b->lookup_types = b->lookup_keys = NULL;
    b->nlookup_types = b->lookup_types_cap = b->nlookup_keys = b->lookup_keys_cap = 0;
}

void ww_bridge_set_primary_key(struct ww_bridge *b, uint32_t relid, const char *const *cols,
                               size_t n)
{
    if (n == 0) {
        add_unique(&b->no_pk, &b->nno_pk, &b->no_pk_cap, relid);
        return;
    }
    ww_relcache_set_key(b->rels, relid, cols, n);
}

void ww_bridge_add_relation(struct ww_bridge *b, const struct ww_pgo_msg *relation)
{
    /* The old entry's strings are freed: forget pointers to them. */
    b->last_counters_schema = b->last_counters_table = NULL;
    ww_relcache_update(b->rels, relation);
    const struct ww_relation *rel = ww_relcache_get(b->rels, relation->relation.relid);
    note_relation(b, rel);
    if (queue_lookups(b, rel) && !b->waiting_catalog) {
        b->waiting_catalog = true;
        b->catalog_needed(b);
    }
}

void ww_bridge_catalog_done(struct ww_bridge *b)
{
    b->waiting_catalog = false;
    /* Whoever waited (the stream, or a snapshot not started yet) goes on. */
    b->reading_paused = true;
    ww_bridge_maybe_resume(b);
}

