/* The shared decoder fixture of pgo_fixture.h. */
#include "pgo_fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ww_frames F;
struct ww_pgo_decoder D;
/* The buffer of the last hand-built decode: exactly len bytes, so an
 * over-read shows under valgrind or ASan. */
char *last_buf;

void setup(void)
{
    ww_pgo_decoder_init(&D);
    cr_assert_eq(ww_frames_load(WW_FIXTURES_DIR "/pgoutput_v1.frames", &F), 0, "cannot load %s",
                 WW_FIXTURES_DIR "/pgoutput_v1.frames");
    cr_assert_gt(F.n, 0);
}

void teardown(void)
{
    ww_frames_free(&F);
    ww_pgo_decoder_free(&D);
    free(last_buf);
    last_buf = NULL;
}

int decode_copy(const void *p, size_t len, struct ww_pgo_msg *m)
{
    free(last_buf);
    last_buf = malloc(len ? len : 1);
    cr_assert_not_null(last_buf);
    if (len)
        memcpy(last_buf, p, len);
    return ww_pgo_decode(&D, last_buf, len, m);
}

void assert_text(const struct ww_pgo_value *v, const char *s)
{
    cr_assert_eq(v->kind, WW_PGO_TEXT, "kind %c, want text \"%s\"", v->kind, s);
    cr_assert_eq(v->len, strlen(s), "length %u, want %zu for \"%s\"", v->len, strlen(s), s);
    cr_assert(memcmp(v->data, s, v->len) == 0, "value \"%.*s\", want \"%s\"", (int)v->len, v->data,
              s);
}

void assert_null(const struct ww_pgo_value *v)
{
    cr_assert_eq(v->kind, WW_PGO_NULL);
    cr_assert_eq(v->len, 0);
    cr_assert_null(v->data);
}

void p8(struct mb *m, unsigned v)
{
    m->b[m->n++] = (unsigned char)v;
}

void p16(struct mb *m, unsigned v)
{
    p8(m, v >> 8);
    p8(m, v);
}

void p32(struct mb *m, uint32_t v)
{
    p16(m, v >> 16);
    p16(m, v & 0xffff);
}

void p64(struct mb *m, uint64_t v)
{
    p32(m, (uint32_t)(v >> 32));
    p32(m, (uint32_t)v);
}

void pbytes(struct mb *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

void pstr(struct mb *m, const char *s)
{
    pbytes(m, s, strlen(s) + 1);
}

void ptext(struct mb *m, const char *s)
{
    p8(m, 't');
    p32(m, (uint32_t)strlen(s));
    pbytes(m, s, strlen(s));
}

int dec(struct mb *m, struct ww_pgo_msg *out)
{
    return decode_copy(m->b, m->n, out);
}

void assert_bad(struct mb *m, const char *frag1, const char *frag2)
{
    struct ww_pgo_msg out;
    int rc = dec(m, &out);
    cr_assert_eq(rc, -EBADMSG, "rc %d, errmsg \"%s\"", rc, D.errmsg);
    cr_assert_neq(D.errmsg[0], '\0');
    cr_assert_null(strchr(D.errmsg, '\n'), "errmsg spans lines: %s", D.errmsg);
    cr_assert_not_null(strstr(D.errmsg, frag1), "\"%s\" not in \"%s\"", frag1, D.errmsg);
    if (frag2)
        cr_assert_not_null(strstr(D.errmsg, frag2), "\"%s\" not in \"%s\"", frag2, D.errmsg);
}
