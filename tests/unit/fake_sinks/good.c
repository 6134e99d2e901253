/* A correct module of this ABI version, with the optional probe. */
#include "fake_sink.h"

static const struct ww_sink_ops ops = {
    .abi_version = WW_SINK_ABI_VERSION,
    .size = sizeof(struct ww_sink_ops),
    .name = "good",
    .open = fake_open,
    .write = fake_write,
    .close = fake_close,
    .probe = fake_probe,
};

FAKE_EXPORT const struct ww_sink_ops *ww_sink_entry(void);
const struct ww_sink_ops *ww_sink_entry(void)
{
    return &ops;
}
