/*
 * What the pgoutput decoder test files share: the decoder and the recorded
 * session (set up and freed around every test by the suites' init/fini),
 * decoding a copy of exactly the message's bytes (so that an over-read
 * shows under ASan or valgrind), value checks, and a builder for
 * hand-made messages. Tests run one per process (Criterion).
 */
#ifndef WW_TEST_PGO_FIXTURE_H
#define WW_TEST_PGO_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "../fixtures/frames.h"
#include "pgoutput.h"

extern struct ww_frames F; /* tests/fixtures/pgoutput_v1.frames */
extern struct ww_pgo_decoder D;

void setup(void);
void teardown(void);

/* Decode a copy of p[0..len) (a copy of exactly len bytes). */
int decode_copy(const void *p, size_t len, struct ww_pgo_msg *m);
void assert_text(const struct ww_pgo_value *v, const char *s);
void assert_null(const struct ww_pgo_value *v);

/* A message builder for hand-made messages, big-endian like the wire. */
struct mb {
    unsigned char b[16384];
    size_t n;
};

void p8(struct mb *m, unsigned v);
void p16(struct mb *m, unsigned v);
void p32(struct mb *m, uint32_t v);
void p64(struct mb *m, uint64_t v);
void pbytes(struct mb *m, const void *p, size_t n);
void pstr(struct mb *m, const char *s);  /* NUL-terminated */
void ptext(struct mb *m, const char *s); /* a 't' column value */
int dec(struct mb *m, struct ww_pgo_msg *out);
/* Decoding must fail with -EBADMSG and an errmsg on one line that holds
 * every one of the given fragments (frag2 may be NULL). */
void assert_bad(struct mb *m, const char *frag1, const char *frag2);

#endif
