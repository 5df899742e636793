/*
 * proxycard firmware: the card's two Ethernet ports (NIC and bus) as lwIP
 * netifs.  Received frames are copied into arena pbufs and handed to lwIP;
 * lwIP's outgoing frames are flattened and given to the platform.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>
#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/prot/ip4.h"
#include "netif/ethernet.h"
#include "fw_internal.h"

static const char *const port_name[PCFW_PORT_COUNT] = { "nic", "bus" };

static enum pcfw_port port_of(const struct netif *n)
{
    return (enum pcfw_port)(n - pcfw.netif);
}

/*
 * One frame being flattened for the platform (which copies it).  A pbuf
 * chain is at most 65535 bytes (tot_len is 16 bits): it always fits.
 */
static uint8_t frame[PCFW_MAX_MTU + SIZEOF_ETH_HDR];
_Static_assert(sizeof(frame) >= 0xffff, "a whole pbuf chain fits");

/* The strong-host hooks (pcfw_hooks.h). */
struct netif *pcfw_route_src(const ip4_addr_t *src, const ip4_addr_t *dest)
{
    (void)dest;
    if (!src || ip4_addr_isany(src)) {
        return NULL;                    /* ip4_route() by destination */
    }
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        struct netif *n = &pcfw.netif[port];

        if (netif_is_up(n) && ip4_addr_cmp(src, netif_ip4_addr(n))) {
            return n;
        }
    }
    return NULL;
}

int pcfw_ip4_input_hook(struct pbuf *p, struct netif *inp)
{
    const struct ip_hdr *h = p->payload;
    ip4_addr_t dst;

    if (p->len < IP_HLEN) {
        return 0;                       /* ip4_input() drops it */
    }
    ip4_addr_copy(dst, h->dest);
    if (ip4_addr_cmp(&dst, netif_ip4_addr(inp))) {
        return 0;                       /* its own address (ports may share one) */
    }
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        struct netif *n = &pcfw.netif[port];

        if (n != inp && !ip4_addr_isany(netif_ip4_addr(n)) &&
            ip4_addr_cmp(&dst, netif_ip4_addr(n))) {
            /* For the other port's address: not taken on this one. */
            pcfw.st.rx_dropped[port_of(inp)]++;
            pbuf_free(p);
            return 1;
        }
    }
    return 0;
}

static err_t port_linkoutput(struct netif *n, struct pbuf *p)
{
    enum pcfw_port port = port_of(n);

    if (pbuf_copy_partial(p, frame, p->tot_len, 0) != p->tot_len ||
        pcfw.plat.send_frame(pcfw.plat.opaque, port, frame, p->tot_len) != 0) {
        pcfw.st.tx_dropped[port]++;
        return ERR_OK;  /* dropped like on a wire; TCP retransmits */
    }
    pcfw.st.tx_frames[port]++;
    return ERR_OK;
}

static err_t port_netif_init(struct netif *n)
{
    enum pcfw_port port = port_of(n);

    n->name[0] = port_name[port][0];
    n->name[1] = port_name[port][1];
    n->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(n->hwaddr, pcfw.cfg.port[port].mac, ETH_HWADDR_LEN);
    n->mtu = pcfw.cfg.port[port].mtu;
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    n->output = etharp_output;
    n->linkoutput = port_linkoutput;
    return ERR_OK;
}

int pcfw_ports_init(void)
{
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        const struct pcfw_port_config *pc = &pcfw.cfg.port[port];
        ip4_addr_t ip, mask, gw;
        struct netif *n = &pcfw.netif[port];

        ip4_addr_set_u32(&ip, pc->ip);
        ip4_addr_set_u32(&mask, pc->netmask);
        ip4_addr_set_u32(&gw, pc->gateway);
        if (!netif_add(n, &ip, &mask, &gw, NULL, port_netif_init,
                       ethernet_input)) {
            pcfw_log(PCFW_LOG_ERROR, "cannot add port %s", port_name[port]);
            return PCFW_ERR_NOMEM;
        }
        netif_set_up(n);
        netif_set_link_up(n);
        if (pc->dhcp && dhcp_start(n) != ERR_OK) {
            pcfw_log(PCFW_LOG_ERROR, "cannot start DHCP on port %s",
                     port_name[port]);
            return PCFW_ERR_NOMEM;
        }
    }
    netif_set_default(&pcfw.netif[PCFW_PORT_NIC]);
    return PCFW_OK;
}

/* A new configuration: readdress the ports whose settings changed. */
void pcfw_ports_apply(const struct pcfw_config *old)
{
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        const struct pcfw_port_config *o = &old->port[port];
        const struct pcfw_port_config *pc = &pcfw.cfg.port[port];
        struct netif *n = &pcfw.netif[port];
        ip4_addr_t ip, mask, gw;

        if (o->dhcp == pc->dhcp && o->ip == pc->ip &&
            o->netmask == pc->netmask && o->gateway == pc->gateway) {
            continue;
        }
        if (o->dhcp) {
            dhcp_release_and_stop(n);
        }
        ip4_addr_set_u32(&ip, pc->ip);
        ip4_addr_set_u32(&mask, pc->netmask);
        ip4_addr_set_u32(&gw, pc->gateway);
        netif_set_addr(n, &ip, &mask, &gw);
        if (pc->dhcp && dhcp_start(n) != ERR_OK) {
            pcfw_log(PCFW_LOG_ERROR, "cannot start DHCP on port %s",
                     port_name[port]);
        }
        pcfw_log(PCFW_LOG_INFO, "port %s readdressed", port_name[port]);
    }
}

void pcfw_ports_input(enum pcfw_port port, const void *frame, size_t len)
{
    struct netif *n;
    struct pbuf *p;

    if ((unsigned)port >= PCFW_PORT_COUNT) {
        return;
    }
    n = &pcfw.netif[port];
    if (len < SIZEOF_ETH_HDR || len > (size_t)n->mtu + SIZEOF_ETH_HDR) {
        pcfw.st.rx_dropped[port]++;
        return;
    }
    /*
     * One right-sized buffer per frame (PBUF_RAM: header and frame in one
     * arena block), not lwIP's 1.5 KiB pool buffers: a 60-byte frame held in
     * an out-of-order queue costs ~250 bytes of card memory, not 1.6 KiB,
     * and a jumbo frame is one block rather than a chain of six.
     */
    pcfw.rx_alloc = true;       /* below the arena's reserve (sys.c) */
    p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
    if (!p) {
        /*
         * Card memory is full: out-of-order data is the one thing lwIP
         * holds that the sender will retransmit, so it goes first (one
         * connection's queue per failed frame), and the frame gets a second
         * chance; it may be the ACK that frees more.
         */
        pbuf_free_ooseq();
        p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
    }
    pcfw.rx_alloc = false;
    if (!p) {
        pcfw.st.rx_dropped[port]++;    /* card memory full: like a full ring */
        return;
    }
    pbuf_take(p, frame, (u16_t)len);
    pcfw.st.rx_frames[port]++;
    if (n->input(p, n) != ERR_OK) {
        pbuf_free(p);
    }
}

void pcfw_ports_shutdown(void)
{
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        netif_remove(&pcfw.netif[port]);
    }
}
