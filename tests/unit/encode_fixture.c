/* The shared encoder fixture of encode_fixture.h. */
#include "encode_fixture.h"

#include <criterion/criterion.h>
#include <string.h>

struct ww_encoder enc;
struct ww_buf out;

void setup_plain(void)
{
    struct ww_encoder_options o = {.topic_prefix = "pfx", .db_name = "app"};
    ww_encoder_init(&enc, &o);
    memset(&out, 0, sizeof out);
}

void setup_iso(void)
{
    struct ww_encoder_options o = {
        .topic_prefix = "pfx", .db_name = "app", .temporal_iso8601 = true};
    ww_encoder_init(&enc, &o);
    memset(&out, 0, sizeof out);
}

void teardown(void)
{
    ww_encoder_free(&enc);
    ww_buf_free(&out);
}

const char *val(uint32_t oid, int32_t typmod, const char *text)
{
    ww_buf_reset(&out);
    ww_encode_value(&enc, &out, oid, typmod, text, strlen(text));
    const char *s = ww_buf_cstr(&out);
    cr_assert(is_json(s, out.len), "not JSON: %s (from %s)", s, text);
    return s;
}
