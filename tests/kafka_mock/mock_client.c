#define _GNU_SOURCE
#include "mock_client.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read one line from fd into buf, waiting at most timeout_ms. */
static bool read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    while (n + 1 < cap) {
        uint64_t now = now_ms();
        if (now >= deadline)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(deadline - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        char c;
        ssize_t got = read(fd, &c, 1); /* replies are short: byte by byte */
        if (got <= 0)
            break;
        if (c == '\n') {
            buf[n] = '\0';
            return true;
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    return false;
}

void wwk_mock_start(struct wwk_mock *m, int brokers)
{
    memset(m, 0, sizeof *m);
    int in[2], out[2];
    cr_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char nb[16];
    snprintf(nb, sizeof nb, "%d", brokers);
    char *argv[] = {WW_KAFKA_MOCK_BIN, "--brokers", nb, NULL};
    int r = posix_spawn(&m->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert(r == 0, "cannot start %s: %s", argv[0], strerror(r));
    close(in[0]);
    close(out[1]);
    m->cmd_fd = in[1];
    m->reply_fd = out[0];
    bool ok = read_line(m->reply_fd, m->bootstrap, sizeof m->bootstrap, 10000);
    cr_assert(ok && strchr(m->bootstrap, ':'), "kafka_mock did not print its bootstrap servers");
}

static const char *vcmd(struct wwk_mock *m, const char *fmt, va_list ap)
{
    char line[1024];
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    cr_assert(n > 0 && (size_t)n < sizeof line - 1);
    line[n++] = '\n';
    cr_assert(write(m->cmd_fd, line, (size_t)n) == n, "kafka_mock is gone");
    bool ok = read_line(m->reply_fd, m->reply, sizeof m->reply, 10000);
    cr_assert(ok, "kafka_mock did not answer %.*s", n - 1, line);
    return m->reply;
}

const char *wwk_mock_cmd(struct wwk_mock *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *r = vcmd(m, fmt, ap);
    va_end(ap);
    return r;
}

const char *wwk_mock_ok(struct wwk_mock *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *r = vcmd(m, fmt, ap);
    va_end(ap);
    cr_assert(strncmp(r, "ok", 2) == 0, "kafka_mock refused a command: %s", r);
    return r;
}

void wwk_mock_stop(struct wwk_mock *m)
{
    if (!m->pid)
        return;
    close(m->cmd_fd);
    uint64_t deadline = now_ms() + 10000;
    int status;
    while (waitpid(m->pid, &status, WNOHANG) == 0) {
        if (now_ms() >= deadline) {
            kill(m->pid, SIGKILL);
            waitpid(m->pid, &status, 0);
            break;
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL); /* the poll interval of this deadline loop */
    }
    close(m->reply_fd);
    m->pid = 0;
}

/* ---- reading topics ---------------------------------------------------- */

struct wwk_reader {
    rd_kafka_t *rk;
};

struct wwk_reader *wwk_reader_new(const char *bootstrap)
{
    static int counter;
    char errstr[512], group[64];
    snprintf(group, sizeof group, "wwt-reader-%d-%d", (int)getpid(), ++counter);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *props[][2] = {
        {"bootstrap.servers", bootstrap},
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
        {"allow.auto.create.topics", "false"},
        {"log_level", "0"},
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        cr_assert(rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr, sizeof errstr) ==
                      RD_KAFKA_CONF_OK,
                  "%s", errstr);
    struct wwk_reader *r = calloc(1, sizeof *r);
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    cr_assert(r->rk, "consumer: %s", errstr);
    return r;
}

void wwk_reader_free(struct wwk_reader *r)
{
    if (!r)
        return;
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
    free(r);
}

/* Partition count of topic from a metadata request of all topics (which
 * does not create it), or -1 when it does not exist. */
static int partition_count(struct wwk_reader *r, const char *topic)
{
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(r->rk, 1, NULL, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    int n = -1;
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0 && md->topics[i].err == 0)
            n = md->topics[i].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return n;
}

char *wwk_list_topics(struct wwk_reader *r)
{
    const struct rd_kafka_metadata *md;
    cr_assert(rd_kafka_metadata(r->rk, 1, NULL, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    size_t cap = 1, len = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        cap += strlen(md->topics[i].topic) + 1;
    char *s = calloc(1, cap);
    for (int i = 0; i < md->topic_cnt; i++)
        len += (size_t)sprintf(s + len, "%s\n", md->topics[i].topic);
    rd_kafka_metadata_destroy(md);
    return s;
}

long long wwk_topic_count(struct wwk_reader *r, const char *topic)
{
    int n = partition_count(r, topic);
    if (n < 0)
        return -1;
    long long total = 0;
    for (int p = 0; p < n; p++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(r->rk, topic, p, &lo, &hi, 5000) != 0)
            return -1;
        total += hi;
    }
    return total;
}

static char *dup_or_null(const void *p, size_t n)
{
    if (!p)
        return NULL;
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static char *header(const rd_kafka_message_t *m, const char *name)
{
    rd_kafka_headers_t *h;
    const void *v;
    size_t n;
    if (rd_kafka_message_headers(m, &h) != 0 || rd_kafka_header_get_last(h, name, &v, &n) != 0)
        return NULL;
    return dup_or_null(v ? v : "", v ? n : 0);
}

static int by_partition_offset(const void *a, const void *b)
{
    const struct wwk_record *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

size_t wwk_read_topic(struct wwk_reader *r, const char *topic, size_t expect, int timeout_ms,
                      struct wwk_records *out)
{
    memset(out, 0, sizeof *out);
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    int nparts = -1;
    while ((nparts = partition_count(r, topic)) <= 0 && now_ms() < deadline) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL); /* the poll interval of this deadline loop */
    }
    if (nparts <= 0)
        return 0;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert(rd_kafka_assign(r->rk, parts) == 0);
    rd_kafka_topic_partition_list_destroy(parts);

    bool *at_end = calloc((size_t)nparts, sizeof *at_end);
    for (;;) {
        int ends = 0;
        for (int p = 0; p < nparts; p++)
            ends += at_end[p];
        if ((out->n >= expect && ends == nparts) || now_ms() >= deadline)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < nparts)
                at_end[m->partition] = true;
        } else if (m->err == 0) {
            if (m->partition >= 0 && m->partition < nparts)
                at_end[m->partition] = false;
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 1024;
                out->v = realloc(out->v, out->cap * sizeof *out->v);
            }
            out->v[out->n++] = (struct wwk_record){
                .partition = m->partition,
                .offset = m->offset,
                .key = dup_or_null(m->key, m->key_len),
                .key_len = m->key_len,
                .value = dup_or_null(m->payload, m->len),
                .value_len = m->len,
                .lsn_header = header(m, "walwire.lsn"),
                .txid_header = header(m, "walwire.txid"),
            };
        }
        rd_kafka_message_destroy(m);
    }
    free(at_end);
    rd_kafka_assign(r->rk, NULL);
    qsort(out->v, out->n, sizeof *out->v, by_partition_offset);
    return out->n;
}

void wwk_records_free(struct wwk_records *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->v[i].key);
        free(rs->v[i].value);
        free(rs->v[i].lsn_header);
        free(rs->v[i].txid_header);
    }
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}
