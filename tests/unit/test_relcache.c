/*
 * Relation cache tests: entries built from Relation messages (hand-made and
 * from the recorded fixture), key columns, JSON fragments, set_key, types,
 * and many relations.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../fixtures/frames.h"
#include "pgoutput.h"
#include "relcache.h"

static struct ww_relcache *C;

static void setup(void)
{
    C = ww_relcache_new();
    cr_assert_not_null(C);
}

static void teardown(void)
{
    ww_relcache_free(C);
    C = NULL;
}

TestSuite(relcache, .init = setup, .fini = teardown);

/* Feed a Relation message built from a column list "name:oid:flags,...". */
static void put_rel(uint32_t relid, const char *nsp, const char *rel, char replident,
                    const char *spec)
{
    struct ww_pgo_column cols[64];
    char names[64][32];
    uint16_t n = 0;
    const char *p = spec;
    while (p && *p) {
        unsigned oid, flags;
        int used = 0;
        cr_assert_lt(n, 64);
        cr_assert_eq(sscanf(p, "%31[^:]:%u:%u%n", names[n], &oid, &flags, &used), 3, "bad spec %s",
                     p);
        cols[n] = (struct ww_pgo_column){
            .is_identity = flags & 1, .name = names[n], .type_oid = oid, .typmod = -1};
        n++;
        p += used;
        if (*p == ',')
            p++;
    }
    struct ww_pgo_msg m = {.kind = WW_PGO_RELATION};
    m.relation.relid = relid;
    m.relation.nspname = nsp;
    m.relation.relname = rel;
    m.relation.replident = replident;
    m.relation.ncols = n;
    m.relation.cols = cols;
    ww_relcache_update(C, &m);
}

/* The key column names of relid joined with ',' ("" for a null key), and
 * a check that is_key agrees with key_cols. */
static const char *keys_of(uint32_t relid)
{
    static char out[256];
    const struct ww_relation *r = ww_relcache_get(C, relid);
    cr_assert_not_null(r);
    out[0] = '\0';
    uint16_t flagged = 0;
    for (uint16_t i = 0; i < r->ncols; i++)
        flagged += r->cols[i].is_key;
    cr_assert_eq(flagged, r->nkeys, "is_key and key_cols disagree");
    for (uint16_t k = 0; k < r->nkeys; k++) {
        cr_assert_lt(r->key_cols[k], r->ncols);
        if (k)
            cr_assert_gt(r->key_cols[k], r->key_cols[k - 1], "key_cols in column order");
        cr_assert(r->cols[r->key_cols[k]].is_key);
        strcat(out, k ? "," : "");
        strcat(out, r->cols[r->key_cols[k]].name);
    }
    return out;
}

Test(relcache, unknown_relation_is_null)
{
    cr_assert_null(ww_relcache_get(C, 16384));
    const char *names[] = {"id"};
    cr_assert_eq(ww_relcache_set_key(C, 16384, names, 1), -ENOENT);
    cr_assert_null(ww_relcache_get(C, 16384), "set_key on an unknown relid adds nothing");
}

Test(relcache, entry_copies_the_message)
{
    char nsp[] = "public", rel[] = "users";
    put_rel(16384, nsp, rel, 'd', "id:23:1,name:25:0,score:23:0");
    /* The cache keeps copies: clobber the message's strings. */
    memset(nsp, 'X', strlen(nsp));
    memset(rel, 'X', strlen(rel));

    const struct ww_relation *r = ww_relcache_get(C, 16384);
    cr_assert_not_null(r);
    cr_assert_eq(r->relid, 16384);
    cr_assert_str_eq(r->schema, "public");
    cr_assert_str_eq(r->table, "users");
    cr_assert_eq(r->replident, 'd');
    cr_assert_eq(r->generation, 1);
    cr_assert_eq(r->ncols, 3);
    cr_assert_str_eq(r->cols[1].name, "name");
    cr_assert_eq(r->cols[1].type_oid, 25);
    cr_assert_eq(r->cols[1].typmod, -1);
    cr_assert(r->cols[0].is_identity);
    cr_assert(!r->cols[1].is_identity);
    cr_assert_str_eq(r->cols[0].json_name, "\"id\":");
    cr_assert_eq(r->cols[0].json_name_len, 5);
    cr_assert_str_eq(r->cols[2].json_name, "\"score\":");
    cr_assert_str_eq(r->json_schema_table, "\"schema\":\"public\",\"table\":\"users\"");
    cr_assert_eq(r->json_schema_table_len, strlen(r->json_schema_table));
    cr_assert_str_eq(keys_of(16384), "id");
}

Test(relcache, empty_namespace_is_pg_catalog)
{
    put_rel(1259, "", "pg_class", 'n', "oid:26:0");
    const struct ww_relation *r = ww_relcache_get(C, 1259);
    cr_assert_str_eq(r->schema, "pg_catalog");
    cr_assert_str_eq(r->json_schema_table, "\"schema\":\"pg_catalog\",\"table\":\"pg_class\"");
    cr_assert_str_eq(keys_of(1259), "", "REPLICA IDENTITY NOTHING: null key");
}

Test(relcache, names_are_escaped_for_json)
{
    struct ww_pgo_column cols[] = {
        {.name = "we\"ird\\name", .type_oid = 25, .typmod = -1},
        {.name = "tab\there", .type_oid = 25, .typmod = -1},
        {.name = "caf\xc3\xa9", .type_oid = 25, .typmod = -1},
    };
    struct ww_pgo_msg m = {.kind = WW_PGO_RELATION};
    m.relation.relid = 7;
    m.relation.nspname = "My \"Schema\"";
    m.relation.relname = "a\nb";
    m.relation.replident = 'd';
    m.relation.ncols = 3;
    m.relation.cols = cols;
    ww_relcache_update(C, &m);

    const struct ww_relation *r = ww_relcache_get(C, 7);
    cr_assert_str_eq(r->cols[0].name, "we\"ird\\name", "the plain name stays plain");
    cr_assert_str_eq(r->cols[0].json_name, "\"we\\\"ird\\\\name\":");
    cr_assert_eq(r->cols[0].json_name_len, strlen("\"we\\\"ird\\\\name\":"));
    cr_assert_str_eq(r->cols[1].json_name, "\"tab\\there\":");
    cr_assert_str_eq(r->cols[2].json_name, "\"caf\xc3\xa9\":");
    cr_assert_str_eq(r->json_schema_table, "\"schema\":\"My \\\"Schema\\\"\",\"table\":\"a\\nb\"");
}

Test(relcache, update_replaces_and_bumps_generation)
{
    put_rel(10, "public", "t", 'd', "id:23:1,a:25:0");
    put_rel(10, "public", "t", 'd', "id:23:1,a:25:0,b:20:0");
    const struct ww_relation *r = ww_relcache_get(C, 10);
    cr_assert_eq(r->generation, 2);
    cr_assert_eq(r->ncols, 3);
    cr_assert_str_eq(r->cols[2].name, "b");
    cr_assert_eq(r->cols[2].type_oid, 20);

    put_rel(10, "other", "renamed", 'i', "a:25:1,b:20:1");
    r = ww_relcache_get(C, 10);
    cr_assert_eq(r->generation, 3);
    cr_assert_str_eq(r->table, "renamed");
    cr_assert_str_eq(r->json_schema_table, "\"schema\":\"other\",\"table\":\"renamed\"");
    cr_assert_str_eq(keys_of(10), "a,b");
}

Test(relcache, full_identity_has_a_null_key_until_set)
{
    put_rel(20, "public", "f", 'f', "id:23:1,note:25:1");
    const struct ww_relation *r = ww_relcache_get(C, 20);
    cr_assert(r->cols[0].is_identity && r->cols[1].is_identity);
    cr_assert_eq(r->nkeys, 0);
    cr_assert_null(r->key_cols);
    cr_assert_str_eq(keys_of(20), "");

    const char *pk[] = {"id"};
    cr_assert_eq(ww_relcache_set_key(C, 20, pk, 1), 0);
    r = ww_relcache_get(C, 20);
    cr_assert_str_eq(keys_of(20), "id");
    cr_assert(r->cols[0].is_key);
    cr_assert(!r->cols[1].is_key);
    cr_assert(r->cols[1].is_identity, "set_key leaves the identity flags alone");
    cr_assert_eq(r->generation, 2, "set_key changes derived data: generation moves");

    /* A schema change moves id to the second column: the key follows the
     * name across the update. */
    put_rel(20, "public", "f", 'f', "created:1184:1,id:23:1,note:25:1");
    r = ww_relcache_get(C, 20);
    cr_assert_eq(r->generation, 3);
    cr_assert_eq(r->nkeys, 1);
    cr_assert_eq(r->key_cols[0], 1);
    cr_assert_str_eq(keys_of(20), "id");

    /* Dropping the key column leaves a null key, not a stale index. */
    put_rel(20, "public", "f", 'f', "created:1184:1,note:25:1");
    cr_assert_str_eq(keys_of(20), "");
    /* Adding it back finds it again: the names were kept. */
    put_rel(20, "public", "f", 'f', "note:25:1,id:23:1");
    cr_assert_str_eq(keys_of(20), "id");
}

Test(relcache, set_key_overrides_any_identity)
{
    put_rel(30, "public", "t", 'd', "a:23:1,b:23:0,c:23:0,d:23:0");
    cr_assert_str_eq(keys_of(30), "a");

    /* Names in any order, an unknown one ignored: key in column order. */
    const char *names[] = {"d", "nope", "b"};
    cr_assert_eq(ww_relcache_set_key(C, 30, names, 3), 0);
    cr_assert_str_eq(keys_of(30), "b,d");
    cr_assert(!ww_relcache_get(C, 30)->cols[0].is_key);
    cr_assert(ww_relcache_get(C, 30)->cols[0].is_identity);

    /* Kept across an update of a non-FULL relation too. */
    put_rel(30, "public", "t", 'd', "a:23:1,b:23:0,c:23:0,d:23:0,e:23:0");
    cr_assert_str_eq(keys_of(30), "b,d");

    /* No names: a null key, also kept. */
    cr_assert_eq(ww_relcache_set_key(C, 30, NULL, 0), 0);
    cr_assert_str_eq(keys_of(30), "");
    put_rel(30, "public", "t", 'd', "a:23:1,b:23:0");
    cr_assert_str_eq(keys_of(30), "");

    /* Set again: replaces the previous choice. */
    const char *c2[] = {"b", "a"};
    cr_assert_eq(ww_relcache_set_key(C, 30, c2, 2), 0);
    cr_assert_str_eq(keys_of(30), "a,b");
}

Test(relcache, set_key_copies_the_names)
{
    put_rel(40, "public", "t", 'f', "id:23:1,x:23:1");
    char name[] = "id";
    const char *names[] = {name};
    cr_assert_eq(ww_relcache_set_key(C, 40, names, 1), 0);
    name[0] = 'x';
    name[1] = '\0';
    put_rel(40, "public", "t", 'f', "id:23:1,x:23:1");
    cr_assert_str_eq(keys_of(40), "id");
}

Test(relcache, types_by_oid)
{
    cr_assert_null(ww_relcache_type_name(C, 16390));
    struct ww_pgo_msg m = {.kind = WW_PGO_TYPE};
    m.type.oid = 16390;
    m.type.nspname = "public";
    m.type.typname = "mood";
    ww_relcache_update_type(C, &m);
    cr_assert_str_eq(ww_relcache_type_name(C, 16390), "public.mood");

    m.type.oid = 16391;
    m.type.nspname = "";
    m.type.typname = "odd";
    ww_relcache_update_type(C, &m);
    cr_assert_str_eq(ww_relcache_type_name(C, 16391), "pg_catalog.odd");

    /* Renamed type: the same oid takes the new name. */
    m.type.oid = 16390;
    m.type.nspname = "app";
    m.type.typname = "feeling";
    ww_relcache_update_type(C, &m);
    cr_assert_str_eq(ww_relcache_type_name(C, 16390), "app.feeling");
    cr_assert_null(ww_relcache_type_name(C, 16392));

    /* Types and relations live in separate maps. */
    cr_assert_null(ww_relcache_get(C, 16390));
}

/* ---- the type map (ww_relcache_set_type / ww_relcache_type) ------------ */

Test(relcache, type_info_is_copied)
{
    cr_assert_null(ww_relcache_type(C, 16500));
    char name[] = "public.amount";
    struct ww_type_info t = {.oid = 16500,
                             .typtype = 'd',
                             .typcategory = 'N',
                             .base_oid = 1700,
                             .elem_oid = 0,
                             .name = name};
    ww_relcache_set_type(C, &t);
    name[0] = 'X'; /* the cache kept its own copy */
    t.base_oid = 23;
    const struct ww_type_info *got = ww_relcache_type(C, 16500);
    cr_assert_not_null(got);
    cr_assert_eq(got->oid, 16500);
    cr_assert_eq(got->typtype, 'd');
    cr_assert_eq(got->typcategory, 'N');
    cr_assert_eq(got->base_oid, 1700);
    cr_assert_eq(got->elem_oid, 0);
    cr_assert_str_eq(got->name, "public.amount");
    cr_assert_neq(got->name, name);
    cr_assert_str_eq(ww_relcache_type_name(C, 16500), "public.amount");
    cr_assert_null(ww_relcache_type(C, 16501));
    cr_assert_null(ww_relcache_get(C, 16500));
}

Test(relcache, type_info_is_replaced_in_place)
{
    struct ww_type_info t = {
        .oid = 16600, .typtype = 'e', .typcategory = 'E', .name = (char *)"public.mood"};
    ww_relcache_set_type(C, &t);
    const struct ww_type_info *first = ww_relcache_type(C, 16600);
    struct ww_type_info arr = {.oid = 16600,
                               .typtype = 'b',
                               .typcategory = 'A',
                               .elem_oid = 16599,
                               .name = (char *)"public._mood"};
    ww_relcache_set_type(C, &arr);
    const struct ww_type_info *second = ww_relcache_type(C, 16600);
    cr_assert_eq(first, second, "the entry moved");
    cr_assert_eq(second->typcategory, 'A');
    cr_assert_eq(second->elem_oid, 16599);
    cr_assert_str_eq(second->name, "public._mood");
    /* no name at all is allowed */
    struct ww_type_info anon = {.oid = 16600, .typtype = 'c', .typcategory = 'C'};
    ww_relcache_set_type(C, &anon);
    cr_assert_null(ww_relcache_type(C, 16600)->name);
    cr_assert_null(ww_relcache_type_name(C, 16600));
}

/* A Type message names a type but says nothing of its kind: it does not
 * make an entry for ww_relcache_type(); a later Type message renames an
 * entry set from the catalog and keeps what it knew. */
Test(relcache, type_messages_and_type_info_share_the_entry)
{
    struct ww_pgo_msg m = {.kind = WW_PGO_TYPE};
    m.type.oid = 16700;
    m.type.nspname = "ext";
    m.type.typname = "hstore";
    ww_relcache_update_type(C, &m);
    cr_assert_str_eq(ww_relcache_type_name(C, 16700), "ext.hstore");
    cr_assert_null(ww_relcache_type(C, 16700));

    struct ww_type_info t = {
        .oid = 16700, .typtype = 'b', .typcategory = 'U', .name = (char *)"public.hstore"};
    ww_relcache_set_type(C, &t);
    cr_assert_str_eq(ww_relcache_type(C, 16700)->name, "public.hstore");
    cr_assert_str_eq(ww_relcache_type_name(C, 16700), "public.hstore");

    m.type.nspname = "other";
    ww_relcache_update_type(C, &m);
    const struct ww_type_info *got = ww_relcache_type(C, 16700);
    cr_assert_not_null(got);
    cr_assert_eq(got->typcategory, 'U');
    cr_assert_str_eq(got->name, "other.hstore");
}

/* 20,000 types (the map grows many times): every one found with its own
 * contents, pointers taken early still valid. */
Test(relcache, many_types)
{
    enum { N = 20000 };
    const struct ww_type_info *early = NULL;
    for (uint32_t i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "s.t%u", i);
        struct ww_type_info t = {
            .oid = 16384 + i * 7, .typtype = 'd', .typcategory = 'N', .base_oid = i, .name = name};
        ww_relcache_set_type(C, &t);
        if (i == 3)
            early = ww_relcache_type(C, 16384 + 21);
    }
    for (uint32_t i = 0; i < N; i++) {
        const struct ww_type_info *t = ww_relcache_type(C, 16384 + i * 7);
        cr_assert_not_null(t, "type %u missing", i);
        cr_assert_eq(t->base_oid, i);
        char name[32];
        snprintf(name, sizeof name, "s.t%u", i);
        cr_assert_str_eq(t->name, name);
        cr_assert_null(ww_relcache_type(C, 16384 + i * 7 + 1));
    }
    cr_assert_eq(early, ww_relcache_type(C, 16384 + 21));
    cr_assert_str_eq(early->name, "s.t3");
}

Test(relcache, wrong_message_kinds_are_ignored)
{
    struct ww_pgo_msg m = {.kind = WW_PGO_INSERT};
    m.change.relid = 5;
    ww_relcache_update(C, &m);
    ww_relcache_update_type(C, &m);
    cr_assert_null(ww_relcache_get(C, 5));
    cr_assert_null(ww_relcache_type_name(C, 5));
}

/* 40,000 relations with consecutive and scattered oids, each looked up
 * ten times. A linear list would need ~8e9 comparisons here (tens of
 * seconds); the hash map takes a fraction of a second, far below the
 * deadline. */
Test(relcache, many_relations)
{
    enum { N = 40000 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint32_t i = 0; i < N; i++) {
        char table[32];
        uint32_t relid = i % 2 ? 16384 + i : i * 2654435761u;
        snprintf(table, sizeof table, "t%u", i);
        put_rel(relid, "s", table, 'd', "id:23:1,v:25:0");
    }
    for (int round = 0; round < 10; round++) {
        for (uint32_t i = 0; i < N; i++) {
            char table[32];
            uint32_t relid = i % 2 ? 16384 + i : i * 2654435761u;
            snprintf(table, sizeof table, "t%u", i);
            const struct ww_relation *r = ww_relcache_get(C, relid);
            cr_assert_not_null(r, "relid %u", relid);
            cr_assert_eq(r->relid, relid);
            cr_assert_str_eq(r->table, table);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_lt(secs, 5.0, "%d relations took %.2f s", N, secs);
    /* Relids that were never added. */
    cr_assert_null(ww_relcache_get(C, 16384 + N + 1));
    cr_assert_null(ww_relcache_get(C, 16384 + 2));
}

/* Pointers handed out stay valid while other relations are added (the map
 * rehashes, the entries do not move). */
Test(relcache, pointers_survive_growth)
{
    put_rel(1, "public", "first", 'd', "id:23:1");
    const struct ww_relation *first = ww_relcache_get(C, 1);
    for (uint32_t i = 2; i < 3000; i++)
        put_rel(i, "public", "other", 'd', "id:23:1");
    cr_assert_eq(ww_relcache_get(C, 1), first);
    cr_assert_str_eq(first->table, "first");
}

/* The recorded session: every Relation and Type message through the cache. */
Test(relcache, from_the_recorded_fixture)
{
    struct ww_frames f;
    cr_assert_eq(ww_frames_load(WW_FIXTURES_DIR "/pgoutput_v1.frames", &f), 0);
    struct ww_pgo_decoder d;
    ww_pgo_decoder_init(&d);
    uint32_t users = 0, full_t = 0, ri = 0, mood = 0;
    int nrel = 0;
    for (size_t i = 0; i < f.n; i++) {
        struct ww_pgo_msg m;
        cr_assert_eq(ww_pgo_decode(&d, f.frames[i].data, f.frames[i].len, &m), 0, "%s", d.errmsg);
        if (m.kind == WW_PGO_TYPE) {
            ww_relcache_update_type(C, &m);
            mood = m.type.oid;
        } else if (m.kind == WW_PGO_RELATION) {
            ww_relcache_update(C, &m);
            nrel++;
            if (!strcmp(m.relation.relname, "users"))
                users = m.relation.relid;
            else if (!strcmp(m.relation.relname, "full_t"))
                full_t = m.relation.relid;
            else if (!strcmp(m.relation.relname, "ri"))
                ri = m.relation.relid;
        } else if (m.kind == WW_PGO_INSERT || m.kind == WW_PGO_UPDATE || m.kind == WW_PGO_DELETE) {
            const struct ww_relation *r = ww_relcache_get(C, m.change.relid);
            cr_assert_not_null(r, "frame %zu: change before its Relation", i);
            cr_assert_eq(m.change.new_tuple.ncols ? m.change.new_tuple.ncols
                                                  : m.change.old_tuple.ncols,
                         r->ncols, "frame %zu: tuple width matches the relation", i);
        }
    }
    ww_pgo_decoder_free(&d);
    ww_frames_free(&f);
    cr_assert_eq(nrel, 9);

    cr_assert_str_eq(ww_relcache_type_name(C, mood), "public.mood");

    const struct ww_relation *r = ww_relcache_get(C, users);
    cr_assert_not_null(r);
    cr_assert_eq(r->generation, 2, "users was sent twice (ALTER TABLE)");
    cr_assert_eq(r->ncols, 14);
    cr_assert_str_eq(r->cols[13].json_name, "\"extra\":");
    cr_assert_eq(r->cols[12].type_oid, mood);
    cr_assert_str_eq(r->json_schema_table, "\"schema\":\"public\",\"table\":\"users\"");
    cr_assert_str_eq(keys_of(users), "id");

    cr_assert_str_eq(keys_of(full_t), "", "REPLICA IDENTITY FULL: null key by default");
    const char *pk[] = {"id"};
    cr_assert_eq(ww_relcache_set_key(C, full_t, pk, 1), 0);
    cr_assert_str_eq(keys_of(full_t), "id");

    cr_assert_eq(ww_relcache_get(C, ri)->replident, WW_REPLIDENT_INDEX);
    cr_assert_str_eq(keys_of(ri), "a,b");
}
