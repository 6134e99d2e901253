#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "json.h"
#include "pg_conn.h"

enum verdict { OK, WARN, FAILED };

struct check_row {
    char name[32];
    enum verdict verdict;
    char detail[512];
};

struct checker {
    const struct ww_config *cfg;
    struct ww_pgconn conn;
    struct check_row rows[32];
    int nrows;
};

static void add(struct checker *ck, const char *name, enum verdict v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(struct checker *ck, const char *name, enum verdict v, const char *fmt, ...)
{
    if (ck->nrows == (int)(sizeof ck->rows / sizeof *ck->rows))
        return;
    struct check_row *row = &ck->rows[ck->nrows++];
    snprintf(row->name, sizeof row->name, "%s", name);
    row->verdict = v;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(row->detail, sizeof row->detail, fmt, ap);
    va_end(ap);
}

static bool is_true(PGresult *res, int col)
{
    return !PQgetisnull(res, 0, col) && PQgetvalue(res, 0, col)[0] == 't';
}

/* Row layout of the query below. */
enum col {
    C_VERSION, C_DB, C_WAL_LEVEL, C_REPL, C_SUPER, C_SLOTS_MAX, C_SLOTS_USED, C_SENDERS_MAX,
    C_SENDERS_USED, C_PUB, C_PUB_TABLES, C_SLOT_PLUGIN, C_SLOT_ACTIVE, C_SLOT_PID,
    C_NO_KEY, C_MISSING,
};

static void on_result(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct checker *ck = arg;
    const struct ww_config *cfg = ck->cfg;
    if (status < 0 || PQntuples(res) != 1) {
        add(ck, "queries", FAILED, "reading the server's state failed: %s", c->errmsg);
        ww_pgconn_close(c, NULL);
        return;
    }
    add(ck, "server", OK, "PostgreSQL %s, database %s", PQgetvalue(res, 0, C_VERSION),
        PQgetvalue(res, 0, C_DB));

    const char *wal_level = PQgetvalue(res, 0, C_WAL_LEVEL);
    if (strcmp(wal_level, "logical") == 0)
        add(ck, "wal_level", OK, "logical");
    else
        add(ck, "wal_level", FAILED,
            "%s; fix: ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL", wal_level);

    if (is_true(res, C_REPL))
        add(ck, "replication role", OK, "%s may replicate", PQuser(c->pg));
    else
        add(ck, "replication role", FAILED, "%s lacks REPLICATION; fix: ALTER ROLE %s REPLICATION;",
            PQuser(c->pg), PQuser(c->pg));

    bool slot_exists = !PQgetisnull(res, 0, C_SLOT_PLUGIN);
    int slots_free = atoi(PQgetvalue(res, 0, C_SLOTS_MAX)) - atoi(PQgetvalue(res, 0, C_SLOTS_USED));
    if (slot_exists || slots_free > 0)
        add(ck, "replication slots", OK, "%d of %s free", slots_free,
            PQgetvalue(res, 0, C_SLOTS_MAX));
    else
        add(ck, "replication slots", FAILED,
            "none free of max_replication_slots = %s; fix: raise max_replication_slots and "
            "restart, or drop an unused slot", PQgetvalue(res, 0, C_SLOTS_MAX));

    int senders_free =
        atoi(PQgetvalue(res, 0, C_SENDERS_MAX)) - atoi(PQgetvalue(res, 0, C_SENDERS_USED));
    if (senders_free > 0)
        add(ck, "wal senders", OK, "%d of %s free", senders_free,
            PQgetvalue(res, 0, C_SENDERS_MAX));
    else
        add(ck, "wal senders", FAILED,
            "none free of max_wal_senders = %s; fix: raise max_wal_senders and restart",
            PQgetvalue(res, 0, C_SENDERS_MAX));

    if (is_true(res, C_PUB))
        add(ck, "publication", OK, "%s covers %s table(s)", cfg->publication,
            PQgetvalue(res, 0, C_PUB_TABLES));
    else if (cfg->create_publication && (cfg->ntables || is_true(res, C_SUPER)))
        add(ck, "publication", OK, "%s will be created at the first run", cfg->publication);
    else
        add(ck, "publication", FAILED,
            "%s does not exist; fix: CREATE PUBLICATION %s FOR TABLE ...;%s", cfg->publication,
            cfg->publication,
            cfg->create_publication ? " (or list [source] tables so walwire can create it)" : "");

    if (!PQgetisnull(res, 0, C_MISSING))
        add(ck, "tables", FAILED, "not found: %s; fix [source] tables",
            PQgetvalue(res, 0, C_MISSING));

    if (!slot_exists)
        add(ck, "slot", cfg->create_slot ? OK : FAILED, "%s does not exist%s", cfg->slot,
            cfg->create_slot ? "; it will be created at the first run"
                             : "; fix: set create_slot = true or create it");
    else if (strcmp(PQgetvalue(res, 0, C_SLOT_PLUGIN), "pgoutput") != 0)
        add(ck, "slot", FAILED, "%s uses plugin %s, not pgoutput; fix: choose another slot name",
            cfg->slot, PQgetvalue(res, 0, C_SLOT_PLUGIN));
    else if (is_true(res, C_SLOT_ACTIVE))
        add(ck, "slot", WARN, "%s is active for PID %s (another walwire?)", cfg->slot,
            PQgetvalue(res, 0, C_SLOT_PID));
    else
        add(ck, "slot", OK, "%s exists (pgoutput, inactive)", cfg->slot);

    if (!PQgetisnull(res, 0, C_NO_KEY))
        add(ck, "keys", WARN,
            "no primary key or replica identity (events get a null key): %s; fix: add a "
            "primary key or ALTER TABLE ... REPLICA IDENTITY FULL",
            PQgetvalue(res, 0, C_NO_KEY));
    else
        add(ck, "keys", OK, "every published table has a key");
    ww_pgconn_close(c, NULL);
}

static void put_literal(struct checker *ck, struct ww_buf *b, const char *s)
{
    char *q = PQescapeLiteral(ck->conn.pg, s, strlen(s));
    ww_buf_append_str(b, q ? q : "NULL");
    PQfreemem(q);
}

static void on_connected(struct ww_pgconn *c, int status)
{
    struct checker *ck = c->data;
    if (status < 0) {
        char where[512];
        ww_conninfo_redact(ck->cfg->conninfo, where, sizeof where);
        add(ck, "connection", FAILED, "%s: %s", where, c->errmsg);
        ww_pgconn_close(c, NULL);
        return;
    }
    struct ww_buf q = {0};
    ww_buf_puts(&q, "SELECT current_setting('server_version'), current_database(), "
                    "current_setting('wal_level'), r.rolreplication OR r.rolsuper, r.rolsuper, "
                    "current_setting('max_replication_slots'), "
                    "(SELECT count(*) FROM pg_replication_slots), "
                    "current_setting('max_wal_senders'), "
                    "(SELECT count(*) FROM pg_stat_replication), "
                    "EXISTS (SELECT 1 FROM pg_publication WHERE pubname = ");
    put_literal(ck, &q, ck->cfg->publication);
    ww_buf_puts(&q, "), (SELECT count(*) FROM pg_publication_tables WHERE pubname = ");
    put_literal(ck, &q, ck->cfg->publication);
    ww_buf_puts(&q, "), s.plugin, s.active, s.active_pid, "
                    "(SELECT string_agg(p.schemaname || '.' || p.tablename, ', ') FROM "
                    "pg_publication_tables p JOIN pg_namespace n ON n.nspname = p.schemaname "
                    "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename "
                    "WHERE p.pubname = ");
    put_literal(ck, &q, ck->cfg->publication);
    ww_buf_puts(&q, " AND c.relreplident IN ('d', 'n') AND NOT EXISTS (SELECT 1 FROM "
                    "pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')), ");
    /* Configured tables that do not exist. */
    if (ck->cfg->ntables) {
        ww_buf_puts(&q, "(SELECT string_agg(t, ', ') FROM unnest(ARRAY[");
        for (size_t i = 0; i < ck->cfg->ntables; i++) {
            if (i)
                ww_buf_putc(&q, ',');
            put_literal(ck, &q, ck->cfg->tables[i]);
        }
        ww_buf_puts(&q, "]::text[]) AS t WHERE to_regclass(quote_ident(split_part(t, '.', 1)) "
                        "|| '.' || quote_ident(split_part(t, '.', 2))) IS NULL) ");
    } else {
        ww_buf_puts(&q, "NULL ");
    }
    ww_buf_puts(&q, "FROM pg_roles r LEFT JOIN pg_replication_slots s ON s.slot_name = ");
    put_literal(ck, &q, ck->cfg->slot);
    ww_buf_puts(&q, " WHERE r.rolname = current_user");
    if (ww_pgconn_query(c, ww_buf_cstr(&q), on_result, ck) < 0) {
        add(ck, "queries", FAILED, "%s", c->errmsg);
        ww_pgconn_close(c, NULL);
    }
    ww_buf_free(&q);
}

static void print_table(const struct checker *ck)
{
    static const char *const names[] = {"ok", "warn", "FAIL"};
    printf("%-18s %-5s %s\n", "CHECK", "", "DETAIL");
    for (int i = 0; i < ck->nrows; i++)
        printf("%-18s %-5s %s\n", ck->rows[i].name, names[ck->rows[i].verdict],
               ck->rows[i].detail);
}

static void print_json(const struct checker *ck, bool ready)
{
    static const char *const names[] = {"ok", "warn", "fail"};
    struct ww_buf b = {0};
    ww_buf_puts(&b, "{\"ready\":");
    ww_buf_append_str(&b, ready ? "true" : "false");
    ww_buf_puts(&b, ",\"checks\":[");
    for (int i = 0; i < ck->nrows; i++) {
        ww_buf_append_str(&b, i ? ",{\"name\":" : "{\"name\":");
        ww_json_string(&b, ck->rows[i].name, strlen(ck->rows[i].name));
        ww_buf_puts(&b, ",\"result\":\"");
        ww_buf_append_str(&b, names[ck->rows[i].verdict]);
        ww_buf_puts(&b, "\",\"detail\":");
        ww_json_string(&b, ck->rows[i].detail, strlen(ck->rows[i].detail));
        ww_buf_putc(&b, '}');
    }
    ww_buf_puts(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    ww_buf_free(&b);
}

int ww_check(const struct ww_config *cfg, bool json)
{
    struct checker *ck = calloc(1, sizeof *ck);
    if (!ck)
        return 1;
    ck->cfg = cfg;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ww_conninfo ci;
    char err[512];
    if (ww_conninfo_build(cfg->conninfo, cfg->password_file, WW_CONN_REGULAR, &ci, err,
                          sizeof err) < 0) {
        add(ck, "conninfo", FAILED, "%s", err);
    } else {
        ww_pgconn_init(&ck->conn, &loop, "check");
        ck->conn.data = ck;
        if (ww_pgconn_connect(&ck->conn, (const char *const *)ci.keywords,
                              (const char *const *)ci.values, on_connected) < 0) {
            add(ck, "connection", FAILED, "%s", ck->conn.errmsg);
            ww_pgconn_close(&ck->conn, NULL);
        }
        uv_run(&loop, UV_RUN_DEFAULT);
        ww_conninfo_free(&ci);
    }
    uv_loop_close(&loop);
    bool ready = true;
    for (int i = 0; i < ck->nrows; i++)
        if (ck->rows[i].verdict == FAILED)
            ready = false;
    if (json)
        print_json(ck, ready);
    else
        print_table(ck);
    free(ck);
    return ready ? 0 : 3;
}
