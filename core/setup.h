/*
 * Source setup, run before streaming on a regular (non-replication)
 * control connection: reads the server's settings and the slot's state,
 * checks what walwire needs (wal_level = logical, the REPLICATION
 * attribute, the publication and the configured tables, the slot's plugin
 * and database), creates the publication when missing and allowed, and
 * learns the primary keys of REPLICA IDENTITY FULL tables (their event key).
 *
 * The replication slot itself is created on the replication connection
 * (ww_setup_create_slot), because only there can it export a snapshot.
 *
 * Errors: status < 0 and errmsg holds one line that says what is wrong and
 * how to fix it, e.g. "wal_level is replica; walwire needs logical: run
 * ALTER SYSTEM SET wal_level = logical and restart PostgreSQL".
 *
 * Thread: the loop thread.
 */
#ifndef WW_SETUP_H
#define WW_SETUP_H

#include <stdbool.h>

#include "buf.h"
#include "config.h"
#include "lsn.h"
#include "pg_conn.h"

/* The primary key of a REPLICA IDENTITY FULL table. */
struct ww_full_key {
    char *schema;
    char *table;
    char **cols;
    size_t ncols;
};

struct ww_setup {
    const struct ww_config *cfg;
    struct ww_pgconn *conn;
    void (*done)(struct ww_setup *st, int status);
    void *data; /* the owner's */
    int step;
    struct ww_buf missing_tables; /* configured tables to add to the publication */

    /* Results. */
    char db_name[128];
    int server_version_num;
    bool slot_exists;
    bool slot_active;
    int slot_active_pid;
    ww_lsn slot_confirmed_flush;
    struct ww_full_key *full_keys;
    size_t nfull_keys;
    char errmsg[1024];
};

/* Run the checks on conn (connected, idle); done(st, 0 or < 0) follows. */
void ww_setup_run(struct ww_setup *st, const struct ww_config *cfg, struct ww_pgconn *conn,
                  void (*done)(struct ww_setup *st, int status));
void ww_setup_free(struct ww_setup *st);

/* The primary-key columns of schema.table if it is REPLICA IDENTITY FULL
 * and has one, else NULL. */
const struct ww_full_key *ww_setup_full_key(const struct ww_setup *st, const char *schema,
                                            const char *table);

/* A CREATE_REPLICATION_SLOT request and its result; owned by the caller
 * until cb has run. */
struct ww_slot_request {
    void (*cb)(struct ww_slot_request *rq, int status);
    void *data; /* the owner's */
    ww_lsn consistent_point;
    char snapshot_name[128]; /* "" unless exported */
    char errmsg[512];
};

/* On the replication connection conn (connected, idle): create the slot
 * with pgoutput. export_snapshot keeps a snapshot exported until the next
 * command on conn. rq->cb(rq, 0 or < 0) follows when 0 is returned. */
int ww_setup_create_slot(struct ww_pgconn *conn, const char *slot, bool export_snapshot,
                         struct ww_slot_request *rq);

#endif
