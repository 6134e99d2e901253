/*
 * Helpers for the integration suites: the servers started by
 * tests/services.sh (found through WW_TEST_* environment variables), a
 * fresh database per test, and walwire run as a child process with a
 * generated configuration.
 *
 * Every helper asserts (Criterion) on failure, so a test reads as the
 * steps of its scenario. Nothing here sleeps to wait for a result: use
 * WWT_POLL_UNTIL with a deadline.
 */
#ifndef WW_TEST_HARNESS_H
#define WW_TEST_HARNESS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* The value of a WW_TEST_* variable; fails the test when unset. */
const char *wwt_env(const char *name);

/* A superuser connection to dbname ("postgres" for the maintenance db). */
PGconn *wwt_pg(const char *dbname);
/* Run SQL (printf-style); asserts success. */
void wwt_exec(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* First column of the first row (malloc'd; NULL for SQL NULL or no row). */
char *wwt_value(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like wwt_value, parsed as an integer (0 for NULL). */
long long wwt_int(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Another consumer ("other-consumer") streams slot of db (publication
 * <slot>_pub) until PQfinish: returns its replication connection once the
 * slot shows active, and the walsender's PID in *pid. admin: a connection
 * to db, used to watch pg_replication_slots. */
/* A login role `name` with the given password and attributes (e.g.
 * "REPLICATION"), replacing any role of that name. */
void wwt_create_role(const char *name, const char *password, const char *attrs);
/* Drop it (after the databases where its grants live) and free(name). */
void wwt_drop_role(char *name);
PGconn *wwt_hold_slot(PGconn *admin, const char *db, const char *slot, long long *pid);
/* An LSN "X/Y" as a number (0 for NULL). */
uint64_t wwt_lsn(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Create a database named "<tag>_<pid>_<n>"; returns its name (static
 * storage per call site is not needed: the caller frees). */
char *wwt_new_db(const char *tag);
/* Drop the database and the replication slots in it. */
void wwt_drop_db(const char *db);

struct wwt_walwire {
    pid_t pid;
    char dir[128];   /* a fresh temporary directory */
    char conf[192];  /* dir/walwire.conf */
    char log[192];   /* dir/walwire.log: the child's stderr */
    char out[192];   /* dir/out.jsonl: the file sink's output */
    struct rusage usage; /* of the last wwt_wait */
    size_t streams_before; /* "streaming started" lines in log before the last start */
};

/* A working directory and the paths above. */
void wwt_walwire_init(struct wwt_walwire *w);
/* Write dir/walwire.conf for the file sink into out: db, slot (the
 * publication is "<slot>_pub"), then `extra` lines appended verbatim
 * (later keys of the same section override nothing: put whole sections). */
void wwt_write_config(struct wwt_walwire *w, const char *db, const char *slot,
                      const char *extra);
/* Start `walwire <cmd> -c conf` with stderr (and stdout) to w->log; env:
 * extra "NAME=value" strings added to the environment (NULL-terminated,
 * may be NULL). */
void wwt_start(struct wwt_walwire *w, const char *cmd, const char *const *env);
/* Wait until the walwire started last logs "streaming started" (the log
 * accumulates over restarts: earlier lines do not count). Fails the test,
 * with the log, when it exits or times out. */
void wwt_wait_streaming(struct wwt_walwire *w, int timeout_ms);
/* How many times needle occurs in the file at path. */
size_t wwt_file_count(const char *path, const char *needle);
/* Wait for the child; returns its exit code, or 128 + signal. Fails the
 * test (after SIGKILL) when it does not exit within timeout_ms. */
int wwt_wait(struct wwt_walwire *w, int timeout_ms);
/* SIGTERM, then wait (60 s); returns the exit code. */
int wwt_stop(struct wwt_walwire *w);
/* SIGKILL and reap. */
void wwt_kill(struct wwt_walwire *w);
/* Has the child exited? (reaps it; then w->pid is 0) */
bool wwt_exited(struct wwt_walwire *w, int *code);

/* Every line of a walwire output file (the file sink's JSON lines), parsed;
 * fails the test on an incomplete last line or a line that is not one valid
 * JSON value. Free with wwt_free_events. */
struct mj;
struct mj **wwt_read_events(const char *path, size_t *count);
void wwt_free_events(struct mj **ev, size_t count);
/* Mark seen[id] for every event whose "after" row has that "id" (1..max_id);
 * a fast scan, not a parse. */
void wwt_ids_in_file(const char *path, unsigned char *seen, int max_id);
/* How many ids of 1..max_id no event's "after" row has. */
int wwt_missing_ids(const char *path, int max_id);

/* Whole file (malloc'd, NUL-terminated); "" when missing. */
char *wwt_read_file(const char *path, size_t *len);
size_t wwt_count_lines(const char *path);
/* Size of a file in bytes (0 when missing). */
uint64_t wwt_file_size(const char *path);
bool wwt_file_contains(const char *path, const char *needle);

/* Run `tests/services.sh <args>` (e.g. "pg-restart") on the servers of this
 * test run; fails the test when it fails. */
void wwt_services(const char *args);

/* Path of the built walwire and of the sink modules. */
const char *wwt_walwire_bin(void);
const char *wwt_sink_dir(void);

uint64_t wwt_now_ms(void);

/* Poll cond every 20 ms until it holds or timeout_ms passes; evaluates to
 * whether it held. */
#define WWT_POLL_UNTIL(timeout_ms, cond)                                                           \
    ({                                                                                             \
        uint64_t wwt_deadline_ = wwt_now_ms() + (uint64_t)(timeout_ms);                            \
        bool wwt_ok_ = false;                                                                      \
        for (;;) {                                                                                 \
            if ((cond)) {                                                                          \
                wwt_ok_ = true;                                                                    \
                break;                                                                             \
            }                                                                                      \
            if (wwt_now_ms() >= wwt_deadline_)                                                     \
                break;                                                                             \
            wwt_pause_ms(20);                                                                      \
        }                                                                                          \
        wwt_ok_;                                                                                   \
    })

/* The poll interval of WWT_POLL_UNTIL (not a way to wait for results). */
void wwt_pause_ms(int ms);

#endif
