/*
 * What the fuzz targets share: the path a pgoutput message takes through
 * core (decoder -> relation cache -> encoder), with the checks that make a
 * wrong result a crash libFuzzer reports, and the input framing.
 *
 * The pipeline mirrors what core/bridge.c does with each XLogData payload
 * (ww_bridge_xlogdata), without the sink and the LSN tracker: Relation and
 * Type messages feed the relation cache; Insert, Update and Delete of a
 * known relation are encoded (an Update with an old tuple also as the
 * delete of the old row, as the bridge does when the key changed);
 * Truncate of known relations and Message are encoded. Every event is
 * encoded twice, with Debezium temporals and with ISO-8601 ones, and every
 * key and value must be a valid JSON object (json_check.h).
 *
 * A message that does not decode must leave an error text and the decoder
 * usable: the next message is decoded with the same decoder, as the
 * borrowed-array contract of pgoutput.h allows.
 *
 * Ownership: the pipeline owns its decoder, cache and encoders;
 * fz_pipeline_free() releases them. One pipeline per input (the targets
 * keep no state between inputs, so a crash input reproduces alone).
 */
#ifndef WW_FUZZ_PIPELINE_H
#define WW_FUZZ_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encode_json.h"
#include "pgoutput.h"
#include "relcache.h"

struct fz_pipeline {
    struct ww_pgo_decoder dec;
    struct ww_relcache *rels;
    struct ww_encoder enc[2]; /* [0] Debezium temporals, [1] ISO-8601 */
    /* The transaction being read (Begin .. Commit), as the bridge keeps it. */
    bool in_tx;
    uint32_t xid;
    int64_t commit_time_us; /* Unix epoch */
    uint64_t events;        /* events encoded (for the statistics) */
};

/* A decoder, an empty relation cache with the type map of fz_add_types(),
 * and the two encoders. */
void fz_pipeline_init(struct fz_pipeline *p);
void fz_pipeline_free(struct fz_pipeline *p);

/* One pgoutput message buf[0..len) at WAL position lsn. buf must be an
 * allocation of exactly len bytes, so that AddressSanitizer sees a read
 * past the message. Aborts on a broken contract or invalid output. */
void fz_pipeline_message(struct fz_pipeline *p, const char *buf, size_t len, uint64_t lsn);

/* Encode a row change with both encoders and check the results: 0 and
 * valid JSON when the tuples have rel->ncols columns, else -EBADMSG. */
void fz_encode_row(struct fz_pipeline *p, char op, const struct ww_relation *rel,
                   const struct ww_pgo_tuple *before, const struct ww_pgo_tuple *after,
                   const struct ww_event_source *src);

/* The types a catalog lookup would have told core of (ww_relcache_set_type):
 * an enum, domains (one over a builtin, one over an array type, one over
 * hstore, cycles), hstore and citext, arrays of those, an array of an
 * array. Their oids are FZ_TYPE_FIRST .. FZ_TYPE_LAST. */
#define FZ_TYPE_FIRST 16384u
#define FZ_TYPE_LAST  16397u
void fz_add_types(struct ww_relcache *rels);

/*
 * Input framing of the targets that take a sequence of messages: each
 * message is a big-endian uint16 length and that many bytes; a length
 * beyond the end takes what is left. Returns a malloc'd copy of exactly
 * the message's length (the caller frees it) and advances *data and *size, or
 * NULL when nothing is left.
 */
char *fz_next_message(const uint8_t **data, size_t *size, size_t *len);

#endif
