/*
 * proxycard-sim: the card's two Ethernet ports on libslirp.
 *
 * Each firmware port (NIC, bus) is wired to its own libslirp instance, which
 * plays the network on the other side of the wire: on the NIC port the
 * clients (reaching the card through slirp host forwarding), on the bus port
 * the server (the card's outbound connections, NATed by slirp to the host).
 *
 * Frames never cross between the firmware and slirp synchronously: both
 * directions go through bounded per-port queues (SimFrameQueue), which the
 * main loop drains with sim_net_flush().  This keeps the platform contract
 * (a firmware hook must not re-enter the firmware; slirp_input() can call
 * send_packet() back, which would then reach pcfw_input()) and bounds the
 * memory a burst can take, like a NIC ring: a full queue drops the frame
 * and counts it, and TCP retransmits.
 *
 * Everything here runs on the one thread that is the card CPU.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef SIM_SLIRP_H
#define SIM_SLIRP_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <slirp/libslirp.h>
#include "pcfw.h"
#include "sim_tap.h"

/* Frames each queue holds before it drops (per port and direction). */
/*
 * Frames per queue.  One poll round with thousands of client sockets can
 * make a frame for each (10,000 clients resetting at once), so the queues
 * are deep; their slots are only touched, hence only backed by memory, when
 * used.
 */
#define SIM_QUEUE_FRAMES    32768
/* Largest frame either side may send; slirp's default MTU gives 1514. */
#define SIM_FRAME_MAX       PCFW_MAX_FRAME
/*
 * Longest sleep in poll(): the loop also wakes on signals at once (ppoll
 * with them unblocked), this is only a backstop.
 */
#define SIM_POLL_MAX_MS     100

typedef struct SimFrame {
    uint16_t len;
    uint8_t data[SIM_FRAME_MAX];
} SimFrame;

/*
 * A bounded FIFO of frames, copied in.  A frame stays in its slot while it
 * is being processed (peek, process, pop), so a push during processing can
 * never overwrite it.
 */
typedef struct SimFrameQueue {
    SimFrame *slot;             /* SIM_QUEUE_FRAMES slots */
    unsigned head;              /* oldest frame */
    unsigned count;             /* frames queued */
    uint64_t queued;            /* frames accepted, ever */
    uint64_t dropped;           /* full queue or oversized frame */
    uint64_t high_water;        /* largest count seen */
} SimFrameQueue;

/* How one slirp instance's network looks (addresses in network order). */
typedef struct SimNetPortConfig {
    struct in_addr network;
    struct in_addr netmask;
    struct in_addr host;        /* slirp's own address: the card's gateway */
    struct in_addr dhcp_start;  /* first address slirp's DHCP hands out */
    struct in_addr dns;
    bool restricted;            /* no outbound connections from the card */
    bool host_loopback;         /* slirp's address reaches host 127.0.0.1 */
    /*
     * Not NULL: no slirp on this port, it is wired to this existing TAP
     * device instead (sim_tap.h), looked up in network namespace tap_netns
     * if that is not NULL; the fields above are then unused.
     */
    const char *tap_name;
    const char *tap_netns;
} SimNetPortConfig;

struct SimNet;

typedef struct SimNetPort {
    struct SimNet *net;
    enum pcfw_port port;
    const char *name;
    Slirp *slirp;               /* NULL on a TAP port */
    /*
     * A TAP port (use_tap): its fd is in the poll set at index tap_pfd
     * (-1: not this round, or no more: the device went away).
     */
    bool use_tap;
    bool tap_gone;
    int tap_pfd;
    SimTap tap;
    /* The queues' names are slirp's; on a TAP port they lead to the TAP. */
    SimFrameQueue to_slirp;     /* card -> slirp (firmware's send_frame) */
    SimFrameQueue to_card;      /* slirp -> card (slirp's send_packet) */
} SimNetPort;

/* Hands one frame from slirp to the firmware (pcfw_input()). */
typedef void SimDeliverFn(void *opaque, enum pcfw_port port,
                          const void *frame, size_t len);

/* Reports one line (no trailing newline) at @level. */
typedef void SimLogFn(void *opaque, enum pcfw_log_level level,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct SimTimer SimTimer;

typedef struct SimNet {
    SimNetPort port[PCFW_PORT_COUNT];
    SimDeliverFn *deliver;
    void *deliver_opaque;
    /*
     * Optional, with deliver_opaque: called with true before a batch of
     * deliveries and false after it (the card's CPU time is measured per
     * batch: a clock read per frame would cost more than some frames).
     */
    void (*batch)(void *opaque, bool begin);
    SimLogFn *log;              /* with deliver_opaque */

    /* The poll set of both slirp instances, rebuilt every round. */
    struct pollfd *pfd;
    unsigned npfd;
    unsigned pfd_cap;
    /*
     * Poll without sleeping next round: slirp learnt a MAC address (frames
     * waiting on ARP leave only in slirp_pollfds_poll()) or asked to be
     * kicked (notify).
     */
    bool kick;

    /*
     * The listen backlog for slirp's host-forward sockets and what we know
     * of each fd (SimFdState, indexed by fd).  See sim_net_raise_backlog().
     */
    int backlog;
    uint8_t *fd_state;
    size_t fd_state_cap;
    uint64_t listeners_raised;
    uint64_t listeners_raise_failed;

    SimTimer *timers;           /* slirp's timers, armed or not */

    uint64_t slirp_cpu_ns;      /* thread CPU time inside slirp_* calls */
    uint64_t poll_rounds;
} SimNet;

/* This thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID). */
uint64_t sim_thread_cpu_ns(void);
/* CLOCK_MONOTONIC in ms: the card's clock and slirp's. */
int64_t sim_now_ms(void);

/*
 * Create both slirp instances (or attach a port's TAP device instead, see
 * SimNetPortConfig).  @deliver takes frames to the firmware,
 * @log reports (may be called before this returns).  Returns 0, or -1
 * after logging why.
 */
int sim_net_init(SimNet *net, const SimNetPortConfig cfg[PCFW_PORT_COUNT],
                 int backlog, SimDeliverFn *deliver, SimLogFn *log,
                 void *opaque);

/*
 * Forward TCP @host_addr:@host_port on the host to @card_addr:@card_port
 * through @port's slirp.  Returns 0, or -1 with errno set.
 */
int sim_net_add_forward(SimNet *net, enum pcfw_port port,
                        struct in_addr host_addr, int host_port,
                        struct in_addr card_addr, int card_port);

/*
 * The firmware's send_frame hook: queue @frame for @port's slirp.  Returns
 * 0, or -1 when dropped (queue full, frame too long).  Never calls slirp.
 */
int sim_net_card_send(SimNet *net, enum pcfw_port port,
                      const void *frame, size_t len);

/*
 * Move queued frames both ways (to slirp with slirp_input(), to the card
 * with the deliver function) until every queue is empty.
 */
void sim_net_flush(SimNet *net);

/* True if any queue holds a frame. */
bool sim_net_pending(const SimNet *net);

/*
 * One round of slirp I/O: wait in ppoll() (with @sigmask, so the signals
 * it unblocks end the wait) for slirp's sockets, at most @timeout_ms (and
 * no longer than slirp's own timers, SIM_POLL_MAX_MS, or 0 after a kick),
 * then let slirp handle its sockets and run its due timers.  Frames slirp
 * sends, and frames read from a TAP port (at most SIM_TAP_READ_BUDGET per
 * round), are queued for the card.  Returns 0, or -1 if ppoll() failed
 * other than by a signal.
 */
int sim_net_poll(SimNet *net, uint32_t timeout_ms, const sigset_t *sigmask);

/*
 * Destroy both slirp instances (close a TAP) and free everything
 * sim_net_init() made.
 */
void sim_net_cleanup(SimNet *net);

#endif /* SIM_SLIRP_H */
