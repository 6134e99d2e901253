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

void ww_buf_put_u64(struct ww_buf *b, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ww_buf_reserve(b, n);
    while (n)
        b->data[b->len++] = tmp[--n];
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
