/*
 * The database half of `walwire check` (internal to check_db.c and
 * check_eval.c): what the queries found, and the column layout of each
 * query. check_db.c runs the queries; check_eval.c turns their results
 * into rows.
 *
 * Queries, in order, on one regular connection:
 *   version  server version, database, role
 *   info     settings, role attributes, publication, slot (one row)
 *   tables   one row per table walwire would stream (see check_db.c)
 * then, on a replication connection (replication=database), IDENTIFY_SYSTEM:
 * proves that pg_hba.conf lets the role open a walsender.
 *
 * Results are copies (PQcopyResult) owned by struct ww_check_db; NULL
 * when the query did not run.
 */
#ifndef WW_CHECK_DB_H
#define WW_CHECK_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "check_report.h"
#include "config.h"
#include "pg_conn.h"

/* Columns of the version query. */
enum ww_check_version_col {
    V_VERSION_NUM, /* server_version_num: 150020 */
    V_VERSION,     /* server_version: "15.20 (Debian 15.20-0+deb12u1)" */
    V_DATABASE,    /* current_database() */
    V_USER,        /* current_user */
    V_USER_IDENT,  /* quote_ident(current_user), for fixes */
    V_DB_IDENT,    /* quote_ident(current_database()) */
};

/* Columns of the info query (one row). Columns of PostgreSQL 13+ are read
 * through to_jsonb()/current_setting(..., true), so they are NULL on older
 * servers instead of failing the query. */
enum ww_check_info_col {
    I_WAL_LEVEL,       /* wal_level */
    I_SLOTS_MAX,       /* max_replication_slots */
    I_SLOTS_USED,      /* count(pg_replication_slots) */
    I_SENDERS_MAX,     /* max_wal_senders */
    I_SENDERS_USED,    /* count(pg_stat_replication) */
    I_CONN_MAX,        /* max_connections */
    I_CONN_RESERVED,   /* superuser_reserved_connections (+ reserved_connections, 16+) */
    I_CONN_USED,       /* client backends, this one included */
    I_REPLICATION,     /* rolreplication */
    I_SUPERUSER,       /* rolsuper */
    I_DB_CREATE,       /* CREATE on the database (needed for CREATE PUBLICATION) */
    I_PUB_EXISTS,      /* the publication exists */
    I_PUB_ALL,         /* ... FOR ALL TABLES */
    I_PUB_OWNER,       /* the role has the privileges of its owner */
    I_PUB_IDENT,       /* quote_ident(publication) */
    I_SLOT_EXISTS,     /* the slot exists */
    I_SLOT_PLUGIN,     /* its output plugin (NULL for a physical slot) */
    I_SLOT_TYPE,       /* physical | logical */
    I_SLOT_DB,         /* its database */
    I_SLOT_ACTIVE,     /* a walsender uses it */
    I_SLOT_PID,        /* ... that walsender's PID */
    I_SLOT_APP,        /* ... its application_name (if visible) */
    I_SLOT_WAL_STATUS, /* reserved | extended | unreserved | lost (13+) */
    I_SLOT_RETAINED,   /* pg_current_wal_lsn() - restart_lsn, bytes */
    I_SLOT_SAFE,       /* safe_wal_size, bytes (13+; NULL when unlimited) */
    I_SLOT_CONFIRMED,  /* confirmed_flush_lsn */
    I_KEEP_SIZE,       /* max_slot_wal_keep_size (13+), e.g. "-1" or "10GB" */
    I_EMIT_MESSAGE,    /* EXECUTE on pg_logical_emit_message(boolean,text,text) */
    I_NCOLS,
};

/* Columns of the tables query. */
enum ww_check_table_col {
    T_NAME,       /* schema.table as configured, or as published */
    T_EXISTS,     /* the table exists */
    T_PUBLISHED,  /* it is in the publication */
    T_SELECT,     /* the role may SELECT from it */
    T_OWNER,      /* the role has the privileges of its owner */
    T_REPLIDENT,  /* relreplident: d(efault) n(othing) f(ull) i(ndex) */
    T_HAS_PK,     /* it has a primary key */
    T_HAS_RI,     /* it has a replica identity index */
    T_TOAST_COLS, /* columns stored out of line (attstorage x/e), or NULL */
    T_IDENT,      /* quote_ident(schema) || '.' || quote_ident(table), for fixes */
    T_NCOLS,
};

enum ww_check_repl {
    WW_REPL_NOT_TRIED, /* repl_skip says why */
    WW_REPL_OK,        /* repl_detail: what IDENTIFY_SYSTEM said */
    WW_REPL_FAILED,    /* repl_detail: libpq's message */
};

struct ww_check_db {
    const struct ww_config *cfg;
    char where[512]; /* the conninfo without the password */

    struct ww_conninfo ci, ci_repl;
    bool ci_built;
    struct ww_pgconn conn;
    struct ww_pgconn repl;
    bool conn_init, repl_init;

    /* Set when connecting failed; then nothing else ran. */
    char conn_error[768];
    /* Set when a query failed; the results before it are kept. */
    char query_error[768];
    const char *query_what; /* "version", "info", "tables" */

    PGresult *version, *info, *tables;

    enum ww_check_repl repl_state;
    const char *repl_skip;
    char repl_detail[768];
};

/* Turn what db found into rows of rep, in a fixed order. */
void ww_check_db_evaluate(const struct ww_check_db *db, struct ww_check_report *rep);

#endif
