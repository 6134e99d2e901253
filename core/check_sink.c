/*
 * `walwire check`: is the sink reachable? Load the module the way `walwire
 * run` does, open it with a host built from the configuration, call its
 * optional probe (with a deadline), close it, and report one row "sink".
 *
 * The sink's own log lines are not printed (they would break the table and
 * the JSON on stdout): its first error or warning becomes the row's detail
 * when opening fails. With [log] level = debug they also go to stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_parts.h"
#include "log.h"
#include "sink_host.h"
#include "sink_loader.h"

enum sink_state {
    SK_LOAD_FAILED, /* ww_sink_load() refused: detail holds its message */
    SK_OPEN_FAILED, /* ops.open() returned an error */
    SK_PROBING,     /* probe() called, its callback not yet */
    SK_PROBED,      /* the probe answered (status, detail) */
    SK_TIMED_OUT,   /* no answer within WW_CHECK_PROBE_TIMEOUT_MS */
    SK_NO_PROBE,    /* opened; the module has no probe */
};

struct ww_check_sink {
    const struct ww_config *cfg;
    struct ww_sink_module mod;
    bool loaded;
    struct ww_sink_host host;
    void *sink; /* from ops.open(); NULL once close() was called */
    bool done;  /* the sink's close() called done */
    uv_timer_t timer;
    bool timer_open;
    enum sink_state state;
    int status;       /* SK_PROBED: the probe's status */
    char detail[768]; /* SK_LOAD_FAILED / SK_PROBED: the message */
    char logged[768]; /* the first error or warning the sink logged */
    int open_rc;      /* SK_OPEN_FAILED: what open() returned */
};

/* ---- the host lent to the sink ---------------------------------------- */

static struct ww_check_sink *owner_of(const struct ww_host *host)
{
    struct ww_sink_host *h = host->core;
    return h->arg;
}

static void remember(struct ww_check_sink *sk, const char *msg)
{
    if (!sk->logged[0])
        snprintf(sk->logged, sizeof sk->logged, "%s", msg);
}

static void check_log(const struct ww_host *host, enum ww_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void check_log(const struct ww_host *host, enum ww_log_level level, const char *fmt, ...)
{
    struct ww_check_sink *sk = owner_of(host);
    va_list ap;
    if (level <= WW_LOG_WARN) {
        char msg[768];
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        remember(sk, msg);
    }
    if (ww_log_level_get() >= WW_LOG_DEBUG) {
        va_start(ap, fmt);
        ww_log_vwrite(level, sk->host.component, 0, fmt, ap);
        va_end(ap);
    }
}

/* Like core's config_error (sink_host.c), but the message goes into the
 * row instead of the log. */
static int check_config_error(const struct ww_host *host, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int check_config_error(const struct ww_host *host, const char *key, const char *fmt, ...)
{
    struct ww_check_sink *sk = owner_of(host);
    struct ww_sink_host *h = &sk->host;
    char msg[512], line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const struct ww_config_entry *e = h->section ? ww_config_entry_get(h->section, key) : NULL;
    const char *type = sk->cfg->sink_type;
    if (e && e->line > 0)
        snprintf(line, sizeof line, "%s:%d: [%s] %s: %s", e->origin, e->line, type, key, msg);
    else if (e)
        snprintf(line, sizeof line, "environment %s: [%s] %s: %s", e->origin, type, key, msg);
    else
        snprintf(line, sizeof line, "%s: [%s] %s: %s", sk->cfg->path, type, key, msg);
    remember(sk, line);
    h->config_errors++;
    return -EINVAL;
}

static void on_sink_done(void *arg)
{
    struct ww_check_sink *sk = arg;
    sk->done = true;
}

/* Close the sink (once) and the deadline timer (once). */
static void close_all(struct ww_check_sink *sk)
{
    if (sk->sink) {
        void *s = sk->sink;
        sk->sink = NULL;
        sk->mod.ops.close(s, on_sink_done, sk);
    }
    if (sk->timer_open) {
        sk->timer_open = false;
        uv_close((uv_handle_t *)&sk->timer, NULL);
    }
}

static void on_answered(uv_timer_t *t)
{
    close_all(t->data);
}

/* The probe answered, or the sink gave up through host->fail. Closing
 * happens on the next turn of the loop (the timer, at 0 ms), never from
 * inside the sink's own call. */
static void probe_result(struct ww_check_sink *sk, int status, const char *detail)
{
    if (sk->state != SK_PROBING)
        return; /* a late answer, e.g. -ECANCELED while closing */
    sk->state = SK_PROBED;
    sk->status = status;
    snprintf(sk->detail, sizeof sk->detail, "%s", detail && *detail ? detail : "no detail");
    uv_timer_start(&sk->timer, on_answered, 0, 0);
}

static void on_probe(void *arg, int status, const char *detail)
{
    probe_result(arg, status, detail);
}

static void on_host_fail(void *arg, const char *msg)
{
    struct ww_check_sink *sk = arg;
    remember(sk, msg);
    probe_result(sk, -EIO, msg);
}

static void on_deadline(uv_timer_t *t)
{
    struct ww_check_sink *sk = t->data;
    if (sk->state == SK_PROBING)
        sk->state = SK_TIMED_OUT;
    close_all(sk);
}

struct ww_check_sink *ww_check_sink_start(uv_loop_t *loop, const struct ww_config *cfg)
{
    struct ww_check_sink *sk = calloc(1, sizeof *sk);
    if (!sk)
        abort();
    sk->cfg = cfg;
    if (ww_sink_load(cfg->sink_dir, cfg->sink_type, &sk->mod, sk->detail, sizeof sk->detail) < 0) {
        sk->state = SK_LOAD_FAILED;
        return sk;
    }
    sk->loaded = true;
    ww_sink_host_init(&sk->host, loop, cfg, NULL, on_host_fail, sk);
    sk->host.host.log = check_log;
    sk->host.host.config_error = check_config_error;

    /* The timer runs on_deadline() while probing, on_answered() after. */
    uv_timer_init(loop, &sk->timer);
    sk->timer.data = sk;
    sk->timer_open = true;

    sk->state = SK_PROBING; /* host->fail during open() is an answer too */
    int rc = sk->mod.ops.open(&sk->host.host, &sk->sink);
    if (rc < 0) {
        sk->state = SK_OPEN_FAILED;
        sk->open_rc = rc;
        sk->sink = NULL; /* nothing is left open (the ABI's contract) */
        close_all(sk);
        return sk;
    }
    if (sk->state != SK_PROBING) /* failed through host->fail already */
        return sk;
    if (!sk->mod.ops.probe) {
        sk->state = SK_NO_PROBE;
        close_all(sk);
        return sk;
    }
    uv_timer_start(&sk->timer, on_deadline, WW_CHECK_PROBE_TIMEOUT_MS, 0);
    sk->mod.ops.probe(sk->sink, on_probe, sk);
    return sk;
}

void ww_check_sink_finish(struct ww_check_sink *sk, struct ww_check_report *rep)
{
    const struct ww_config *cfg = sk->cfg;
    const char *type = cfg->sink_type;
    const char *path = sk->loaded ? sk->mod.path : "";
    struct ww_check_row *row;
    switch (sk->state) {
    case SK_LOAD_FAILED:
        row = ww_check_add(rep, "sink", WW_CHECK_FAIL, "%s", sk->detail);
        ww_check_fix(row,
                     "set [sink] type to an installed sink, or [sink] dir to the directory "
                     "that holds sink_%s.so",
                     type);
        break;
    case SK_OPEN_FAILED:
        row = ww_check_add(rep, "sink", WW_CHECK_FAIL, "sink %s (%s) could not start: %s", type,
                           path, sk->logged[0] ? sk->logged : strerror(-sk->open_rc));
        if (sk->host.config_errors)
            ww_check_fix(row, "correct the [%s] section of %s", type, cfg->path);
        else
            ww_check_fix(row,
                         "check the [%s] section of %s and that the destination is "
                         "reachable from here",
                         type, cfg->path);
        break;
    case SK_PROBED:
        if (sk->status == 0) {
            ww_check_add(rep, "sink", WW_CHECK_OK, "%s: %s", type, sk->detail);
        } else {
            row = ww_check_add(rep, "sink", WW_CHECK_FAIL, "%s: %s", type, sk->detail);
            ww_check_fix(row,
                         "check the [%s] section of %s and that the destination is "
                         "reachable from here",
                         type, cfg->path);
        }
        break;
    case SK_TIMED_OUT:
        row = ww_check_add(rep, "sink", WW_CHECK_FAIL,
                           "%s: no answer from the destination "
                           "within %d s%s%s",
                           type, WW_CHECK_PROBE_TIMEOUT_MS / 1000,
                           sk->logged[0] ? "; the sink said: " : "", sk->logged);
        ww_check_fix(row,
                     "check the [%s] section of %s and that the destination is reachable "
                     "from here",
                     type, cfg->path);
        break;
    case SK_NO_PROBE:
        ww_check_add(rep, "sink", WW_CHECK_OK,
                     "%s (%s): opened; not probed (the module has no "
                     "probe)",
                     type, path);
        break;
    case SK_PROBING:
        /* The loop ended without an answer: the sink lost the callback. */
        row = ww_check_add(rep, "sink", WW_CHECK_FAIL, "%s: the probe never answered", type);
        ww_check_fix(row, "this is a bug in the sink module %s", path);
        break;
    }
    /* Unmap the module only once its close() is over; a sink that never
     * called done may still have code on the loop. */
    if (sk->loaded && (sk->done || sk->state == SK_OPEN_FAILED))
        ww_sink_unload(&sk->mod);
    free(sk);
}
