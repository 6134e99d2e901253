#include "buf.h"

#include <stdio.h>
#include <stdlib.h>

void ww_buf_grow(struct ww_buf *b, size_t extra)
{
    size_t need = b->len + extra;
    if (need < b->len) {
        fprintf(stderr, "walwire: buffer size overflow\n");
        abort();
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    char *p = realloc(b->data, cap);
    if (!p) {
        fprintf(stderr, "walwire: out of memory growing a buffer to %zu bytes\n", cap);
        abort();
    }
    b->data = p;
    b->cap = cap;
}

void ww_buf_free(struct ww_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* "00".."99": two digits per division. */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

void ww_buf_put_u64(struct ww_buf *b, uint64_t v)
{
    char tmp[20];
    size_t n = sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        tmp[--n] = digit_pairs[r * 2 + 1];
        tmp[--n] = digit_pairs[r * 2];
    }
    if (v >= 10) {
        tmp[--n] = digit_pairs[v * 2 + 1];
        tmp[--n] = digit_pairs[v * 2];
    } else {
        tmp[--n] = (char)('0' + v);
    }
    ww_buf_append(b, tmp + n, sizeof tmp - n);
}

void ww_buf_put_i64(struct ww_buf *b, int64_t v)
{
    if (v < 0) {
        ww_buf_putc(b, '-');
        ww_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        ww_buf_put_u64(b, (uint64_t)v);
    }
}

const char *ww_buf_cstr(struct ww_buf *b)
{
    ww_buf_reserve(b, 1);
    b->data[b->len] = '\0';
    return b->data;
}
