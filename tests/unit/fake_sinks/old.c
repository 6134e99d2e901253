/*
 * A module built before probe existed: ops->size stops after close. The
 * probe slot that follows in memory is deliberately not NULL; the loader
 * must not copy it (fields beyond ops->size read as NULL).
 */
#include "fake_sink.h"

static const struct ww_sink_ops ops = {
    .abi_version = WW_SINK_ABI_VERSION,
    .size = WW_SINK_OPS_MIN_SIZE,
    .name = "old",
    .open = fake_open,
    .write = fake_write,
    .close = fake_close,
    .probe = fake_probe, /* beyond size: must be ignored */
};

FAKE_EXPORT const struct ww_sink_ops *ww_sink_entry(void);
const struct ww_sink_ops *ww_sink_entry(void)
{
    return &ops;
}
