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
#include "pcfw_hooks.h"
#include "fw_internal.h"

u32_t sys_now(void)
{
    return pcfw.plat.now_ms(pcfw.plat.opaque);
}

/*
 * lwIP's allocations: its own state may use the arena's reserve, a
 * received frame (pcfw_ports_input() sets rx_alloc) only its lower half.
 */
static enum pcfw_mem_class lwip_class(void)
{
    return pcfw.rx_alloc ? PCFW_MEM_FRAME : PCFW_MEM_STACK;
}

void *pcfw_mem_alloc(size_t n)
{
    return pcfw_arena_alloc_class(pcfw.arena, n, lwip_class());
}

void *pcfw_mem_calloc(size_t nmemb, size_t n)
{
    return pcfw_arena_calloc_class(pcfw.arena, nmemb, n, lwip_class());
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

/*
 * RFC 6528 initial sequence numbers: a clock (4 us ticks, here derived
 * from the millisecond clock) plus a keyed hash of the connection's four
 * values, so that one connection's ISN tells nothing about another's.  The
 * key is drawn once at boot; the hash is a strong 64-bit mixer (not a
 * cryptographic MAC: the card has no entropy source better than its boot
 * time and MAC).
 */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint32_t isn_clock;      /* the last ISN's clock part */
static uint32_t isn_clock_ms;   /* sys_now() when it was taken */

u32_t pcfw_tcp_isn(const ip_addr_t *local_ip, u16_t local_port,
                   const ip_addr_t *remote_ip, u16_t remote_port)
{
    uint64_t h;
    uint32_t now = sys_now(), m;

    if (!pcfw.isn_key) {
        pcfw.isn_key = ((uint64_t)pcfw_rand() << 32) | pcfw_rand() | 1;
    }
    h = mix64(pcfw.isn_key ^ ip4_addr_get_u32(ip_2_ip4(local_ip)) ^
              ((uint64_t)ip4_addr_get_u32(ip_2_ip4(remote_ip)) << 32));
    h = mix64(h ^ ((uint64_t)local_port << 16 | remote_port));
    /*
     * The clock part advances by the time since the last ISN (250 ticks a
     * millisecond, modulo 2^32 like the RFC's 4.55 h cycle), and by at least
     * one: a 4-tuple used again in the same millisecond gets a larger ISN,
     * not the same one.  It is advanced by elapsed milliseconds rather than
     * compared with sys_now() * 250: that product laps the last value after
     * 2.4 h without connections, which froze the clock (every ISN was then
     * the last one plus one) for the next 2.4 h.
     */
    m = isn_clock + (now - isn_clock_ms) * 250u;
    if (m == isn_clock) {
        m++;
    }
    isn_clock = m;
    isn_clock_ms = now;
    return (u32_t)h + m;
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
