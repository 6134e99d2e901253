/*
 * Parser for one row of COPY ... TO STDOUT in text format (PostgreSQL's
 * default COPY format), as the snapshot reads it: columns separated by a
 * tab, the row ended by a newline, \N for NULL, and backslash escapes
 * (\b \f \n \r \t \v, \\, octal \NNN, hex \xHH, and \<any char> for that
 * char).
 *
 * The row becomes a struct ww_pgo_tuple of text values, the same shape the
 * pgoutput decoder gives, so snapshot rows and streamed rows share the
 * encoder.
 *
 * Ownership: values point into line (fields without escapes) or into
 * `scratch` (unescaped copies), which the caller owns and reuses; they stay
 * valid while line is and until scratch is reset.
 * Errors: -EBADMSG when the row does not have exactly ncols columns.
 */
#ifndef WW_COPYTEXT_H
#define WW_COPYTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pgoutput.h"

/* line[0..len) is one row, with or without its trailing newline. values
 * must have room for ncols entries. */
int ww_copy_parse_row(const char *line, size_t len, uint16_t ncols, struct ww_pgo_value *values,
                      struct ww_buf *scratch);

#endif
