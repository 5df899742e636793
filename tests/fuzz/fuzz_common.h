/*
 * Helpers shared by the HTTP parser fuzz targets (tests/fuzz/): how an
 * input is split into the pieces the firmware would see, and a checked
 * abort that names the broken invariant.
 *
 * Input layout of the parser targets:
 *   byte 0        target-specific selector (limits, request method)
 *   byte 1        number of split points K (mod 32)
 *   bytes 2..K+1  piece lengths (a byte b gives a piece of b + 1 bytes;
 *                 the last piece takes whatever remains)
 *   the rest      the byte stream
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,     \
                    __LINE__, #cond);                                      \
            abort();                                                       \
        }                                                                  \
    } while (0)

#define FUZZ_MAX_PIECES 32

struct fuzz_split {
    uint8_t sel;                        /* byte 0 */
    unsigned npieces;                   /* fixed pieces before the rest */
    size_t piece[FUZZ_MAX_PIECES];
    const uint8_t *data;                /* the stream */
    size_t len;
};

/* Returns 0 if the input is too short to hold the header bytes. */
static inline int fuzz_split_parse(const uint8_t *in, size_t n,
                                   struct fuzz_split *s)
{
    unsigned k;

    if (n < 2) {
        return 0;
    }
    s->sel = in[0];
    k = in[1] % FUZZ_MAX_PIECES;
    if (n < 2 + (size_t)k) {
        return 0;
    }
    s->npieces = k;
    for (unsigned i = 0; i < k; i++) {
        s->piece[i] = (size_t)in[2 + i] + 1;
    }
    s->data = in + 2 + k;
    s->len = n - 2 - k;
    return 1;
}

/* Length of piece @i starting at @off (0 once the stream is used up). */
static inline size_t fuzz_piece_len(const struct fuzz_split *s, unsigned i,
                                    size_t off)
{
    size_t left = s->len - off;
    size_t want = i < s->npieces ? s->piece[i] : left;

    return want < left ? want : left;
}

/* A copy of @p[0..@n) in a buffer of exactly @n bytes, so that ASan sees
 * any read past its end (malloc(0) is avoided). */
static inline uint8_t *fuzz_dup(const uint8_t *p, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);

    FUZZ_CHECK(b != NULL);
    for (size_t i = 0; i < n; i++) {
        b[i] = p[i];
    }
    return b;
}

#endif /* FUZZ_COMMON_H */
