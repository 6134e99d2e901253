/*
 * Sink loader: finds sink_<type>.so, opens it with RTLD_NOW | RTLD_LOCAL,
 * and checks its ABI (DESIGN.md section 3).
 *
 * Search: <dir>/sink_<type>.so, then <dir>/<type>/sink_<type>.so (the
 * build tree's layout), where dir is [sink] dir or, when that is empty, the
 * compiled-in module directory (WW_SINK_DIR).
 *
 * Errors (-ENOENT, -ENOEXEC, -EPROTO, -EINVAL) leave one line in err that
 * names the file and what is wrong, e.g.
 *   sink module /usr/lib/walwire/sink_kafka.so: ABI version 2, walwire
 *   0.1.0 expects 1; install the module built with this walwire
 *   no sink module "kafak" in /usr/lib/walwire (looked for sink_kafak.so);
 *   set [sink] type to one of: file, kafka, null, redis
 *   sink module ./sink_x.so: no symbol ww_sink_entry (not a walwire sink?)
 *   sink module ./sink_x.so: struct ww_sink_ops is 16 bytes, at least 40 needed
 *
 * Ownership: on success m owns the dlopen handle; ww_sink_unload() closes
 * it (only after the sink's close() has called done).
 */
#ifndef WW_SINK_LOADER_H
#define WW_SINK_LOADER_H

#include <stddef.h>

#include "walwire/sink.h"

struct ww_sink_module {
    void *handle;              /* from dlopen */
    char *path;                /* the file that was loaded */
    /* A copy of the module's ops, zero-extended to this build's struct size
     * so that optional fields beyond the module's ops->size read as NULL. */
    struct ww_sink_ops ops;
};

/* type: [sink] type; dir: [sink] dir or NULL/"" for WW_SINK_DIR. */
int ww_sink_load(const char *dir, const char *type, struct ww_sink_module *m, char *err,
                 size_t errlen);
void ww_sink_unload(struct ww_sink_module *m);

#endif
