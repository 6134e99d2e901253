/* libpq connection parameters from the user's conninfo: see conninfo.h. */
#include "conninfo.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Settings every walwire session runs with, so that the text forms the
 * encoder parses are always the same (core/encode_json.h). */
#define WW_SESSION_OPTIONS                                                                         \
    "-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=postgres -c extra_float_digits=3 "          \
    "-c bytea_output=hex"

static void ci_add(struct ww_conninfo *ci, const char *k, const char *v)
{
    char **nk = realloc(ci->keywords, (ci->n + 2) * sizeof *nk);
    if (nk)
        ci->keywords = nk;
    char **nv = realloc(ci->values, (ci->n + 2) * sizeof *nv);
    if (nv)
        ci->values = nv;
    if (!nk || !nv || !(ci->keywords[ci->n] = strdup(k)) || !(ci->values[ci->n] = strdup(v))) {
        fprintf(stderr, "walwire: out of memory\n");
        abort();
    }
    ci->n++;
    ci->keywords[ci->n] = NULL;
    ci->values[ci->n] = NULL;
}

/* Read the first line of path into out. */
static int read_password_file(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "[source] password_file %s: %s", path, strerror(errno));
        return -errno;
    }
    if (!fgets(out, (int)outlen, f))
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    if (!out[0]) {
        snprintf(err, errlen, "[source] password_file %s is empty", path);
        return -EINVAL;
    }
    return 0;
}

int ww_conninfo_build(const char *conninfo, const char *password_file, enum ww_conn_kind kind,
                      struct ww_conninfo *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        /* libpq's message may quote part of the string: do not repeat it. */
        snprintf(err, errlen,
                 "[source] conninfo is not a valid libpq connection string or URI "
                 "(check key=value pairs and quoting)");
        PQfreemem(perr);
        return -EINVAL;
    }
    const char *user_options = NULL;
    bool has_password = false;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !o->val[0])
            continue;
        if (strcmp(o->keyword, "options") == 0) {
            user_options = o->val;
            continue;
        }
        if (strcmp(o->keyword, "replication") == 0 || strcmp(o->keyword, "client_encoding") == 0)
            continue;
        if (strcmp(o->keyword, "password") == 0)
            has_password = true;
        ci_add(out, o->keyword, o->val);
    }
    char options[1024];
    snprintf(options, sizeof options, "%s%s%s", user_options ? user_options : "",
             user_options ? " " : "", WW_SESSION_OPTIONS);
    ci_add(out, "options", options);
    ci_add(out, "fallback_application_name", "walwire");
    /* JSON is UTF-8; a SQL_ASCII database is read as it is instead
     * (ww_conninfo_set, see runner_start.c). */
    ci_add(out, "client_encoding", "UTF8");
    if (kind == WW_CONN_REPLICATION)
        ci_add(out, "replication", "database");
    PQconninfoFree(opts);

    if (password_file && password_file[0] && !has_password) {
        char pw[1024];
        int r = read_password_file(password_file, pw, sizeof pw, err, errlen);
        if (r < 0) {
            ww_conninfo_free(out);
            return r;
        }
        ci_add(out, "password", pw);
        memset(pw, 0, sizeof pw);
    }
    return 0;
}

void ww_conninfo_free(struct ww_conninfo *ci)
{
    for (size_t i = 0; i < ci->n; i++) {
        if (strcmp(ci->keywords[i], "password") == 0)
            memset(ci->values[i], 0, strlen(ci->values[i]));
        free(ci->keywords[i]);
        free(ci->values[i]);
    }
    free(ci->keywords);
    free(ci->values);
    memset(ci, 0, sizeof *ci);
}

void ww_conninfo_set(struct ww_conninfo *ci, const char *keyword, const char *value)
{
    for (size_t i = 0; i < ci->n; i++) {
        if (strcmp(ci->keywords[i], keyword) == 0) {
            char *v = strdup(value);
            if (!v)
                abort();
            free(ci->values[i]);
            ci->values[i] = v;
            return;
        }
    }
    ci_add(ci, keyword, value);
}

const char *ww_conninfo_get(const struct ww_conninfo *ci, const char *keyword)
{
    for (size_t i = 0; i < ci->n; i++)
        if (strcmp(ci->keywords[i], keyword) == 0)
            return ci->values[i];
    return NULL;
}

void ww_conninfo_redact(const char *conninfo, char *out, size_t outlen)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    PQfreemem(perr);
    if (!opts) {
        snprintf(out, outlen, "(unparseable conninfo)");
        return;
    }
    size_t len = 0;
    out[0] = '\0';
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !o->val[0] || strcmp(o->keyword, "password") == 0 ||
            strcmp(o->keyword, "sslpassword") == 0)
            continue;
        bool quote = strpbrk(o->val, " \t'\\") != NULL || !o->val[0];
        int n = snprintf(out + len, outlen - len, "%s%s=%s%s%s", len ? " " : "", o->keyword,
                         quote ? "'" : "", o->val, quote ? "'" : "");
        if (n < 0 || (size_t)n >= outlen - len)
            break;
        len += (size_t)n;
    }
    PQconninfoFree(opts);
}
