/*
 * Logging: one line per event on stderr, as text or JSON ([log] format).
 *
 *   text: 2026-11-21T23:30:00.123Z INFO  stream: started lsn=0/16B3748
 *   json: {"ts":"2026-11-21T23:30:00.123Z","level":"info","component":"stream",
 *          "msg":"started","lsn":"0/16B3748"}
 *
 * Secrets are never passed to these functions: callers redact conninfo with
 * ww_conninfo_redact() (pg_conn.h) before logging it.
 *
 * Thread: the loop thread, except ww_log_vwrite which is also safe from a
 * library thread (each line is one write(2)).
 */
#ifndef WW_LOG_H
#define WW_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "walwire/sink.h" /* enum ww_log_level */

enum ww_log_format { WW_LOG_TEXT, WW_LOG_JSON };

void ww_log_setup(enum ww_log_level level, enum ww_log_format format);
enum ww_log_level ww_log_level_get(void);
enum ww_log_format ww_log_format_get(void);
/* A live progress line (no newline) is on the terminal: each log line
 * first clears it; the progress ticker redraws it. */
void ww_log_set_live_line(bool active);

/* Parse "error|warn|info|debug" / "text|json"; 0 or -EINVAL. */
int ww_log_level_parse(const char *s, enum ww_log_level *out);
int ww_log_format_parse(const char *s, enum ww_log_format *out);

/* lsn == 0 means "no LSN for this line". */
void ww_log_vwrite(enum ww_log_level level, const char *component, uint64_t lsn,
                   const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

void ww_log(enum ww_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ww_log_lsn(enum ww_log_level level, const char *component, uint64_t lsn, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

#define ww_error(comp, ...) ww_log(WW_LOG_ERROR, comp, __VA_ARGS__)
#define ww_warn(comp, ...) ww_log(WW_LOG_WARN, comp, __VA_ARGS__)
#define ww_info(comp, ...) ww_log(WW_LOG_INFO, comp, __VA_ARGS__)
#define ww_debug(comp, ...)                                                                        \
    do {                                                                                           \
        if (ww_log_level_get() >= WW_LOG_DEBUG)                                                    \
            ww_log(WW_LOG_DEBUG, comp, __VA_ARGS__);                                               \
    } while (0)

#endif
