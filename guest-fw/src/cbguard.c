/*
 * proxycard firmware: see cbguard.h.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "cbguard.h"
#include "lwip/priv/tcp_priv.h"     /* TCP_SEQ_GT */

struct pcfw_cb *pcfw_cb_top;

void pcfw_cb_pcb_gone(struct tcp_pcb *pcb)
{
    for (struct pcfw_cb *cb = pcfw_cb_top; cb; cb = cb->outer) {
        if (cb->pcb == pcb) {
            cb->aborted = true;
        }
    }
}

void pcfw_tcp_abort(struct tcp_pcb *pcb)
{
    pcfw_cb_pcb_gone(pcb);
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
    tcp_poll(pcb, NULL, 0);
    /*
     * lwIP's RST carries snd_nxt, which a zero-window probe has moved one
     * byte past what the peer's window took; the peer (Linux, RFC 5961)
     * then ignores the RST and keeps a connection the card forgot.  Send it
     * at the right edge of the peer's window instead, as Linux does
     * (tcp_acceptable_seq).
     */
    if (pcb->state >= SYN_RCVD && pcb->state != TIME_WAIT &&
        TCP_SEQ_GT(pcb->snd_nxt, pcb->lastack + pcb->snd_wnd)) {
        pcb->snd_nxt = pcb->lastack + pcb->snd_wnd;
    }
    tcp_abort(pcb);
}
