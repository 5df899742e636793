/*
 * proxycard firmware: the HTTP proxy's pool of persistent server
 * connections (pool.h has the states and invariants).
 *
 * Timing is driven by one periodic tick (POOL_TICK_MS) rather than a
 * timeout per connection: a timeout is allocated from card memory when
 * armed, and lwIP treats a failed allocation there as a fatal assertion.
 * The tick reopens connections that are down and due, recycles idle ones
 * before the server's own keep-alive timeout would close them, gives up on
 * connects that take too long, and frees retired pools once they are empty.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>
#include "lwip/timeouts.h"
#include "cbguard.h"
#include "fw_internal.h"
#include "pool.h"
#include "tcpio.h"

#define RECONNECT_MIN_MS    100
#define RECONNECT_MAX_MS    2000
#define POOL_TICK_MS        100
/*
 * An idle connection is reopened this long before the keep-alive timeout
 * the server announced, so that the server's close and the card's next
 * request do not cross on the bus.
 */
#define KEEPALIVE_MARGIN_MS 1000
#define NO_HINT             UINT32_MAX

static struct pcfw_list pools;      /* struct pcfw_pool.link */
static bool pool_ticking;
static bool dial_due;               /* some pcfw_srv is in SRV_DIAL */

static void srv_connect(struct pcfw_srv *s);

struct pcfw_pool *pcfw_pool_find(uint16_t port)
{
    struct pcfw_list *pos, *tmp;

    pcfw_list_for_each_safe(pos, tmp, &pools) {
        struct pcfw_pool *pool = pcfw_container_of(pos, struct pcfw_pool, link);

        if (pool->live && pool->port == port) {
            return pool;
        }
    }
    return NULL;
}

static void srv_detach_pcb(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
    tcp_poll(pcb, NULL, 0);
}

void pcfw_srv_ack(struct pcfw_srv *s, uint32_t n)
{
    if (s->pcb) {
        pcfw_tcp_recved(s->pcb, n);
    }
}

void pcfw_srv_hold(struct pcfw_srv *s, uint32_t n)
{
    if (!s->held) {
        s->hold_start_ms = pcfw_now();
    }
    s->held += n;
}

void pcfw_srv_unhold(struct pcfw_srv *s)
{
    if (s->held) {
        pcfw_srv_ack(s, s->held);
        s->held = 0;
        s->held_for_ms += pcfw_now() - s->hold_start_ms;
    }
}

static void srv_schedule(struct pcfw_srv *s, uint32_t delay_ms)
{
    s->retry_at_ms = pcfw_now() + delay_ms;
}

/* Have @s connect as soon as the running entry point is done (pool.h). */
static void srv_dial(struct pcfw_srv *s)
{
    s->state = SRV_DIAL;
    s->since_ms = pcfw_now();
    dial_due = true;
}

static bool srv_connecting(const struct pcfw_srv *s)
{
    return s->state == SRV_CONNECTING || s->state == SRV_DIAL;
}

void pcfw_srv_drop(struct pcfw_srv *s, bool reset)
{
    struct pcfw_pool *pool = s->pool;

    if (s->state == SRV_IDLE) {
        pcfw_list_remove(&s->link);
    }
    if (s->state == SRV_IDLE || s->state == SRV_BUSY) {
        pool->connected--;
    }
    if (s->pcb) {
        /*
         * Request bytes the server has not acknowledged would still be
         * sent after a graceful close: a request the card already answered
         * or retried elsewhere must not reach the server late.
         */
        reset |= tcp_sndqueuelen(s->pcb) != 0;
        srv_detach_pcb(s->pcb);
        if (reset || tcp_close(s->pcb) != ERR_OK) {
            pcfw_tcp_abort(s->pcb);
        }
        s->pcb = NULL;
    }
    s->owner = NULL;
    s->state = SRV_DOWN;
    s->held = 0;
    srv_schedule(s, pool->down ? pool->backoff_ms : 0);
}

void pcfw_srv_release(struct pcfw_srv *s, bool keep)
{
    pcfw_srv_unhold(s);
    s->owner = NULL;
    if (!keep || !s->reusable || !s->pool->live ||
        s->pcb->state != ESTABLISHED) {
        /* Closing, odd, or its pool retired: never handed out again. */
        pcfw_srv_drop(s, false);
        return;
    }
    s->state = SRV_IDLE;
    /* Idle, as the server may see it, since before its window was held. */
    s->since_ms = pcfw_now() - s->held_for_ms;
    pcfw_list_push_head(&s->pool->idle, &s->link);  /* most recent first */
}

void pcfw_srv_keepalive_hint(struct pcfw_srv *s, uint32_t secs)
{
    uint64_t ms = (uint64_t)secs * 1000;

    /* Half of a short timeout, else the margin before it. */
    ms = ms >= 2 * KEEPALIVE_MARGIN_MS ? ms - KEEPALIVE_MARGIN_MS : ms / 2;
    s->idle_limit_ms = ms < NO_HINT ? (uint32_t)ms : NO_HINT - 1;
}

static uint32_t srv_idle_limit(const struct pcfw_srv *s)
{
    return s->idle_limit_ms < pcfw.cfg.pool_idle_timeout_ms
           ? s->idle_limit_ms : pcfw.cfg.pool_idle_timeout_ms;
}

struct pcfw_srv *pcfw_pool_take(struct pcfw_pool *pool,
                                struct pcfw_client *owner, bool fresh)
{
    struct pcfw_list *pos, *tmp;

    pcfw_list_for_each_safe(pos, tmp, &pool->idle) {
        struct pcfw_srv *s = pcfw_container_of(pos, struct pcfw_srv, link);

        if (s->pcb->state != ESTABLISHED ||
            pcfw_now() - s->since_ms >= srv_idle_limit(s)) {
            /* Its FIN is in, or the server may be closing it as idle. */
            pcfw_srv_drop(s, false);
            continue;
        }
        if (fresh && s->uses) {
            continue;
        }
        pcfw_list_remove(&s->link);
        s->state = SRV_BUSY;
        s->owner = owner;
        s->uses++;
        s->held_for_ms = 0;
        s->since_ms = pcfw_now();
        return s;
    }
    return NULL;
}

void pcfw_pool_want(struct pcfw_pool *pool, bool fresh)
{
    struct pcfw_srv *down = NULL, *reused = NULL;
    bool connecting = false, have_fresh = false;

    if (!pool->live) {
        return;
    }
    for (unsigned k = 0; k < pool->size; k++) {
        struct pcfw_srv *s = &pool->srv[k];

        connecting |= srv_connecting(s);
        if (s->state == SRV_DOWN && !down) {
            down = s;
        } else if (s->state == SRV_IDLE) {
            have_fresh |= s->uses == 0;
            reused = s->uses ? s : reused;
        }
    }
    if (connecting || (fresh ? have_fresh : pool->connected > 0)) {
        return;         /* one is on its way, or will be released */
    }
    if (down) {
        srv_dial(down);
    } else if (fresh && reused) {
        /* All up and used: replace one idle connection with a new one. */
        pcfw_srv_drop(reused, false);
        srv_dial(reused);
    }
}

/* A connect that failed, timed out or was refused (pcb gone or aborted). */
static void srv_failed(struct pcfw_srv *s, bool refused)
{
    struct pcfw_pool *pool = s->pool;

    pcfw_pstats.srv_connect_failures++;
    if (s->pcb) {
        pcfw_tcp_abort(s->pcb);
        s->pcb = NULL;
    }
    s->state = SRV_DOWN;
    if (pool->connected == 0) {
        pool->down = true;
    }
    srv_schedule(s, pool->backoff_ms);
    if (pool->backoff_ms < RECONNECT_MAX_MS) {
        pool->backoff_ms *= 2;
    }
    if (refused && pool->connected == 0) {
        bool connecting = false;

        for (unsigned k = 0; k < pool->size; k++) {
            connecting |= srv_connecting(&pool->srv[k]);
        }
        /* Nothing listens there (no sibling connect still pending): now. */
        if (!connecting) {
            pcfw_http_srv_refused(pool);
        }
    }
}

static err_t srv_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct pcfw_srv *s = arg;
    struct pcfw_pool *pool;
    struct pcfw_cb cb;

    (void)err;      /* lwIP 2.1 always passes ERR_OK */
    if (!s) {
        return ERR_OK;
    }
    pcfw_cb_enter(&cb, pcb);
    pool = s->pool;
    s->state = SRV_IDLE;
    s->reusable = true;
    s->uses = 0;
    s->idle_limit_ms = NO_HINT;
    s->since_ms = pcfw_now();
    pool->connected++;
    pool->down = false;
    pool->backoff_ms = RECONNECT_MIN_MS;
    pcfw_pstats.srv_connects++;
    pcfw_list_push_head(&pool->idle, &s->link);
    pcfw_http_srv_ready(pool);
    return pcfw_cb_leave(&cb);
}

/*
 * A short segment from the server is the end of what it wrote for now
 * (often the end of a response), and the card sends nothing back that the
 * ACK could ride on: acknowledge it at once, not at lwIP's next fast tick
 * (up to 250 ms, past a Linux server's 200 ms minimum RTO: it would resend
 * the response's tail).  Full segments keep lwIP's ACK for every second
 * one.  Only while @pcb is still the connection's (the input may have
 * ended it).
 */
static void srv_ack_timing(struct pcfw_srv *s, struct tcp_pcb *pcb,
                           u16_t len, bool aborted)
{
    if (!aborted && s->pcb == pcb && len < tcp_mss(pcb) &&
        (pcb->flags & (TF_ACK_DELAY | TF_ACK_NOW)) == TF_ACK_DELAY) {
        tcp_set_flags(pcb, TF_ACK_NOW);
    }
}

static err_t srv_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct pcfw_srv *s = arg;
    struct pcfw_client *c;
    struct pcfw_cb cb;

    if (!s) {
        if (p) {
            pbuf_free(p);
        }
        return ERR_OK;
    }
    pcfw_cb_enter(&cb, pcb);
    c = s->owner;
    if (!p) {
        if (c) {
            pcfw_http_srv_fin(c, s);
        } else {
            pcfw_srv_drop(s, false);    /* an idle connection closed */
        }
    } else if (!c || err != ERR_OK) {
        /* Bytes nobody asked for: this connection cannot be trusted. */
        pbuf_free(p);
        pcfw_srv_drop(s, true);
        if (c) {
            pcfw_http_srv_failed(c);
        }
    } else {
        u16_t len = p->tot_len;

        pcfw_pstats.bytes_from_server += len;
        pcfw_http_srv_input(c, s, p);
        srv_ack_timing(s, pcb, len, cb.aborted);
    }
    return pcfw_cb_leave(&cb);
}

static err_t srv_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct pcfw_srv *s = arg;
    struct pcfw_cb cb;

    (void)len;
    pcfw_cb_enter(&cb, pcb);
    if (s && s->owner) {
        pcfw_http_srv_writable(s->owner);
    }
    return pcfw_cb_leave(&cb);
}

static err_t srv_poll(void *arg, struct tcp_pcb *pcb)
{
    struct pcfw_srv *s = arg;
    struct pcfw_cb cb;

    pcfw_cb_enter(&cb, pcb);
    if (s && s->state == SRV_BUSY && s->owner) {
        pcfw_http_srv_writable(s->owner);   /* resume after ERR_MEM */
    }
    return pcfw_cb_leave(&cb);
}

static void srv_err(void *arg, err_t err)
{
    struct pcfw_srv *s = arg;
    struct pcfw_client *c;

    if (!s) {
        return;
    }
    pcfw_cb_pcb_gone(s->pcb);
    s->pcb = NULL;      /* freed by lwIP */
    if (s->state == SRV_CONNECTING) {
        srv_failed(s, err == ERR_RST);
        return;
    }
    c = s->owner;
    pcfw_srv_drop(s, true);
    if (c) {
        pcfw_http_srv_failed(c);
    }
}

static void srv_connect(struct pcfw_srv *s)
{
    struct tcp_pcb *pcb;
    ip_addr_t dst;

    LWIP_ASSERT("pool connects start between callbacks", !pcfw_cb_top);
    pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (!pcb) {
        s->state = SRV_DOWN;
        srv_schedule(s, RECONNECT_MAX_MS);      /* card memory is short */
        return;
    }
    /*
     * When no pcb can be allocated, lwIP aborts the most idle pcb of a
     * lower priority than the new one's (tcp_kill_prio).  Client pcbs have
     * the lowest (master.c): a pooled connection being reopened (created at
     * TCP_PRIO_NORMAL) may take an idle client's place, and once open no
     * other allocation can take its own.
     */
    tcp_setprio(pcb, TCP_PRIO_MAX);
    tcp_arg(pcb, s);
    tcp_err(pcb, srv_err);
    tcp_recv(pcb, srv_recv);
    tcp_sent(pcb, srv_sent);
    tcp_poll(pcb, srv_poll, 2);
    tcp_nagle_disable(pcb);
    ip_addr_set_ip4_u32(&dst, pcfw.cfg.server_ip);
    s->pcb = pcb;
    s->state = SRV_CONNECTING;
    s->since_ms = pcfw_now();
    if (tcp_connect(pcb, &dst, s->pool->port, srv_connected) != ERR_OK) {
        srv_failed(s, false);
    }
}

static void pool_free(struct pcfw_pool *pool)
{
    pcfw_list_remove(&pool->link);
    pcfw_arena_free(pcfw.arena, pool->srv);
    pcfw_arena_free(pcfw.arena, pool);
}

/* Every POOL_TICK_MS: reconnects, idle recycling, connect timeouts. */
static void pool_tick(void *arg)
{
    uint32_t now = pcfw_now();
    struct pcfw_list *pos, *tmp;

    (void)arg;
    pcfw_list_for_each_safe(pos, tmp, &pools) {
        struct pcfw_pool *pool = pcfw_container_of(pos, struct pcfw_pool, link);
        bool empty = true;

        for (unsigned k = 0; pool->armed && k < pool->size; k++) {
            struct pcfw_srv *s = &pool->srv[k];

            if (s->state == SRV_DOWN && pool->live &&
                (int32_t)(now - s->retry_at_ms) >= 0) {
                srv_dial(s);
            } else if (s->state == SRV_IDLE &&
                       now - s->since_ms >= srv_idle_limit(s)) {
                pcfw_srv_drop(s, false);    /* before the server closes it */
            } else if (s->state == SRV_CONNECTING &&
                       now - s->since_ms >= pcfw.cfg.connect_timeout_ms) {
                srv_failed(s, false);
            }
            empty &= s->state == SRV_DOWN;
        }
        if (!pool->live && empty) {
            pool_free(pool);
        }
    }
    sys_timeout(POOL_TICK_MS, pool_tick, NULL);
}

static bool cfg_serves(const struct pcfw_config *cfg, uint16_t port)
{
    for (unsigned i = 0; i < cfg->n_listeners; i++) {
        if (cfg->listeners[i].proxy == PCFW_PROXY_HTTP &&
            cfg->listeners[i].server_port == port) {
            return true;
        }
    }
    return false;
}

static struct pcfw_pool *pool_any(uint16_t port)
{
    struct pcfw_list *pos, *tmp;

    pcfw_list_for_each_safe(pos, tmp, &pools) {
        struct pcfw_pool *pool = pcfw_container_of(pos, struct pcfw_pool, link);

        if (pool->port == port && (pool->live || pool->armed)) {
            return pool;    /* live, or retired and still draining */
        }
    }
    return NULL;
}

/* A pool this prepare made for @port (neither live nor armed yet). */
static bool pool_prepared(uint16_t port)
{
    struct pcfw_list *pos, *tmp;

    pcfw_list_for_each_safe(pos, tmp, &pools) {
        struct pcfw_pool *pool = pcfw_container_of(pos, struct pcfw_pool, link);

        if (pool->port == port && !pool->live && !pool->armed) {
            return true;
        }
    }
    return false;
}

/* Forget the pools prepare made and commit did not take. */
void pcfw_pool_unprepare(void)
{
    struct pcfw_list *pos, *tmp;

    pcfw_list_for_each_safe(pos, tmp, &pools) {
        struct pcfw_pool *pool = pcfw_container_of(pos, struct pcfw_pool, link);

        if (!pool->armed && !pool->live) {
            pool_free(pool);
        }
    }
}

int pcfw_pool_prepare(const struct pcfw_config *cfg)
{
    for (unsigned i = 0; i < cfg->n_listeners; i++) {
        const struct pcfw_listener *li = &cfg->listeners[i];
        struct pcfw_pool *pool;

        /*
         * One pool per server port: also when an earlier listener of @cfg
         * made it just now (not live or armed yet; before, two listeners
         * to one server port at boot got a pool each, twice the
         * connections, the second's never used).
         */
        if (li->proxy != PCFW_PROXY_HTTP || pool_any(li->server_port) ||
            pool_prepared(li->server_port)) {
            continue;
        }
        pool = pcfw_arena_calloc(pcfw.arena, 1, sizeof(*pool));
        if (pool) {
            pool->srv = pcfw_arena_calloc(pcfw.arena, cfg->pool_size,
                                          sizeof(*pool->srv));
        }
        if (!pool || !pool->srv) {
            pcfw_arena_free(pcfw.arena, pool);
            pcfw_pool_unprepare();
            pcfw_log(PCFW_LOG_ERROR, "no card memory for the pool of server "
                     "port %u", li->server_port);
            return PCFW_ERR_NOMEM;
        }
        pool->port = li->server_port;
        pool->size = cfg->pool_size;
        pool->backoff_ms = RECONNECT_MIN_MS;
        pcfw_list_init(&pool->idle);
        for (unsigned k = 0; k < pool->size; k++) {
            pool->srv[k].pool = pool;
            pcfw_list_init(&pool->srv[k].link);
        }
        pcfw_list_push_tail(&pools, &pool->link);
    }
    return PCFW_OK;
}

/* No listener uses @pool any more: close what is idle, let busy ones end. */
static void pool_retire(struct pcfw_pool *pool)
{
    pool->live = false;
    for (unsigned k = 0; k < pool->size; k++) {
        struct pcfw_srv *s = &pool->srv[k];

        if (s->state == SRV_BUSY) {
            s->reusable = false;
        } else if (s->state != SRV_DOWN) {
            pcfw_srv_drop(s, s->state == SRV_CONNECTING);
        }
    }
}

void pcfw_pool_commit(const struct pcfw_config *old)
{
    bool moved = old && old->server_ip != pcfw.cfg.server_ip;
    struct pcfw_list *pos, *tmp;

    pcfw_list_for_each_safe(pos, tmp, &pools) {
        struct pcfw_pool *pool = pcfw_container_of(pos, struct pcfw_pool, link);
        bool serve = cfg_serves(&pcfw.cfg, pool->port);

        if (!serve) {
            if (pool->live) {
                pool_retire(pool);
            }
            continue;
        }
        if (moved && pool->live) {
            /* Reopen towards the new server; busy ones once they end. */
            pool_retire(pool);
        }
        pool->live = true;
        pool->down = false;
        if (!pool->armed) {
            pool->armed = true;
            for (unsigned k = 0; k < pool->size; k++) {
                srv_dial(&pool->srv[k]);
            }
        }
    }
    if (!pool_ticking) {
        pool_ticking = true;
        sys_timeout(POOL_TICK_MS, pool_tick, NULL);
    }
}

int pcfw_pool_init(void)
{
    int err;

    pcfw_list_init(&pools);
    pool_ticking = false;
    dial_due = false;
    err = pcfw_pool_prepare(&pcfw.cfg);
    if (err == PCFW_OK) {
        pcfw_pool_commit(NULL);
    }
    return err;
}

void pcfw_pool_dial(void)
{
    /*
     * A connect may abort an idle client (tcp_kill_prio), and freeing it
     * may decide another connect: go round until none is due.
     */
    while (dial_due) {
        struct pcfw_list *pos, *tmp;

        dial_due = false;
        pcfw_list_for_each_safe(pos, tmp, &pools) {
            struct pcfw_pool *pool = pcfw_container_of(pos, struct pcfw_pool,
                                                       link);

            for (unsigned k = 0; k < pool->size; k++) {
                struct pcfw_srv *s = &pool->srv[k];

                if (s->state != SRV_DIAL) {
                    continue;
                }
                if (pool->live) {
                    srv_connect(s);
                } else {
                    s->state = SRV_DOWN;    /* retired meanwhile */
                }
            }
        }
    }
}

void pcfw_pool_shutdown(void)
{
    struct pcfw_list *pos, *tmp;

    pcfw_list_for_each_safe(pos, tmp, &pools) {
        struct pcfw_pool *pool = pcfw_container_of(pos, struct pcfw_pool, link);

        for (unsigned k = 0; k < pool->size; k++) {
            struct pcfw_srv *s = &pool->srv[k];

            if (s->pcb) {
                pcfw_tcp_abort(s->pcb);
                s->pcb = NULL;
            }
        }
        pool_free(pool);
    }
    if (pool_ticking) {
        sys_untimeout(pool_tick, NULL);
        pool_ticking = false;
    }
    dial_due = false;
}

void pcfw_pool_stats(uint64_t *in_use, uint64_t *idle)
{
    struct pcfw_list *pos, *tmp;

    *in_use = *idle = 0;
    pcfw_list_for_each_safe(pos, tmp, &pools) {
        struct pcfw_pool *pool = pcfw_container_of(pos, struct pcfw_pool, link);

        for (unsigned k = 0; k < pool->size; k++) {
            *in_use += pool->srv[k].state == SRV_BUSY;
            *idle += pool->srv[k].state == SRV_IDLE;
        }
    }
}
