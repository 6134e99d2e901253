/*
 * Test helpers for the Kafka suites: a private kafka_mock process per test
 * (started here, driven over its stdin/stdout, gone when the test ends),
 * and a real librdkafka consumer that reads topics back.
 *
 * Like tests/lib/harness.h, every helper asserts (Criterion) on failure.
 * Nothing sleeps to wait for a result: reads take a deadline.
 */
#ifndef WWT_KAFKA_MOCK_CLIENT_H
#define WWT_KAFKA_MOCK_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct wwk_mock {
    pid_t pid;
    int cmd_fd;   /* the mock's stdin */
    int reply_fd; /* the mock's stdout */
    char bootstrap[256];
    char reply[1024]; /* the last reply line */
};

/* Start kafka_mock with `brokers` brokers; fills m->bootstrap. */
void wwk_mock_start(struct wwk_mock *m, int brokers);
/* Send one command line (see kafka_mock.c); returns the reply line. The
 * _ok variant asserts that the reply starts with "ok". */
const char *wwk_mock_cmd(struct wwk_mock *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *wwk_mock_ok(struct wwk_mock *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* EOF on its stdin, then wait (SIGKILL after 10 s). */
void wwk_mock_stop(struct wwk_mock *m);

/* One record read back. Strings are NUL-terminated copies; a null key or
 * value is NULL. */
struct wwk_record {
    int32_t partition;
    int64_t offset;
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    char *lsn_header;  /* walwire.lsn, NULL when absent */
    char *txid_header; /* walwire.txid, NULL when absent */
};

struct wwk_records {
    struct wwk_record *v;
    size_t n, cap;
};

/* A consumer on the mock (no group membership: partitions are assigned). */
struct wwk_reader;
struct wwk_reader *wwk_reader_new(const char *bootstrap);
void wwk_reader_free(struct wwk_reader *r);
/* Records in topic now (sum of the partitions' high watermarks), or -1
 * when the topic does not exist. Does not create the topic. */
long long wwk_topic_count(struct wwk_reader *r, const char *topic);
/* Every record of topic from the beginning: waits until at least `expect`
 * records arrived and every partition was read to its end, or timeout_ms
 * passed. Returns the number read; records are in partition order, then
 * offset order. */
size_t wwk_read_topic(struct wwk_reader *r, const char *topic, size_t expect, int timeout_ms,
                      struct wwk_records *out);
/* Topics that exist on the cluster (newline-separated, malloc'd). */
char *wwk_list_topics(struct wwk_reader *r);
void wwk_records_free(struct wwk_records *rs);

#endif
