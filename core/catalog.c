#include "catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

static void put_oid_array(struct ww_buf *q, const uint32_t *oids, size_t n)
{
    ww_buf_puts(q, "'{");
    for (size_t i = 0; i < n; i++) {
        if (i)
            ww_buf_putc(q, ',');
        ww_buf_put_u64(q, oids[i]);
    }
    ww_buf_puts(q, "}'::oid[]");
}

static void finish_one(struct ww_catalog *c)
{
    if (--c->pending > 0 || c->closing)
        return;
    free(c->types);
    free(c->relids);
    c->types = c->relids = NULL;
    c->busy = false;
    ww_catalog_kick(c); /* more may have been queued meanwhile */
}

/* Row layout: oid, typtype, typcategory, typbasetype, typelem, schema.name. */
static void on_types(void *arg, int status, PGresult *res, const char *errmsg)
{
    struct ww_catalog *c = arg;
    if (c->closing || status == -ECANCELED)
        return;
    if (status < 0) {
        ww_warn("catalog", "looking up %zu type(s) failed: %s; their values are written as "
                "text", c->ntypes, errmsg);
    } else {
        int n = PQntuples(res);
        struct ww_type_info *infos = calloc((size_t)(n ? n : 1), sizeof *infos);
        if (!infos)
            abort();
        for (int i = 0; i < n; i++) {
            infos[i] = (struct ww_type_info){
                .oid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10),
                .typtype = PQgetvalue(res, i, 1)[0],
                .typcategory = PQgetvalue(res, i, 2)[0],
                .base_oid = (uint32_t)strtoul(PQgetvalue(res, i, 3), NULL, 10),
                .elem_oid = (uint32_t)strtoul(PQgetvalue(res, i, 4), NULL, 10),
                .name = PQgetvalue(res, i, 5),
            };
            if (infos[i].typcategory != 'A')
                infos[i].elem_oid = 0; /* typelem also marks fixed-length subscripting */
        }
        /* A domain's base through nested domains. */
        for (int i = 0; i < n; i++) {
            for (int hops = 0; infos[i].typtype == 'd' && hops < 32; hops++) {
                int j = 0;
                while (j < n && !(infos[j].oid == infos[i].base_oid && infos[j].typtype == 'd'))
                    j++;
                if (j == n)
                    break;
                infos[i].base_oid = infos[j].base_oid;
            }
        }
        for (int i = 0; i < n; i++)
            ww_relcache_set_type(c->bridge->rels, &infos[i]);
        free(infos);
        ww_debug("catalog", "learnt %d type(s)", n);
    }
    finish_one(c);
}

/* Row layout: relid, primary key columns joined by \x1f (NULL: none). */
static void on_keys(void *arg, int status, PGresult *res, const char *errmsg)
{
    struct ww_catalog *c = arg;
    if (c->closing || status == -ECANCELED)
        return;
    if (status < 0) {
        ww_warn("catalog", "looking up primary keys failed: %s; those tables get a null key",
                errmsg);
    } else {
        for (int i = 0; i < PQntuples(res); i++) {
            uint32_t relid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
            const char *cols[64];
            char buf[4096];
            size_t n = 0;
            if (!PQgetisnull(res, i, 1)) {
                snprintf(buf, sizeof buf, "%s", PQgetvalue(res, i, 1));
                for (char *p = buf; *p && n < 64;) {
                    cols[n++] = p;
                    p += strcspn(p, "\x1f");
                    if (*p)
                        *p++ = '\0';
                }
            }
            ww_bridge_set_primary_key(c->bridge, relid, cols, n);
        }
    }
    finish_one(c);
}

void ww_catalog_init(struct ww_catalog *c, struct ww_bridge *b, struct ww_control *ctl)
{
    memset(c, 0, sizeof *c);
    c->bridge = b;
    c->ctl = ctl;
}

void ww_catalog_kick(struct ww_catalog *c)
{
    if (c->busy || c->closing)
        return;
    ww_bridge_take_lookups(c->bridge, &c->types, &c->ntypes, &c->relids, &c->nrelids);
    if (c->ntypes == 0 && c->nrelids == 0) {
        free(c->types);
        free(c->relids);
        c->types = c->relids = NULL;
        ww_bridge_catalog_done(c->bridge);
        return;
    }
    c->busy = true;
    c->pending = 0;
    struct ww_buf q = {0};
    if (c->ntypes) {
        /* The types, and every type they refer to (array elements, domain
         * bases), transitively. */
        ww_buf_puts(&q, "WITH RECURSIVE ty(oid) AS (SELECT unnest(");
        put_oid_array(&q, c->types, c->ntypes);
        ww_buf_puts(&q, ") UNION SELECT v.x FROM ty JOIN pg_type p ON p.oid = ty.oid "
                        "CROSS JOIN LATERAL (VALUES (p.typelem), (p.typbasetype)) AS v(x) "
                        "WHERE v.x <> 0) "
                        "SELECT p.oid, p.typtype, p.typcategory, p.typbasetype, p.typelem, "
                        "n.nspname || '.' || p.typname FROM ty JOIN pg_type p ON p.oid = ty.oid "
                        "JOIN pg_namespace n ON n.oid = p.typnamespace");
        c->pending++;
        ww_control_query(c->ctl, ww_buf_cstr(&q), on_types, c);
    }
    if (c->nrelids) {
        ww_buf_reset(&q);
        ww_buf_puts(&q, "SELECT r.relid, (SELECT string_agg(a.attname, E'\\x1f' ORDER BY k.ord) "
                        "FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) "
                        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) "
                        "FROM unnest(");
        put_oid_array(&q, c->relids, c->nrelids);
        ww_buf_puts(&q, ") AS r(relid) LEFT JOIN pg_index i ON i.indrelid = r.relid AND "
                        "i.indisprimary");
        c->pending++;
        ww_control_query(c->ctl, ww_buf_cstr(&q), on_keys, c);
    }
    ww_buf_free(&q);
}

void ww_catalog_stop(struct ww_catalog *c)
{
    c->closing = true;
    free(c->types);
    free(c->relids);
    c->types = c->relids = NULL;
}
