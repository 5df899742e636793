/*
 * libFuzzer target: the request side of guest-fw/src/http_parse.c, as the
 * HTTP proxy drives it: the head scanner fed in pieces, the request parser
 * on the delimited head, then a chunked body if the head says so.
 * Input layout: fuzz_common.h; byte 0 picks the head and body limits.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>
#include "fuzz_scan.h"
#include "fuzz_chunk.h"

static const size_t head_limits[4] = { 16384, 256, PCFW_HTTP_HEAD_MAX, 70000 };
static const uint64_t body_limits[4] = { 1u << 20, 16, UINT64_MAX, 0 };

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
    struct fuzz_split s;
    struct pcfw_http_request req, req2;

    if (!fuzz_split_parse(in, n, &s)) {
        return 0;
    }
    size_t max_head = head_limits[s.sel & 3];
    uint64_t max_body = body_limits[(s.sel >> 2) & 3];
    long hl = fuzz_scan_all(&s, max_head);
    if (hl <= 0) {
        return 0;
    }

    uint8_t *head = fuzz_dup(s.data, (size_t)hl);
    int err = pcfw_http_parse_request(head, (size_t)hl, &req);
    /* Deterministic. */
    FUZZ_CHECK(pcfw_http_parse_request(head, (size_t)hl, &req2) == err);
    if (err < 0) {
        FUZZ_CHECK(err == PCFW_HTTP_E_BAD || err == PCFW_HTTP_E_HEAD_TOO_LARGE ||
                   err == PCFW_HTTP_E_NOT_IMPLEMENTED || err == PCFW_HTTP_E_VERSION ||
                   err == PCFW_HTTP_E_EXPECTATION);
        FUZZ_CHECK(pcfw_http_error_status(err) >= 400);
        free(head);
        return 0;
    }
    FUZZ_CHECK(err == 0);
    FUZZ_CHECK(memcmp(&req, &req2, offsetof(struct pcfw_http_request, fields)) == 0);
    FUZZ_CHECK(req.version_major == 1 && req.version_minor <= 1);
    FUZZ_CHECK(req.method_len > 0 && (size_t)req.method_off + req.method_len <= (size_t)hl);
    FUZZ_CHECK(req.target_len > 0 && (size_t)req.target_off + req.target_len <= (size_t)hl);
    FUZZ_CHECK(req.target_off > req.method_off);
    for (unsigned i = 0; i < req.target_len; i++) {
        uint8_t c = head[req.target_off + i];
        FUZZ_CHECK(c > ' ' && c != 0x7f);
    }
    fuzz_check_fields(head, (size_t)hl, req.fields, req.nfields);
    /* One framing, told consistently. */
    switch (req.framing) {
    case PCFW_HTTP_BODY_NONE:
        FUZZ_CHECK(!req.chunked && req.content_length < 0);
        break;
    case PCFW_HTTP_BODY_LENGTH:
        FUZZ_CHECK(!req.chunked && req.content_length >= 0);
        break;
    case PCFW_HTTP_BODY_CHUNKED:
        FUZZ_CHECK(req.chunked && req.content_length < 0);
        FUZZ_CHECK(req.version_minor == 1);
        break;
    default:
        FUZZ_CHECK(!"request framing must be NONE, LENGTH or CHUNKED");
    }
    FUZZ_CHECK(pcfw_http_find_field(head, req.fields, req.nfields, "content-length") < 0 ||
               req.content_length >= 0);
    FUZZ_CHECK(!(req.version_minor == 1 && !req.has_host));
    fuzz_check_persistence(req.version_minor, req.keep_alive, req.conn_keepalive,
                           req.conn_close);
    free(head);

    if (req.framing == PCFW_HTTP_BODY_CHUNKED) {
        fuzz_chunk_all(s.data + hl, s.len - (size_t)hl, &s, max_body);
    }
    return 0;
}
