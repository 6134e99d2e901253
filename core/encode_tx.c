/* Transaction metadata records (encode_json.h, [format] transactions). */
#include <string.h>

#include "encode_json.h"
#include "json.h"

static void put_key_and_head(struct ww_encoder *e, const char *status, const char *id,
                             int64_t commit_time_us)
{
    size_t id_len = strlen(id);
    ww_buf_reset(&e->key);
    ww_buf_puts(&e->key, "{\"id\":");
    ww_json_string(&e->key, id, id_len);
    ww_buf_putc(&e->key, '}');
    e->key_null = false;

    struct ww_buf *b = &e->value;
    ww_buf_reset(b);
    ww_buf_puts(b, "{\"status\":\"");
    ww_buf_append_str(b, status);
    ww_buf_puts(b, "\",\"id\":");
    ww_json_string(b, id, id_len);
    ww_buf_puts(b, ",\"ts_ms\":");
    /* Commit time in ms, rounded down like Instant.toEpochMilli(). */
    ww_buf_put_i64(b, commit_time_us / 1000 - (commit_time_us % 1000 < 0));
}

void ww_encode_tx_begin(struct ww_encoder *e, const char *id, int64_t commit_time_us)
{
    put_key_and_head(e, "BEGIN", id, commit_time_us);
    ww_buf_puts(&e->value, ",\"event_count\":null,\"data_collections\":null}");
}

void ww_encode_tx_end(struct ww_encoder *e, const char *id, int64_t commit_time_us,
                      uint64_t event_count, const struct ww_tx_collection *collections,
                      size_t ncollections)
{
    put_key_and_head(e, "END", id, commit_time_us);
    struct ww_buf *b = &e->value;
    ww_buf_puts(b, ",\"event_count\":");
    ww_buf_put_u64(b, event_count);
    ww_buf_puts(b, ",\"data_collections\":[");
    for (size_t i = 0; i < ncollections; i++) {
        ww_buf_append_str(b, i ? ",{\"data_collection\":\"" : "{\"data_collection\":\"");
        ww_json_escape(b, collections[i].schema, strlen(collections[i].schema));
        ww_buf_putc(b, '.');
        ww_json_escape(b, collections[i].table, strlen(collections[i].table));
        ww_buf_puts(b, "\",\"event_count\":");
        ww_buf_put_u64(b, collections[i].event_count);
        ww_buf_putc(b, '}');
    }
    ww_buf_puts(b, "]}");
}
