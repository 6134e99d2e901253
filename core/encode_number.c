/*
 * Numbers that Debezium writes through Java's number classes: float4 and
 * float8 (Double.toString), numeric (BigDecimal.toString) and money
 * (Double.toString of the amount). Contract in encode_conv.h; the table is
 * in docs/types.md.
 *
 * Everything works on the decimal digits of the text: no conversion to
 * binary floating point, so no digit is ever lost or invented.
 */
#include "encode_conv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool text_is(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && memcmp(s, lit, n) == 0;
}

/* ---- Java's Double.toString layout -------------------------------------- */

/* At most this many significant digits (money has 19, floats 17). */
#define MAX_DIGITS 40

/*
 * Write a decimal value given as its significant digits dig[0..nd) (no
 * leading zero; nd 0 means zero) and point (value = 0.dig x 10^point) in
 * the layout of Java's Double.toString: at least one fraction digit
 * ("100.0"), plain notation for 1e-3 <= |x| < 1e7, otherwise "1.5E-7".
 */
static void put_java_layout(struct ww_buf *out, bool neg, const char *dig, int nd, int point)
{
    char tmp[MAX_DIGITS + 40];
    char *p = tmp;
    if (neg)
        *p++ = '-';
    int sci = point - 1; /* value = d.ddd x 10^sci */
    if (nd == 0) {
        memcpy(p, "0.0", 3);
        p += 3;
    } else if (sci >= -3 && sci < 7) {
        if (sci >= 0) {
            for (int k = 0; k <= sci; k++)
                *p++ = k < nd ? dig[k] : '0';
            *p++ = '.';
            if (nd > sci + 1) {
                memcpy(p, dig + sci + 1, (size_t)(nd - sci - 1));
                p += nd - sci - 1;
            } else {
                *p++ = '0';
            }
        } else {
            *p++ = '0';
            *p++ = '.';
            for (int k = -1; k > sci; k--)
                *p++ = '0';
            memcpy(p, dig, (size_t)nd);
            p += nd;
        }
    } else {
        *p++ = dig[0];
        *p++ = '.';
        if (nd > 1) {
            memcpy(p, dig + 1, (size_t)(nd - 1));
            p += nd - 1;
        } else {
            *p++ = '0';
        }
        *p++ = 'E';
        if (sci < 0) {
            *p++ = '-';
            sci = -sci;
        }
        char e[8];
        int ne = 0;
        do {
            e[ne++] = (char)('0' + sci % 10);
            sci /= 10;
        } while (sci);
        while (ne)
            *p++ = e[--ne];
    }
    ww_buf_append(out, tmp, (size_t)(p - tmp));
}

/*
 * Read a float literal '-'? digits ('.' digits)? ([eE] [+-]? digits)? into
 * significant digits and decimal point position, trailing zeros dropped.
 * PostgreSQL 12+ prints the shortest digits that read back exactly, so
 * these are the digits Java's (shortest-digit) Double.toString prints.
 */
static bool read_decimal(const char *s, size_t len, bool *neg, char *dig, int *nd_out,
                         int *point_out)
{
    int nd = 0, point = 0;
    size_t i = 0;
    *neg = len > 0 && s[0] == '-';
    if (*neg)
        i++;
    size_t mant_start = i;
    for (; i < len && ww_conv_is_digit(s[i]); i++) {
        if (nd == 0 && s[i] == '0')
            continue;
        if (nd == MAX_DIGITS)
            return false;
        dig[nd++] = s[i];
        point++;
    }
    if (i == mant_start)
        return false;
    if (i < len && s[i] == '.') {
        size_t frac_start = ++i;
        for (; i < len && ww_conv_is_digit(s[i]); i++) {
            if (nd == 0 && s[i] == '0') {
                point--;
                continue;
            }
            if (nd == MAX_DIGITS)
                return false;
            dig[nd++] = s[i];
        }
        if (i == frac_start)
            return false;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = i < len && s[i] == '-';
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t exp_start = i;
        int x = 0;
        for (; i < len && ww_conv_is_digit(s[i]) && i - exp_start < 4; i++)
            x = x * 10 + (s[i] - '0');
        if (i == exp_start || (i < len && ww_conv_is_digit(s[i])))
            return false;
        point += eneg ? -x : x;
    }
    if (i != len)
        return false;
    while (nd > 0 && dig[nd - 1] == '0')
        nd--;
    *nd_out = nd;
    *point_out = point;
    return true;
}

/*
 * PostgreSQL's shortest digits (its Ryu code) come from the open rounding
 * interval of the value; Java's Double/Float.toString also accept a
 * decimal lying exactly halfway to the next value when that rounds back
 * (ties to even). Then Java's digits are shorter: float8 1e23 prints as
 * "9.999999999999999e+22" in PostgreSQL and "1.0E23" in Java; float4
 * 134219008 as "1.3421901e+08" and "1.34219E8". A halfway point can be a
 * shorter decimal only where halfway points are integers: |x| >= 2^53
 * (2^24 for float4), so only there (and with more than one digit) are
 * shorter roundings tried: printf's correctly rounded digits at each
 * length, the first that reads back to the same value. walwire never calls
 * setlocale, so printf and strtod use '.'.
 */
static void java_halfway_digits(const char *s, size_t len, bool single, char *dig, int *nd,
                                int *point)
{
    if (*nd < 2 || *point < (single ? 8 : 16) || len >= 64)
        return;
    char text[64], shorter[48];
    memcpy(text, s, len);
    text[len] = '\0';
    double d = strtod(text, NULL);
    float f = strtof(text, NULL);
    for (int p = 1; p < *nd; p++) {
        snprintf(shorter, sizeof shorter, "%.*e", p - 1, single ? (double)f : d);
        bool back = single ? strtof(shorter, NULL) == f : strtod(shorter, NULL) == d;
        if (back) {
            bool neg;
            read_decimal(shorter, strlen(shorter), &neg, dig, nd, point);
            return;
        }
    }
}

static bool java_number(struct ww_buf *out, bool single, const char *s, size_t len)
{
    char dig[MAX_DIGITS];
    int nd, point;
    bool neg;
    if (!read_decimal(s, len, &neg, dig, &nd, &point))
        return false;
    java_halfway_digits(s, len, single, dig, &nd, &point);
    put_java_layout(out, neg, dig, nd, point);
    return true;
}

bool ww_conv_java_double(struct ww_buf *out, const char *s, size_t len)
{
    return java_number(out, false, s, len);
}

bool ww_conv_float(struct ww_buf *out, bool single, const char *s, size_t len)
{
    if (text_is(s, len, "NaN") || text_is(s, len, "Infinity") || text_is(s, len, "-Infinity")) {
        ww_conv_plain_string(out, s, len);
        return true;
    }
    return java_number(out, single, s, len);
}

/* ---- numeric ------------------------------------------------------------ */

/*
 * numeric text is '-'? digits ('.' digits)? with the value's scale as the
 * number of fraction digits. Debezium (decimal.handling.mode=string)
 * writes BigDecimal.toString() of it: the same text while the adjusted
 * exponent (position of the first significant digit) is >= -6, otherwise
 * scientific notation with every digit of the unscaled value kept:
 * 0.00000012 -> "1.2E-7", 0.00000000 (scale 8) -> "0E-8".
 */
bool ww_conv_numeric(struct ww_buf *out, const char *s, size_t len)
{
    /* SpecialValueDecimal's names (PostgresValueConverter.toSpecialValue). */
    if (text_is(s, len, "NaN")) {
        ww_buf_puts(out, "\"NAN\"");
        return true;
    }
    if (text_is(s, len, "Infinity")) {
        ww_buf_puts(out, "\"POSITIVE_INFINITY\"");
        return true;
    }
    if (text_is(s, len, "-Infinity")) {
        ww_buf_puts(out, "\"NEGATIVE_INFINITY\"");
        return true;
    }
    size_t i = (len > 0 && s[0] == '-') ? 1 : 0;
    size_t int_start = i;
    while (i < len && ww_conv_is_digit(s[i]))
        i++;
    size_t int_end = i;
    if (int_end == int_start)
        return false;
    size_t frac_start = i, scale = 0;
    if (i < len && s[i] == '.') {
        frac_start = ++i;
        while (i < len && ww_conv_is_digit(s[i]))
            i++;
        scale = i - frac_start;
        if (scale == 0)
            return false;
    }
    if (i != len)
        return false;

    /* The unscaled value's digits: integer and fraction digits without
     * leading zeros ("0" when all are zero). */
    size_t first = int_start; /* first nonzero digit, skipping the '.' */
    while (first < len && (s[first] == '0' || s[first] == '.'))
        first++;
    size_t ncoeff = first == len ? 1 : (len - first) - (first < int_end && scale ? 1 : 0);
    long adjusted = (long)ncoeff - 1 - (long)scale;
    if (adjusted >= -6) {
        ww_conv_plain_string(out, s, len);
        return true;
    }
    /* Only a value below 1e-6 gets here: all its significant digits are
     * fraction digits, from `first` to the end. */
    ww_buf_reserve(out, len + 24);
    ww_buf_putc(out, '"');
    if (int_start == 1)
        ww_buf_putc(out, '-');
    const char *coeff = first == len ? "0" : s + first;
    ww_buf_putc(out, coeff[0]);
    if (ncoeff > 1) {
        ww_buf_putc(out, '.');
        ww_buf_append(out, coeff + 1, ncoeff - 1);
    }
    ww_buf_puts(out, "E-");
    ww_buf_put_u64(out, (uint64_t)-adjusted);
    ww_buf_putc(out, '"');
    return true;
}

/* ---- money -------------------------------------------------------------- */

/*
 * money text in the monetary locale of the session (lc_monetary): with
 * 'C', POSIX and the English locales "$1,234.56", "-$1,234.56"; some
 * locales put the negative amount in parentheses, "($1,234.56)".
 * Read: an optional '-' or '(', a currency symbol (any bytes that are not
 * digits), digits grouped in threes by ',', '.' and exactly two fraction
 * digits, or no fraction (locales with frac_digits 0, "￥1,234"). Any
 * other layout (a trailing symbol, ',' as the decimal point) is refused,
 * so a locale that would change the meaning of a digit never yields a
 * wrong amount: the value is written as its text instead (docs/types.md).
 *
 * Debezium reads the amount into a double (PGmoney) and writes
 * String.valueOf(double): "1234.56", "1000.0", "1.23456789E7". walwire
 * writes the same layout from the exact digits, so amounts beyond 2^53
 * cents keep every digit.
 */
bool ww_conv_money(struct ww_buf *out, const char *s, size_t len)
{
    size_t i = 0;
    bool neg = false, paren = false;
    if (i < len && s[i] == '-')
        neg = true, i++;
    else if (i < len && s[i] == '(')
        paren = neg = true, i++;
    while (i < len && !ww_conv_is_digit(s[i]) && s[i] != '-' && s[i] != ',' && s[i] != '.' &&
           s[i] != '(' && s[i] != ')')
        i++; /* the currency symbol */
    if (i < len && s[i] == '-' && !neg)
        neg = true, i++; /* a sign after the symbol */

    char num[MAX_DIGITS + 2]; /* digits, then '.' and the fraction */
    size_t n = 0, group = 0;
    bool grouped = false;
    for (; i < len; i++) {
        if (ww_conv_is_digit(s[i])) {
            if (n == MAX_DIGITS)
                return false;
            num[n++] = s[i];
            group++;
        } else if (s[i] == ',') {
            /* the first group has 1 to 3 digits, every later one 3 */
            if (group == 0 || group > 3 || (grouped && group != 3))
                return false;
            grouped = true;
            group = 0;
        } else {
            break;
        }
    }
    if (n == 0 || (grouped && group != 3))
        return false;
    if (i < len && s[i] == '.') {
        if (len - i < 3 || !ww_conv_is_digit(s[i + 1]) || !ww_conv_is_digit(s[i + 2]))
            return false;
        num[n++] = '.';
        num[n++] = s[i + 1];
        num[n++] = s[i + 2];
        i += 3;
    }
    if (paren && !(i < len && s[i] == ')'))
        return false;
    if (paren)
        i++;
    if (i != len)
        return false;

    char dig[MAX_DIGITS];
    int nd, point;
    bool ignored;
    if (!read_decimal(num, n, &ignored, dig, &nd, &point))
        return false;
    ww_buf_putc(out, '"');
    put_java_layout(out, neg && nd > 0, dig, nd, point);
    ww_buf_putc(out, '"');
    return true;
}
