/*
 * proxycard firmware: the pool of persistent server connections that the
 * HTTP proxy 208(1) forwards complete requests over (the patent's FIG. 8-10,
 * "a small number of persistent connections to the server").
 *
 * One pool per server port that an HTTP listener forwards to, made with the
 * first such listener and retired with the last; a retired pool lets its
 * busy connections finish their exchange and is freed once all are closed.
 * Each pooled connection goes DOWN -> CONNECTING -> IDLE -> BUSY (exactly
 * one client's exchange) -> IDLE again, or closed and reopened.
 *
 * Invariants:
 * - an IDLE connection is on its pool's idle list, ESTABLISHED, owned by
 *   nobody, and has carried only complete exchanges (any byte or FIN on it
 *   closes it);
 * - a BUSY connection's owner is the client whose c->srv points to it, and
 *   no other client's does;
 * - a connection is handed out only while ESTABLISHED: one whose FIN came
 *   with the end of a response is closed, never bound to the next request.
 *
 * The pool calls into the HTTP proxy only through the pcfw_http_srv_*
 * functions below; the HTTP proxy calls the pool only through pcfw_pool_*
 * and pcfw_srv_*.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_POOL_H
#define PCFW_POOL_H

#include "proxy.h"

/*
 * SRV_DIAL: its connect starts when the firmware entry point that decided
 * it is about to return (pcfw_pool_dial()), never inside an lwIP callback.
 * Allocating the pcb may make lwIP abort the most idle client to make room
 * (tcp_kill_prio), and a client aborted under a running callback, or under
 * a loop over the clients, is a pcb used after it was freed.
 */
enum pcfw_srv_state {
    SRV_DOWN, SRV_CONNECTING, SRV_IDLE, SRV_BUSY, SRV_DIAL,
};

struct pcfw_pool;

struct pcfw_srv {
    struct tcp_pcb *pcb;
    struct pcfw_pool *pool;
    struct pcfw_client *owner;  /* BUSY: the client it serves */
    struct pcfw_list link;      /* IDLE: on pool->idle */
    uint8_t state;              /* enum pcfw_srv_state */
    bool reusable;              /* nothing odd seen in this exchange */
    uint32_t uses;              /* exchanges begun since it connected */
    uint32_t since_ms;          /* entered the current state */
    uint32_t retry_at_ms;       /* DOWN: reconnect from then on */
    uint32_t idle_limit_ms;     /* IDLE longer than this: reopen it */
    uint32_t held;              /* response bytes not acknowledged */
    uint32_t hold_start_ms;     /* held != 0: since when */
    uint32_t held_for_ms;       /* BUSY: time its window was held, so far */
};

struct pcfw_pool {
    struct pcfw_list link;      /* on the list of pools */
    uint16_t port;              /* the server port */
    bool live;                  /* an HTTP listener forwards to it */
    bool armed;                 /* its connections have been opened */
    unsigned size;
    struct pcfw_srv *srv;       /* size entries, card memory */
    struct pcfw_list idle;      /* most recently used first */
    unsigned connected;         /* IDLE + BUSY */
    bool down;                  /* no connection and the last connect failed */
    uint32_t backoff_ms;
};

/* ---- the pool's side (pool.c) ---- */

/* The live pool of server port @port, or NULL if no listener uses it. */
struct pcfw_pool *pcfw_pool_find(uint16_t port);

/*
 * An idle connection of @pool for @owner, now BUSY; with @fresh only one
 * that has carried no exchange since it connected.  NULL if there is none:
 * the caller waits for pcfw_http_srv_ready().
 */
struct pcfw_srv *pcfw_pool_take(struct pcfw_pool *pool,
                                struct pcfw_client *owner, bool fresh);

/*
 * A request of @pool is waiting (for a fresh connection if @fresh): make
 * sure one is on its way.  At most one connect is started for it, and only
 * if none is in progress; a down server's back-off is left as it is.
 */
void pcfw_pool_want(struct pcfw_pool *pool, bool fresh);

/* An exchange on @s ended cleanly: back to the pool if @keep and it can. */
void pcfw_srv_release(struct pcfw_srv *s, bool keep);

/*
 * Take @s out of service and reopen it later: close its pcb (reset it if
 * @reset, or if request bytes are still unacknowledged, so that they can
 * never reach the server after the card gave up on them).  The owner, if
 * any, is the caller's business.
 */
void pcfw_srv_drop(struct pcfw_srv *s, bool reset);

/* Acknowledge @n response bytes to the server (opens its window). */
void pcfw_srv_ack(struct pcfw_srv *s, uint32_t n);

/*
 * Hold @n response bytes unacknowledged (back-pressure: the server's window
 * shrinks), or acknowledge every held byte.  The time the window was held
 * counts towards the connection's idle time once the exchange ends: the
 * server may have finished writing, and started its keep-alive clock, long
 * before the card read the last of its bytes.
 */
void pcfw_srv_hold(struct pcfw_srv *s, uint32_t n);
void pcfw_srv_unhold(struct pcfw_srv *s);

/* The server announced `Keep-Alive: timeout=@secs` on @s. */
void pcfw_srv_keepalive_hint(struct pcfw_srv *s, uint32_t secs);

/*
 * Pools for @cfg's HTTP listeners, in two steps so that a configuration
 * that cannot be applied changes nothing: prepare allocates what @cfg adds
 * (PCFW_ERR_NOMEM, nothing kept, if card memory is short); commit (after
 * pcfw.cfg = @cfg) opens the new pools' connections, retires pools no
 * listener uses, and with @old reopens every connection if the server
 * moved.  Commit cannot fail.
 */
int pcfw_pool_prepare(const struct pcfw_config *cfg);
/* Forget what a successful prepare made, when the configuration is refused. */
void pcfw_pool_unprepare(void);
void pcfw_pool_commit(const struct pcfw_config *old);
int pcfw_pool_init(void);
/* Start the connects decided since the last call (SRV_DIAL).  Only at the
 * end of a firmware entry point: no lwIP callback may be running. */
void pcfw_pool_dial(void);
void pcfw_pool_shutdown(void);
void pcfw_pool_stats(uint64_t *in_use, uint64_t *idle);

/* ---- the HTTP proxy's side (http_proxy.c), called by the pool ---- */

/* @pool has an idle connection: pair waiting requests with it. */
void pcfw_http_srv_ready(struct pcfw_pool *pool);
/* Response bytes for @c on its connection @s (the pbuf is the callee's). */
void pcfw_http_srv_input(struct pcfw_client *c, struct pcfw_srv *s,
                         struct pbuf *p);
/* The server sent FIN on @c's connection @s (still c->srv). */
void pcfw_http_srv_fin(struct pcfw_client *c, struct pcfw_srv *s);
/* @c's connection failed; it was dropped and c->srv is stale. */
void pcfw_http_srv_failed(struct pcfw_client *c);
/* @c's connection has room for more of its request. */
void pcfw_http_srv_writable(struct pcfw_client *c);
/* Connects to @pool's port are refused and no connection is up. */
void pcfw_http_srv_refused(struct pcfw_pool *pool);

#endif /* PCFW_POOL_H */
