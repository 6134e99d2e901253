/*
 * kafka_mock: a Kafka cluster for tests, in a process of its own.
 *
 * librdkafka's mock cluster (rdkafka_mock.h) speaks the Kafka protocol on
 * loopback ports; this program creates one, prints its bootstrap servers on
 * the first line of stdout, and then obeys line commands so that a test can
 * inject faults while walwire (another process) produces to it.
 *
 *   kafka_mock [--brokers N] [--control PATH] [--debug]
 *
 * Without --control, commands come on stdin and each gets one reply line on
 * stdout; EOF on stdin ends the program (so a test that dies takes its mock
 * with it). With --control, stdin is not read: commands come on a Unix
 * stream socket at PATH (one or more lines per connection, one reply line
 * each), which is how tests/services.sh runs a shared mock in the
 * background. SIGTERM or SIGINT end the program in both modes.
 *
 * Commands (replies: "ok[ <detail>]" or "error <what>"):
 *   ping                              liveness
 *   bootstrap                         ok <bootstrap servers>
 *   down [BROKER]                     disconnect a broker (default: all) and
 *                                     refuse connections
 *   up [BROKER]                       accept connections again
 *   topic NAME PARTITIONS [REPLICAS]  create a topic
 *   topic-error NAME ERR              Metadata reports ERR for the topic
 *                                     (NO_ERROR clears it)
 *   errors API ERR [ERR...]           the next requests of type API (on any
 *                                     broker) fail with these errors, in order
 *   broker-errors BROKER API ERR[:RTT_MS] [...]   same, on one broker, with
 *                                     a response delay per error
 *   pending BROKER API                ok <errors left on that broker's stack>
 *   clear API                         drop the cluster's queued errors for API
 *   rtt BROKER MS                     delay every response of a broker
 *
 * API is a request name (Produce, Fetch, ListOffsets, Metadata,
 * InitProducerId, ...) or its number; ERR is a librdkafka error name
 * (MSG_SIZE_TOO_LARGE, NOT_LEADER_FOR_PARTITION, _TRANSPORT, with or without
 * the RD_KAFKA_RESP_ERR_ prefix) or its number. BROKER ids start at 1.
 *
 * Auto-creation: the mock creates a missing topic (4 partitions) when a
 * client's Metadata request allows it; a producer with
 * allow.auto.create.topics=false may still see it created: librdkafka
 * 2.0.2's producer asks for auto-creation regardless, and the mock has no
 * switch for the cluster side (nor a way to pick the port). Use
 * "topic-error NAME UNKNOWN_TOPIC_OR_PART" to make a topic unknown.
 *
 * Retention: the mock keeps at most 5 MB (and 100,000 message sets) per
 * partition and drops the oldest beyond that; a test that reads back more
 * creates its topic with enough partitions first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CLIENTS 16
#define MAX_LINE    1024
#define MAX_ERRS    64

static rd_kafka_mock_cluster_t *g_mc;
static volatile sig_atomic_t g_stop;
static int g_sigpipe[2] = {-1, -1};

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    int saved = errno;
    if (write(g_sigpipe[1], "x", 1) < 0) {
        /* the pipe is full: poll wakes up anyway */
    }
    errno = saved;
}

/* ---- argument parsing ------------------------------------------------- */

static const struct {
    const char *name;
    int16_t key;
} api_names[] = {
    {"Produce", 0},         {"Fetch", 1},       {"ListOffsets", 2},      {"Metadata", 3},
    {"OffsetCommit", 8},    {"OffsetFetch", 9}, {"FindCoordinator", 10}, {"JoinGroup", 11},
    {"Heartbeat", 12},      {"LeaveGroup", 13}, {"SyncGroup", 14},       {"ApiVersions", 18},
    {"InitProducerId", 22},
};

static int parse_api(const char *s, int16_t *out)
{
    for (size_t i = 0; i < sizeof api_names / sizeof api_names[0]; i++) {
        if (strcasecmp(s, api_names[i].name) == 0) {
            *out = api_names[i].key;
            return 0;
        }
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 100)
        return -1;
    *out = (int16_t)v;
    return 0;
}

static int parse_err(const char *s, rd_kafka_resp_err_t *out)
{
    if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
        s += 18;
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++) {
        if (descs[i].name && strcasecmp(descs[i].name, s) == 0) {
            *out = descs[i].code;
            return 0;
        }
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0')
        return -1;
    *out = (rd_kafka_resp_err_t)v;
    return 0;
}

static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!s || *s == '\0' || *end != '\0' || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* ---- commands --------------------------------------------------------- */

/* Run one command line; write the reply (without newline) into reply. */
static void run_command(char *line, char *reply, size_t cap)
{
    char *argv[MAX_ERRS + 4];
    int argc = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok && argc < (int)(sizeof argv / sizeof *argv);
         tok = strtok(NULL, " \t\r\n"))
        argv[argc++] = tok;
    if (argc == 0) {
        snprintf(reply, cap, "error empty command");
        return;
    }
    const char *cmd = argv[0];
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    long a, b;

    if (strcmp(cmd, "ping") == 0) {
        snprintf(reply, cap, "ok");
    } else if (strcmp(cmd, "bootstrap") == 0) {
        snprintf(reply, cap, "ok %s", rd_kafka_mock_cluster_bootstraps(g_mc));
    } else if (strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0) {
        a = -1;
        if (argc > 1 && parse_int(argv[1], -1, 1000, &a) < 0) {
            snprintf(reply, cap, "error usage: %s [BROKER]", cmd);
            return;
        }
        err = cmd[0] == 'd' ? rd_kafka_mock_broker_set_down(g_mc, (int32_t)a)
                            : rd_kafka_mock_broker_set_up(g_mc, (int32_t)a);
        snprintf(reply, cap, err ? "error %s" : "ok", rd_kafka_err2name(err));
    } else if (strcmp(cmd, "topic") == 0) {
        b = 1;
        if (argc < 3 || parse_int(argv[2], 1, 10000, &a) < 0 ||
            (argc > 3 && parse_int(argv[3], 1, 100, &b) < 0)) {
            snprintf(reply, cap, "error usage: topic NAME PARTITIONS [REPLICAS]");
            return;
        }
        err = rd_kafka_mock_topic_create(g_mc, argv[1], (int)a, (int)b);
        snprintf(reply, cap, err ? "error %s" : "ok", rd_kafka_err2name(err));
    } else if (strcmp(cmd, "topic-error") == 0) {
        if (argc != 3 || parse_err(argv[2], &err) < 0) {
            snprintf(reply, cap, "error usage: topic-error NAME ERR");
            return;
        }
        rd_kafka_mock_topic_set_error(g_mc, argv[1], err);
        snprintf(reply, cap, "ok");
    } else if (strcmp(cmd, "errors") == 0) {
        int16_t api;
        rd_kafka_resp_err_t errs[MAX_ERRS];
        if (argc < 3 || parse_api(argv[1], &api) < 0) {
            snprintf(reply, cap, "error usage: errors API ERR [ERR...]");
            return;
        }
        size_t n = 0;
        for (int i = 2; i < argc && n < MAX_ERRS; i++) {
            if (parse_err(argv[i], &errs[n++]) < 0) {
                snprintf(reply, cap, "error unknown error %s", argv[i]);
                return;
            }
        }
        rd_kafka_mock_push_request_errors_array(g_mc, api, n, errs);
        snprintf(reply, cap, "ok");
    } else if (strcmp(cmd, "broker-errors") == 0) {
        int16_t api;
        if (argc < 4 || parse_int(argv[1], 1, 1000, &a) < 0 || parse_api(argv[2], &api) < 0) {
            snprintf(reply, cap, "error usage: broker-errors BROKER API ERR[:RTT_MS] ...");
            return;
        }
        /* The API takes (err, rtt) pairs as varargs: push them one by one,
         * which keeps their order on the stack. */
        for (int i = 3; i < argc; i++) {
            char *colon = strchr(argv[i], ':');
            long rtt = 0;
            if (colon) {
                *colon = '\0';
                if (parse_int(colon + 1, 0, 600000, &rtt) < 0) {
                    snprintf(reply, cap, "error bad delay in %s", argv[i]);
                    return;
                }
            }
            if (parse_err(argv[i], &err) < 0) {
                snprintf(reply, cap, "error unknown error %s", argv[i]);
                return;
            }
            rd_kafka_resp_err_t r = rd_kafka_mock_broker_push_request_error_rtts(
                g_mc, (int32_t)a, api, 1, err, (int)rtt);
            if (r) {
                snprintf(reply, cap, "error %s", rd_kafka_err2name(r));
                return;
            }
        }
        snprintf(reply, cap, "ok");
    } else if (strcmp(cmd, "pending") == 0) {
        int16_t api;
        size_t cnt = 0;
        if (argc != 3 || parse_int(argv[1], 1, 1000, &a) < 0 || parse_api(argv[2], &api) < 0) {
            snprintf(reply, cap, "error usage: pending BROKER API");
            return;
        }
        err = rd_kafka_mock_broker_error_stack_cnt(g_mc, (int32_t)a, api, &cnt);
        if (err)
            snprintf(reply, cap, "error %s", rd_kafka_err2name(err));
        else
            snprintf(reply, cap, "ok %zu", cnt);
    } else if (strcmp(cmd, "clear") == 0) {
        int16_t api;
        if (argc != 2 || parse_api(argv[1], &api) < 0) {
            snprintf(reply, cap, "error usage: clear API");
            return;
        }
        rd_kafka_mock_clear_request_errors(g_mc, api);
        snprintf(reply, cap, "ok");
    } else if (strcmp(cmd, "rtt") == 0) {
        if (argc != 3 || parse_int(argv[1], -1, 1000, &a) < 0 ||
            parse_int(argv[2], 0, 600000, &b) < 0) {
            snprintf(reply, cap, "error usage: rtt BROKER MS");
            return;
        }
        err = rd_kafka_mock_broker_set_rtt(g_mc, (int32_t)a, (int)b);
        snprintf(reply, cap, err ? "error %s" : "ok", rd_kafka_err2name(err));
    } else {
        snprintf(reply, cap, "error unknown command %s", cmd);
    }
}

/* ---- line I/O --------------------------------------------------------- */

/* A connection (or stdin/stdout) with a partial input line. */
struct client {
    int in, out;
    size_t len;
    char buf[MAX_LINE];
};

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read what is available; run every complete line. Returns -1 on EOF or
 * error (the caller closes the client). */
static int client_read(struct client *c)
{
    ssize_t n = read(c->in, c->buf + c->len, sizeof c->buf - 1 - c->len);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0)
        return -1;
    c->len += (size_t)n;
    char *nl;
    while ((nl = memchr(c->buf, '\n', c->len))) {
        *nl = '\0';
        char reply[MAX_LINE + 64];
        run_command(c->buf, reply, sizeof reply - 1);
        strcat(reply, "\n");
        if (write_all(c->out, reply, strlen(reply)) < 0)
            return -1;
        size_t used = (size_t)(nl + 1 - c->buf);
        memmove(c->buf, nl + 1, c->len - used);
        c->len -= used;
    }
    if (c->len == sizeof c->buf - 1)
        return -1; /* a line longer than any command */
    return 0;
}

static int listen_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "kafka_mock: control path too long: %s\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
        fprintf(stderr, "kafka_mock: cannot listen on %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void usage(void)
{
    fprintf(stderr, "usage: kafka_mock [--brokers N] [--control PATH] [--debug]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long brokers = 1;
    const char *control = NULL;
    int debug = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
            if (parse_int(argv[++i], 1, 16, &brokers) < 0)
                usage();
        } else if (strcmp(argv[i], "--control") == 0 && i + 1 < argc) {
            control = argv[++i];
        } else if (strcmp(argv[i], "--debug") == 0) {
            debug = 1;
        } else {
            usage();
        }
    }

    if (pipe2(g_sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return 1;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The mock cluster needs a client handle for its bookkeeping; this one
     * never produces. */
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (debug)
        rd_kafka_conf_set(conf, "debug", "mock,broker", errstr, sizeof errstr);
    else
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "kafka_mock: rd_kafka_new: %s\n", errstr);
        return 1;
    }
    g_mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
    if (!g_mc) {
        fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }

    int lfd = -1;
    if (control && (lfd = listen_unix(control)) < 0) {
        rd_kafka_mock_cluster_destroy(g_mc);
        rd_kafka_destroy(rk);
        return 1;
    }
    /* The first line: what clients put in bootstrap.servers. */
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(g_mc));
    fflush(stdout);

    struct client *clients[MAX_CLIENTS] = {0};
    if (!control) {
        clients[0] = calloc(1, sizeof *clients[0]);
        clients[0]->in = STDIN_FILENO;
        clients[0]->out = STDOUT_FILENO;
    }

    while (!g_stop) {
        struct pollfd pfd[MAX_CLIENTS + 2];
        int idx[MAX_CLIENTS + 2];
        int n = 0;
        pfd[n] = (struct pollfd){.fd = g_sigpipe[0], .events = POLLIN};
        idx[n++] = -1;
        if (lfd >= 0) {
            pfd[n] = (struct pollfd){.fd = lfd, .events = POLLIN};
            idx[n++] = -2;
        }
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (clients[i]) {
                pfd[n] = (struct pollfd){.fd = clients[i]->in, .events = POLLIN};
                idx[n++] = i;
            }
        }
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int k = 0; k < n; k++) {
            if (!pfd[k].revents)
                continue;
            if (idx[k] == -1) {
                g_stop = 1;
            } else if (idx[k] == -2) {
                int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                int slot = -1;
                for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
                    if (!clients[i])
                        slot = i;
                if (cfd >= 0 && slot < 0)
                    close(cfd);
                else if (cfd >= 0) {
                    clients[slot] = calloc(1, sizeof *clients[slot]);
                    clients[slot]->in = clients[slot]->out = cfd;
                }
            } else if (client_read(clients[idx[k]]) < 0) {
                struct client *c = clients[idx[k]];
                if (!control) {
                    g_stop = 1; /* EOF on stdin: the test is gone */
                } else {
                    close(c->in);
                }
                free(c);
                clients[idx[k]] = NULL;
            }
        }
    }

    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i] && control)
            close(clients[i]->in);
        free(clients[i]);
    }
    if (lfd >= 0) {
        close(lfd);
        unlink(control);
    }
    rd_kafka_mock_cluster_destroy(g_mc);
    rd_kafka_destroy(rk);
    return 0;
}
