/*
 * JSON string escaping, shared by the encoder, the relation cache and the
 * logger.
 *
 * Output is always valid JSON text in UTF-8: '"', '\\' and control
 * characters are escaped; bytes that are not valid UTF-8 (possible in a
 * SQL_ASCII database) are each replaced by U+FFFD, written as "\ufffd".
 */
#ifndef WW_JSON_H
#define WW_JSON_H

#include <stddef.h>

#include "buf.h"

/* Append s[0..len) escaped, without the surrounding quotes. */
void ww_json_escape(struct ww_buf *b, const char *s, size_t len);
/* Append s[0..len) as a quoted JSON string. */
void ww_json_string(struct ww_buf *b, const char *s, size_t len);

#endif
