/*
 * A strict JSON validator for the tests and the fuzz targets (RFC 8259, with UTF-8
 * checked: no overlong forms, no surrogates, nothing above U+10FFFF;
 * \u escapes must pair surrogates). Checks, does not build anything.
 *
 * Duplicate object keys are allowed (RFC 8259 says SHOULD be unique; a
 * Relation message may name two columns alike and the encoder writes what it
 * is given). Nesting deeper than 64 levels is refused: walwire never writes
 * deeper than arrays of PostgreSQL's 6 dimensions inside the envelope.
 */
#ifndef WW_TEST_JSON_CHECK_H
#define WW_TEST_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Is s[0..len) exactly one JSON value, with optional whitespace around it?
 * On false, *where (if given) is the offset of the first byte that does
 * not fit. */
bool json_check_value(const char *s, size_t len, size_t *where);

/* Is s[0..len) exactly one JSON object, starting at its first byte
 * (walwire writes no leading whitespace)? *where as above. */
bool json_check_object(const char *s, size_t len, size_t *where);

#endif
