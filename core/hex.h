/* Hexadecimal digits, shared by the parsers (LSNs, bytea, COPY escapes). */
#ifndef WW_HEX_H
#define WW_HEX_H

/* The value of hex digit c (0-9, a-f, A-F), or -1. */
static inline int ww_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
