/*
 * proxycard firmware: giving up the slowest readers under memory pressure
 * (docs/firmware.md, "Slow readers under memory pressure").
 *
 * Above `mem-window` the card holds every receive window shut, the
 * servers' too: a pooled connection whose response waits for card memory
 * stalls mid-response.  If the memory is held by clients that read their
 * responses slowly (slowhttptest -X: 32 bytes every 2 s), only those clients
 * can free it, and every other request waits behind them for as long as
 * they like.  So while memory is above the watermark, a client that has
 * made no progress (PCFW_SHED_UNIT bytes acknowledged, or all of them) for
 * `timeout shed` is reset, longest stalled first, until memory is
 * PCFW_SHED_LOW_PCT points below the watermark.  Its buffered response and its server connection, if it held
 * one mid-response, go with it; the pool opens a fresh connection.  A
 * client that keeps up with PCFW_SHED_UNIT per `timeout shed` (820 bytes a
 * second by default) is never reset, and until memory passes the watermark
 * nobody is.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stddef.h>
#include "fw_internal.h"
#include "proxy.h"
#include "shed.h"

static uint32_t last_pass_ms;
static bool shedding;           /* above mem-window, not yet below the low mark */

void pcfw_shed_acked(struct pcfw_client *c, uint32_t n)
{
    c->progress_bytes += n;
    if (c->progress_bytes >= PCFW_SHED_UNIT) {
        pcfw_shed_caught_up(c);
    }
}

void pcfw_shed_caught_up(struct pcfw_client *c)
{
    c->progress_ms = pcfw_now();
    c->progress_bytes = 0;
}

struct slowest {
    struct pcfw_client *c;
    uint32_t stalled_ms;
    uint32_t now;
};

static void find_slowest(struct pcfw_client *c, void *arg)
{
    struct slowest *w = arg;
    uint32_t stalled;

    if (!pcfw_client_output_pending(c)) {
        return;
    }
    stalled = w->now - c->progress_ms;
    if (stalled >= pcfw.cfg.shed_timeout_ms &&
        (!w->c || stalled > w->stalled_ms)) {
        w->c = c;
        w->stalled_ms = stalled;
    }
}

/*
 * Below this, shedding stops: PCFW_SHED_LOW_PCT points under mem-window, so
 * that what it frees makes room for new responses at once instead of
 * memory hovering at the watermark, where every pooled connection stalls
 * again with its next response.
 */
static bool below_low_mark(void)
{
    uint32_t win = pcfw.cfg.mem_window_pct;
    uint32_t pct = win - (win / 2 < PCFW_SHED_LOW_PCT ? win / 2
                                                      : PCFW_SHED_LOW_PCT);

    return pcfw_arena_in_use(pcfw.arena) <= pcfw_mem_mark(pct);
}

void pcfw_shed_run(void)
{
    uint32_t now = pcfw_now();

    if (!pcfw.cfg.shed_timeout_ms || now - last_pass_ms < PCFW_SHED_PASS_MS) {
        return;
    }
    last_pass_ms = now;
    if (pcfw_mem_above(PCFW_WM_WINDOW)) {
        shedding = true;
    }
    /*
     * One scan per client reset: O(clients) each, at most
     * PCFW_SHED_PER_PASS a pass, only while shedding.
     */
    for (unsigned n = 0; shedding && n < PCFW_SHED_PER_PASS; n++) {
        struct slowest w = { .now = now };

        if (below_low_mark()) {
            shedding = false;
            return;
        }
        pcfw_master_each_client(find_slowest, &w);
        if (!w.c) {
            /* Nobody to shed: below the watermark, memory is falling
             * without help, and a reader stalling later is not shed. */
            if (!pcfw_mem_above(PCFW_WM_WINDOW)) {
                shedding = false;
            }
            return;
        }
        if (pcfw_pstats.clients_shed++ % 1000 == 0) {
            pcfw_log(PCFW_LOG_WARN, "card memory above mem-window: reset "
                     "a client that took under %u bytes in %u ms (%llu so "
                     "far; one line per 1000)", PCFW_SHED_UNIT,
                     (unsigned)w.stalled_ms,
                     (unsigned long long)pcfw_pstats.clients_shed);
        }
        pcfw_client_abort(w.c);
    }
}
