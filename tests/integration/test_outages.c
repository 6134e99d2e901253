/*
 * Outages (issue 9): PostgreSQL restarted under walwire, and a full disk
 * under the file sink. walwire waits or stops cleanly, never confirms what
 * it did not deliver, and nothing committed is lost.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "minijson.h"
#include "pgserver.h"

static void insert_range(PGconn *c, int from, int to, int per_tx)
{
    for (int i = from; i <= to; i += per_tx)
        wwt_exec(c, "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(%d, %d) g", i,
                 i + per_tx - 1 < to ? i + per_tx - 1 : to);
}

/* PostgreSQL restarted (pg_ctl restart -m fast) mid-stream: walwire
 * reconnects with backoff and resumes; nothing is missing. */
Test(outages, postgres_restart_mid_stream, .timeout = 300)
{
    char *db = wwt_new_db("pgrestart");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    struct wwt_walwire w;
    wwt_walwire_init(&w);
    char slot[64];
    snprintf(slot, sizeof slot, "pgrestart_%d", (int)getpid());
    wwt_write_config(&w, db, slot, "");
    wwt_start(&w, "run", NULL);
    wwt_wait_streaming(&w, 30000);
    insert_range(c, 1, 2000, 100);
    PQfinish(c);

    wwt_services("pg-restart");

    c = wwt_pg(db);
    insert_range(c, 2001, 4000, 100);
    bool all = WWT_POLL_UNTIL(60000, wwt_missing_ids(w.out, 4000) == 0);
    char *log = wwt_read_file(w.log, NULL);
    cr_assert(all, "rows are missing after the restart; walwire's log:\n%s", log);
    cr_assert(w.pid && !wwt_exited(&w, NULL), "walwire exited:\n%s", log);
    cr_assert(strstr(log, "reconnected to PostgreSQL"), "%s", log);
    free(log);
    cr_assert_eq(wwt_stop(&w), 0);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* A full disk under the file sink: walwire stops with a clear error and
 * the slot does not move past what is in the file; with space again it
 * resumes and every row arrives. */
Test(outages, disk_full_stops_then_resumes, .timeout = 300)
{
    char *db = wwt_new_db("diskfull");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    struct wwt_walwire w;
    wwt_walwire_init(&w);
    char mnt[256];
    snprintf(mnt, sizeof mnt, "%s/disk", w.dir);
    cr_assert(mkdir(mnt, 0755) == 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0)
        cr_skip_test("cannot mount a small tmpfs here (%s): run the tests as root", strerror(errno));
    snprintf(w.out, sizeof w.out, "%s/out.jsonl", mnt);
    char slot[64];
    snprintf(slot, sizeof slot, "diskfull_%d", (int)getpid());
    wwt_write_config(&w, db, slot, "");
    wwt_start(&w, "run", NULL);
    wwt_wait_streaming(&w, 30000);

    /* About 4 MB of events for a 1 MB disk; remember where each
     * transaction ended. */
    enum { NTX = 80, PER_TX = 100 };
    uint64_t lsn_after[NTX];
    for (int t = 0; t < NTX; t++) {
        insert_range(c, t * PER_TX + 1, t * PER_TX + PER_TX, PER_TX);
        lsn_after[t] = wwt_lsn(c, "SELECT pg_current_wal_insert_lsn()");
        if (t == 14) /* about 550 kB in: let these be confirmed first */
            cr_assert(WWT_POLL_UNTIL(30000, wwt_lsn(c, "SELECT confirmed_flush_lsn FROM "
                                                       "pg_replication_slots WHERE slot_name "
                                                       "= '%s'", slot) >= lsn_after[14]));
    }
    int code = wwt_wait(&w, 60000);
    char *log = wwt_read_file(w.log, NULL);
    cr_assert_eq(code, 1, "walwire did not stop on a full disk (exit %d):\n%s", code, log);
    cr_assert(strstr(log, "No space left on device"), "%s", log);
    free(log);

    /* The slot never passed what the file holds: every transaction up to
     * the confirmed position is entirely in the file. */
    uint64_t confirmed = wwt_lsn(c, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE "
                                    "slot_name = '%s'", slot);
    unsigned char seen[NTX * PER_TX + 1] = {0};
    wwt_ids_in_file(w.out, seen, NTX * PER_TX);
    int confirmed_tx = 0;
    for (int t = 0; t < NTX && lsn_after[t] <= confirmed; t++, confirmed_tx++)
        for (int id = t * PER_TX + 1; id <= t * PER_TX + PER_TX; id++)
            cr_assert(seen[id], "row %d of confirmed transaction %d is not in the file", id, t);
    cr_log_info("%d of %d transactions confirmed before the disk filled", confirmed_tx, NTX);
    cr_assert_geq(confirmed_tx, 15, "the check above checked too little");
    cr_assert_lt(confirmed_tx, NTX, "everything was confirmed, though the disk was full");

    /* Space again: restart and everything arrives. */
    cr_assert(mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=64m") == 0, "remount: %s",
              strerror(errno));
    wwt_start(&w, "run", NULL);
    bool all = WWT_POLL_UNTIL(60000, wwt_missing_ids(w.out, NTX * PER_TX) == 0);
    log = wwt_read_file(w.log, NULL);
    cr_assert(all, "rows are missing after the disk was freed:\n%s", log);
    free(log);
    cr_assert_eq(wwt_stop(&w), 0);
    /* Every line, including around the point where the disk filled, is JSON. */
    size_t nev;
    struct mj **events = wwt_read_events(w.out, &nev); /* asserts every line */
    wwt_free_events(events, nev);
    umount2(mnt, MNT_DETACH);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

static struct wwt_server small_wal;

static void stop_small_wal(void)
{
    wwt_server_stop(&small_wal);
}

/* The slot invalidated while walwire was away (max_slot_wal_keep_size
 * exceeded): a clear error that explains the data gap and the way out,
 * exit 1, never a silent new slot. */
Test(outages, invalidated_slot_is_a_clear_error, .timeout = 180, .fini = stop_small_wal)
{
    wwt_server_start(&small_wal, "-c wal_level=logical -c max_slot_wal_keep_size=1MB "
                                 "-c max_wal_size=32MB -c min_wal_size=32MB");
    PGconn *c = wwt_server_connect(&small_wal);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    struct wwt_walwire w;
    wwt_walwire_init(&w);
    FILE *f = fopen(w.conf, "w");
    fprintf(f,
            "[source]\nconninfo = host=127.0.0.1 port=%d dbname=postgres user=postgres\n"
            "slot = small\npublication = small_pub\nstate_file = %s/state\n"
            "[sink]\ntype = file\ndir = %s\n[file]\npath = %s\nfsync = never\n",
            small_wal.port, w.dir, wwt_sink_dir(), w.out);
    fclose(f);
    wwt_start(&w, "run", NULL);
    wwt_wait_streaming(&w, 30000);

    /* Freeze walwire, write far more WAL than the slot may keep, and
     * checkpoint: the server invalidates the slot. */
    kill(w.pid, SIGSTOP);
    for (int i = 0; i < 8; i++) {
        wwt_exec(c, "INSERT INTO t SELECT g, repeat('x', 500) FROM generate_series(%d, %d) g",
                 i * 2000 + 1, i * 2000 + 2000);
        wwt_exec(c, "SELECT pg_switch_wal()");
    }
    wwt_exec(c, "CHECKPOINT");
    bool lost = WWT_POLL_UNTIL(30000, ({
        char *st = wwt_value(c, "SELECT wal_status FROM pg_replication_slots WHERE slot_name = "
                                "'small'");
        bool l = st && strcmp(st, "lost") == 0;
        free(st);
        if (!l)
            wwt_exec(c, "CHECKPOINT");
        l;
    }));
    kill(w.pid, SIGCONT);
    cr_assert(lost, "the server did not invalidate the slot");

    int code = wwt_wait(&w, 120000);
    char *log = wwt_read_file(w.log, NULL);
    cr_assert_eq(code, 1, "exit %d:\n%s", code, log);
    cr_assert(strstr(log, "invalidated") && strstr(log, "pg_drop_replication_slot('small')") &&
                  strstr(log, "new snapshot"),
              "the error does not explain the data gap and the way out:\n%s", log);
    free(log);
    /* walwire did not make itself a new slot. */
    cr_assert_eq(wwt_int(c, "SELECT count(*) FROM pg_replication_slots"), 1);
    PQfinish(c);
}
