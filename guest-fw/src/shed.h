/*
 * proxycard firmware: giving up the slowest readers under memory pressure.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_SHED_H
#define PCFW_SHED_H

#include <stdint.h>

struct pcfw_client;

/*
 * A client makes progress when it acknowledges this many bytes of what the
 * card sends it, or all of it: `timeout shed` without progress makes it a
 * slow reader (the least rate is PCFW_SHED_UNIT per `timeout shed`).
 */
#define PCFW_SHED_UNIT          4096

/* Most clients reset in one pass: bounds the work of one pcfw_poll(). */
#define PCFW_SHED_PER_PASS      64

/* Once above mem-window, shed down to this many points below it (at most
 * half the watermark). */
#define PCFW_SHED_LOW_PCT       10

/* Passes run at most this often (ms). */
#define PCFW_SHED_PASS_MS       100

/* The client acknowledged @n more bytes (from its sent callback). */
void pcfw_shed_acked(struct pcfw_client *c, uint32_t n);
/* The card has nothing unacknowledged for the client: it is keeping up. */
void pcfw_shed_caught_up(struct pcfw_client *c);
/*
 * Once card memory is above `mem-window`, reset the clients that made no
 * progress for `timeout shed`, longest first, until memory is
 * PCFW_SHED_LOW_PCT points below it.  From pcfw_poll().
 */
void pcfw_shed_run(void);

#endif /* PCFW_SHED_H */
