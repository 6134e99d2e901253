/*
 * What the encoder test files share: one encoder and one output buffer
 * (set up and torn down around every test by the suites' init/fini), and
 * the value checks. Tests run one per process (Criterion), so the globals
 * are never shared between two tests.
 */
#ifndef WW_TEST_ENCODE_FIXTURE_H
#define WW_TEST_ENCODE_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "encode_json.h"
#include "encode_types.h"
#include "json_check.h" /* tests/lib */

extern struct ww_encoder enc;
extern struct ww_buf out;

/* Init/fini: an encoder with prefix "pfx" and database "app", default or
 * ISO-8601 temporals, and an empty buffer. */
void setup_plain(void);
void setup_iso(void);
void teardown(void);

/* The JSON of one value, NUL-terminated in out; also checks it is JSON. */
const char *val(uint32_t oid, int32_t typmod, const char *text);

/* Is s[0..len) (or the string s) exactly one valid JSON value? */
static inline bool is_json(const char *s, size_t len)
{
    return json_check_value(s, len, NULL);
}

static inline bool isj(const char *s)
{
    return is_json(s, strlen(s));
}

/* expect: the JSON, and whether the value counted as bad */
#define CHECK(oid, typmod, text, expect, bad)                                                      \
    do {                                                                                           \
        uint64_t before_ = enc.bad_values;                                                         \
        const char *got_ = val((oid), (typmod), (text));                                           \
        cr_expect_str_eq(got_, (expect), "%s -> %s, expected %s", (text), got_, (expect));         \
        cr_expect_eq(enc.bad_values - before_, (uint64_t)(bad), "bad count for %s", (text));       \
    } while (0)

#define OK(oid, text, expect)  CHECK(oid, -1, text, expect, 0)
#define BAD(oid, text, expect) CHECK(oid, -1, text, expect, 1)

#endif
