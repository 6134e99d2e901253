#include "json.h"

#include <stdint.h>
#include <string.h>

/* An ASCII byte that JSON takes as it is. */
static inline int is_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Does any of the 8 bytes of x need escaping or UTF-8 checking: below
 * 0x20, '"', '\\' or 0x80 and above? (Bit tricks on 8 bytes at once:
 * "has a zero byte" applied to x, x ^ '"' and x ^ '\\'.) */
static inline int word_needs_care(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    uint64_t low = (x - ones * 0x20) & ~x;
    uint64_t hq = (q - ones) & ~q, hb = (b - ones) & ~b;
    return ((low | hq | hb) & highs) != 0 || (x & highs) != 0;
}

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c == 0xE0)
        n = 3, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        n = 3;
    else if (c == 0xED)
        n = 3, hi = 0x9F; /* no UTF-16 surrogates */
    else if (c == 0xF0)
        n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        n = 4;
    else if (c == 0xF4)
        n = 4, hi = 0x8F;
    else
        return 0;
    if (left < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

void ww_json_escape(struct ww_buf *b, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    ww_buf_reserve(b, len);
    while (i < len) {
        /* Copy the longest run of bytes that need nothing. */
        size_t start = i;
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (word_needs_care(w))
                break;
            i += 8;
        }
        while (i < len && is_plain(s[i]))
            i++;
        if (i > start)
            ww_buf_append(b, s + start, i - start);
        if (i == len)
            break;
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t n = utf8_seq_len(s + i, len - i);
            if (n) {
                ww_buf_append(b, s + i, n);
                i += n;
            } else {
                ww_buf_puts(b, "\\ufffd");
                i++;
            }
            continue;
        }
        i++;
        switch (c) {
        case '"': ww_buf_puts(b, "\\\""); break;
        case '\\': ww_buf_puts(b, "\\\\"); break;
        case '\n': ww_buf_puts(b, "\\n"); break;
        case '\r': ww_buf_puts(b, "\\r"); break;
        case '\t': ww_buf_puts(b, "\\t"); break;
        case '\b': ww_buf_puts(b, "\\b"); break;
        case '\f': ww_buf_puts(b, "\\f"); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            ww_buf_append(b, u, 6);
        }
        }
    }
}

void ww_json_string(struct ww_buf *b, const char *s, size_t len)
{
    ww_buf_putc(b, '"');
    ww_json_escape(b, s, len);
    ww_buf_putc(b, '"');
}
