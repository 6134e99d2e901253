#include "check_report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

static const char *const verdict_text[] = {"ok", "warn", "FAIL", "skip"};
static const char *const verdict_json[] = {"ok", "warn", "fail", "skip"};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q && n)
        abort();
    return q;
}

/* printf into a fresh string. */
static char *vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *vformat(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    char *s = xrealloc(NULL, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

struct ww_check_row *ww_check_add(struct ww_check_report *rep, const char *name,
                                  enum ww_check_verdict verdict, const char *fmt, ...)
{
    if (rep->n == rep->cap) {
        rep->cap = rep->cap ? rep->cap * 2 : 16;
        rep->rows = xrealloc(rep->rows, rep->cap * sizeof *rep->rows);
    }
    struct ww_check_row *row = &rep->rows[rep->n++];
    row->name = strdup(name);
    if (!row->name)
        abort();
    row->verdict = verdict;
    va_list ap;
    va_start(ap, fmt);
    row->detail = vformat(fmt, ap);
    va_end(ap);
    row->fix = NULL;
    return row;
}

void ww_check_fix(struct ww_check_row *row, const char *fmt, ...)
{
    free(row->fix);
    va_list ap;
    va_start(ap, fmt);
    row->fix = vformat(fmt, ap);
    va_end(ap);
}

void ww_check_report_move(struct ww_check_report *dst, struct ww_check_report *src)
{
    for (size_t i = 0; i < src->n; i++) {
        if (dst->n == dst->cap) {
            dst->cap = dst->cap ? dst->cap * 2 : 16;
            dst->rows = xrealloc(dst->rows, dst->cap * sizeof *dst->rows);
        }
        dst->rows[dst->n++] = src->rows[i];
    }
    free(src->rows);
    memset(src, 0, sizeof *src);
}

void ww_check_report_free(struct ww_check_report *rep)
{
    for (size_t i = 0; i < rep->n; i++) {
        free(rep->rows[i].name);
        free(rep->rows[i].detail);
        free(rep->rows[i].fix);
    }
    free(rep->rows);
    memset(rep, 0, sizeof *rep);
}

static size_t count(const struct ww_check_report *rep, enum ww_check_verdict v)
{
    size_t n = 0;
    for (size_t i = 0; i < rep->n; i++)
        n += rep->rows[i].verdict == v;
    return n;
}

bool ww_check_ready(const struct ww_check_report *rep)
{
    return count(rep, WW_CHECK_FAIL) == 0;
}

void ww_check_print_table(const struct ww_check_report *rep, FILE *out)
{
    int width = 5; /* "CHECK" */
    for (size_t i = 0; i < rep->n; i++) {
        int len = (int)strlen(rep->rows[i].name);
        if (len > width)
            width = len;
    }
    fprintf(out, "%-*s  %-6s %s\n", width, "CHECK", "RESULT", "DETAIL");
    for (size_t i = 0; i < rep->n; i++) {
        const struct ww_check_row *r = &rep->rows[i];
        fprintf(out, "%-*s  %-6s %s\n", width, r->name, verdict_text[r->verdict], r->detail);
        if (r->fix)
            fprintf(out, "%-*s  %-6s fix: %s\n", width, "", "", r->fix);
    }
    size_t failed = count(rep, WW_CHECK_FAIL), warned = count(rep, WW_CHECK_WARN);
    if (failed)
        fprintf(out, "\nnot ready: %zu check(s) failed, %zu warning(s)\n", failed, warned);
    else
        fprintf(out, "\nready: every check passed, %zu warning(s)\n", warned);
}

void ww_check_print_json(const struct ww_check_report *rep, FILE *out)
{
    struct ww_buf b = {0};
    ww_buf_puts(&b, "{\"ready\":");
    ww_buf_append_str(&b, ww_check_ready(rep) ? "true" : "false");
    ww_buf_puts(&b, ",\"checks\":[");
    for (size_t i = 0; i < rep->n; i++) {
        const struct ww_check_row *r = &rep->rows[i];
        ww_buf_append_str(&b, i ? ",{\"name\":" : "{\"name\":");
        ww_json_string(&b, r->name, strlen(r->name));
        ww_buf_puts(&b, ",\"result\":\"");
        ww_buf_append_str(&b, verdict_json[r->verdict]);
        ww_buf_puts(&b, "\",\"detail\":");
        ww_json_string(&b, r->detail, strlen(r->detail));
        ww_buf_puts(&b, ",\"fix\":");
        if (r->fix)
            ww_json_string(&b, r->fix, strlen(r->fix));
        else
            ww_buf_puts(&b, "null");
        ww_buf_putc(&b, '}');
    }
    ww_buf_puts(&b, "],\"failed\":");
    ww_buf_put_u64(&b, count(rep, WW_CHECK_FAIL));
    ww_buf_puts(&b, ",\"warnings\":");
    ww_buf_put_u64(&b, count(rep, WW_CHECK_WARN));
    ww_buf_puts(&b, "}\n");
    fwrite(b.data, 1, b.len, out);
    ww_buf_free(&b);
}

void ww_check_names_add(struct ww_check_names *l, const char *fmt, ...)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->names = xrealloc(l->names, l->cap * sizeof *l->names);
    }
    va_list ap;
    va_start(ap, fmt);
    l->names[l->n++] = vformat(fmt, ap);
    va_end(ap);
}

char *ww_check_names_join(const struct ww_check_names *l, size_t max)
{
    struct ww_buf b = {0};
    size_t shown = l->n < max ? l->n : max;
    for (size_t i = 0; i < shown; i++) {
        if (i)
            ww_buf_puts(&b, ", ");
        ww_buf_append_str(&b, l->names[i]);
    }
    if (shown < l->n) {
        ww_buf_puts(&b, " and ");
        ww_buf_put_u64(&b, l->n - shown);
        ww_buf_puts(&b, " more");
    }
    char *s = strdup(ww_buf_cstr(&b));
    ww_buf_free(&b);
    if (!s)
        abort();
    return s;
}

void ww_check_names_free(struct ww_check_names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

void ww_check_format_bytes(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"bytes", "kB", "MB", "GB", "TB", "PB"};
    if (bytes < 1024) {
        snprintf(buf, len, "%llu bytes", (unsigned long long)bytes);
        return;
    }
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof *units) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, units[u]);
}
