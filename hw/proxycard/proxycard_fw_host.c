/*
 * proxycard: the card CPU — the firmware thread and its platform.
 *
 * The firmware (guest-fw/, on lwIP) runs in one QEMU thread per card, like a
 * card's own processor: it owns card memory and every lwIP structure.  Other
 * threads reach it only through
 *   - fw_requests / test_vectors (atomics) plus proxycard_fw_wake(), which
 *     posts fw_sem once for any number of wake-ups,
 *   - the reset handshake (reset_req/reset_ack under fw_lock, fw_cond),
 * and it reaches them only through proxycard_raise() (atomics + a BH).
 * It never takes the BQL, so the BQL holder may wait for it (reset, exit).
 *
 * Time: the firmware's clock (sys_now) is QEMU_CLOCK_VIRTUAL in ms.  lwIP's
 * timers stop while the VM is stopped, and qtest drives them with
 * clock_step; fw_timer (on the same clock) posts fw_sem when the next lwIP
 * timeout is due, so the thread sleeps without polling.
 *
 * fork(): QEMU's device fuzzer (tests/qtest/fuzz/generic_fuzz.c) forks the
 * whole process for every input; the child inherits the card but not its
 * thread, so a reset there would wait for the firmware forever.  In a
 * fuzzing build (CONFIG_FUZZ) the card is fork-safe: see "fork safety"
 * below.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/rcu.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "pcfw.h"
#include "proxycard.h"
#include "proxycard_regs.h"
#include "trace.h"

/* ---- the platform interface (pcfw_platform.h), on the firmware thread ---- */

static int proxycard_plat_send(void *opaque, enum pcfw_port port,
                               const void *frame, size_t len)
{
    ProxyCardState *s = opaque;

    if (port == PCFW_PORT_NIC) {
        return proxycard_nic_send(s, frame, len);
    }
    return proxycard_bus_send(s, frame, len);
}

static uint32_t proxycard_plat_now_ms(void *opaque)
{
    return (uint32_t)qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL);
}

/*
 * The firmware's errors go to QEMU's stderr, at most PROXYCARD_LOG_BURST
 * lines a second (host time): a guest (repeated LOAD_CONFIG) or a network
 * peer that makes the firmware fail again and again must not flood it.
 * Lines over the budget are counted and reported as one "N messages
 * suppressed" line once the second has passed, before the next error line
 * or at the next firmware pass.  The trace event and the firmware's own
 * log (READ_LOG) keep every line.
 */
#define PROXYCARD_LOG_BURST     10

/* Firmware thread: open a new second if this one is over; report. */
static void proxycard_log_window(ProxyCardState *s, int64_t now)
{
    if (now - s->log_window_ms < 1000) {
        return;
    }
    if (s->log_suppressed) {
        error_report("proxycard: firmware: %u messages suppressed",
                     s->log_suppressed);
        s->log_suppressed = 0;
    }
    s->log_window_ms = now;
    s->log_printed = 0;
}

static void proxycard_plat_log(void *opaque, enum pcfw_log_level level,
                               const char *msg)
{
    ProxyCardState *s = opaque;

    trace_proxycard_fw_log(level, msg);
    proxycard_ctl_log(s, level, msg);
    if (level != PCFW_LOG_ERROR) {
        return;
    }
    proxycard_log_window(s, qemu_clock_get_ms(QEMU_CLOCK_REALTIME));
    if (s->log_printed < PROXYCARD_LOG_BURST) {
        s->log_printed++;
        error_report("proxycard: firmware: %s", msg);
    } else {
        s->log_suppressed++;
    }
}

/* Copied, with .opaque set to the card, when the firmware starts. */
static const struct pcfw_platform proxycard_platform = {
    .send_frame = proxycard_plat_send,
    .now_ms = proxycard_plat_now_ms,
    .log = proxycard_plat_log,
};

/* ---- configuration ---- */

/*
 * The defaults the card boots with, before config=FILE: the network port
 * where QEMU's user networking expects a guest (10.0.2.15/24, gateway
 * 10.0.2.2), the bus port on 10.76.0.2/24 with the server (the host) at
 * 10.76.0.1.  docs/config.md.
 */
static const char proxycard_default_config[] =
    "nic address 10.0.2.15/24 gateway 10.0.2.2\n"
    "bus address 10.76.0.2/24\n"
    "server 10.76.0.1\n";

#define PROXYCARD_MAX_CONFIG    (64 * KiB)

/*
 * Read config=FILE into @text (g_free) and its length into @len.  The size is
 * checked before reading: a regular file by its size, anything else (a pipe,
 * a character device such as /dev/zero) by reading at most one byte more
 * than the limit, so that a huge or endless file is refused without QEMU
 * allocating or reading more than 64 KiB.
 */
static bool proxycard_read_config(const char *path, char **text, size_t *len,
                                  Error **errp)
{
    ERRP_GUARD();
    g_autofree char *buf = NULL;
    struct stat st;
    size_t got = 0;
    int fd;

    fd = qemu_open(path, O_RDONLY, errp);
    if (fd < 0) {
        error_prepend(errp, "config: ");
        return false;
    }
    if (fstat(fd, &st) < 0) {
        error_setg_errno(errp, errno, "config: %s", path);
        close(fd);
        return false;
    }
    if (S_ISREG(st.st_mode) && st.st_size > PROXYCARD_MAX_CONFIG) {
        error_setg(errp, "config: %s is %" PRId64 " bytes, larger than the "
                   "64 KiB a card configuration may have", path,
                   (int64_t)st.st_size);
        close(fd);
        return false;
    }
    buf = g_malloc(PROXYCARD_MAX_CONFIG + 1);
    while (got <= PROXYCARD_MAX_CONFIG) {
        ssize_t n = read(fd, buf + got, PROXYCARD_MAX_CONFIG + 1 - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            error_setg_errno(errp, errno, "config: cannot read %s", path);
            close(fd);
            return false;
        }
        if (n == 0) {
            break;
        }
        got += n;
    }
    close(fd);
    if (got > PROXYCARD_MAX_CONFIG) {
        error_setg(errp, "config: %s is larger than the 64 KiB a card "
                   "configuration may have", path);
        return false;
    }
    buf[got] = '\0';
    *text = g_steal_pointer(&buf);
    *len = got;
    return true;
}

/* Build s->fw_cfg from the defaults, the MACs and config=FILE.  Realize. */
bool proxycard_fw_configure(ProxyCardState *s, Error **errp)
{
    struct pcfw_config *cfg = &s->fw_cfg;
    g_autofree char *text = NULL;
    char err[256];
    size_t len;

    pcfw_config_defaults(cfg);
    pcfw_config_parse(cfg, proxycard_default_config,
                      sizeof(proxycard_default_config) - 1, err, sizeof(err));
    memcpy(cfg->port[PCFW_PORT_NIC].mac, s->conf.macaddr.a, 6);
    /* The bus port's MAC: the NIC's, locally administered. */
    memcpy(cfg->port[PCFW_PORT_BUS].mac, s->conf.macaddr.a, 6);
    cfg->port[PCFW_PORT_BUS].mac[0] |= 0x02;
    cfg->port[PCFW_PORT_BUS].mac[5] ^= 0x01;
    /* The bus link carries jumbo frames (REG_BUS_MTU). */
    cfg->port[PCFW_PORT_BUS].mtu = PROXYCARD_BUS_MTU;

    if (!s->config_path) {
        return true;
    }
    if (!proxycard_read_config(s->config_path, &text, &len, errp)) {
        return false;
    }
    if (pcfw_config_parse(cfg, text, len, err, sizeof(err)) != 0) {
        error_setg(errp, "config: %s: %s", s->config_path, err);
        return false;
    }
    return true;
}

/* ---- statistics ---- */

/* CPU time of the firmware threads before this one (fork safety, below). */
static uint64_t proxycard_fw_cpu_base_ns;

/* Firmware thread: publish a snapshot for readers on other threads. */
static void proxycard_fw_publish(ProxyCardState *s)
{
    struct pcfw_stats st;
    struct timespec ts;

    pcfw_get_stats(&st);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    qemu_mutex_lock(&s->stats_lock);
    s->stats = st;
    s->fw_cpu_ns = proxycard_fw_cpu_base_ns +
        (uint64_t)ts.tv_sec * NANOSECONDS_PER_SECOND + ts.tv_nsec;
    qemu_mutex_unlock(&s->stats_lock);
}

/* Any thread: the last snapshot, as the list of proxycard_stats.h. */
void proxycard_stats_values(ProxyCardState *s, uint64_t v[PROXYCARD_STAT_COUNT])
{
    struct pcfw_stats st;
    const struct pcfw_proxy_stats *p = &st.proxy;

    qemu_mutex_lock(&s->stats_lock);
    st = s->stats;
    v[PROXYCARD_STAT_CARD_CPU_NS] = s->fw_cpu_ns;
    qemu_mutex_unlock(&s->stats_lock);

    v[PROXYCARD_STAT_MEM_SIZE] = st.mem.size;
    v[PROXYCARD_STAT_MEM_IN_USE] = st.mem.in_use;
    v[PROXYCARD_STAT_MEM_HIGH_WATER] = st.mem.high_water;
    v[PROXYCARD_STAT_MEM_FAILURES] = st.mem.failures;
    v[PROXYCARD_STAT_CLIENTS_ACTIVE] = p->clients_active;
    v[PROXYCARD_STAT_CLIENTS_ACCEPTED] = p->clients_accepted;
    v[PROXYCARD_STAT_CLIENTS_REFUSED] = p->clients_refused;
    v[PROXYCARD_STAT_REQUESTS] = p->requests;
    for (int c = 1; c <= 5; c++) {
        v[PROXYCARD_STAT_RESPONSES_1XX + c - 1] = p->responses[c];
    }
    v[PROXYCARD_STAT_ERRORS] = p->errors;
    v[PROXYCARD_STAT_RETRIES] = p->retries;
    v[PROXYCARD_STAT_SEC_ACL_DENIED] = p->sec_acl_denied;
    v[PROXYCARD_STAT_SEC_CONN_LIMITED] = p->sec_conn_limited;
    v[PROXYCARD_STAT_SEC_RATE_LIMITED] = p->sec_rate_limited;
    v[PROXYCARD_STAT_SEC_TABLE_FULL] = p->sec_table_full;
    v[PROXYCARD_STAT_SEC_REQ_LIMITED] = p->sec_req_limited;
    v[PROXYCARD_STAT_SEC_HTTP_DENIED] = p->sec_http_denied;
    v[PROXYCARD_STAT_SEC_AUTH_FAILED] = p->sec_auth_failed;
    v[PROXYCARD_STAT_SEC_SOURCES] = p->sec_sources;
    v[PROXYCARD_STAT_SEC_SOURCES_EVICTED] = p->sec_sources_evicted;
    v[PROXYCARD_STAT_CLIENTS_SHED] = p->clients_shed;
    QEMU_BUILD_BUG_ON(PROXYCARD_STAT_COUNT - PROXYCARD_STAT_SEC_RULE_1 !=
                      PCFW_SEC_RULE_COUNTERS);
    for (int r = 0; r < PCFW_SEC_RULE_COUNTERS; r++) {
        v[PROXYCARD_STAT_SEC_RULE_1 + r] = p->sec_rule_hits[r];
    }
    v[PROXYCARD_STAT_BYTES_FROM_CLIENTS] = p->bytes_from_clients;
    v[PROXYCARD_STAT_BYTES_TO_CLIENTS] = p->bytes_to_clients;
    v[PROXYCARD_STAT_BYTES_TO_SERVER] = p->bytes_to_server;
    v[PROXYCARD_STAT_BYTES_FROM_SERVER] = p->bytes_from_server;
    v[PROXYCARD_STAT_SERVER_CONNECTS] = p->srv_connects;
    v[PROXYCARD_STAT_SERVER_CONNECT_FAILURES] = p->srv_connect_failures;
    v[PROXYCARD_STAT_SERVER_IN_USE] = p->srv_in_use;
    v[PROXYCARD_STAT_SERVER_IDLE] = p->srv_idle;
    v[PROXYCARD_STAT_NIC_RX_FRAMES] = st.rx_frames[PCFW_PORT_NIC];
    v[PROXYCARD_STAT_NIC_TX_FRAMES] = st.tx_frames[PCFW_PORT_NIC];
    v[PROXYCARD_STAT_NIC_RX_DROPPED] = st.rx_dropped[PCFW_PORT_NIC] +
                                       qatomic_read(&s->nic_rx_dropped);
    v[PROXYCARD_STAT_NIC_TX_DROPPED] = st.tx_dropped[PCFW_PORT_NIC];
    v[PROXYCARD_STAT_BUS_RX_FRAMES] = st.rx_frames[PCFW_PORT_BUS];
    v[PROXYCARD_STAT_BUS_TX_FRAMES] = st.tx_frames[PCFW_PORT_BUS];
    v[PROXYCARD_STAT_BUS_RX_DROPPED] = st.rx_dropped[PCFW_PORT_BUS];
    v[PROXYCARD_STAT_BUS_TX_DROPPED] = st.tx_dropped[PCFW_PORT_BUS];
}

/* ---- the firmware thread ---- */

/*
 * Wake the firmware thread up.  Any thread, after publishing the work
 * (a doorbell, a request bit, a queued frame, a handshake).  Wake-ups
 * coalesce: fw_sem is posted only on fw_wake's 0 -> 1, so it holds at most
 * one count however many doorbells, test interrupts, commands or NIC
 * frames arrive while the firmware is busy or holding (qemu_sem_post
 * aborts QEMU at UINT_MAX counts, qemu-thread-posix.c).  The firmware
 * clears fw_wake after each wake-up and before it looks at the work (full
 * barrier on both sides): a wake that finds fw_wake set and does not post
 * published its work before the firmware cleared it, so the pass about to
 * run sees that work.
 */
void proxycard_fw_wake(ProxyCardState *s)
{
    if (!qatomic_xchg(&s->fw_wake, 1)) {
        qemu_sem_post(&s->fw_sem);
    }
}

/* Serve the host's requests: test interrupts. */
static void proxycard_fw_requests(ProxyCardState *s)
{
    uint32_t req = qatomic_xchg(&s->fw_requests, 0);

    if (req & PROXYCARD_REQ_TEST_INTR) {
        uint32_t vecs = qatomic_xchg(&s->test_vectors, 0);

        while (vecs) {
            unsigned vec = ctz32(vecs);

            vecs &= vecs - 1;
            qatomic_inc(&s->test_intr_count);
            proxycard_raise(s, vec, PROXYCARD_INTR_TEST);
        }
    }
}

/*
 * Complete a reset the host asked for: drop every host-facing request and
 * acknowledge, so that nothing from before the reset reaches the host after
 * it.  Connections on the network side are the firmware's and survive.
 */
static void proxycard_fw_reset_ack(ProxyCardState *s)
{
    uint32_t req;

    qemu_mutex_lock(&s->fw_lock);
    req = s->reset_req;
    qemu_mutex_unlock(&s->fw_lock);
    if (req == s->reset_ack) {
        return;
    }

    proxycard_set_fw_state(s, PROXYCARD_FW_RESETTING);
    qatomic_set(&s->fw_requests, 0);
    qatomic_set(&s->test_vectors, 0);
    proxycard_bus_fw_reset(s);
    proxycard_set_fw_state(s, pcfw_fault() ? PROXYCARD_FW_FAILED
                                            : PROXYCARD_FW_RUNNING);

    qemu_mutex_lock(&s->fw_lock);
    s->reset_ack = req;
    qemu_cond_broadcast(&s->fw_cond);
    qemu_mutex_unlock(&s->fw_lock);
}

/*
 * Acknowledge sync requests: at the top of the loop no pass over the rings
 * or a command is in progress, so everything the host stopped before asking
 * has stopped for good.
 */
static void proxycard_fw_sync_ack(ProxyCardState *s)
{
    qemu_mutex_lock(&s->fw_lock);
    if (s->sync_ack != s->sync_req) {
        s->sync_ack = s->sync_req;
        qemu_cond_broadcast(&s->fw_cond);
    }
    qemu_mutex_unlock(&s->fw_lock);
}

/*
 * Fork safety (the state of the one card: proxycard.c refuses a second).
 * Under fw_lock: park_req asks the thread to stop at the top of its loop,
 * parked says it has.  See proxycard_fw_atfork_prepare().
 */
static ProxyCardState *proxycard_fw_card;   /* BQL: the running card */
static bool proxycard_fw_park_req;          /* atomic read, set under fw_lock */
static bool proxycard_fw_parked;            /* fw_lock */

/*
 * Firmware thread, at the top of its loop: wait here while a fork() is in
 * progress.  No pass over the rings, no command, no RCU read-side critical
 * section and no lock is in progress here, and lwIP is between two calls:
 * a consistent state for a child to take over.
 */
static void proxycard_fw_park(ProxyCardState *s)
{
    if (!qatomic_read(&proxycard_fw_park_req)) {
        return;
    }
    qemu_mutex_lock(&s->fw_lock);
    while (proxycard_fw_park_req) {
        proxycard_fw_parked = true;
        qemu_cond_broadcast(&s->fw_cond);
        qemu_cond_wait(&s->fw_cond, &s->fw_lock);
    }
    proxycard_fw_parked = false;
    qemu_mutex_unlock(&s->fw_lock);
}

/*
 * Firmware thread, between two frames or steps of a pass: is a BQL holder
 * waiting for the top of the loop (CONTROL.RESET, machine reset,
 * BUS_CONTROL = 0, a ring error from a register write, exit)?  Then the
 * pass ends there, and the rest waits for the next one: the waiter, a vCPU
 * or the main loop holding the BQL, waits for at most the one frame (or
 * command, or round of lwIP timers) in progress, not for a ring of 4,095
 * jumbo frames and a full NIC queue.  This keeps reset and link disable
 * synchronous, as the datasheet promises (no DMA after the write
 * completes), while bounding the time a vCPU spends in the write.
 */
bool proxycard_fw_yield(ProxyCardState *s)
{
    /* The acks are this thread's own. */
    return qatomic_read(&s->reset_req) != s->reset_ack ||
           qatomic_read(&s->sync_req) != s->sync_ack ||
           qatomic_read(&s->fw_stop);
}

/* One pass over the card's work; false if it ended early (yield). */
static bool proxycard_fw_pass(ProxyCardState *s, uint32_t *next_ms)
{
    proxycard_fw_requests(s);
    proxycard_nic_drain(s);
    proxycard_bus_run(s);
    if (proxycard_fw_yield(s)) {
        return false;
    }
    proxycard_ctl_run(s);
    if (proxycard_fw_yield(s)) {
        return false;
    }
    *next_ms = pcfw_poll();
    return true;
}

/*
 * Firmware thread, at the top of its loop: while the VM is stopped (paused,
 * or not started yet) the card holds here.  It runs no firmware and does no
 * DMA, so nothing lands in guest memory while the VM is stopped (the
 * firmware's clock, the virtual clock, stands still then anyway).  It only
 * answers the reset and sync handshakes, which touch no guest memory, so
 * that a machine reset, or a register write by qtest or the gdbstub, while
 * stopped still completes.  True if it returns with the VM still stopped
 * (exit, or a fork to park for): the caller goes back to the top of its loop.
 */
static bool proxycard_fw_hold(ProxyCardState *s)
{
    bool stopped;

    if (!qatomic_read(&s->vm_stopped)) {
        return false;
    }
    trace_proxycard_fw_hold(true);
    qemu_mutex_lock(&s->fw_lock);
    while (s->vm_stopped && !qatomic_read(&s->fw_stop) &&
           !qatomic_read(&proxycard_fw_park_req)) {
        if (s->reset_req != s->reset_ack || s->sync_req != s->sync_ack) {
            qemu_mutex_unlock(&s->fw_lock);
            proxycard_fw_reset_ack(s);
            proxycard_fw_sync_ack(s);
            qemu_mutex_lock(&s->fw_lock);
        } else {
            qemu_cond_wait(&s->fw_cond, &s->fw_lock);
        }
    }
    stopped = s->vm_stopped;
    qemu_mutex_unlock(&s->fw_lock);
    trace_proxycard_fw_hold(false);
    return stopped;
}

/* Firmware thread: run the booted firmware until asked to stop. */
static void proxycard_fw_loop(ProxyCardState *s)
{
    while (!qatomic_read(&s->fw_stop)) {
        uint32_t next_ms = UINT32_MAX;
        int64_t next_ns;
        bool done;

        proxycard_fw_park(s);
        if (proxycard_fw_hold(s)) {
            continue;
        }
        proxycard_fw_reset_ack(s);
        proxycard_fw_sync_ack(s);
        done = proxycard_fw_pass(s, &next_ms);
        proxycard_bus_end_pass(s);
        proxycard_fw_publish(s);
        if (s->log_suppressed) {
            proxycard_log_window(s, qemu_clock_get_ms(QEMU_CLOCK_REALTIME));
        }
        if (pcfw_fault() &&
            qatomic_read(&s->fw_state) != PROXYCARD_FW_FAILED) {
            proxycard_set_fw_state(s, PROXYCARD_FW_FAILED);
        }
        if (!done) {
            continue;           /* someone waits at the top of the loop */
        }
        next_ns = proxycard_bus_deadline(s);
        if (next_ms != UINT32_MAX) {
            next_ns = MIN(next_ns, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                                   (int64_t)next_ms * SCALE_MS);
        }
        if (next_ns == INT64_MAX) {
            timer_del(s->fw_timer);
        } else {
            timer_mod(s->fw_timer, next_ns);
        }
        qemu_sem_wait(&s->fw_sem);
        trace_proxycard_fw_wakeup();
        qatomic_set(&s->fw_wake, 0);
        smp_mb();   /* clear before looking at the work: proxycard_fw_wake() */
    }
    pcfw_shutdown();
}

/*
 * Firmware thread, last: answer any reset or sync still waiting, then let
 * exit join us.
 */
static void proxycard_fw_exited(ProxyCardState *s)
{
    qemu_mutex_lock(&s->fw_lock);
    s->reset_ack = s->reset_req;
    s->sync_ack = s->sync_req;
    s->fw_exited = true;
    qemu_cond_broadcast(&s->fw_cond);
    qemu_mutex_unlock(&s->fw_lock);
}

static void *proxycard_fw_thread(void *opaque)
{
    ProxyCardState *s = opaque;
    struct pcfw_platform platform = proxycard_platform;
    int err;

    rcu_register_thread();

    platform.opaque = s;
    err = pcfw_init(&platform, &s->fw_cfg, s->card_mem, s->mem_size);
    proxycard_fw_publish(s);
    proxycard_set_fw_state(s, err ? PROXYCARD_FW_FAILED : PROXYCARD_FW_RUNNING);
    qemu_mutex_lock(&s->fw_lock);
    s->fw_init_err = err;
    s->fw_booted = true;
    qemu_cond_broadcast(&s->fw_cond);
    qemu_mutex_unlock(&s->fw_lock);

    if (!err) {
        proxycard_fw_loop(s);
    }
    proxycard_fw_exited(s);

    rcu_unregister_thread();
    return NULL;
}

#ifdef CONFIG_FUZZ
/*
 * ---- fork safety (fuzzing builds) ----
 *
 * generic-fuzz forks for every input and runs the input in the child, so the
 * child must have a card CPU of its own.  pthread_atfork handlers:
 *   prepare  (forking thread, BQL held): park the firmware thread at the top
 *            of its loop (proxycard_fw_park) and keep fw_lock across fork();
 *   parent:  release the thread; it goes on with its loop;
 *   child:   re-initialise fw_lock, fw_cond and fw_sem (the parked thread
 *            is a waiter on fw_cond that does not exist here; fw_sem keeps
 *            its count) and start a new firmware thread that resumes the
 *            loop on the inherited firmware state, without pcfw_init.
 * This is what QEMU's RCU does for its call_rcu thread (util/rcu.c,
 * rcu_init_child: re-initialise its locks, start a new thread), re-enabled
 * by the fuzzer after qemu_init (tests/qtest/fuzz/fuzz.c).  Our handlers are
 * registered at realize, after RCU's (a constructor): our prepare runs before
 * RCU takes its locks, our child handler after RCU has reset its registry,
 * so the new thread's rcu_register_thread() joins the child's registry.
 * Lock order stays BQL, then fw_lock.  Only in fuzzing builds: a normal QEMU
 * forks only to exec (or to daemonize before any device exists), where a
 * second firmware would be wrong.
 */
static void *proxycard_fw_thread_forked(void *opaque)
{
    ProxyCardState *s = opaque;

    rcu_register_thread();
    proxycard_fw_loop(s);
    proxycard_fw_exited(s);
    rcu_unregister_thread();
    return NULL;
}

static void proxycard_fw_atfork_prepare(void)
{
    ProxyCardState *s = proxycard_fw_card;

    if (!s) {
        return;
    }
    qemu_mutex_lock(&s->fw_lock);
    if (s->fw_exited) {
        return;
    }
    qatomic_set(&proxycard_fw_park_req, true);
    qemu_cond_broadcast(&s->fw_cond);   /* a thread holding for a stopped VM */
    proxycard_fw_wake(s);
    while (!proxycard_fw_parked && !s->fw_exited) {
        qemu_cond_wait(&s->fw_cond, &s->fw_lock);
    }
    /* fw_lock stays held across fork(). */
}

static void proxycard_fw_atfork_parent(void)
{
    ProxyCardState *s = proxycard_fw_card;

    if (!s) {
        return;
    }
    qatomic_set(&proxycard_fw_park_req, false);
    qemu_cond_broadcast(&s->fw_cond);
    qemu_mutex_unlock(&s->fw_lock);
}

static void proxycard_fw_atfork_child(void)
{
    ProxyCardState *s = proxycard_fw_card;
    bool resume;

    if (!s) {
        return;
    }
    resume = proxycard_fw_parked && !s->fw_exited;
    qatomic_set(&proxycard_fw_park_req, false);
    proxycard_fw_parked = false;

    memset(&s->fw_lock, 0, sizeof(s->fw_lock));
    memset(&s->fw_cond, 0, sizeof(s->fw_cond));
    memset(&s->fw_sem, 0, sizeof(s->fw_sem));
    qemu_mutex_init(&s->fw_lock);
    qemu_cond_init(&s->fw_cond);
    /* One more pass: whatever the parked thread had not looked at yet. */
    qemu_sem_init(&s->fw_sem, 1);
    qatomic_set(&s->fw_wake, 1);

    if (resume) {
        proxycard_fw_cpu_base_ns = s->fw_cpu_ns;
        qemu_thread_create(&s->fw_thread, "proxycard-fw",
                           proxycard_fw_thread_forked, s,
                           QEMU_THREAD_JOINABLE);
    }
}

static void proxycard_fw_register_atfork(void)
{
    static bool registered;

    if (!registered) {
        pthread_atfork(proxycard_fw_atfork_prepare, proxycard_fw_atfork_parent,
                       proxycard_fw_atfork_child);
        registered = true;
    }
}
#endif /* CONFIG_FUZZ */

/* fw_timer callback (main loop): lwIP's next timeout is due. */
static void proxycard_fw_timer_cb(void *opaque)
{
    ProxyCardState *s = opaque;

    proxycard_fw_wake(s);
}

/*
 * Allocate card memory and boot the firmware; wait until it is up so that a
 * firmware that cannot start fails realize with its reason.  False (with
 * @errp set, nothing left running or allocated) if it cannot.  BQL held.
 */
bool proxycard_fw_start(ProxyCardState *s, Error **errp)
{
    int err;

    s->card_mem = g_try_malloc(s->mem_size);
    if (!s->card_mem) {
        error_setg(errp, "cannot allocate %" PRIu64 " bytes of card memory "
                   "(mem-size)", s->mem_size);
        return false;
    }
    s->fw_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, proxycard_fw_timer_cb, s);
    s->fw_stop = false;
    s->fw_wake = 0;
    s->log_window_ms = INT64_MIN / 2;   /* the first line opens a second */
    s->log_printed = s->log_suppressed = 0;
    s->fw_booted = s->fw_exited = false;
    s->reset_req = s->reset_ack = 0;
    s->sync_req = s->sync_ack = 0;
    /* Realized before the VM runs (-S): hold until it does. */
    s->vm_stopped = !runstate_is_running();
    qatomic_set(&s->fw_state, PROXYCARD_FW_BOOTING);

    qemu_thread_create(&s->fw_thread, "proxycard-fw", proxycard_fw_thread, s,
                       QEMU_THREAD_JOINABLE);

    qemu_mutex_lock(&s->fw_lock);
    while (!s->fw_booted) {
        qemu_cond_wait(&s->fw_cond, &s->fw_lock);
    }
    err = s->fw_init_err;
    qemu_mutex_unlock(&s->fw_lock);

    if (err) {
        error_setg(errp, "card firmware failed to start: %s",
                   pcfw_strerror(err));
        qatomic_set(&s->error, PROXYCARD_ERR_FW_INIT);
        proxycard_fw_stop(s);
        return false;
    }
    proxycard_fw_card = s;
#ifdef CONFIG_FUZZ
    proxycard_fw_register_atfork();
#endif
    return true;
}

/* Stop and join the firmware thread, free card memory.  BQL held. */
void proxycard_fw_stop(ProxyCardState *s)
{
    if (!s->card_mem) {
        return;
    }
    if (proxycard_fw_card == s) {
        proxycard_fw_card = NULL;
    }
    qemu_mutex_lock(&s->fw_lock);
    qatomic_set(&s->fw_stop, true);
    qemu_cond_broadcast(&s->fw_cond);   /* a thread holding for a stopped VM */
    qemu_mutex_unlock(&s->fw_lock);
    proxycard_fw_wake(s);
    qemu_thread_join(&s->fw_thread);

    timer_free(s->fw_timer);
    s->fw_timer = NULL;
    g_free(s->card_mem);
    s->card_mem = NULL;
    qatomic_set(&s->fw_state, PROXYCARD_FW_OFF);
}

/*
 * Wait until the firmware has finished the frame or command it may be in
 * (proxycard_fw_yield ends its pass there): what the caller stopped before
 * calling has stopped.  BQL held; the firmware never takes the BQL.
 */
void proxycard_fw_sync(ProxyCardState *s)
{
    uint32_t seq;

    if (!s->card_mem) {
        return;
    }
    qemu_mutex_lock(&s->fw_lock);
    seq = s->sync_req + 1;
    qatomic_set(&s->sync_req, seq);
    qemu_cond_broadcast(&s->fw_cond);   /* a thread holding for a stopped VM */
    proxycard_fw_wake(s);
    while (s->sync_ack != seq && !s->fw_exited) {
        qemu_cond_wait(&s->fw_cond, &s->fw_lock);
    }
    qemu_mutex_unlock(&s->fw_lock);
}

/*
 * Reset handshake: ask the firmware to drop host-facing state and wait until
 * it has (or has exited).  BQL held; the firmware never takes the BQL, so
 * this cannot deadlock.
 */
void proxycard_fw_reset(ProxyCardState *s)
{
    uint32_t seq;

    if (!s->card_mem) {
        return;
    }
    qemu_mutex_lock(&s->fw_lock);
    seq = s->reset_req + 1;
    qatomic_set(&s->reset_req, seq);
    trace_proxycard_reset_request(seq);
    qemu_cond_broadcast(&s->fw_cond);   /* a thread holding for a stopped VM */
    proxycard_fw_wake(s);
    while (s->reset_ack != seq && !s->fw_exited) {
        qemu_cond_wait(&s->fw_cond, &s->fw_lock);
    }
    qemu_mutex_unlock(&s->fw_lock);
    trace_proxycard_reset_done(seq);
}

/*
 * The VM starts or stops (its change-state handler, BQL held).  Stopping
 * waits, like BUS_CONTROL = 0, for the frame or command the firmware is
 * working on: once it returns the card does no DMA, and runs no firmware,
 * until the VM runs again (proxycard_fw_hold).
 */
void proxycard_fw_vm_running(ProxyCardState *s, bool running)
{
    if (!s->card_mem) {
        return;
    }
    qemu_mutex_lock(&s->fw_lock);
    qatomic_set(&s->vm_stopped, !running);
    qemu_cond_broadcast(&s->fw_cond);
    qemu_mutex_unlock(&s->fw_lock);
    if (!running) {
        proxycard_fw_sync(s);
    }
}
