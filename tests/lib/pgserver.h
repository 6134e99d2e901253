/*
 * A throwaway PostgreSQL server for a single test, beside the shared one of
 * tests/services.sh: for settings the shared server must not have
 * (wal_level = replica, a tiny max_slot_wal_keep_size). initdb and the
 * server run as the postgres user when the tests run as root; trust
 * authentication; loopback only; stopped and removed by wwt_server_stop
 * (call it from the test's .fini so that a failed assertion does not leave
 * it running).
 */
#ifndef WW_TEST_PGSERVER_H
#define WW_TEST_PGSERVER_H

#include <libpq-fe.h>
#include <stdbool.h>

struct wwt_server {
    char dir[64];
    char data[96];
    char log[96];
    int port;
    bool running;
};

/* initdb into a temporary directory and start with extra settings
 * ("-c wal_level=replica ..."). Fails the test when it cannot. */
void wwt_server_start(struct wwt_server *s, const char *settings);
/* Stop (immediate) and remove; safe on a zeroed or stopped server. */
void wwt_server_stop(struct wwt_server *s);
/* A superuser connection to its postgres database. */
PGconn *wwt_server_connect(const struct wwt_server *s);

#endif
