/*
 * proxycard firmware: see cbguard.h.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "cbguard.h"

struct pcfw_cb *pcfw_cb_top;

void pcfw_tcp_abort(struct tcp_pcb *pcb)
{
    for (struct pcfw_cb *cb = pcfw_cb_top; cb; cb = cb->outer) {
        if (cb->pcb == pcb) {
            cb->aborted = true;
        }
    }
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
    tcp_poll(pcb, NULL, 0);
    tcp_abort(pcb);
}
