/*
 * A growable byte buffer. The hot path appends to buffers that are reused
 * from one event to the next, so appending never allocates once a buffer has
 * grown to the size of the largest event seen.
 *
 * Ownership: the buffer owns data; ww_buf_free() releases it. Allocation
 * failure aborts the process (walwire cannot lose an event to ENOMEM and
 * carry on), so the append functions return nothing.
 */
#ifndef WW_BUF_H
#define WW_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ww_buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
};

/* Make room for at least `extra` more bytes. */
void ww_buf_grow(struct ww_buf *b, size_t extra);
void ww_buf_free(struct ww_buf *b);

static inline void ww_buf_reset(struct ww_buf *b)
{
    b->len = 0;
}

static inline void ww_buf_reserve(struct ww_buf *b, size_t extra)
{
    if (b->cap - b->len < extra)
        ww_buf_grow(b, extra);
}

static inline void ww_buf_append(struct ww_buf *b, const void *p, size_t n)
{
    ww_buf_reserve(b, n);
    char *d = b->data + b->len;
    b->len += n;
    /* Most pieces of an event are short (names, numbers, punctuation): a
     * loop beats a call to memcpy for them. */
    if (n <= 16) {
        const char *s = p;
        while (n--)
            *d++ = *s++;
        return;
    }
    memcpy(d, p, n);
}

static inline void ww_buf_putc(struct ww_buf *b, char c)
{
    ww_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

/* Append a string literal (only a literal: "" lit "" refuses anything
 * else at compile time, where sizeof would silently be a pointer's). */
#define ww_buf_puts(b, lit) ww_buf_append((b), "" lit "", sizeof(lit) - 1)

static inline void ww_buf_append_str(struct ww_buf *b, const char *s)
{
    ww_buf_append(b, s, strlen(s));
}

/* Append the decimal form of v. */
void ww_buf_put_u64(struct ww_buf *b, uint64_t v);
void ww_buf_put_i64(struct ww_buf *b, int64_t v);

/* NUL-terminate without counting the NUL in len; returns data. */
const char *ww_buf_cstr(struct ww_buf *b);

#endif
