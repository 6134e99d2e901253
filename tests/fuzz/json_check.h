/*
 * A strict JSON validator for the fuzz targets (RFC 8259, with UTF-8
 * checked: no overlong forms, no surrogates, nothing above U+10FFFF;
 * \u escapes must pair surrogates). Checks, does not build anything.
 *
 * Duplicate object keys are allowed (RFC 8259 says SHOULD be unique; a
 * Relation message may name two columns alike and the encoder writes what it
 * is given). Nesting deeper than 64 levels is refused: walwire never writes
 * deeper than arrays of PostgreSQL's 6 dimensions inside the envelope.
 */
#ifndef WW_FUZZ_JSON_CHECK_H
#define WW_FUZZ_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Is s[0..len) exactly one JSON object, starting at its first byte
 * (walwire writes no leading whitespace)? On false, *where (if given) is
 * the offset of the first byte that does not fit. */
bool fz_json_is_object(const char *s, size_t len, size_t *where);

/* Abort with the text and the offset when s[0..len) is not a JSON object:
 * libFuzzer then reports the input as a crash. what names the output
 * ("value", "key"). */
void fz_json_require_object(const char *what, const char *s, size_t len);

#endif
