/*
 * proxycard firmware: what the security proxy parses (sec_parse.h).  Plain
 * C, no lwIP: unit-tested in fw-unit and fuzzed (tests/fuzz/fuzz_secpath.c).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "sec_parse.h"

/* See sec_parse.h; a reading that reaches more is the safe one. */
size_t pcfw_sec_norm_path(const uint8_t *path, size_t len, char *out,
                          bool *bad)
{
    size_t n = 0, i, w = 0;
    bool again = true, dir = true;

    *bad = false;
    /* Rooted: "*" (OPTIONS) and an empty path are read as under "/". */
    if (len == 0 || (path[0] != '/' && path[0] != '\\')) {
        out[n++] = '/';
    }
    for (i = 0; i < len && path[i] != '?'; i++) {
        if (path[i] <= 0x20 || path[i] == 0x7f || path[i] == '#') {
            *bad = true;        /* never in a request-target (RFC 9112 3.2) */
            return 0;
        }
        out[n++] = (char)path[i];
    }
    /*
     * The first round decodes as a server does (a broken escape is a 400);
     * later rounds decode what that made ("%2561": "%61", then "a"), and
     * leave a '%' that is no escape as it is ("50%25off": "50%off").
     */
    for (int round = 0; again && round < 4; round++) {
        w = 0;
        again = false;
        for (i = 0; i < n; i++) {
            uint8_t c = (uint8_t)out[i];
            int hi = i + 2 < n ? pcfw_sec_hexval((uint8_t)out[i + 1]) : -1;
            int lo = i + 2 < n ? pcfw_sec_hexval((uint8_t)out[i + 2]) : -1;

            if (c == '%' && (hi < 0 || lo < 0)) {
                if (round == 0) {
                    *bad = true;
                    return 0;
                }
            } else if (c == '%') {
                c = (uint8_t)(hi << 4 | lo);
                if (c < 0x20 || c == 0x7f) {    /* %00, %0d%0a ...: 400 */
                    *bad = true;
                    return 0;
                }
                again |= c == '%';
                i += 2;
            }
            out[w++] = (char)c;
        }
        n = w;
    }
    /*
     * Segments, separated by '/' or '\' (IIS).  Each is cut at ';' (path
     * parameters: Tomcat reads "/..;/" as "/../") and ':' (IIS streams),
     * loses trailing blanks, and trailing dots unless it is "." or ".."
     * (IIS: "admin." is "admin"); "", "." and ".." remove themselves (RFC
     * 3986 5.2.4, never above the root).  A path that ends in a separator
     * or in such a segment ends in '/' (RFC 3986: "/admin/." is "/admin/").
     * Each segment is written at or before where it was read.
     */
    w = 0;
    i = 0;
    while (i < n) {
        size_t start, seg;

        while (i < n && (out[i] == '/' || out[i] == '\\')) {
            i++;
            dir = true;
        }
        if (i == n) {
            break;
        }
        start = i;
        while (i < n && out[i] != '/' && out[i] != '\\') {
            i++;
        }
        for (seg = 0; start + seg < i && out[start + seg] != ';' &&
                      out[start + seg] != ':'; seg++) {
        }
        while (seg && out[start + seg - 1] == ' ') {
            seg--;
        }
        dir = true;
        if (seg == 1 && out[start] == '.') {
            continue;
        }
        if (seg == 2 && out[start] == '.' && out[start + 1] == '.') {
            while (w > 0 && out[w - 1] != '/') {
                w--;
            }
            if (w > 0) {
                w--;        /* and its '/' */
            }
            continue;
        }
        while (seg && (out[start + seg - 1] == '.' ||
                       out[start + seg - 1] == ' ')) {
            seg--;
        }
        if (seg == 0) {
            continue;
        }
        out[w++] = '/';
        for (size_t k = 0; k < seg; k++) {
            out[w++] = (char)pcfw_sec_lower((uint8_t)out[start + k]);
        }
        dir = false;
    }
    if (dir || w == 0) {
        out[w++] = '/';
    }
    out[w] = '\0';
    return w;
}

/* Strict RFC 4648 base64 (padding required); -1 if malformed. */
long pcfw_sec_base64(const uint8_t *in, size_t n, uint8_t *out,
                          size_t cap)
{
    size_t w = 0;

    if (n % 4) {
        return -1;
    }
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;

        for (int k = 0; k < 4; k++) {
            uint8_t c = in[i + (size_t)k];
            int d = c >= 'A' && c <= 'Z' ? c - 'A'
                  : c >= 'a' && c <= 'z' ? c - 'a' + 26
                  : c >= '0' && c <= '9' ? c - '0' + 52
                  : c == '+' ? 62 : c == '/' ? 63 : -1;

            if (c == '=' && i + 4 == n && k >= 2) {
                pad++;
                d = 0;
            } else if (d < 0 || pad) {
                return -1;
            }
            v = v << 6 | (uint32_t)d;
        }
        if (w + 3 - (size_t)pad > cap) {
            return -1;
        }
        out[w++] = (uint8_t)(v >> 16);
        if (pad < 2) {
            out[w++] = (uint8_t)(v >> 8);
        }
        if (pad < 1) {
            out[w++] = (uint8_t)v;
        }
    }
    return (long)w;
}

