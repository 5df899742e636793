/*
 * The head scanner driven three ways over one stream: in one piece, in the
 * fuzzer's pieces, one byte at a time.  All three must agree.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef FUZZ_SCAN_H
#define FUZZ_SCAN_H

#include "fuzz_common.h"
#include "http_parse.h"

enum { SCAN_ONE, SCAN_PIECES, SCAN_BYTES };

/* > 0: the head's length; 0: not ended within the stream; < 0: error. */
static long fuzz_scan(const struct fuzz_split *s, int how, size_t max_head)
{
    struct pcfw_http_head_scan sc;
    size_t off = 0;
    unsigned i = 0;

    pcfw_http_head_scan_init(&sc);
    FUZZ_CHECK(!pcfw_http_head_scan_done(&sc));
    while (off < s->len) {
        size_t n = how == SCAN_ONE ? s->len - off
                   : how == SCAN_BYTES ? 1 : fuzz_piece_len(s, i++, off);
        /* Each piece in its own exact-size buffer: no read past it. */
        uint8_t *piece = fuzz_dup(s->data + off, n);
        long r = pcfw_http_head_scan_feed(&sc, piece, n, max_head);

        free(piece);
        if (r < 0) {
            FUZZ_CHECK(r == PCFW_HTTP_E_BAD || r == PCFW_HTTP_E_HEAD_TOO_LARGE ||
                       r == PCFW_HTTP_E_URI_TOO_LONG);
            FUZZ_CHECK(!pcfw_http_head_scan_done(&sc));
            /* Sticky. */
            FUZZ_CHECK(pcfw_http_head_scan_feed(&sc, s->data, s->len, max_head) == r);
            FUZZ_CHECK(sc.total <= max_head);
            return r;
        }
        if (r > 0) {
            FUZZ_CHECK((size_t)r <= n);
            FUZZ_CHECK(pcfw_http_head_scan_done(&sc));
            FUZZ_CHECK(sc.total == off + (size_t)r);
            FUZZ_CHECK(sc.total <= max_head);
            /* Feeding a finished scanner is a caller bug: E_BAD. */
            FUZZ_CHECK(pcfw_http_head_scan_feed(&sc, s->data, s->len,
                                                max_head) == PCFW_HTTP_E_BAD);
            return (long)sc.total;
        }
        FUZZ_CHECK(!pcfw_http_head_scan_done(&sc));
        off += n;
        FUZZ_CHECK(sc.total == off);
    }
    return 0;
}

/* The scan, checked to agree three ways; returns the one-piece result. */
static long fuzz_scan_all(const struct fuzz_split *s, size_t max_head)
{
    long one = fuzz_scan(s, SCAN_ONE, max_head);
    long pieces = fuzz_scan(s, SCAN_PIECES, max_head);

    FUZZ_CHECK(one == pieces);
    if (s->len <= 4096) {       /* byte-wise costs a call per byte */
        FUZZ_CHECK(fuzz_scan(s, SCAN_BYTES, max_head) == one);
    }
    return one;
}

/* Every field line of a parsed head: in bounds, a token name, a trimmed
 * value without CR, LF or NUL. */
static void fuzz_check_fields(const uint8_t *head, size_t len,
                              const struct pcfw_http_field *f, unsigned n)
{
    FUZZ_CHECK(n <= PCFW_HTTP_MAX_RESP_FIELDS);
    for (unsigned i = 0; i < n; i++) {
        FUZZ_CHECK(f[i].name_len > 0);
        FUZZ_CHECK((size_t)f[i].name_off + f[i].name_len <= len);
        FUZZ_CHECK((size_t)f[i].value_off + f[i].value_len <= len);
        FUZZ_CHECK(f[i].value_off >= f[i].name_off + f[i].name_len);
        for (unsigned j = 0; j < f[i].name_len; j++) {
            uint8_t c = head[f[i].name_off + j];
            FUZZ_CHECK(c > ' ' && c < 0x7f && c != ':');
        }
        for (unsigned j = 0; j < f[i].value_len; j++) {
            uint8_t c = head[f[i].value_off + j];
            FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
        }
        if (f[i].value_len) {
            uint8_t a = head[f[i].value_off];
            uint8_t z = head[f[i].value_off + f[i].value_len - 1];
            FUZZ_CHECK(a != ' ' && a != '\t' && z != ' ' && z != '\t');
        }
        /* find_field finds this name at i or earlier. */
        char lower[64];
        if (f[i].name_len < sizeof(lower)) {
            for (unsigned j = 0; j < f[i].name_len; j++) {
                uint8_t c = head[f[i].name_off + j];
                lower[j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            lower[f[i].name_len] = '\0';
            FUZZ_CHECK(pcfw_http_field_is(head, &f[i], lower));
            int k = pcfw_http_find_field(head, f, n, lower);
            FUZZ_CHECK(k >= 0 && (unsigned)k <= i);
        }
    }
}

/* Persistence as both parsers decide it: HTTP/1.0 only with keep-alive,
 * never with close. */
static void fuzz_check_persistence(unsigned minor, bool keep_alive,
                                   bool conn_keepalive, bool conn_close)
{
    if (minor == 0) {
        FUZZ_CHECK(!keep_alive || conn_keepalive);
    }
    if (conn_close) {
        FUZZ_CHECK(!keep_alive);
    }
}

#endif /* FUZZ_SCAN_H */
