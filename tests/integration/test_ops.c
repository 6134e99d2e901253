/*
 * Running walwire in production (issue 7): the HTTP endpoints and their
 * metrics, hostile HTTP clients, and two instances on one slot.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"

/* The port walwire logged for its HTTP endpoints. */
static int http_port(struct wwt_walwire *w)
{
    int port = 0;
    bool found = WWT_POLL_UNTIL(20000, ({
        char *log = wwt_read_file(w->log, NULL);
        const char *p = strstr(log, "(port ");
        if (p)
            port = atoi(p + 6);
        free(log);
        port > 0;
    }));
    cr_assert(found, "walwire did not log its HTTP port");
    return port;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
    return fd;
}

/* One GET with Connection: close; returns status and body (malloc'd). */
static int http_get(int port, const char *path, char **body)
{
    int fd = connect_to(port);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     path);
    cr_assert(write(fd, req, (size_t)n) == n);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t got = read(fd, buf + len, cap - len - 1);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    buf[len] = '\0';
    int status = 0;
    sscanf(buf, "HTTP/1.1 %d", &status);
    char *sep = strstr(buf, "\r\n\r\n");
    *body = strdup(sep ? sep + 4 : "");
    free(buf);
    return status;
}

/* The value of the sample `name{labels}` in a Prometheus text body; -1 when
 * absent. Every sample line must be well formed. */
static double sample(const char *text, const char *series)
{
    double found = -1;
    const char *line = text;
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len && line[0] != '#') {
            const char *sp = memrchr(line, ' ', len);
            cr_assert(sp && sp > line, "malformed sample line: %.*s", (int)len, line);
            char *end;
            double v = strtod(sp + 1, &end);
            cr_assert(end == line + len, "bad value in: %.*s", (int)len, line);
            if ((size_t)(sp - line) == strlen(series) && memcmp(line, series, strlen(series)) == 0)
                found = v;
        }
        line += len + (nl ? 1 : 0);
    }
    return found;
}

static void start_streaming_walwire(struct wwt_walwire *w, const char *db, const char *slot,
                                    const char *extra)
{
    wwt_walwire_init(w);
    wwt_write_config(w, db, slot, extra);
    wwt_start(w, "run", NULL);
    bool up = WWT_POLL_UNTIL(30000, wwt_file_contains(w->log, "streaming started") ||
                                        wwt_exited(w, NULL));
    char *log = wwt_read_file(w->log, NULL);
    cr_assert(up && w->pid, "walwire did not start streaming:\n%s", log);
    free(log);
}

/* Issue 7, what must hold 2: /metrics parses and counts what was delivered. */
Test(ops, metrics_count_the_delivered_events, .timeout = 120)
{
    char *db = wwt_new_db("metrics");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY)");
    struct wwt_walwire w;
    char slot[64];
    snprintf(slot, sizeof slot, "metrics_%d", (int)getpid());
    start_streaming_walwire(&w, db, slot, "[http]\nlisten = 127.0.0.1:0\n");
    int port = http_port(&w);
    wwt_exec(c, "INSERT INTO a SELECT generate_series(1, 300)");
    wwt_exec(c, "INSERT INTO b SELECT generate_series(1, 50)");
    wwt_exec(c, "UPDATE a SET id = id + 1000 WHERE id <= 20"); /* 20 d + 20 c */
    wwt_exec(c, "DELETE FROM b WHERE id <= 10");
    cr_assert(WWT_POLL_UNTIL(30000, wwt_count_lines(w.out) >= 400));
    char *body;
    bool settled = WWT_POLL_UNTIL(10000, ({
        cr_assert_eq(http_get(port, "/metrics", &body), 200);
        bool s = sample(body, "walwire_acks_total") == 400 &&
                 sample(body, "walwire_inflight_events") == 0;
        if (!s)
            free(body);
        s;
    }));
    cr_assert(settled, "the counters never reached the delivered events");
    cr_assert_eq(sample(body, "walwire_events_total{schema=\"public\",table=\"a\",op=\"c\"}"), 320);
    cr_assert_eq(sample(body, "walwire_events_total{schema=\"public\",table=\"a\",op=\"d\"}"), 20);
    cr_assert_eq(sample(body, "walwire_events_total{schema=\"public\",table=\"b\",op=\"c\"}"), 50);
    cr_assert_eq(sample(body, "walwire_events_total{schema=\"public\",table=\"b\",op=\"d\"}"), 10);
    cr_assert_eq(sample(body, "walwire_streaming"), 1);
    cr_assert_eq(sample(body, "walwire_active"), 1);
    cr_assert_gt(sample(body, "walwire_confirmed_lsn"), 0);
    cr_assert(strstr(body, "# TYPE walwire_events_total counter"));
    free(body);
    cr_assert_eq(http_get(port, "/healthz", &body), 200);
    free(body);
    cr_assert_eq(http_get(port, "/readyz", &body), 200);
    cr_assert(strstr(body, "\"active\":true"), "%s", body);
    free(body);
    cr_assert_eq(wwt_stop(&w), 0);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* Issue 7, what must hold 4: malformed and huge requests do not stop or
 * slow the stream. */
Test(ops, hostile_http_clients_do_not_harm_the_stream, .timeout = 120)
{
    char *db = wwt_new_db("hostile");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY)");
    struct wwt_walwire w;
    char slot[64];
    snprintf(slot, sizeof slot, "hostile_%d", (int)getpid());
    start_streaming_walwire(&w, db, slot, "[http]\nlisten = 127.0.0.1:0\n");
    int port = http_port(&w);

    /* Garbage, a huge header, and connections that stall half-way. */
    int stalled[40];
    for (int i = 0; i < 40; i++) {
        stalled[i] = connect_to(port);
        cr_assert(write(stalled[i], "GET /metr", 9) == 9);
    }
    int g = connect_to(port);
    cr_assert(write(g, "\x01\x02 not http at all\r\n\r\n", 22) == 22);
    char buf[256];
    ssize_t n = read(g, buf, sizeof buf - 1);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_assert(strstr(buf, " 400 "), "%s", buf);
    close(g);
    int h = connect_to(port);
    char *big = malloc(1 << 20);
    memset(big, 'a', 1 << 20);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    ssize_t sent = write(h, big, 1 << 20); /* the server may close before it all went */
    (void)sent;
    free(big);
    close(h);

    /* Meanwhile the stream goes on, promptly. */
    uint64_t t0 = wwt_now_ms();
    wwt_exec(c, "INSERT INTO t SELECT generate_series(1, 1000)");
    cr_assert(WWT_POLL_UNTIL(10000, wwt_count_lines(w.out) >= 1000), "the stream stalled");
    uint64_t took = wwt_now_ms() - t0;
    cr_log_info("1000 events took %llu ms under hostile HTTP clients", (unsigned long long)took);
    cr_assert_lt(took, 5000);
    char *body;
    cr_assert_eq(http_get(port, "/healthz", &body), 200, "the HTTP server stopped answering");
    free(body);
    for (int i = 0; i < 40; i++)
        close(stalled[i]);
    cr_assert(!wwt_exited(&w, NULL));
    cr_assert_eq(wwt_stop(&w), 0);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}

/* Issue 7, what must hold 3: two walwires on one slot; SIGKILL the active
 * one; the other takes over within 10 s and nothing committed is missing. */
Test(ops, standby_takes_over_after_sigkill, .timeout = 180)
{
    char *db = wwt_new_db("ha");
    PGconn *c = wwt_pg(db);
    wwt_exec(c, "CREATE TABLE t (id int PRIMARY KEY)");
    char slot[64];
    snprintf(slot, sizeof slot, "ha_%d", (int)getpid());
    struct wwt_walwire a, b;
    start_streaming_walwire(&a, db, slot, "[http]\nlisten = 127.0.0.1:0\n");
    wwt_walwire_init(&b);
    wwt_write_config(&b, db, slot, "[http]\nlisten = 127.0.0.1:0\n");
    wwt_start(&b, "run", NULL);
    cr_assert(WWT_POLL_UNTIL(20000, wwt_file_contains(b.log, "standing by")),
              "the second instance did not stand by");
    char *body;
    cr_assert_eq(http_get(http_port(&b), "/readyz", &body), 503);
    cr_assert(strstr(body, "\"active\":false") && strstr(body, "standing by"), "%s", body);
    free(body);

    int id = 0;
    for (int tx = 0; tx < 20; tx++, id += 50)
        wwt_exec(c, "INSERT INTO t SELECT generate_series(%d, %d)", id + 1, id + 50);
    cr_assert(WWT_POLL_UNTIL(20000, wwt_count_lines(a.out) >= 500));
    wwt_kill(&a);
    uint64_t killed_at = wwt_now_ms();
    for (int tx = 0; tx < 20; tx++, id += 50)
        wwt_exec(c, "INSERT INTO t SELECT generate_series(%d, %d)", id + 1, id + 50);
    bool took_over = WWT_POLL_UNTIL(20000, wwt_file_contains(b.log, "streaming started"));
    uint64_t after = wwt_now_ms() - killed_at;
    cr_assert(took_over, "the standby did not take over");
    cr_log_info("the standby took over %llu ms after the kill", (unsigned long long)after);
    cr_assert_lt(after, 10000);

    unsigned char seen[2001];
    bool all = WWT_POLL_UNTIL(30000, ({
        memset(seen, 0, sizeof seen);
        wwt_ids_in_file(a.out, seen, 2000);
        wwt_ids_in_file(b.out, seen, 2000);
        int missing = 0;
        for (int i = 1; i <= id; i++)
            missing += !seen[i];
        missing == 0;
    }));
    cr_assert(all, "rows committed around the failover are missing");
    cr_assert_eq(wwt_stop(&b), 0);
    PQfinish(c);
    wwt_drop_db(db);
    free(db);
}
