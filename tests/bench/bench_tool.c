/*
 * bench_tool: the measuring helpers of tests/bench/run.sh, in one small
 * program so that measuring costs (almost) nothing next to what is measured.
 * Built by run.sh with cc (it is not part of the meson build).
 *
 *   bench_tool exec OUT -- CMD [ARG...]
 *       Run CMD as a child; SIGTERM/SIGINT sent to bench_tool are passed on
 *       to it. When it exits, write one line to OUT:
 *           <start_ns> <end_ns> <user_s> <sys_s> <maxrss_kb> <exit_code>
 *       start_ns/end_ns: CLOCK_REALTIME just before fork() and just after
 *       wait4() returned; user/sys/maxrss: the child's rusage from wait4()
 *       (maxrss is the peak resident set size of the child alone). Exits
 *       with the child's exit code (128 + signal when it was killed).
 *
 *   bench_tool wait-lsn CONNINFO SLOT LSN TIMEOUT_S PID
 *       Poll, on one connection, every 10 ms, until the confirmed_flush_lsn
 *       of replication slot SLOT is >= LSN; then print CLOCK_REALTIME in ns
 *       and exit 0. Exit 2 on timeout, 3 when process PID is gone first,
 *       1 on a database error.
 *
 *   bench_tool tail [-f FILE] -o OUT [-n COUNT] [-t TIMEOUT_S]
 *       Read a stream (stdin, or FILE followed as it grows, using inotify)
 *       and find every token "ts=<digits>." in it. The digits are
 *       <insert time in microseconds since the epoch> * 10 + <client id>
 *       (see run.sh's latency writer). For each token, write
 *           <digits> <latency_us>
 *       to OUT, latency_us = (CLOCK_REALTIME when the read() that returned
 *       the token's last byte came back) - (insert time). The token
 *       "ts=1." marks the end of the stream. Stops at the end marker, after
 *       COUNT tokens (-n; default: no limit), at SIGTERM/SIGINT, or after
 *       TIMEOUT_S; exits 0 only when it stopped at the end marker or at
 *       COUNT.
 *
 *   bench_tool walsender-cpu CONNINFO SLOT TIMEOUT_S
 *       Wait (up to TIMEOUT_S) for replication slot SLOT to become active,
 *       then follow its walsender process (active_pid) until it exits (or
 *       SIGTERM/SIGINT) by reading /proc/<pid>/stat every 20 ms; print its
 *       CPU time (user + system, seconds) at the last reading: the decoding
 *       work PostgreSQL did for one consumer, up to 20 ms short.
 *
 *   bench_tool fsync-probe FILE N [INTERVAL_MS]
 *       Append 512 bytes and fdatasync, N times (INTERVAL_MS apart, default
 *       0); print p50, p99 and max of the fdatasync time in microseconds:
 *       what one file-sink flush with fsync = batch waits for on this disk.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static volatile sig_atomic_t g_signal; /* the last SIGTERM/SIGINT received */
static volatile sig_atomic_t g_child;  /* exec: the child to pass signals on to */

static void on_signal(int sig)
{
    g_signal = sig;
    if (g_child > 0)
        kill((pid_t)g_child, sig); /* async-signal-safe */
}

static void catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: wake blocking calls */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* ---- exec --------------------------------------------------------------- */

static int cmd_exec(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "--") != 0) {
        fprintf(stderr, "usage: bench_tool exec OUT -- CMD [ARG...]\n");
        return 2;
    }
    const char *out = argv[0];
    catch_signals();
    int64_t start = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench_tool: fork");
        return 1;
    }
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        execvp(argv[2], argv + 2);
        fprintf(stderr, "bench_tool: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    g_child = pid;
    /* A signal that came between fork() and the line above. */
    if (g_signal)
        kill(pid, g_signal);
    int status;
    struct rusage ru;
    for (;;) {
        pid_t r = wait4(pid, &status, 0, &ru);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            perror("bench_tool: wait4");
            return 1;
        }
    }
    int64_t end = now_ns();
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *f = fopen(out, "w");
    if (!f) {
        perror(out);
        return 1;
    }
    fprintf(f, "%lld %lld %.6f %.6f %ld %d\n", (long long)start, (long long)end,
            ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
            ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss, code);
    fclose(f);
    return code;
}

/* ---- wait-lsn ------------------------------------------------------------ */

static int cmd_wait_lsn(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_tool wait-lsn CONNINFO SLOT LSN TIMEOUT_S PID\n");
        return 2;
    }
    PGconn *c = PQconnectdb(argv[0]);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "bench_tool: %s", PQerrorMessage(c));
        return 1;
    }
    const char *params[2] = {argv[1], argv[2]};
    int64_t deadline = now_ns() + (int64_t)(atof(argv[3]) * 1e9);
    pid_t pid = (pid_t)atol(argv[4]);
    for (;;) {
        PGresult *r = PQexecParams(c,
                                   "SELECT confirmed_flush_lsn >= $2::pg_lsn "
                                   "FROM pg_replication_slots WHERE slot_name = $1",
                                   2, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
            fprintf(stderr, "bench_tool: slot %s: %s\n", argv[1],
                    PQntuples(r) == 0 ? "no such slot" : PQerrorMessage(c));
            PQclear(r);
            PQfinish(c);
            return 1;
        }
        int done = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (done) {
            printf("%lld\n", (long long)now_ns());
            PQfinish(c);
            return 0;
        }
        if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH) {
            PQfinish(c);
            return 3;
        }
        if (now_ns() > deadline) {
            PQfinish(c);
            return 2;
        }
        sleep_ms(10);
    }
}

/* ---- walsender-cpu -------------------------------------------------------- */

/* utime + stime of process pid in clock ticks, or -1 when it is gone. */
static long long proc_cpu_ticks(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    /* "pid (comm) state ppid ...": fields counted after the last ')';
     * utime and stime are fields 14 and 15 of the line. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    long long v[2] = {0};
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok && field < 15; tok = strtok(NULL, " ")) {
        field++;
        if (field >= 14)
            v[field - 14] = atoll(tok);
    }
    return field >= 15 ? v[0] + v[1] : -1;
}

static int cmd_walsender_cpu(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_tool walsender-cpu CONNINFO SLOT TIMEOUT_S\n");
        return 2;
    }
    catch_signals();
    PGconn *c = PQconnectdb(argv[0]);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "bench_tool: %s", PQerrorMessage(c));
        return 1;
    }
    const char *params[1] = {argv[1]};
    int64_t deadline = now_ns() + (int64_t)(atof(argv[2]) * 1e9);
    long pid = 0;
    while (!pid) {
        PGresult *r = PQexecParams(c,
                                   "SELECT coalesce(active_pid, 0) FROM pg_replication_slots "
                                   "WHERE slot_name = $1",
                                   1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            pid = atol(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (!pid && (g_signal || now_ns() > deadline)) {
            PQfinish(c);
            fprintf(stderr, "bench_tool: slot %s never became active\n", argv[1]);
            return 1;
        }
        if (!pid)
            sleep_ms(5);
    }
    PQfinish(c);
    long long last = 0, t;
    while (!g_signal && (t = proc_cpu_ticks(pid)) >= 0) {
        last = t;
        sleep_ms(20);
    }
    printf("%.2f\n", (double)last / (double)sysconf(_SC_CLK_TCK));
    return 0;
}

/* ---- tail ---------------------------------------------------------------- */

struct sample {
    uint64_t token;
    int64_t latency_us;
};

struct scanner {
    int ended;      /* saw the end marker "ts=1." */
    int state;      /* 0..2: matched that many chars of "ts="; 3: in the digits */
    uint64_t value; /* digits so far */
    int ndigits;
    struct sample *samples;
    size_t n, cap;
};

/* Feed one chunk, read at read_us; tokens may straddle chunks. */
static void scan(struct scanner *s, const char *p, size_t len, int64_t read_us)
{
    static const char prefix[] = "ts=";
    for (size_t i = 0; i < len && !s->ended; i++) {
        char ch = p[i];
        if (s->state < 3) {
            if (ch == prefix[s->state])
                s->state++;
            else
                s->state = ch == 't' ? 1 : 0;
            if (s->state == 3) {
                s->value = 0;
                s->ndigits = 0;
            }
            continue;
        }
        if (ch >= '0' && ch <= '9' && s->ndigits < 19) {
            s->value = s->value * 10 + (uint64_t)(ch - '0');
            s->ndigits++;
            continue;
        }
        if (ch == '.' && s->ndigits == 1 && s->value == 1)
            s->ended = 1;
        if (ch == '.' && s->ndigits >= 14) { /* a whole token */
            if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 65536;
                s->samples = realloc(s->samples, s->cap * sizeof *s->samples);
                if (!s->samples) {
                    perror("bench_tool");
                    exit(1);
                }
            }
            s->samples[s->n++] = (struct sample){s->value, read_us - (int64_t)(s->value / 10)};
        }
        s->state = ch == 't' ? 1 : 0;
    }
}

static int cmd_tail(int argc, char **argv)
{
    const char *file = NULL, *out = NULL;
    long count = -1;
    double timeout = 600;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-f") == 0)
            file = argv[i + 1];
        else if (strcmp(argv[i], "-o") == 0)
            out = argv[i + 1];
        else if (strcmp(argv[i], "-n") == 0)
            count = atol(argv[i + 1]);
        else if (strcmp(argv[i], "-t") == 0)
            timeout = atof(argv[i + 1]);
    }
    if (!out || argc % 2) {
        fprintf(stderr, "usage: bench_tool tail [-f FILE] -o OUT [-n COUNT] [-t TIMEOUT_S]\n");
        return 2;
    }
    catch_signals();
    int64_t deadline = now_ns() + (int64_t)(timeout * 1e9);
    int fd = 0, ino = -1;
    if (file) {
        /* The file sink creates the file when walwire starts: wait for it. */
        while ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
            if (g_signal || now_ns() > deadline) {
                fprintf(stderr, "bench_tool: %s never appeared\n", file);
                return 1;
            }
            sleep_ms(5);
        }
        ino = inotify_init1(IN_CLOEXEC);
        if (ino < 0 || inotify_add_watch(ino, file, IN_MODIFY) < 0) {
            perror("bench_tool: inotify");
            return 1;
        }
    }
    struct scanner s = {0};
    static char buf[1 << 16];
    while (!s.ended && (count < 0 || (long)s.n < count) && !g_signal && now_ns() < deadline) {
        ssize_t r = read(fd, buf, sizeof buf);
        int64_t t = now_ns() / 1000;
        if (r > 0) {
            scan(&s, buf, (size_t)r, t);
            continue;
        }
        if (r < 0 && errno != EINTR) {
            perror("bench_tool: read");
            break;
        }
        if (r == 0 && !file)
            break; /* end of the pipe */
        if (r == 0) {
            /* At the end of the file: sleep until it is written to (the
             * 100 ms timeout only bounds how late a signal is noticed). */
            struct pollfd pfd = {.fd = ino, .events = POLLIN};
            if (poll(&pfd, 1, 100) > 0) {
                char ev[4096];
                if (read(ino, ev, sizeof ev) < 0 && errno != EINTR && errno != EAGAIN)
                    break;
            }
        }
    }
    FILE *f = fopen(out, "w");
    if (!f) {
        perror(out);
        return 1;
    }
    for (size_t i = 0; i < s.n; i++)
        fprintf(f, "%llu %lld\n", (unsigned long long)s.samples[i].token,
                (long long)s.samples[i].latency_us);
    fclose(f);
    free(s.samples);
    if (!s.ended && (count < 0 || (long)s.n < count)) {
        fprintf(stderr, "bench_tool: stopped after %zu events, before the end\n", s.n);
        return 1;
    }
    return 0;
}

/* ---- fsync-probe --------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmd_fsync_probe(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || atoi(argv[1]) <= 0) {
        fprintf(stderr, "usage: bench_tool fsync-probe FILE N [INTERVAL_MS]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    int interval_ms = argc == 3 ? atoi(argv[2]) : 0;
    int fd = open(argv[0], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(argv[0]);
        return 1;
    }
    int64_t *us = calloc((size_t)n, sizeof *us);
    char line[512];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    for (int i = 0; i < n; i++) {
        if (write(fd, line, sizeof line) != (ssize_t)sizeof line) {
            perror("bench_tool: write");
            return 1;
        }
        int64_t t0 = now_ns();
        if (fdatasync(fd) < 0) {
            perror("bench_tool: fdatasync");
            return 1;
        }
        us[i] = (now_ns() - t0) / 1000;
        if (interval_ms > 0)
            sleep_ms(interval_ms);
    }
    close(fd);
    qsort(us, (size_t)n, sizeof *us, cmp_i64);
    printf("%lld %lld %lld\n", (long long)us[n / 2], (long long)us[(size_t)(n * 0.99)],
           (long long)us[n - 1]);
    free(us);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "exec") == 0)
        return cmd_exec(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "wait-lsn") == 0)
        return cmd_wait_lsn(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "tail") == 0)
        return cmd_tail(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "walsender-cpu") == 0)
        return cmd_walsender_cpu(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "fsync-probe") == 0)
        return cmd_fsync_probe(argc - 2, argv + 2);
    fprintf(
        stderr,
        "usage: bench_tool exec|wait-lsn|walsender-cpu|tail|fsync-probe ... (see the source)\n");
    return 2;
}
