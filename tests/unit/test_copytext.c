/* COPY text rows -> tuples: fields, NULLs, escapes, and malformed rows. */
#include <criterion/criterion.h>
#include <string.h>

#include "copytext.h"

static struct ww_pgo_value v[8];
static struct ww_buf scratch;

static void assert_text(int i, const char *want)
{
    cr_assert_eq(v[i].kind, WW_PGO_TEXT, "column %d is not text", i);
    cr_assert_eq(v[i].len, strlen(want), "column %d: length %u, want %zu", i, v[i].len,
                 strlen(want));
    cr_assert(memcmp(v[i].data, want, v[i].len) == 0, "column %d: %.*s", i, (int)v[i].len,
              v[i].data);
}

Test(copytext, plain_fields_point_into_the_line)
{
    const char *row = "1\tabc\t2024-01-02\n";
    cr_assert_eq(ww_copy_parse_row(row, strlen(row), 3, v, &scratch), 0);
    assert_text(0, "1");
    assert_text(1, "abc");
    assert_text(2, "2024-01-02");
    cr_assert(v[1].data == row + 2, "a field without escapes was copied");
}

Test(copytext, nulls_and_empty_strings)
{
    const char *row = "\\N\t\t\\N";
    cr_assert_eq(ww_copy_parse_row(row, strlen(row), 3, v, &scratch), 0);
    cr_assert_eq(v[0].kind, WW_PGO_NULL);
    assert_text(1, "");
    cr_assert_eq(v[2].kind, WW_PGO_NULL);
    /* "\\N" (an escaped backslash then N) is the two-character text \N. */
    const char *row2 = "\\\\N";
    cr_assert_eq(ww_copy_parse_row(row2, strlen(row2), 1, v, &scratch), 0);
    assert_text(0, "\\N");
}

Test(copytext, escapes)
{
    const char *row = "a\\tb\\nc\\\\d\t\\101\\x41\\x4a\\b\\f\\r\\v\\q\tend\\";
    cr_assert_eq(ww_copy_parse_row(row, strlen(row), 3, v, &scratch), 0);
    assert_text(0, "a\tb\nc\\d");
    assert_text(1, "AAJ\b\f\r\vq");
    assert_text(2, "end\\");
}

Test(copytext, several_escaped_fields_stay_valid)
{
    char row[4096];
    /* A long first field forces scratch to grow before the later ones. */
    memset(row, 'x', 3000);
    strcpy(row + 3000, "\\t\t\\n\t\\\\");
    cr_assert_eq(ww_copy_parse_row(row, strlen(row), 3, v, &scratch), 0);
    cr_assert_eq(v[0].len, 3001);
    cr_assert_eq(v[0].data[3000], '\t');
    assert_text(1, "\n");
    assert_text(2, "\\");
}

Test(copytext, wrong_column_count_is_an_error)
{
    cr_assert_lt(ww_copy_parse_row("1\t2\t3", 5, 2, v, &scratch), 0, "too many fields");
    cr_assert_lt(ww_copy_parse_row("1", 1, 2, v, &scratch), 0, "too few fields");
    cr_assert_eq(ww_copy_parse_row("", 0, 0, v, &scratch), 0, "a table without columns");
    cr_assert_lt(ww_copy_parse_row("x", 1, 0, v, &scratch), 0);
    cr_assert_eq(ww_copy_parse_row("", 0, 1, v, &scratch), 0, "one empty text column");
    assert_text(0, "");
}
