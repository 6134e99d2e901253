/* Built for a future ABI version: the loader refuses it. */
#include "fake_sink.h"

static const struct ww_sink_ops ops = {
    .abi_version = WW_SINK_ABI_VERSION + 1,
    .size = sizeof(struct ww_sink_ops),
    .name = "badabi",
    .open = fake_open,
    .write = fake_write,
    .close = fake_close,
};

FAKE_EXPORT const struct ww_sink_ops *ww_sink_entry(void);
const struct ww_sink_ops *ww_sink_entry(void)
{
    return &ops;
}
