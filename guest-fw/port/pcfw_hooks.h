/*
 * lwIP hooks of the proxycard firmware (LWIP_HOOK_FILENAME): included by
 * lwIP's sources after its types are defined.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_HOOKS_H
#define PCFW_HOOKS_H

#include "lwip/ip_addr.h"

/* Initial sequence numbers after RFC 6528 (guest-fw/src/sys.c). */
u32_t pcfw_tcp_isn(const ip_addr_t *local_ip, u16_t local_port,
                   const ip_addr_t *remote_ip, u16_t remote_port);

struct netif;
struct pbuf;

/*
 * The card is a strong host (RFC 1122 §3.3.4.2): a packet is taken only on
 * the port that owns its destination address, and a packet from one of
 * the card's addresses leaves by that address's port.  Without these, a
 * segment forged on the bus port from an Internet-side address was
 * answered out of the NIC port with the bus address as its source, and a
 * segment on the NIC port addressed to the bus address reached the pool's
 * connections (guest-fw/src/ports.c; found by fuzz-frames).
 */
struct netif *pcfw_route_src(const ip4_addr_t *src, const ip4_addr_t *dest);
int pcfw_ip4_input_hook(struct pbuf *p, struct netif *inp);

#endif /* PCFW_HOOKS_H */
