/*
 * proxycard firmware: state shared between the firmware's own files.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_INTERNAL_H
#define PCFW_INTERNAL_H

#include <setjmp.h>
#include <stdbool.h>
#include "lwip/netif.h"
#include "pcfw.h"
#include "arena.h"

/* The firmware's whole global state: one firmware per process. */
struct pcfw_state {
    bool initialised;           /* pcfw_init() succeeded once */
    bool stopped;               /* pcfw_shutdown() or a fault */
    jmp_buf *fault_jmp;         /* set while inside an entry point */
    char fault[160];

    struct pcfw_platform plat;
    struct pcfw_config cfg;
    struct pcfw_arena *arena;
    bool rx_alloc;              /* lwIP allocates a received frame now */
    size_t mem_size;            /* card memory */
    bool wm_above[2];           /* each watermark's last state */
    uint32_t wm_log_ms[2];      /* when its crossing was last logged (0: never) */
    uint32_t pass_active;       /* pass-through clients among clients_active */
    struct netif netif[PCFW_PORT_COUNT];
    struct pcfw_stats st;
    uint64_t rand_state;
    uint64_t isn_key;           /* pcfw_tcp_isn(): drawn at the first use */
};

extern struct pcfw_state pcfw;

void pcfw_log(enum pcfw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Card-memory watermarks (docs/firmware.md "Memory under attack"): above
 * the window watermark (`mem-window`, 75% of card memory) no receive window
 * opens; above the refuse watermark (`mem-refuse`, 90%) new connections are
 * refused.  100% turns one off.
 */
enum pcfw_watermark {
    PCFW_WM_WINDOW,
    PCFW_WM_REFUSE,
};
bool pcfw_mem_above(enum pcfw_watermark wm);
/* @pct percent of card memory, in bytes (the watermarks' arithmetic). */
size_t pcfw_mem_mark(uint32_t pct);

/* ports.c: the two Ethernet ports as lwIP netifs. */
int pcfw_ports_init(void);
void pcfw_ports_input(enum pcfw_port port, const void *frame, size_t len);
void pcfw_ports_shutdown(void);
void pcfw_ports_apply(const struct pcfw_config *old);

#endif /* PCFW_INTERNAL_H */
