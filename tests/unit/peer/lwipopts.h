/*
 * lwIP 2.1.3 options for the unit tests' peer stack (tests/unit/peer.c).
 *
 * The peer is an ordinary lwIP linked into the test program next to the
 * firmware (whose own lwIP is localized inside libproxycard-fw.a): it plays
 * the clients on the card's NIC port and the server on its bus port.  Only
 * what a deterministic test needs: NO_SYS=1 raw API, IPv4, TCP, ARP, two
 * Ethernet netifs, plain malloc, sys_now() on the shared virtual clock,
 * LWIP_RAND() from a fixed-seed generator, assertions that abort().
 *
 * This file and arch/cc.h must be the ones the peer's lwIP objects see:
 * tests/unit/pool.mk puts tests/unit/peer first on their include path and
 * never guest-fw/port (it checks each object's dependency file).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PEER_LWIPOPTS_H
#define PEER_LWIPOPTS_H

#ifdef PROXYCARD_LWIPOPTS_H
#error "the peer lwIP must not see guest-fw/port/lwipopts.h"
#endif
#ifdef PROXYCARD_ARCH_CC_H
#error "the peer lwIP must not see guest-fw/port/arch/cc.h"
#endif

/* ---- system ---- */
#define NO_SYS                          1
#define SYS_LIGHTWEIGHT_PROT            0
#define LWIP_SOCKET                     0
#define LWIP_NETCONN                    0
#define LWIP_TIMERS                     1

/* ---- memory: the C library's malloc for everything ---- */
#define MEM_LIBC_MALLOC                 1
#define MEMP_MEM_MALLOC                 1
#define MEM_ALIGNMENT                   8
#define MEM_SIZE                        (16 * 1024 * 1024)
/* Statistics-only bounds under MEMP_MEM_MALLOC (16-bit counters). */
#define MEMP_NUM_TCP_PCB                256
#define MEMP_NUM_TCP_PCB_LISTEN         8
#define MEMP_NUM_TCP_SEG                4096
#define MEMP_NUM_PBUF                   4096
#define MEMP_NUM_ARP_QUEUE              64
#define PBUF_POOL_SIZE                  1024
#define PBUF_POOL_BUFSIZE               1536

/* ---- link layer ---- */
#define LWIP_ETHERNET                   1
#define LWIP_ARP                        1
#define ARP_QUEUEING                    1
#define ARP_QUEUE_LEN                   64
#define LWIP_SINGLE_NETIF               0
#define LWIP_HAVE_LOOPIF                0
#define LWIP_NETIF_LOOPBACK             0

/* ---- IP ---- */
#define LWIP_IPV4                       1
#define LWIP_IPV6                       0
#define IP_FORWARD                      0
#define LWIP_ICMP                       1
#define LWIP_RAW                        0
#define LWIP_IGMP                       0
#define LWIP_DHCP                       0
#define LWIP_AUTOIP                     0
#define LWIP_DNS                        0
#define LWIP_UDP                        0

/* ---- TCP ---- */
#define LWIP_TCP                        1
#define TCP_MSS                         1460
#define TCP_WND                         (16 * TCP_MSS)
#define TCP_SND_BUF                     (16 * TCP_MSS)
#define TCP_SND_QUEUELEN                ((4 * TCP_SND_BUF) / TCP_MSS)
#define TCP_QUEUE_OOSEQ                 1
#define TCP_LISTEN_BACKLOG              0
#define LWIP_TCP_KEEPALIVE              0
#define LWIP_TCP_TIMESTAMPS             0
#define LWIP_TCP_SACK_OUT               0
/* Local ports from TCP_LOCAL_PORT_RANGE_START upwards, in order. */
#define LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS 0
#define LWIP_TCP_PCB_HASH               0

/* ---- statistics and debugging ---- */
#define LWIP_STATS                      0
#define LWIP_DEBUG                      0
#define LWIP_NOASSERT_ON_ERROR          0

#endif /* PEER_LWIPOPTS_H */
