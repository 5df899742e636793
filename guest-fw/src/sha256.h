/*
 * proxycard firmware: SHA-256 (FIPS 180-4), for the security proxy's
 * credential checks (security.c).  One call hashes a message given in up
 * to two pieces (a salt and a password), which is all the firmware needs.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_SHA256_H
#define PCFW_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define PCFW_SHA256_LEN 32

struct pcfw_sha256 {
    uint32_t h[8];
    uint64_t len;           /* bytes hashed so far */
    uint8_t block[64];
    size_t fill;            /* bytes in block */
};

void pcfw_sha256_init(struct pcfw_sha256 *ctx);
void pcfw_sha256_update(struct pcfw_sha256 *ctx, const void *data, size_t n);
void pcfw_sha256_final(struct pcfw_sha256 *ctx, uint8_t out[PCFW_SHA256_LEN]);

/* SHA-256 of @a[0, @alen) followed by @b[0, @blen) (@b may be NULL). */
void pcfw_sha256(const void *a, size_t alen, const void *b, size_t blen,
                 uint8_t out[PCFW_SHA256_LEN]);

#endif /* PCFW_SHA256_H */
