/*
 * A module built with a later header that appended two fields: ops->size
 * is larger than this build's struct. The loader copies only what it knows.
 */
#include "fake_sink.h"

static const struct {
    struct ww_sink_ops ops;
    void (*later[2])(void);
} future_ops = {
    .ops =
        {
            .abi_version = WW_SINK_ABI_VERSION,
            .size = sizeof(struct ww_sink_ops) + 2 * sizeof(void (*)(void)),
            .name = "future",
            .open = fake_open,
            .write = fake_write,
            .close = fake_close,
            .probe = fake_probe,
        },
};

FAKE_EXPORT const struct ww_sink_ops *ww_sink_entry(void);
const struct ww_sink_ops *ww_sink_entry(void)
{
    return &future_ops.ops;
}
