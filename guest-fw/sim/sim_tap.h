/*
 * proxycard-sim: a port wired to an existing TAP device instead of libslirp.
 *
 * With --nic-tap NAME the card's NIC port is a real Ethernet link to a
 * Linux network stack: the frames the kernel sends out of TAP device NAME
 * reach the firmware, the frames the firmware sends on that port enter the
 * kernel through it.  Clients then talk TCP to the card with their own
 * stacks and their own source addresses, where slirp's host forwarding
 * re-originated every connection from 10.0.2.2.
 *
 * The device must exist (ip tuntap add dev NAME mode tap: IFF_TAP with
 * IFF_NO_PI, no vnet header); we only attach to it.  With --nic-netns NS it
 * is looked up in network namespace NS: the process enters NS just long
 * enough to open /dev/net/tun and attach (a tun file binds to the namespace
 * current at open(), and TUNSETIFF finds NAME there), then returns to its
 * own namespace, where the bus port's slirp sockets are made.  The fd stays
 * attached to the device in NS.  So clients run in NS, the servers stay on
 * the host's loopback, and the harness's servers need no change; running the
 * whole sim under `ip netns exec NS` would have moved the servers into NS
 * too.
 *
 * The fd is non-blocking and joins the main loop's ppoll() set (sim_slirp.c).
 * Frames shorter than an Ethernet header or longer than the port's largest
 * frame are dropped and counted; so is a frame the kernel would not take.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef SIM_TAP_H
#define SIM_TAP_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

/* Frames read per poll round at most, so one busy link cannot starve the rest. */
#define SIM_TAP_READ_BUDGET 256

typedef struct SimTap {
    int fd;                     /* -1: not open */
    char name[IFNAMSIZ];
    uint8_t *rx_buf;            /* SIM_TAP_RX_BUF bytes: any frame tun gives */
    uint64_t rx_frames;         /* frames read and handed on */
    uint64_t rx_runt;           /* shorter than an Ethernet header: dropped */
    uint64_t rx_oversize;       /* longer than the port's largest frame */
    uint64_t tx_frames;         /* frames written */
    uint64_t tx_dropped;        /* the kernel would not take them */
    uint64_t rx_errors;         /* read() failed other than EAGAIN */
    int last_tx_errno;          /* of the last dropped write, 0: none */
} SimTap;

/* Outcome of sim_tap_read() other than a frame's length. */
enum {
    SIM_TAP_NONE = 0,           /* nothing more to read now */
    SIM_TAP_DROPPED = -1,       /* a frame was read and dropped (counted) */
};

/*
 * Attach @tap to the existing TAP device @name, in network namespace @netns
 * (a name under /run/netns, or a path containing '/') if not NULL.
 * Returns 0, or -1 with a reason in @err.
 */
int sim_tap_open(SimTap *tap, const char *name, const char *netns,
                 char *err, size_t errlen);

/*
 * Read one frame.  Returns its length (into tap->rx_buf; 14 to @max_frame
 * bytes), SIM_TAP_DROPPED, or SIM_TAP_NONE when none is waiting.
 */
int sim_tap_read(SimTap *tap, size_t max_frame);

/* Write one frame; returns 0, or -1 when dropped (counted). */
int sim_tap_write(SimTap *tap, const void *frame, size_t len);

void sim_tap_close(SimTap *tap);

#endif /* SIM_TAP_H */
