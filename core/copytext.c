#include "copytext.h"

#include <errno.h>
#include <string.h>

#include "hex.h"

/* Unescape field[0..len) (which holds at least one backslash) into out;
 * returns the unescaped length. */
static size_t unescape(const char *field, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        char c = field[i++];
        if (c != '\\' || i == len) {
            out[o++] = c;
            continue;
        }
        c = field[i++];
        switch (c) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'v': out[o++] = '\v'; break;
        case 'x':
            if (i < len && ww_hex_value(field[i]) >= 0) {
                int h = ww_hex_value(field[i++]);
                if (i < len && ww_hex_value(field[i]) >= 0)
                    h = h * 16 + ww_hex_value(field[i++]);
                out[o++] = (char)h;
            } else {
                out[o++] = 'x';
            }
            break;
        default:
            if (c >= '0' && c <= '7') {
                int oct = c - '0';
                for (int k = 0; k < 2 && i < len && field[i] >= '0' && field[i] <= '7'; k++)
                    oct = oct * 8 + (field[i++] - '0');
                out[o++] = (char)oct;
            } else {
                out[o++] = c; /* \\ and any other escaped char */
            }
        }
    }
    return o;
}

int ww_copy_parse_row(const char *line, size_t len, uint16_t ncols, struct ww_pgo_value *values,
                      struct ww_buf *scratch)
{
    if (len && line[len - 1] == '\n')
        len--;
    if (ncols == 0) /* a table without columns: COPY sends empty lines */
        return len == 0 ? 0 : -EBADMSG;
    /* Most fields have no backslash: their values point into line itself.
     * The others are unescaped into scratch, reserved once (unescaping
     * never lengthens a field) so that pointers into it stay valid. */
    ww_buf_reset(scratch);
    const char *p = line, *end = line + len;
    for (uint16_t col = 0; col < ncols; col++) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        const char *stop = tab ? tab : end;
        size_t flen = (size_t)(stop - p);
        struct ww_pgo_value *v = &values[col];
        if (flen == 2 && p[0] == '\\' && p[1] == 'N') {
            v->kind = WW_PGO_NULL;
            v->len = 0;
            v->data = NULL;
        } else if (!memchr(p, '\\', flen)) {
            v->kind = WW_PGO_TEXT;
            v->len = (uint32_t)flen;
            v->data = p;
        } else {
            if (scratch->len == 0)
                ww_buf_reserve(scratch, len + 1); /* once per row: no move after */
            char *out = scratch->data + scratch->len;
            size_t n = unescape(p, flen, out);
            scratch->len += n;
            v->kind = WW_PGO_TEXT;
            v->len = (uint32_t)n;
            v->data = out;
        }
        if (!tab) {
            /* The line is used up: every column must be filled. */
            return col + 1 == ncols ? 0 : -EBADMSG;
        }
        p = tab + 1;
    }
    return -EBADMSG; /* more fields than columns */
}
