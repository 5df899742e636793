/*
 * proxycard-sim: the card's two Ethernet ports on libslirp (see sim_slirp.h).
 *
 * The main loop, on the card-CPU thread, alternates
 *   sim_net_poll()   ppoll() over both slirp instances' sockets, then
 *                    slirp_pollfds_poll() and slirp's due timers;
 *   sim_net_flush()  frames queued either way are handed over until every
 *                    queue is empty;
 * and the firmware's pcfw_poll() (sim_main.c).  Nothing here sleeps except
 * that one ppoll().
 *
 * A port may be wired to a TAP device instead (--nic-tap, sim_tap.h): it
 * has no slirp instance; its fd joins the same ppoll() set, frames read
 * from it go to the card's queue and the card's frames are written to it
 * when the queues are flushed.
 *
 * Listen backlog.  libslirp 4.7.0 creates host-forward sockets with
 * listen(s, 1) (tcpx_listen()) and accepts one connection per readable
 * round.  With a backlog of 1 the kernel's accept queue overflows as soon
 * as a few hundred clients connect at once: their SYNs are dropped or
 * answered with SYN cookies, and connect() stalls for a second or more
 * (SYN retransmission).  slirp never hands us a listening socket through
 * register_poll_fd (tcpx_listen() does not register it), but every socket
 * it wants polled passes through add_poll, so there we ask the kernel
 * whether the socket listens (SO_ACCEPTCONN) and, once per socket, call
 * listen() again with our backlog: Linux updates the backlog of a socket
 * that already listens.  The answer is cached per fd (fd_state) so that a
 * round costs no system call per socket; the cache entry is forgotten when
 * slirp (un)registers that fd, and wholesale when we add a forward, the only
 * moment slirp creates a listener (its FTP/IRC emulation, which could too,
 * stays off).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "sim_slirp.h"

/* What we know of an fd slirp polls (SimNet.fd_state). */
enum SimFdState {
    SIM_FD_UNKNOWN = 0,         /* not checked since (un)registered */
    SIM_FD_PLAIN,               /* not a listening socket */
    SIM_FD_LISTENER,            /* listening; backlog raised (or tried) */
};

/* One slirp timer; created by timer_new or timer_new_opaque. */
struct SimTimer {
    SimTimer *next;
    SimNetPort *owner;
    bool by_id;                 /* timer_new_opaque: slirp_handle_timer() */
    SlirpTimerId id;
    SlirpTimerCb cb;            /* timer_new: call cb(cb_opaque) */
    void *cb_opaque;
    int64_t expire_ms;          /* on sim_now_ms(); -1 while not armed */
};

#define ETH_TYPE_OFFSET 12
#define ETH_TYPE_ARP    0x0806

/* ---- clocks ---------------------------------------------------------------- */

static int64_t sim_clock_ns(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t sim_thread_cpu_ns(void)
{
    return (uint64_t)sim_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

int64_t sim_now_ms(void)
{
    return sim_clock_ns(CLOCK_MONOTONIC) / 1000000;
}

/* ---- frame queues ---------------------------------------------------------- */

static int sim_queue_init(SimFrameQueue *q)
{
    memset(q, 0, sizeof(*q));
    /* Pages are touched only as the queue fills; an idle port costs none. */
    q->slot = malloc(sizeof(SimFrame) * SIM_QUEUE_FRAMES);
    return q->slot ? 0 : -1;
}

static void sim_queue_free(SimFrameQueue *q)
{
    free(q->slot);
    q->slot = NULL;
    q->count = 0;
}

static bool sim_queue_push(SimFrameQueue *q, const void *frame, size_t len)
{
    SimFrame *f;

    if (len > SIM_FRAME_MAX || q->count == SIM_QUEUE_FRAMES) {
        q->dropped++;
        return false;
    }
    f = &q->slot[(q->head + q->count) % SIM_QUEUE_FRAMES];
    f->len = (uint16_t)len;
    memcpy(f->data, frame, len);
    q->count++;
    q->queued++;
    if (q->count > q->high_water) {
        q->high_water = q->count;
    }
    return true;
}

static SimFrame *sim_queue_peek(SimFrameQueue *q)
{
    return q->count ? &q->slot[q->head] : NULL;
}

static void sim_queue_pop(SimFrameQueue *q)
{
    q->head = (q->head + 1) % SIM_QUEUE_FRAMES;
    q->count--;
}

/* ---- timers ---------------------------------------------------------------- */

static SimTimer *sim_timer_add(SimNetPort *p)
{
    SimTimer *t = calloc(1, sizeof(*t));

    if (!t) {
        /* slirp cannot handle a NULL timer: without memory, stop here. */
        abort();
    }
    t->owner = p;
    t->expire_ms = -1;
    t->next = p->net->timers;
    p->net->timers = t;
    return t;
}

static void *sim_cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    SimTimer *t = sim_timer_add(opaque);

    t->cb = cb;
    t->cb_opaque = cb_opaque;
    return t;
}

static void *sim_cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque,
                                     void *opaque)
{
    SimTimer *t = sim_timer_add(opaque);

    t->by_id = true;
    t->id = id;
    t->cb_opaque = cb_opaque;
    return t;
}

static void sim_cb_timer_free(void *timer, void *opaque)
{
    SimNetPort *p = opaque;
    SimTimer **link;

    for (link = &p->net->timers; *link; link = &(*link)->next) {
        if (*link == timer) {
            *link = ((SimTimer *)timer)->next;
            free(timer);
            return;
        }
    }
}

/* @expire_time: absolute, in ms of clock_get_ns() (our CLOCK_MONOTONIC). */
static void sim_cb_timer_mod(void *timer, int64_t expire_time, void *opaque)
{
    (void)opaque;
    ((SimTimer *)timer)->expire_ms = expire_time;
}

/* The earliest armed deadline, or INT64_MAX. */
static int64_t sim_timers_next(const SimNet *net)
{
    int64_t next = INT64_MAX;

    for (const SimTimer *t = net->timers; t; t = t->next) {
        if (t->expire_ms >= 0 && t->expire_ms < next) {
            next = t->expire_ms;
        }
    }
    return next;
}

/*
 * Fire every due timer once.  A callback may re-arm or free timers, so the
 * list is rescanned from the head after each one; a fired timer is disarmed
 * first and only runs again if its callback re-armed it for a later time.
 */
static void sim_timers_run(SimNet *net, int64_t now)
{
    SimTimer *t;

    do {
        for (t = net->timers; t; t = t->next) {
            if (t->expire_ms >= 0 && t->expire_ms <= now) {
                break;
            }
        }
        if (t) {
            t->expire_ms = -1;
            if (t->by_id) {
                slirp_handle_timer(t->owner->slirp, t->id, t->cb_opaque);
            } else {
                t->cb(t->cb_opaque);
            }
        }
    } while (t);
}

/* ---- the listen backlog of host-forward sockets (see the top) ------------- */

static uint8_t *sim_fd_state(SimNet *net, int fd)
{
    if (fd < 0) {
        return NULL;
    }
    if ((size_t)fd >= net->fd_state_cap) {
        size_t cap = net->fd_state_cap ? net->fd_state_cap : 1024;
        uint8_t *st;

        while (cap <= (size_t)fd) {
            cap *= 2;
        }
        st = realloc(net->fd_state, cap);
        if (!st) {
            return NULL;    /* not checked this round; tried again next */
        }
        memset(st + net->fd_state_cap, SIM_FD_UNKNOWN,
               cap - net->fd_state_cap);
        net->fd_state = st;
        net->fd_state_cap = cap;
    }
    return &net->fd_state[fd];
}

static void sim_fd_forget(SimNet *net, int fd)
{
    if (fd >= 0 && (size_t)fd < net->fd_state_cap) {
        net->fd_state[fd] = SIM_FD_UNKNOWN;
    }
}

/* Once per socket: if @fd listens, listen() again with net->backlog. */
static void sim_net_raise_backlog(SimNet *net, int fd)
{
    uint8_t *st = sim_fd_state(net, fd);
    int accepting = 0;
    socklen_t len = sizeof(accepting);

    if (!st || *st != SIM_FD_UNKNOWN) {
        return;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 ||
        !accepting) {
        *st = SIM_FD_PLAIN;
        return;
    }
    *st = SIM_FD_LISTENER;
    if (listen(fd, net->backlog) != 0) {
        net->listeners_raise_failed++;
        net->log(net->deliver_opaque, PCFW_LOG_WARN,
                 "cannot raise the backlog of listening fd %d: %s",
                 fd, strerror(errno));
        return;
    }
    net->listeners_raised++;
    net->log(net->deliver_opaque, PCFW_LOG_INFO,
             "listening fd %d: backlog set to %d (slirp uses 1)",
             fd, net->backlog);
}

/* ---- poll integration ------------------------------------------------------ */

/* Append @fd to the poll set; returns its index. */
static int sim_pfd_push(SimNet *net, int fd, short events)
{
    struct pollfd *pfd;

    if (net->npfd == net->pfd_cap) {
        unsigned cap = net->pfd_cap ? net->pfd_cap * 2 : 64;
        struct pollfd *n = realloc(net->pfd, cap * sizeof(*n));

        if (!n) {
            abort();    /* slirp has no way to hear of the failure */
        }
        net->pfd = n;
        net->pfd_cap = cap;
    }
    pfd = &net->pfd[net->npfd];
    pfd->fd = fd;
    pfd->events = events;
    pfd->revents = 0;
    return (int)net->npfd++;
}

static int sim_cb_add_poll(int fd, int events, void *opaque)
{
    SimNet *net = opaque;
    short pev = 0;

    sim_net_raise_backlog(net, fd);
    if (events & SLIRP_POLL_IN) {
        pev |= POLLIN;
    }
    if (events & SLIRP_POLL_OUT) {
        pev |= POLLOUT;
    }
    if (events & SLIRP_POLL_PRI) {
        pev |= POLLPRI;
    }
    /* POLLERR and POLLHUP are always reported. */
    return sim_pfd_push(net, fd, pev);
}

static int sim_cb_get_revents(int idx, void *opaque)
{
    SimNet *net = opaque;
    short rev;
    int events = 0;

    if (idx < 0 || (unsigned)idx >= net->npfd) {
        return 0;
    }
    rev = net->pfd[idx].revents;
    if (rev & POLLIN) {
        events |= SLIRP_POLL_IN;
    }
    if (rev & POLLOUT) {
        events |= SLIRP_POLL_OUT;
    }
    if (rev & POLLPRI) {
        events |= SLIRP_POLL_PRI;
    }
    if (rev & (POLLERR | POLLNVAL)) {
        events |= SLIRP_POLL_ERR;
    }
    if (rev & POLLHUP) {
        events |= SLIRP_POLL_HUP;
    }
    return events;
}

static void sim_cb_register_poll_fd(int fd, void *opaque)
{
    SimNetPort *p = opaque;

    sim_fd_forget(p->net, fd);
}

static void sim_cb_unregister_poll_fd(int fd, void *opaque)
{
    SimNetPort *p = opaque;

    sim_fd_forget(p->net, fd);
}

static void sim_cb_notify(void *opaque)
{
    SimNetPort *p = opaque;

    p->net->kick = true;
}

/* ---- the rest of slirp's callbacks ----------------------------------------- */

/*
 * slirp sends a frame to the card.  Called from inside slirp_input(),
 * slirp_pollfds_poll() and slirp's timers, never from the firmware: queue
 * it for sim_net_flush().  A full queue drops the frame like a full ring;
 * slirp is told it was sent (it has nothing better to do with a failure).
 */
static ssize_t sim_cb_send_packet(const void *buf, size_t len, void *opaque)
{
    SimNetPort *p = opaque;

    sim_queue_push(&p->to_card, buf, len);
    return (ssize_t)len;
}

static void sim_cb_guest_error(const char *msg, void *opaque)
{
    SimNetPort *p = opaque;

    p->net->log(p->net->deliver_opaque, PCFW_LOG_WARN,
                "slirp-%s: guest error: %s", p->name, msg);
}

static int64_t sim_cb_clock_get_ns(void *opaque)
{
    (void)opaque;
    return sim_clock_ns(CLOCK_MONOTONIC);
}

/* slirp_new() calls this before it returns: timers may need ->slirp. */
static void sim_cb_init_completed(Slirp *slirp, void *opaque)
{
    SimNetPort *p = opaque;

    p->slirp = slirp;
}

static const SlirpCb sim_slirp_cb = {
    .send_packet = sim_cb_send_packet,
    .guest_error = sim_cb_guest_error,
    .clock_get_ns = sim_cb_clock_get_ns,
    .timer_new = sim_cb_timer_new,
    .timer_free = sim_cb_timer_free,
    .timer_mod = sim_cb_timer_mod,
    .register_poll_fd = sim_cb_register_poll_fd,
    .unregister_poll_fd = sim_cb_unregister_poll_fd,
    .notify = sim_cb_notify,
    .init_completed = sim_cb_init_completed,
    .timer_new_opaque = sim_cb_timer_new_opaque,
};

/* ---- set-up ---------------------------------------------------------------- */

static const char *const sim_port_name[PCFW_PORT_COUNT] = {
    [PCFW_PORT_NIC] = "nic",
    [PCFW_PORT_BUS] = "bus",
};

/* Attach @p to its TAP device instead of a slirp (see sim_tap.h). */
static int sim_net_port_init_tap(SimNetPort *p, const SimNetPortConfig *pc)
{
    SimNet *net = p->net;
    char err[256];

    p->tap_pfd = -1;
    if (sim_tap_open(&p->tap, pc->tap_name, pc->tap_netns, err,
                     sizeof(err)) != 0) {
        net->log(net->deliver_opaque, PCFW_LOG_ERROR, "tap-%s: %s", p->name,
                 err);
        return -1;
    }
    p->use_tap = true;
    net->log(net->deliver_opaque, PCFW_LOG_INFO,
             "tap-%s: attached to TAP device %s%s%s", p->name, pc->tap_name,
             pc->tap_netns ? " in network namespace " : "",
             pc->tap_netns ? pc->tap_netns : "");
    return 0;
}

static int sim_net_port_init(SimNet *net, enum pcfw_port port,
                             const SimNetPortConfig *pc)
{
    SimNetPort *p = &net->port[port];
    SlirpConfig cfg;

    p->net = net;
    p->port = port;
    p->name = sim_port_name[port];
    p->tap.fd = -1;
    if (sim_queue_init(&p->to_slirp) || sim_queue_init(&p->to_card)) {
        net->log(net->deliver_opaque, PCFW_LOG_ERROR,
                 "slirp-%s: cannot allocate frame queues", p->name);
        return -1;
    }
    if (pc->tap_name) {
        return sim_net_port_init_tap(p, pc);
    }

    memset(&cfg, 0, sizeof(cfg));
    cfg.version = 4;                /* up to disable_dhcp (libslirp 4.7) */
    cfg.restricted = pc->restricted;
    cfg.in_enabled = true;
    cfg.vnetwork = pc->network;
    cfg.vnetmask = pc->netmask;
    cfg.vhost = pc->host;
    cfg.in6_enabled = false;        /* the firmware is IPv4 only */
    cfg.vdhcp_start = pc->dhcp_start;
    cfg.vnameserver = pc->dns;
    cfg.disable_host_loopback = !pc->host_loopback;
    cfg.enable_emu = false;         /* see the top: no listeners of its own */

    p->slirp = slirp_new(&cfg, &sim_slirp_cb, p);
    if (!p->slirp) {
        net->log(net->deliver_opaque, PCFW_LOG_ERROR,
                 "slirp-%s: slirp_new failed", p->name);
        return -1;
    }
    return 0;
}

int sim_net_init(SimNet *net, const SimNetPortConfig cfg[PCFW_PORT_COUNT],
                 int backlog, SimDeliverFn *deliver, SimLogFn *log,
                 void *opaque)
{
    memset(net, 0, sizeof(*net));
    net->deliver = deliver;
    net->log = log;
    net->deliver_opaque = opaque;
    net->backlog = backlog;

    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        if (sim_net_port_init(net, port, &cfg[port]) != 0) {
            sim_net_cleanup(net);
            return -1;
        }
    }
    return 0;
}

int sim_net_add_forward(SimNet *net, enum pcfw_port port,
                        struct in_addr host_addr, int host_port,
                        struct in_addr card_addr, int card_port)
{
    SimNetPort *p = &net->port[port];
    int ret;

    if (!p->slirp) {
        errno = EINVAL;     /* a TAP port: the clients connect themselves */
        return -1;
    }
    errno = 0;
    ret = slirp_add_hostfwd(p->slirp, 0, host_addr, host_port,
                            card_addr, card_port);
    /*
     * The new listening socket may reuse the number of an fd slirp closed
     * without telling us: check every fd again (one getsockopt() each).
     */
    if (net->fd_state_cap) {
        memset(net->fd_state, SIM_FD_UNKNOWN, net->fd_state_cap);
    }
    if (ret < 0 && !errno) {
        errno = EINVAL;
    }
    return ret < 0 ? -1 : 0;
}

void sim_net_cleanup(SimNet *net)
{
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        SimNetPort *p = &net->port[port];

        if (p->slirp) {
            slirp_cleanup(p->slirp);   /* frees its timers through us */
            p->slirp = NULL;
        }
        if (p->use_tap) {
            sim_tap_close(&p->tap);
            p->use_tap = false;
        }
        sim_queue_free(&p->to_slirp);
        sim_queue_free(&p->to_card);
    }
    while (net->timers) {
        SimTimer *t = net->timers;

        net->timers = t->next;
        free(t);
    }
    free(net->pfd);
    net->pfd = NULL;
    net->npfd = net->pfd_cap = 0;
    free(net->fd_state);
    net->fd_state = NULL;
    net->fd_state_cap = 0;
}

/* ---- frames ---------------------------------------------------------------- */

int sim_net_card_send(SimNet *net, enum pcfw_port port,
                      const void *frame, size_t len)
{
    if ((unsigned)port >= PCFW_PORT_COUNT) {
        return -1;
    }
    return sim_queue_push(&net->port[port].to_slirp, frame, len) ? 0 : -1;
}

static bool sim_frame_is_arp(const SimFrame *f)
{
    return f->len >= ETH_TYPE_OFFSET + 2 &&
           ((f->data[ETH_TYPE_OFFSET] << 8) | f->data[ETH_TYPE_OFFSET + 1]) ==
           ETH_TYPE_ARP;
}

/*
 * Write @p's card->TAP frames, as many as were queued on entry.  A frame
 * the kernel does not take is dropped and counted (sim_tap_write()).
 */
static bool sim_net_drain_to_tap(SimNetPort *p)
{
    unsigned n = p->to_slirp.count;

    if (!n) {
        return false;
    }
    while (n--) {
        SimFrame *f = sim_queue_peek(&p->to_slirp);

        if (sim_tap_write(&p->tap, f->data, f->len) != 0 &&
            p->tap.tx_dropped == 1) {
            p->net->log(p->net->deliver_opaque, PCFW_LOG_WARN,
                        "tap-%s: %s did not take a frame: %s (further "
                        "drops only counted)", p->name, p->tap.name,
                        strerror(p->tap.last_tx_errno));
        }
        sim_queue_pop(&p->to_slirp);
    }
    return true;
}

/*
 * Hand @p's card->slirp frames to slirp, as many as were queued on entry.
 * slirp_input() may queue frames for the card (its send_packet), never for
 * slirp.  Returns true if there was anything.
 */
static bool sim_net_drain_to_slirp(SimNetPort *p)
{
    SimNet *net = p->net;
    unsigned n = p->to_slirp.count;
    uint64_t t0;

    if (p->use_tap) {
        return sim_net_drain_to_tap(p);
    }
    if (!n) {
        return false;
    }
    t0 = sim_thread_cpu_ns();
    while (n--) {
        SimFrame *f = sim_queue_peek(&p->to_slirp);

        /*
         * slirp learns MAC addresses from ARP but sends the frames that
         * waited for them only in slirp_pollfds_poll() (if_start()): poll
         * again at once rather than after slirp's timeout.
         */
        if (sim_frame_is_arp(f)) {
            net->kick = true;
        }
        slirp_input(p->slirp, f->data, f->len);
        sim_queue_pop(&p->to_slirp);
    }
    net->slirp_cpu_ns += sim_thread_cpu_ns() - t0;
    return true;
}

/*
 * Hand @p's slirp->card frames to the firmware, as many as were queued on
 * entry.  The firmware may queue frames for slirp, never for itself.
 */
static bool sim_net_drain_to_card(SimNetPort *p)
{
    SimNet *net = p->net;
    unsigned n = p->to_card.count;

    if (!n) {
        return false;
    }
    if (net->batch) {
        net->batch(net->deliver_opaque, true);
    }
    while (n--) {
        SimFrame *f = sim_queue_peek(&p->to_card);

        net->deliver(net->deliver_opaque, p->port, f->data, f->len);
        sim_queue_pop(&p->to_card);
    }
    if (net->batch) {
        net->batch(net->deliver_opaque, false);
    }
    return true;
}

void sim_net_flush(SimNet *net)
{
    bool moved;

    do {
        moved = false;
        for (int port = 0; port < PCFW_PORT_COUNT; port++) {
            moved |= sim_net_drain_to_slirp(&net->port[port]);
            moved |= sim_net_drain_to_card(&net->port[port]);
        }
    } while (moved);
}

bool sim_net_pending(const SimNet *net)
{
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        if (net->port[port].to_slirp.count || net->port[port].to_card.count) {
            return true;
        }
    }
    return false;
}

/* ---- one round of slirp I/O ------------------------------------------------ */

/* Fill the poll set; returns the timeout in ms for ppoll(). */
static uint32_t sim_net_fill(SimNet *net, uint32_t timeout_ms)
{
    int64_t next_timer = sim_timers_next(net);
    uint32_t timeout = timeout_ms;

    if (timeout > SIM_POLL_MAX_MS) {
        timeout = SIM_POLL_MAX_MS;
    }
    if (net->kick) {
        timeout = 0;
        net->kick = false;
    }
    if (next_timer != INT64_MAX) {
        int64_t left = next_timer - sim_now_ms();

        if (left < (int64_t)timeout) {
            timeout = left > 0 ? (uint32_t)left : 0;
        }
    }

    net->npfd = 0;
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        SimNetPort *p = &net->port[port];

        if (p->use_tap) {
            p->tap_pfd = p->tap_gone ? -1 : sim_pfd_push(net, p->tap.fd,
                                                         POLLIN);
            continue;
        }
        /* Shortens timeout to slirp's TCP timers; add_poll's opaque: net. */
        slirp_pollfds_fill(p->slirp, &timeout, sim_cb_add_poll, net);
    }
    return timeout;
}

/*
 * Frames the kernel sent out of @p's TAP, to the card's queue, at most
 * SIM_TAP_READ_BUDGET (then poll again without sleeping).  If the device
 * went away (its namespace deleted: ppoll() reports an error on the fd for
 * ever), stop polling it rather than spin; sends are then dropped.
 */
static void sim_net_read_tap(SimNetPort *p)
{
    SimNet *net = p->net;
    short rev;
    int len;

    if (p->tap_pfd < 0) {
        return;
    }
    rev = net->pfd[p->tap_pfd].revents;
    if (!(rev & (POLLIN | POLLERR | POLLHUP | POLLNVAL))) {
        return;
    }
    for (unsigned i = 0; i < SIM_TAP_READ_BUDGET; i++) {
        len = sim_tap_read(&p->tap, SIM_FRAME_MAX);
        if (len == SIM_TAP_NONE) {
            if (rev & (POLLERR | POLLHUP | POLLNVAL)) {
                p->tap_gone = true;
                net->log(net->deliver_opaque, PCFW_LOG_WARN,
                         "tap-%s: %s reports an error (device gone?): no "
                         "longer read", p->name, p->tap.name);
            }
            return;
        }
        if (len > 0) {
            sim_queue_push(&p->to_card, p->tap.rx_buf, (size_t)len);
        }
    }
    net->kick = true;
}

int sim_net_poll(SimNet *net, uint32_t timeout_ms, const sigset_t *sigmask)
{
    struct timespec ts;
    uint32_t timeout;
    uint64_t t0;
    int n, err = 0;

    t0 = sim_thread_cpu_ns();
    timeout = sim_net_fill(net, timeout_ms);
    net->slirp_cpu_ns += sim_thread_cpu_ns() - t0;

    ts.tv_sec = timeout / 1000;
    ts.tv_nsec = (long)(timeout % 1000) * 1000000;
    n = ppoll(net->pfd, net->npfd, &ts, sigmask);
    if (n < 0) {
        err = errno;
        for (unsigned i = 0; i < net->npfd; i++) {
            net->pfd[i].revents = 0;
        }
    }
    net->poll_rounds++;

    t0 = sim_thread_cpu_ns();
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        SimNetPort *p = &net->port[port];

        if (p->use_tap) {
            if (n > 0) {
                sim_net_read_tap(p);
            }
            continue;
        }
        /* Also runs slirp's TCP timers and sends what waited for ARP. */
        slirp_pollfds_poll(p->slirp, n < 0, sim_cb_get_revents, net);
    }
    sim_timers_run(net, sim_now_ms());
    net->slirp_cpu_ns += sim_thread_cpu_ns() - t0;

    if (n < 0 && err != EINTR) {
        errno = err;
        return -1;
    }
    return 0;
}
