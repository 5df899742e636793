/*
 * proxycard firmware: the entry API (see pcfw.h).
 *
 * Every entry point runs under a fault guard: lwIP's assertions land in
 * pcfw_lwip_assert() (sys.c), which records the fault, marks the firmware
 * stopped and jumps back here, so a firmware bug becomes a reported device
 * state instead of taking the platform (QEMU) down.  After a fault lwIP's
 * state is not trusted again: every entry point is a no-op.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdio.h>
#include <string.h>
#include "lwip/init.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "fw_internal.h"
#include "pool.h"
#include "security.h"
#include "shed.h"

struct pcfw_state pcfw;

/*
 * Enter an entry point: bail out with @ret when the firmware is not running,
 * and arm the fault guard.  Only return values are used after a longjmp, so
 * no local needs to be volatile.
 */
#define PCFW_GUARD(ret)                             \
    jmp_buf guard_;                                 \
    if (!pcfw.initialised || pcfw.stopped) {        \
        return ret;                                 \
    }                                               \
    if (setjmp(guard_)) {                           \
        pcfw.fault_jmp = NULL;                      \
        return ret;                                 \
    }                                               \
    pcfw.fault_jmp = &guard_

#define PCFW_UNGUARD() (pcfw.fault_jmp = NULL)

/*
 * What an entry point leaves to its end, when no lwIP callback runs and no
 * loop holds a client: the pool's connects (they may make lwIP abort an
 * idle client, pool.h), then the clients freed meanwhile.
 */
static void entry_done(void)
{
    pcfw_pool_dial();
    pcfw_client_reap();
}

/*
 * The arena's reserve for lwIP's own state (arena.h, enum pcfw_mem_class):
 * 1/32 of card memory, at least 64 KiB, at most 2 MiB (256 KiB on an
 * 8 MiB card, 2 MiB on the default 64 MiB one: ~7000 pcbs).
 */
static size_t pcfw_mem_reserve(size_t mem_size)
{
    size_t r = mem_size / 32;

    if (r < (64u << 10)) {
        r = 64u << 10;
    }
    return r > (2u << 20) ? (2u << 20) : r;
}

/*
 * TIME_WAIT pcbs may hold 1/16 of card memory (patches/lwip/0001); beyond
 * that the oldest is recycled: 4 MiB and ~13,000 pcbs on the default 64 MiB
 * card, 512 KiB on an 8 MiB one.  Every connection the card closes first
 * leaves one for 2 MSL (120 s): 1,000 closes/s held 35 MB unbounded.
 */
static uint32_t pcfw_tw_max(size_t mem_size)
{
    size_t cost = (sizeof(struct tcp_pcb) + PCFW_ARENA_ALIGN - 1) /
                  PCFW_ARENA_ALIGN * PCFW_ARENA_ALIGN + PCFW_ARENA_OVERHEAD;

    return (uint32_t)(mem_size / 16 / cost);
}

size_t pcfw_mem_mark(uint32_t pct)
{
    return (size_t)((uint64_t)pcfw.mem_size * pct / 100);
}

bool pcfw_mem_above(enum pcfw_watermark wm)
{
    static const char *const what[] = {
        "receive windows held", "new connections refused",
    };
    uint32_t pct = wm == PCFW_WM_WINDOW ? pcfw.cfg.mem_window_pct
                                        : pcfw.cfg.mem_refuse_pct;
    size_t mark = pcfw_mem_mark(pct);
    size_t in_use = pcfw_arena_in_use(pcfw.arena);
    bool above = in_use > mark;

    /* Crossings are logged, at most one per watermark in 10 s: memory
     * hovering at a watermark must not flood the log. */
    if (above != pcfw.wm_above[wm]) {
        uint32_t now = pcfw.plat.now_ms(pcfw.plat.opaque);

        pcfw.wm_above[wm] = above;
        if (pcfw.wm_log_ms[wm] && now - pcfw.wm_log_ms[wm] < 10000) {
            return above;
        }
        pcfw.wm_log_ms[wm] = now | 1;
        pcfw_log(above ? PCFW_LOG_WARN : PCFW_LOG_INFO, "card memory %s %zu "
                 "bytes (%zu in use): %s%s", above ? "above" : "back below",
                 mark, in_use, what[wm], above ? "" : " no more");
    }
    return above;
}

int pcfw_init(const struct pcfw_platform *platform,
              const struct pcfw_config *cfg, void *mem, size_t mem_size)
{
    int err;

    if (pcfw.initialised) {
        return PCFW_ERR_BUSY;
    }
    if (!platform || !platform->send_frame || !platform->now_ms ||
        !platform->log || !cfg || !mem) {
        return PCFW_ERR_ARG;
    }
    if (mem_size < PCFW_MIN_MEM) {
        return PCFW_ERR_NOMEM;
    }
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        if (cfg->port[port].mtu < 576 || cfg->port[port].mtu > PCFW_MAX_MTU) {
            return PCFW_ERR_ARG;
        }
    }

    memset(&pcfw, 0, sizeof(pcfw));
    pcfw.plat = *platform;
    pcfw.cfg = *cfg;
    pcfw.arena = pcfw_arena_init(mem, mem_size);
    if (!pcfw.arena) {
        return PCFW_ERR_NOMEM;
    }
    pcfw_arena_set_reserve(pcfw.arena, pcfw_mem_reserve(mem_size));
    pcfw.mem_size = mem_size;
    /* Seed from what differs between cards and boots. */
    pcfw.rand_state = 0x9e3779b97f4a7c15ull ^ pcfw.plat.now_ms(pcfw.plat.opaque);
    for (int i = 0; i < 6; i++) {
        pcfw.rand_state = (pcfw.rand_state << 8) ^ cfg->port[PCFW_PORT_NIC].mac[i] ^
                          (pcfw.rand_state >> 56);
    }
    pcfw.initialised = true;

    {
        PCFW_GUARD(PCFW_ERR_NOMEM);
        lwip_init();
        tcp_tw_max = pcfw_tw_max(mem_size);
        err = pcfw_ports_init();
        if (err == PCFW_OK) {
            err = pcfw_master_init();
        }
        if (err == PCFW_OK) {
            err = pcfw_pool_init();
        }
        if (err == PCFW_OK) {
            pcfw_sec_init();
            err = pcfw_sec_prepare(&pcfw.cfg);
        }
        if (err == PCFW_OK) {
            pcfw_sec_commit();
        }
        entry_done();
        PCFW_UNGUARD();
    }
    if (err != PCFW_OK) {
        pcfw.stopped = true;
        return err;
    }
    pcfw_log(PCFW_LOG_INFO, "firmware up: %zu bytes of card memory", mem_size);
    return PCFW_OK;
}

void pcfw_input(enum pcfw_port port, const void *frame, size_t len)
{
    PCFW_GUARD();
    pcfw_ports_input(port, frame, len);
    entry_done();
    PCFW_UNGUARD();
}

uint32_t pcfw_poll(void)
{
    uint32_t next, ack;

    PCFW_GUARD(UINT32_MAX);
    sys_check_timeouts();
    /*
     * The clients' delayed ACKs run here, not as an lwIP timeout: nothing
     * is allocated for them (sys_timeout() asserts when its allocation
     * fails) and an idle card has no deadline for them at all.
     */
    ack = pcfw_client_delack_run();
    pcfw_shed_run();
    entry_done();
    next = sys_timeouts_sleeptime();
    if (ack < next) {
        next = ack;
    }
    PCFW_UNGUARD();
    return next;
}

void pcfw_get_stats(struct pcfw_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!pcfw.initialised) {
        return;
    }
    *st = pcfw.st;
    st->proxy = pcfw_pstats;
    if (pcfw.arena) {
        pcfw_arena_stats(pcfw.arena, &st->mem);
        pcfw_pool_stats(&st->proxy.srv_in_use, &st->proxy.srv_idle);
    }
}

static int reconfigure(const char *text, size_t len, char *err, size_t errlen)
{
    struct pcfw_config cfg, old;
    int ret;

    if (errlen) {
        err[0] = '\0';
    }
    if (!pcfw.initialised || pcfw.stopped) {
        snprintf(err, errlen, "the firmware is not running");
        return PCFW_ERR_ARG;
    }
    /*
     * Everything comes from @text alone, on top of the defaults (listeners,
     * limits, timeouts, forwarding, unmatched), except what the card keeps
     * unless @text sets it: the ports' settings (addresses, MACs, MTUs) and
     * the server; the pool is sized at boot.  Starting from the defaults,
     * not from the running configuration, means a setting added later is
     * reset too without being listed here (a reload that omitted `timeout
     * pass-idle` used to keep the old value).
     */
    pcfw_config_defaults(&cfg);
    memcpy(cfg.port, pcfw.cfg.port, sizeof(cfg.port));
    cfg.server_ip = pcfw.cfg.server_ip;
    cfg.pool_size = pcfw.cfg.pool_size;
    if (pcfw_config_parse(&cfg, text, len, err, errlen) != 0) {
        return PCFW_ERR_ARG;
    }
    if (cfg.pool_size != pcfw.cfg.pool_size) {
        snprintf(err, errlen, "'pool' cannot change while the card runs "
                 "(it is %u, sized at boot)", pcfw.cfg.pool_size);
        return PCFW_ERR_ARG;
    }
    {
        PCFW_GUARD(PCFW_ERR_ARG);
        /* What can run short is allocated first: refused whole, or taken. */
        ret = pcfw_sec_prepare(&cfg);
        if (ret != PCFW_OK) {
            PCFW_UNGUARD();
            snprintf(err, errlen, "not applied: %s; the running configuration "
                     "is unchanged", ret == PCFW_ERR_NOMEM
                     ? "its per-source table ('sources') does not fit in "
                       "card memory below 'mem-window'"
                     : "'sources' is below the clients connected now");
            return ret;
        }
        ret = pcfw_pool_prepare(&cfg);
        if (ret != PCFW_OK) {
            pcfw_sec_unprepare();
            PCFW_UNGUARD();
            snprintf(err, errlen, "not applied: %s for its server pools; "
                     "the running configuration is unchanged",
                     pcfw_strerror(ret));
            return ret;
        }
        ret = pcfw_master_prepare(&cfg);
        if (ret != PCFW_OK) {
            pcfw_pool_unprepare();
            pcfw_sec_unprepare();
            PCFW_UNGUARD();
            snprintf(err, errlen, "not applied: %s opening its listeners (see "
                     "the card's log); the running configuration is unchanged",
                     pcfw_strerror(ret));
            return ret;
        }
        /* From here on nothing can fail. */
        old = pcfw.cfg;
        pcfw.cfg = cfg;
        pcfw_ports_apply(&old);
        pcfw_master_commit();
        pcfw_pool_commit(&old);
        pcfw_sec_commit();
        entry_done();
        PCFW_UNGUARD();
    }
    pcfw_log(PCFW_LOG_INFO, "configuration loaded: %u listeners",
             cfg.n_listeners);
    return PCFW_OK;
}

int pcfw_reconfigure(const char *text, size_t len, char *err, size_t errlen)
{
    int ret = reconfigure(text, len, err, errlen);

    /* The host has the reason; the card's own log has it too. */
    if (ret != PCFW_OK) {
        pcfw_log(PCFW_LOG_ERROR, "configuration refused: %s",
                 errlen ? err : pcfw_strerror(ret));
    }
    return ret;
}

const char *pcfw_fault(void)
{
    return pcfw.fault[0] ? pcfw.fault : NULL;
}

void pcfw_shutdown(void)
{
    if (!pcfw.initialised || pcfw.stopped) {
        pcfw.stopped = true;
        return;
    }
    {
        PCFW_GUARD();
        pcfw_master_shutdown();
        pcfw_pool_shutdown();
        pcfw_sec_shutdown();
        pcfw_client_reap();
        pcfw_ports_shutdown();
        PCFW_UNGUARD();
    }
    pcfw_log(PCFW_LOG_INFO, "firmware stopped");
    pcfw.stopped = true;
    pcfw.arena = NULL;          /* card memory goes back to the platform */
}

const char *pcfw_strerror(int err)
{
    switch (err) {
    case PCFW_OK:
        return "success";
    case PCFW_ERR_BUSY:
        return "the firmware was already started in this process "
               "(lwIP keeps global state: one card per process)";
    case PCFW_ERR_ARG:
        return "invalid platform or configuration";
    case PCFW_ERR_NOMEM:
        return "card memory too small";
    default:
        return "unknown error";
    }
}
