#include "json_check.h"

#include <stdint.h>

#define MAX_DEPTH 64

struct jc {
    const unsigned char *p, *end;
    int depth;
};

static bool value(struct jc *j);

static void ws(struct jc *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool lit(struct jc *j, const char *word)
{
    for (; *word; word++, j->p++)
        if (j->p == j->end || *j->p != (unsigned char)*word)
            return false;
    return true;
}

/* One UTF-8 sequence whose lead byte (>= 0x80) is at j->p. */
static bool utf8(struct jc *j)
{
    unsigned char c = *j->p, lo = 0x80, hi = 0xBF;
    int n;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c == 0xE0)
        n = 3, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        n = 3;
    else if (c == 0xED)
        n = 3, hi = 0x9F;
    else if (c == 0xF0)
        n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        n = 4;
    else if (c == 0xF4)
        n = 4, hi = 0x8F;
    else
        return false;
    if (j->end - j->p < n || j->p[1] < lo || j->p[1] > hi)
        return false;
    for (int i = 2; i < n; i++)
        if (j->p[i] < 0x80 || j->p[i] > 0xBF)
            return false;
    j->p += n;
    return true;
}

/* \uXXXX after the backslash and 'u' have been read; the code unit. */
static bool hex4(struct jc *j, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++, j->p++) {
        if (j->p == j->end)
            return false;
        unsigned char c = *j->p;
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return false;
        v = v * 16 + d;
    }
    *out = v;
    return true;
}

static bool string(struct jc *j)
{
    j->p++; /* the opening quote */
    while (j->p < j->end) {
        unsigned char c = *j->p;
        if (c == '"') {
            j->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c >= 0x80) {
            if (!utf8(j))
                return false;
            continue;
        }
        j->p++;
        if (c != '\\')
            continue;
        if (j->p == j->end)
            return false;
        c = *j->p++;
        if (c == 'u') {
            unsigned u, u2;
            if (!hex4(j, &u))
                return false;
            if (u >= 0xDC00 && u <= 0xDFFF)
                return false; /* a low surrogate alone */
            if (u >= 0xD800 && u <= 0xDBFF) {
                /* must be followed by \u and a low surrogate */
                if (!lit(j, "\\u") || !hex4(j, &u2) || u2 < 0xDC00 || u2 > 0xDFFF)
                    return false;
            }
        } else if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n' &&
                   c != 'r' && c != 't') {
            return false;
        }
    }
    return false;
}

static bool digits(struct jc *j)
{
    const unsigned char *start = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > start;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number(struct jc *j)
{
    if (*j->p == '-')
        j->p++;
    if (j->p == j->end)
        return false;
    if (*j->p == '0')
        j->p++;
    else if (!digits(j))
        return false;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!digits(j))
            return false;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!digits(j))
            return false;
    }
    return true;
}

static bool object(struct jc *j)
{
    j->p++; /* { */
    ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return true;
    }
    for (;;) {
        ws(j);
        if (j->p == j->end || *j->p != '"' || !string(j))
            return false;
        ws(j);
        if (j->p == j->end || *j->p++ != ':')
            return false;
        if (!value(j))
            return false;
        if (j->p == j->end)
            return false;
        if (*j->p == '}') {
            j->p++;
            return true;
        }
        if (*j->p++ != ',')
            return false;
    }
}

static bool array(struct jc *j)
{
    j->p++; /* [ */
    ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return true;
    }
    for (;;) {
        if (!value(j))
            return false;
        if (j->p == j->end)
            return false;
        if (*j->p == ']') {
            j->p++;
            return true;
        }
        if (*j->p++ != ',')
            return false;
    }
}

/* One value with the whitespace around it. */
static bool value(struct jc *j)
{
    bool ok;
    ws(j);
    if (j->p == j->end)
        return false;
    switch (*j->p) {
    case '{':
    case '[':
        if (++j->depth > MAX_DEPTH)
            return false;
        ok = *j->p == '{' ? object(j) : array(j);
        j->depth--;
        break;
    case '"':
        ok = string(j);
        break;
    case 't':
        ok = lit(j, "true");
        break;
    case 'f':
        ok = lit(j, "false");
        break;
    case 'n':
        ok = lit(j, "null");
        break;
    default:
        ok = (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) && number(j);
        break;
    }
    ws(j);
    return ok;
}

bool json_check_value(const char *s, size_t len, size_t *where)
{
    struct jc j = {(const unsigned char *)s, (const unsigned char *)s + len, 0};
    bool ok = value(&j) && j.p == j.end; /* one value, no more */
    if (!ok && where)
        *where = (size_t)(j.p - (const unsigned char *)s);
    return ok;
}

bool json_check_object(const char *s, size_t len, size_t *where)
{
    if (len == 0 || s[0] != '{') {
        if (where)
            *where = 0;
        return false;
    }
    return json_check_value(s, len, where);
}
