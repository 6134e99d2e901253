#include "snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "copytext.h"
#include "log.h"

/* Tables above this many 8 kB pages are split, in at least this size. */
#define MIN_CHUNK_PAGES 1024
/* Chunks per worker to aim for, so that workers finish together. */
#define CHUNKS_PER_WORKER 4
#define PROGRESS_TICK_MS 500
#define PROGRESS_LOG_MS 5000

struct ww_snapshot_table {
    uint32_t relid;
    char *schema;
    char *name;
    char relkind;
    char *select_list; /* quoted column names, comma-separated */
    char *rowfilter;   /* the publication's row filter, or NULL */
    int64_t est_rows;
    int64_t pages;
    int chunks_left;
};

struct ww_snapshot_chunk {
    int table;
    int64_t first_page;
    int64_t end_page; /* -1: open-ended (whole table, or the last range) */
};

struct ww_snapshot_worker {
    struct ww_snapshot *s;
    struct ww_pgconn conn;
    char name[32];
    int id;
    int chunk; /* the chunk being read, or -1 */
    bool ready;
};

static void next_chunk(struct ww_snapshot_worker *w);

/* ---- failing and finishing ------------------------------------------- */

static void fail(struct ww_snapshot *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct ww_snapshot *s, const char *fmt, ...)
{
    if (s->finished)
        return;
    s->finished = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
    uv_timer_stop(&s->progress_timer);
    s->progress.running = false;
    if (s->live_line) {
        fputc('\n', stderr);
        s->live_line = false;
        ww_log_set_live_line(false);
    }
    s->done(s, -EIO);
}

static void format_count(uint64_t n, char *out, size_t len)
{
    if (n >= 10000000)
        snprintf(out, len, "%.1fM", (double)n / 1e6);
    else if (n >= 100000)
        snprintf(out, len, "%.0fk", (double)n / 1e3);
    else
        snprintf(out, len, "%" PRIu64, n);
}

void ww_snapshot_format_progress(const struct ww_snapshot *s, uint64_t now_ms, char *out,
                                 size_t outlen)
{
    const struct ww_snapshot_progress *p = &s->progress;
    double secs = (double)(now_ms - p->started_ms) / 1000.0;
    double rate = secs > 0.05 ? (double)p->rows_done / secs : 0;
    char done[32], est[32], eta[32] = "";
    format_count(p->rows_done, done, sizeof done);
    format_count(p->rows_estimated, est, sizeof est);
    int pct = p->rows_estimated ? (int)(100.0 * (double)p->rows_done / (double)p->rows_estimated)
                                : 0;
    if (pct > 100)
        pct = 100;
    if (rate > 0 && p->rows_estimated > p->rows_done) {
        double left = (double)(p->rows_estimated - p->rows_done) / rate;
        if (left >= 3600)
            snprintf(eta, sizeof eta, ", ETA %dh%02dm", (int)left / 3600, (int)left % 3600 / 60);
        else if (left >= 60)
            snprintf(eta, sizeof eta, ", ETA %dm%02ds", (int)left / 60, (int)left % 60);
        else
            snprintf(eta, sizeof eta, ", ETA %ds", (int)left + 1);
    }
    if (p->rows_estimated)
        snprintf(out, outlen, "snapshot: %s/~%s rows (%d%%), %u/%u tables, %.0f rows/s%s", done,
                 est, pct, p->tables_done, p->tables_total, rate, eta);
    else
        snprintf(out, outlen, "snapshot: %s rows, %u/%u tables, %.0f rows/s", done,
                 p->tables_done, p->tables_total, rate);
}

static void show_progress(struct ww_snapshot *s, bool force_log)
{
    char line[256];
    uint64_t now = uv_now(s->loop);
    ww_snapshot_format_progress(s, now, line, sizeof line);
    if (s->tty) {
        fprintf(stderr, "\r\033[K%s", line);
        fflush(stderr);
        s->live_line = true;
        ww_log_set_live_line(true);
    }
    if (force_log || (!s->tty && now - s->last_log_ms >= PROGRESS_LOG_MS)) {
        s->last_log_ms = now;
        if (!s->tty)
            ww_info("snapshot", "%s", line + strlen("snapshot: "));
    }
}

static void on_progress_tick(uv_timer_t *t)
{
    show_progress(t->data, false);
}

static void finish(struct ww_snapshot *s)
{
    if (s->finished)
        return;
    s->finished = true;
    uv_timer_stop(&s->progress_timer);
    s->progress.running = false;
    if (s->live_line) {
        show_progress(s, false);
        fputc('\n', stderr);
        s->live_line = false;
        ww_log_set_live_line(false);
    }
    double secs = (double)(uv_now(s->loop) - s->progress.started_ms) / 1000.0;
    ww_info("snapshot", "complete: %" PRIu64 " rows of %u tables in %.1f s (%.0f rows/s), all "
            "acknowledged by the sink", s->progress.rows_done, s->progress.tables_total, secs,
            secs > 0 ? (double)s->progress.rows_done / secs : 0.0);
    s->done(s, 0);
}

/* ---- rows ---------------------------------------------------------------- */

/* Hand one COPY row of table t to the bridge. Returns keep-reading. */
static bool emit_row(struct ww_snapshot *s, int t, const char *buf, int len, bool last)
{
    const struct ww_relation *rel = ww_relcache_get(s->bridge->rels, s->tables[t].relid);
    if (!rel) {
        fail(s, "snapshot of %s.%s: its columns are unknown", s->tables[t].schema,
             s->tables[t].name);
        return false;
    }
    if (s->values_cap < rel->ncols) {
        free(s->values);
        s->values_cap = rel->ncols;
        s->values = calloc(s->values_cap ? s->values_cap : 1, sizeof *s->values);
        if (!s->values)
            abort();
    }
    if (ww_copy_parse_row(buf, (size_t)len, rel->ncols, s->values, &s->scratch) < 0) {
        fail(s, "snapshot of %s.%s: a COPY row does not have the table's %u columns",
             rel->schema, rel->table, rel->ncols);
        return false;
    }
    struct ww_pgo_tuple row = {rel->ncols, s->values};
    s->progress.rows_done++;
    return ww_bridge_snapshot_row(s->bridge, rel, &row, last);
}

/* Every chunk is read: the held row is the last one. */
static void all_read(struct ww_snapshot *s)
{
    if (s->all_read || s->finished)
        return;
    s->all_read = true;
    if (s->held) {
        emit_row(s, s->held_table, s->held, s->held_len, true);
        PQfreemem(s->held);
        s->held = NULL;
    }
    ww_bridge_snapshot_end(s->bridge);
    ww_snapshot_drained(s);
}

void ww_snapshot_drained(struct ww_snapshot *s)
{
    if (s->all_read && !s->finished && !s->bridge->failed &&
        s->bridge->tracker.inflight_changes == 0)
        finish(s);
}

static bool on_copy_row(struct ww_pgconn *c, char *buf, int len)
{
    struct ww_snapshot_worker *w = c->data;
    struct ww_snapshot *s = w->s;
    if (s->finished) {
        PQfreemem(buf);
        return false;
    }
    bool keep = true;
    if (s->held) {
        keep = emit_row(s, s->held_table, s->held, s->held_len, false);
        PQfreemem(s->held);
    }
    s->held = buf;
    s->held_len = len;
    s->held_table = s->chunks[w->chunk].table;
    return keep && !s->finished;
}

static void on_copy_end(struct ww_pgconn *c, int status)
{
    struct ww_snapshot_worker *w = c->data;
    struct ww_snapshot *s = w->s;
    if (s->finished)
        return;
    struct ww_snapshot_table *t = &s->tables[s->chunks[w->chunk].table];
    if (status < 0) {
        fail(s, "snapshot of table %s.%s failed: %s", t->schema, t->name, c->errmsg);
        return;
    }
    w->chunk = -1;
    if (--t->chunks_left == 0) {
        s->progress.tables_done++;
        ww_debug("snapshot", "table %s.%s read", t->schema, t->name);
    }
    next_chunk(w);
}

static void on_copy_started(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_snapshot_worker *w = arg;
    struct ww_snapshot *s = w->s;
    if (status < 0 && !s->finished) {
        struct ww_snapshot_table *t = &s->tables[s->chunks[w->chunk].table];
        char hint[256] = "";
        if (strstr(c->errmsg, "permission denied"))
            snprintf(hint, sizeof hint, "; fix: GRANT SELECT ON %s.%s TO %s;", t->schema, t->name,
                     PQuser(c->pg));
        fail(s, "snapshot of table %s.%s failed: %s%s", t->schema, t->name, c->errmsg, hint);
    }
}

/* Give worker w the next chunk, or note that it has none left. */
static void next_chunk(struct ww_snapshot_worker *w)
{
    struct ww_snapshot *s = w->s;
    if (s->finished)
        return;
    if (s->next_chunk >= s->nchunks) {
        for (int i = 0; i < s->nworkers; i++)
            if (s->workers[i].chunk >= 0)
                return; /* others still read */
        all_read(s);
        return;
    }
    w->chunk = s->next_chunk++;
    const struct ww_snapshot_chunk *ch = &s->chunks[w->chunk];
    const struct ww_snapshot_table *t = &s->tables[ch->table];
    struct ww_buf q = {0};
    char *ident_s = PQescapeIdentifier(w->conn.pg, t->schema, strlen(t->schema));
    char *ident_t = PQescapeIdentifier(w->conn.pg, t->name, strlen(t->name));
    ww_buf_puts(&q, "COPY (SELECT ");
    ww_buf_append_str(&q, t->select_list);
    ww_buf_append_str(&q, t->relkind == 'p' ? " FROM " : " FROM ONLY ");
    ww_buf_append_str(&q, ident_s ? ident_s : "\"?\"");
    ww_buf_putc(&q, '.');
    ww_buf_append_str(&q, ident_t ? ident_t : "\"?\"");
    PQfreemem(ident_s);
    PQfreemem(ident_t);
    const char *glue = " WHERE ";
    if (ch->first_page > 0 || ch->end_page >= 0) {
        char range[96];
        if (ch->end_page >= 0)
            snprintf(range, sizeof range, "ctid >= '(%" PRId64 ",0)'::tid AND ctid < '(%" PRId64
                     ",0)'::tid", ch->first_page, ch->end_page);
        else
            snprintf(range, sizeof range, "ctid >= '(%" PRId64 ",0)'::tid", ch->first_page);
        ww_buf_append_str(&q, glue);
        ww_buf_append_str(&q, range);
        glue = " AND ";
    }
    if (t->rowfilter) {
        ww_buf_append_str(&q, glue);
        ww_buf_putc(&q, '(');
        ww_buf_append_str(&q, t->rowfilter);
        ww_buf_putc(&q, ')');
    }
    ww_buf_puts(&q, ") TO STDOUT");
    static const struct ww_pgconn_copy_handlers handlers = {on_copy_row, on_copy_end};
    int r = ww_pgconn_start_copy(&w->conn, ww_buf_cstr(&q), &handlers, on_copy_started, w);
    ww_buf_free(&q);
    if (r < 0)
        fail(s, "snapshot of table %s.%s failed: %s", t->schema, t->name, w->conn.errmsg);
}

/* ---- planning ------------------------------------------------------------ */

/* Is schema.table wanted by [source] tables (all when empty)? */
static bool table_configured(const struct ww_config *cfg, const char *schema, const char *table)
{
    if (cfg->ntables == 0)
        return true;
    size_t sl = strlen(schema);
    for (size_t i = 0; i < cfg->ntables; i++) {
        const char *t = cfg->tables[i];
        if (strncmp(t, schema, sl) == 0 && t[sl] == '.' && strcmp(t + sl + 1, table) == 0)
            return true;
    }
    return false;
}

/* Row layout of the catalog query: one row per column, grouped by table. */
enum plan_col {
    PC_OID, PC_SCHEMA, PC_TABLE, PC_RELKIND, PC_REPLIDENT, PC_EST, PC_PAGES, PC_ROWFILTER,
    PC_ATTNAME, PC_TYPID, PC_TYPMOD, PC_IDENTITY,
};

static void add_table(struct ww_snapshot *s, PGconn *pg, PGresult *res, int first, int end)
{
    const char *schema = PQgetvalue(res, first, PC_SCHEMA);
    const char *table = PQgetvalue(res, first, PC_TABLE);
    if (!table_configured(s->cfg, schema, table))
        return;
    int ncols = end - first;
    struct ww_pgo_column *cols = calloc((size_t)(ncols ? ncols : 1), sizeof *cols);
    struct ww_buf list = {0};
    if (!cols)
        abort();
    for (int i = 0; i < ncols; i++) {
        int row = first + i;
        const char *name = PQgetvalue(res, row, PC_ATTNAME);
        cols[i] = (struct ww_pgo_column){
            .is_identity = PQgetvalue(res, row, PC_IDENTITY)[0] == 't',
            .name = name,
            .type_oid = (uint32_t)strtoul(PQgetvalue(res, row, PC_TYPID), NULL, 10),
            .typmod = (int32_t)strtol(PQgetvalue(res, row, PC_TYPMOD), NULL, 10),
        };
        char *ident = PQescapeIdentifier(pg, name, strlen(name));
        if (i)
            ww_buf_puts(&list, ", ");
        ww_buf_append_str(&list, ident ? ident : "\"?\"");
        PQfreemem(ident);
    }
    struct ww_pgo_msg msg = {.kind = WW_PGO_RELATION};
    msg.relation.relid = (uint32_t)strtoul(PQgetvalue(res, first, PC_OID), NULL, 10);
    msg.relation.nspname = schema;
    msg.relation.relname = table;
    msg.relation.replident = PQgetvalue(res, first, PC_REPLIDENT)[0];
    msg.relation.ncols = (uint16_t)ncols;
    msg.relation.cols = cols;
    ww_bridge_add_relation(s->bridge, &msg);
    free(cols);

    struct ww_snapshot_table *tabs = realloc(s->tables, (size_t)(s->ntables + 1) * sizeof *tabs);
    if (!tabs)
        abort();
    s->tables = tabs;
    struct ww_snapshot_table *t = &s->tables[s->ntables++];
    *t = (struct ww_snapshot_table){
        .relid = msg.relation.relid,
        .schema = strdup(schema),
        .name = strdup(table),
        .relkind = PQgetvalue(res, first, PC_RELKIND)[0],
        .select_list = strdup(ncols ? ww_buf_cstr(&list) : "NULL"),
        .rowfilter = PQgetisnull(res, first, PC_ROWFILTER)
                         ? NULL
                         : strdup(PQgetvalue(res, first, PC_ROWFILTER)),
        .est_rows = strtoll(PQgetvalue(res, first, PC_EST), NULL, 10),
        .pages = strtoll(PQgetvalue(res, first, PC_PAGES), NULL, 10),
    };
    ww_buf_free(&list);
}

static void add_chunk(struct ww_snapshot *s, int table, int64_t first, int64_t end)
{
    struct ww_snapshot_chunk *ch = realloc(s->chunks, (size_t)(s->nchunks + 1) * sizeof *ch);
    if (!ch)
        abort();
    s->chunks = ch;
    s->chunks[s->nchunks++] = (struct ww_snapshot_chunk){table, first, end};
    s->tables[table].chunks_left++;
}

static void plan_chunks(struct ww_snapshot *s)
{
    int64_t total_pages = 0;
    for (int i = 0; i < s->ntables; i++)
        total_pages += s->tables[i].pages;
    int64_t chunk = total_pages / (s->nworkers * CHUNKS_PER_WORKER);
    if (chunk < MIN_CHUNK_PAGES)
        chunk = MIN_CHUNK_PAGES;
    for (int i = 0; i < s->ntables; i++) {
        int64_t pages = s->tables[i].pages;
        if (pages <= chunk) {
            add_chunk(s, i, 0, -1);
            continue;
        }
        int64_t p = 0;
        for (; p + chunk < pages; p += chunk)
            add_chunk(s, i, p, p + chunk);
        add_chunk(s, i, p, -1); /* pages added since the size was read */
    }
}

/* Set every idle, ready worker reading, once the plan is made and the
 * bridge knows every type the tables use (catalog lookups pause it). */
static void start_reading(struct ww_snapshot *s)
{
    if (!s->planned || s->finished || s->bridge->waiting_catalog)
        return;
    for (int i = 0; i < s->nworkers; i++)
        if (s->workers[i].ready && s->workers[i].chunk < 0)
            next_chunk(&s->workers[i]);
}

static void on_plan(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_snapshot *s = arg;
    if (s->finished)
        return;
    if (status < 0) {
        fail(s, "reading the published tables for the snapshot failed: %s", c->errmsg);
        return;
    }
    int n = PQntuples(res);
    for (int first = 0; first < n;) {
        int end = first + 1;
        while (end < n && strcmp(PQgetvalue(res, end, PC_OID), PQgetvalue(res, first, PC_OID)) == 0)
            end++;
        add_table(s, c->pg, res, first, end);
        first = end;
    }
    plan_chunks(s);
    s->planned = true;
    for (int i = 0; i < s->ntables; i++)
        s->progress.rows_estimated += (uint64_t)(s->tables[i].est_rows > 0 ? s->tables[i].est_rows
                                                                            : 0);
    s->progress.tables_total = (uint32_t)s->ntables;
    s->progress.started_ms = uv_now(s->loop);
    s->progress.running = true;
    s->last_log_ms = s->progress.started_ms;
    char lsn[WW_LSN_STRLEN];
    ww_info("snapshot", "reading %d table(s), about %" PRIu64 " rows, in %d chunk(s) on %d "
            "connection(s), as of %s", s->ntables, s->progress.rows_estimated, s->nchunks,
            s->nworkers, ww_lsn_format(s->consistent_point, lsn));
    uv_timer_start(&s->progress_timer, on_progress_tick, PROGRESS_TICK_MS, PROGRESS_TICK_MS);
    start_reading(s);
}

static void send_plan_query(struct ww_snapshot *s, struct ww_snapshot_worker *w)
{
    struct ww_buf q = {0};
    bool pg15 = PQserverVersion(w->conn.pg) >= 150000;
    ww_buf_puts(&q,
                "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relreplident, "
                "GREATEST(c.reltuples, 0)::bigint, "
                "(pg_relation_size(c.oid) / current_setting('block_size')::int)::bigint, ");
    ww_buf_append_str(&q, pg15 ? "pt.rowfilter, " : "NULL::text, ");
    ww_buf_puts(&q,
                "a.attname, a.atttypid, a.atttypmod, "
                "CASE c.relreplident WHEN 'f' THEN true WHEN 'n' THEN false "
                "WHEN 'i' THEN a.attnum = ANY (COALESCE((SELECT i.indkey::int2[] FROM pg_index i "
                "WHERE i.indrelid = c.oid AND i.indisreplident LIMIT 1), '{}')) "
                "ELSE a.attnum = ANY (COALESCE((SELECT i.indkey::int2[] FROM pg_index i "
                "WHERE i.indrelid = c.oid AND i.indisprimary LIMIT 1), '{}')) END "
                "FROM pg_publication_tables pt "
                "JOIN pg_namespace n ON n.nspname = pt.schemaname "
                "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename "
                "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
                "AND NOT a.attisdropped ");
    /* Generated columns are not replicated; publication column lists
     * (PostgreSQL 15) restrict the columns. */
    if (PQserverVersion(w->conn.pg) >= 120000)
        ww_buf_puts(&q, "AND a.attgenerated = '' ");
    if (pg15)
        ww_buf_puts(&q, "AND (pt.attnames IS NULL OR a.attname = ANY (pt.attnames)) ");
    ww_buf_puts(&q, "WHERE pt.pubname = ");
    char *lit = PQescapeLiteral(w->conn.pg, s->cfg->publication, strlen(s->cfg->publication));
    ww_buf_append_str(&q, lit ? lit : "NULL");
    PQfreemem(lit);
    ww_buf_puts(&q, " ORDER BY c.oid, a.attnum");
    if (ww_pgconn_query(&w->conn, ww_buf_cstr(&q), on_plan, s) < 0)
        fail(s, "reading the published tables failed: %s", w->conn.errmsg);
    ww_buf_free(&q);
}

/* ---- workers --------------------------------------------------------------- */

static void on_imported(struct ww_pgconn *c, int status, PGresult *res, void *arg)
{
    struct ww_snapshot_worker *w = arg;
    struct ww_snapshot *s = w->s;
    if (s->finished)
        return;
    if (status < 0) {
        fail(s, "snapshot connection %d could not use the exported snapshot: %s", w->id,
             c->errmsg);
        return;
    }
    w->ready = true;
    if (w->id == 0)
        send_plan_query(s, w);
    else
        start_reading(s);
}

static void on_worker_connected(struct ww_pgconn *c, int status)
{
    struct ww_snapshot_worker *w = c->data;
    struct ww_snapshot *s = w->s;
    if (s->finished)
        return;
    if (status < 0) {
        fail(s, "snapshot connection %d cannot connect: %s", w->id, c->errmsg);
        return;
    }
    char sql[256];
    char *lit = PQescapeLiteral(c->pg, s->snapshot_name, strlen(s->snapshot_name));
    snprintf(sql, sizeof sql,
             "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT %s",
             lit ? lit : "''");
    PQfreemem(lit);
    if (ww_pgconn_query(c, sql, on_imported, w) < 0)
        fail(s, "snapshot connection %d: %s", w->id, c->errmsg);
}

int ww_snapshot_start(struct ww_snapshot *s, uv_loop_t *loop, const struct ww_config *cfg,
                      struct ww_bridge *bridge, const struct ww_conninfo *ci,
                      const char *snapshot_name, ww_lsn consistent_point,
                      void (*done)(struct ww_snapshot *s, int status), void *data)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->cfg = cfg;
    s->bridge = bridge;
    s->ci = ci;
    s->done = done;
    s->data = data;
    s->consistent_point = consistent_point;
    snprintf(s->snapshot_name, sizeof s->snapshot_name, "%s", snapshot_name);
    s->tty = isatty(STDERR_FILENO) && ww_log_format_get() == WW_LOG_TEXT;
    uv_timer_init(loop, &s->progress_timer);
    s->progress_timer.data = s;
    s->open_handles = 1;
    s->nworkers = cfg->snapshot_workers > 0 ? cfg->snapshot_workers : 1;
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    if (!s->workers)
        abort();
    for (int i = 0; i < s->nworkers; i++) {
        struct ww_snapshot_worker *w = &s->workers[i];
        w->s = s;
        w->id = i;
        w->chunk = -1;
        snprintf(w->name, sizeof w->name, "snapshot-%d", i);
        ww_pgconn_init(&w->conn, loop, w->name);
        w->conn.data = w;
        s->open_handles++;
    }
    for (int i = 0; i < s->nworkers && !s->finished; i++) {
        struct ww_snapshot_worker *w = &s->workers[i];
        if (ww_pgconn_connect(&w->conn, (const char *const *)ci->keywords,
                              (const char *const *)ci->values, on_worker_connected) < 0) {
            snprintf(s->errmsg, sizeof s->errmsg, "snapshot connection %d: %s", i,
                     w->conn.errmsg);
            return -EIO;
        }
    }
    return 0;
}

void ww_snapshot_resume(struct ww_snapshot *s)
{
    if (s->finished)
        return;
    start_reading(s);
    for (int i = 0; i < s->nworkers; i++)
        ww_pgconn_resume_reading(&s->workers[i].conn);
}

static void on_part_closed(struct ww_snapshot *s)
{
    if (--s->open_handles > 0)
        return;
    if (s->held)
        PQfreemem(s->held);
    s->held = NULL;
    for (int i = 0; i < s->ntables; i++) {
        free(s->tables[i].schema);
        free(s->tables[i].name);
        free(s->tables[i].select_list);
        free(s->tables[i].rowfilter);
    }
    free(s->tables);
    free(s->chunks);
    free(s->workers);
    free(s->values);
    ww_buf_free(&s->scratch);
    if (s->on_closed)
        s->on_closed(s);
}

static void on_worker_closed(struct ww_pgconn *c)
{
    struct ww_snapshot_worker *w = c->data;
    on_part_closed(w->s);
}

static void on_timer_closed(uv_handle_t *h)
{
    on_part_closed(h->data);
}

void ww_snapshot_close(struct ww_snapshot *s, void (*on_closed)(struct ww_snapshot *s))
{
    if (s->closing)
        return;
    s->closing = true;
    s->finished = true;
    s->on_closed = on_closed;
    if (s->live_line) {
        fputc('\n', stderr);
        s->live_line = false;
        ww_log_set_live_line(false);
    }
    for (int i = 0; i < s->nworkers; i++)
        ww_pgconn_close(&s->workers[i].conn, on_worker_closed);
    uv_close((uv_handle_t *)&s->progress_timer, on_timer_closed);
}
