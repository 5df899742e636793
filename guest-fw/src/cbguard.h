/*
 * proxycard firmware: knowing whether a callback's own pcb was aborted.
 *
 * An lwIP callback must return ERR_ABRT if, and only if, its own pcb was
 * aborted (tcp_abort) while it ran; lwIP then never touches that pcb again.
 * Callbacks nest (a client's callback may reset a server connection and
 * vice versa), so every callback pushes a frame naming its pcb, and
 * pcfw_tcp_abort() marks the frames of the pcb it aborts.  A pcb aborted
 * outside its own callbacks marks nothing: no stale marker can outlive the
 * callback and misfire on a later pcb that reuses the same memory.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_CBGUARD_H
#define PCFW_CBGUARD_H

#include <stdbool.h>
#include "lwip/tcp.h"

struct pcfw_cb {
    struct tcp_pcb *pcb;
    bool aborted;
    struct pcfw_cb *outer;
};

extern struct pcfw_cb *pcfw_cb_top;

static inline void pcfw_cb_enter(struct pcfw_cb *cb, struct tcp_pcb *pcb)
{
    cb->pcb = pcb;
    cb->aborted = false;
    cb->outer = pcfw_cb_top;
    pcfw_cb_top = cb;
}

/* What the callback returns to lwIP. */
static inline err_t pcfw_cb_leave(struct pcfw_cb *cb)
{
    pcfw_cb_top = cb->outer;
    return cb->aborted ? ERR_ABRT : ERR_OK;
}

/* Clear @pcb's callbacks and reset it; marks the callbacks running for it. */
void pcfw_tcp_abort(struct tcp_pcb *pcb);

/*
 * From an error callback: lwIP freed @pcb (a reset, a timeout, or an abort
 * lwIP decided itself, such as tcp_kill_prio making room for a new pcb
 * while another callback runs); mark the callbacks running for it.
 */
void pcfw_cb_pcb_gone(struct tcp_pcb *pcb);

#endif /* PCFW_CBGUARD_H */
