/*
 * libpq connection parameters built from the user's [source] conninfo:
 * walwire's session settings added, the password taken from a file, and a
 * redacted form for logs (a password never appears in one).
 *
 * Ownership: struct ww_conninfo owns its strings; ww_conninfo_free()
 * releases them. No I/O besides reading password_file.
 */
#ifndef WW_CONNINFO_H
#define WW_CONNINFO_H

#include <stddef.h>

/* Connection parameters built from a user conninfo. Owns its strings. */
struct ww_conninfo {
    char **keywords; /* NULL-terminated */
    char **values;
    size_t n;
};

enum ww_conn_kind {
    WW_CONN_REGULAR,     /* ordinary SQL session */
    WW_CONN_REPLICATION, /* replication=database: walsender with SQL */
};

/* Parse conninfo (key=value or URI), add walwire's session settings
 * (DateStyle, TimeZone, ... appended to any "options" the user gave;
 * client_encoding UTF8),
 * application_name "walwire" unless set, replication=database for
 * WW_CONN_REPLICATION, and the password from password_file when given and
 * conninfo has none. 0, or -EINVAL with a message in err that never quotes
 * the conninfo (it may hold a password). */
int ww_conninfo_build(const char *conninfo, const char *password_file, enum ww_conn_kind kind,
                      struct ww_conninfo *out, char *err, size_t errlen);
void ww_conninfo_free(struct ww_conninfo *ci);
/* The conninfo as "host=db port=5432 dbname=app user=walwire" for logs:
 * every parameter except password/sslpassword, which never appear. */
void ww_conninfo_redact(const char *conninfo, char *out, size_t outlen);
/* Set (or add) a parameter of ci; copies value. */
void ww_conninfo_set(struct ww_conninfo *ci, const char *keyword, const char *value);
/* The value of a parameter in ci, or NULL. */
const char *ww_conninfo_get(const struct ww_conninfo *ci, const char *keyword);

#endif
