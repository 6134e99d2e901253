/*
 * `walwire check`: judge what check_db.c read, one row per check, in a
 * fixed order. Every failed row carries the fix; the wording follows the
 * errors that `walwire run` gives for the same problems (setup.c).
 *
 * Verdict rules worth knowing (docs/check.md lists them all):
 *   - fail: walwire would refuse to start or lose data: wal_level,
 *     no free slot or walsender, no REPLICATION, a missing publication it
 *     may not create, missing tables, no SELECT, a slot of another plugin or
 *     database, a lost slot, heartbeat without pg_logical_emit_message.
 *   - warn: walwire runs but something deserves attention: an active slot
 *     (walwire waits for it), wal_status unreserved, few connections,
 *     tables without a key, TOAST-able columns without REPLICA IDENTITY
 *     FULL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check_db.h"

/* What every row needs. */
struct eval {
    const struct ww_check_db *db;
    const struct ww_config *cfg;
    struct ww_check_report *rep;
    const char *user;    /* current_user */
    const char *user_id; /* ... quoted as an identifier */
    const char *dbname;
    const char *pub_id; /* the publication, quoted */
};

static const char *get(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static bool is_true(const PGresult *r, int row, int col)
{
    const char *v = get(r, row, col);
    return v && v[0] == 't';
}

static long long num(const PGresult *r, int row, int col)
{
    const char *v = get(r, row, col);
    return v ? atoll(v) : 0;
}

static const char *info(const struct eval *e, int col)
{
    return get(e->db->info, 0, col);
}

static bool info_true(const struct eval *e, int col)
{
    return is_true(e->db->info, 0, col);
}

static long long info_num(const struct eval *e, int col)
{
    return num(e->db->info, 0, col);
}

/* Names in a row detail: the first few. In a fix: enough to copy. */
#define DETAIL_NAMES 10
#define FIX_NAMES    50

/* ---- server ----------------------------------------------------------- */

static void eval_server(const struct eval *e)
{
    long long v = num(e->db->version, 0, V_VERSION_NUM);
    const char *text = get(e->db->version, 0, V_VERSION);
    if (v < 100000) {
        struct ww_check_row *row = ww_check_add(
            e->rep, "server", WW_CHECK_FAIL,
            "PostgreSQL %s is too old: walwire needs PostgreSQL 10 or later (pgoutput)", text);
        ww_check_fix(row, "upgrade PostgreSQL (walwire is tested on 15)");
        return;
    }
    ww_check_add(e->rep, "server", WW_CHECK_OK, "PostgreSQL %s, database %s%s", text, e->dbname,
                 v / 10000 == 15 ? "" : " (walwire is tested on 15)");
}

static void eval_wal_level(const struct eval *e)
{
    const char *level = info(e, I_WAL_LEVEL);
    if (strcmp(level, "logical") == 0) {
        ww_check_add(e->rep, "wal_level", WW_CHECK_OK, "logical");
        return;
    }
    struct ww_check_row *row =
        ww_check_add(e->rep, "wal_level", WW_CHECK_FAIL,
                     "wal_level is %s; logical decoding needs wal_level = logical", level);
    ww_check_fix(row, "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL");
}

static void eval_slots(const struct eval *e)
{
    long long max = info_num(e, I_SLOTS_MAX), used = info_num(e, I_SLOTS_USED);
    bool exists = info_true(e, I_SLOT_EXISTS);
    long long free_slots = max - used;
    if (exists) {
        ww_check_add(e->rep, "replication slots", WW_CHECK_OK,
                     "%lld of max_replication_slots = %lld free; slot %s exists", free_slots, max,
                     e->cfg->slot);
        return;
    }
    if (free_slots > 0) {
        ww_check_add(e->rep, "replication slots", WW_CHECK_OK,
                     "%lld of max_replication_slots = %lld free; walwire needs 1", free_slots, max);
        return;
    }
    struct ww_check_row *row =
        ww_check_add(e->rep, "replication slots", WW_CHECK_FAIL,
                     "none of max_replication_slots = %lld is free; walwire needs 1 for slot %s",
                     max, e->cfg->slot);
    ww_check_fix(row,
                 "drop an unused slot (SELECT pg_drop_replication_slot(slot_name) FROM "
                 "pg_replication_slots WHERE ...;) or ALTER SYSTEM SET "
                 "max_replication_slots = %lld; then restart PostgreSQL",
                 max + 4);
}

static void eval_senders(const struct eval *e)
{
    long long max = info_num(e, I_SENDERS_MAX), used = info_num(e, I_SENDERS_USED);
    if (max - used > 0) {
        ww_check_add(e->rep, "wal senders", WW_CHECK_OK,
                     "%lld of max_wal_senders = %lld free; walwire needs 1", max - used, max);
        return;
    }
    struct ww_check_row *row = ww_check_add(
        e->rep, "wal senders", WW_CHECK_FAIL,
        "none of max_wal_senders = %lld is free (%lld in use); walwire needs 1", max, used);
    ww_check_fix(row,
                 "ALTER SYSTEM SET max_wal_senders = %lld; then restart PostgreSQL, or "
                 "stop a replication client that is no longer needed",
                 max + 4);
}

/* Regular connections: the control connection and, during a snapshot,
 * one per worker. Only a warning: the count changes all the time. */
static void eval_connections(const struct eval *e)
{
    long long max = info_num(e, I_CONN_MAX);
    long long reserved = info_true(e, I_SUPERUSER) ? 0 : info_num(e, I_CONN_RESERVED);
    long long others = info_num(e, I_CONN_USED) - 1; /* not this check's own */
    long long avail = max - reserved - others;
    int workers = e->cfg->snapshot == WW_SNAPSHOT_NEVER ? 0 : e->cfg->snapshot_workers;
    long long need = 1 + workers;
    if (avail >= need) {
        ww_check_add(e->rep, "connections", WW_CHECK_OK,
                     "%lld of max_connections = %lld free; walwire needs up to %lld "
                     "(1 + %d snapshot worker(s))",
                     avail, max, need, workers);
        return;
    }
    struct ww_check_row *row = ww_check_add(
        e->rep, "connections", WW_CHECK_WARN,
        "only %lld of max_connections = %lld free; walwire needs up to %lld (1 + %d snapshot "
        "worker(s)) and would wait or fail",
        avail < 0 ? 0 : avail, max, need, workers);
    ww_check_fix(row, "lower [source] snapshot_workers, or raise max_connections");
}

/* ---- role ------------------------------------------------------------- */

static void eval_role(const struct eval *e)
{
    if (info_true(e, I_SUPERUSER)) {
        ww_check_add(e->rep, "role", WW_CHECK_OK,
                     "%s is a superuser (REPLICATION is enough; see config/postgres/)", e->user);
        return;
    }
    if (info_true(e, I_REPLICATION)) {
        ww_check_add(e->rep, "role", WW_CHECK_OK, "%s has the REPLICATION attribute", e->user);
        return;
    }
    struct ww_check_row *row = ww_check_add(
        e->rep, "role", WW_CHECK_FAIL,
        "role %s has no REPLICATION attribute: it cannot open a replication connection", e->user);
    ww_check_fix(row, "ALTER ROLE %s REPLICATION; (as a superuser)", e->user_id);
}

static void eval_replication_connection(const struct eval *e)
{
    const struct ww_check_db *db = e->db;
    switch (db->repl_state) {
    case WW_REPL_NOT_TRIED:
        ww_check_add(e->rep, "replication connection", WW_CHECK_SKIP, "not tried: %s",
                     db->repl_skip);
        return;
    case WW_REPL_OK:
        ww_check_add(e->rep, "replication connection", WW_CHECK_OK, "%s", db->repl_detail);
        return;
    case WW_REPL_FAILED: {
        struct ww_check_row *row = ww_check_add(e->rep, "replication connection", WW_CHECK_FAIL,
                                                "cannot open a replication connection (%s): %s",
                                                db->where, db->repl_detail);
        ww_check_fix(row,
                     "allow it in pg_hba.conf: a logical replication connection matches "
                     "the lines for database %s (not the 'replication' keyword), e.g. "
                     "\"host %s %s 10.0.0.0/8 scram-sha-256\"; then SELECT "
                     "pg_reload_conf();",
                     e->dbname, e->dbname, e->user);
        return;
    }
    }
}

/* ---- publication and tables ------------------------------------------- */

/* The configured tables as a comma-separated list for SQL. */
static char *configured_list(const struct ww_config *cfg)
{
    struct ww_check_names l = {0};
    for (size_t i = 0; i < cfg->ntables; i++)
        ww_check_names_add(&l, "%s", cfg->tables[i]);
    char *s = ww_check_names_join(&l, FIX_NAMES);
    ww_check_names_free(&l);
    return s;
}

static void eval_publication(const struct eval *e)
{
    const struct ww_config *cfg = e->cfg;
    const PGresult *t = e->db->tables;
    int n = t ? PQntuples(t) : 0;
    struct ww_check_row *row;

    if (info_true(e, I_PUB_EXISTS)) {
        struct ww_check_names pub = {0};
        for (int i = 0; i < n; i++)
            if (is_true(t, i, T_PUBLISHED))
                ww_check_names_add(&pub, "%s", get(t, i, T_NAME));
        const char *all = info_true(e, I_PUB_ALL) ? " (FOR ALL TABLES)" : "";
        if (cfg->ntables) {
            ww_check_add(e->rep, "publication", WW_CHECK_OK,
                         "%s exists%s; %zu of the %zu configured table(s) are in it",
                         cfg->publication, all, pub.n, cfg->ntables);
        } else if (pub.n == 0) {
            row = ww_check_add(e->rep, "publication", WW_CHECK_WARN,
                               "%s exists%s but publishes no table: walwire would stream "
                               "nothing",
                               cfg->publication, all);
            ww_check_fix(row,
                         "ALTER PUBLICATION %s ADD TABLE ...; or list the tables in "
                         "[source] tables (walwire then adds them)",
                         e->pub_id);
        } else {
            char *names = ww_check_names_join(&pub, DETAIL_NAMES);
            ww_check_add(e->rep, "publication", WW_CHECK_OK,
                         "%s exists%s, publishes %zu "
                         "table(s): %s",
                         cfg->publication, all, pub.n, names);
            free(names);
        }
        ww_check_names_free(&pub);
        return;
    }

    if (!cfg->create_publication) {
        row = ww_check_add(e->rep, "publication", WW_CHECK_FAIL,
                           "%s does not exist and [source] create_publication is false",
                           cfg->publication);
        if (cfg->ntables) {
            char *list = configured_list(cfg);
            ww_check_fix(row,
                         "as the tables' owner run CREATE PUBLICATION %s FOR TABLE %s; "
                         "or set create_publication = true",
                         e->pub_id, list);
            free(list);
        } else {
            ww_check_fix(row,
                         "CREATE PUBLICATION %s FOR TABLE ...; (or FOR ALL TABLES as a "
                         "superuser), or set create_publication = true",
                         e->pub_id);
        }
        return;
    }
    if (cfg->ntables == 0) {
        if (info_true(e, I_SUPERUSER)) {
            ww_check_add(e->rep, "publication", WW_CHECK_OK,
                         "%s does not exist; walwire will create it FOR ALL TABLES (%d "
                         "table(s) today)",
                         cfg->publication, n);
        } else {
            row = ww_check_add(e->rep, "publication", WW_CHECK_FAIL,
                               "%s does not exist, and creating it FOR ALL TABLES needs a "
                               "superuser; %s is not one",
                               cfg->publication, e->user);
            ww_check_fix(row,
                         "list the tables in [source] tables, or run CREATE PUBLICATION "
                         "%s FOR ALL TABLES; as a superuser",
                         e->pub_id);
        }
        return;
    }
    /* CREATE PUBLICATION ... FOR TABLE: CREATE on the database, and
     * ownership of every table. */
    struct ww_check_names not_owned = {0};
    for (int i = 0; i < n; i++)
        if (is_true(t, i, T_EXISTS) && !is_true(t, i, T_OWNER))
            ww_check_names_add(&not_owned, "%s", get(t, i, T_NAME));
    bool may_create = info_true(e, I_DB_CREATE);
    if (may_create && not_owned.n == 0) {
        ww_check_add(e->rep, "publication", WW_CHECK_OK,
                     "%s does not exist; walwire will create it FOR TABLE the %zu configured "
                     "table(s)",
                     cfg->publication, cfg->ntables);
    } else {
        char *names = ww_check_names_join(&not_owned, DETAIL_NAMES);
        row = ww_check_add(
            e->rep, "publication", WW_CHECK_FAIL,
            "%s does not exist and %s cannot create it:%s%s%s%s", cfg->publication, e->user,
            may_create ? "" : " no CREATE privilege on database ", may_create ? "" : e->dbname,
            not_owned.n ? (may_create ? " it does not own " : "; not the owner of ") : "",
            not_owned.n ? names : "");
        free(names);
        char *list = configured_list(cfg);
        ww_check_fix(row,
                     "as the tables' owner (or a superuser) run CREATE PUBLICATION %s FOR "
                     "TABLE %s;",
                     e->pub_id, list);
        free(list);
    }
    ww_check_names_free(&not_owned);
}

static void eval_tables(const struct eval *e)
{
    const struct ww_config *cfg = e->cfg;
    const PGresult *t = e->db->tables;
    if (cfg->ntables == 0) {
        ww_check_add(e->rep, "tables", WW_CHECK_OK,
                     "[source] tables is empty: walwire streams every table of publication %s "
                     "(%d today)",
                     cfg->publication, PQntuples(t));
        return;
    }
    bool pub_exists = info_true(e, I_PUB_EXISTS);
    bool pub_owner = info_true(e, I_PUB_OWNER);
    struct ww_check_names missing = {0}, unpublished = {0}, unpublished_id = {0}, cannot_add = {0};
    for (int i = 0; i < PQntuples(t); i++) {
        const char *name = get(t, i, T_NAME);
        if (!is_true(t, i, T_EXISTS)) {
            ww_check_names_add(&missing, "%s", name);
        } else if (pub_exists && !is_true(t, i, T_PUBLISHED)) {
            ww_check_names_add(&unpublished, "%s", name);
            ww_check_names_add(&unpublished_id, "%s", get(t, i, T_IDENT));
            if (!pub_owner || !is_true(t, i, T_OWNER))
                ww_check_names_add(&cannot_add, "%s", name);
        }
    }
    bool add_ok = cfg->create_publication && cannot_add.n == 0;
    if (missing.n == 0 && (unpublished.n == 0 || add_ok)) {
        if (unpublished.n) {
            char *names = ww_check_names_join(&unpublished, DETAIL_NAMES);
            ww_check_add(e->rep, "tables", WW_CHECK_OK,
                         "all %zu configured table(s) exist; walwire will add %s to publication "
                         "%s at the first run",
                         cfg->ntables, names, cfg->publication);
            free(names);
        } else {
            ww_check_add(e->rep, "tables", WW_CHECK_OK, "all %zu configured table(s) exist%s",
                         cfg->ntables, pub_exists ? " and are published" : "");
        }
    } else {
        char *gone = ww_check_names_join(&missing, DETAIL_NAMES);
        char *out = ww_check_names_join(&unpublished, DETAIL_NAMES);
        char *out_sql = ww_check_names_join(&unpublished_id, FIX_NAMES);
        bool unpub_fails = unpublished.n && !add_ok;
        struct ww_buf d = {0};
        if (missing.n) {
            ww_buf_puts(&d, "not found: ");
            ww_buf_append_str(&d, gone);
        }
        if (unpub_fails) {
            if (missing.n)
                ww_buf_puts(&d, "; ");
            ww_buf_puts(&d, "not in publication ");
            ww_buf_append_str(&d, cfg->publication);
            ww_buf_puts(&d, ": ");
            ww_buf_append_str(&d, out);
            if (cfg->create_publication) {
                ww_buf_puts(&d, " (and ");
                ww_buf_append_str(&d, e->user);
                ww_buf_puts(&d, " may not add them: that needs owning the publication and the "
                                "tables)");
            } else {
                ww_buf_puts(&d, " (and [source] create_publication is false)");
            }
        }
        struct ww_check_row *row =
            ww_check_add(e->rep, "tables", WW_CHECK_FAIL, "%s", ww_buf_cstr(&d));
        ww_buf_free(&d);
        if (missing.n && unpub_fails)
            ww_check_fix(row,
                         "correct [source] tables (schema.table) or create the missing "
                         "tables; and as the owner run ALTER PUBLICATION %s ADD TABLE %s;",
                         e->pub_id, out_sql);
        else if (missing.n)
            ww_check_fix(row, "correct [source] tables (schema.table) or create the missing "
                              "tables");
        else
            ww_check_fix(row, "as the owner run ALTER PUBLICATION %s ADD TABLE %s;", e->pub_id,
                         out_sql);
        free(gone);
        free(out);
        free(out_sql);
    }
    ww_check_names_free(&missing);
    ww_check_names_free(&unpublished);
    ww_check_names_free(&unpublished_id);
    ww_check_names_free(&cannot_add);
}

static void eval_select(const struct eval *e)
{
    const PGresult *t = e->db->tables;
    struct ww_check_names denied = {0}, denied_id = {0};
    int existing = 0;
    for (int i = 0; i < PQntuples(t); i++) {
        if (!is_true(t, i, T_EXISTS))
            continue;
        existing++;
        if (!is_true(t, i, T_SELECT)) {
            ww_check_names_add(&denied, "%s", get(t, i, T_NAME));
            ww_check_names_add(&denied_id, "%s", get(t, i, T_IDENT));
        }
    }
    if (denied.n == 0) {
        ww_check_add(e->rep, "select", WW_CHECK_OK, "%s may read all %d table(s)", e->user,
                     existing);
    } else {
        bool never = e->cfg->snapshot == WW_SNAPSHOT_NEVER;
        char *names = ww_check_names_join(&denied, DETAIL_NAMES);
        char *sql = ww_check_names_join(&denied_id, FIX_NAMES);
        struct ww_check_row *row =
            ww_check_add(e->rep, "select", never ? WW_CHECK_WARN : WW_CHECK_FAIL,
                         "%s has no SELECT on %s (needed for the snapshot%s)", e->user, names,
                         never ? "; snapshot = never takes none" : "");
        ww_check_fix(row, "GRANT SELECT ON %s TO %s;", sql, e->user_id);
        free(names);
        free(sql);
    }
    ww_check_names_free(&denied);
    ww_check_names_free(&denied_id);
}

/* ---- slot ------------------------------------------------------------- */

static void eval_slot(const struct eval *e)
{
    const struct ww_config *cfg = e->cfg;
    const char *slot = cfg->slot;
    struct ww_check_row *row;
    if (!info_true(e, I_SLOT_EXISTS)) {
        if (cfg->create_slot || cfg->snapshot == WW_SNAPSHOT_INITIAL_ONLY) {
            ww_check_add(e->rep, "slot", WW_CHECK_OK,
                         "%s does not exist; walwire will create it (pgoutput) at the first run",
                         slot);
        } else {
            row = ww_check_add(e->rep, "slot", WW_CHECK_FAIL,
                               "%s does not exist and [source] create_slot is false", slot);
            ww_check_fix(row,
                         "SELECT pg_create_logical_replication_slot('%s', 'pgoutput'); "
                         "or set create_slot = true",
                         slot);
        }
        return;
    }
    const char *type = info(e, I_SLOT_TYPE), *plugin = info(e, I_SLOT_PLUGIN);
    const char *slot_db = info(e, I_SLOT_DB);
    if (!type || strcmp(type, "logical") != 0) {
        row = ww_check_add(e->rep, "slot", WW_CHECK_FAIL, "%s is a physical slot", slot);
        ww_check_fix(row,
                     "choose another [source] slot name, or drop it with SELECT "
                     "pg_drop_replication_slot('%s');",
                     slot);
        return;
    }
    if (!plugin || strcmp(plugin, "pgoutput") != 0) {
        row = ww_check_add(e->rep, "slot", WW_CHECK_FAIL,
                           "%s uses the output plugin %s, walwire needs pgoutput", slot,
                           plugin ? plugin : "(none)");
        ww_check_fix(row,
                     "choose another [source] slot name, or drop it with SELECT "
                     "pg_drop_replication_slot('%s');",
                     slot);
        return;
    }
    if (!slot_db || strcmp(slot_db, e->dbname) != 0) {
        row = ww_check_add(e->rep, "slot", WW_CHECK_FAIL, "%s belongs to database %s, not %s", slot,
                           slot_db ? slot_db : "(none)", e->dbname);
        ww_check_fix(row, "choose another [source] slot name (slot names are per server)");
        return;
    }
    const char *confirmed = info(e, I_SLOT_CONFIRMED);
    if (info_true(e, I_SLOT_ACTIVE)) {
        const char *pid = info(e, I_SLOT_PID), *app = info(e, I_SLOT_APP);
        bool walwire = app && strncmp(app, "walwire", 7) == 0;
        row = ww_check_add(e->rep, "slot", WW_CHECK_WARN,
                           "%s is active for PID %s (application_name %s%s): walwire will wait "
                           "until that process releases it",
                           slot, pid ? pid : "?", app ? app : "not visible",
                           walwire ? ": another walwire?" : "");
        ww_check_fix(row,
                     "if that process should not use this slot: SELECT "
                     "pg_terminate_backend(%s); or choose another [source] slot name",
                     pid ? pid : "<pid>");
        return;
    }
    ww_check_add(e->rep, "slot", WW_CHECK_OK, "%s exists (pgoutput, inactive), confirmed up to %s",
                 slot, confirmed ? confirmed : "?");
}

static void eval_slot_wal(const struct eval *e)
{
    const char *slot = e->cfg->slot;
    const char *keep = info(e, I_KEEP_SIZE);
    char keep_text[64];
    if (!keep)
        snprintf(keep_text, sizeof keep_text, "not available before PostgreSQL 13");
    else
        snprintf(keep_text, sizeof keep_text, "%s%s", keep,
                 strcmp(keep, "-1") == 0 ? " (unlimited)" : "");
    if (!info_true(e, I_SLOT_EXISTS)) {
        ww_check_add(e->rep, "slot wal", WW_CHECK_OK, "no slot yet; max_slot_wal_keep_size = %s",
                     keep_text);
        return;
    }
    const char *status = info(e, I_SLOT_WAL_STATUS);
    char retained[32] = "an unknown amount", safe[64] = "";
    if (info(e, I_SLOT_RETAINED))
        ww_check_format_bytes((uint64_t)info_num(e, I_SLOT_RETAINED), retained, sizeof retained);
    if (info(e, I_SLOT_SAFE)) {
        long long s = info_num(e, I_SLOT_SAFE);
        char b[32];
        ww_check_format_bytes(s > 0 ? (uint64_t)s : 0, b, sizeof b);
        snprintf(safe, sizeof safe, "; %s more before it is invalidated", b);
    }
    struct ww_check_row *row;
    if (status && strcmp(status, "lost") == 0) {
        row = ww_check_add(
            e->rep, "slot wal", WW_CHECK_FAIL,
            "%s is invalidated (wal_status lost): the WAL it needed was removed "
            "(max_slot_wal_keep_size = %s), so changes made while walwire was behind are "
            "gone: the stream has a gap that only a new snapshot closes",
            slot, keep_text);
        ww_check_fix(row,
                     "SELECT pg_drop_replication_slot('%s'); then start walwire with "
                     "snapshot = initial (or always): it creates a new slot and takes a "
                     "new snapshot",
                     slot);
        return;
    }
    if (status && strcmp(status, "unreserved") == 0) {
        row = ww_check_add(e->rep, "slot wal", WW_CHECK_WARN,
                           "%s retains %s of WAL and is past max_slot_wal_keep_size = %s "
                           "(wal_status unreserved): it will be invalidated at a coming "
                           "checkpoint unless walwire catches up%s",
                           slot, retained, keep_text, safe);
        ww_check_fix(row, "start walwire now, or raise max_slot_wal_keep_size (then SELECT "
                          "pg_reload_conf();)");
        return;
    }
    ww_check_add(e->rep, "slot wal", WW_CHECK_OK,
                 "%s retains %s of WAL (wal_status %s); max_slot_wal_keep_size = %s%s", slot,
                 retained, status ? status : "not available before PostgreSQL 13", keep_text, safe);
}

/* ---- replica identity -------------------------------------------------- */

static bool has_key(const PGresult *t, int i)
{
    char ident = get(t, i, T_REPLIDENT)[0];
    switch (ident) {
    case 'f':
        return true; /* FULL: every column */
    case 'i':
        return is_true(t, i, T_HAS_RI); /* USING INDEX, if it still exists */
    case 'd':
        return is_true(t, i, T_HAS_PK); /* DEFAULT: the primary key */
    default:
        return false; /* NOTHING */
    }
}

static void eval_keys(const struct eval *e)
{
    const PGresult *t = e->db->tables;
    struct ww_check_names keyless = {0}, keyless_id = {0};
    int existing = 0;
    for (int i = 0; i < PQntuples(t); i++) {
        if (!is_true(t, i, T_EXISTS))
            continue;
        existing++;
        if (!has_key(t, i)) {
            ww_check_names_add(&keyless, "%s", get(t, i, T_NAME));
            ww_check_names_add(&keyless_id, "%s", get(t, i, T_IDENT));
        }
    }
    if (keyless.n == 0) {
        ww_check_add(e->rep, "keys", WW_CHECK_OK,
                     "every table (%d) has a primary key or a replica identity", existing);
    } else {
        char *names = ww_check_names_join(&keyless, DETAIL_NAMES);
        struct ww_check_row *row = ww_check_add(
            e->rep, "keys", WW_CHECK_WARN,
            "no primary key or replica identity: %s; their events get a null key, and UPDATE "
            "and DELETE on them fail at the source while they are published",
            names);
        ww_check_fix(row, "add a primary key, or ALTER TABLE %s REPLICA IDENTITY FULL;%s",
                     keyless_id.names[0], keyless.n > 1 ? " (likewise for the others)" : "");
        free(names);
    }
    ww_check_names_free(&keyless);
    ww_check_names_free(&keyless_id);
}

static void eval_toast(const struct eval *e)
{
    const PGresult *t = e->db->tables;
    struct ww_check_names toast = {0}, toast_id = {0};
    for (int i = 0; i < PQntuples(t); i++) {
        const char *cols = get(t, i, T_TOAST_COLS);
        if (!is_true(t, i, T_EXISTS) || !cols || get(t, i, T_REPLIDENT)[0] == 'f')
            continue;
        ww_check_names_add(&toast, "%s (%s)", get(t, i, T_NAME), cols);
        ww_check_names_add(&toast_id, "%s", get(t, i, T_IDENT));
    }
    if (toast.n == 0) {
        ww_check_add(e->rep, "toast", WW_CHECK_OK,
                     "no TOAST-able column outside tables with REPLICA IDENTITY FULL");
    } else {
        char *names = ww_check_names_join(&toast, DETAIL_NAMES);
        struct ww_check_row *row = ww_check_add(
            e->rep, "toast", WW_CHECK_WARN,
            "TOAST-able columns without REPLICA IDENTITY FULL: %s; an UPDATE that leaves such a "
            "value unchanged sends the placeholder __debezium_unavailable_value for it (named "
            "in source.unchanged_columns)",
            names);
        ww_check_fix(row,
                     "if consumers need every column of every update: ALTER TABLE %s "
                     "REPLICA IDENTITY FULL;%s (more WAL per update)",
                     toast_id.names[0], toast.n > 1 ? " (likewise for the others)" : "");
        free(names);
    }
    ww_check_names_free(&toast);
    ww_check_names_free(&toast_id);
}

/* ---- heartbeat -------------------------------------------------------- */

static void eval_heartbeat(const struct eval *e)
{
    uint64_t ms = e->cfg->heartbeat_interval_ms;
    bool allowed = info_true(e, I_EMIT_MESSAGE);
    if (ms == 0) {
        ww_check_add(e->rep, "heartbeat", WW_CHECK_OK,
                     "off ([source] heartbeat_interval = 0); %s %s run pg_logical_emit_message",
                     e->user, allowed ? "may" : "may not");
        return;
    }
    char every[32];
    if (ms % 1000 == 0)
        snprintf(every, sizeof every, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(every, sizeof every, "%llums", (unsigned long long)ms);
    if (allowed) {
        ww_check_add(e->rep, "heartbeat", WW_CHECK_OK,
                     "every %s; %s may run pg_logical_emit_message", every, e->user);
        return;
    }
    struct ww_check_row *row = ww_check_add(
        e->rep, "heartbeat", WW_CHECK_FAIL,
        "[source] heartbeat_interval = %s needs pg_logical_emit_message(boolean, text, text), "
        "which %s may not execute",
        every, e->user);
    ww_check_fix(row,
                 "GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO "
                 "%s; or set heartbeat_interval = 0",
                 e->user_id);
}

/* ---- entry ------------------------------------------------------------ */

void ww_check_db_evaluate(const struct ww_check_db *db, struct ww_check_report *rep)
{
    struct ww_check_row *row;
    if (db->conn_error[0]) {
        row = ww_check_add(rep, "connection", WW_CHECK_FAIL,
                           "cannot connect to PostgreSQL (%s): %s", db->where, db->conn_error);
        ww_check_fix(row, "check [source] conninfo (host, port, dbname, user), the password "
                          "(PGPASSWORD, [source] password_file or ~/.pgpass) and pg_hba.conf");
        return;
    }
    struct eval e = {.db = db, .cfg = db->cfg, .rep = rep};
    if (db->version) {
        e.dbname = get(db->version, 0, V_DATABASE);
        e.user = get(db->version, 0, V_USER);
        e.user_id = get(db->version, 0, V_USER_IDENT);
        ww_check_add(rep, "connection", WW_CHECK_OK, "connected (%s) as role %s", db->where,
                     e.user);
        eval_server(&e);
    }
    if (db->info) {
        e.pub_id = info(&e, I_PUB_IDENT);
        eval_wal_level(&e);
        eval_slots(&e);
        eval_senders(&e);
        eval_connections(&e);
        eval_role(&e);
        eval_replication_connection(&e);
        eval_publication(&e);
        if (db->tables) {
            eval_tables(&e);
            eval_select(&e);
        }
        eval_slot(&e);
        eval_slot_wal(&e);
        if (db->tables) {
            eval_keys(&e);
            eval_toast(&e);
        }
        eval_heartbeat(&e);
    }
    if (db->query_error[0]) {
        row = ww_check_add(rep, "queries", WW_CHECK_FAIL, "reading the server's %s failed: %s",
                           db->query_what, db->query_error);
        ww_check_fix(row, "run walwire check with a role that may read the system catalogs; if "
                          "it can, report this as a bug");
    }
}
