/*
 * proxycard firmware: the master process (the patent's FIG. 6).
 *
 * Listens on the configured ports of the NIC side, accepts up to
 * max-clients connections, makes a client data structure for each in card
 * memory, and hands it to the application proxy its port names.  A
 * connection beyond max-clients (max-pass-clients), or one that card memory
 * cannot hold (above the refuse watermark, `mem-refuse`, or none left), is
 * refused with a reset (the documented outcome: the client sees ECONNRESET
 * and may retry).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>
#include "lwip/sys.h"
#include "fw_internal.h"
#include "proxy.h"
#include "security.h"

struct pcfw_proxy_stats pcfw_pstats;

/*
 * The listening ports.  Each slot keeps its own copy of its listener's
 * settings, which its pcb's callback argument points to, so that loading a
 * new configuration can change, add and remove listeners while clients of
 * the old ones carry on (a client copies what it needs at accept).
 */
struct listening {
    struct tcp_pcb *pcb;        /* NULL: slot free */
    struct pcfw_listener li;
};

static struct listening listening[PCFW_MAX_LISTENERS];
/* `unmatched pass`: the catch-all; li.port 0 means "the client's port". */
static struct listening unmatched;
static struct pcfw_list all_clients;

uint32_t pcfw_now(void)
{
    return sys_now();
}

static err_t master_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    const struct pcfw_listener *li = arg;
    struct pcfw_client *c;
    bool pass, counted;
    uint64_t active, limit;

    if (err != ERR_OK || !pcb) {
        return ERR_VAL;
    }
    /* Each proxy has its own limit: pass-through cannot crowd out HTTP. */
    pass = li->proxy != PCFW_PROXY_HTTP;
    active = pass ? pcfw.pass_active
                  : pcfw_pstats.clients_active - pcfw.pass_active;
    limit = pass ? pcfw.cfg.max_pass_clients : pcfw.cfg.max_clients;
    if (active >= limit || pcfw_mem_above(PCFW_WM_REFUSE)) {
        pcfw_pstats.clients_refused++;
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    /* The security proxy screens it before any application proxy. */
    if (!pcfw_sec_admit(ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)),
                        pcb->local_port, &counted)) {
        pcfw_pstats.clients_refused++;
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    c = pcfw_arena_calloc(pcfw.arena, 1, sizeof(*c));
    if (!c) {
        if (counted) {
            pcfw_sec_closed(ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)),
                            pcb->local_port);
        }
        pcfw_pstats.clients_refused++;
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    c->sec_counted = counted;
    pcfw_pstats.clients_active++;
    pcfw_pstats.clients_accepted++;
    pcfw.pass_active += pass;
    c->addr = *ip_2_ip4(&pcb->remote_ip);
    c->port = pcb->remote_port;
    c->local_port = pcb->local_port;
    c->server_port = li->port ? li->server_port : pcb->local_port;
    /* `unmatched pass` has no listener line to ask for it: never. */
    c->proxy_protocol = li->port ? li->proxy_protocol : PCFW_PP_NONE;
    c->proxy = li->proxy == PCFW_PROXY_HTTP ? &pcfw_http_proxy
                                            : &pcfw_pass_proxy;
    pcfw_list_init(&c->all);
    pcfw_list_push_tail(&all_clients, &c->all);
    pcfw_client_setup(c, pcb);
    return c->proxy->ops->accept(c) ? ERR_OK : ERR_ABRT;
}

static void proxy_init(struct pcfw_proxy *p)
{
    pcfw_list_init(&p->clients);
    pcfw_list_init(&p->ready);
    pcfw_list_init(&p->pending);
}

/*
 * Open a listening pcb for @li into @l (its callback argument is &l->li,
 * fixed again by master_install() when the slot moves).
 */
static int listen_on(struct listening *l, const struct pcfw_listener *li)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    err_t err;

    if (!pcb) {
        return PCFW_ERR_NOMEM;
    }
    /* Clients come from the network port only: not the server's side. */
    tcp_bind_netif(pcb, &pcfw.netif[PCFW_PORT_NIC]);
    /* Its own earlier clients (and their TIME_WAIT pcbs) may hold the port. */
    ip_set_option(pcb, SOF_REUSEADDR);
    /*
     * Accepted pcbs take the listener's priority: the lowest, so that a new
     * client can never make lwIP abort another pcb to get one (pool.c).
     */
    tcp_setprio(pcb, TCP_PRIO_MIN);
    err = tcp_bind(pcb, IP4_ADDR_ANY, li->port);
    if (err != ERR_OK) {
        pcfw_log(PCFW_LOG_ERROR, "cannot bind port %u: error %d", li->port, err);
        tcp_close(pcb);
        return PCFW_ERR_ARG;
    }
    l->pcb = tcp_listen_with_backlog(pcb, TCP_DEFAULT_LISTEN_BACKLOG);
    if (!l->pcb) {
        tcp_close(pcb);
        return PCFW_ERR_NOMEM;
    }
    l->li = *li;
    tcp_arg(l->pcb, &l->li);
    tcp_accept(l->pcb, master_accept);
    return PCFW_OK;
}

static void listen_close(struct listening *l)
{
    if (l == &unmatched) {
        tcp_set_listen_any_port(NULL);
    }
    tcp_close(l->pcb);
    l->pcb = NULL;
}

/*
 * Loading a configuration is two steps, so that one that cannot be applied
 * changes nothing: master_prepare() opens the listeners @cfg adds (into
 * staged[], not yet in service: nothing runs between the two steps) and
 * fails whole; pcfw_master_commit() closes the ones it lacks (their clients
 * carry on), updates the ones it changes and installs the staged ones.
 */
static struct listening staged[PCFW_MAX_LISTENERS];
static struct listening staged_unmatched;

static struct listening *listening_of(uint16_t port)
{
    for (unsigned k = 0; k < PCFW_MAX_LISTENERS; k++) {
        if (listening[k].pcb && listening[k].li.port == port) {
            return &listening[k];
        }
    }
    return NULL;
}

static void master_unstage(void)
{
    for (unsigned i = 0; i < PCFW_MAX_LISTENERS; i++) {
        if (staged[i].pcb) {
            listen_close(&staged[i]);
        }
    }
    if (staged_unmatched.pcb) {
        listen_close(&staged_unmatched);
    }
}

int pcfw_master_prepare(const struct pcfw_config *cfg)
{
    static const struct pcfw_listener any = { .port = 0, .proxy = PCFW_PROXY_PASS };
    int err = PCFW_OK;

    memset(staged, 0, sizeof(staged));
    memset(&staged_unmatched, 0, sizeof(staged_unmatched));
    for (unsigned i = 0; err == PCFW_OK && i < cfg->n_listeners; i++) {
        if (!listening_of(cfg->listeners[i].port)) {
            err = listen_on(&staged[i], &cfg->listeners[i]);
        }
    }
    if (err == PCFW_OK && cfg->unmatched_pass && !unmatched.pcb) {
        err = listen_on(&staged_unmatched, &any);   /* bound to a free port */
    }
    if (err != PCFW_OK) {
        master_unstage();
    }
    return err;
}

/* Put the staged listener @from in service in slot @to. */
static void master_install(struct listening *to, struct listening *from)
{
    *to = *from;
    from->pcb = NULL;
    tcp_arg(to->pcb, &to->li);
    if (to->li.port) {
        pcfw_log(PCFW_LOG_INFO, "listening on port %u (%s proxy, server "
                 "port %u)", to->li.port,
                 to->li.proxy == PCFW_PROXY_HTTP ? "http" : "pass",
                 to->li.server_port);
    }
}

void pcfw_master_commit(void)
{
    for (unsigned k = 0; k < PCFW_MAX_LISTENERS; k++) {
        struct listening *l = &listening[k];
        bool keep = false;

        for (unsigned i = 0; l->pcb && i < pcfw.cfg.n_listeners; i++) {
            keep |= pcfw.cfg.listeners[i].port == l->li.port;
        }
        if (l->pcb && !keep) {
            pcfw_log(PCFW_LOG_INFO, "no longer listening on port %u",
                     l->li.port);
            listen_close(l);
        }
    }
    for (unsigned i = 0; i < pcfw.cfg.n_listeners; i++) {
        struct listening *found = listening_of(pcfw.cfg.listeners[i].port);

        if (found) {
            found->li = pcfw.cfg.listeners[i];  /* new proxy or server port */
            continue;
        }
        /* At most PCFW_MAX_LISTENERS, all distinct: a slot is free. */
        for (unsigned k = 0; k < PCFW_MAX_LISTENERS; k++) {
            if (!listening[k].pcb) {
                master_install(&listening[k], &staged[i]);
                break;
            }
        }
    }
    if (staged_unmatched.pcb) {
        master_install(&unmatched, &staged_unmatched);
        tcp_set_listen_any_port(unmatched.pcb);
        pcfw_log(PCFW_LOG_INFO, "other ports: pass-through to the same port");
    } else if (!pcfw.cfg.unmatched_pass && unmatched.pcb) {
        listen_close(&unmatched);
    }
}

int pcfw_master_init(void)
{
    proxy_init(&pcfw_http_proxy);
    proxy_init(&pcfw_pass_proxy);
    pcfw_list_init(&all_clients);
    memset(&pcfw_pstats, 0, sizeof(pcfw_pstats));
    memset(listening, 0, sizeof(listening));
    memset(&unmatched, 0, sizeof(unmatched));
    {
        int err = pcfw_master_prepare(&pcfw.cfg);

        if (err != PCFW_OK) {
            return err;
        }
    }
    pcfw_master_commit();
    return PCFW_OK;
}

void pcfw_master_each_client(void (*fn)(struct pcfw_client *c, void *arg),
                             void *arg)
{
    struct pcfw_list *pos, *tmp;

    pcfw_list_for_each_safe(pos, tmp, &all_clients) {
        fn(pcfw_container_of(pos, struct pcfw_client, all), arg);
    }
}

void pcfw_master_shutdown(void)
{
    struct pcfw_list *pos, *tmp;

    for (unsigned k = 0; k < PCFW_MAX_LISTENERS; k++) {
        if (listening[k].pcb) {
            listen_close(&listening[k]);
        }
    }
    if (unmatched.pcb) {
        listen_close(&unmatched);
    }
    pcfw_list_for_each_safe(pos, tmp, &all_clients) {
        pcfw_client_abort(pcfw_container_of(pos, struct pcfw_client, all));
    }
}
