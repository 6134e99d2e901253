#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "lsn.h"

static enum ww_log_level g_level = WW_LOG_INFO;
static enum ww_log_format g_format = WW_LOG_TEXT;
static bool g_live_line;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const level_text[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};

void ww_log_setup(enum ww_log_level level, enum ww_log_format format)
{
    g_level = level;
    g_format = format;
}

enum ww_log_level ww_log_level_get(void)
{
    return g_level;
}

enum ww_log_format ww_log_format_get(void)
{
    return g_format;
}

void ww_log_set_live_line(bool active)
{
    g_live_line = active;
}

int ww_log_level_parse(const char *s, enum ww_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum ww_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = WW_LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

int ww_log_format_parse(const char *s, enum ww_log_format *out)
{
    if (strcasecmp(s, "text") == 0)
        *out = WW_LOG_TEXT;
    else if (strcasecmp(s, "json") == 0)
        *out = WW_LOG_JSON;
    else
        return -EINVAL;
    return 0;
}

/* Append s as the inside of a JSON string (no quotes). */
static void json_escape(struct ww_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            ww_buf_putc(b, '\\');
            ww_buf_putc(b, (char)c);
        } else if (c == '\n') {
            ww_buf_puts(b, "\\n");
        } else if (c < 0x20) {
            char tmp[8];
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            ww_buf_append_str(b, tmp);
        } else {
            ww_buf_putc(b, (char)c);
        }
    }
}

void ww_log_vwrite(enum ww_log_level level, const char *component, uint64_t lsn,
                   const char *fmt, va_list ap)
{
    if (level > g_level)
        return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* A message never ends in a newline; strip one a library added. */
    size_t mlen = strlen(msg);
    while (mlen && (msg[mlen - 1] == '\n' || msg[mlen - 1] == ' '))
        msg[--mlen] = '\0';

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(tv.tv_usec / 1000));
    char lsnbuf[WW_LSN_STRLEN];
    if (lsn)
        ww_lsn_format(lsn, lsnbuf);

    struct ww_buf b = {0};
    if (g_live_line)
        ww_buf_puts(&b, "\r\033[K"); /* clear the progress line first */
    if (g_format == WW_LOG_JSON) {
        ww_buf_puts(&b, "{\"ts\":\"");
        ww_buf_append_str(&b, ts);
        ww_buf_puts(&b, "\",\"level\":\"");
        ww_buf_append_str(&b, level_names[level]);
        ww_buf_puts(&b, "\",\"component\":\"");
        json_escape(&b, component);
        ww_buf_puts(&b, "\",\"msg\":\"");
        json_escape(&b, msg);
        ww_buf_putc(&b, '"');
        if (lsn) {
            ww_buf_puts(&b, ",\"lsn\":\"");
            ww_buf_append_str(&b, lsnbuf);
            ww_buf_putc(&b, '"');
        }
        ww_buf_puts(&b, "}\n");
    } else {
        ww_buf_append_str(&b, ts);
        ww_buf_putc(&b, ' ');
        ww_buf_append_str(&b, level_text[level]);
        ww_buf_putc(&b, ' ');
        ww_buf_append_str(&b, component);
        ww_buf_puts(&b, ": ");
        ww_buf_append(&b, msg, mlen);
        if (lsn) {
            ww_buf_puts(&b, " lsn=");
            ww_buf_append_str(&b, lsnbuf);
        }
        ww_buf_putc(&b, '\n');
    }
    /* One write(2) per line so that lines from threads never interleave. */
    const char *p = b.data;
    size_t left = b.len;
    while (left) {
        ssize_t n = write(STDERR_FILENO, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
    ww_buf_free(&b);
}

void ww_log(enum ww_log_level level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ww_log_vwrite(level, component, 0, fmt, ap);
    va_end(ap);
}

void ww_log_lsn(enum ww_log_level level, const char *component, uint64_t lsn, const char *fmt,
                ...)
{
    va_list ap;
    va_start(ap, fmt);
    ww_log_vwrite(level, component, lsn, fmt, ap);
    va_end(ap);
}
