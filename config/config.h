/*
 * Configuration: an INI file (parsed with inih) plus environment overrides,
 * validated into struct ww_config. DESIGN.md section 6 and README.md list the
 * keys.
 *
 * Environment: WALWIRE_<SECTION>_<KEY> (upper case, '.' written as '_')
 * overrides or adds a key; e.g. WALWIRE_SOURCE_CONNINFO,
 * WALWIRE_KAFKA_BOOTSTRAP_SERVERS (-> [kafka] bootstrap.servers). A variable
 * whose section is unknown is an error, like an unknown key in the file.
 *
 * Sections:
 *   source, sink, http, log, format   known keys only, validated here
 *   file, kafka, redis, null          the sink sections: kept as key/value
 *                                     lists and validated by the sink itself
 *                                     (through struct ww_host), because only
 *                                     the sink knows its keys; a section of
 *                                     another sink than [sink] type is kept
 *                                     but unused
 * Any other section is an error.
 *
 * Errors: ww_config_load() returns -EINVAL (bad content) or -ENOENT/-EACCES
 * (file) and writes one line into err that names where (file:line, or the
 * environment variable), the section and key, what was expected and what
 * was found, e.g.
 *   walwire.conf:12: [source] max_inflight_bytes: expected a size such as
 *   64MB, got "lots"
 * Values of secret keys (conninfo, any key containing "password", "secret"
 * or "key" in a sink section, redis url) are never echoed.
 *
 * Ownership: struct ww_config owns all its strings; ww_config_free().
 */
#ifndef WW_CONFIG_H
#define WW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "walwire/sink.h" /* enum ww_log_level */

enum ww_snapshot_mode {
    WW_SNAPSHOT_INITIAL,      /* snapshot when the slot is new, then stream */
    WW_SNAPSHOT_NEVER,        /* stream only */
    WW_SNAPSHOT_ALWAYS,       /* snapshot at every start, then stream */
    WW_SNAPSHOT_INITIAL_ONLY, /* snapshot, then exit */
};

/* One key = value, from the file or the environment. */
struct ww_config_entry {
    char *key;
    char *value;
    /* Where it was set: the file's path and line, or the environment
     * variable's name with line 0. */
    const char *origin;
    int line;
};

struct ww_config_section {
    char *name;
    struct ww_config_entry *entries;
    size_t nentries;
};

struct ww_config {
    char *path; /* the file given with -c */

    /* [source] */
    char *conninfo;          /* required; libpq conninfo or URI */
    char *password_file;     /* optional: file whose first line is the password */
    char *slot;              /* default "walwire"; a valid slot name */
    char *publication;       /* default "walwire" */
    char **tables;           /* "schema.table", empty = all in the publication */
    size_t ntables;
    bool create_slot;        /* default true */
    bool create_publication; /* default true */
    enum ww_snapshot_mode snapshot; /* default initial */
    int snapshot_workers;           /* default 2, 1..64 */
    char *state_file;               /* default "walwire.state" next to nothing: cwd */
    uint64_t status_interval_ms;    /* default 10s, > 0 */
    uint64_t heartbeat_interval_ms; /* default 0 = off */
    uint64_t max_inflight_bytes;    /* default 64MB, >= 64kB */
    uint64_t shutdown_timeout_ms;   /* default 30s: wait for acks on SIGTERM */
    uint64_t retained_wal_warn_bytes; /* default 1GB: warn when the slot retains more; 0 off */

    /* [sink] */
    char *sink_type;    /* required: file | kafka | redis | null | any module name */
    char *sink_dir;     /* NULL: the compiled-in module directory */
    char *topic_prefix; /* default "walwire" */

    /* [http] */
    char *http_listen; /* NULL or "" disables; "host:port" */

    /* [log] */
    enum ww_log_level log_level; /* default info */
    int log_format;              /* enum ww_log_format from log.h; default text */

    /* [format] */
    bool temporal_iso8601;  /* temporal = iso8601 (default: debezium) */
    bool transactions;      /* emit transaction metadata (default false) */

    /* Every section as read, after environment overrides, including the
     * known ones. */
    struct ww_config_section *sections;
    size_t nsections;
};

/* Load path, apply overrides from envp (NULL-terminated "NAME=value"
 * strings, normally environ), validate. On error *cfg is left freed and err
 * holds one line. */
int ww_config_load(const char *path, char *const *envp, struct ww_config *cfg, char *err,
                   size_t errlen);
void ww_config_free(struct ww_config *cfg);

/* A section by name, or NULL. */
const struct ww_config_section *ww_config_section(const struct ww_config *cfg, const char *name);
/* An entry of a section by key, or NULL. */
const struct ww_config_entry *ww_config_entry_get(const struct ww_config_section *s,
                                                  const char *key);

/* Value parsers shared with the sinks' validation (through the host). Each
 * returns 0 or -EINVAL. */
int ww_parse_size(const char *s, uint64_t *bytes);          /* "64MB", "512kB", "1048576" */
int ww_parse_duration_ms(const char *s, uint64_t *ms);      /* "10s", "500ms", "2m", "10" (s) */
int ww_parse_bool(const char *s, bool *out);                /* true/false/on/off/yes/no/1/0 */

#endif
