/*
 * libFuzzer target: pgoutput messages through the decoder, the relation
 * cache and the encoder (pipeline.h).
 *
 * Input: a sequence of messages, each a big-endian uint16 length and that
 * many bytes (pipeline.h, fz_next_message), decoded in order with one
 * decoder, so that a Relation message can precede the changes that use it.
 * The seeds (tests/fuzz/corpus/fuzz_pgoutput, from
 * tests/fixtures/pgoutput_v1.frames by make_seeds.py) hold real messages
 * in this framing.
 */
#include <stdint.h>
#include <stdlib.h>

#include "pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_pipeline p;
    fz_pipeline_init(&p);
    uint64_t lsn = 0x16B374D848;
    size_t len;
    char *msg;
    while ((msg = fz_next_message(&data, &size, &len))) {
        fz_pipeline_message(&p, msg, len, lsn);
        free(msg);
        lsn += len + 1;
    }
    fz_pipeline_free(&p);
    return 0;
}
