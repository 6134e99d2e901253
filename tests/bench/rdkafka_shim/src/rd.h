/*
 * Just enough of librdkafka's internal "rd.h" to compile its example
 * rdkafka_performance.c (shipped by Debian's librdkafka-dev in
 * /usr/share/doc/librdkafka-dev/examples/) against the installed library:
 * the example includes "../src/rd.h" and "rdtime.h" from librdkafka's
 * source tree, which the package does not ship. Written for walwire's
 * benchmark (tests/bench/kafka.sh); nothing here is librdkafka's code.
 */
#ifndef WW_BENCH_RD_SHIM_H
#define WW_BENCH_RD_SHIM_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int64_t rd_ts_t; /* microseconds */

#define RD_UNUSED __attribute__((unused))
#define RD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define rd_snprintf snprintf

/* A monotonic clock in microseconds. */
static RD_UNUSED rd_ts_t rd_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (rd_ts_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
