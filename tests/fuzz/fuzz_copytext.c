/*
 * libFuzzer target: one row of COPY ... TO STDOUT text (ww_copy_parse_row,
 * core/copytext.c), as the snapshot reads it, then the row encoded as a
 * snapshot read ('r') against a synthetic relation whose columns have a mix
 * of types (pipeline.h checks the JSON).
 *
 * Input: byte 0 picks the column count (0..64), byte 1 where in the type
 * list the columns start, byte 2 bit 0 whether the row is the last of the
 * snapshot; the rest is the line (with or without its newline).
 *
 * Checked besides the JSON: a row parses exactly when it has ncols - 1 raw
 * tabs (a tab inside a value is written \t, so every raw tab separates
 * fields); every value is text or NULL and points into the line or into
 * the scratch buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copytext.h"
#include "encode_types.h"
#include "pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_COLS 64

/* Column types: every builtin the encoder converts, typmods that change
 * the output, arrays, and the custom types of fz_add_types(). */
static const struct {
    uint32_t oid;
    int32_t typmod;
} col_types[] = {
    /* clang-format off */
    {WW_OID_INT4, -1},  {WW_OID_TEXT, -1},        {WW_OID_INT8, -1},
    {WW_OID_BOOL, -1},  {WW_OID_NUMERIC, -1},     {WW_OID_FLOAT8, -1},
    {WW_OID_FLOAT4, -1}, {WW_OID_INT2, -1},       {WW_OID_OID, -1},
    {WW_OID_BYTEA, -1}, {WW_OID_DATE, -1},        {WW_OID_TIME, -1},
    {WW_OID_TIME, 3},   {WW_OID_TIMETZ, -1},      {WW_OID_TIMESTAMP, -1},
    {WW_OID_TIMESTAMP, 3}, {WW_OID_TIMESTAMPTZ, -1}, {WW_OID_TIMESTAMPTZ, 0},
    {WW_OID_INTERVAL, -1}, {WW_OID_MONEY, -1},    {WW_OID_BIT, 1},
    {WW_OID_BIT, 8},    {WW_OID_VARBIT, -1},      {WW_OID_POINT, -1},
    {WW_OID_BOX, -1},   {WW_OID_UUID, -1},        {WW_OID_JSON, -1},
    {WW_OID_JSONB, -1}, {WW_OID_XML, -1},         {WW_OID_BPCHAR, 5},
    {WW_OID_VARCHAR, -1}, {WW_OID_CHAR, -1},      {WW_OID_NAME, -1},
    {1000, -1} /* bool[] */, {1007, -1} /* int4[] */, {1009, -1} /* text[] */,
    {1016, -1} /* int8[] */, {1021, -1} /* float4[] */, {1022, -1} /* float8[] */,
    {1020, -1} /* box[] */, {1017, -1} /* point[] */, {1115, 3} /* timestamp(3)[] */,
    {1182, -1} /* date[] */, {1183, -1} /* time[] */, {1185, -1} /* timestamptz[] */,
    {1187, -1} /* interval[] */, {1231, -1} /* numeric[] */, {1270, -1} /* timetz[] */,
    {1561, 1} /* bit(1)[] */, {1563, -1} /* varbit[] */, {199, -1} /* json[] */,
    {2951, -1} /* uuid[] */, {3807, -1} /* jsonb[] */, {791, -1} /* money[] */,
    {1001, -1} /* bytea[] */, {3905, -1} /* int4range[] */, {869, -1} /* inet */,
    {3904, -1} /* int4range */, {FZ_TYPE_FIRST, -1}, {FZ_TYPE_FIRST + 1, -1},
    {FZ_TYPE_FIRST + 2, -1}, {FZ_TYPE_FIRST + 3, -1}, {FZ_TYPE_FIRST + 4, -1},
    {FZ_TYPE_FIRST + 5, -1}, {FZ_TYPE_FIRST + 6, -1}, {FZ_TYPE_FIRST + 7, -1},
    {FZ_TYPE_FIRST + 8, -1}, {FZ_TYPE_FIRST + 9, -1}, {FZ_TYPE_FIRST + 11, -1},
    {FZ_TYPE_FIRST + 12, -1}, {FZ_TYPE_FIRST + 13, -1}, {99999, -1} /* unknown */,
    /* clang-format on */
};
#define NTYPES (sizeof col_types / sizeof col_types[0])

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz: copytext check failed: %s\n", what);
        abort();
    }
}

/* The relation the row is encoded against: columns c0, c1, ... (one name
 * with characters that need escaping), types from col_types starting at
 * first, every third column part of the key. */
static void add_relation(struct fz_pipeline *p, uint16_t ncols, size_t first)
{
    static char names[MAX_COLS][16];
    struct ww_pgo_column cols[MAX_COLS];
    for (uint16_t i = 0; i < ncols; i++) {
        if (i == 1)
            snprintf(names[i], sizeof names[i], "c\"1\\\x01\xff");
        else
            snprintf(names[i], sizeof names[i], "c%u", i);
        cols[i] = (struct ww_pgo_column){
            .is_identity = i % 3 == 0,
            .name = names[i],
            .type_oid = col_types[(first + i) % NTYPES].oid,
            .typmod = col_types[(first + i) % NTYPES].typmod,
        };
    }
    struct ww_pgo_msg m = {.kind = WW_PGO_RELATION};
    m.relation.relid = 4242;
    m.relation.nspname = "";
    m.relation.relname = "copy\ttable";
    m.relation.replident = WW_REPLIDENT_DEFAULT;
    m.relation.ncols = ncols;
    m.relation.cols = cols;
    ww_relcache_update(p->rels, &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint16_t ncols = data[0] % (MAX_COLS + 1);
    size_t first = data[1];
    bool last = data[2] & 1;
    data += 3;
    size -= 3;

    /* The line in an allocation of its own size: a read past it is caught. */
    char *line = malloc(size ? size : 1);
    if (!line)
        abort();
    memcpy(line, data, size);

    struct ww_pgo_value values[MAX_COLS];
    struct ww_buf scratch = {0};
    int rc = ww_copy_parse_row(line, size, ncols, values, &scratch);

    size_t body = size && line[size - 1] == '\n' ? size - 1 : size, tabs = 0;
    for (size_t i = 0; i < body; i++)
        tabs += line[i] == '\t';
    bool fits = ncols == 0 ? body == 0 : tabs + 1 == ncols;
    check(rc == 0 || rc == -EBADMSG, "an error other than -EBADMSG");
    check((rc == 0) == fits, "parsed a row whose raw tabs do not match the column count");

    if (rc == 0) {
        for (uint16_t i = 0; i < ncols; i++) {
            const struct ww_pgo_value *v = &values[i];
            if (v->kind == WW_PGO_NULL) {
                check(v->data == NULL && v->len == 0, "NULL with data");
                continue;
            }
            check(v->kind == WW_PGO_TEXT, "a value that is neither text nor NULL");
            bool in_line = v->data >= line && v->data + v->len <= line + body;
            bool in_scratch = scratch.data && v->data >= scratch.data &&
                              v->data + v->len <= scratch.data + scratch.len;
            check(in_line || in_scratch, "a value outside the line and the scratch buffer");
            check(v->len <= body, "a value longer than the line");
        }
        struct fz_pipeline p;
        fz_pipeline_init(&p);
        add_relation(&p, ncols, first);
        const struct ww_relation *rel = ww_relcache_get(p.rels, 4242);
        struct ww_pgo_tuple row = {.ncols = ncols, .values = values};
        struct ww_event_source src = {
            .lsn = 0x1000,
            .commit_time_us = 1700000000000000,
            .snapshot = last ? "last" : "true",
            .now_ms = 1700000000123,
        };
        fz_encode_row(&p, 'r', rel, NULL, &row, &src);
        fz_pipeline_free(&p);
    }
    ww_buf_free(&scratch);
    free(line);
    return 0;
}
