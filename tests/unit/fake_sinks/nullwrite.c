/* A module whose required write function is NULL: refused. */
#include "fake_sink.h"

static const struct ww_sink_ops ops = {
    .abi_version = WW_SINK_ABI_VERSION,
    .size = sizeof(struct ww_sink_ops),
    .name = "nullwrite",
    .open = fake_open,
    .write = NULL,
    .close = fake_close,
};

FAKE_EXPORT const struct ww_sink_ops *ww_sink_entry(void);
const struct ww_sink_ops *ww_sink_entry(void)
{
    return &ops;
}
