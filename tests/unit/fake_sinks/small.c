/* Claims a struct of 16 bytes, too small for version 1: refused. */
#include "fake_sink.h"

static const struct ww_sink_ops ops = {
    .abi_version = WW_SINK_ABI_VERSION,
    .size = 16,
    .name = "small",
    .open = fake_open,
    .write = fake_write,
    .close = fake_close,
};

FAKE_EXPORT const struct ww_sink_ops *ww_sink_entry(void);
const struct ww_sink_ops *ww_sink_entry(void)
{
    return &ops;
}
