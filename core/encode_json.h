/*
 * JSON encoder: turns a row change into the event key and the Debezium
 * envelope value (DESIGN.md section 5), with schemas.enable=false and
 * decimal.handling.mode=string.
 *
 *   key:   {"id":1}            or nothing (key_null) when the table has no key
 *   value: {"before":null,"after":{"id":1,"name":"a"},
 *           "source":{"version":"0.1.0","connector":"walwire","name":"<prefix>",
 *                     "ts_ms":1700000000000,"snapshot":"false","db":"app",
 *                     "schema":"public","table":"users","txId":742,"lsn":24023128},
 *           "op":"c","ts_ms":1700000000123}
 *
 * Values arrive in PostgreSQL's text output form (pgoutput 't' values and
 * COPY text rows), produced by sessions with DateStyle=ISO, TimeZone=UTC,
 * IntervalStyle=postgres, extra_float_digits=3 and bytea_output=hex (core
 * sets these on every connection). The type mapping is documented in
 * README.md and lives in encode_types.c.
 *
 * Ownership: the encoder owns its key and value buffers; they are reused by
 * the next encode call, so the caller hands them to the sink (which copies)
 * before encoding again. Encoding does not allocate once the buffers have
 * grown to the largest event.
 *
 * Errors: -EBADMSG when the tuple does not match the relation (column count)
 * with enc->errmsg set. A value whose text cannot be read as its type is
 * written as a JSON string of its text (never dropped) and counted in
 * enc->bad_values.
 *
 * Thread: any, one encoder per thread.
 */
#ifndef WW_ENCODE_JSON_H
#define WW_ENCODE_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "pgoutput.h"
#include "relcache.h"

struct ww_encoder_options {
    const char *topic_prefix;  /* source.name */
    const char *db_name;       /* source.db */
    bool temporal_iso8601;     /* [format] temporal = iso8601 */
    /* Where non-built-in types are looked up (ww_relcache_type); borrowed,
     * may be NULL (then such values are written as their text). */
    const struct ww_relcache *types;
};

/* What the envelope's source block says besides schema and table. */
/* An event's place in its transaction ([format] transactions = true):
 * the envelope's "transaction" block. */
struct ww_event_tx {
    const char *id;                 /* "<txId>:<commit LSN>" */
    uint64_t total_order;           /* 1-based, among the transaction's events */
    uint64_t data_collection_order; /* 1-based, among its events of this table */
};

struct ww_event_source {
    ww_lsn lsn;             /* source.lsn */
    uint32_t xid;           /* source.txId; 0 writes null */
    int64_t commit_time_us; /* source.ts_ms (converted), Unix epoch */
    const char *snapshot;   /* "false", "true" or "last" */
    int64_t now_ms;         /* envelope ts_ms: processing time, Unix epoch */
    const struct ww_event_tx *tx; /* NULL writes "transaction":null */
};

/* One table's share of a transaction, for its END record. */
struct ww_tx_collection {
    const char *schema;
    const char *table;
    uint64_t event_count;
};

struct ww_encoder {
    struct ww_encoder_options opts;
    /* The prefix of every source block up to "ts_ms":, precomputed:
     * {"version":"0.1.0","connector":"walwire","name":"...", */
    struct ww_buf source_head;
    /* The trailing db part: "db":"app", */
    struct ww_buf source_db;
    struct ww_buf key;   /* output: the key JSON when !key_null */
    struct ww_buf value; /* output: the envelope JSON */
    bool key_null;       /* output: the event has no key */
    struct ww_buf scratch; /* reused for conversions (bytea, arrays) */
    /* The source block up to "lsn": is the same for every change of a
     * transaction of one table, and for every snapshot row of a table: it
     * is kept, with what it was built from, and reused while that holds. */
    struct ww_buf source_cache;
    struct ww_buf source_cache_st; /* the schema_table it was built for */
    int64_t source_cache_commit_us;
    uint32_t source_cache_xid;
    char source_cache_snapshot[8];
    bool source_cache_valid;
    /* The digits of the last envelope ts_ms (the clock is coarse). */
    int64_t now_cached_ms;
    char now_digits[24];
    uint8_t now_len;
    uint64_t bad_values; /* values written as strings because they did not parse */
    char errmsg[256];
};

/* Copies the strings in opts. */
void ww_encoder_init(struct ww_encoder *e, const struct ww_encoder_options *opts);
void ww_encoder_free(struct ww_encoder *e);

/*
 * Encode a row change. op is 'c', 'u', 'd' or 'r'. before and after may be
 * NULL; a tuple given must have rel->ncols columns. The key comes from after
 * (or before for 'd') through rel's key columns. Unchanged TOAST values
 * ('u') in after are taken from before when before has the column as a
 * value, otherwise written as "__debezium_unavailable_value" and listed in
 * source.unchanged_columns.
 */
int ww_encode_row(struct ww_encoder *e, char op, const struct ww_relation *rel,
                  const struct ww_pgo_tuple *before, const struct ww_pgo_tuple *after,
                  const struct ww_event_source *src);

/* A TRUNCATE of rel: op 't', no before/after, null key; source carries
 * "truncate_cascade" and "truncate_restart_identity" booleans from options
 * (WW_PGO_TRUNCATE_* bits). */
int ww_encode_truncate(struct ww_encoder *e, const struct ww_relation *rel, uint8_t options,
                       const struct ww_event_source *src);

/* A logical decoding message: op 'm', key {"prefix":"..."}, value with
 * "message":{"prefix":"...","content":"<base64>"} and source.schema/table
 * "" (Debezium's layout). */
int ww_encode_message(struct ww_encoder *e, bool transactional, const char *prefix,
                      const char *content, size_t content_len,
                      const struct ww_event_source *src);

/*
 * Transaction metadata records, for the {prefix}.transaction topic, as
 * Debezium writes them: key {"id":"<txId>:<commit LSN>"}, value
 *   {"status":"BEGIN","id":"..","ts_ms":<commit ms>,"event_count":null,
 *    "data_collections":null}
 *   {"status":"END","id":"..","ts_ms":..,"event_count":3,
 *    "data_collections":[{"data_collection":"public.users","event_count":3}]}
 * (encode_tx.c). ncollections 0 with begin.
 */
void ww_encode_tx_begin(struct ww_encoder *e, const char *id, int64_t commit_time_us);
void ww_encode_tx_end(struct ww_encoder *e, const char *id, int64_t commit_time_us,
                      uint64_t event_count, const struct ww_tx_collection *collections,
                      size_t ncollections);

/* Append base64 (RFC 4648, with padding) of data to b. */
void ww_base64(struct ww_buf *b, const unsigned char *data, size_t len);

#endif
