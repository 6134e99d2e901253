/*
 * Metrics: the per-table map and the Prometheus text exposition. The
 * rendered text is checked with a small strict parser of the text format
 * (version 0.0.4), written here: metric and label name grammar, label value
 * escapes, HELP and TYPE once per family and before its samples, samples of
 * a family contiguous, no duplicate series, values that parse as floats.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* ---- a strict parser of the text format -------------------------------- */

#define MAX_LABELS 4

struct sample {
    char name[128];
    int nlabels;
    char lname[MAX_LABELS][64];
    char lvalue[MAX_LABELS][256];
    double value;
};

struct family {
    char name[128];
    char type[16];
    bool help, typed, has_samples, closed;
};

struct expo {
    struct sample *samples;
    size_t nsamples;
    struct family families[64];
    size_t nfamilies;
    char err[256]; /* the first violation, with its line number */
};

/* Record a violation and make the caller return -1. */
#define FAIL(e, lineno, ...)                                                                       \
    do {                                                                                           \
        int n_ = snprintf((e)->err, sizeof(e)->err, "line %d: ", (lineno));                        \
        snprintf((e)->err + n_, sizeof(e)->err - (size_t)n_, __VA_ARGS__);                         \
        return -1;                                                                                 \
    } while (0)

static bool is_name_start(char c, bool colon)
{
    return isalpha((unsigned char)c) || c == '_' || (colon && c == ':');
}

static bool is_name_char(char c, bool colon)
{
    return is_name_start(c, colon) || isdigit((unsigned char)c);
}

/* Read a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or a label name (no ':'). */
static const char *parse_name(const char *p, char *out, size_t outlen, bool colon)
{
    size_t n = 0;
    if (!is_name_start(*p, colon))
        return NULL;
    while (is_name_char(*p, colon)) {
        if (n + 1 >= outlen)
            return NULL;
        out[n++] = *p++;
    }
    out[n] = '\0';
    return p;
}

/* A float as the format allows: decimal/exponent forms, NaN, +Inf, -Inf. */
static bool parse_value(const char *s, double *out)
{
    if (strcmp(s, "NaN") == 0 || strcmp(s, "+Inf") == 0 || strcmp(s, "-Inf") == 0) {
        *out = s[0] == 'N' ? NAN : s[0] == '+' ? INFINITY : -INFINITY;
        return true;
    }
    if (!*s)
        return false;
    for (const char *c = s; *c; c++)
        if (!isdigit((unsigned char)*c) && !strchr("+-.eE", *c))
            return false;
    char *end;
    *out = strtod(s, &end);
    return *end == '\0';
}

static struct family *find_family(struct expo *e, const char *name)
{
    for (size_t i = 0; i < e->nfamilies; i++)
        if (strcmp(e->families[i].name, name) == 0)
            return &e->families[i];
    return NULL;
}

/* One "# HELP name text" or "# TYPE name type" line. */
static int parse_comment(struct expo *e, const char *line, int lineno)
{
    bool help = strncmp(line, "# HELP ", 7) == 0;
    if (!help && strncmp(line, "# TYPE ", 7) != 0)
        FAIL(e, lineno, "unexpected comment");
    char name[128];
    const char *p = parse_name(line + 7, name, sizeof name, true);
    if (!p || *p != ' ')
        FAIL(e, lineno, "bad metric name");
    p++;
    struct family *f = find_family(e, name);
    if (!f) {
        if (e->nfamilies == 64)
            FAIL(e, lineno, "too many families");
        f = &e->families[e->nfamilies++];
        memset(f, 0, sizeof *f);
        snprintf(f->name, sizeof f->name, "%s", name);
    }
    if (f->has_samples)
        FAIL(e, lineno, "HELP or TYPE after samples of %s", name);
    if (help) {
        if (f->help)
            FAIL(e, lineno, "second HELP for %s", name);
        f->help = true;
        for (; *p; p++)
            if (*p == '\\' && *++p != '\\' && *p != 'n')
                FAIL(e, lineno, "bad escape in HELP");
        return 0;
    }
    if (f->typed)
        FAIL(e, lineno, "second TYPE for %s", name);
    if (strcmp(p, "counter") != 0 && strcmp(p, "gauge") != 0 && strcmp(p, "histogram") != 0 &&
        strcmp(p, "summary") != 0 && strcmp(p, "untyped") != 0)
        FAIL(e, lineno, "unknown type \"%s\"", p);
    f->typed = true;
    snprintf(f->type, sizeof f->type, "%s", p);
    return 0;
}

/* name{label="value",...} into s; returns where the value starts. */
static const char *parse_series(struct sample *s, const char *p)
{
    p = parse_name(p, s->name, sizeof s->name, true);
    if (!p)
        return NULL;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            if (s->nlabels == MAX_LABELS)
                return NULL;
            p = parse_name(p, s->lname[s->nlabels], sizeof s->lname[0], false);
            if (!p || strncmp(s->lname[s->nlabels], "__", 2) == 0)
                return NULL;
            for (int i = 0; i < s->nlabels; i++)
                if (strcmp(s->lname[i], s->lname[s->nlabels]) == 0)
                    return NULL; /* a label twice */
            if (p[0] != '=' || p[1] != '"')
                return NULL;
            p += 2;
            size_t n = 0;
            char *v = s->lvalue[s->nlabels];
            for (; *p != '"'; p++) {
                if (*p == '\0' || n + 1 >= sizeof s->lvalue[0])
                    return NULL; /* unterminated */
                char c = *p;
                if (c == '\\') {
                    p++;
                    if (*p != '\\' && *p != '"' && *p != 'n')
                        return NULL; /* bad escape */
                    c = *p == 'n' ? '\n' : *p;
                }
                v[n++] = c;
            }
            v[n] = '\0';
            p++;
            s->nlabels++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return NULL;
        }
        p++;
    }
    return *p == ' ' ? p + 1 : NULL;
}

/* One sample line: name{label="value",...} value [timestamp] */
static int parse_sample(struct expo *e, const char *line, int lineno)
{
    struct sample s;
    memset(&s, 0, sizeof s);
    const char *p = parse_series(&s, line);
    if (!p)
        FAIL(e, lineno, "malformed series");
    char value[64];
    size_t n = strcspn(p, " ");
    if (n == 0 || n >= sizeof value)
        FAIL(e, lineno, "bad value");
    memcpy(value, p, n);
    value[n] = '\0';
    if (!parse_value(value, &s.value))
        FAIL(e, lineno, "value \"%s\" is not a float", value);
    if (p[n] == ' ') {
        /* An optional timestamp: an integer (walwire sends none). */
        const char *t = p + n + 1;
        if (!*t)
            FAIL(e, lineno, "trailing space");
        for (; *t; t++)
            if (!isdigit((unsigned char)*t) && *t != '-')
                FAIL(e, lineno, "bad timestamp");
    }

    /* The family: declared before, samples contiguous, series unique. */
    struct family *f = find_family(e, s.name);
    if (!f || !f->help || !f->typed)
        FAIL(e, lineno, "%s has no HELP and TYPE before it", s.name);
    if (f->closed)
        FAIL(e, lineno, "samples of %s are not contiguous", s.name);
    if (strcmp(f->type, "counter") == 0) {
        size_t len = strlen(s.name);
        if (len <= 6 || strcmp(s.name + len - 6, "_total") != 0)
            FAIL(e, lineno, "counter %s does not end in _total", s.name);
        if (!(s.value >= 0))
            FAIL(e, lineno, "counter %s is negative", s.name);
    }
    for (size_t i = 0; i < e->nfamilies; i++)
        if (e->families[i].has_samples && &e->families[i] != f)
            e->families[i].closed = true;
    f->has_samples = true;
    for (size_t i = 0; i < e->nsamples; i++) {
        struct sample *o = &e->samples[i];
        if (strcmp(o->name, s.name) != 0 || o->nlabels != s.nlabels)
            continue;
        bool same = true;
        for (int j = 0; j < s.nlabels && same; j++)
            same = strcmp(o->lname[j], s.lname[j]) == 0 && strcmp(o->lvalue[j], s.lvalue[j]) == 0;
        if (same)
            FAIL(e, lineno, "duplicate series %s", s.name);
    }
    e->samples = realloc(e->samples, (e->nsamples + 1) * sizeof *e->samples);
    e->samples[e->nsamples++] = s;
    return 0;
}

/* Parse a whole exposition: 0, or -1 with the first violation in e->err.
 * e->samples is to be freed with expo_free either way. */
static int parse_expo(struct expo *e, const char *text, size_t len)
{
    memset(e, 0, sizeof *e);
    if (len == 0 || text[len - 1] != '\n')
        FAIL(e, 0, "the exposition must end with a newline");
    if (strlen(text) != len)
        FAIL(e, 0, "NUL byte in the exposition");
    int lineno = 0;
    for (const char *p = text; p < text + len;) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t n = (size_t)(nl - p);
        char line[2048];
        lineno++;
        if (n == 0 || n >= sizeof line)
            FAIL(e, lineno, "empty or overlong line");
        memcpy(line, p, n);
        line[n] = '\0';
        if (strchr(line, '\r'))
            FAIL(e, lineno, "carriage return");
        int r = line[0] == '#' ? parse_comment(e, line, lineno) : parse_sample(e, line, lineno);
        if (r < 0)
            return r;
        p = nl + 1;
    }
    for (size_t i = 0; i < e->nfamilies; i++)
        if (!e->families[i].help || !e->families[i].typed)
            FAIL(e, lineno, "%s lacks HELP or TYPE", e->families[i].name);
    return 0;
}

static void expo_free(struct expo *e)
{
    free(e->samples);
    e->samples = NULL;
}

/* The value of the series name{k1=v1,k2=v2,...} (NULL-terminated pairs);
 * fails the test when it is absent. */
static double value_of(const struct expo *e, const char *name, ...)
{
    const char *want[2 * MAX_LABELS];
    int nwant = 0;
    va_list ap;
    va_start(ap, name);
    for (const char *k; (k = va_arg(ap, const char *));) {
        want[nwant++] = k;
        want[nwant++] = va_arg(ap, const char *);
    }
    va_end(ap);
    for (size_t i = 0; i < e->nsamples; i++) {
        const struct sample *s = &e->samples[i];
        if (strcmp(s->name, name) != 0 || s->nlabels * 2 != nwant)
            continue;
        bool match = true;
        for (int j = 0; j < nwant && match; j += 2) {
            bool found = false;
            for (int l = 0; l < s->nlabels; l++)
                found |=
                    strcmp(s->lname[l], want[j]) == 0 && strcmp(s->lvalue[l], want[j + 1]) == 0;
            match = found;
        }
        if (match)
            return s->value;
    }
    cr_assert_fail("no series %s with the labels asked for", name);
    return NAN;
}

static size_t count_series(const struct expo *e, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < e->nsamples; i++)
        n += strcmp(e->samples[i].name, name) == 0;
    return n;
}

static void render_and_parse(const struct ww_metrics *m, struct expo *e, struct ww_buf *out)
{
    ww_buf_reset(out);
    ww_metrics_render(m, out);
    ww_buf_cstr(out);
    int r = parse_expo(e, out->data, out->len);
    cr_assert_eq(r, 0, "invalid exposition: %s\n%s", e->err, out->data);
}

/* ---- the parser itself rejects what it should ---------------------------- */

Test(prom_parser, accepts_a_valid_exposition)
{
    const char *ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 3\n"
                     "# HELP g G \\\\ \\n.\n# TYPE g gauge\ng 1.5e3\ng{y=\"\"} -Inf\n";
    struct expo e;
    cr_assert_eq(parse_expo(&e, ok, strlen(ok)), 0, "%s", e.err);
    cr_assert_eq(e.nsamples, 3);
    cr_assert_float_eq(value_of(&e, "a_total", "x", "q\"\\\n", NULL), 3.0, 1e-9);
    cr_assert_float_eq(value_of(&e, "g", NULL), 1500.0, 1e-9);
    expo_free(&e);
}

Test(prom_parser, rejects_malformed_expositions)
{
    static const char *const bad[] = {
        "g 1\n",                                              /* no HELP/TYPE */
        "# HELP g G.\n# TYPE g gauge\ng one\n",               /* not a float */
        "# HELP g G.\n# TYPE g gauge\ng{a=\"\\x\"} 1\n",      /* bad escape */
        "# HELP g G.\n# TYPE g gauge\ng 1\n# TYPE g gauge\n", /* TYPE after samples */
        "# HELP g G.\n# TYPE g gauge\n# TYPE g gauge\ng 1\n", /* TYPE twice */
        "# HELP c C.\n# TYPE c counter\nc 1\n",               /* counter w/o _total */
        "# HELP g G.\n# TYPE g gauge\n# HELP h H.\n# TYPE h gauge\ng 1\nh 1\ng{a=\"b\"} 2\n",
        "# HELP g G.\n# TYPE g gauge\ng{1a=\"b\"} 1\n",        /* bad label name */
        "# HELP g G.\n# TYPE g gauge\ng 1\ng 2\n",             /* duplicate series */
        "# HELP g G.\n# TYPE g gauge\ng{a=\"b} 1\n",           /* unterminated */
        "# HELP g G.\n# TYPE g gauge\ng{a=\"b\",a=\"c\"} 1\n", /* label twice */
        "# HELP g G.\n# TYPE g gauge\ng 1",                    /* no final newline */
        "# HELP g G.\n# TYPE g gauge\n\ng 1\n",                /* empty line */
        "# HELP 9g G.\n# TYPE 9g gauge\n9g 1\n",               /* bad metric name */
        "# HELP g G.\n# TYPE g gauge\ng  1\n",                 /* two spaces */
        "# HELP g G.\n# TYPE g gauge\ng 1 \n",                 /* trailing space */
        "# HELP g G.\n# TYPE g weird\ng 1\n",                  /* unknown type */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct expo e;
        cr_expect_neq(parse_expo(&e, bad[i], strlen(bad[i])), 0, "accepted bad case %zu: %s", i,
                      bad[i]);
        expo_free(&e);
    }
}

/* ---- the map ----------------------------------------------------------- */

Test(metrics, op_index)
{
    const char ops[] = "cudrtm";
    for (int i = 0; i < WW_M_NOPS; i++)
        cr_assert_eq(ww_metrics_op_index(ops[i]), (enum ww_metrics_op)i, "op %c", ops[i]);
    cr_assert_eq(ww_metrics_op_index('x'), WW_M_C);
    cr_assert_eq(ww_metrics_op_index('\0'), WW_M_C);
}

Test(metrics, table_pointers_are_stable_and_unique)
{
    struct ww_metrics m;
    ww_metrics_init(&m);
    enum { N = 500 };
    struct ww_table_counters *first[N];
    char name[32];
    /* Insert in an order that is neither sorted nor reversed. */
    for (int k = 0; k < N; k++) {
        int i = (k * 7919) % N;
        snprintf(name, sizeof name, "t%03d", i);
        first[i] = ww_metrics_table(&m, i % 2 ? "public" : "audit", name);
        cr_assert_not_null(first[i]);
        first[i]->events[WW_M_U] = (uint64_t)i;
    }
    cr_assert_eq(m.ntables, N);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "t%03d", i);
        struct ww_table_counters *t = ww_metrics_table(&m, i % 2 ? "public" : "audit", name);
        cr_assert_eq(t, first[i], "table %d moved or was created twice", i);
        cr_assert_str_eq(t->table, name);
        cr_assert_str_eq(t->schema, i % 2 ? "public" : "audit");
        cr_assert_eq(t->events[WW_M_U], (uint64_t)i);
    }
    cr_assert_eq(m.ntables, N, "a lookup created a table");
    /* Same table name in another schema is another table. */
    struct ww_table_counters *other = ww_metrics_table(&m, "public", "t000");
    cr_assert_neq(other, first[0]);
    cr_assert_eq(m.ntables, N + 1);
    ww_metrics_free(&m);
    cr_assert_eq(m.ntables, 0);
    cr_assert_null(m.tables);
}

/* ---- the exposition ---------------------------------------------------- */

static const char *const all_families[] = {
    "walwire_build_info",
    "walwire_start_time_seconds",
    "walwire_events_total",
    "walwire_event_bytes_total",
    "walwire_transactions_total",
    "walwire_acks_total",
    "walwire_sink_errors_total",
    "walwire_sink_retries_total",
    "walwire_inflight_events",
    "walwire_inflight_bytes",
    "walwire_received_lsn",
    "walwire_confirmed_lsn",
    "walwire_server_wal_lsn",
    "walwire_lag_bytes",
    "walwire_lag_seconds",
    "walwire_slot_retained_wal_bytes",
    "walwire_snapshot_rows_copied_total",
    "walwire_snapshot_rows_estimated",
    "walwire_snapshot_running",
    "walwire_streaming",
    "walwire_active",
    "walwire_reconnects_total",
};

#define NFAMILIES (sizeof all_families / sizeof *all_families)

Test(metrics, empty_exposition_is_valid_and_complete)
{
    struct ww_metrics m;
    ww_metrics_init(&m);
    cr_assert_gt(m.started_us, 1600000000LL * 1000000, "init did not set the start time");
    struct ww_buf out = {0};
    struct expo e;
    render_and_parse(&m, &e, &out);
    cr_assert_eq(e.nfamilies, NFAMILIES, "families: %zu", e.nfamilies);
    for (size_t i = 0; i < NFAMILIES; i++) {
        struct family *f = find_family(&e, all_families[i]);
        cr_assert_not_null(f, "missing %s", all_families[i]);
        size_t len = strlen(f->name);
        bool total = len > 6 && strcmp(f->name + len - 6, "_total") == 0;
        cr_assert_eq(strcmp(f->type, "counter") == 0, total, "%s: type %s", f->name, f->type);
    }
    /* No table yet: the per-table families have no samples, the others one. */
    cr_assert_eq(count_series(&e, "walwire_events_total"), 0);
    cr_assert_eq(count_series(&e, "walwire_event_bytes_total"), 0);
    cr_assert_eq(e.nsamples, NFAMILIES - 2);
    cr_assert_float_eq(value_of(&e, "walwire_build_info", "version", "0.1.0", NULL), 1.0, 1e-9);
    cr_assert_float_eq(value_of(&e, "walwire_start_time_seconds", NULL), m.started_us / 1e6, 1e-6);
    cr_assert_eq(value_of(&e, "walwire_lag_bytes", NULL), 0.0);
    cr_assert_eq(value_of(&e, "walwire_lag_seconds", NULL), 0.0);
    expo_free(&e);
    ww_buf_free(&out);
    ww_metrics_free(&m);
}

/* A populated struct, as the runner would leave it mid-stream. */
static void populate(struct ww_metrics *m)
{
    ww_metrics_init(m);
    struct ww_table_counters *users = ww_metrics_table(m, "public", "users");
    users->events[ww_metrics_op_index('c')] = 10;
    users->events[ww_metrics_op_index('u')] = 4;
    users->events[ww_metrics_op_index('d')] = 1;
    users->events[ww_metrics_op_index('r')] = 1000;
    users->bytes = 123456;
    struct ww_table_counters *orders = ww_metrics_table(m, "sales", "orders");
    orders->events[WW_M_T] = 2;
    orders->events[WW_M_M] = 3;
    orders->bytes = 77;
    m->acks = 1020;
    m->sink_errors = 2;
    m->sink_retries = 5;
    m->inflight_events = 3;
    m->inflight_bytes = 4096;
    m->transactions = 42;
    m->received_lsn = 0x16B3748;
    m->confirmed_lsn = 0x16B3000;
    m->server_lsn = 0x16B4000;
    m->last_commit_time_us = 1700000000000000;
    m->now_us = 1700000002500000; /* 2.5 s later */
    m->slot_retained_bytes = 1 << 20;
    m->snapshot_rows_done = 1000;
    m->snapshot_rows_total = 1200;
    m->snapshot_running = true;
    m->streaming = true;
    m->active = true;
    m->reconnects = 7;
    m->started_us = 1699999990123456;
}

Test(metrics, populated_exposition_has_the_values)
{
    struct ww_metrics m;
    populate(&m);
    struct ww_buf out = {0};
    struct expo e;
    render_and_parse(&m, &e, &out);

    cr_assert_eq(count_series(&e, "walwire_events_total"), 2 * WW_M_NOPS);
    cr_assert_eq(
        value_of(&e, "walwire_events_total", "schema", "public", "table", "users", "op", "c", NULL),
        10.0);
    cr_assert_eq(
        value_of(&e, "walwire_events_total", "schema", "public", "table", "users", "op", "u", NULL),
        4.0);
    cr_assert_eq(
        value_of(&e, "walwire_events_total", "schema", "public", "table", "users", "op", "d", NULL),
        1.0);
    cr_assert_eq(
        value_of(&e, "walwire_events_total", "schema", "public", "table", "users", "op", "r", NULL),
        1000.0);
    cr_assert_eq(
        value_of(&e, "walwire_events_total", "schema", "public", "table", "users", "op", "t", NULL),
        0.0);
    cr_assert_eq(
        value_of(&e, "walwire_events_total", "schema", "sales", "table", "orders", "op", "t", NULL),
        2.0);
    cr_assert_eq(
        value_of(&e, "walwire_events_total", "schema", "sales", "table", "orders", "op", "m", NULL),
        3.0);
    cr_assert_eq(
        value_of(&e, "walwire_event_bytes_total", "schema", "public", "table", "users", NULL),
        123456.0);
    cr_assert_eq(
        value_of(&e, "walwire_event_bytes_total", "schema", "sales", "table", "orders", NULL),
        77.0);
    cr_assert_eq(value_of(&e, "walwire_acks_total", NULL), 1020.0);
    cr_assert_eq(value_of(&e, "walwire_sink_errors_total", NULL), 2.0);
    cr_assert_eq(value_of(&e, "walwire_sink_retries_total", NULL), 5.0);
    cr_assert_eq(value_of(&e, "walwire_inflight_events", NULL), 3.0);
    cr_assert_eq(value_of(&e, "walwire_inflight_bytes", NULL), 4096.0);
    cr_assert_eq(value_of(&e, "walwire_transactions_total", NULL), 42.0);
    cr_assert_eq(value_of(&e, "walwire_received_lsn", NULL), (double)0x16B3748);
    cr_assert_eq(value_of(&e, "walwire_confirmed_lsn", NULL), (double)0x16B3000);
    cr_assert_eq(value_of(&e, "walwire_server_wal_lsn", NULL), (double)0x16B4000);
    cr_assert_eq(value_of(&e, "walwire_lag_bytes", NULL), (double)(0x16B4000 - 0x16B3000));
    cr_assert_float_eq(value_of(&e, "walwire_lag_seconds", NULL), 2.5, 1e-9);
    cr_assert_eq(value_of(&e, "walwire_slot_retained_wal_bytes", NULL), 1048576.0);
    cr_assert_eq(value_of(&e, "walwire_snapshot_rows_copied_total", NULL), 1000.0);
    cr_assert_eq(value_of(&e, "walwire_snapshot_rows_estimated", NULL), 1200.0);
    cr_assert_eq(value_of(&e, "walwire_snapshot_running", NULL), 1.0);
    cr_assert_eq(value_of(&e, "walwire_streaming", NULL), 1.0);
    cr_assert_eq(value_of(&e, "walwire_active", NULL), 1.0);
    cr_assert_eq(value_of(&e, "walwire_reconnects_total", NULL), 7.0);
    cr_assert_float_eq(value_of(&e, "walwire_start_time_seconds", NULL), 1699999990.123456, 1e-6);
    /* The exact text of a few lines, as a scraper sees them. */
    cr_assert_not_null(strstr(out.data, "\nwalwire_events_total{schema=\"public\",table=\"users\","
                                        "op=\"c\"} 10\n"));
    cr_assert_not_null(strstr(out.data, "\nwalwire_lag_seconds 2.500000\n"));
    cr_assert_not_null(strstr(out.data, "\n# TYPE walwire_events_total counter\n"));
    expo_free(&e);
    ww_buf_free(&out);
    ww_metrics_free(&m);
}

Test(metrics, render_appends_to_out)
{
    struct ww_metrics m;
    populate(&m);
    struct ww_buf out = {0};
    ww_buf_puts(&out, "PREFIX");
    ww_metrics_render(&m, &out);
    cr_assert_eq(memcmp(out.data, "PREFIX# HELP ", 13), 0);
    ww_buf_free(&out);
    ww_metrics_free(&m);
}

Test(metrics, label_escaping_round_trips)
{
    struct ww_metrics m;
    ww_metrics_init(&m);
    const char *schema = "we\"ird\\sch\nema";
    const char *table = "tab{le}=,\"x\" ünïcødé \\n";
    ww_metrics_table(&m, schema, table)->events[WW_M_D] = 9;
    ww_metrics_table(&m, schema, table)->bytes = 11;
    struct ww_buf out = {0};
    struct expo e;
    render_and_parse(&m, &e, &out);
    cr_assert_eq(
        value_of(&e, "walwire_events_total", "schema", schema, "table", table, "op", "d", NULL),
        9.0);
    cr_assert_eq(value_of(&e, "walwire_event_bytes_total", "schema", schema, "table", table, NULL),
                 11.0);
    /* The raw newline never reaches the text. */
    cr_assert_not_null(strstr(out.data, "schema=\"we\\\"ird\\\\sch\\nema\""));
    expo_free(&e);
    ww_buf_free(&out);
    ww_metrics_free(&m);
}

Test(metrics, lag_is_zero_when_unknown_or_caught_up)
{
    struct ww_metrics m;
    populate(&m);
    struct ww_buf out = {0};
    struct expo e;

    /* Confirmed ahead of the server's last report (a stale keepalive). */
    m.server_lsn = m.confirmed_lsn - 1;
    render_and_parse(&m, &e, &out);
    cr_assert_eq(value_of(&e, "walwire_lag_bytes", NULL), 0.0);
    expo_free(&e);

    /* Nothing confirmed yet: unknown. */
    m.server_lsn = 0x2000000;
    m.confirmed_lsn = 0;
    render_and_parse(&m, &e, &out);
    cr_assert_eq(value_of(&e, "walwire_lag_bytes", NULL), 0.0);
    expo_free(&e);

    /* No commit seen, or the caller did not set now. */
    m.last_commit_time_us = 0;
    render_and_parse(&m, &e, &out);
    cr_assert_eq(value_of(&e, "walwire_lag_seconds", NULL), 0.0);
    expo_free(&e);
    ww_metrics_free(&m);
    populate(&m);
    m.now_us = 0;
    render_and_parse(&m, &e, &out);
    cr_assert_eq(value_of(&e, "walwire_lag_seconds", NULL), 0.0);
    expo_free(&e);
    ww_metrics_free(&m);

    /* Caught up: nothing in flight, everything received confirmed. An idle
     * database must not show a lag growing with the age of its last commit. */
    populate(&m);
    m.inflight_events = 0;
    m.confirmed_lsn = m.received_lsn;
    render_and_parse(&m, &e, &out);
    cr_assert_eq(value_of(&e, "walwire_lag_seconds", NULL), 0.0);
    expo_free(&e);
    /* ...but behind again as soon as events are in flight. */
    m.inflight_events = 1;
    render_and_parse(&m, &e, &out);
    cr_assert_float_eq(value_of(&e, "walwire_lag_seconds", NULL), 2.5, 1e-9);
    expo_free(&e);
    ww_metrics_free(&m);
    ww_buf_free(&out);
}

Test(metrics, many_tables_render_valid_and_in_order)
{
    struct ww_metrics m;
    ww_metrics_init(&m);
    enum { N = 300 };
    char name[32];
    for (int i = N - 1; i >= 0; i--) {
        snprintf(name, sizeof name, "table_%03d", i);
        struct ww_table_counters *t = ww_metrics_table(&m, "public", name);
        t->events[WW_M_C] = (uint64_t)i * 3;
        t->bytes = (uint64_t)i * 100;
    }
    struct ww_buf out = {0};
    struct expo e;
    render_and_parse(&m, &e, &out);
    cr_assert_eq(count_series(&e, "walwire_events_total"), (size_t)N * WW_M_NOPS);
    cr_assert_eq(count_series(&e, "walwire_event_bytes_total"), (size_t)N);
    for (int i = 0; i < N; i += 37) {
        snprintf(name, sizeof name, "table_%03d", i);
        cr_assert_eq(value_of(&e, "walwire_events_total", "schema", "public", "table", name, "op",
                              "c", NULL),
                     i * 3.0);
        cr_assert_eq(
            value_of(&e, "walwire_event_bytes_total", "schema", "public", "table", name, NULL),
            i * 100.0);
    }
    /* Sorted by table: table_000 comes before table_299. */
    char *a = strstr(out.data, "table=\"table_000\"");
    char *b = strstr(out.data, "table=\"table_299\"");
    cr_assert(a && b && a < b);
    expo_free(&e);
    ww_buf_free(&out);
    ww_metrics_free(&m);
}
