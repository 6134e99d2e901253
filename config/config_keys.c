/*
 * The keys walwire knows (config_keys.h): the value parsers shared with the
 * sinks (ww_parse_size, ww_parse_duration_ms, ww_parse_bool), one setter per
 * kind of value, the table of keys with their defaults, and the hints of
 * error messages. No global state besides constant tables.
 */
#include "config_keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static const char *const sections_core[] = {"source", "sink", "http", "log", "format"};
static const char *const sections_sink[] = {"file", "kafka", "redis", "null"};

/* ---- small helpers --------------------------------------------------- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static char lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Levenshtein distance, for "did you mean"; SIZE_MAX for long strings. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[65];
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0]; /* row[i-1][j-1] */
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Read decimal digits at *pp (no sign, no spaces); -EINVAL when there are
 * none or the number does not fit in 64 bits. */
static int read_u64(const char **pp, uint64_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *pp = p;
    *out = v;
    return 0;
}

struct unit {
    const char *name;
    uint64_t mult;
};

/* "<number>[spaces]<unit>", surrounding blanks allowed, unit matched without
 * regard to case; no unit means `bare`. Overflow is an error. */
static int parse_scaled(const char *s, const struct unit *units, size_t nunits, uint64_t bare,
                        uint64_t *out)
{
    uint64_t n, mult = 0;
    if (!s)
        return -EINVAL;
    while (is_blank(*s))
        s++;
    if (read_u64(&s, &n) < 0)
        return -EINVAL;
    while (is_blank(*s))
        s++;
    size_t ulen = strlen(s);
    while (ulen > 0 && is_blank(s[ulen - 1]))
        ulen--;
    if (ulen == 0)
        mult = bare;
    for (size_t i = 0; i < nunits && mult == 0; i++)
        if (strlen(units[i].name) == ulen && strncasecmp(s, units[i].name, ulen) == 0)
            mult = units[i].mult;
    if (mult == 0 || (n != 0 && n > UINT64_MAX / mult))
        return -EINVAL;
    *out = n * mult;
    return 0;
}

int ww_parse_size(const char *s, uint64_t *bytes)
{
    /* 1024-based like PostgreSQL's kB/MB/GB/TB; KiB etc. and K/M/G/T too. */
    static const struct unit units[] = {
        {"b", 1},
        {"k", 1ull << 10},
        {"kb", 1ull << 10},
        {"kib", 1ull << 10},
        {"m", 1ull << 20},
        {"mb", 1ull << 20},
        {"mib", 1ull << 20},
        {"g", 1ull << 30},
        {"gb", 1ull << 30},
        {"gib", 1ull << 30},
        {"t", 1ull << 40},
        {"tb", 1ull << 40},
        {"tib", 1ull << 40},
    };
    return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 1, bytes);
}

int ww_parse_duration_ms(const char *s, uint64_t *ms)
{
    static const struct unit units[] = {
        {"ms", 1},      {"s", 1000},    {"sec", 1000},   {"m", 60000},
        {"min", 60000}, {"h", 3600000}, {"d", 86400000},
    };
    return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 1000, ms);
}

int ww_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "on", "yes", "1"};
    static const char *const no[] = {"false", "off", "no", "0"};
    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* ---- setters: one final value into a typed field ----------------------- */

#define FIELD(cfg, k, type) ((type *)(void *)((char *)(cfg) + (k)->off))

static int set_string(struct ww_config *cfg, const struct ww_key_spec *k, const char *v, char *why,
                      size_t whylen)
{
    char **field = FIELD(cfg, k, char *);
    if (*v == '\0' && (k->flags & WW_KEY_NONEMPTY)) {
        snprintf(why, whylen, "expected a non-empty value");
        return -EINVAL;
    }
    if (*v == '\0' && (k->flags & WW_KEY_EMPTY_NULL))
        return 0;
    *field = strdup(v);
    return *field ? 0 : -ENOMEM;
}

static int set_bool(struct ww_config *cfg, const struct ww_key_spec *k, const char *v, char *why,
                    size_t whylen)
{
    if (ww_parse_bool(v, FIELD(cfg, k, bool)) < 0) {
        snprintf(why, whylen, "expected true or false (or on/off, yes/no, 1/0)");
        return -EINVAL;
    }
    return 0;
}

static int set_size(struct ww_config *cfg, const struct ww_key_spec *k, const char *v, char *why,
                    size_t whylen)
{
    uint64_t *field = FIELD(cfg, k, uint64_t);
    if (ww_parse_size(v, field) < 0) {
        snprintf(why, whylen, "expected a size such as 64MB");
        return -EINVAL;
    }
    if (*field < k->min || *field > k->max) {
        snprintf(why, whylen, "expected %s", k->expected);
        return -EINVAL;
    }
    return 0;
}

static int set_duration(struct ww_config *cfg, const struct ww_key_spec *k, const char *v,
                        char *why, size_t whylen)
{
    uint64_t *field = FIELD(cfg, k, uint64_t);
    if (ww_parse_duration_ms(v, field) < 0) {
        snprintf(why, whylen, "expected a duration such as 10s, 500ms, 2m or 1h");
        return -EINVAL;
    }
    if (*field < k->min || *field > k->max) {
        snprintf(why, whylen, "expected %s", k->expected);
        return -EINVAL;
    }
    return 0;
}

/* PostgreSQL slot names: 1 to 63 of [a-z0-9_] (ReplicationSlotValidateName). */
static int set_slot(struct ww_config *cfg, const struct ww_key_spec *k, const char *v, char *why,
                    size_t whylen)
{
    size_t n = strlen(v);
    bool ok = n >= 1 && n <= 63;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_';
    if (!ok) {
        snprintf(why, whylen,
                 "expected a replication slot name: 1 to 63 lower-case letters, digits or "
                 "underscores");
        return -EINVAL;
    }
    cfg->slot = strdup(v);
    return cfg->slot ? 0 : -ENOMEM;
}

/* A publication name: any identifier of 1 to 63 bytes (core quotes it). */
static int set_name(struct ww_config *cfg, const struct ww_key_spec *k, const char *v, char *why,
                    size_t whylen)
{
    size_t n = strlen(v);
    if (n < 1 || n > 63) {
        snprintf(why, whylen, "expected a publication name of 1 to 63 bytes");
        return -EINVAL;
    }
    char **field = FIELD(cfg, k, char *);
    *field = strdup(v);
    return *field ? 0 : -ENOMEM;
}

#define TABLES_EXPECTED "expected a comma-separated list of [schema.]table names"

/* Read one name of a table list element at *pp into out (64 bytes): a bare
 * name is folded to lower case as PostgreSQL does; a "quoted ""name"""
 * keeps its case and may hold spaces and commas but no dot, since the
 * result is written "schema.table" with exactly one dot. */
static int read_ident(const char **pp, char *out, int idx, char *why, size_t whylen)
{
    const char *p = *pp;
    size_t len = 0;
    bool quoted = *p == '"';
    if (quoted)
        p++;
    for (;;) {
        char c = *p;
        if (quoted) {
            if (c == '\0') {
                snprintf(why, whylen, TABLES_EXPECTED " (element %d: a quote is not closed)", idx);
                return -EINVAL;
            }
            p++;
            if (c == '"' && *p != '"')
                break; /* closing quote; "" is a literal quote */
            if (c == '"')
                p++;
            if (c == '.') {
                snprintf(why, whylen,
                         TABLES_EXPECTED " (element %d: a dot inside a quoted name is not "
                                         "supported)",
                         idx);
                return -EINVAL;
            }
        } else {
            if (c == '\0' || c == ',' || c == '.' || is_blank(c))
                break;
            bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                          (unsigned char)c >= 0x80;
            bool digit = (c >= '0' && c <= '9') || c == '$';
            if (!letter && !(digit && len > 0)) {
                snprintf(why, whylen,
                         TABLES_EXPECTED " (element %d: unexpected character '%c'; quote "
                                         "names that are not plain identifiers)",
                         idx, (c >= 0x20 && c < 0x7f) ? c : '?');
                return -EINVAL;
            }
            c = lower_ascii(c);
            p++;
        }
        if (len == 63) {
            snprintf(why, whylen, TABLES_EXPECTED " (element %d: a name is longer than 63 bytes)",
                     idx);
            return -EINVAL;
        }
        out[len++] = c;
    }
    if (len == 0) {
        snprintf(why, whylen, TABLES_EXPECTED " (element %d has an empty name)", idx);
        return -EINVAL;
    }
    out[len] = '\0';
    *pp = p;
    return 0;
}

/* tables = public.users, orders, "My Schema"."My Table" -> cfg->tables as
 * "public.users", "public.orders", "My Schema.My Table". */
static int set_tables(struct ww_config *cfg, const struct ww_key_spec *k, const char *v, char *why,
                      size_t whylen)
{
    const char *p = v;
    while (is_blank(*p))
        p++;
    for (int idx = 1; *p != '\0'; idx++) {
        char schema[64] = "public", table[64];
        while (is_blank(*p))
            p++;
        if (*p == ',' || *p == '\0') {
            snprintf(why, whylen, TABLES_EXPECTED " (element %d is empty)", idx);
            return -EINVAL;
        }
        if (read_ident(&p, table, idx, why, whylen) < 0)
            return -EINVAL;
        if (*p == '.') {
            p++;
            memcpy(schema, table, sizeof(table));
            if (read_ident(&p, table, idx, why, whylen) < 0)
                return -EINVAL;
            if (*p == '.') {
                snprintf(why, whylen, TABLES_EXPECTED " (element %d has more than one dot)", idx);
                return -EINVAL;
            }
        }
        while (is_blank(*p))
            p++;
        if (*p != ',' && *p != '\0') {
            snprintf(why, whylen, TABLES_EXPECTED " (element %d: unexpected text after the name)",
                     idx);
            return -EINVAL;
        }
        if (*p == ',' && *++p == '\0') {
            snprintf(why, whylen, TABLES_EXPECTED " (element %d is empty)", idx + 1);
            return -EINVAL;
        }
        size_t n = strlen(schema) + 1 + strlen(table) + 1;
        char *name = malloc(n);
        char **grown = realloc(cfg->tables, (cfg->ntables + 1) * sizeof(char *));
        if (grown)
            cfg->tables = grown;
        if (!name || !grown) {
            free(name);
            return -ENOMEM;
        }
        snprintf(name, n, "%s.%s", schema, table);
        for (size_t i = 0; i < cfg->ntables; i++) {
            if (strcmp(cfg->tables[i], name) == 0) {
                snprintf(why, whylen, TABLES_EXPECTED " (element %d, %.140s, is listed twice)", idx,
                         name);
                free(name);
                return -EINVAL;
            }
        }
        cfg->tables[cfg->ntables++] = name;
    }
    return 0;
}

static int set_snapshot(struct ww_config *cfg, const struct ww_key_spec *k, const char *v,
                        char *why, size_t whylen)
{
    static const char *const names[] = {"initial", "never", "always", "initial_only"};
    static const enum ww_snapshot_mode modes[] = {WW_SNAPSHOT_INITIAL, WW_SNAPSHOT_NEVER,
                                                  WW_SNAPSHOT_ALWAYS, WW_SNAPSHOT_INITIAL_ONLY};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, names[i]) == 0) {
            cfg->snapshot = modes[i];
            return 0;
        }
    }
    snprintf(why, whylen, "expected initial, never, always or initial_only");
    return -EINVAL;
}

static int set_workers(struct ww_config *cfg, const struct ww_key_spec *k, const char *v, char *why,
                       size_t whylen)
{
    uint64_t n;
    const char *p = v;
    if (read_u64(&p, &n) < 0 || *p != '\0' || n < 1 || n > 64) {
        snprintf(why, whylen, "expected a number from 1 to 64");
        return -EINVAL;
    }
    cfg->snapshot_workers = (int)n;
    return 0;
}

/* The module is loaded as sink_<type>.so, so type must not reach outside
 * the module directory: lower-case letters, digits, underscores. */
static int set_sink_type(struct ww_config *cfg, const struct ww_key_spec *k, const char *v,
                         char *why, size_t whylen)
{
    size_t n = strlen(v);
    bool ok = n <= 32;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_';
    if (!ok) {
        snprintf(why, whylen,
                 "expected a sink name such as file, kafka, redis or null (lower-case letters, "
                 "digits, underscores)");
        return -EINVAL;
    }
    cfg->sink_type = strdup(v);
    return cfg->sink_type ? 0 : -ENOMEM;
}

/* "host:port" (IPv6 as "[::1]:9187"); empty disables the HTTP server. */
static int set_listen(struct ww_config *cfg, const struct ww_key_spec *k, const char *v, char *why,
                      size_t whylen)
{
    if (*v == '\0')
        return 0;
    const char *colon = strrchr(v, ':');
    uint64_t port = 0;
    const char *p = colon ? colon + 1 : NULL;
    if (!colon || colon == v || read_u64(&p, &port) < 0 || *p != '\0' || port > 65535) {
        snprintf(why, whylen,
                 "expected host:port such as 127.0.0.1:9187 (0.0.0.0:9187 for every interface), "
                 "or nothing to disable");
        return -EINVAL;
    }
    cfg->http_listen = strdup(v);
    return cfg->http_listen ? 0 : -ENOMEM;
}

static int set_log_level(struct ww_config *cfg, const struct ww_key_spec *k, const char *v,
                         char *why, size_t whylen)
{
    if (ww_log_level_parse(v, &cfg->log_level) < 0) {
        snprintf(why, whylen, "expected error, warn, info or debug");
        return -EINVAL;
    }
    return 0;
}

static int set_log_format(struct ww_config *cfg, const struct ww_key_spec *k, const char *v,
                          char *why, size_t whylen)
{
    enum ww_log_format f;
    if (ww_log_format_parse(v, &f) < 0) {
        snprintf(why, whylen, "expected text or json");
        return -EINVAL;
    }
    cfg->log_format = (int)f;
    return 0;
}

static int set_temporal(struct ww_config *cfg, const struct ww_key_spec *k, const char *v,
                        char *why, size_t whylen)
{
    if (strcasecmp(v, "debezium") == 0 || strcasecmp(v, "iso8601") == 0) {
        cfg->temporal_iso8601 = strcasecmp(v, "iso8601") == 0;
        return 0;
    }
    snprintf(why, whylen, "expected debezium or iso8601");
    return -EINVAL;
}

/* ---- the table of keys ------------------------------------------------ */

#define OFF(field)    offsetof(struct ww_config, field)
#define MS_1H         (3600u * 1000u)
#define CONNINFO_HINT "set it to a libpq connection string such as host=db dbname=app user=walwire"
#define TYPE_HINT     "set it to file, kafka, redis or null (loads sink_<type>.so)"

/* The defaults are the documented ones (config.h, DESIGN.md section 6,
 * docs/configuration.md, walwire.example.conf). */
const struct ww_key_spec ww_key_specs[] = {
    {"source", "conninfo", NULL, set_string, OFF(conninfo), .expected = CONNINFO_HINT,
     .flags = WW_KEY_REQUIRED},
    {"source", "password_file", "", set_string, OFF(password_file), .flags = WW_KEY_EMPTY_NULL},
    {"source", "slot", "walwire", set_slot},
    {"source", "publication", "walwire", set_name, OFF(publication)},
    {"source", "tables", "", set_tables},
    {"source", "create_slot", "true", set_bool, OFF(create_slot)},
    {"source", "create_publication", "true", set_bool, OFF(create_publication)},
    {"source", "snapshot", "initial", set_snapshot},
    {"source", "snapshot_workers", "2", set_workers},
    {"source", "state_file", "walwire.state", set_string, OFF(state_file),
     .flags = WW_KEY_NONEMPTY},
    {"source", "status_interval", "10s", set_duration, OFF(status_interval_ms), 1, MS_1H,
     "a duration greater than 0 and at most 1h"},
    {"source", "heartbeat_interval", "0", set_duration, OFF(heartbeat_interval_ms), 0, UINT64_MAX},
    {"source", "max_inflight_bytes", "64MB", set_size, OFF(max_inflight_bytes), 64 * 1024,
     UINT64_MAX, "a size of at least 64kB"},
    {"source", "shutdown_timeout", "30s", set_duration, OFF(shutdown_timeout_ms), 0, UINT64_MAX},
    {"source", "retained_wal_warn", "1GB", set_size, OFF(retained_wal_warn_bytes), 0, UINT64_MAX},
    {"sink", "type", NULL, set_sink_type, .expected = TYPE_HINT, .flags = WW_KEY_REQUIRED},
    {"sink", "dir", "", set_string, OFF(sink_dir), .flags = WW_KEY_EMPTY_NULL},
    {"sink", "topic_prefix", "walwire", set_string, OFF(topic_prefix), .flags = WW_KEY_NONEMPTY},
    {"http", "listen", "", set_listen},
    {"log", "level", "info", set_log_level},
    {"log", "format", "text", set_log_format},
    {"format", "temporal", "debezium", set_temporal},
    {"format", "transactions", "false", set_bool, OFF(transactions)},
    /* The sinks' documented keys: no setter, the sink validates them. */
    {"file", "path"},
    {"file", "fsync"},
    {"kafka", "topic"},
    {"kafka", "message_topic"},
    {"kafka", "transaction_topic"},
    {"kafka", "tombstones"},
    {"redis", "url"},
    {"redis", "stream"},
    {"redis", "message_stream"},
    {"redis", "transaction_stream"},
    {"redis", "maxlen"},
    {"redis", "id"},
    {"redis", "connect_timeout"},
    {"redis", "reply_timeout"},
    {"redis", "oom_wait"},
    {"redis", "max_pending"},
};
const size_t ww_key_nspecs = sizeof(ww_key_specs) / sizeof(ww_key_specs[0]);

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

bool ww_config_is_core_section(const char *name)
{
    return in_list(name, sections_core, sizeof(sections_core) / sizeof(sections_core[0]));
}

bool ww_config_is_sink_section(const char *name)
{
    return in_list(name, sections_sink, sizeof(sections_sink) / sizeof(sections_sink[0]));
}

const struct ww_key_spec *ww_key_find(const char *section, const char *key)
{
    for (size_t i = 0; i < ww_key_nspecs; i++)
        if (strcmp(ww_key_specs[i].section, section) == 0 && strcmp(ww_key_specs[i].key, key) == 0)
            return &ww_key_specs[i];
    return NULL;
}

/* Case-insensitive substring test, ASCII only (strcasestr is not POSIX). */
static bool contains_word(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (; *s; s++)
        if (strncasecmp(s, word, n) == 0)
            return true;
    return false;
}

/* Secret values: conninfo (password=...), [redis] url
 * (redis://:password@host), and every key of a sink section whose name
 * contains password, secret, sasl or key (ssl.key.password,
 * sasl.username, ...). password_file is a path, not a secret. */
bool ww_key_is_secret(const char *section, const char *key)
{
    static const char *const words[] = {"password", "secret", "sasl", "key"};
    if (strcmp(section, "source") == 0)
        return strcmp(key, "conninfo") == 0;
    if (strcmp(section, "redis") == 0 && strcmp(key, "url") == 0)
        return true;
    if (!ww_config_is_sink_section(section))
        return false;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (contains_word(key, words[i]))
            return true;
    return false;
}

void ww_key_hint(const char *section, const char *key, char *buf, size_t n)
{
    const struct ww_key_spec *best = NULL;
    size_t best_d = 3; /* suggest at an edit distance of 2 or less */
    for (size_t i = 0; i < ww_key_nspecs; i++) {
        if (strcmp(ww_key_specs[i].section, section) != 0)
            continue;
        size_t d = edit_distance(key, ww_key_specs[i].key);
        if (d < best_d) {
            best = &ww_key_specs[i];
            best_d = d;
        }
    }
    if (best) {
        snprintf(buf, n, "; did you mean %s?", best->key);
        return;
    }
    for (size_t i = 0; i < ww_key_nspecs; i++) {
        if (strcmp(ww_key_specs[i].key, key) == 0) {
            snprintf(buf, n, "; %s belongs in [%s]", key, ww_key_specs[i].section);
            return;
        }
    }
    size_t o = (size_t)snprintf(buf, n, "; valid keys are");
    const char *sep = " ";
    for (size_t i = 0; i < ww_key_nspecs && o < n; i++) {
        if (strcmp(ww_key_specs[i].section, section) == 0) {
            o += (size_t)snprintf(buf + o, n - o, "%s%s", sep, ww_key_specs[i].key);
            sep = ", ";
        }
    }
}

void ww_section_hint(const char *name, char *buf, size_t n)
{
    static const char *const all[] = {"source", "sink",  "http",  "log", "format",
                                      "file",   "kafka", "redis", "null"};
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        size_t d = edit_distance(name, all[i]);
        if (d < best_d) {
            best = all[i];
            best_d = d;
        }
    }
    if (best)
        snprintf(buf, n, "; did you mean [%s]? Valid sections are " WW_CONFIG_SECTIONS, best);
    else
        snprintf(buf, n, "; valid sections are " WW_CONFIG_SECTIONS);
}
