/*
 * libFuzzer target: what the security proxy parses (guest-fw/src/
 * sec_parse.c).  The input is a request path for pcfw_sec_norm_path(), and
 * the same bytes as base64 for pcfw_sec_base64().  Invariants besides the
 * sanitizers: the canonical path is no longer than the input plus one,
 * starts with '/', holds no empty, "." or ".." segment, no ';', ':' or
 * backslash and no upper-case letter, and is its own canonical form when it holds none of
 * "%?# " (normalizing twice changes nothing); base64 output stays within its
 * buffer and is 3/4 of the input.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sec_parse.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_secpath.c:%d: invariant broken: %s\n",   \
                    __LINE__, #cond);                                      \
            abort();                                                       \
        }                                                                  \
    } while (0)

static void check_canonical(const char *p, size_t n)
{
    CHECK(strlen(p) == n);
    CHECK(p[0] == '/');
    for (size_t i = 0; i < n; i++) {
        CHECK(!(p[i] >= 'A' && p[i] <= 'Z'));
        CHECK(p[i] != '\\' && p[i] != ';' && p[i] != ':');
        if (p[i] == '/' && i + 1 < n) {
            const char *s = p + i + 1;

            CHECK(s[0] != '/');
            CHECK(!(s[0] == '.' && (s[1] == '/' || s[1] == '\0')));
            CHECK(!(s[0] == '.' && s[1] == '.' &&
                    (s[2] == '/' || s[2] == '\0')));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
    char *out = malloc(n + 2), *again;
    uint8_t *raw = malloc(n / 4 * 3 + 1);
    size_t len;
    long got;
    bool bad;

    if (!out || !raw) {
        abort();
    }
    len = pcfw_sec_norm_path(in, n, out, &bad);
    if (!bad) {
        CHECK(len <= n + 1);
        check_canonical(out, len);
        /* What decoding made ('%', '?', '#', ' ') reads otherwise again. */
        if (!strpbrk(out, "%?# ")) {
            again = malloc(len + 2);
            if (!again) {
                abort();
            }
            CHECK(pcfw_sec_norm_path((const uint8_t *)out, len, again, &bad) ==
                  len);
            CHECK(!bad && memcmp(again, out, len + 1) == 0);
            free(again);
        }
    }
    got = pcfw_sec_base64(in, n, raw, n / 4 * 3);
    CHECK(got == -1 || (got <= (long)(n / 4 * 3) && got >= (long)(n / 4 * 3) - 2));
    free(out);
    free(raw);
    return 0;
}
