/*
 * proxycard firmware: the token buckets of the security proxy's rate
 * limits (security.c), apart so that fw-unit can drive them with its own
 * clock.  A bucket counts thousandths of a token; @rate (pcfw.h) refills it
 * at milli_per_s thousandths a second up to burst tokens.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_BUCKET_H
#define PCFW_BUCKET_H

#include <stdbool.h>
#include <stdint.h>
#include "pcfw.h"

/*
 * Refill a bucket of @rate for the time since *@since_ms, up to its burst.
 * Only the time that made whole thousandths is used up: the rest stays for
 * the next refill (a `1/m` bucket gains 17 thousandths a second, none in
 * most single milliseconds; counting from now each time, it never filled).
 */
static inline void pcfw_bucket_refill(uint32_t *tokens, uint32_t *since_ms,
                                      uint32_t now,
                                      const struct pcfw_rate_limit *rate)
{
    uint64_t cap = (uint64_t)rate->burst * 1000;
    uint64_t added = (uint64_t)(now - *since_ms) * rate->milli_per_s / 1000;

    if (*tokens + added >= cap) {
        *tokens = (uint32_t)cap;
        *since_ms = now;            /* full: nothing owed */
        return;
    }
    *tokens += (uint32_t)added;
    *since_ms += (uint32_t)(added * 1000 / rate->milli_per_s);
}

/* Take one token; false (and the seconds until one is back) if none. */
static inline bool pcfw_bucket_take(uint32_t *tokens, uint32_t *since_ms,
                                    uint32_t now,
                                    const struct pcfw_rate_limit *rate,
                                    uint32_t *retry_s)
{
    pcfw_bucket_refill(tokens, since_ms, now, rate);
    if (*tokens >= 1000) {
        *tokens -= 1000;
        return true;
    }
    if (retry_s) {
        uint64_t ms = ((uint64_t)(1000 - *tokens) * 1000 + rate->milli_per_s -
                       1) / rate->milli_per_s;

        *retry_s = (uint32_t)((ms + 999) / 1000);
    }
    return false;
}

#endif /* PCFW_BUCKET_H */
