/*
 * A small JSON reader for tests: parses one JSON text into a tree and
 * looks values up by key. Strict (RFC 8259): a test that reads walwire's
 * output with it also checks that the output is valid JSON.
 *
 * Ownership: mj_parse() returns a tree the caller frees with mj_free();
 * every node and string belongs to the tree.
 */
#ifndef WW_TEST_MINIJSON_H
#define WW_TEST_MINIJSON_H

#include <stdbool.h>
#include <stddef.h>

enum mj_type { MJ_NULL, MJ_BOOL, MJ_NUMBER, MJ_STRING, MJ_ARRAY, MJ_OBJECT };

struct mj {
    enum mj_type type;
    bool boolean;
    char *str;       /* MJ_STRING: decoded (UTF-8); MJ_NUMBER: the literal text */
    size_t len;      /* of str */
    char **keys;     /* MJ_OBJECT */
    struct mj **items; /* MJ_ARRAY elements, MJ_OBJECT values */
    size_t n;
};

/* NULL when text is not exactly one valid JSON value (whitespace around is
 * fine); then *err (if given) points at a static description. */
struct mj *mj_parse(const char *text, size_t len, const char **err);
void mj_free(struct mj *v);

/* The member `key` of an object, or NULL (also when v is not an object). */
const struct mj *mj_get(const struct mj *v, const char *key);
/* Follow a path of keys separated by '.', e.g. "source.lsn". */
const struct mj *mj_path(const struct mj *v, const char *path);
/* Element i of an array, or NULL. */
const struct mj *mj_at(const struct mj *v, size_t i);
/* Number as long long (0 when not a number). */
long long mj_int(const struct mj *v);
/* String value, or NULL when not a string. */
const char *mj_str(const struct mj *v);
bool mj_is_null(const struct mj *v);

#endif
