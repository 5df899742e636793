/*
 * proxycard firmware: the security proxy's parsers (security.c): the path
 * a prefix rule compares, and Basic credentials.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_SEC_PARSE_H
#define PCFW_SEC_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A hex digit's value, or -1. */
static inline int pcfw_sec_hexval(uint8_t c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static inline uint8_t pcfw_sec_lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/*
 * The request path @path[0, @len) as any server might read it, for prefix
 * rules, which only ever refuse, so that the reading that reaches the most
 * is the safe one (docs/security.md, "The canonical path"): up to '?';
 * %XX decoded, again while that made a new escape (4 rounds at most); a
 * backslash read as '/'; each segment cut at ';' and ':' and without
 * trailing blanks and dots; empty, "." and ".." segments removed (RFC 3986
 * 5.2.4, never above the root); a final '/' kept, or added after a final
 * dot segment; ASCII lower case; always rooted (an asterisk-form target
 * reads as a slash and an asterisk).  @out holds @len + 2 bytes.
 * *@bad: a blank, control byte or '#', a broken escape, or an escaped
 * control byte such as %00 or %0d (the request gets 400).  Returns the
 * length of the NUL-terminated result.
 */
size_t pcfw_sec_norm_path(const uint8_t *path, size_t len, char *out,
                          bool *bad);

/* Strict RFC 4648 base64 (padding required) into @out; -1 if malformed or
 * longer than @cap. */
long pcfw_sec_base64(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

#endif /* PCFW_SEC_PARSE_H */
