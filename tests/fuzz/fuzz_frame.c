/*
 * libFuzzer target: the CopyData messages of the replication stream
 * (ww_stream_parse_frame, core/stream.c: XLogData 'w' and primary
 * keepalive 'k'), and the XLogData payloads through the pgoutput pipeline
 * (pipeline.h).
 *
 * Input: a sequence of CopyData messages, each a big-endian uint16 length
 * and that many bytes (fz_next_message), as PQgetCopyData hands them over
 * one at a time. Checked: a frame either parses into fields that lie inside
 * the message (payload = the bytes after the 25-byte header; a keepalive
 * is exactly 18 bytes) or fails with -EBADMSG and an error text.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz: frame check failed: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_pipeline p;
    fz_pipeline_init(&p);
    size_t len;
    char *msg;
    while ((msg = fz_next_message(&data, &size, &len))) {
        struct ww_stream_frame f;
        char err[128];
        err[0] = '\0';
        int rc = ww_stream_parse_frame(msg, len, &f, err, sizeof err);
        if (rc < 0) {
            check(rc == -EBADMSG, "an error other than -EBADMSG");
            check(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL, "no error text");
        } else if (f.kind == 'w') {
            check(len >= 25 && msg[0] == 'w', "XLogData shorter than its header");
            check(f.payload == msg + 25 && f.payload_len == len - 25, "payload bounds");
            /* The payload in an allocation of its own size, so that a read
             * past it is caught. */
            char *payload = malloc(f.payload_len ? f.payload_len : 1);
            if (!payload)
                abort();
            if (f.payload_len)
                memcpy(payload, f.payload, f.payload_len);
            fz_pipeline_message(&p, payload, f.payload_len, f.data_start);
            free(payload);
        } else {
            check(f.kind == 'k' && len == 18 && msg[0] == 'k', "keepalive shape");
            check(f.payload == NULL && f.payload_len == 0, "keepalive with a payload");
            check(f.reply_requested == (msg[17] != 0), "reply_requested");
        }
        free(msg);
    }
    fz_pipeline_free(&p);
    return 0;
}
