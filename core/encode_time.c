/*
 * Temporal types: PostgreSQL's ISO text (DateStyle=ISO, TimeZone=UTC,
 * IntervalStyle=postgres) -> Debezium's forms with
 * time.precision.mode=adaptive and interval.handling.mode=numeric, or
 * ISO-8601 strings with [format] temporal = iso8601. Contract in
 * encode_conv.h; the table is in docs/types.md.
 *
 * Everything here validates and converts in place: no allocation (beyond
 * growing the output buffer), no sscanf/strtod, no libc time functions.
 * Dates use the proleptic Gregorian calendar with astronomical year
 * numbering (44 BC is year -43), as PostgreSQL and java.time both do.
 */
#include "encode_conv.h"

#include <string.h>

#include "json.h"

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY INT64_C(86400000000)
/* Debezium's MicroDuration month: 365.25 / 12 days = 2629800 s exactly. */
#define US_PER_AVG_MONTH INT64_C(2629800000000)

/* What Debezium writes for TIMESTAMP 'infinity' / '-infinity' (documented;
 * the PostgreSQL JDBC driver's DATE_POSITIVE/NEGATIVE_INFINITY). */
#define TS_POS_INFINITY INT64_C(9223372036825200000)
#define TS_NEG_INFINITY (-INT64_C(9223372036832400000))
/* What Debezium writes for DATE 'infinity' / '-infinity': its sentinel dates
 * +5877611-06-21 and -5877611-06-22 as days since 1970-01-01. */
#define DATE_POS_INFINITY INT64_C(2146033979)
#define DATE_NEG_INFINITY INT64_C(-2147472691)

/* ---- small helpers ------------------------------------------------------ */

static inline bool is_digit(char c)
{
    return ww_conv_is_digit(c);
}

static void put_plain_string(struct ww_buf *out, const char *s, size_t len)
{
    ww_conv_plain_string(out, s, len);
}

static bool text_is(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && memcmp(s, lit, n) == 0;
}

/* A reading position in a value's text. */
struct cur {
    const char *p;
    const char *end;
};

static bool eat(struct cur *c, char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* Between min and max decimal digits (max <= 18, so no overflow). */
static bool read_digits(struct cur *c, int min, int max, int64_t *v)
{
    int n = 0;
    int64_t x = 0;
    while (c->p < c->end && is_digit(*c->p) && n < max) {
        x = x * 10 + (*c->p++ - '0');
        n++;
    }
    if (n < min || (c->p < c->end && is_digit(*c->p)))
        return false;
    *v = x;
    return true;
}

/* Exactly two digits (a month, day, hour, minute or second field). What
 * follows is checked by the caller's next step (a separator or the end). */
static bool read2(struct cur *c, int64_t *v)
{
    if (c->end - c->p < 2 || !is_digit(c->p[0]) || !is_digit(c->p[1]))
        return false;
    *v = (c->p[0] - '0') * 10 + (c->p[1] - '0');
    c->p += 2;
    return true;
}

/* "1" .. "123456" after a '.': the fraction of a second in microseconds. */
static bool read_micros(struct cur *c, int64_t *us)
{
    const char *start = c->p;
    int64_t f;
    if (!read_digits(c, 1, 6, &f))
        return false;
    for (ptrdiff_t n = c->p - start; n < 6; n++)
        f *= 10;
    *us = f;
    return true;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- calendar ----------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian, astronomical year). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil(). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* ---- reading temporal text ---------------------------------------------- */

/* "YYYY-MM-DD" (4 or more year digits); the year as printed (BC later). */
static bool read_ymd(struct cur *c, int64_t *y, int *m, int *d)
{
    int64_t yy, mm, dd;
    if (!read_digits(c, 4, 9, &yy) || !eat(c, '-') || !read2(c, &mm) || !eat(c, '-') ||
        !read2(c, &dd))
        return false;
    if (yy < 1 || mm < 1 || mm > 12 || dd < 1)
        return false;
    *y = yy;
    *m = (int)mm;
    *d = (int)dd;
    return true;
}

/* An optional " BC" suffix turns the printed year into an astronomical one;
 * then the day must exist in that year's month. */
static bool finish_ymd(struct cur *c, int64_t *y, int m, int d)
{
    if (c->end - c->p == 3 && memcmp(c->p, " BC", 3) == 0) {
        c->p += 3;
        *y = 1 - *y;
    }
    return d <= days_in_month(*y, m);
}

/* "HH:MM:SS[.ffffff]" as microseconds since midnight; 24:00:00 allowed. */
static bool read_hms(struct cur *c, int64_t *us)
{
    int64_t h, m, s, f = 0;
    if (!read2(c, &h) || !eat(c, ':') || !read2(c, &m) || !eat(c, ':') || !read2(c, &s))
        return false;
    if (eat(c, '.') && !read_micros(c, &f))
        return false;
    if (h > 24 || m > 59 || s > 59 || (h == 24 && (m || s || f)))
        return false;
    *us = ((h * 60 + m) * 60 + s) * US_PER_SEC + f;
    return true;
}

/* A UTC offset "+HH", "-HH:MM" or "+HH:MM:SS", in seconds east of UTC. */
static bool read_offset(struct cur *c, int64_t *secs)
{
    bool neg;
    if (eat(c, '+'))
        neg = false;
    else if (eat(c, '-'))
        neg = true;
    else
        return false;
    int64_t h, m = 0, s = 0;
    if (!read2(c, &h))
        return false;
    if (eat(c, ':') && !read2(c, &m))
        return false;
    if (eat(c, ':') && !read2(c, &s))
        return false;
    if (m > 59 || s > 59)
        return false;
    *secs = (neg ? -1 : 1) * ((h * 60 + m) * 60 + s);
    return true;
}

/* timestamp / timestamptz text ("2024-01-02 03:04:05.5+00 BC") as
 * microseconds since the Unix epoch; false also when out of int64 range. */
static bool read_timestamp(const char *s, size_t len, bool with_tz, int64_t *out)
{
    struct cur c = {s, s + len};
    int64_t y, tod, off = 0, us;
    int m, d;
    if (!read_ymd(&c, &y, &m, &d) || !eat(&c, ' ') || !read_hms(&c, &tod))
        return false;
    if (with_tz && !read_offset(&c, &off))
        return false;
    if (!finish_ymd(&c, &y, m, d) || c.p != c.end)
        return false;
    if (__builtin_mul_overflow(days_from_civil(y, m, d), US_PER_DAY, &us) ||
        __builtin_add_overflow(us, tod - off * US_PER_SEC, &us))
        return false;
    *out = us;
    return true;
}

/* ---- writing ISO-8601 ----------------------------------------------------- */

static char *fmt_2(char *p, int64_t v)
{
    *p++ = (char)('0' + v / 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

/* The decimal digits of v, at least min_digits (zero-padded), no sign. */
static char *fmt_u64(char *p, uint64_t v, int min_digits)
{
    char t[24];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < min_digits)
        t[n++] = '0';
    while (n)
        *p++ = t[--n];
    return p;
}

static char *fmt_i64(char *p, int64_t v)
{
    if (v < 0)
        *p++ = '-';
    return fmt_u64(p, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, 1);
}

/* Like java.time's ISO_LOCAL_DATE: "2024-01-02", "-0043-03-15",
 * "+10000-01-01" (4 digits at least; '+' past 9999). */
static char *fmt_date(char *p, int64_t y, int m, int d)
{
    if (y > 9999)
        *p++ = '+';
    else if (y < 0)
        *p++ = '-';
    p = fmt_u64(p, y < 0 ? (uint64_t)0 - (uint64_t)y : (uint64_t)y, 4);
    *p++ = '-';
    p = fmt_2(p, m);
    *p++ = '-';
    return fmt_2(p, d);
}

/* ".5", ".123456": a fraction of a second (0 < us < 1e6) without trailing
 * zeros, or exactly width digits when width > 0. */
static char *fmt_frac(char *p, int64_t us, int width)
{
    int n = 6;
    if (width > 0) {
        n = width;
    } else {
        while (n > 1 && us % 10 == 0) {
            us /= 10;
            n--;
        }
        for (int k = n; k < 6; k++)
            us *= 10;
    }
    *p++ = '.';
    for (int64_t div = 100000; n > 0; n--, div /= 10)
        *p++ = (char)('0' + us / div % 10);
    return p;
}

/* "HH:MM:SS" plus the fraction: width digits when width > 0, else only the
 * digits needed (none for a whole second), like java.time's ISO formats. */
static char *fmt_time(char *p, int64_t tod, int width)
{
    int64_t secs = tod / US_PER_SEC, frac = tod % US_PER_SEC;
    p = fmt_2(p, secs / 3600);
    *p++ = ':';
    p = fmt_2(p, secs / 60 % 60);
    *p++ = ':';
    p = fmt_2(p, secs % 60);
    if (width > 0 || frac)
        p = fmt_frac(p, frac, width);
    return p;
}

/* "2024-01-02T03:04:05.123456" for microseconds since the epoch. */
static char *fmt_datetime(char *p, int64_t us, int width)
{
    int64_t days = floor_div(us, US_PER_DAY), y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    p = fmt_date(p, y, m, d);
    *p++ = 'T';
    return fmt_time(p, us - days * US_PER_DAY, width);
}

/* ---- temporal types ------------------------------------------------------ */

/* 'infinity' / '-infinity': +1, -1, or 0 for a finite value. */
static int infinity_sign(const char *s, size_t len)
{
    if (text_is(s, len, "infinity"))
        return 1;
    if (text_is(s, len, "-infinity"))
        return -1;
    return 0;
}

/* date: days since 1970-01-01 (io.debezium.time.Date), or "2024-01-02Z"
 * (io.debezium.time.IsoDate) with temporal_iso8601. */
bool ww_conv_date(struct ww_buf *out, bool iso, const char *s, size_t len)
{
    int inf = infinity_sign(s, len);
    if (inf) {
        if (iso)
            ww_json_string(out, s, len);
        else
            ww_buf_put_i64(out, inf > 0 ? DATE_POS_INFINITY : DATE_NEG_INFINITY);
        return true;
    }
    struct cur c = {s, s + len};
    int64_t y;
    int m, d;
    if (!read_ymd(&c, &y, &m, &d) || !finish_ymd(&c, &y, m, d) || c.p != c.end)
        return false;
    if (!iso) {
        ww_buf_put_i64(out, days_from_civil(y, m, d));
        return true;
    }
    char tmp[40];
    char *p = fmt_date(tmp, y, m, d);
    *p++ = 'Z';
    put_plain_string(out, tmp, (size_t)(p - tmp));
    return true;
}

/* Debezium's adaptive precision: time(0..3) and timestamp(0..3) are in
 * milliseconds (io.debezium.time.Time / Timestamp), others in microseconds
 * (MicroTime / MicroTimestamp). */
static bool in_millis(int32_t typmod)
{
    return typmod >= 0 && typmod <= 3;
}

/* time: microseconds (or milliseconds) since midnight; "03:04:05.5Z"
 * (io.debezium.time.IsoTime) with temporal_iso8601. */
bool ww_conv_time(struct ww_buf *out, bool iso, int32_t typmod, const char *s, size_t len)
{
    struct cur c = {s, s + len};
    int64_t tod;
    if (!read_hms(&c, &tod) || c.p != c.end)
        return false;
    if (iso) {
        char tmp[32];
        char *p = fmt_time(tmp, tod, 0);
        *p++ = 'Z';
        put_plain_string(out, tmp, (size_t)(p - tmp));
    } else {
        ww_buf_put_i64(out, in_millis(typmod) ? tod / 1000 : tod);
    }
    return true;
}

/* timetz: the time at UTC, "01:04:05.123Z" (io.debezium.time.ZonedTime). */
bool ww_conv_timetz(struct ww_buf *out, const char *s, size_t len)
{
    struct cur c = {s, s + len};
    int64_t tod, off;
    if (!read_hms(&c, &tod) || !read_offset(&c, &off) || c.p != c.end)
        return false;
    int64_t utc = tod - off * US_PER_SEC;
    if (utc != US_PER_DAY) /* 24:00:00+00 stays 24:00:00 */
        utc = utc - floor_div(utc, US_PER_DAY) * US_PER_DAY;
    char tmp[32];
    char *p = fmt_time(tmp, utc, 0);
    *p++ = 'Z';
    put_plain_string(out, tmp, (size_t)(p - tmp));
    return true;
}

/* timestamp: microseconds (or milliseconds) since the epoch
 * (io.debezium.time.MicroTimestamp / Timestamp); "2024-01-02T03:04:05Z"
 * (io.debezium.time.IsoTimestamp) with temporal_iso8601. */
bool ww_conv_timestamp(struct ww_buf *out, bool iso, int32_t typmod, const char *s, size_t len)
{
    int inf = infinity_sign(s, len);
    int64_t us;
    if (inf) {
        if (iso) {
            ww_json_string(out, s, len);
            return true;
        }
        us = inf > 0 ? TS_POS_INFINITY : TS_NEG_INFINITY;
    } else if (!read_timestamp(s, len, false, &us)) {
        return false;
    }
    if (iso) {
        char tmp[48];
        char *p = fmt_datetime(tmp, us, 0);
        *p++ = 'Z';
        put_plain_string(out, tmp, (size_t)(p - tmp));
    } else {
        ww_buf_put_i64(out, in_millis(typmod) ? floor_div(us, 1000) : us);
    }
    return true;
}

/* timestamptz: "2024-01-02T03:04:05.123456Z" at UTC
 * (io.debezium.time.ZonedTimestamp) with as many fraction digits as the
 * column's precision (6 when unspecified; 0 prints only what is needed);
 * 'infinity' / '-infinity' stay as those strings. */
/* Two digits at s, when they are digits and the number is <= max. */
static inline bool two_digits_upto(const char *s, int max)
{
    return is_digit(s[0]) && is_digit(s[1]) && (s[0] - '0') * 10 + (s[1] - '0') <= max;
}

/*
 * The common case of timestamptz, rewritten as text without a round trip
 * through microseconds: "2024-01-02 03:04:05.5+00" (TimeZone is UTC, so the
 * offset is +00; years 1000 to 9999, AD) becomes "2024-01-02T03:04:05.500000Z"
 * with the fraction padded to width. Returns false for anything else,
 * which takes the general path.
 */
static bool timestamptz_fast(struct ww_buf *out, int width, const char *s, size_t len)
{
    if (len < 22 || len > 29 || s[len - 3] != '+' || s[len - 2] != '0' || s[len - 1] != '0')
        return false;
    if (!is_digit(s[0]) || s[0] == '0' || !is_digit(s[1]) || !is_digit(s[2]) || !is_digit(s[3]) ||
        s[4] != '-' || !two_digits_upto(s + 5, 12) || s[7] != '-' || !two_digits_upto(s + 8, 31) ||
        s[10] != ' ' || !two_digits_upto(s + 11, 23) || s[13] != ':' ||
        !two_digits_upto(s + 14, 59) || s[16] != ':' || !two_digits_upto(s + 17, 60))
        return false;
    size_t frac_digits = 0;
    if (len > 22) {
        if (s[19] != '.')
            return false;
        frac_digits = len - 23;
        for (size_t i = 0; i < frac_digits; i++)
            if (!is_digit(s[20 + i]))
                return false;
        if (frac_digits == 0 || (int)frac_digits > width)
            return false;
    }
    char tmp[32];
    memcpy(tmp, s, 19);
    tmp[10] = 'T';
    size_t n = 19;
    if (width > 0) {
        tmp[n++] = '.';
        memcpy(tmp + n, s + 20, frac_digits);
        n += frac_digits;
        for (int k = (int)frac_digits; k < width; k++)
            tmp[n++] = '0';
    }
    tmp[n++] = 'Z';
    put_plain_string(out, tmp, n);
    return true;
}

bool ww_conv_timestamptz(struct ww_buf *out, int32_t typmod, const char *s, size_t len)
{
    int64_t us;
    if (timestamptz_fast(out, typmod < 0 ? 6 : typmod > 6 ? 6 : typmod, s, len))
        return true;
    if (infinity_sign(s, len)) {
        ww_json_string(out, s, len);
        return true;
    }
    if (!read_timestamp(s, len, true, &us))
        return false;
    int width = typmod < 0 ? 6 : typmod > 6 ? 6 : typmod;
    char tmp[48];
    char *p = fmt_datetime(tmp, us, width);
    *p++ = 'Z';
    put_plain_string(out, tmp, (size_t)(p - tmp));
    return true;
}

/*
 * interval, IntervalStyle=postgres: "1 year 2 mons -3 days +04:05:06.78",
 * "-00:00:01". Default: microseconds with Debezium's average month of
 * 365.25/12 days (io.debezium.time.MicroDuration), computed exactly.
 * temporal_iso8601: "P1Y2M-3DT4H5M6.78S" (io.debezium.time.Interval).
 */
bool ww_conv_interval(struct ww_buf *out, bool iso, const char *s, size_t len)
{
    if (infinity_sign(s, len)) { /* PostgreSQL 17 */
        ww_json_string(out, s, len);
        return true;
    }
    int64_t years = 0, mons = 0, days = 0, hours = 0, mins = 0, secs = 0, frac = 0;
    bool time_neg = false;
    struct cur c = {s, s + len};
    while (c.p < c.end) {
        bool neg = eat(&c, '-');
        if (!neg)
            eat(&c, '+');
        int64_t n;
        if (!read_digits(&c, 1, 18, &n))
            return false;
        if (eat(&c, ':')) { /* the time part ends the text */
            time_neg = neg;
            hours = n;
            if (hours > INT64_MAX / (3600 * US_PER_SEC))
                return false;
            if (!read2(&c, &mins) || !eat(&c, ':') || !read2(&c, &secs))
                return false;
            if ((eat(&c, '.') && !read_micros(&c, &frac)) || c.p != c.end || mins > 59 || secs > 59)
                return false;
            break;
        }
        if (!eat(&c, ' ') || n > INT32_MAX)
            return false;
        const char *unit = c.p;
        while (c.p < c.end && *c.p != ' ')
            c.p++;
        size_t ul = (size_t)(c.p - unit);
        int64_t v = neg ? -n : n;
        if (text_is(unit, ul, "year") || text_is(unit, ul, "years"))
            years = v;
        else if (text_is(unit, ul, "mon") || text_is(unit, ul, "mons"))
            mons = v;
        else if (text_is(unit, ul, "day") || text_is(unit, ul, "days"))
            days = v;
        else
            return false;
        if (c.p < c.end && (!eat(&c, ' ') || c.p == c.end))
            return false;
    }
    if (c.p == s)
        return false;

    if (iso) {
        /* Debezium prints the fields as PGInterval parsed them; the time
         * part's sign goes to hours, minutes and seconds. */
        char tmp[160];
        char *p = tmp;
        *p++ = 'P';
        p = fmt_i64(p, years);
        *p++ = 'Y';
        p = fmt_i64(p, mons);
        *p++ = 'M';
        p = fmt_i64(p, days);
        *p++ = 'D';
        *p++ = 'T';
        p = fmt_i64(p, time_neg ? -hours : hours);
        *p++ = 'H';
        p = fmt_i64(p, time_neg ? -mins : mins);
        *p++ = 'M';
        if (time_neg && (secs || frac))
            *p++ = '-';
        p = fmt_i64(p, secs);
        if (frac)
            p = fmt_frac(p, frac, 0);
        *p++ = 'S';
        put_plain_string(out, tmp, (size_t)(p - tmp));
        return true;
    }
    int64_t total, t;
    if (__builtin_mul_overflow(years * 12 + mons, US_PER_AVG_MONTH, &total) ||
        __builtin_mul_overflow(days, US_PER_DAY, &t) || __builtin_add_overflow(total, t, &total))
        return false;
    t = ((hours * 60 + mins) * 60 + secs);
    if (__builtin_mul_overflow(t, US_PER_SEC, &t) || __builtin_add_overflow(t, frac, &t) ||
        __builtin_add_overflow(total, time_neg ? -t : t, &total))
        return false;
    ww_buf_put_i64(out, total);
    return true;
}
