/*
 * The [redis] section:
 *
 *   url             redis://[user:password@]host[:port][/db]
 *                   unix://[user:password@]/path/to/redis.sock[?db=N]
 *                   (":password@" without a user: legacy AUTH password)
 *   stream          {prefix}:{schema}.{table}   row changes
 *   message_stream  {prefix}:message            logical decoding messages
 *   transaction_stream {prefix}:transaction     transaction BEGIN/END records
 *   maxlen          ~1000000 (~N: MAXLEN ~ N; N: exact; empty or 0: none)
 *   id              lsn | auto
 *   connect_timeout 5s    reply_timeout 30s    oom_wait 60s
 *   max_pending     1000
 *
 * The url may hold a password: no message here ever quotes it, or any
 * part of it.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_sink.h"

/* ---- small buffer ------------------------------------------------------ */

int rs_buf_reserve(struct rs_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

void rs_buf_free(struct rs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int buf_put(struct rs_buf *b, const char *s, size_t n)
{
    if (rs_buf_reserve(b, n) < 0)
        return -ENOMEM;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

/* ---- templates ---------------------------------------------------------- */

static const char *const placeholders[] = {"{prefix}", "{schema}", "{table}"};

/* Is tpl made of text and known placeholders only? */
static bool template_valid(const char *tpl)
{
    for (const char *p = tpl; *p; p++) {
        if (*p == '}')
            return false;
        if (*p != '{')
            continue;
        bool known = false;
        for (size_t i = 0; i < 3 && !known; i++) {
            size_t n = strlen(placeholders[i]);
            if (strncmp(p, placeholders[i], n) == 0) {
                known = true;
                p += n - 1;
            }
        }
        if (!known)
            return false;
    }
    return true;
}

int rs_render_stream(const struct rs_config *cfg, const char *prefix, const struct ww_change *c,
                     struct rs_buf *b)
{
    const char *tpl = c->op == WW_OP_MESSAGE                               ? cfg->message_tpl
                      : c->op == WW_OP_TX_BEGIN || c->op == WW_OP_TX_END ? cfg->tx_tpl
                                                                         : cfg->stream_tpl;
    const char *values[3] = {prefix, c->schema, c->table};
    b->len = 0;
    for (const char *p = tpl; *p;) {
        if (*p == '{') {
            /* Validated at open: one of the placeholders. */
            for (size_t i = 0; i < 3; i++) {
                size_t n = strlen(placeholders[i]);
                if (strncmp(p, placeholders[i], n) == 0) {
                    if (buf_put(b, values[i], strlen(values[i])) < 0)
                        return -ENOMEM;
                    p += n;
                    break;
                }
            }
            continue;
        }
        const char *brace = strchr(p, '{');
        size_t n = brace ? (size_t)(brace - p) : strlen(p);
        if (buf_put(b, p, n) < 0)
            return -ENOMEM;
        p += n;
    }
    return 0;
}

/* ---- url ---------------------------------------------------------------- */

/* Decode %XX escapes of s[0..n) into a new string; NULL on a bad escape or
 * no memory (*bad tells which). */
static char *percent_decode(const char *s, size_t n, bool *bad)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    *bad = false;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        /* Two hex digits, not %00 (no NUL inside a user or password). */
        if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
            !isxdigit((unsigned char)s[i + 2])) {
            *bad = true;
            break;
        }
        char hex[3] = {s[i + 1], s[i + 2], 0};
        long v = strtol(hex, NULL, 16);
        if (v == 0) {
            *bad = true;
            break;
        }
        out[o++] = (char)v;
        i += 2;
    }
    if (*bad) {
        free(out);
        return NULL;
    }
    out[o] = '\0';
    return out;
}

/* A whole decimal number in [min, max]. */
static bool parse_long(const char *s, size_t n, long min, long max, long *out)
{
    if (n == 0 || n > 18)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

#define URL_FORMS                                                                                  \
    "expected redis://[user:password@]host[:port][/db] or "                                        \
    "unix://[user:password@]/path/to/socket[?db=N] (value hidden)"

/* userinfo "user:password" or ":password", percent-decoded. */
static int parse_userinfo(const struct ww_host *host, struct rs_config *cfg, const char *s,
                          size_t n)
{
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return host->config_error(host, "url",
                                  "the part before '@' must be user:password or :password "
                                  "(a user needs a password) (value hidden)");
    bool bad = false;
    size_t ulen = (size_t)(colon - s);
    if (ulen > 0) {
        cfg->user = percent_decode(s, ulen, &bad);
        if (!cfg->user)
            goto fail;
    }
    cfg->password = percent_decode(colon + 1, n - ulen - 1, &bad);
    if (!cfg->password)
        goto fail;
    if (!*cfg->password)
        return host->config_error(host, "url", "the password after ':' is empty (value hidden)");
    return 0;
fail:
    if (bad)
        return host->config_error(host, "url",
                                  "a %% escape in the user or password is not %%XX with two hex "
                                  "digits (value hidden)");
    return -ENOMEM;
}

/* "?db=N" (the only query parameter). */
static int parse_query(const struct ww_host *host, struct rs_config *cfg, const char *q,
                       bool have_db)
{
    if (!*q)
        return 0;
    if (strncmp(q, "db=", 3) != 0 || !parse_long(q + 3, strlen(q + 3), 0, INT_MAX, &cfg->db))
        return host->config_error(host, "url",
                                  "the only query parameter is db=N, a database "
                                  "number (value hidden)");
    if (have_db)
        return host->config_error(host, "url",
                                  "the database is given twice, as /db and ?db= "
                                  "(value hidden)");
    return 0;
}

static int parse_url(const struct ww_host *host, struct rs_config *cfg, const char *url)
{
    bool is_unix;
    const char *rest;
    if (strncmp(url, "rediss://", 9) == 0)
        return host->config_error(
            host, "url",
            "rediss:// (TLS) is not supported: this build's hiredis (0.14) has no TLS, and "
            "walwire never falls back to plaintext. Run a TLS proxy such as stunnel next to "
            "walwire (plaintext on 127.0.0.1, TLS to Redis) and point url at it with "
            "redis://127.0.0.1:<port> (value hidden)");
    if (strncmp(url, "redis://", 8) == 0) {
        is_unix = false;
        rest = url + 8;
    } else if (strncmp(url, "unix://", 7) == 0) {
        is_unix = true;
        rest = url + 7;
    } else {
        return host->config_error(host, "url", URL_FORMS);
    }
    cfg->unix_socket = is_unix;

    /* Split off the query, then the userinfo at the last '@' (a password
     * may contain '@' or '/' unescaped; a host, port or db never does). */
    const char *query = strchr(rest, '?');
    size_t body_len = query ? (size_t)(query - rest) : strlen(rest);
    const char *at = NULL;
    for (size_t i = 0; i < body_len; i++)
        if (rest[i] == '@')
            at = rest + i;
    int rc;
    if (at) {
        rc = parse_userinfo(host, cfg, rest, (size_t)(at - rest));
        if (rc < 0)
            return rc;
        body_len -= (size_t)(at + 1 - rest);
        rest = at + 1;
    }

    if (is_unix) {
        if (body_len < 2 || rest[0] != '/')
            return host->config_error(host, "url",
                                      "unix:// needs an absolute socket path, as "
                                      "in unix:///run/redis/redis.sock (value "
                                      "hidden)");
        cfg->path = strndup(rest, body_len);
        if (!cfg->path)
            return -ENOMEM;
        snprintf(cfg->where, sizeof cfg->where, "%s", cfg->path);
        return parse_query(host, cfg, query ? query + 1 : "", false);
    }

    /* host[:port][/db] */
    const char *slash = memchr(rest, '/', body_len);
    size_t hp_len = slash ? (size_t)(slash - rest) : body_len;
    const char *hs = rest, *port_s = NULL;
    size_t hlen;
    if (hp_len > 0 && rest[0] == '[') {
        const char *close = memchr(rest, ']', hp_len);
        if (!close)
            return host->config_error(host, "url",
                                      "an IPv6 address needs a closing ']' (value "
                                      "hidden)");
        hs = rest + 1;
        hlen = (size_t)(close - hs);
        if (close + 1 < rest + hp_len) {
            if (close[1] != ':')
                return host->config_error(host, "url", URL_FORMS);
            port_s = close + 2;
        }
    } else {
        const char *colon = memchr(rest, ':', hp_len);
        hlen = colon ? (size_t)(colon - rest) : hp_len;
        port_s = colon ? colon + 1 : NULL;
    }
    if (hlen == 0)
        return host->config_error(host, "url", "the host is missing; " URL_FORMS);
    long port = 6379;
    if (port_s && !parse_long(port_s, (size_t)(rest + hp_len - port_s), 1, 65535, &port))
        return host->config_error(host, "url",
                                  "the port must be a number from 1 to 65535 "
                                  "(value hidden)");
    cfg->port = (int)port;
    cfg->host = strndup(hs, hlen);
    if (!cfg->host)
        return -ENOMEM;
    bool have_db = false;
    if (slash && slash + 1 < rest + body_len) {
        if (!parse_long(slash + 1, (size_t)(rest + body_len - slash - 1), 0, INT_MAX, &cfg->db))
            return host->config_error(host, "url",
                                      "the path after the host must be a database "
                                      "number, as in /0 (value hidden)");
        have_db = true;
    }
    bool v6 = strchr(cfg->host, ':') != NULL;
    snprintf(cfg->where, sizeof cfg->where, "%s%s%s:%d", v6 ? "[" : "", cfg->host, v6 ? "]" : "",
             cfg->port);
    return parse_query(host, cfg, query ? query + 1 : "", have_db);
}

/* ---- other values ------------------------------------------------------- */

/* "250ms", "5s", "2m", "1h" or a number of seconds. */
static bool parse_duration(const char *s, uint64_t *ms)
{
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return false;
    uint64_t mult;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (*end == '\0' || strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else
        return false;
    if (v > UINT64_MAX / mult / 2)
        return false;
    *ms = v * mult;
    return true;
}

static int parse_timeout(const struct ww_host *host, const char *key, uint64_t def, uint64_t min,
                         uint64_t *out)
{
    const char *v = host->config_get(host, key);
    *out = def;
    if (!v || !*v)
        return 0;
    if (!parse_duration(v, out) || *out < min)
        return host->config_error(host, key,
                                  "expected a duration%s such as 500ms, 5s or 1m, "
                                  "got \"%s\"",
                                  min ? " greater than 0" : "", v);
    return 0;
}

static int parse_maxlen(const struct ww_host *host, struct rs_config *cfg)
{
    const char *v = host->config_get(host, "maxlen");
    if (!v)
        v = RS_DEFAULT_MAXLEN;
    const char *p = v;
    while (*p == ' ')
        p++;
    if (!*p) {
        cfg->trim = false; /* empty: no trimming */
        return 0;
    }
    cfg->trim_approx = *p == '~';
    if (*p == '~' || *p == '=')
        p++;
    while (*p == ' ')
        p++;
    long n;
    if (!parse_long(p, strlen(p), 0, LONG_MAX, &n))
        return host->config_error(host, "maxlen",
                                  "expected ~N (approximate trimming, MAXLEN ~ "
                                  "N), N (exact), or empty or 0 for no trimming, "
                                  "got \"%s\"",
                                  v);
    cfg->trim = n > 0;
    snprintf(cfg->maxlen, sizeof cfg->maxlen, "%ld", n);
    return 0;
}

static int check_key(void *arg, const char *key, const char *value)
{
    static const char *const keys[] = {"url",           "stream",   "message_stream",
                                       "transaction_stream",
                                       "maxlen",        "id",       "connect_timeout",
                                       "reply_timeout", "oom_wait", "max_pending"};
    const struct ww_host *host = arg;
    (void)value;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i]) == 0)
            return 0;
    return host->config_error(host, key,
                              "unknown key; valid keys: url, stream, message_stream, "
                              "transaction_stream, maxlen, id, connect_timeout, "
                              "reply_timeout, oom_wait, max_pending");
}

static int parse_template(const struct ww_host *host, const char *key, const char *def, char **out)
{
    const char *v = host->config_get(host, key);
    if (!v)
        v = def;
    if (!*v)
        return host->config_error(host, key, "must not be empty; default %s", def);
    if (!template_valid(v))
        return host->config_error(host, key,
                                  "\"%s\": the placeholders are {prefix}, {schema} "
                                  "and {table}; no other braces",
                                  v);
    *out = strdup(v);
    return *out ? 0 : -ENOMEM;
}

void rs_config_free(struct rs_config *cfg)
{
    free(cfg->host);
    free(cfg->path);
    free(cfg->user);
    if (cfg->password) {
        /* Do not leave the secret in freed memory. */
        volatile char *p = cfg->password;
        while (*p)
            *p++ = 0;
        free(cfg->password);
    }
    free(cfg->stream_tpl);
    free(cfg->message_tpl);
    free(cfg->tx_tpl);
    memset(cfg, 0, sizeof *cfg);
}

static int parse_all(const struct ww_host *host, struct rs_config *cfg)
{
    int rc = host->config_foreach(host, check_key, (void *)host);
    if (rc != 0)
        return rc < 0 ? rc : -EINVAL;

    const char *url = host->config_get(host, "url");
    if (!url || !*url)
        url = RS_DEFAULT_URL;
    if ((rc = parse_url(host, cfg, url)) < 0)
        return rc;
    if ((rc = parse_template(host, "stream", RS_DEFAULT_STREAM, &cfg->stream_tpl)) < 0 ||
        (rc = parse_template(host, "message_stream", RS_DEFAULT_MESSAGE_STREAM,
                             &cfg->message_tpl)) < 0 ||
        (rc = parse_template(host, "transaction_stream", RS_DEFAULT_TX_STREAM, &cfg->tx_tpl)) < 0 ||
        (rc = parse_maxlen(host, cfg)) < 0)
        return rc;

    const char *id = host->config_get(host, "id");
    if (!id || !*id || strcmp(id, "lsn") == 0)
        cfg->id_mode = RS_ID_LSN;
    else if (strcmp(id, "auto") == 0)
        cfg->id_mode = RS_ID_AUTO;
    else
        return host->config_error(host, "id",
                                  "expected lsn (IDs from the commit LSN: replays "
                                  "are refused by Redis) or auto (Redis assigns "
                                  "time-based IDs), got \"%s\"",
                                  id);

    if ((rc = parse_timeout(host, "connect_timeout", 5000, 1, &cfg->connect_timeout_ms)) < 0 ||
        (rc = parse_timeout(host, "reply_timeout", 30000, 1, &cfg->reply_timeout_ms)) < 0 ||
        (rc = parse_timeout(host, "oom_wait", 60000, 0, &cfg->oom_wait_ms)) < 0)
        return rc;

    cfg->max_pending = 1000;
    const char *mp = host->config_get(host, "max_pending");
    long n;
    if (mp && *mp) {
        if (!parse_long(mp, strlen(mp), 1, 1000000, &n))
            return host->config_error(host, "max_pending",
                                      "expected a number of changes from "
                                      "1 to 1000000, got \"%s\"",
                                      mp);
        cfg->max_pending = (size_t)n;
    }
    return 0;
}

int rs_config_parse(const struct ww_host *host, struct rs_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    int rc = parse_all(host, cfg);
    if (rc < 0)
        rs_config_free(cfg);
    return rc;
}
