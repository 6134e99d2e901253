/* Growable buffers and JSON string escaping (valid UTF-8 out, always). */
#include <criterion/criterion.h>
#include <string.h>

#include "buf.h"
#include "json.h"

static const char *escaped(const char *in, size_t len)
{
    static struct ww_buf b;
    ww_buf_reset(&b);
    ww_json_escape(&b, in, len);
    return ww_buf_cstr(&b);
}

Test(buf, append_grows_and_formats_numbers)
{
    struct ww_buf b = {0};
    for (int i = 0; i < 10000; i++)
        ww_buf_puts(&b, "abc");
    cr_assert_eq(b.len, 30000);
    cr_assert_geq(b.cap, b.len);
    ww_buf_reset(&b);
    ww_buf_put_u64(&b, 0);
    ww_buf_putc(&b, ' ');
    ww_buf_put_u64(&b, UINT64_MAX);
    ww_buf_putc(&b, ' ');
    ww_buf_put_i64(&b, INT64_MIN);
    ww_buf_putc(&b, ' ');
    ww_buf_put_i64(&b, -42);
    cr_assert_str_eq(ww_buf_cstr(&b), "0 18446744073709551615 -9223372036854775808 -42");
    ww_buf_free(&b);
    cr_assert_null(b.data);
}

Test(json, plain_text_is_copied)
{
    cr_assert_str_eq(escaped("hello world", 11), "hello world");
    cr_assert_str_eq(escaped("", 0), "");
}

Test(json, quotes_backslashes_and_controls)
{
    cr_assert_str_eq(escaped("a\"b\\c", 5), "a\\\"b\\\\c");
    cr_assert_str_eq(escaped("\n\r\t\b\f", 5), "\\n\\r\\t\\b\\f");
    cr_assert_str_eq(escaped("\x01\x1f", 2), "\\u0001\\u001f");
    cr_assert_str_eq(escaped("nul\0x", 5), "nul\\u0000x");
    cr_assert_str_eq(escaped("\x7f", 1), "\x7f");
}

Test(json, valid_utf8_is_kept)
{
    const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"; /* café € 😀 */
    cr_assert_str_eq(escaped(s, strlen(s)), s);
}

Test(json, invalid_utf8_becomes_replacement)
{
    cr_assert_str_eq(escaped("a\xff" "b", 3), "a\\ufffdb");
    cr_assert_str_eq(escaped("\xc3", 1), "\\ufffd", "truncated 2-byte sequence");
    cr_assert_str_eq(escaped("\xc0\xaf", 2), "\\ufffd\\ufffd", "overlong encoding");
    cr_assert_str_eq(escaped("\xed\xa0\x80", 3), "\\ufffd\\ufffd\\ufffd", "UTF-16 surrogate");
    cr_assert_str_eq(escaped("\xf4\x90\x80\x80", 4), "\\ufffd\\ufffd\\ufffd\\ufffd",
                     "beyond U+10FFFF");
    cr_assert_str_eq(escaped("\xe2\x82", 2), "\\ufffd\\ufffd", "truncated 3-byte sequence");
}

Test(json, string_adds_quotes)
{
    struct ww_buf b = {0};
    ww_json_string(&b, "x\"y", 3);
    cr_assert_str_eq(ww_buf_cstr(&b), "\"x\\\"y\"");
    ww_buf_free(&b);
}

/* The 8-bytes-at-a-time scan must find a special byte wherever it is. */
Test(json, special_bytes_at_every_offset)
{
    const char specials[] = {'"', '\\', '\n', '\x01', '\x1f', '\xff'};
    const char *expect[] = {"\\\"", "\\\\", "\\n", "\\u0001", "\\u001f", "\\ufffd"};
    for (size_t k = 0; k < sizeof specials; k++) {
        for (size_t pos = 0; pos < 24; pos++) {
            char in[32], want[64];
            memset(in, 'a', 24);
            in[pos] = specials[k];
            size_t w = 0;
            for (size_t i = 0; i < 24; i++) {
                if (i == pos) {
                    strcpy(want + w, expect[k]);
                    w += strlen(expect[k]);
                } else {
                    want[w++] = 'a';
                }
            }
            want[w] = '\0';
            cr_assert_str_eq(escaped(in, 24), want, "special %zu at offset %zu", k, pos);
        }
    }
    /* Bytes just around the boundaries stay plain: space, '!', '#', '[', ']', DEL. */
    cr_assert_str_eq(escaped(" !#[]\x7f !#[]\x7f", 12), " !#[]\x7f !#[]\x7f");
}
