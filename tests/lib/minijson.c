#include "minijson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const char *p, *end;
    const char *err;
    int depth;
};

static struct mj *parse_value(struct parser *ps);

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p)
        abort();
    return p;
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static struct mj *fail(struct parser *ps, const char *why)
{
    if (!ps->err)
        ps->err = why;
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void put_utf8(char *out, size_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xC0 | cp >> 6);
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xE0 | cp >> 12);
        out[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*n)++] = (char)(0xF0 | cp >> 18);
        out[(*n)++] = (char)(0x80 | (cp >> 12 & 0x3F));
        out[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* Parse a string at ps->p (the opening quote); returns the decoded text. */
static char *parse_string(struct parser *ps, size_t *outlen)
{
    ps->p++; /* " */
    const char *start = ps->p;
    /* The decoded form is never longer than the encoded one. */
    while (ps->p < ps->end && *ps->p != '"') {
        if (*ps->p == '\\')
            ps->p++;
        ps->p++;
    }
    if (ps->p >= ps->end) {
        fail(ps, "unterminated string");
        return NULL;
    }
    const char *stop = ps->p;
    ps->p++; /* " */
    char *out = xcalloc((size_t)(stop - start) + 1, 1);
    size_t n = 0;
    for (const char *q = start; q < stop; q++) {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20) {
            free(out);
            fail(ps, "control character in string");
            return NULL;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            continue;
        }
        q++;
        switch (*q) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            if (stop - q < 5) {
                free(out);
                fail(ps, "short \\u escape");
                return NULL;
            }
            uint32_t cp = 0;
            for (int i = 1; i <= 4; i++) {
                int h = hexval(q[i]);
                if (h < 0) {
                    free(out);
                    fail(ps, "bad \\u escape");
                    return NULL;
                }
                cp = cp << 4 | (uint32_t)h;
            }
            q += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && stop - q >= 7 && q[1] == '\\' && q[2] == 'u') {
                uint32_t lo = 0;
                for (int i = 3; i <= 6; i++)
                    lo = lo << 4 | (uint32_t)(hexval(q[i]) < 0 ? 0 : hexval(q[i]));
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    q += 6;
                }
            }
            put_utf8(out, &n, cp);
            break;
        }
        default:
            free(out);
            fail(ps, "bad escape");
            return NULL;
        }
    }
    out[n] = '\0';
    *outlen = n;
    return out;
}

static struct mj *parse_number(struct parser *ps)
{
    const char *s = ps->p;
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p >= ps->end)
        return fail(ps, "bad number");
    if (*ps->p == '0') {
        ps->p++;
    } else if (*ps->p >= '1' && *ps->p <= '9') {
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    } else {
        return fail(ps, "bad number");
    }
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return fail(ps, "bad fraction");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return fail(ps, "bad exponent");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    struct mj *v = xcalloc(1, sizeof *v);
    v->type = MJ_NUMBER;
    v->len = (size_t)(ps->p - s);
    v->str = xcalloc(v->len + 1, 1);
    memcpy(v->str, s, v->len);
    return v;
}

static bool literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static void append_item(struct mj *v, char *key, struct mj *item)
{
    v->items = realloc(v->items, (v->n + 1) * sizeof *v->items);
    if (!v->items)
        abort();
    v->items[v->n] = item;
    if (v->type == MJ_OBJECT) {
        v->keys = realloc(v->keys, (v->n + 1) * sizeof *v->keys);
        if (!v->keys)
            abort();
        v->keys[v->n] = key;
    }
    v->n++;
}

static struct mj *parse_container(struct parser *ps, bool object)
{
    if (++ps->depth > 200)
        return fail(ps, "nesting too deep");
    ps->p++; /* [ or { */
    struct mj *v = xcalloc(1, sizeof *v);
    v->type = object ? MJ_OBJECT : MJ_ARRAY;
    skip_ws(ps);
    char close = object ? '}' : ']';
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return v;
    }
    for (;;) {
        char *key = NULL;
        if (object) {
            skip_ws(ps);
            size_t kl;
            if (ps->p >= ps->end || *ps->p != '"' || !(key = parse_string(ps, &kl))) {
                mj_free(v);
                return fail(ps, "expected an object key");
            }
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                mj_free(v);
                return fail(ps, "expected ':'");
            }
            ps->p++;
        }
        struct mj *item = parse_value(ps);
        if (!item) {
            free(key);
            mj_free(v);
            return NULL;
        }
        append_item(v, key, item);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return v;
        }
        mj_free(v);
        return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static struct mj *parse_value(struct parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end");
    struct mj *v;
    switch (*ps->p) {
    case '{': return parse_container(ps, true);
    case '[': return parse_container(ps, false);
    case '"': {
        size_t len;
        char *s = parse_string(ps, &len);
        if (!s)
            return NULL;
        v = xcalloc(1, sizeof *v);
        v->type = MJ_STRING;
        v->str = s;
        v->len = len;
        return v;
    }
    case 't':
    case 'f':
    case 'n':
        v = xcalloc(1, sizeof *v);
        if (literal(ps, "true")) {
            v->type = MJ_BOOL;
            v->boolean = true;
        } else if (literal(ps, "false")) {
            v->type = MJ_BOOL;
        } else if (literal(ps, "null")) {
            v->type = MJ_NULL;
        } else {
            free(v);
            return fail(ps, "bad literal");
        }
        return v;
    default: return parse_number(ps);
    }
}

struct mj *mj_parse(const char *text, size_t len, const char **err)
{
    struct parser ps = {text, text + len, NULL, 0};
    struct mj *v = parse_value(&ps);
    if (v) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            mj_free(v);
            v = fail(&ps, "trailing characters");
        }
    }
    if (!v && err)
        *err = ps.err ? ps.err : "invalid JSON";
    return v;
}

void mj_free(struct mj *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        mj_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

const struct mj *mj_get(const struct mj *v, const char *key)
{
    if (!v || v->type != MJ_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0)
            return v->items[i];
    return NULL;
}

const struct mj *mj_path(const struct mj *v, const char *path)
{
    char key[128];
    while (v && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        v = mj_get(v, key);
        path += n;
        if (*path == '.')
            path++;
    }
    return v;
}

const struct mj *mj_at(const struct mj *v, size_t i)
{
    return v && v->type == MJ_ARRAY && i < v->n ? v->items[i] : NULL;
}

long long mj_int(const struct mj *v)
{
    return v && v->type == MJ_NUMBER ? strtoll(v->str, NULL, 10) : 0;
}

const char *mj_str(const struct mj *v)
{
    return v && v->type == MJ_STRING ? v->str : NULL;
}

bool mj_is_null(const struct mj *v)
{
    return v && v->type == MJ_NULL;
}
