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

#endif /* PCFW_HOOKS_H */
