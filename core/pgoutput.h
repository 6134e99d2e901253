/*
 * pgoutput decoder: parses one logical replication message (the payload of
 * an XLogData message) of protocol version 1 into a struct ww_pgo_msg.
 * Mirrors the read functions of PostgreSQL's src/backend/replication/logical/
 * proto.c; each field is described where it is read (pgoutput.c).
 *
 * Ownership: every pointer in the decoded message borrows either the input
 * buffer (strings, value bytes) or arrays inside the decoder (columns, tuple
 * values, truncate relids). It stays valid until the next ww_pgo_decode()
 * on the same decoder or until the input buffer is freed, whichever is
 * first. Decoding never allocates once the decoder's arrays have grown to
 * the widest relation seen.
 *
 * Errors: a message that is truncated, too long, has an unknown type or a
 * field out of range makes ww_pgo_decode() return -EBADMSG and leaves a
 * one-line description in decoder->errmsg (e.g. "Insert: tuple column 3:
 * value length 1000 exceeds the 12 bytes left"). It never reads past len.
 *
 * Thread: any, one decoder per thread.
 */
#ifndef WW_PGOUTPUT_H
#define WW_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lsn.h"

/* The message type byte that starts every pgoutput message. */
enum ww_pgo_kind {
    WW_PGO_BEGIN = 'B',
    WW_PGO_COMMIT = 'C',
    WW_PGO_ORIGIN = 'O',
    WW_PGO_RELATION = 'R',
    WW_PGO_TYPE = 'Y',
    WW_PGO_INSERT = 'I',
    WW_PGO_UPDATE = 'U',
    WW_PGO_DELETE = 'D',
    WW_PGO_TRUNCATE = 'T',
    WW_PGO_MESSAGE = 'M',
};

/* One column value of a TupleData. */
enum ww_pgo_value_kind {
    WW_PGO_NULL = 'n',      /* SQL NULL; len 0, data NULL */
    WW_PGO_UNCHANGED = 'u', /* unchanged TOASTed value, not sent; len 0, data NULL */
    WW_PGO_TEXT = 't',      /* text form, len bytes at data (not NUL-terminated) */
    WW_PGO_BINARY = 'b',    /* binary form (never requested by walwire) */
};

struct ww_pgo_value {
    char kind; /* enum ww_pgo_value_kind */
    uint32_t len;
    const char *data;
};

/* A row: one value per column of the relation, in column order. Also the
 * shape that the snapshot gives COPY rows. */
struct ww_pgo_tuple {
    uint16_t ncols;
    const struct ww_pgo_value *values;
};

struct ww_pgo_column {
    bool is_identity;  /* flags bit 1: part of the replica identity key */
    const char *name;  /* NUL-terminated, borrowed */
    uint32_t type_oid;
    int32_t typmod;    /* -1 when the type has none */
};

/* The replica identity setting of a relation (pg_class.relreplident). */
enum ww_replident {
    WW_REPLIDENT_DEFAULT = 'd',
    WW_REPLIDENT_NOTHING = 'n',
    WW_REPLIDENT_FULL = 'f',
    WW_REPLIDENT_INDEX = 'i',
};

/* Bits of the Truncate message's options. */
#define WW_PGO_TRUNCATE_CASCADE 1u
#define WW_PGO_TRUNCATE_RESTART_IDENTITY 2u

/* Bit of the Message message's flags. */
#define WW_PGO_MESSAGE_TRANSACTIONAL 1u

struct ww_pgo_msg {
    char kind; /* enum ww_pgo_kind */
    union {
        struct {
            ww_lsn final_lsn;    /* LSN of the commit record */
            int64_t commit_time; /* microseconds since 2000-01-01 UTC */
            uint32_t xid;
        } begin;
        struct {
            uint8_t flags;       /* unused by the server, always 0 */
            ww_lsn commit_lsn;   /* LSN of the commit record */
            ww_lsn end_lsn;      /* end of the commit record: the position to confirm */
            int64_t commit_time; /* microseconds since 2000-01-01 UTC */
        } commit;
        struct {
            ww_lsn commit_lsn; /* commit LSN on the origin server */
            const char *name;
        } origin;
        struct {
            uint32_t relid;
            const char *nspname; /* "" means pg_catalog */
            const char *relname;
            char replident; /* enum ww_replident */
            uint16_t ncols;
            const struct ww_pgo_column *cols;
        } relation;
        struct {
            uint32_t oid;
            const char *nspname;
            const char *typname;
        } type;
        /* Insert, Update and Delete. */
        struct {
            uint32_t relid;
            /* Update and Delete: 'K' when old_tuple holds only the replica
             * identity key columns (the others are NULL), 'O' when it holds
             * the whole old row (REPLICA IDENTITY FULL), 0 when there is no
             * old tuple (Insert; Update whose key did not change). */
            char old_kind;
            struct ww_pgo_tuple old_tuple; /* ncols 0 when old_kind == 0 */
            struct ww_pgo_tuple new_tuple; /* ncols 0 for Delete */
        } change;
        struct {
            uint8_t options; /* WW_PGO_TRUNCATE_* bits */
            uint32_t nrelids;
            const uint32_t *relids; /* host byte order, in the decoder */
        } truncate;
        struct {
            uint8_t flags; /* WW_PGO_MESSAGE_TRANSACTIONAL */
            ww_lsn lsn;    /* LSN of the message record */
            const char *prefix;
            uint32_t content_len;
            const char *content; /* content_len bytes, not NUL-terminated */
        } message;
    };
};

struct ww_pgo_decoder {
    /* Storage the decoded messages borrow; grown as needed. */
    struct ww_pgo_column *cols;
    size_t cols_cap;
    struct ww_pgo_value *values; /* old tuple at [0, n), new tuple after it */
    size_t values_cap;
    uint32_t *relids;
    size_t relids_cap;
    char errmsg[256];
};

void ww_pgo_decoder_init(struct ww_pgo_decoder *d);
void ww_pgo_decoder_free(struct ww_pgo_decoder *d);

/* Decode buf[0..len) into *out. 0, or -EBADMSG with d->errmsg set. */
int ww_pgo_decode(struct ww_pgo_decoder *d, const char *buf, size_t len, struct ww_pgo_msg *out);

/* Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
#define WW_PG_EPOCH_OFFSET_US INT64_C(946684800000000)

#endif
