/*
 * libFuzzer target: the chunked decoder of guest-fw/src/http_parse.c fed
 * the stream in one piece, in the fuzzer's pieces and byte by byte; the
 * three must agree (outcome, offset, data bytes).  Then the de-chunking
 * entry point (pcfw_http_chunked_feed_data, what the HTTP proxy uses to
 * write a body with its own framing) in one piece and in the fuzzer's
 * pieces: same outcome and offset, the same data bytes in both, as many as
 * the decoder counted.  Byte 0 picks the body limit.  Input layout:
 * fuzz_common.h.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>
#include "fuzz_chunk.h"

static const uint64_t body_limits[4] = { UINT64_MAX, 1u << 20, 16, 0 };

/*
 * De-chunk @data (@len bytes) into @out (at least @len bytes) in pieces of
 * @s (or whole if @whole); return the decoder's outcome as fuzz_chunk().
 */
static struct chunk_result dechunk(const uint8_t *data, size_t len,
                                   const struct fuzz_split *s, bool whole,
                                   uint64_t max_body, uint8_t *out,
                                   size_t *out_len)
{
    struct pcfw_http_chunked c;
    struct chunk_result res = { 0, 0, 0 };
    size_t off = 0, piece_end = 0;
    unsigned i = 0;

    pcfw_http_chunked_init(&c);
    *out_len = 0;
    while (off < len) {
        if (off >= piece_end) {
            size_t want = whole || i >= s->npieces ? len - off : s->piece[i];
            i++;
            piece_end = off + (want < len - off ? want : len - off);
            if (piece_end == off) {
                continue;
            }
        }
        size_t n = piece_end - off, used = (size_t)-1, got = (size_t)-1;
        uint8_t *piece = fuzz_dup(data + off, n);
        int r = pcfw_http_chunked_feed_data(&c, piece, n, &used, &got,
                                            max_body);

        FUZZ_CHECK(used <= n && got <= used);
        memcpy(out + *out_len, piece + used - got, got);
        free(piece);
        *out_len += got;
        FUZZ_CHECK(*out_len == c.body_bytes);
        if (r != 0) {
            FUZZ_CHECK(r == 1 || got == 0);
            res.ret = r;
            res.at = off + used;
            res.body = c.body_bytes;
            return res;
        }
        /* Need more: it stops early only after a run of data. */
        FUZZ_CHECK(used == n || got > 0);
        off += used;
    }
    res.at = len;
    res.body = c.body_bytes;
    return res;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
    struct fuzz_split s;

    if (!fuzz_split_parse(in, n, &s)) {
        return 0;
    }
    struct chunk_result r = fuzz_chunk_all(s.data, s.len, &s, body_limits[s.sel & 3]);
    if (r.ret == 1) {
        /* A body that ended has at least "0\r\n\r\n". */
        FUZZ_CHECK(r.at >= 5);
    }

    uint8_t *whole = malloc(s.len + 1), *split = malloc(s.len + 1);
    size_t whole_len, split_len;
    struct chunk_result a = dechunk(s.data, s.len, &s, true,
                                    body_limits[s.sel & 3], whole, &whole_len);
    struct chunk_result b = dechunk(s.data, s.len, &s, false,
                                    body_limits[s.sel & 3], split, &split_len);

    FUZZ_CHECK(a.ret == r.ret && a.at == r.at && a.body == r.body);
    FUZZ_CHECK(b.ret == r.ret && b.at == r.at && b.body == r.body);
    FUZZ_CHECK(whole_len == split_len && memcmp(whole, split, whole_len) == 0);
    free(whole);
    free(split);
    return 0;
}
