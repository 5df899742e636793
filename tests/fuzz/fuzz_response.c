/*
 * libFuzzer target: the response side of guest-fw/src/http_parse.c: the
 * head scanner fed in pieces, the response parser on the delimited head
 * for the request method byte 0 picks, and the framing rules of
 * http_parse.h checked on every parsed head; then a chunked body.
 * Input layout: fuzz_common.h.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>
#include "fuzz_scan.h"
#include "fuzz_chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
    struct fuzz_split s;
    struct pcfw_http_response resp, resp2;

    if (!fuzz_split_parse(in, n, &s)) {
        return 0;
    }
    int method = s.sel % (PCFW_HTTP_M_TRACE + 1);
    size_t max_head = (s.sel & 0x80) ? 1024 : PCFW_HTTP_HEAD_MAX;
    long hl = fuzz_scan_all(&s, max_head);
    if (hl <= 0) {
        return 0;
    }

    uint8_t *head = fuzz_dup(s.data, (size_t)hl);
    int err = pcfw_http_parse_response(head, (size_t)hl, method, &resp);
    FUZZ_CHECK(pcfw_http_parse_response(head, (size_t)hl, method, &resp2) == err);
    if (err < 0) {
        FUZZ_CHECK(err == PCFW_HTTP_E_BAD || err == PCFW_HTTP_E_HEAD_TOO_LARGE ||
                   err == PCFW_HTTP_E_NOT_IMPLEMENTED || err == PCFW_HTTP_E_VERSION);
        free(head);
        return 0;
    }
    FUZZ_CHECK(err == 0);
    FUZZ_CHECK(memcmp(&resp, &resp2, offsetof(struct pcfw_http_response, fields)) == 0);
    FUZZ_CHECK(resp.status >= 100 && resp.status <= 999);
    FUZZ_CHECK(resp.version_major == 1 && resp.version_minor <= 1);
    FUZZ_CHECK((size_t)resp.reason_off + resp.reason_len <= (size_t)hl);
    fuzz_check_fields(head, (size_t)hl, resp.fields, resp.nfields);

    /* The framing table of pcfw_http_parse_response(), in its order. */
    bool tunnel = resp.status == 101 ||
                  (method == PCFW_HTTP_M_CONNECT && resp.status / 100 == 2);
    FUZZ_CHECK(resp.tunnel == tunnel);
    FUZZ_CHECK(resp.interim == (resp.status / 100 == 1 && resp.status != 101));
    if (tunnel) {
        FUZZ_CHECK(resp.framing == PCFW_HTTP_BODY_CLOSE && !resp.keep_alive);
    } else if (method == PCFW_HTTP_M_HEAD || resp.status / 100 == 1 ||
               resp.status == 204 || resp.status == 304) {
        FUZZ_CHECK(resp.framing == PCFW_HTTP_BODY_NONE);
    } else if (resp.chunked) {
        FUZZ_CHECK(resp.framing == PCFW_HTTP_BODY_CHUNKED);
    } else if (pcfw_http_find_field(head, resp.fields, resp.nfields,
                                    "transfer-encoding") >= 0) {
        FUZZ_CHECK(resp.framing == PCFW_HTTP_BODY_CLOSE);
    } else if (resp.content_length >= 0) {
        FUZZ_CHECK(resp.framing == PCFW_HTTP_BODY_LENGTH);
    } else {
        FUZZ_CHECK(resp.framing == PCFW_HTTP_BODY_CLOSE);
    }
    if (resp.framing == PCFW_HTTP_BODY_CLOSE) {
        FUZZ_CHECK(!resp.keep_alive);
    }
    /* CL with TE, and TE in 1.0, never pass. */
    bool has_te = pcfw_http_find_field(head, resp.fields, resp.nfields,
                                       "transfer-encoding") >= 0;
    FUZZ_CHECK(!(has_te && resp.content_length >= 0));
    FUZZ_CHECK(!(has_te && resp.version_minor == 0));
    fuzz_check_persistence(resp.version_minor, resp.keep_alive, resp.conn_keepalive,
                           resp.conn_close);
    free(head);

    if (resp.framing == PCFW_HTTP_BODY_CHUNKED) {
        fuzz_chunk_all(s.data + hl, s.len - (size_t)hl, &s, UINT64_MAX);
    }
    return 0;
}
