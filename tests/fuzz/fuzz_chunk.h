/*
 * The chunked decoder driven three ways over one stream (one piece, the
 * fuzzer's pieces, byte by byte); all three must agree on the outcome, the
 * offset where it happened and the data bytes counted.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef FUZZ_CHUNK_H
#define FUZZ_CHUNK_H

#include "fuzz_common.h"
#include "http_parse.h"

struct chunk_result {
    int ret;            /* 0 need more, 1 done, < 0 error */
    size_t at;          /* stream offset of the end or of the bad byte */
    uint64_t body;      /* data bytes counted */
};

static struct chunk_result fuzz_chunk(const uint8_t *data, size_t len,
                                      const struct fuzz_split *s, int how,
                                      uint64_t max_body)
{
    struct pcfw_http_chunked c;
    struct chunk_result res = { 0, 0, 0 };
    size_t off = 0;
    unsigned i = 0;

    pcfw_http_chunked_init(&c);
    FUZZ_CHECK(!pcfw_http_chunked_done(&c));
    while (off < len) {
        size_t n = how == 0 ? len - off : how == 2 ? 1 : len - off;
        size_t used = (size_t)-1;

        if (how == 1) {
            size_t want = i < s->npieces ? s->piece[i] : len - off;
            i++;
            n = want < len - off ? want : len - off;
        }
        uint8_t *piece = fuzz_dup(data + off, n);
        int r = pcfw_http_chunked_feed(&c, piece, n, &used, max_body);
        free(piece);

        FUZZ_CHECK(used <= n);
        FUZZ_CHECK(c.body_bytes <= max_body);
        if (r < 0) {
            FUZZ_CHECK(r == PCFW_HTTP_E_BAD || r == PCFW_HTTP_E_BODY_TOO_LARGE ||
                       r == PCFW_HTTP_E_HEAD_TOO_LARGE);
            FUZZ_CHECK(!pcfw_http_chunked_done(&c));
            /* Sticky, consumes nothing. */
            size_t u2 = 99;
            FUZZ_CHECK(pcfw_http_chunked_feed(&c, data, len, &u2, max_body) == r);
            FUZZ_CHECK(u2 == 0);
            res.ret = r;
            res.at = off + used;
            res.body = c.body_bytes;
            return res;
        }
        if (r == 1) {
            FUZZ_CHECK(pcfw_http_chunked_done(&c));
            size_t u2 = 99;
            FUZZ_CHECK(pcfw_http_chunked_feed(&c, data, len, &u2, max_body) == 1);
            FUZZ_CHECK(u2 == 0);
            res.ret = 1;
            res.at = off + used;
            res.body = c.body_bytes;
            return res;
        }
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(used == n);
        FUZZ_CHECK(!pcfw_http_chunked_done(&c));
        off += n;
    }
    res.ret = 0;
    res.at = len;
    res.body = c.body_bytes;
    return res;
}

static struct chunk_result fuzz_chunk_all(const uint8_t *data, size_t len,
                                          const struct fuzz_split *s,
                                          uint64_t max_body)
{
    struct chunk_result a = fuzz_chunk(data, len, s, 0, max_body);
    struct chunk_result b = fuzz_chunk(data, len, s, 1, max_body);

    FUZZ_CHECK(a.ret == b.ret && a.at == b.at && a.body == b.body);
    if (len <= 4096) {
        struct chunk_result c = fuzz_chunk(data, len, s, 2, max_body);
        FUZZ_CHECK(a.ret == c.ret && a.at == c.at && a.body == c.body);
    }
    return a;
}

#endif /* FUZZ_CHUNK_H */
