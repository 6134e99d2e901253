#include "setup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

enum step {
    STEP_INFO,        /* settings, role, publication, slot */
    STEP_CREATE_PUB,  /* CREATE PUBLICATION */
    STEP_TABLES,      /* the configured tables: exist? published? */
    STEP_ADD_TABLES,  /* ALTER PUBLICATION ... ADD TABLE */
    STEP_KEYS,        /* replica identity and primary keys of published tables */
    STEP_DONE,
};

static void run_step(struct ww_setup *st);

static void finish(struct ww_setup *st, int status)
{
    st->step = STEP_DONE;
    st->done(st, status);
}

static void fail(struct ww_setup *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct ww_setup *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->errmsg, sizeof st->errmsg, fmt, ap);
    va_end(ap);
    finish(st, -EINVAL);
}

/* Append s as an SQL literal / identifier (the connection knows the
 * server's quoting rules). */
static void put_literal(struct ww_setup *st, struct ww_buf *b, const char *s)
{
    char *q = PQescapeLiteral(st->conn->pg, s, strlen(s));
    ww_buf_append_str(b, q ? q : "NULL");
    PQfreemem(q);
}

static void put_ident(struct ww_setup *st, struct ww_buf *b, const char *s)
{
    char *q = PQescapeIdentifier(st->conn->pg, s, strlen(s));
    ww_buf_append_str(b, q ? q : "\"\"");
    PQfreemem(q);
}

/* "schema.table" -> "schema"."table" (config validated the form). */
static void put_table(struct ww_setup *st, struct ww_buf *b, const char *qualified)
{
    const char *dot = strchr(qualified, '.');
    char schema[256];
    size_t n = dot ? (size_t)(dot - qualified) : 0;
    if (n >= sizeof schema)
        n = sizeof schema - 1;
    memcpy(schema, qualified, n);
    schema[n] = '\0';
    put_ident(st, b, dot ? schema : "public");
    ww_buf_putc(b, '.');
    put_ident(st, b, dot ? dot + 1 : qualified);
}

static void send_sql(struct ww_setup *st, struct ww_buf *sql, ww_pgconn_result_cb cb)
{
    int r = ww_pgconn_query(st->conn, ww_buf_cstr(sql), cb, st);
    ww_buf_free(sql);
    if (r < 0)
        fail(st, "query failed: %s", st->conn->errmsg);
}

static bool is_true(PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

/* ---- step: server, role, publication and slot ------------------------- */

static void on_info(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_setup *st = arg;
    const struct ww_config *cfg = st->cfg;
    if (status < 0) {
        fail(st, "reading the server's settings failed: %s", c->errmsg);
        return;
    }
    if (PQntuples(res) != 1) {
        fail(st, "reading the server's settings returned no row for the current role");
        return;
    }
    const char *wal_level = PQgetvalue(res, 0, 0);
    snprintf(st->db_name, sizeof st->db_name, "%s", PQgetvalue(res, 0, 1));
    st->server_version_num = atoi(PQgetvalue(res, 0, 2));
    bool can_replicate = is_true(res, 0, 3);
    bool is_super = is_true(res, 0, 4);
    bool pub_exists = is_true(res, 0, 5);
    const char *slot_plugin = PQgetisnull(res, 0, 6) ? NULL : PQgetvalue(res, 0, 6);
    const char *slot_db = PQgetvalue(res, 0, 7);
    st->slot_active = is_true(res, 0, 8);
    st->slot_active_pid = PQgetisnull(res, 0, 9) ? 0 : atoi(PQgetvalue(res, 0, 9));
    const char *slot_type = PQgetvalue(res, 0, 11);
    const char *wal_status = PQgetvalue(res, 0, 12);

    if (st->server_version_num < 100000) {
        fail(st, "PostgreSQL %d.%d is too old: walwire needs PostgreSQL 10 or later "
                 "(pgoutput)", st->server_version_num / 10000, st->server_version_num / 100 % 100);
        return;
    }
    if (strcmp(wal_level, "logical") != 0) {
        fail(st, "wal_level is %s; walwire needs logical: run ALTER SYSTEM SET wal_level = "
                 "logical; and restart PostgreSQL", wal_level);
        return;
    }
    if (!can_replicate) {
        fail(st, "role %s has no REPLICATION attribute: run ALTER ROLE %s REPLICATION; as a "
                 "superuser", PQuser(c->pg), PQuser(c->pg));
        return;
    }
    st->slot_exists = slot_plugin != NULL;
    if (st->slot_exists) {
        if (strcmp(slot_type, "logical") != 0) {
            fail(st, "replication slot %s is a physical slot; choose another [source] slot "
                     "name or drop it with SELECT pg_drop_replication_slot('%s');",
                 cfg->slot, cfg->slot);
            return;
        }
        if (strcmp(slot_plugin, "pgoutput") != 0) {
            fail(st, "replication slot %s uses the output plugin %s, walwire needs pgoutput: "
                     "choose another [source] slot name or drop it with "
                     "SELECT pg_drop_replication_slot('%s');",
                 cfg->slot, slot_plugin, cfg->slot);
            return;
        }
        if (strcmp(slot_db, st->db_name) != 0) {
            fail(st, "replication slot %s belongs to database %s, not %s: choose another "
                     "[source] slot name", cfg->slot, slot_db, st->db_name);
            return;
        }
        if (strcmp(wal_status, "lost") == 0) {
            fail(st, "replication slot %s is invalidated (wal_status lost): the WAL it "
                     "needed was removed, so changes were lost. Drop it with SELECT "
                     "pg_drop_replication_slot('%s'); and start again to take a new snapshot",
                 cfg->slot, cfg->slot);
            return;
        }
        if (ww_lsn_parse(PQgetvalue(res, 0, 10), &st->slot_confirmed_flush) < 0)
            st->slot_confirmed_flush = 0;
    } else if (!cfg->create_slot && cfg->snapshot != WW_SNAPSHOT_INITIAL_ONLY) {
        fail(st, "replication slot %s does not exist and [source] create_slot is false: "
                 "create it with SELECT pg_create_logical_replication_slot('%s', 'pgoutput'); "
                 "or set create_slot = true", cfg->slot, cfg->slot);
        return;
    }

    if (!pub_exists) {
        if (!cfg->create_publication) {
            fail(st, "publication %s does not exist and [source] create_publication is false: "
                     "create it with CREATE PUBLICATION %s FOR TABLE ...; or set "
                     "create_publication = true", cfg->publication, cfg->publication);
            return;
        }
        if (cfg->ntables == 0 && !is_super) {
            fail(st, "publication %s does not exist, and creating it FOR ALL TABLES needs a "
                     "superuser: list the tables in [source] tables, or create the "
                     "publication as a superuser", cfg->publication);
            return;
        }
        st->step = STEP_CREATE_PUB;
    } else {
        st->step = STEP_TABLES;
    }
    run_step(st);
}

static void query_info(struct ww_setup *st)
{
    struct ww_buf q = {0};
    ww_buf_puts(&q, "SELECT current_setting('wal_level'), current_database(), "
                    "current_setting('server_version_num')::int, "
                    "r.rolreplication OR r.rolsuper, r.rolsuper, "
                    "EXISTS (SELECT 1 FROM pg_publication WHERE pubname = ");
    put_literal(st, &q, st->cfg->publication);
    ww_buf_puts(&q, "), s.plugin, s.database, s.active, s.active_pid, "
                    "s.confirmed_flush_lsn::text, s.slot_type, s.wal_status "
                    "FROM pg_roles r LEFT JOIN pg_replication_slots s ON s.slot_name = ");
    put_literal(st, &q, st->cfg->slot);
    ww_buf_puts(&q, " WHERE r.rolname = current_user");
    send_sql(st, &q, on_info);
}

/* ---- step: create the publication ------------------------------------ */

static void on_created_pub(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_setup *st = arg;
    if (status < 0) {
        fail(st, "creating publication %s failed: %s", st->cfg->publication, c->errmsg);
        return;
    }
    ww_info("setup", "created publication %s", st->cfg->publication);
    st->step = STEP_TABLES;
    run_step(st);
}

static void create_pub(struct ww_setup *st)
{
    struct ww_buf q = {0};
    ww_buf_puts(&q, "CREATE PUBLICATION ");
    put_ident(st, &q, st->cfg->publication);
    if (st->cfg->ntables == 0) {
        ww_buf_puts(&q, " FOR ALL TABLES");
    } else {
        ww_buf_puts(&q, " FOR TABLE ");
        for (size_t i = 0; i < st->cfg->ntables; i++) {
            if (i)
                ww_buf_puts(&q, ", ");
            put_table(st, &q, st->cfg->tables[i]);
        }
    }
    send_sql(st, &q, on_created_pub);
}

/* ---- step: configured tables exist and are published ----------------- */

/* Row layout: want (text), exists (bool), published (bool). */
static void on_tables(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_setup *st = arg;
    if (status < 0) {
        fail(st, "checking the configured tables failed: %s", c->errmsg);
        return;
    }
    ww_buf_reset(&st->missing_tables);
    size_t nmissing = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *want = PQgetvalue(res, i, 0);
        if (!is_true(res, i, 1)) {
            fail(st, "[source] tables: table %s does not exist (or the role cannot see it)",
                 want);
            return;
        }
        if (!is_true(res, i, 2)) {
            if (!st->cfg->create_publication) {
                fail(st, "table %s is not in publication %s and [source] create_publication "
                         "is false: run ALTER PUBLICATION %s ADD TABLE %s;",
                     want, st->cfg->publication, st->cfg->publication, want);
                return;
            }
            if (nmissing++)
                ww_buf_puts(&st->missing_tables, ", ");
            put_table(st, &st->missing_tables, want);
        }
    }
    st->step = nmissing ? STEP_ADD_TABLES : STEP_KEYS;
    run_step(st);
}

static void query_tables(struct ww_setup *st)
{
    if (st->cfg->ntables == 0) {
        st->step = STEP_KEYS;
        run_step(st);
        return;
    }
    /* For each configured "schema.table": does it exist, is it published? */
    struct ww_buf q = {0};
    ww_buf_puts(&q, "SELECT w.want, c.oid IS NOT NULL, EXISTS (SELECT 1 FROM "
                    "pg_publication_tables p WHERE p.pubname = ");
    put_literal(st, &q, st->cfg->publication);
    ww_buf_puts(&q, " AND p.schemaname = w.nsp AND p.tablename = w.rel) FROM (VALUES ");
    for (size_t i = 0; i < st->cfg->ntables; i++) {
        const char *t = st->cfg->tables[i];
        const char *dot = strchr(t, '.');
        char schema[256];
        size_t n = dot ? (size_t)(dot - t) : 0;
        if (n >= sizeof schema)
            n = sizeof schema - 1;
        memcpy(schema, t, n);
        schema[n] = '\0';
        ww_buf_append_str(&q, i ? ", (" : "(");
        put_literal(st, &q, t);
        ww_buf_puts(&q, ", ");
        put_literal(st, &q, dot ? schema : "public");
        ww_buf_puts(&q, ", ");
        put_literal(st, &q, dot ? dot + 1 : t);
        ww_buf_puts(&q, ")");
    }
    ww_buf_puts(&q, ") AS w(want, nsp, rel) LEFT JOIN pg_namespace n ON n.nspname = w.nsp "
                    "LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.rel "
                    "AND c.relkind IN ('r', 'p')");
    send_sql(st, &q, on_tables);
}

static void on_added_tables(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_setup *st = arg;
    if (status < 0) {
        fail(st, "adding tables to publication %s failed: %s", st->cfg->publication,
             c->errmsg);
        return;
    }
    ww_info("setup", "added %s to publication %s", ww_buf_cstr(&st->missing_tables),
            st->cfg->publication);
    st->step = STEP_KEYS;
    run_step(st);
}

static void add_tables(struct ww_setup *st)
{
    struct ww_buf q = {0};
    ww_buf_puts(&q, "ALTER PUBLICATION ");
    put_ident(st, &q, st->cfg->publication);
    ww_buf_puts(&q, " ADD TABLE ");
    ww_buf_append(&q, st->missing_tables.data, st->missing_tables.len);
    send_sql(st, &q, on_added_tables);
}

/* ---- step: keys of the published tables ------------------------------- */

/* Row layout: schema, table, relreplident, primary key columns (text[] in
 * key order, NULL without a primary key). */
static void on_keys(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_setup *st = arg;
    if (status < 0) {
        fail(st, "reading the published tables' keys failed: %s", c->errmsg);
        return;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        const char *schema = PQgetvalue(res, i, 0);
        const char *table = PQgetvalue(res, i, 1);
        char ident = PQgetvalue(res, i, 2)[0];
        bool has_pk = !PQgetisnull(res, i, 3);
        if (!has_pk && (ident == 'd' || ident == 'n')) {
            ww_warn("setup",
                    "table %s.%s has no primary key and REPLICA IDENTITY %s: its events get a "
                    "null key%s; add a primary key, or ALTER TABLE %s.%s REPLICA IDENTITY FULL",
                    schema, table, ident == 'd' ? "DEFAULT" : "NOTHING",
                    ident == 'n' ? " and deletes carry no old values" : "", schema, table);
        }
        if (ident != 'f' || !has_pk)
            continue;
        /* A text[] literal of plain column names: {a,b} or {"a b",c}. */
        struct ww_full_key *k;
        struct ww_full_key *nk = realloc(st->full_keys, (st->nfull_keys + 1) * sizeof *nk);
        if (!nk)
            abort();
        st->full_keys = nk;
        k = &st->full_keys[st->nfull_keys++];
        k->schema = strdup(schema);
        k->table = strdup(table);
        k->cols = NULL;
        k->ncols = 0;
        const char *p = PQgetvalue(res, i, 4); /* columns joined by '\x1f' */
        while (*p) {
            size_t len = strcspn(p, "\x1f");
            char **nc = realloc(k->cols, (k->ncols + 1) * sizeof *nc);
            if (!nc)
                abort();
            k->cols = nc;
            k->cols[k->ncols++] = strndup(p, len);
            p += len;
            if (*p)
                p++;
        }
    }
    finish(st, 0);
}

static void query_keys(struct ww_setup *st)
{
    struct ww_buf q = {0};
    ww_buf_puts(&q,
                "SELECT n.nspname, c.relname, c.relreplident, pk.conname, "
                "(SELECT string_agg(a.attname, E'\\x1f' ORDER BY k.ord) FROM "
                "unnest(pk.conkey) WITH ORDINALITY AS k(attnum, ord) JOIN pg_attribute a ON "
                "a.attrelid = c.oid AND a.attnum = k.attnum) "
                "FROM pg_publication_tables p "
                "JOIN pg_namespace n ON n.nspname = p.schemaname "
                "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename "
                "LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p' "
                "WHERE p.pubname = ");
    put_literal(st, &q, st->cfg->publication);
    send_sql(st, &q, on_keys);
}

/* ---- driver ----------------------------------------------------------- */

static void run_step(struct ww_setup *st)
{
    switch (st->step) {
    case STEP_INFO: query_info(st); break;
    case STEP_CREATE_PUB: create_pub(st); break;
    case STEP_TABLES: query_tables(st); break;
    case STEP_ADD_TABLES: add_tables(st); break;
    case STEP_KEYS: query_keys(st); break;
    default: break;
    }
}

void ww_setup_run(struct ww_setup *st, const struct ww_config *cfg, struct ww_pgconn *conn,
                  void (*done)(struct ww_setup *st, int status))
{
    ww_setup_free(st);
    st->cfg = cfg;
    st->conn = conn;
    st->done = done;
    st->step = STEP_INFO;
    st->errmsg[0] = '\0';
    run_step(st);
}

void ww_setup_free(struct ww_setup *st)
{
    for (size_t i = 0; i < st->nfull_keys; i++) {
        free(st->full_keys[i].schema);
        free(st->full_keys[i].table);
        for (size_t j = 0; j < st->full_keys[i].ncols; j++)
            free(st->full_keys[i].cols[j]);
        free(st->full_keys[i].cols);
    }
    free(st->full_keys);
    st->full_keys = NULL;
    st->nfull_keys = 0;
    ww_buf_free(&st->missing_tables);
}

const struct ww_full_key *ww_setup_full_key(const struct ww_setup *st, const char *schema,
                                            const char *table)
{
    for (size_t i = 0; i < st->nfull_keys; i++)
        if (strcmp(st->full_keys[i].schema, schema) == 0 &&
            strcmp(st->full_keys[i].table, table) == 0)
            return &st->full_keys[i];
    return NULL;
}

/* ---- the slot --------------------------------------------------------- */

/* Row layout of CREATE_REPLICATION_SLOT: slot_name, consistent_point,
 * snapshot_name, output_plugin. */
static void on_slot_created(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_slot_request *rq = arg;
    if (status < 0) {
        snprintf(rq->errmsg, sizeof rq->errmsg, "creating the replication slot failed: %s",
                 c->errmsg);
        rq->cb(rq, status);
        return;
    }
    if (!res || PQntuples(res) != 1 || PQnfields(res) < 3 ||
        ww_lsn_parse(PQgetvalue(res, 0, 1), &rq->consistent_point) < 0) {
        snprintf(rq->errmsg, sizeof rq->errmsg,
                 "CREATE_REPLICATION_SLOT returned an unexpected result");
        rq->cb(rq, -EPROTO);
        return;
    }
    snprintf(rq->snapshot_name, sizeof rq->snapshot_name, "%s",
             PQgetisnull(res, 0, 2) ? "" : PQgetvalue(res, 0, 2));
    rq->cb(rq, 0);
}

int ww_setup_create_slot(struct ww_pgconn *conn, const char *slot, bool export_snapshot,
                         struct ww_slot_request *rq)
{
    char *ident = PQescapeIdentifier(conn->pg, slot, strlen(slot));
    if (!ident) {
        snprintf(rq->errmsg, sizeof rq->errmsg, "bad slot name");
        return -EINVAL;
    }
    char sql[512];
    /* The pre-15 syntax, which PostgreSQL 15 still accepts. */
    snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput %s", ident,
             export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
    PQfreemem(ident);
    rq->snapshot_name[0] = '\0';
    rq->consistent_point = 0;
    int r = ww_pgconn_query(conn, sql, on_slot_created, rq);
    if (r < 0)
        snprintf(rq->errmsg, sizeof rq->errmsg, "creating the replication slot failed: %s",
                 conn->errmsg);
    return r;
}
