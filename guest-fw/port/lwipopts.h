/*
 * lwIP 2.1.3 options for the proxycard firmware.
 *
 * Bare-metal style (NO_SYS=1, raw API only): one firmware thread owns the
 * stack and calls it from its main loop.  Sized for tens of thousands of
 * client connections: nothing is preallocated; every pbuf, PCB and segment
 * comes from the card-memory arena through mem_malloc (MEM_LIBC_MALLOC with
 * the arena behind it, MEMP_MEM_MALLOC for the pools), so the only limit is
 * the device's mem-size, and exhaustion is a failed allocation lwIP handles.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PROXYCARD_LWIPOPTS_H
#define PROXYCARD_LWIPOPTS_H

/* ---- system ---- */
#define NO_SYS                          1
#define SYS_LIGHTWEIGHT_PROT            0
#define LWIP_SOCKET                     0
#define LWIP_NETCONN                    0
#define LWIP_TIMERS                     1

/* ---- memory: all from the card-memory arena ---- */
#define MEM_LIBC_MALLOC                 1
#define mem_clib_malloc                 pcfw_mem_alloc
#define mem_clib_free                   pcfw_mem_free
#define mem_clib_calloc                 pcfw_mem_calloc
#define MEMP_MEM_MALLOC                 1
#define MEM_ALIGNMENT                   8
/* Only sizes mem_size_t (32 bits); the heap itself is the arena. */
#define MEM_SIZE                        (256 * 1024 * 1024)
#define MEMP_OVERFLOW_CHECK             0
#define MEMP_SANITY_CHECK               0

/* Pool "sizes" are upper bounds for statistics only under MEMP_MEM_MALLOC;
 * keep them below lwIP's 16-bit counters. */
#define MEMP_NUM_TCP_PCB                60000
#define MEMP_NUM_TCP_PCB_LISTEN         64
#define MEMP_NUM_TCP_SEG                60000
#define MEMP_NUM_PBUF                   60000
#define MEMP_NUM_REASSDATA              64
#define MEMP_NUM_ARP_QUEUE              256
#define MEMP_NUM_UDP_PCB                8
#define PBUF_POOL_SIZE                  4096
#define PBUF_POOL_BUFSIZE               1536

/* ---- link layer ---- */
#define LWIP_ETHERNET                   1
#define LWIP_ARP                        1
#define ARP_TABLE_SIZE                  64
#define ARP_QUEUEING                    1
/* Packets held per unresolved address: the whole pool's SYNs at start-up
 * (lwIP's default of 3 drops the rest until their retransmission). */
#define ARP_QUEUE_LEN                   1024
#define ETHARP_SUPPORT_STATIC_ENTRIES   1
#define LWIP_NETIF_LINK_CALLBACK        1
#define LWIP_NETIF_STATUS_CALLBACK      1
#define LWIP_SINGLE_NETIF               0
#define LWIP_HAVE_LOOPIF                0

/* ---- IP ---- */
#define LWIP_IPV4                       1
#define LWIP_IPV6                       0
#define IP_FORWARD                      0   /* the card terminates, never routes */
#define IP_REASSEMBLY                   1
#define IP_FRAG                         1
#define LWIP_ICMP                       1
#define LWIP_RAW                        0
#define LWIP_IGMP                       0
#define LWIP_DHCP                       1
#define LWIP_AUTOIP                     0
#define LWIP_DNS                        0

/* ---- UDP (DHCP only) ---- */
#define LWIP_UDP                        1

/* ---- TCP ---- */
#define LWIP_TCP                        1
/*
 * TCP_MSS is the largest segment on any port: the bus link's (9000-byte
 * jumbo MTU in QEMU).  lwIP sends min(TCP_MSS, the port's MTU - 40, the
 * peer's MSS), so the network port still uses 1460.  Windows and send
 * buffers are set in bytes, not in MSS, so that the large MSS does not
 * inflate them; the queue length allows a full send buffer of network-sized
 * segments.  lwIP wants TCP_SNDLOWAT 4 MSS below 64 KiB (its 16-bit
 * heritage), hence the explicit low-water mark.
 */
#define TCP_MSS                         8960
#define TCP_WND                         (64 * 1024)
#define TCP_SND_BUF                     (64 * 1024)
#define TCP_SNDLOWAT                    (16 * 1024)
#define TCP_SND_QUEUELEN                ((4 * TCP_SND_BUF) / 1460)
#define TCP_QUEUE_OOSEQ                 1
/*
 * Out-of-order data is bounded per connection (issue 9): a peer sending
 * 1-byte segments past a hole held one pool pbuf (~1.6 KiB of card memory)
 * per byte.  128 segments cover loss recovery of a full 1460-byte-segment
 * flight of 187 KB; lwIP drops the newest queued segments beyond either
 * bound.  Under memory pressure ports.c also empties queues at once
 * (pbuf_free_ooseq).
 */
#define TCP_OOSEQ_MAX_BYTES             (256 * 1024)
#define TCP_OOSEQ_MAX_PBUFS             128
#define TCP_LISTEN_BACKLOG              1
#define TCP_DEFAULT_LISTEN_BACKLOG      0xff
/*
 * SYN floods (issue 9): at most 1024 half-open connections per listener,
 * the oldest evicted by a new SYN, at most `limit-half-open` (128) from one source
 * (patches/lwip/0003-tcp-syn-queue.patch, docs/firmware.md).  The backlog
 * above then counts only delayed accepts (none: the firmware accepts at once).
 */
#define LWIP_TCP_SYN_QUEUE              1
#define TCP_SYN_QUEUE_MAX               1024
/* `limit-half-open` (default 128), set by security.c. */
extern unsigned short pcfw_syn_per_source;
#define TCP_SYN_PER_SOURCE_MAX          pcfw_syn_per_source
#define LWIP_WND_SCALE                  1
#define TCP_RCV_SCALE                   2
#define LWIP_TCP_KEEPALIVE              1
/*
 * SOF_REUSEADDR for the listeners (master.c): a listener removed and loaded
 * again must bind its port while that port's client connections, or their
 * TIME_WAIT pcbs, are still there (accepted pcbs inherit the option).
 */
#define SO_REUSE                        1
#define LWIP_TCP_TIMESTAMPS             0
#define TCP_OVERSIZE                    TCP_MSS
#define LWIP_TCP_SACK_OUT               0
#define LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS 1
/* Segment-to-PCB lookup by hash (patches/lwip/0001-tcp-pcb-hash.patch). */
#define LWIP_TCP_PCB_HASH               1
#define LWIP_TCP_PCB_HASH_SIZE          16384
/* One listener for the ports without their own (patches/lwip/0002). */
#define LWIP_TCP_LISTEN_ANY_PORT        1

/* ---- checksums: computed in software on both ports ---- */
#define LWIP_CHECKSUM_ON_COPY           1
/*
 * lwIP's 32-bit-word checksum loop (algorithm 3) instead of the portable
 * 16-bit one: checksums are the card's largest CPU cost on large responses
 * (docs/performance.md).
 */
#define LWIP_CHKSUM_ALGORITHM           3

/* ---- hooks ---- */
#define LWIP_HOOK_FILENAME              "pcfw_hooks.h"
/* lwIP 2.1's default ISN is a counter anyone can predict (RFC 6528). */
#define LWIP_HOOK_TCP_ISN               pcfw_tcp_isn
#define LWIP_HOOK_IP4_ROUTE_SRC         pcfw_route_src
#define LWIP_HOOK_IP4_INPUT             pcfw_ip4_input_hook

/* ---- statistics and debugging ---- */
#define LWIP_STATS                      0
#define LWIP_DEBUG                      0
#define LWIP_NOASSERT_ON_ERROR          0

#endif /* PROXYCARD_LWIPOPTS_H */
