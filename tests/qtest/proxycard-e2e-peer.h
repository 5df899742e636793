/*
 * The server side of proxycard's bus link for the end-to-end qtest
 * (tests/qtest/proxycard-e2e-test.c): an ordinary lwIP stack with one
 * Ethernet netif and a tiny HTTP server on its raw API.
 *
 * The qtest plays the card's host: it moves frames between the card's
 * descriptor rings and this stack.  Frames the card sent (read from its RX
 * ring) go in through pcpeer_input(); frames this stack sends come out
 * through the send hook given to pcpeer_init(), which the qtest posts on the
 * card's TX ring.  Nothing here knows about QEMU, and this header knows
 * nothing about lwIP: the stack and this file are linked by the Makefile
 * into one object whose only global symbols are the pcpeer_* functions
 * below (tests/qtest/proxycard-e2e-peer.exports), archived as
 * build/tests/qtest-peer/libpcpeer.a, so its lwIP cannot meet any other
 * name in the qtest program.
 *
 * Time: the stack's sys_now() is a millisecond clock that moves only when
 * the caller says so (pcpeer_advance()); the qtest advances it by exactly
 * the virtual time it steps QEMU by, so both ends of the bus link run their
 * TCP timers on one clock.
 *
 * Single-threaded, not re-entrant: the send hook is called from inside the
 * stack and must only queue the frame, never call back into pcpeer_*.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PROXYCARD_E2E_PEER_H
#define PROXYCARD_E2E_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One Ethernet frame out of the peer's netif: copy it; return 0 or -1. */
typedef int (*pcpeer_send_fn)(void *opaque, const void *frame, size_t len);

/*
 * Start the stack once per process: one netif with @mac, address @ip
 * (dotted quad) in a /@prefix, MTU @mtu (1500 or up to 9000), its frames
 * going to @send.  The clock starts at 0.
 */
void pcpeer_init(const uint8_t mac[6], const char *ip, unsigned prefix,
                 uint16_t mtu, pcpeer_send_fn send, void *opaque);

/* Change where frames go (e.g. NULL while there is no card: frames dropped). */
void pcpeer_set_output(pcpeer_send_fn send, void *opaque);

/*
 * Forget every connection (aborted without a word to the other end: call it
 * with the output unset), the ARP cache and the server's counters and
 * request log; the listener stays.  For a new card in the same process.
 */
void pcpeer_reset(void);

/* Announce the netif's address (gratuitous ARP): a new card learns it now. */
void pcpeer_announce(void);

/* Move the clock on by @ms and run the stack's due timers. */
void pcpeer_advance(uint32_t ms);

/* The clock, in milliseconds since pcpeer_init(). */
uint32_t pcpeer_now(void);

/* One Ethernet frame for the peer's netif, as the card sent it. */
void pcpeer_input(const void *frame, size_t len);

/* ---- the HTTP server ---- */

/* What to answer to one request. */
struct pcpeer_response {
    int status;                 /* e.g. 200 */
    const void *body;           /* not copied: must outlive the exchange */
    size_t len;
};

/*
 * The server's handler: fill @r for @method and @target (NUL-terminated)
 * and return true, or return false for a 404.
 */
typedef bool (*pcpeer_handler_fn)(void *opaque, const char *method,
                                  const char *target,
                                  struct pcpeer_response *r);

/*
 * Listen on @port of the netif's address.  Requests (a head, and a body by
 * Content-Length if there is one) are answered in order on each
 * connection, keep-alive, framed by Content-Length.  Returns 0 or -1.
 */
int pcpeer_server_listen(uint16_t port, pcpeer_handler_fn fn, void *opaque);

/*
 * Hold (true) or release (false) every response: while held, requests are
 * received, logged and answered into a queue, but no response byte goes to
 * TCP.  Released, the queued responses go out in order.
 */
void pcpeer_server_hold(bool hold);

/* Connections accepted since start (or pcpeer_reset()), and still open. */
unsigned pcpeer_server_accepted(void);
unsigned pcpeer_server_open(void);

/* Complete requests received, over all connections. */
unsigned pcpeer_server_requests(void);

/*
 * Request @i (in arrival order): its head, NUL-terminated (valid until
 * pcpeer_reset()), and the connection it came on (0 = first accepted);
 * NULL if there is no such request.
 */
const char *pcpeer_server_request(unsigned i, unsigned *conn);

#endif /* PROXYCARD_E2E_PEER_H */
