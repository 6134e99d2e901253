/*
 * Relation cache: two hash maps keyed by a 32-bit oid, one from relation
 * id to struct ww_relation, one from type oid to what is known of the type
 * (its "schema.name" from a Type message, and/or the struct ww_type_info
 * set by core from the catalog).
 *
 * Both maps use open addressing with linear probing over an array of
 * pointers (NULL: empty slot), sized to a power of two and kept at most half
 * full. Nothing is ever removed (the server never says a relation is gone),
 * so no tombstones are needed. The pointed-to structs never move, which is
 * what lets ww_relcache_get() hand out pointers that outlive a rehash.
 *
 * Allocation failure aborts, as in buf.c.
 */
#include "relcache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

/* A cached relation. rel comes first: a slot's pointer is also a pointer to
 * rel.relid, the map key. */
struct entry {
    struct ww_relation rel;
    /* The key set with ww_relcache_set_key(), by column name; kept across
     * updates of the relation. key_set false: use the replica identity. */
    bool key_set;
    size_t nkey_names;
    char **key_names;
};

/* A type, learnt from a Type message and/or ww_relcache_set_type(); info
 * comes first, and info.oid first in it, as above. info.name is the
 * "schema.name" from either (the later one wins); the other fields are
 * valid when has_info. */
struct type_entry {
    struct ww_type_info info;
    bool has_info;
};

/* An open-addressing map of pointers to structs that start with their
 * uint32_t key. */
struct map {
    void **slots;
    size_t cap; /* 0 or a power of two */
    size_t count;
};

struct ww_relcache {
    struct map rels;  /* of struct entry */
    struct map types; /* of struct type_entry */
};

static void oom(size_t n)
{
    fprintf(stderr, "walwire: out of memory allocating %zu bytes for the relation cache\n", n);
    abort();
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        oom(n * size);
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (!p)
        oom(n);
    return memcpy(p, s, n);
}

/* Take the bytes of a buffer as a NUL-terminated string the caller owns. */
static char *buf_take(struct ww_buf *b, size_t *len)
{
    ww_buf_cstr(b);
    *len = b->len;
    char *s = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

/* Spread the bits of an oid (oids are mostly consecutive) over the table. */
static size_t hash_oid(uint32_t oid)
{
    uint32_t h = oid;
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    h *= 0x846ca68bU;
    h ^= h >> 16;
    return h;
}

static uint32_t slot_key(const void *slot)
{
    return *(const uint32_t *)slot;
}

/* Index of the slot that holds key, or of the empty slot where it goes. */
static size_t map_find(const struct map *m, uint32_t key)
{
    size_t mask = m->cap - 1;
    size_t i = hash_oid(key) & mask;
    while (m->slots[i] && slot_key(m->slots[i]) != key)
        i = (i + 1) & mask;
    return i;
}

static void *map_get(const struct map *m, uint32_t key)
{
    if (m->cap == 0)
        return NULL;
    return m->slots[map_find(m, key)];
}

/* Insert item, whose key is not in the map yet. */
static void map_put(struct map *m, void *item)
{
    if ((m->count + 1) * 2 > m->cap) {
        struct map bigger = {.cap = m->cap ? m->cap * 2 : 64, .count = m->count};
        bigger.slots = xcalloc(bigger.cap, sizeof *bigger.slots);
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i])
                bigger.slots[map_find(&bigger, slot_key(m->slots[i]))] = m->slots[i];
        free(m->slots);
        *m = bigger;
    }
    m->slots[map_find(m, slot_key(item))] = item;
    m->count++;
}

struct ww_relcache *ww_relcache_new(void)
{
    return xcalloc(1, sizeof(struct ww_relcache));
}

/* Free what an entry's relation owns (not the key override). */
static void free_relation(struct ww_relation *rel)
{
    for (uint16_t i = 0; i < rel->ncols; i++) {
        free(rel->cols[i].name);
        free(rel->cols[i].json_name);
    }
    free(rel->cols);
    free(rel->key_cols);
    free(rel->schema);
    free(rel->table);
    free(rel->json_schema_table);
}

static void free_key_names(struct entry *e)
{
    for (size_t i = 0; i < e->nkey_names; i++)
        free(e->key_names[i]);
    free(e->key_names);
    e->key_names = NULL;
    e->nkey_names = 0;
}

void ww_relcache_free(struct ww_relcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->rels.cap; i++) {
        struct entry *e = c->rels.slots[i];
        if (e) {
            free_relation(&e->rel);
            free_key_names(e);
            free(e);
        }
    }
    for (size_t i = 0; i < c->types.cap; i++) {
        struct type_entry *t = c->types.slots[i];
        if (t) {
            free(t->info.name);
            free(t);
        }
    }
    free(c->rels.slots);
    free(c->types.slots);
    free(c);
}

static bool key_names_has(const struct entry *e, const char *name)
{
    for (size_t i = 0; i < e->nkey_names; i++)
        if (strcmp(e->key_names[i], name) == 0)
            return true;
    return false;
}

/* Decide is_key for every column and rebuild key_cols (column order):
 * the names set with ww_relcache_set_key() when there are some, else the
 * replica identity columns, except under REPLICA IDENTITY FULL, where every
 * column is flagged and the key is null. */
static void resolve_key(struct entry *e)
{
    struct ww_relation *rel = &e->rel;
    uint16_t n = 0;
    for (uint16_t i = 0; i < rel->ncols; i++) {
        struct ww_relcol *col = &rel->cols[i];
        if (e->key_set)
            col->is_key = key_names_has(e, col->name);
        else
            col->is_key = rel->replident != WW_REPLIDENT_FULL && col->is_identity;
        n += col->is_key;
    }
    free(rel->key_cols);
    rel->key_cols = n ? xcalloc(n, sizeof *rel->key_cols) : NULL;
    rel->nkeys = 0;
    for (uint16_t i = 0; i < rel->ncols; i++)
        if (rel->cols[i].is_key)
            rel->key_cols[rel->nkeys++] = i;
}

void ww_relcache_update(struct ww_relcache *c, const struct ww_pgo_msg *msg)
{
    if (msg->kind != WW_PGO_RELATION)
        return;
    struct entry *e = map_get(&c->rels, msg->relation.relid);
    uint32_t generation = 1;
    if (e) {
        generation = e->rel.generation + 1;
        free_relation(&e->rel);
    } else {
        e = xcalloc(1, sizeof *e);
        e->rel.relid = msg->relation.relid;
        map_put(&c->rels, e);
    }

    struct ww_relation *rel = &e->rel;
    struct ww_buf b = {0};
    /* pgoutput writes "" for the pg_catalog namespace. */
    const char *schema = msg->relation.nspname[0] ? msg->relation.nspname : "pg_catalog";
    rel->schema = xstrdup(schema);
    rel->table = xstrdup(msg->relation.relname);
    rel->replident = msg->relation.replident;
    rel->ncols = msg->relation.ncols;
    rel->cols = xcalloc(rel->ncols, sizeof *rel->cols);
    rel->key_cols = NULL;
    rel->nkeys = 0;
    rel->generation = generation;

    for (uint16_t i = 0; i < rel->ncols; i++) {
        const struct ww_pgo_column *src = &msg->relation.cols[i];
        struct ww_relcol *col = &rel->cols[i];
        col->name = xstrdup(src->name);
        col->type_oid = src->type_oid;
        col->typmod = src->typmod;
        col->is_identity = src->is_identity;
        ww_json_string(&b, src->name, strlen(src->name));
        ww_buf_putc(&b, ':');
        col->json_name = buf_take(&b, &col->json_name_len);
    }

    ww_buf_puts(&b, "\"schema\":");
    ww_json_string(&b, rel->schema, strlen(rel->schema));
    ww_buf_puts(&b, ",\"table\":");
    ww_json_string(&b, rel->table, strlen(rel->table));
    rel->json_schema_table = buf_take(&b, &rel->json_schema_table_len);

    resolve_key(e);
}

const struct ww_relation *ww_relcache_get(const struct ww_relcache *c, uint32_t relid)
{
    struct entry *e = map_get(&c->rels, relid);
    return e ? &e->rel : NULL;
}

/* Also bumps the generation: the key is derived data callers may cache. The
 * entry stays where it is; its key_cols array is replaced. */
int ww_relcache_set_key(struct ww_relcache *c, uint32_t relid, const char *const *colnames,
                        size_t ncols)
{
    struct entry *e = map_get(&c->rels, relid);
    if (!e)
        return -ENOENT;
    free_key_names(e);
    e->key_set = true;
    e->key_names = ncols ? xcalloc(ncols, sizeof *e->key_names) : NULL;
    for (size_t i = 0; i < ncols; i++)
        e->key_names[i] = xstrdup(colnames[i]);
    e->nkey_names = ncols;
    resolve_key(e);
    e->rel.generation++;
    return 0;
}

/* The entry of type oid, created empty when there is none. */
static struct type_entry *type_entry_for(struct ww_relcache *c, uint32_t oid)
{
    struct type_entry *t = map_get(&c->types, oid);
    if (!t) {
        t = xcalloc(1, sizeof *t);
        t->info.oid = oid;
        map_put(&c->types, t);
    }
    return t;
}

void ww_relcache_update_type(struct ww_relcache *c, const struct ww_pgo_msg *msg)
{
    if (msg->kind != WW_PGO_TYPE)
        return;
    const char *schema = msg->type.nspname[0] ? msg->type.nspname : "pg_catalog";
    size_t ls = strlen(schema), ln = strlen(msg->type.typname);
    char *name = malloc(ls + 1 + ln + 1);
    if (!name)
        oom(ls + ln + 2);
    memcpy(name, schema, ls);
    name[ls] = '.';
    memcpy(name + ls + 1, msg->type.typname, ln + 1);

    struct type_entry *t = type_entry_for(c, msg->type.oid);
    free(t->info.name);
    t->info.name = name;
}

const char *ww_relcache_type_name(const struct ww_relcache *c, uint32_t type_oid)
{
    const struct type_entry *t = map_get(&c->types, type_oid);
    return t ? t->info.name : NULL;
}

/* Copies info and its name; the entry stays where it is (pointers from
 * ww_relcache_type() to it stay valid, with the new contents). */
void ww_relcache_set_type(struct ww_relcache *c, const struct ww_type_info *info)
{
    struct type_entry *t = type_entry_for(c, info->oid);
    char *name = info->name ? xstrdup(info->name) : NULL;
    free(t->info.name);
    t->info = *info;
    t->info.name = name;
    t->has_info = true;
}

const struct ww_type_info *ww_relcache_type(const struct ww_relcache *c, uint32_t type_oid)
{
    const struct type_entry *t = map_get(&c->types, type_oid);
    return t && t->has_info ? &t->info : NULL;
}
