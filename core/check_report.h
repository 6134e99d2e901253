/*
 * The result table of `walwire check` (internal to check*.c): one row per
 * check, each with a verdict, a detail line and, for what failed or
 * deserves attention, the fix. Printed as a text table or as JSON.
 *
 * Verdicts: ok and warn do not fail the preflight; fail does (exit 3);
 * skip means the check could not run because an earlier one failed (the
 * detail says which) and does not fail by itself.
 *
 * Ownership: the report owns its rows and their strings;
 * ww_check_report_free(). Allocation failure aborts (like struct ww_buf).
 */
#ifndef WW_CHECK_REPORT_H
#define WW_CHECK_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum ww_check_verdict { WW_CHECK_OK, WW_CHECK_WARN, WW_CHECK_FAIL, WW_CHECK_SKIP };

struct ww_check_row {
    char *name; /* stable short name: "wal_level", "slot", "sink", ... */
    enum ww_check_verdict verdict;
    char *detail; /* what was found, one line */
    char *fix;    /* NULL, or what to do about it (SQL or a setting) */
};

struct ww_check_report {
    struct ww_check_row *rows;
    size_t n, cap;
};

/* Append a row; returns it so that a fix can be attached. */
struct ww_check_row *ww_check_add(struct ww_check_report *rep, const char *name,
                                  enum ww_check_verdict verdict, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Set (replace) the fix of a row. */
void ww_check_fix(struct ww_check_row *row, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Move every row of src to the end of dst; src is left empty. */
void ww_check_report_move(struct ww_check_report *dst, struct ww_check_report *src);
void ww_check_report_free(struct ww_check_report *rep);

/* No row failed. */
bool ww_check_ready(const struct ww_check_report *rep);
/* The table: CHECK RESULT DETAIL, a "fix:" line under a row that has one,
 * and a summary line. */
void ww_check_print_table(const struct ww_check_report *rep, FILE *out);
/* {"ready":true,"checks":[{"name":..,"result":"ok|warn|fail|skip",
 *  "detail":..,"fix":..|null},...],"failed":N,"warnings":N} and a newline. */
void ww_check_print_json(const struct ww_check_report *rep, FILE *out);

/* A list of names (tables, columns) for a detail or a fix line. */
struct ww_check_names {
    char **names;
    size_t n, cap;
};
void ww_check_names_add(struct ww_check_names *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "a, b, c" with at most max names, then " and N more"; malloc'd. */
char *ww_check_names_join(const struct ww_check_names *l, size_t max);
void ww_check_names_free(struct ww_check_names *l);

/* 1536 -> "1.5 kB", 0 -> "0 bytes" (powers of 1024, PostgreSQL's units). */
void ww_check_format_bytes(uint64_t bytes, char *buf, size_t len);

#endif
