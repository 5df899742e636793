/*
 * proxycard firmware: what lwIP needs from its system (sys_now, memory,
 * randomness, diagnostics), routed to the platform and the card arena.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lwip/sys.h"
#include "fw_internal.h"

u32_t sys_now(void)
{
    return pcfw.plat.now_ms(pcfw.plat.opaque);
}

void *pcfw_mem_alloc(size_t n)
{
    return pcfw_arena_alloc(pcfw.arena, n);
}

void *pcfw_mem_calloc(size_t nmemb, size_t n)
{
    return pcfw_arena_calloc(pcfw.arena, nmemb, n);
}

void pcfw_mem_free(void *p)
{
    pcfw_arena_free(pcfw.arena, p);
}

/* xorshift64*: for port numbers and DHCP ids, not for secrets. */
uint32_t pcfw_rand(void)
{
    uint64_t x = pcfw.rand_state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    pcfw.rand_state = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

void pcfw_log(enum pcfw_log_level level, const char *fmt, ...)
{
    char line[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    pcfw.plat.log(pcfw.plat.opaque, level, line);
}

void pcfw_lwip_diag(const char *fmt, ...)
{
    char line[256];
    size_t n;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    n = strlen(line);
    if (n && line[n - 1] == '\n') {
        line[n - 1] = '\0';
    }
    pcfw.plat.log(pcfw.plat.opaque, PCFW_LOG_DEBUG, line);
}

void pcfw_lwip_assert(const char *msg, int line, const char *file)
{
    const char *base = strrchr(file, '/');

    snprintf(pcfw.fault, sizeof(pcfw.fault), "lwIP assertion \"%s\" failed at %s:%d",
             msg, base ? base + 1 : file, line);
    pcfw.plat.log(pcfw.plat.opaque, PCFW_LOG_ERROR, pcfw.fault);
    pcfw.stopped = true;
    if (pcfw.fault_jmp) {
        longjmp(*pcfw.fault_jmp, 1);
    }
    abort();    /* unreachable: lwIP runs only inside guarded entry points */
}
