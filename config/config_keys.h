/*
 * Private to config/: the known sections, every key walwire itself knows
 * (with its default and its converter into struct ww_config), which values
 * are secret, and the hints of the error messages ("did you mean ...").
 *
 * config.c reads the file and the environment into sections and entries;
 * config_keys.c says what each core key accepts.
 */
#ifndef WW_CONFIG_KEYS_H
#define WW_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define WW_CONFIG_SECTIONS "source, sink, http, log, format, file, kafka, redis, null"

enum {
    WW_KEY_REQUIRED = 1 << 0,   /* no default: missing or empty is an error */
    WW_KEY_EMPTY_NULL = 1 << 1, /* "" leaves the string field NULL */
    WW_KEY_NONEMPTY = 1 << 2,   /* "" is an error */
};

struct ww_key_spec;

/* Convert value (never NULL) into k's field of cfg. Returns 0, -ENOMEM, or
 * -EINVAL after writing what was expected into why, e.g. "expected a size
 * such as 64MB" (the caller adds where, the key and the value). */
typedef int (*ww_key_setter)(struct ww_config *cfg, const struct ww_key_spec *k, const char *value,
                             char *why, size_t whylen);

struct ww_key_spec {
    const char *section;
    const char *key;
    const char *def;   /* the default as written in the file; NULL if required */
    ww_key_setter set; /* NULL: a sink's key, listed only to match environment
                        * variables to it; the sink validates it */
    size_t off;        /* the field in struct ww_config, for generic setters */
    uint64_t min, max; /* bounds of a size or duration */
    /* Sizes and durations: what the bounds allow ("a size of at least
     * 64kB"). Required keys: what to set ("set it to ..."). */
    const char *expected;
    unsigned flags; /* WW_KEY_* */
};

/* The known keys: the core sections' in the order validation checks them,
 * then the documented keys of the sink sections. */
extern const struct ww_key_spec ww_key_specs[];
extern const size_t ww_key_nspecs;

/* source, sink, http, log, format: only known keys, validated by config.c. */
bool ww_config_is_core_section(const char *name);
/* file, kafka, redis, null: any key, validated by the sink. */
bool ww_config_is_sink_section(const char *name);

/* The spec of section's key, or NULL. */
const struct ww_key_spec *ww_key_find(const char *section, const char *key);

/* True when the value of section's key must never appear in a message. */
bool ww_key_is_secret(const char *section, const char *key);

/* The text after "unknown key K" for a core section: "; did you mean X?",
 * "; K belongs in [S]" or "; valid keys are ...". */
void ww_key_hint(const char *section, const char *key, char *buf, size_t n);
/* The text after "unknown section [S]": a close name and the valid ones. */
void ww_section_hint(const char *name, char *buf, size_t n);

#endif
