/*
 * proxycard firmware: see tcpio.h.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "tcpio.h"

size_t pcfw_tcp_send(struct tcp_pcb *pcb, const void *p, size_t len,
                     bool more)
{
    u16_t room = tcp_sndbuf(pcb);
    u8_t flags = TCP_WRITE_FLAG_COPY;
    size_t n = len;
    err_t err;

    if (room == 0 || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN) {
        return 0;
    }
    if (n > room) {
        n = room;
    }
    if (more || n < len) {
        flags |= TCP_WRITE_FLAG_MORE;
    }
    while ((err = tcp_write(pcb, p, (u16_t)n, flags)) == ERR_MEM && n > 1) {
        n /= 2;
        flags |= TCP_WRITE_FLAG_MORE;
    }
    return err == ERR_OK ? n : 0;
}

void pcfw_tcp_recved(struct tcp_pcb *pcb, uint64_t n)
{
    while (n) {
        u16_t step = n > 0xffff ? 0xffff : (u16_t)n;

        tcp_recved(pcb, step);
        n -= step;
    }
}

struct tcp_pcb *pcfw_tcp_new_beside(struct tcp_pcb *keep)
{
    u8_t prio = keep->prio;
    struct tcp_pcb *pcb;

    /* tcp_alloc() considers only pcbs below the new one's priority. */
    tcp_setprio(keep, TCP_PRIO_NORMAL);
    pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    tcp_setprio(keep, prio);
    return pcb;
}
