/*
 * proxycard firmware: the master process (the patent's FIG. 6).
 *
 * Listens on the configured ports of the NIC side, accepts up to
 * max-clients connections, makes a client data structure for each in card
 * memory, and hands it to the application proxy its port names.  A
 * connection beyond max-clients, or one that card memory cannot hold, is
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

struct pcfw_proxy_stats pcfw_pstats;

static struct tcp_pcb *listen_pcb[PCFW_MAX_LISTENERS];
static struct pcfw_list all_clients;

uint32_t pcfw_now(void)
{
    return sys_now();
}

static err_t master_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    const struct pcfw_listener *li = arg;
    struct pcfw_client *c;

    if (err != ERR_OK || !pcb) {
        return ERR_VAL;
    }
    if (pcfw_pstats.clients_active >= pcfw.cfg.max_clients ||
        !(c = pcfw_arena_calloc(pcfw.arena, 1, sizeof(*c)))) {
        pcfw_pstats.clients_refused++;
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    pcfw_pstats.clients_active++;
    pcfw_pstats.clients_accepted++;
    c->addr = *ip_2_ip4(&pcb->remote_ip);
    c->port = pcb->remote_port;
    c->listener = li;
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

int pcfw_master_init(void)
{
    proxy_init(&pcfw_http_proxy);
    proxy_init(&pcfw_pass_proxy);
    pcfw_list_init(&all_clients);
    memset(&pcfw_pstats, 0, sizeof(pcfw_pstats));
    for (unsigned i = 0; i < pcfw.cfg.n_listeners; i++) {
        const struct pcfw_listener *li = &pcfw.cfg.listeners[i];
        struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
        err_t err;

        if (!pcb) {
            return PCFW_ERR_NOMEM;
        }
        err = tcp_bind(pcb, IP4_ADDR_ANY, li->port);
        if (err != ERR_OK) {
            pcfw_log(PCFW_LOG_ERROR, "cannot bind port %u: error %d",
                     li->port, err);
            tcp_close(pcb);
            return PCFW_ERR_ARG;
        }
        listen_pcb[i] = tcp_listen_with_backlog(pcb, TCP_DEFAULT_LISTEN_BACKLOG);
        if (!listen_pcb[i]) {
            tcp_close(pcb);
            return PCFW_ERR_NOMEM;
        }
        tcp_arg(listen_pcb[i], (void *)li);
        tcp_accept(listen_pcb[i], master_accept);
        pcfw_log(PCFW_LOG_INFO, "listening on port %u (%s proxy, server port %u)",
                 li->port, li->proxy == PCFW_PROXY_HTTP ? "http" : "pass",
                 li->server_port);
    }
    return PCFW_OK;
}

void pcfw_master_shutdown(void)
{
    struct pcfw_list *pos, *tmp;

    for (unsigned i = 0; i < PCFW_MAX_LISTENERS; i++) {
        if (listen_pcb[i]) {
            tcp_close(listen_pcb[i]);
            listen_pcb[i] = NULL;
        }
    }
    pcfw_list_for_each_safe(pos, tmp, &all_clients) {
        pcfw_client_abort(pcfw_container_of(pos, struct pcfw_client, all));
    }
}
