/*
 * The server side of proxycard's bus link for the end-to-end qtest: an
 * ordinary lwIP (NO_SYS, raw API) with one Ethernet netif and a small HTTP
 * server.  See proxycard-e2e-peer.h for how the qtest drives it.
 *
 * Built by the Makefile (tests/qtest/e2e.mk) with lwIP's sources and the
 * unit tests' peer options (tests/unit/peer/lwipopts.h, arch/cc.h: NO_SYS,
 * IPv4, TCP, ARP, malloc, sys_now() ours, LWIP_RAND() = peer_rand()), then
 * linked with that lwIP into one object whose only globals are pcpeer_*.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "proxycard-e2e-peer.h"

/* The largest frame on the bus link: MTU 9000 plus the Ethernet header. */
#define PEER_MAX_FRAME  9014

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "pcpeer: out of memory\n");
        abort();
    }
    return p;
}

/* ---- clock, randomness (lwIP's sys_now() and LWIP_RAND()) ---- */

static uint32_t vclock;
static uint64_t rand_state = 0x9e3779b97f4a7c15ull;

u32_t sys_now(void)
{
    return vclock;
}

uint32_t peer_rand(void)
{
    uint64_t x = rand_state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rand_state = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

uint32_t pcpeer_now(void)
{
    return vclock;
}

void pcpeer_advance(uint32_t ms)
{
    /* One millisecond at a time: every timer runs at its own instant. */
    sys_check_timeouts();
    while (ms--) {
        vclock++;
        sys_check_timeouts();
    }
}

/* ---- the netif ---- */

static struct netif nif;
static uint8_t nif_mac[6];
static uint16_t nif_mtu;
static pcpeer_send_fn out_fn;
static void *out_opaque;

static err_t peer_linkoutput(struct netif *n, struct pbuf *p)
{
    static uint8_t frame[PEER_MAX_FRAME];

    if (p->tot_len > sizeof(frame) ||
        pbuf_copy_partial(p, frame, p->tot_len, 0) != p->tot_len) {
        return ERR_IF;
    }
    if (out_fn && out_fn(out_opaque, frame, p->tot_len) != 0) {
        return ERR_IF;          /* like a full ring: TCP resends */
    }
    return ERR_OK;
}

static err_t peer_netif_init(struct netif *n)
{
    n->name[0] = 'p';
    n->name[1] = 'b';
    n->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(n->hwaddr, nif_mac, ETH_HWADDR_LEN);
    n->mtu = nif_mtu;
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    n->output = etharp_output;
    n->linkoutput = peer_linkoutput;
    return ERR_OK;
}

void pcpeer_init(const uint8_t mac[6], const char *ip, unsigned prefix,
                 uint16_t mtu, pcpeer_send_fn send, void *opaque)
{
    ip4_addr_t a, mask, gw;

    vclock = 0;
    memcpy(nif_mac, mac, 6);
    nif_mtu = mtu;
    out_fn = send;
    out_opaque = opaque;
    lwip_init();
    if (!ip4addr_aton(ip, &a) || prefix < 1 || prefix > 30) {
        fprintf(stderr, "pcpeer: bad address %s/%u\n", ip, prefix);
        abort();
    }
    ip4_addr_set_u32(&mask, lwip_htonl(0xffffffffu << (32 - prefix)));
    ip4_addr_set_zero(&gw);
    if (!netif_add(&nif, &a, &mask, &gw, NULL, peer_netif_init,
                   ethernet_input)) {
        abort();
    }
    netif_set_default(&nif);
    netif_set_up(&nif);
    netif_set_link_up(&nif);
}

void pcpeer_announce(void)
{
    etharp_gratuitous(&nif);
}

void pcpeer_set_output(pcpeer_send_fn send, void *opaque)
{
    out_fn = send;
    out_opaque = opaque;
}

void pcpeer_input(const void *frame, size_t len)
{
    struct pbuf *p;

    if (len < 14 || len > PEER_MAX_FRAME) {
        return;
    }
    p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
    if (!p) {
        return;
    }
    pbuf_take(p, frame, (u16_t)len);
    if (nif.input(p, &nif) != ERR_OK) {
        pbuf_free(p);
    }
}

/* ---- the HTTP server ---- */

/* Bytes waiting to be handed to TCP: a response head (owned) or a body. */
struct chunk {
    struct chunk *next;
    const uint8_t *p;
    size_t len, off;
    void *owned;
};

struct sconn {
    struct tcp_pcb *pcb;        /* NULL once closed or reset */
    unsigned id;
    char *in;                   /* received, not yet a complete request */
    size_t in_len, in_cap;
    struct chunk *out, *out_tail;
};

struct req {
    char *head;
    unsigned conn;
};

static struct tcp_pcb *listen_pcb;
static pcpeer_handler_fn handler;
static bool held;
static void *handler_opaque;
static struct sconn **sconns;
static unsigned nsconns;
static struct req *reqs;
static unsigned nreqs;

static void chunk_push(struct sconn *s, const void *p, size_t len, void *owned)
{
    struct chunk *c = xrealloc(NULL, sizeof(*c));

    c->next = NULL;
    c->p = p;
    c->len = len;
    c->off = 0;
    c->owned = owned;
    if (s->out_tail) {
        s->out_tail->next = c;
    } else {
        s->out = c;
    }
    s->out_tail = c;
}

static void chunks_free(struct sconn *s)
{
    while (s->out) {
        struct chunk *c = s->out;

        s->out = c->next;
        free(c->owned);
        free(c);
    }
    s->out_tail = NULL;
}

/* Hand queued bytes to TCP as far as its send buffer and queue allow. */
static void sconn_flush(struct sconn *s)
{
    bool wrote = false;

    while (!held && s->pcb && s->out) {
        struct chunk *c = s->out;
        size_t n = c->len - c->off;
        size_t room = tcp_sndbuf(s->pcb);
        err_t err;

        if (n > room) {
            n = room;
        }
        if (n > 0xffff) {
            n = 0xffff;
        }
        if (n == 0 && c->len != c->off) {
            break;
        }
        if (n) {
            err = tcp_write(s->pcb, c->p + c->off, (u16_t)n,
                            TCP_WRITE_FLAG_COPY |
                            (c->next || c->off + n < c->len ?
                             TCP_WRITE_FLAG_MORE : 0));
            if (err == ERR_MEM) {
                break;                  /* the sent callback resumes */
            }
            if (err != ERR_OK) {
                fprintf(stderr, "pcpeer: tcp_write: error %d\n", err);
                abort();
            }
            c->off += n;
            wrote = true;
        }
        if (c->off == c->len) {
            s->out = c->next;
            if (!s->out) {
                s->out_tail = NULL;
            }
            free(c->owned);
            free(c);
        }
    }
    if (wrote && s->pcb) {
        tcp_output(s->pcb);
    }
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 404:
        return "Not Found";
    default:
        return "Whatever";
    }
}

/* The value of Content-Length in @head (of @len bytes), or 0. */
static size_t content_length(const char *head, size_t len)
{
    static const char name[] = "\r\ncontent-length:";
    const size_t nl = sizeof(name) - 1;

    for (size_t i = 0; i + nl <= len; i++) {
        if (!strncasecmp(head + i, name, nl)) {
            return strtoul(head + i + nl, NULL, 10);
        }
    }
    return 0;
}

/* Length of the head at the front of @s's input ("\r\n\r\n" included), or 0. */
static size_t head_len(const struct sconn *s)
{
    for (size_t i = 0; i + 4 <= s->in_len; i++) {
        if (!memcmp(s->in + i, "\r\n\r\n", 4)) {
            return i + 4;
        }
    }
    return 0;
}

/* Answer every complete request at the front of @s's input. */
static void sconn_serve(struct sconn *s)
{
    size_t hl;

    while ((hl = head_len(s)) != 0) {
        size_t total = hl + content_length(s->in, hl);
        struct pcpeer_response r = { 404, NULL, 0 };
        char method[16] = "", target[1024] = "";
        char *head, *hbuf;
        int n;

        if (s->in_len < total) {
            return;                     /* the body is still coming */
        }
        head = xrealloc(NULL, hl + 1);
        memcpy(head, s->in, hl);
        head[hl] = '\0';
        if (sscanf(head, "%15s %1023s", method, target) != 2 ||
            !handler || !handler(handler_opaque, method, target, &r)) {
            r.status = 404;
            r.body = NULL;
            r.len = 0;
        }
        reqs = xrealloc(reqs, (nreqs + 1) * sizeof(*reqs));
        reqs[nreqs].head = head;
        reqs[nreqs].conn = s->id;
        nreqs++;

        hbuf = xrealloc(NULL, 128);
        n = snprintf(hbuf, 128, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n",
                     r.status, reason(r.status), r.len);
        chunk_push(s, hbuf, (size_t)n, hbuf);
        if (r.len) {
            chunk_push(s, r.body, r.len, NULL);
        }
        memmove(s->in, s->in + total, s->in_len - total);
        s->in_len -= total;
    }
}

static void sconn_detach(struct sconn *s)
{
    if (s->pcb) {
        tcp_arg(s->pcb, NULL);
        tcp_recv(s->pcb, NULL);
        tcp_sent(s->pcb, NULL);
        tcp_err(s->pcb, NULL);
        s->pcb = NULL;
    }
    chunks_free(s);
}

static err_t server_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p,
                         err_t err)
{
    struct sconn *s = arg;

    if (!s) {
        if (p) {
            tcp_recved(pcb, p->tot_len);
            pbuf_free(p);
        }
        return ERR_OK;
    }
    if (!p) {
        /* The card closed: close too (what we still had to say is moot). */
        sconn_detach(s);
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            return ERR_ABRT;
        }
        return ERR_OK;
    }
    if (s->in_len + p->tot_len > s->in_cap) {
        s->in_cap = (s->in_len + p->tot_len) * 2;
        s->in = xrealloc(s->in, s->in_cap);
    }
    pbuf_copy_partial(p, s->in + s->in_len, p->tot_len, 0);
    s->in_len += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    sconn_serve(s);
    sconn_flush(s);
    return ERR_OK;
}

static err_t server_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    if (arg) {
        sconn_flush(arg);
    }
    return ERR_OK;
}

static void server_err(void *arg, err_t err)
{
    struct sconn *s = arg;

    if (s) {
        s->pcb = NULL;          /* freed by lwIP */
        chunks_free(s);
    }
}

static err_t server_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct sconn *s;

    if (err != ERR_OK || !pcb) {
        return ERR_VAL;
    }
    s = xrealloc(NULL, sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->pcb = pcb;
    s->id = nsconns;
    sconns = xrealloc(sconns, (nsconns + 1) * sizeof(*sconns));
    sconns[nsconns++] = s;
    tcp_arg(pcb, s);
    tcp_recv(pcb, server_recv);
    tcp_sent(pcb, server_sent);
    tcp_err(pcb, server_err);
    tcp_nagle_disable(pcb);
    return ERR_OK;
}

int pcpeer_server_listen(uint16_t port, pcpeer_handler_fn fn, void *opaque)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);

    if (!pcb || tcp_bind(pcb, &nif.ip_addr, port) != ERR_OK) {
        return -1;
    }
    listen_pcb = tcp_listen(pcb);
    if (!listen_pcb) {
        return -1;
    }
    handler = fn;
    handler_opaque = opaque;
    tcp_accept(listen_pcb, server_accept);
    return 0;
}

void pcpeer_server_hold(bool hold)
{
    held = hold;
    for (unsigned i = 0; !held && i < nsconns; i++) {
        sconn_flush(sconns[i]);
    }
}

unsigned pcpeer_server_accepted(void)
{
    return nsconns;
}

unsigned pcpeer_server_open(void)
{
    unsigned n = 0;

    for (unsigned i = 0; i < nsconns; i++) {
        n += sconns[i]->pcb != NULL;
    }
    return n;
}

unsigned pcpeer_server_requests(void)
{
    return nreqs;
}

const char *pcpeer_server_request(unsigned i, unsigned *conn)
{
    if (i >= nreqs) {
        return NULL;
    }
    if (conn) {
        *conn = reqs[i].conn;
    }
    return reqs[i].head;
}

void pcpeer_reset(void)
{
    /* Every connection, ours or in TIME_WAIT, goes (tcp_abort frees it). */
    while (tcp_active_pcbs) {
        tcp_abort(tcp_active_pcbs);
    }
    while (tcp_tw_pcbs) {
        tcp_abort(tcp_tw_pcbs);
    }
    for (unsigned i = 0; i < nsconns; i++) {
        sconn_detach(sconns[i]);
        free(sconns[i]->in);
        free(sconns[i]);
    }
    free(sconns);
    sconns = NULL;
    nsconns = 0;
    for (unsigned i = 0; i < nreqs; i++) {
        free(reqs[i].head);
    }
    free(reqs);
    reqs = NULL;
    nreqs = 0;
    held = false;
    etharp_cleanup_netif(&nif);
}
