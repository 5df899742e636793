/*
 * proxycard firmware: the pass-through proxy (the patent's 208(2)).
 *
 * Each client gets its own server connection, opened at accept; bytes flow
 * both ways through the client's queues, with back-pressure each way: a
 * client's bytes are acknowledged as they leave for the server, a server's
 * while the client's output queue is within its budget.  Half-close is
 * honoured: a FIN from one side is passed on once everything before it has
 * been passed on, and the connection ends when both sides have finished.
 * A reset or a failed connect on either side resets the other.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdio.h>
#include <string.h>
#include "cbguard.h"
#include "fw_internal.h"
#include "proxy.h"
#include "tcpio.h"

static const struct pcfw_proxy_ops pass_ops;
struct pcfw_proxy pcfw_pass_proxy = { .name = "pass", .ops = &pass_ops };

/*
 * Both directions of the server connection are closed (its FIN came, ours
 * is queued): give the pcb to lwIP now.  It is in TIME_WAIT or LAST_ACK,
 * and lwIP frees a TIME_WAIT pcb silently (after 2 MSL, or at once when a
 * pcb allocation fails); a pointer kept past this moment would later close
 * whatever connection reuses that memory (issue 9, item 1).
 */
static void pass_srv_release_if_done(struct pcfw_pass_client *pc)
{
    if (pc->srv && pc->srv_shut && pc->srv_fin) {
        pcfw_tcp_release(pc->srv);
        pc->srv = NULL;
    }
}

/* Reset both sides. */
static void pass_abort(struct pcfw_client *c)
{
    struct pcfw_pass_client *pc = &c->pd.pass;

    if (pc->srv) {
        pcfw_tcp_abort(pc->srv);
        pc->srv = NULL;
    }
    pcfw_client_abort(c);
}

/*
 * The PROXY protocol header naming client @c to the server (haproxy's
 * proxy-protocol.txt): source the client's address and port, destination
 * the card's NIC address and the card port it connected to (@dst, network
 * byte order) -- what the server would have seen without the card.
 */
static void pass_make_pp(struct pcfw_client *c, uint8_t version, uint32_t dst)
{
    static const uint8_t sig[12] = { '\r', '\n', '\r', '\n', '\0', '\r',
                                     '\n', 'Q', 'U', 'I', 'T', '\n' };
    struct pcfw_pass_client *pc = &c->pd.pass;
    uint32_t src = ip4_addr_get_u32(&c->addr);

    if (version == PCFW_PP_V1) {
        char s[IP4ADDR_STRLEN_MAX], d[IP4ADDR_STRLEN_MAX];
        char line[PCFW_PP_MAX + 1];     /* snprintf's NUL: one more */
        ip4_addr_t a;
        int n;

        ip4_addr_set_u32(&a, dst);
        ip4addr_ntoa_r(&c->addr, s, sizeof(s));
        ip4addr_ntoa_r(&a, d, sizeof(d));
        /* At most PCFW_PP_MAX by that constant's definition. */
        n = snprintf(line, sizeof(line), "PROXY TCP4 %s %s %u %u\r\n", s, d,
                     c->port, c->local_port);
        if (n > 0 && n <= PCFW_PP_MAX) {
            memcpy(pc->pp, line, (size_t)n);
            pc->pp_len = (uint8_t)n;
        }
    } else if (version == PCFW_PP_V2) {
        uint8_t *p = pc->pp;

        memcpy(p, sig, sizeof(sig));
        p[12] = 0x21;           /* version 2, command PROXY */
        p[13] = 0x11;           /* AF_INET, STREAM */
        p[14] = 0;              /* 12 address bytes follow, big-endian */
        p[15] = 12;
        memcpy(p + 16, &src, 4);    /* both already in network order */
        memcpy(p + 20, &dst, 4);
        p[24] = (uint8_t)(c->port >> 8);
        p[25] = (uint8_t)c->port;
        p[26] = (uint8_t)(c->local_port >> 8);
        p[27] = (uint8_t)c->local_port;
        pc->pp_len = 28;
    }
}

/*
 * Queue what is left of the PROXY protocol header; true once all of it is.
 * tcp_write may take only part (a short send buffer, no segment memory):
 * the rest waits for the next pump (sent callback, client input, poll), and
 * no client byte may go before it.
 */
static bool pass_send_pp(struct pcfw_client *c, bool *wrote)
{
    struct pcfw_pass_client *pc = &c->pd.pass;

    while (pc->pp_sent < pc->pp_len) {
        size_t n = pcfw_tcp_send(pc->srv, pc->pp + pc->pp_sent,
                                 pc->pp_len - pc->pp_sent,
                                 pcfw_bq_len(&c->in) > 0);

        if (n == 0) {
            return false;
        }
        pc->pp_sent += (uint8_t)n;
        pcfw_pstats.bytes_to_server += n;
        *wrote = true;
    }
    return true;
}

/* Move whatever can move, pass FINs on, end when both sides are done. */
static void pass_pump(struct pcfw_client *c)
{
    struct pcfw_pass_client *pc = &c->pd.pass;
    bool wrote = false;
    bool pp_done;

    /* the PROXY protocol header first, then client -> server */
    pp_done = pc->srv && pc->srv_connected && pass_send_pp(c, &wrote);
    while (pp_done && pcfw_bq_len(&c->in)) {
        size_t len;
        const void *p = pcfw_bq_front(&c->in, &len);

        len = pcfw_tcp_send(pc->srv, p, len, len < pcfw_bq_len(&c->in));
        if (len == 0) {
            break;
        }
        pcfw_bq_consume(&c->in, len);
        pcfw_client_ack(c, (uint32_t)len);
        pcfw_pstats.bytes_to_server += len;
        wrote = true;
    }
    if (pp_done && c->peer_fin && !pcfw_bq_len(&c->in) &&
        !pc->srv_shut && tcp_shutdown(pc->srv, 0, 1) == ERR_OK) {
        pc->srv_shut = true;
        wrote = true;
    }
    if (wrote) {
        tcp_output(pc->srv);
    }
    pass_srv_release_if_done(pc);

    /* server -> client (the client's pcb is released the same way) */
    pcfw_client_flush(c);
    if (pc->srv_fin && !pcfw_bq_len(&c->out)) {
        pcfw_client_shutdown_tx(c);
    }

    /* both directions finished on both sides: free the client */
    if (pc->srv_shut && pc->srv_fin && c->shut_tx) {
        pcfw_client_close(c);
    }
}

/* ---- server side callbacks ---- */

/*
 * The server pcb polls too: once the client's pcb is given back to lwIP
 * (both its directions closed) the client's own poll stops, and only this
 * one still ticks the client (its timeouts) until the server side is done.
 */
static err_t pass_srv_poll(void *arg, struct tcp_pcb *pcb)
{
    struct pcfw_client *c = arg;
    struct pcfw_cb cb;

    pcfw_cb_enter(&cb, pcb);
    if (c && !pcfw_client_gone(c)) {
        pass_ops.tick(c, pcfw_now());
    }
    return pcfw_cb_leave(&cb);
}

static err_t pass_srv_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct pcfw_client *c = arg;
    struct pcfw_cb cb;

    pcfw_cb_enter(&cb, pcb);
    if (c) {
        c->pd.pass.srv_connected = true;
        pcfw_pstats.srv_connects++;
        pass_pump(c);
    }
    return pcfw_cb_leave(&cb);
}

static err_t pass_srv_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p,
                           err_t err)
{
    struct pcfw_client *c = arg;
    struct pcfw_pass_client *pc;
    struct pcfw_cb cb;

    if (!c) {
        if (p) {
            pbuf_free(p);
        }
        return ERR_OK;
    }
    pcfw_cb_enter(&cb, pcb);
    pc = &c->pd.pass;
    pc->srv_active_ms = pcfw_now();
    if (!p) {
        pc->srv_fin = true;
    } else {
        size_t took = 0;

        for (struct pbuf *q = p; q; q = q->next) {
            size_t n = pcfw_bq_append(&c->out, q->payload, q->len);

            took += n;
            if (n < q->len) {
                break;
            }
        }
        pcfw_pstats.bytes_from_server += took;
        if (took < p->tot_len) {
            pbuf_free(p);
            pass_abort(c);          /* card memory exhausted */
            return pcfw_cb_leave(&cb);
        }
        if (pcfw_client_may_take(c)) {
            tcp_recved(pcb, p->tot_len);
        } else {
            pc->srv_held += p->tot_len;
        }
        pbuf_free(p);
    }
    pass_pump(c);
    return pcfw_cb_leave(&cb);
}

static err_t pass_srv_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct pcfw_client *c = arg;
    struct pcfw_cb cb;

    pcfw_cb_enter(&cb, pcb);
    if (c) {
        c->pd.pass.srv_active_ms = pcfw_now();
        pass_pump(c);
    }
    return pcfw_cb_leave(&cb);
}

static void pass_srv_err(void *arg, err_t err)
{
    struct pcfw_client *c = arg;

    if (c) {
        /* Refused, reset or timed out: the client sees a reset too. */
        if (!c->pd.pass.srv_connected) {
            pcfw_pstats.srv_connect_failures++;
        }
        pcfw_cb_pcb_gone(c->pd.pass.srv);
        c->pd.pass.srv = NULL;
        pcfw_client_abort(c);
    }
}

/* ---- proxy ops ---- */

/* TCP keepalive (`timeout pass-keepalive`): idle, then 4 probes 10 s apart. */
static void pass_keepalive(struct tcp_pcb *pcb)
{
    if (pcb && pcfw.cfg.pass_keepalive_ms) {
        ip_set_option(pcb, SOF_KEEPALIVE);
        pcb->keep_idle = pcfw.cfg.pass_keepalive_ms;
        pcb->keep_intvl = 10 * 1000;
        pcb->keep_cnt = 4;
    }
}

static bool pass_accept(struct pcfw_client *c)
{
    struct pcfw_pass_client *pc = &c->pd.pass;
    ip_addr_t dst;

    c->state = PCFW_CL_STREAM;
    pc->since_ms = pc->srv_active_ms = pcfw_now();
    pass_make_pp(c, c->proxy_protocol,
                 ip4_addr_get_u32(ip_2_ip4(&c->pcb->local_ip)));
    pcfw_list_push_tail(&pcfw_pass_proxy.clients, &c->link);
    pc->srv = pcfw_tcp_new_beside(c->pcb);
    if (!pc->srv) {
        pcfw_client_abort(c);
        return false;
    }
    tcp_arg(pc->srv, c);
    tcp_err(pc->srv, pass_srv_err);
    tcp_recv(pc->srv, pass_srv_recv);
    tcp_sent(pc->srv, pass_srv_sent);
    tcp_poll(pc->srv, pass_srv_poll, 2);
    tcp_nagle_disable(pc->srv);
    pass_keepalive(c->pcb);
    pass_keepalive(pc->srv);
    ip_addr_set_ip4_u32(&dst, pcfw.cfg.server_ip);
    if (tcp_connect(pc->srv, &dst, c->server_port,
                    pass_srv_connected) != ERR_OK) {
        pass_abort(c);
        return false;
    }
    return true;
}

static void pass_input(struct pcfw_client *c, bool fin)
{
    /* The client's bytes are acknowledged as they leave for the server. */
    pass_pump(c);
}

/* Open the server's window held back for the client, if it may take. */
static void pass_open_srv_window(struct pcfw_client *c)
{
    struct pcfw_pass_client *pc = &c->pd.pass;

    if (pc->srv_held && pc->srv && pcfw_client_may_take(c)) {
        pcfw_tcp_recved(pc->srv, pc->srv_held);
        pc->srv_held = 0;
    }
}

static void pass_drained(struct pcfw_client *c)
{
    pass_open_srv_window(c);
    pass_pump(c);
}

static void pass_tick(struct pcfw_client *c, uint32_t now)
{
    struct pcfw_pass_client *pc = &c->pd.pass;
    uint32_t client_idle = now - c->last_active_ms;
    uint32_t srv_idle = now - pc->srv_active_ms;

    pass_open_srv_window(c);    /* held by the watermark, memory back */
    if (pc->srv_connected && pc->pp_sent < pc->pp_len) {
        /*
         * The header's last write found no memory and nothing is in flight
         * to bring a sent callback: a server that speaks first waits for
         * it, and its client for the server.  Try again.
         */
        pass_pump(c);
        if (pcfw_client_gone(c)) {
            return;
        }
    }
    if (!pc->srv_connected &&
        now - pc->since_ms >= pcfw.cfg.connect_timeout_ms) {
        pass_abort(c);
    } else if (pcfw.cfg.pass_idle_timeout_ms &&
               client_idle >= pcfw.cfg.pass_idle_timeout_ms &&
               srv_idle >= pcfw.cfg.pass_idle_timeout_ms) {
        pass_abort(c);          /* `timeout pass-idle`: reset both sides */
    }
}

static void pass_detach(struct pcfw_client *c)
{
    struct pcfw_pass_client *pc = &c->pd.pass;

    if (pc->srv) {
        pcfw_tcp_abort(pc->srv);
        pc->srv = NULL;
    }
}

static const struct pcfw_proxy_ops pass_ops = {
    .accept = pass_accept,
    .input = pass_input,
    .drained = pass_drained,
    .tick = pass_tick,
    .detach = pass_detach,
};
