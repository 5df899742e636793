/*
 * proxycard firmware: the two lwIP chores every proxy does, done once.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_TCPIO_H
#define PCFW_TCPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lwip/tcp.h"

/*
 * Queue as much of @p[0, @len) on @pcb as its send buffer and segment
 * queue take (copied: @p may go away), halving on ERR_MEM; the rest waits
 * for the sent or poll callback.  @more: more bytes of the same message
 * follow, so no PSH on these.  Returns the bytes taken; the caller calls
 * tcp_output() once it has queued all it can.
 */
size_t pcfw_tcp_send(struct tcp_pcb *pcb, const void *p, size_t len,
                     bool more);

/*
 * A new pcb for a connection the card opens on behalf of the client on
 * @keep.  When card memory is short lwIP aborts the most idle pcb of a
 * lower priority to make room (tcp_kill_prio), clients being the lowest:
 * never @keep, whose callers would go on with a freed pcb.
 */
struct tcp_pcb *pcfw_tcp_new_beside(struct tcp_pcb *keep);

/* Open @pcb's receive window by @n bytes (tcp_recved takes 16 bits). */
void pcfw_tcp_recved(struct tcp_pcb *pcb, uint64_t n);

#endif /* PCFW_TCPIO_H */
