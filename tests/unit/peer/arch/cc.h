/*
 * lwIP architecture glue for the unit tests' peer stack (x86_64 Linux).
 *
 * Diagnostics go to stderr, an assertion aborts (the peer is test
 * machinery: a failed assertion there is a harness bug, and Check reports
 * the test's signal), and LWIP_RAND() is peer_rand(), a fixed-seed
 * generator in peer.c, so that every run of a test is the same run.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PEER_ARCH_CC_H
#define PEER_ARCH_CC_H

#ifdef PROXYCARD_ARCH_CC_H
#error "the peer lwIP must not see guest-fw/port/arch/cc.h"
#endif
#ifdef PROXYCARD_LWIPOPTS_H
#error "the peer lwIP must not see guest-fw/port/lwipopts.h"
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define LWIP_TIMEVAL_PRIVATE 0

uint32_t peer_rand(void);

#define LWIP_PLATFORM_DIAG(x)   do { printf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) do {                                        \
        fprintf(stderr, "peer lwIP assertion \"%s\" failed at %s:%d\n",     \
                (x), __FILE__, __LINE__);                                   \
        abort();                                                            \
    } while (0)
#define LWIP_RAND()             peer_rand()

#endif /* PEER_ARCH_CC_H */
