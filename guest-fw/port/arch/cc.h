/*
 * lwIP architecture glue for the proxycard firmware (plain C11, x86_64).
 *
 * lwIP's <lwip/arch.h> supplies the integer types from <stdint.h> and the
 * byte order from the compiler; here are only what the firmware routes to
 * its platform: diagnostics, assertions and randomness.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PROXYCARD_ARCH_CC_H
#define PROXYCARD_ARCH_CC_H

#include <stddef.h>
#include <stdint.h>

#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_NO_UNISTD_H 0

void pcfw_lwip_diag(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
void pcfw_lwip_assert(const char *msg, int line, const char *file)
    __attribute__((noreturn));
uint32_t pcfw_rand(void);

void *pcfw_mem_alloc(size_t n);
void *pcfw_mem_calloc(size_t nmemb, size_t n);
void pcfw_mem_free(void *p);

#define LWIP_PLATFORM_DIAG(x)   do { pcfw_lwip_diag x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) pcfw_lwip_assert((x), __LINE__, __FILE__)
#define LWIP_RAND()             pcfw_rand()

#endif /* PROXYCARD_ARCH_CC_H */
