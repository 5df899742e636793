/*
 * libFuzzer target: the chunked decoder of guest-fw/src/http_parse.c fed
 * the stream in one piece, in the fuzzer's pieces and byte by byte; the
 * three must agree (outcome, offset, data bytes).  Byte 0 picks the body
 * limit.  Input layout: fuzz_common.h.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz_chunk.h"

static const uint64_t body_limits[4] = { UINT64_MAX, 1u << 20, 16, 0 };

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
    return 0;
}
