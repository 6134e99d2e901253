/*
 * Metrics (see metrics.h): the per-table map and the Prometheus text
 * exposition. docs/metrics.md lists every metric this file renders; keep
 * the two in step.
 *
 * The per-table map is an array of pointers to individually allocated
 * counters, kept sorted by (schema, table): lookups are a binary search,
 * the pointers callers keep never move, and the exposition comes out in a
 * stable order.
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ww_build.h"

static void out_of_memory(void)
{
    fprintf(stderr, "walwire: out of memory (metrics)\n");
    abort();
}

void ww_metrics_init(struct ww_metrics *m)
{
    memset(m, 0, sizeof *m);
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        m->started_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void ww_metrics_free(struct ww_metrics *m)
{
    for (uint32_t i = 0; i < m->ntables; i++) {
        free(m->tables[i]->schema);
        free(m->tables[i]->table);
        free(m->tables[i]);
    }
    free(m->tables);
    memset(m, 0, sizeof *m);
}

static int table_cmp(const struct ww_table_counters *t, const char *schema, const char *table)
{
    int c = strcmp(t->schema, schema);
    return c ? c : strcmp(t->table, table);
}

struct ww_table_counters *ww_metrics_table(struct ww_metrics *m, const char *schema,
                                           const char *table)
{
    /* Binary search for the first entry not less than (schema, table). */
    uint32_t lo = 0, hi = m->ntables;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (table_cmp(m->tables[mid], schema, table) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->ntables && table_cmp(m->tables[lo], schema, table) == 0)
        return m->tables[lo];

    if (m->ntables == m->tables_cap) {
        uint32_t cap = m->tables_cap ? m->tables_cap * 2 : 16;
        struct ww_table_counters **t = realloc(m->tables, cap * sizeof *t);
        if (!t)
            out_of_memory();
        m->tables = t;
        m->tables_cap = cap;
    }
    struct ww_table_counters *tc = calloc(1, sizeof *tc);
    if (!tc || !(tc->schema = strdup(schema)) || !(tc->table = strdup(table)))
        out_of_memory();
    memmove(m->tables + lo + 1, m->tables + lo, (m->ntables - lo) * sizeof *m->tables);
    m->tables[lo] = tc;
    m->ntables++;
    return tc;
}

static const char op_chars[WW_M_NOPS] = {'c', 'u', 'd', 'r', 't', 'm'};

enum ww_metrics_op ww_metrics_op_index(char op)
{
    for (int i = 0; i < WW_M_NOPS; i++)
        if (op_chars[i] == op)
            return (enum ww_metrics_op)i;
    return WW_M_C;
}

/* ---- exposition -------------------------------------------------------- */

/* "# HELP name help\n# TYPE name type\n": once per metric family, before
 * its samples. help is a literal without backslash or newline. */
static void family(struct ww_buf *out, const char *name, const char *type, const char *help)
{
    ww_buf_puts(out, "# HELP ");
    ww_buf_append_str(out, name);
    ww_buf_putc(out, ' ');
    ww_buf_append_str(out, help);
    ww_buf_puts(out, "\n# TYPE ");
    ww_buf_append_str(out, name);
    ww_buf_putc(out, ' ');
    ww_buf_append_str(out, type);
    ww_buf_putc(out, '\n');
}

/* A label value, escaped as the format requires: \ " and newline become
 * \\ \" and \n; everything else (UTF-8 included) is copied. */
static void label_value(struct ww_buf *out, const char *v)
{
    ww_buf_putc(out, '"');
    for (const char *p = v; *p; p++) {
        switch (*p) {
        case '\\':
            ww_buf_puts(out, "\\\\");
            break;
        case '"':
            ww_buf_puts(out, "\\\"");
            break;
        case '\n':
            ww_buf_puts(out, "\\n");
            break;
        default:
            ww_buf_putc(out, *p);
        }
    }
    ww_buf_putc(out, '"');
}

/* {schema="...",table="..." — the caller closes the brace. */
static void table_labels(struct ww_buf *out, const struct ww_table_counters *t)
{
    ww_buf_puts(out, "{schema=");
    label_value(out, t->schema);
    ww_buf_puts(out, ",table=");
    label_value(out, t->table);
}

static void sample_u64(struct ww_buf *out, const char *name, uint64_t v)
{
    ww_buf_append_str(out, name);
    ww_buf_putc(out, ' ');
    ww_buf_put_u64(out, v);
    ww_buf_putc(out, '\n');
}

/* A family with one unlabelled sample. */
static void metric_u64(struct ww_buf *out, const char *name, const char *type, const char *help,
                       uint64_t v)
{
    family(out, name, type, help);
    sample_u64(out, name, v);
}

/* Microseconds as seconds with six decimals ("12.000345"). */
static void put_seconds(struct ww_buf *out, int64_t us)
{
    uint64_t a = us < 0 ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
    if (us < 0)
        ww_buf_putc(out, '-');
    ww_buf_put_u64(out, a / 1000000);
    char frac[7];
    uint64_t f = a % 1000000;
    for (int i = 5; i >= 0; i--, f /= 10)
        frac[i + 1] = (char)('0' + f % 10);
    frac[0] = '.';
    ww_buf_append(out, frac, sizeof frac);
}

static void metric_seconds(struct ww_buf *out, const char *name, const char *help, int64_t us)
{
    family(out, name, "gauge", help);
    ww_buf_append_str(out, name);
    ww_buf_putc(out, ' ');
    put_seconds(out, us);
    ww_buf_putc(out, '\n');
}

/* Bytes of WAL between what the server has written and what the sink has
 * made durable; 0 while either is unknown. */
static uint64_t lag_bytes(const struct ww_metrics *m)
{
    if (m->server_lsn == 0 || m->confirmed_lsn == 0 || m->server_lsn <= m->confirmed_lsn)
        return 0;
    return m->server_lsn - m->confirmed_lsn;
}

/* Age of the newest acknowledged commit; 0 while unknown, and 0 when
 * caught up (nothing in flight and everything received confirmed), so
 * that an idle database does not look like a growing lag. */
static int64_t lag_us(const struct ww_metrics *m)
{
    if (m->now_us == 0 || m->last_commit_time_us == 0 || m->now_us <= m->last_commit_time_us)
        return 0;
    if (m->inflight_events == 0 && m->confirmed_lsn >= m->received_lsn)
        return 0;
    return m->now_us - m->last_commit_time_us;
}

void ww_metrics_render(const struct ww_metrics *m, struct ww_buf *out)
{
    family(out, "walwire_build_info", "gauge", "walwire version; the value is always 1.");
    ww_buf_puts(out, "walwire_build_info{version=");
    label_value(out, WW_VERSION);
    ww_buf_puts(out, "} 1\n");
    metric_seconds(out, "walwire_start_time_seconds",
                   "Start time of the process since the Unix epoch, in seconds.", m->started_us);

    /* Per table. Samples of one family are contiguous. */
    family(out, "walwire_events_total", "counter",
           "Change events accepted by the sink, by table and op (c u d r t m).");
    for (uint32_t i = 0; i < m->ntables; i++) {
        const struct ww_table_counters *t = m->tables[i];
        for (int op = 0; op < WW_M_NOPS; op++) {
            ww_buf_puts(out, "walwire_events_total");
            table_labels(out, t);
            ww_buf_puts(out, ",op=\"");
            ww_buf_putc(out, op_chars[op]);
            ww_buf_puts(out, "\"} ");
            ww_buf_put_u64(out, t->events[op]);
            ww_buf_putc(out, '\n');
        }
    }
    family(out, "walwire_event_bytes_total", "counter",
           "Key and value bytes of the events accepted by the sink, by table.");
    for (uint32_t i = 0; i < m->ntables; i++) {
        ww_buf_puts(out, "walwire_event_bytes_total");
        table_labels(out, m->tables[i]);
        ww_buf_puts(out, "} ");
        ww_buf_put_u64(out, m->tables[i]->bytes);
        ww_buf_putc(out, '\n');
    }

    /* Pipeline. */
    metric_u64(out, "walwire_transactions_total", "counter",
               "Transactions received from the replication stream.", m->transactions);
    metric_u64(out, "walwire_acks_total", "counter",
               "Acknowledgements received from the sink (successful or not).", m->acks);
    metric_u64(out, "walwire_sink_errors_total", "counter",
               "Acknowledgements that carried an error (the sink gave up on an event).",
               m->sink_errors);
    metric_u64(out, "walwire_sink_retries_total", "counter",
               "Retries the sink made after a transient failure.", m->sink_retries);
    metric_u64(out, "walwire_inflight_events", "gauge",
               "Events handed to the sink and not yet acknowledged.", m->inflight_events);
    metric_u64(out, "walwire_inflight_bytes", "gauge",
               "Bytes of the events handed to the sink and not yet acknowledged.",
               m->inflight_bytes);

    /* Positions, as byte offsets in the WAL (an LSN as one number). */
    metric_u64(out, "walwire_received_lsn", "gauge",
               "WAL position received from the server, as a number of bytes.", m->received_lsn);
    metric_u64(out, "walwire_confirmed_lsn", "gauge",
               "WAL position confirmed to the server (durable at the sink), as a number of bytes.",
               m->confirmed_lsn);
    metric_u64(out, "walwire_server_wal_lsn", "gauge",
               "The server's WAL end as last reported by the stream, as a number of bytes.",
               m->server_lsn);
    metric_u64(out, "walwire_lag_bytes", "gauge",
               "Server WAL end minus the confirmed position, in bytes (0 when unknown).",
               lag_bytes(m));
    metric_seconds(out, "walwire_lag_seconds",
                   "Age of the newest transaction made durable at the sink, from its commit "
                   "timestamp (0 when unknown or caught up).",
                   lag_us(m));
    metric_u64(out, "walwire_slot_retained_wal_bytes", "gauge",
               "WAL the server retains for the replication slot, in bytes (sampled).",
               m->slot_retained_bytes);

    /* Snapshot. */
    metric_u64(out, "walwire_snapshot_rows_copied_total", "counter",
               "Rows read by the initial snapshot.", m->snapshot_rows_done);
    metric_u64(out, "walwire_snapshot_rows_estimated", "gauge",
               "Estimated rows of the tables in the snapshot (from the planner's statistics).",
               m->snapshot_rows_total);
    metric_u64(out, "walwire_snapshot_running", "gauge", "1 while a snapshot runs.",
               m->snapshot_running);

    /* State. */
    metric_u64(out, "walwire_streaming", "gauge", "1 while the replication stream runs.",
               m->streaming);
    metric_u64(out, "walwire_active", "gauge",
               "1 when this instance holds the replication slot; 0 while it waits (standby).",
               m->active);
    metric_u64(out, "walwire_reconnects_total", "counter",
               "Reconnections to PostgreSQL after a lost connection or a busy slot.",
               m->reconnects);
}
