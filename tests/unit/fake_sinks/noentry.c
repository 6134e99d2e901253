/* A shared object without the ww_sink_entry symbol: not a walwire sink. */
#include "fake_sink.h"

static const struct ww_sink_ops ops = {
    .abi_version = WW_SINK_ABI_VERSION,
    .size = sizeof(struct ww_sink_ops),
    .name = "noentry",
    .open = fake_open,
    .write = fake_write,
    .close = fake_close,
};

/* Exported under another name than WW_SINK_ENTRY_SYMBOL. */
FAKE_EXPORT const struct ww_sink_ops *ww_sink_entry_v0(void);
const struct ww_sink_ops *ww_sink_entry_v0(void)
{
    return &ops;
}
