/*
 * `walwire check`, the database half: connect as walwire would, read what
 * the preflight needs in three queries, then prove that a replication
 * connection is allowed. Nothing is changed on the server. check_eval.c
 * judges the results.
 *
 * Sequence (each step starts from the previous one's callback):
 *   connect (regular) -> version -> info -> tables -> close
 *   -> connect (replication=database) -> IDENTIFY_SYSTEM -> close
 * A failure stops the sequence where it is; what was read before is kept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check_db.h"
#include "check_parts.h"

static void start_replication_test(struct ww_check_db *db);

static void put_literal(struct ww_check_db *db, struct ww_buf *b, const char *s)
{
    char *q = PQescapeLiteral(db->conn.pg, s, strlen(s));
    if (!q)
        abort(); /* out of memory: escaping cannot fail otherwise on a live connection */
    ww_buf_append_str(b, q);
    PQfreemem(q);
}

/* Split "schema.table" (or "table": public) as setup.c does. */
static void split_table(const char *qualified, char *schema, size_t len, const char **table)
{
    const char *dot = strchr(qualified, '.');
    if (!dot) {
        snprintf(schema, len, "public");
        *table = qualified;
        return;
    }
    size_t n = (size_t)(dot - qualified);
    if (n >= len)
        n = len - 1;
    memcpy(schema, qualified, n);
    schema[n] = '\0';
    *table = dot + 1;
}

static bool info_true(const struct ww_check_db *db, int col)
{
    return !PQgetisnull(db->info, 0, col) && PQgetvalue(db->info, 0, col)[0] == 't';
}

/* ---- the regular connection ------------------------------------------ */

static void query_failed(struct ww_check_db *db, const char *what)
{
    db->query_what = what;
    snprintf(db->query_error, sizeof db->query_error, "%s", db->conn.errmsg);
    ww_pgconn_close(&db->conn, NULL);
}

/* Keep a copy of res (the callback's is freed when it returns). */
static PGresult *keep(PGresult *res)
{
    PGresult *copy = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
    if (!copy)
        abort();
    return copy;
}

static void send_query(struct ww_check_db *db, struct ww_buf *sql, const char *what,
                       ww_pgconn_result_cb cb)
{
    int r = ww_pgconn_query(&db->conn, ww_buf_cstr(sql), cb, db);
    ww_buf_free(sql);
    if (r < 0)
        query_failed(db, what);
}

/*
 * The tables walwire would stream, one row each (layout: enum
 * ww_check_table_col):
 *   - [source] tables set: those, in the configured order, whether they
 *     exist or are published or not;
 *   - otherwise, the publication exists: the tables it publishes;
 *   - otherwise: every permanent table outside the system schemas (what
 *     CREATE PUBLICATION ... FOR ALL TABLES would publish).
 * The columns after T_PUBLISHED are computed from c (pg_class) and n.
 */
static const char table_columns[] =
    "has_table_privilege(c.oid, 'SELECT'), pg_has_role(c.relowner, 'USAGE'), "
    "c.relreplident, "
    "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), "
    "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident), "
    "(SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a "
    " WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
    " AND a.attstorage IN ('x', 'e')), "
    "quote_ident(n.nspname) || '.' || quote_ident(c.relname) ";

static void on_tables(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_check_db *db = arg;
    if (status < 0) {
        query_failed(db, "tables");
        return;
    }
    db->tables = keep(res);
    ww_pgconn_close(c, NULL);
    start_replication_test(db);
}

static void query_tables(struct ww_check_db *db)
{
    const struct ww_config *cfg = db->cfg;
    struct ww_buf q = {0};
    if (cfg->ntables) {
        ww_buf_puts(&q, "SELECT w.name, c.oid IS NOT NULL, EXISTS (SELECT 1 FROM "
                        "pg_publication_tables p WHERE p.pubname = ");
        put_literal(db, &q, cfg->publication);
        ww_buf_puts(&q, " AND p.schemaname = w.nsp AND p.tablename = w.rel), ");
        ww_buf_append_str(&q, table_columns);
        ww_buf_puts(&q, "FROM (VALUES ");
        for (size_t i = 0; i < cfg->ntables; i++) {
            char schema[256];
            const char *table;
            split_table(cfg->tables[i], schema, sizeof schema, &table);
            ww_buf_append_str(&q, i ? ", (" : "(");
            ww_buf_put_u64(&q, i);
            ww_buf_puts(&q, ", ");
            put_literal(db, &q, cfg->tables[i]);
            ww_buf_puts(&q, ", ");
            put_literal(db, &q, schema);
            ww_buf_puts(&q, ", ");
            put_literal(db, &q, table);
            ww_buf_putc(&q, ')');
        }
        ww_buf_puts(&q, ") AS w(ord, name, nsp, rel) "
                        "LEFT JOIN pg_namespace n ON n.nspname = w.nsp "
                        "LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.rel "
                        "AND c.relkind IN ('r', 'p') ORDER BY w.ord");
    } else if (info_true(db, I_PUB_EXISTS)) {
        ww_buf_puts(&q, "SELECT p.schemaname || '.' || p.tablename, true, true, ");
        ww_buf_append_str(&q, table_columns);
        ww_buf_puts(&q, "FROM pg_publication_tables p "
                        "JOIN pg_namespace n ON n.nspname = p.schemaname "
                        "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename "
                        "WHERE p.pubname = ");
        put_literal(db, &q, cfg->publication);
        ww_buf_puts(&q, " ORDER BY 1");
    } else {
        ww_buf_puts(&q, "SELECT n.nspname || '.' || c.relname, true, false, ");
        ww_buf_append_str(&q, table_columns);
        ww_buf_puts(&q, "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relkind = 'r' AND c.relpersistence = 'p' "
                        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                        "AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1");
    }
    send_query(db, &q, "tables", on_tables);
}

static void on_info(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_check_db *db = arg;
    if (status < 0) {
        query_failed(db, "info");
        return;
    }
    if (PQntuples(res) != 1 || PQnfields(res) != I_NCOLS) {
        snprintf(c->errmsg, sizeof c->errmsg, "no row for the current role in pg_roles");
        query_failed(db, "info");
        return;
    }
    db->info = keep(res);
    query_tables(db);
}

/* Settings, role, publication and slot in one row (enum ww_check_info_col).
 * Columns that PostgreSQL 13 added to pg_replication_slots (wal_status,
 * safe_wal_size) are read through to_jsonb(), which has whatever columns
 * the server's view has. */
static void query_info(struct ww_check_db *db)
{
    struct ww_buf q = {0};
    ww_buf_puts(&q, "SELECT current_setting('wal_level'), "
                    "current_setting('max_replication_slots')::int, "
                    "(SELECT count(*) FROM pg_replication_slots), "
                    "current_setting('max_wal_senders')::int, "
                    "(SELECT count(*) FROM pg_stat_replication), "
                    "current_setting('max_connections')::int, "
                    "current_setting('superuser_reserved_connections')::int "
                    "+ coalesce(current_setting('reserved_connections', true)::int, 0), "
                    /* Client backends; other roles' sessions show a NULL
                     * backend_type to an unprivileged role, so count those with
                     * a database that are not walsenders. */
                    "(SELECT count(*) FROM pg_stat_activity a WHERE a.datid IS NOT NULL "
                    "AND coalesce(a.backend_type, 'client backend') = 'client backend' "
                    "AND a.pid NOT IN (SELECT pid FROM pg_stat_replication)), "
                    "r.rolreplication, r.rolsuper, "
                    "has_database_privilege(current_database(), 'CREATE'), "
                    "p.oid IS NOT NULL, p.puballtables, pg_has_role(p.pubowner, 'USAGE'), "
                    "quote_ident(");
    put_literal(db, &q, db->cfg->publication);
    ww_buf_puts(&q, "), s.j IS NOT NULL, s.j->>'plugin', s.j->>'slot_type', s.j->>'database', "
                    "(s.j->>'active')::boolean, s.j->>'active_pid', "
                    "(SELECT a.application_name FROM pg_stat_activity a "
                    "WHERE a.pid = (s.j->>'active_pid')::int), "
                    "s.j->>'wal_status', "
                    "CASE WHEN pg_is_in_recovery() OR s.j->>'restart_lsn' IS NULL THEN NULL ELSE "
                    "(pg_current_wal_lsn() - (s.j->>'restart_lsn')::pg_lsn)::bigint END, "
                    "s.j->>'safe_wal_size', s.j->>'confirmed_flush_lsn', "
                    "current_setting('max_slot_wal_keep_size', true), "
                    "has_function_privilege(to_regprocedure("
                    "'pg_logical_emit_message(boolean,text,text)')::oid, 'EXECUTE') "
                    "FROM pg_roles r "
                    "LEFT JOIN pg_publication p ON p.pubname = ");
    put_literal(db, &q, db->cfg->publication);
    ww_buf_puts(&q, " LEFT JOIN (SELECT to_jsonb(x) AS j FROM pg_replication_slots x "
                    "WHERE x.slot_name = ");
    put_literal(db, &q, db->cfg->slot);
    ww_buf_puts(&q, ") s ON true WHERE r.rolname = current_user");
    send_query(db, &q, "info", on_info);
}

static void on_version(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_check_db *db = arg;
    if (status < 0) {
        query_failed(db, "version");
        return;
    }
    db->version = keep(res);
    /* Older than 10: no pgoutput, and the next queries would not parse. */
    if (atoi(PQgetvalue(res, 0, V_VERSION_NUM)) < 100000) {
        ww_pgconn_close(c, NULL);
        return;
    }
    query_info(db);
}

static void on_connected(struct ww_pgconn *c, int status)
{
    struct ww_check_db *db = c->data;
    if (status < 0) {
        snprintf(db->conn_error, sizeof db->conn_error, "%s", c->errmsg);
        ww_pgconn_close(c, NULL);
        return;
    }
    struct ww_buf q = {0};
    ww_buf_puts(&q, "SELECT current_setting('server_version_num')::int, "
                    "current_setting('server_version'), current_database(), current_user, "
                    "quote_ident(current_user), quote_ident(current_database())");
    send_query(db, &q, "version", on_version);
}

/* ---- the replication connection -------------------------------------- */

/* IDENTIFY_SYSTEM's row: systemid, timeline, xlogpos, dbname. */
static void on_identified(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_check_db *db = arg;
    if (status < 0 || PQntuples(res) != 1 || PQnfields(res) < 3) {
        db->repl_state = WW_REPL_FAILED;
        snprintf(db->repl_detail, sizeof db->repl_detail, "IDENTIFY_SYSTEM failed: %s",
                 status < 0 ? c->errmsg : "unexpected result");
    } else {
        db->repl_state = WW_REPL_OK;
        snprintf(db->repl_detail, sizeof db->repl_detail,
                 "a walsender accepts the role (system %s, timeline %s, WAL at %s)",
                 PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
    }
    ww_pgconn_close(c, NULL);
}

static void on_repl_connected(struct ww_pgconn *c, int status)
{
    struct ww_check_db *db = c->data;
    if (status < 0) {
        db->repl_state = WW_REPL_FAILED;
        snprintf(db->repl_detail, sizeof db->repl_detail, "%s", c->errmsg);
        ww_pgconn_close(c, NULL);
        return;
    }
    if (ww_pgconn_query(c, "IDENTIFY_SYSTEM", on_identified, db) < 0) {
        db->repl_state = WW_REPL_FAILED;
        snprintf(db->repl_detail, sizeof db->repl_detail, "IDENTIFY_SYSTEM failed: %s", c->errmsg);
        ww_pgconn_close(c, NULL);
    }
}

/* Open a walsender only when it can work: the role may replicate and a
 * walsender is free (otherwise the rows above already say why). */
static void start_replication_test(struct ww_check_db *db)
{
    if (!info_true(db, I_REPLICATION) && !info_true(db, I_SUPERUSER)) {
        db->repl_skip = "the role has no REPLICATION attribute (see role)";
        return;
    }
    if (atoi(PQgetvalue(db->info, 0, I_SENDERS_MAX)) <=
        atoi(PQgetvalue(db->info, 0, I_SENDERS_USED))) {
        db->repl_skip = "no walsender is free (see wal senders)";
        return;
    }
    ww_pgconn_init(&db->repl, db->conn.loop, "check-replication");
    db->repl_init = true;
    db->repl.data = db;
    if (ww_pgconn_connect(&db->repl, (const char *const *)db->ci_repl.keywords,
                          (const char *const *)db->ci_repl.values, on_repl_connected) < 0) {
        db->repl_state = WW_REPL_FAILED;
        snprintf(db->repl_detail, sizeof db->repl_detail, "%s", db->repl.errmsg);
        ww_pgconn_close(&db->repl, NULL);
    }
}

/* ---- entry ------------------------------------------------------------ */

struct ww_check_db *ww_check_db_start(uv_loop_t *loop, const struct ww_config *cfg)
{
    struct ww_check_db *db = calloc(1, sizeof *db);
    if (!db)
        abort();
    db->cfg = cfg;
    db->repl_skip = "an earlier check failed";
    ww_conninfo_redact(cfg->conninfo, db->where, sizeof db->where);
    char err[512];
    if (ww_conninfo_build(cfg->conninfo, cfg->password_file, WW_CONN_REGULAR, &db->ci, err,
                          sizeof err) < 0) {
        snprintf(db->conn_error, sizeof db->conn_error, "[source] conninfo: %s", err);
        return db;
    }
    if (ww_conninfo_build(cfg->conninfo, cfg->password_file, WW_CONN_REPLICATION, &db->ci_repl, err,
                          sizeof err) < 0) {
        ww_conninfo_free(&db->ci);
        snprintf(db->conn_error, sizeof db->conn_error, "[source] conninfo: %s", err);
        return db;
    }
    db->ci_built = true;
    ww_pgconn_init(&db->conn, loop, "check");
    db->conn_init = true;
    db->conn.data = db;
    if (ww_pgconn_connect(&db->conn, (const char *const *)db->ci.keywords,
                          (const char *const *)db->ci.values, on_connected) < 0) {
        snprintf(db->conn_error, sizeof db->conn_error, "%s", db->conn.errmsg);
        ww_pgconn_close(&db->conn, NULL);
    }
    return db;
}

void ww_check_db_finish(struct ww_check_db *db, struct ww_check_report *rep)
{
    ww_check_db_evaluate(db, rep);
    PQclear(db->version);
    PQclear(db->info);
    PQclear(db->tables);
    if (db->ci_built) {
        ww_conninfo_free(&db->ci);
        ww_conninfo_free(&db->ci_repl);
    }
    free(db);
}
