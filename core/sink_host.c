#include "sink_host.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static struct ww_sink_host *self(const struct ww_host *host)
{
    return (struct ww_sink_host *)host->core;
}

static void host_log(const struct ww_host *host, enum ww_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void host_log(const struct ww_host *host, enum ww_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ww_log_vwrite(level, self(host)->component, 0, fmt, ap);
    va_end(ap);
}

/* The entry of key in the sink's section, or NULL. */
static const struct ww_config_entry *entry_of(const struct ww_sink_host *h, const char *key)
{
    return h->section ? ww_config_entry_get(h->section, key) : NULL;
}

static const char *host_config_get(const struct ww_host *host, const char *key)
{
    const struct ww_config_entry *e = entry_of(self(host), key);
    return e ? e->value : NULL;
}

static int host_config_foreach(const struct ww_host *host,
                               int (*fn)(void *arg, const char *key, const char *value), void *arg)
{
    const struct ww_config_section *s = self(host)->section;
    for (size_t i = 0; s && i < s->nentries; i++) {
        int r = fn(arg, s->entries[i].key, s->entries[i].value);
        if (r)
            return r;
    }
    return 0;
}

static int host_config_error(const struct ww_host *host, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int host_config_error(const struct ww_host *host, const char *key, const char *fmt, ...)
{
    struct ww_sink_host *h = self(host);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const struct ww_config_entry *e = entry_of(h, key);
    const char *type = h->cfg->sink_type;
    if (e && e->line > 0)
        ww_error("config", "%s:%d: [%s] %s: %s", e->origin, e->line, type, key, msg);
    else if (e)
        ww_error("config", "environment %s: [%s] %s: %s", e->origin, type, key, msg);
    else
        ww_error("config", "%s: [%s] %s: %s", h->cfg->path, type, key, msg);
    h->config_errors++;
    return -EINVAL;
}

static void host_resume(const struct ww_host *host)
{
    struct ww_sink_host *h = self(host);
    if (h->on_resume)
        h->on_resume(h->arg);
}

static void host_fail(const struct ww_host *host, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void host_fail(const struct ww_host *host, const char *fmt, ...)
{
    struct ww_sink_host *h = self(host);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (h->on_fail)
        h->on_fail(h->arg, msg);
}

static void host_count_retry(const struct ww_host *host)
{
    self(host)->retries++;
}

void ww_sink_host_init(struct ww_sink_host *h, uv_loop_t *loop, const struct ww_config *cfg,
                       void (*on_resume)(void *arg), void (*on_fail)(void *arg, const char *msg),
                       void *arg)
{
    memset(h, 0, sizeof *h);
    h->cfg = cfg;
    h->section = ww_config_section(cfg, cfg->sink_type);
    snprintf(h->component, sizeof h->component, "sink.%s", cfg->sink_type);
    h->on_resume = on_resume;
    h->on_fail = on_fail;
    h->arg = arg;
    h->host = (struct ww_host){
        .loop = loop,
        .topic_prefix = cfg->topic_prefix,
        .max_inflight_bytes = cfg->max_inflight_bytes,
        .log = host_log,
        .config_get = host_config_get,
        .config_foreach = host_config_foreach,
        .config_error = host_config_error,
        .resume = host_resume,
        .fail = host_fail,
        .count_retry = host_count_retry,
        .core = h,
    };
}
