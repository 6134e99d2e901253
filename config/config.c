/*
 * Configuration loader: the INI file (through inih), then the environment,
 * then validation into struct ww_config. config.h is the contract and
 * docs/configuration.md the user's reference.
 *
 * The load runs in four steps; the first error stops it and leaves one line
 * in err:
 *   1. read_line() hands inih one line at a time. Debian's inih calls the
 *      handler without a line number, so we count lines here. We also strip
 *      comments (a line starting with ';' or '#', and ';' or '#' preceded by
 *      a space or tab), drop indentation (inih would otherwise take an
 *      indented line as the continuation of the previous value), check
 *      section headers and "key = value" syntax, and refuse lines longer
 *      than inih's buffer (inih would cut them and parse the rest as a new
 *      line).
 *   2. on_key() stores every key = value in cfg->sections with its origin,
 *      rejecting unknown keys of the core sections and duplicates.
 *   3. apply_env() applies WALWIRE_<SECTION>_<KEY> variables.
 *   4. validate() turns the final value (or the default) of every core key
 *      into the typed fields.
 *
 * No global state; nothing is printed. Values of secret keys are never
 * copied into an error message (ww_key_is_secret()).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_keys.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static char lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* ---- sections and entries -------------------------------------------- */

const struct ww_config_section *ww_config_section(const struct ww_config *cfg, const char *name)
{
    for (size_t i = 0; cfg && i < cfg->nsections; i++)
        if (strcmp(cfg->sections[i].name, name) == 0)
            return &cfg->sections[i];
    return NULL;
}

const struct ww_config_entry *ww_config_entry_get(const struct ww_config_section *s,
                                                  const char *key)
{
    for (size_t i = 0; s && i < s->nentries; i++)
        if (strcmp(s->entries[i].key, key) == 0)
            return &s->entries[i];
    return NULL;
}

/* The section called name, created empty if absent; NULL when out of
 * memory. The pointer is valid until the next section is added. */
static struct ww_config_section *section_get(struct ww_config *cfg, const char *name)
{
    struct ww_config_section *s = (struct ww_config_section *)ww_config_section(cfg, name);
    if (s)
        return s;
    char *copy = strdup(name);
    s = realloc(cfg->sections, (cfg->nsections + 1) * sizeof(*s));
    if (!copy || !s) {
        free(copy);
        if (s)
            cfg->sections = s;
        return NULL;
    }
    cfg->sections = s;
    s = &cfg->sections[cfg->nsections++];
    *s = (struct ww_config_section){.name = copy};
    return s;
}

/* Set key = value in s. origin is the file's path (owned by cfg) when
 * line > 0, else an environment variable's name that the entry copies: an
 * entry with line 0 owns its origin. Replaces an existing entry's value. */
static int entry_set(struct ww_config_section *s, const char *key, const char *value,
                     const char *origin, int line)
{
    struct ww_config_entry *e = (struct ww_config_entry *)ww_config_entry_get(s, key);
    char *v = strdup(value);
    char *o = line > 0 ? (char *)origin : strdup(origin);
    char *k = e ? NULL : strdup(key);
    struct ww_config_entry *grown = e ? NULL : realloc(s->entries, (s->nentries + 1) * sizeof(*e));
    if (grown)
        s->entries = grown;
    if (!v || !o || (!e && (!k || !grown))) {
        free(v);
        free(k);
        if (line == 0)
            free(o);
        return -ENOMEM;
    }
    if (!e) {
        e = &s->entries[s->nentries++];
        *e = (struct ww_config_entry){.key = k};
    } else {
        free(e->value);
        if (e->line == 0)
            free((char *)e->origin);
    }
    e->value = v;
    e->origin = o;
    e->line = line;
    return 0;
}

void ww_config_free(struct ww_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nsections; i++) {
        struct ww_config_section *s = &cfg->sections[i];
        for (size_t j = 0; j < s->nentries; j++) {
            free(s->entries[j].key);
            free(s->entries[j].value);
            if (s->entries[j].line == 0) /* see entry_set */
                free((char *)s->entries[j].origin);
        }
        free(s->entries);
        free(s->name);
    }
    free(cfg->sections);
    for (size_t i = 0; i < cfg->ntables; i++)
        free(cfg->tables[i]);
    free(cfg->tables);
    free(cfg->conninfo);
    free(cfg->password_file);
    free(cfg->slot);
    free(cfg->publication);
    free(cfg->state_file);
    free(cfg->sink_type);
    free(cfg->sink_dir);
    free(cfg->topic_prefix);
    free(cfg->http_listen);
    free(cfg->path);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- errors ------------------------------------------------------------ */

struct loader {
    struct ww_config *cfg;
    const char *name; /* the path for messages; NULL without a file */
    FILE *f;
    char *buf; /* getline's buffer */
    size_t cap;
    int lineno;      /* lines read so far = the line inih is parsing */
    bool in_section; /* a [section] header has been read */
    char *err;
    size_t errlen;
    int rc; /* the first error, 0 while none */
};

/* Record the first error: rc and one line of text. Returns rc. */
static int fail(struct loader *L, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct loader *L, int rc, const char *fmt, ...)
{
    if (L->rc != 0)
        return L->rc;
    L->rc = rc;
    if (L->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(L->err, L->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int fail_nomem(struct loader *L)
{
    return fail(L, -ENOMEM, "%s: out of memory", L->name ? L->name : "configuration");
}

/* "walwire.conf:12" for a file entry, "environment WALWIRE_X" for a
 * variable. */
static void where(const struct ww_config_entry *e, char *buf, size_t n)
{
    if (e->line > 0)
        snprintf(buf, n, "%s:%d", e->origin, e->line);
    else
        snprintf(buf, n, "environment %s", e->origin);
}

/* A value as an error message shows it: "(value hidden)" for secrets,
 * otherwise quoted, control characters as '?', cut after 60 bytes. */
static void show_value(const char *section, const char *key, const char *v, char *buf, size_t n)
{
    if (ww_key_is_secret(section, key)) {
        snprintf(buf, n, "(value hidden)");
        return;
    }
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; v[i] && o + 6 < n; i++) {
        if (i == 60) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char c = (unsigned char)v[i];
        buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

/* ---- step 1: lines for inih -------------------------------------------- */

/* Cut the comment off a line and trim it in place: a line whose first
 * non-blank character is ';' or '#' is all comment; elsewhere ';' or '#'
 * starts a comment when a space or tab precedes it. Returns the start. */
static char *strip_line(char *s)
{
    while (is_blank(*s))
        s++;
    if (*s == ';' || *s == '#')
        *s = '\0';
    for (char *p = s; *p; p++) {
        if ((*p == ';' || *p == '#') && p > s && is_blank(p[-1])) {
            *p = '\0';
            break;
        }
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* A "[name]" line: check the name, remember we are inside a section, and
 * hand inih the header without blanks. */
static int check_header(struct loader *L, char *line)
{
    size_t n = strlen(line);
    if (n < 2 || line[n - 1] != ']')
        return fail(L, -EINVAL, "%s:%d: malformed section header: expected [name]", L->name,
                    L->lineno);
    line[n - 1] = '\0';
    char *name = line + 1;
    while (is_blank(*name))
        name++;
    for (size_t m = strlen(name); m > 0 && is_blank(name[m - 1]); m--)
        name[m - 1] = '\0';
    if (*name == '\0')
        return fail(L, -EINVAL, "%s:%d: empty section name []", L->name, L->lineno);
    if (!ww_config_is_core_section(name) && !ww_config_is_sink_section(name)) {
        char hint[200];
        ww_section_hint(name, hint, sizeof(hint));
        return fail(L, -EINVAL, "%s:%d: unknown section [%.60s]%s", L->name, L->lineno, name, hint);
    }
    L->in_section = true;
    memmove(line + 1, name, strlen(name) + 1);
    strcat(line, "]");
    return 0;
}

/* inih's reader (fgets-like): the next line, cleaned up, or NULL at the end
 * of the file or after an error. inih parses each line before asking for
 * the next one, so L->lineno is the line of every on_key() call. */
static char *read_line(char *str, int num, void *stream)
{
    struct loader *L = stream;
    if (L->rc != 0)
        return NULL;
    errno = 0;
    ssize_t len = getline(&L->buf, &L->cap, L->f);
    if (len < 0) {
        if (ferror(L->f)) {
            int e = errno ? errno : EIO;
            char reason[128];
            if (strerror_r(e, reason, sizeof(reason)) != 0)
                snprintf(reason, sizeof(reason), "error %d", e);
            fail(L, -e, "cannot read %s: %s", L->name, reason);
        }
        return NULL;
    }
    L->lineno++;
    char *line = L->buf;
    if (strlen(line) != (size_t)len) {
        fail(L, -EINVAL, "%s:%d: the line holds a NUL byte; is this a text file?", L->name,
             L->lineno);
        return NULL;
    }
    if (L->lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
        line += 3; /* UTF-8 byte order mark */
    line = strip_line(line);
    if (*line == '[') {
        if (check_header(L, line) < 0)
            return NULL;
    } else if (*line != '\0') {
        char *sep = strpbrk(line, "=:"); /* inih splits at the first of these */
        if (!sep) {
            fail(L, -EINVAL, "%s:%d: expected key = value, a [section] header or a comment",
                 L->name, L->lineno);
            return NULL;
        }
        if (sep == line) {
            fail(L, -EINVAL, "%s:%d: missing key name before '%c'", L->name, L->lineno, *sep);
            return NULL;
        }
        if (!L->in_section) {
            fail(L, -EINVAL,
                 "%s:%d: key outside any section: put it under one of [" WW_CONFIG_SECTIONS "]",
                 L->name, L->lineno);
            return NULL;
        }
    }
    size_t n = strlen(line);
    if (num < 3 || n > (size_t)num - 2) { /* + '\n' + '\0' */
        fail(L, -EINVAL,
             "%s:%d: line longer than %d characters (comments excluded); set long values "
             "through the environment, e.g. WALWIRE_SOURCE_CONNINFO",
             L->name, L->lineno, num - 2);
        return NULL;
    }
    memcpy(str, line, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    return str;
}

/* ---- step 2: keys ------------------------------------------------------ */

/* inih's handler: one key = value of the file. Nonzero = keep going. */
static int on_key(void *user, const char *section, const char *key, const char *value)
{
    struct loader *L = user;
    if (L->rc != 0)
        return 0;
    /* inih also splits at ':', so "url redis://..." (no '=') reads as the
     * key "url redis"; such a key may hold a secret: do not echo it. */
    if (strpbrk(key, " \t")) {
        fail(L, -EINVAL, "%s:%d: [%s] a key name cannot contain blanks; expected key = value",
             L->name, L->lineno, section);
        return 0;
    }
    if (ww_config_is_core_section(section) && !ww_key_find(section, key)) {
        char hint[300];
        ww_key_hint(section, key, hint, sizeof(hint));
        fail(L, -EINVAL, "%s:%d: [%s] unknown key %.60s%s", L->name, L->lineno, section, key, hint);
        return 0;
    }
    struct ww_config_section *s = section_get(L->cfg, section);
    if (!s) {
        fail_nomem(L);
        return 0;
    }
    const struct ww_config_entry *old = ww_config_entry_get(s, key);
    if (old) {
        fail(L, -EINVAL, "%s:%d: [%s] %.60s is set twice, on lines %d and %d", L->name, L->lineno,
             section, key, old->line, L->lineno);
        return 0;
    }
    if (entry_set(s, key, value, L->cfg->path, L->lineno) < 0) {
        fail_nomem(L);
        return 0;
    }
    return 1;
}

/* ---- step 3: the environment ------------------------------------------- */

/* Does a key of the file match an environment key (lower case, '_')?
 * "bootstrap.servers" matches "bootstrap_servers". */
static bool env_key_matches(const char *key, const char *env_key)
{
    for (; *key && *env_key; key++, env_key++) {
        char c = *key == '.' ? '_' : lower_ascii(*key);
        if (c != *env_key)
            return false;
    }
    return *key == '\0' && *env_key == '\0';
}

/* The key that WALWIRE_<SECTION>_<env_key> sets in section, as a pointer
 * into an existing entry or table, or NULL when it is new. */
static const char *env_known_key(const struct ww_config *cfg, const char *section,
                                 const char *env_key)
{
    const struct ww_config_section *s = ww_config_section(cfg, section);
    for (size_t i = 0; s && i < s->nentries; i++)
        if (env_key_matches(s->entries[i].key, env_key))
            return s->entries[i].key;
    for (size_t i = 0; i < ww_key_nspecs; i++)
        if (strcmp(ww_key_specs[i].section, section) == 0 &&
            env_key_matches(ww_key_specs[i].key, env_key))
            return ww_key_specs[i].key;
    return NULL;
}

/* Apply one "WALWIRE_<SECTION>_<KEY>=value". name is the variable's name,
 * section and key its lower-cased parts (modified in place). */
static int env_apply_one(struct loader *L, const char *name, char *section, char *key,
                         const char *value)
{
    if (!ww_config_is_core_section(section) && !ww_config_is_sink_section(section))
        return fail(
            L, -EINVAL,
            "environment %.100s: unknown section [%.40s]; valid sections are " WW_CONFIG_SECTIONS,
            name, section);
    const char *known = env_known_key(L->cfg, section, key);
    if (!known && ww_config_is_core_section(section)) {
        char hint[300];
        ww_key_hint(section, key, hint, sizeof(hint));
        return fail(L, -EINVAL, "environment %.100s: [%s] unknown key %.60s%s", name, section, key,
                    hint);
    }
    if (!known && strcmp(section, "kafka") == 0) /* librdkafka property names use dots */
        for (char *p = key; *p; p++)
            if (*p == '_')
                *p = '.';
    /* known may point into the entry being replaced: copy it first. */
    char *k = strdup(known ? known : key);
    struct ww_config_section *s = k ? section_get(L->cfg, section) : NULL;
    int rc = s ? entry_set(s, k, value, name, 0) : -ENOMEM;
    free(k);
    return rc < 0 ? fail_nomem(L) : 0;
}

static int apply_env(struct loader *L, char *const *envp)
{
    for (; envp && *envp; envp++) {
        const char *var = *envp, *eq = strchr(var, '=');
        if (strncmp(var, "WALWIRE_", 8) != 0 || !eq)
            continue;
        char *name = strndup(var, (size_t)(eq - var));
        if (!name)
            return fail_nomem(L);
        /* "walwire_source_status_interval": section "source", key
         * "status_interval" */
        char *lower = strdup(name);
        char *under = lower ? strchr(lower + 8, '_') : NULL;
        if (!lower) {
            free(name);
            return fail_nomem(L);
        }
        for (char *p = lower; *p; p++)
            *p = lower_ascii(*p);
        if (!under || under == lower + 8 || under[1] == '\0') {
            fail(L, -EINVAL,
                 "environment %.100s: expected WALWIRE_<SECTION>_<KEY>, such as "
                 "WALWIRE_SOURCE_CONNINFO",
                 name);
        } else {
            *under = '\0';
            env_apply_one(L, name, lower + 8, under + 1, eq + 1);
        }
        free(lower);
        free(name);
        if (L->rc != 0)
            return L->rc;
    }
    return 0;
}

/* ---- step 4: validation ------------------------------------------------ */

/* Give every field of the core keys its value: the file's or the
 * environment's if set, else the default. */
static int validate(struct loader *L)
{
    const char *file = L->name ? L->name : "configuration";
    for (size_t i = 0; i < ww_key_nspecs; i++) {
        const struct ww_key_spec *k = &ww_key_specs[i];
        if (!k->set)
            continue; /* a sink's key */
        const struct ww_config_entry *e =
            ww_config_entry_get(ww_config_section(L->cfg, k->section), k->key);
        const char *v = e ? e->value : k->def;
        char at[300], why[300] = "", shown[80];
        if (e)
            where(e, at, sizeof(at));
        else
            snprintf(at, sizeof(at), "%s", file);
        if ((k->flags & WW_KEY_REQUIRED) && (!v || *v == '\0'))
            return fail(L, -EINVAL, "%s: [%s] %s is %s: %s", at, k->section, k->key,
                        e ? "empty" : "required", k->expected);
        int rc = k->set(L->cfg, k, v, why, sizeof(why));
        if (rc == -ENOMEM)
            return fail_nomem(L);
        if (rc < 0) {
            show_value(k->section, k->key, v, shown, sizeof(shown));
            return fail(L, -EINVAL, "%s: [%s] %s: %s, got %s", at, k->section, k->key, why, shown);
        }
    }
    return 0;
}

/* ---- the public entry point -------------------------------------------- */

static int read_file(struct loader *L, const char *path)
{
    L->cfg->path = strdup(path);
    if (!L->cfg->path)
        return fail_nomem(L);
    L->name = L->cfg->path;
    L->f = fopen(path, "r");
    if (!L->f) {
        int e = errno;
        char reason[128];
        if (strerror_r(e, reason, sizeof(reason)) != 0)
            snprintf(reason, sizeof(reason), "error %d", e);
        return fail(L, -e, "cannot open %s: %s", path, reason);
    }
    int r = ini_parse_stream(read_line, L, on_key, L);
    fclose(L->f);
    L->f = NULL;
    free(L->buf);
    L->buf = NULL;
    /* Our reader and handler report every error inih knows of; these are
     * for an inih that finds more. */
    if (r > 0)
        return fail(L, -EINVAL, "%s:%d: syntax error", L->name, r);
    if (r < 0)
        return fail_nomem(L);
    return L->rc;
}

int ww_config_load(const char *path, char *const *envp, struct ww_config *cfg, char *err,
                   size_t errlen)
{
    struct loader L = {.cfg = cfg, .err = err, .errlen = errlen};
    memset(cfg, 0, sizeof(*cfg));
    if (errlen > 0)
        err[0] = '\0';
    if (path)
        read_file(&L, path);
    if (L.rc == 0)
        apply_env(&L, envp);
    if (L.rc == 0)
        validate(&L);
    if (L.rc != 0)
        ww_config_free(cfg);
    return L.rc;
}
