/*
 * The card's peer: two TCP/IP stacks in one test process.
 *
 * The firmware's lwIP is compiled into libproxycard-fw.a and every symbol
 * but pcfw_* is made local there, so this program can link a SECOND,
 * ordinary lwIP (built by tests/unit/pool.mk with tests/unit/peer's
 * options) without a single name meeting the firmware's.  That second
 * stack is the card's whole outside world:
 *
 *     peer netif "nic" 10.0.2.2  <-- frames -->  card NIC port 10.0.2.15
 *         clients (raw TCP API) connect to the card's listeners
 *     peer netif "bus" 10.0.3.2  <-- frames -->  card BUS port 10.0.3.15
 *         a scripted HTTP server accepts the card's pooled connections
 *
 * Determinism: there are no sockets, threads or real time.  Frames go
 * through two in-memory FIFOs (card -> peer from the platform's send_frame
 * hook, peer -> card from the peer netifs' linkoutput), and are delivered
 * only by peer_run(), never from inside the stack that produced them, so
 * neither stack is ever re-entered.  Both stacks read one virtual
 * millisecond clock (the card through its now_ms hook, the peer through
 * sys_now()), which only peer_run() advances.  Randomness is seeded: the
 * card seeds from its clock and MAC, the peer from a constant.  So a test
 * is the same run every time, and "after 1.9 s" means exactly that.
 *
 * lwIP keeps global state on both sides: one peer and one card per
 * process.  Check's fork mode gives every test its own process.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "lwip/etharp.h"
#include "lwip/inet_chksum.h"
#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"     /* tcp_abandon: a server that forgets */
#include "lwip/prot/tcp.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "pcfw.h"
#include "peer.h"

#define CARD_MEM        (8u << 20)
/* Deliveries at one instant beyond this mean two stacks ping-ponging. */
#define SETTLE_LIMIT    200000

/* ---- byte buffers ---- */

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_put(struct buf *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        b->p = realloc(b->p, cap);
        if (!b->p) {
            abort();
        }
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';    /* always a C string for the assertions */
}

static void buf_drop(struct buf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    b->p[b->len] = '\0';
}

/* ---- frame queues ---- */

struct frame {
    struct frame *next;
    enum pcfw_port port;
    size_t len;
    uint8_t data[];
};

struct fq {
    struct frame *head, *tail;
};

static struct fq to_card, to_peer;

static void fq_push(struct fq *q, enum pcfw_port port, const void *data,
                    size_t len)
{
    struct frame *f = malloc(sizeof(*f) + len);

    if (!f) {
        abort();
    }
    f->next = NULL;
    f->port = port;
    f->len = len;
    memcpy(f->data, data, len);
    if (q->tail) {
        q->tail->next = f;
    } else {
        q->head = f;
    }
    q->tail = f;
}

static struct frame *fq_pop(struct fq *q)
{
    struct frame *f = q->head;

    if (f) {
        q->head = f->next;
        if (!q->head) {
            q->tail = NULL;
        }
    }
    return f;
}

/* ---- the shared clock and the peer's system glue ---- */

static uint32_t vclock;
static uint64_t rand_state = 0x2545f4914f6cdd1dull;

uint32_t peer_now(void)
{
    return vclock;
}

u32_t sys_now(void)
{
    return vclock;
}

/* xorshift64* with a fixed seed: the same "random" numbers every run. */
uint32_t peer_rand(void)
{
    uint64_t x = rand_state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rand_state = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

/* ---- the card's platform ---- */

static void *card_mem;
static char card_fault[256];
static const uint8_t card_mac[PCFW_PORT_COUNT][6] = {
    { 0x02, 0x00, 0x00, 0x00, 0x02, 0x0f },
    { 0x02, 0x00, 0x00, 0x00, 0x03, 0x0f },
};

/* TCP segments with data the card sent on the bus port, and with PSH. */
static unsigned bus_data_segs, bus_psh_segs;

static void count_bus_segment(const uint8_t *f, size_t len)
{
    size_t ihl, thl, ip_len;

    if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 6) {
        return;                         /* not IPv4 TCP */
    }
    ihl = (size_t)(f[14] & 0x0f) * 4;
    ip_len = (size_t)f[16] << 8 | f[17];
    if (len < 14 + ihl + 20) {
        return;
    }
    thl = (size_t)(f[14 + ihl + 12] >> 4) * 4;
    if (ip_len > ihl + thl) {
        bus_data_segs++;
        bus_psh_segs += (f[14 + ihl + 13] & 0x08) != 0;
    }
}

static peer_tap_fn card_tap;

void peer_card_tap(peer_tap_fn fn)
{
    card_tap = fn;
}

/* Called from inside pcfw_* only: queue, never deliver (no re-entry). */
static int card_send_frame(void *opaque, enum pcfw_port port,
                           const void *frame, size_t len)
{
    if (card_tap) {
        card_tap(port, frame, len);
    }
    if (port == PCFW_PORT_BUS) {
        count_bus_segment(frame, len);
    }
    fq_push(&to_peer, port, frame, len);
    return 0;
}

unsigned peer_bus_data_segments(unsigned *with_psh)
{
    *with_psh = bus_psh_segs;
    return bus_data_segs;
}

static uint32_t card_now_ms(void *opaque)
{
    return vclock;
}

static void card_log(void *opaque, enum pcfw_log_level level, const char *msg)
{
    if (level <= PCFW_LOG_WARN || getenv("PEER_VERBOSE")) {
        fprintf(stderr, "[%6u ms] card: %s\n", (unsigned)vclock, msg);
    }
}

static const struct pcfw_platform card_platform = {
    .opaque = NULL,
    .send_frame = card_send_frame,
    .now_ms = card_now_ms,
    .log = card_log,
};

int peer_card_boot(const char *config)
{
    struct pcfw_config cfg;
    char err[160];

    pcfw_config_defaults(&cfg);
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        memcpy(cfg.port[port].mac, card_mac[port], 6);
    }
    if (pcfw_config_parse(&cfg, config, strlen(config), err,
                          sizeof(err)) != 0) {
        fprintf(stderr, "peer: bad card configuration: %s\n", err);
        abort();
    }
    card_mem = malloc(CARD_MEM);
    if (!card_mem) {
        abort();
    }
    return pcfw_init(&card_platform, &cfg, card_mem, CARD_MEM);
}

const char *peer_card_fault(void)
{
    return card_fault[0] ? card_fault : NULL;
}

/* ---- the peer's two netifs ---- */

static struct netif nif[PCFW_PORT_COUNT];
static const uint8_t peer_mac[PCFW_PORT_COUNT][6] = {
    { 0x02, 0x00, 0x00, 0x00, 0x02, 0x02 },
    { 0x02, 0x00, 0x00, 0x00, 0x03, 0x02 },
};

static enum pcfw_port port_of(const struct netif *n)
{
    return (enum pcfw_port)(n - nif);
}

/* Called from inside the peer stack: queue, never deliver (no re-entry). */
static err_t peer_linkoutput(struct netif *n, struct pbuf *p)
{
    uint8_t frame[PCFW_MAX_FRAME];

    if (p->tot_len > sizeof(frame) ||
        pbuf_copy_partial(p, frame, p->tot_len, 0) != p->tot_len) {
        fprintf(stderr, "peer: cannot send a %u-byte frame\n", p->tot_len);
        abort();
    }
    fq_push(&to_card, port_of(n), frame, p->tot_len);
    return ERR_OK;
}

static err_t peer_netif_init(struct netif *n)
{
    enum pcfw_port port = port_of(n);

    n->name[0] = port == PCFW_PORT_NIC ? 'n' : 'b';
    n->name[1] = 'p';
    n->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(n->hwaddr, peer_mac[port], ETH_HWADDR_LEN);
    n->mtu = 1500;
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    n->output = etharp_output;
    n->linkoutput = peer_linkoutput;
    return ERR_OK;
}

void peer_input(enum pcfw_port port, const void *frame, size_t len)
{
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);

    if (!p) {
        abort();
    }
    pbuf_take(p, frame, (u16_t)len);
    if (nif[port].input(p, &nif[port]) != ERR_OK) {
        pbuf_free(p);
    }
}

void peer_init(void)
{
    static const char *const ip[PCFW_PORT_COUNT] = { PEER_NIC_IP, PEER_BUS_IP };

    vclock = 0;
    bus_data_segs = bus_psh_segs = 0;
    lwip_init();
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        ip4_addr_t a, mask, gw;

        ip4addr_aton(ip[port], &a);
        IP4_ADDR(&mask, 255, 255, 255, 0);
        ip4_addr_set_zero(&gw);
        if (!netif_add(&nif[port], &a, &mask, &gw, NULL, peer_netif_init,
                       ethernet_input)) {
            abort();
        }
        netif_set_up(&nif[port]);
        netif_set_link_up(&nif[port]);
    }
    netif_set_default(&nif[PCFW_PORT_NIC]);
}

/* ---- the pump ---- */

/* Deliver queued frames both ways until both queues are empty. */
static void deliver(void)
{
    for (unsigned n = 0;; n++) {
        struct frame *f;

        if (n > SETTLE_LIMIT) {
            fprintf(stderr, "peer: frames never settle at %u ms\n",
                    (unsigned)vclock);
            abort();
        }
        if ((f = fq_pop(&to_card))) {
            pcfw_input(f->port, f->data, f->len);
        } else if ((f = fq_pop(&to_peer))) {
            peer_input(f->port, f->data, f->len);
        } else {
            return;
        }
        free(f);
    }
}

static void settle(void)
{
    const char *fault;

    deliver();
    pcfw_poll();
    sys_check_timeouts();
    deliver();
    fault = pcfw_fault();
    if (fault && !card_fault[0]) {
        snprintf(card_fault, sizeof(card_fault), "%s", fault);
        fprintf(stderr, "[%6u ms] card fault: %s\n", (unsigned)vclock, fault);
    }
}

void peer_run(uint32_t ms)
{
    settle();
    while (ms--) {
        vclock++;
        settle();
    }
}

/* ---- clients ---- */

struct client {
    struct tcp_pcb *pcb;        /* NULL once closed or reset */
    struct buf tx;              /* queued, not yet given to TCP */
    struct buf rx;
    bool connected, closed, reset;
    bool paused;                /* peer_client_pause() */
    bool shut_pending, shut;    /* peer_client_shutdown() */
    uint32_t unacked;           /* received while paused */
    uint32_t fin_ms;
    uint16_t local_port;        /* its own port, as the card sees it */
};

static struct client clients[PEER_MAX_CONNS];
static int nclients;

static struct client *client_get(int id)
{
    if (id < 0 || id >= nclients) {
        fprintf(stderr, "peer: no client %d\n", id);
        abort();
    }
    return &clients[id];
}

static void client_flush(struct client *c)
{
    size_t n;

    if (!c->pcb || !c->connected) {
        return;
    }
    n = c->tx.len;
    if (n > tcp_sndbuf(c->pcb)) {
        n = tcp_sndbuf(c->pcb);
    }
    if (n && tcp_write(c->pcb, c->tx.p, (u16_t)n, TCP_WRITE_FLAG_COPY) == ERR_OK) {
        buf_drop(&c->tx, n);
        tcp_output(c->pcb);
    }
    if (c->shut_pending && !c->shut && !c->tx.len &&
        tcp_shutdown(c->pcb, 0, 1) == ERR_OK) {
        c->shut = true;
        tcp_output(c->pcb);
    }
}

static err_t client_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p,
                         err_t err)
{
    struct client *c = arg;

    if (!p) {
        /* The card closed: a well-behaved client closes too. */
        c->closed = true;
        c->fin_ms = vclock;
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_sent(pcb, NULL);
        tcp_err(pcb, NULL);
        c->pcb = NULL;
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            return ERR_ABRT;
        }
        return ERR_OK;
    }
    for (struct pbuf *q = p; q; q = q->next) {
        buf_put(&c->rx, q->payload, q->len);
    }
    if (c->paused) {
        c->unacked += p->tot_len;
    } else {
        tcp_recved(pcb, p->tot_len);
    }
    pbuf_free(p);
    return ERR_OK;
}

static err_t client_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    client_flush(arg);
    return ERR_OK;
}

static void client_err(void *arg, err_t err)
{
    struct client *c = arg;

    c->pcb = NULL;      /* freed by lwIP */
    c->reset = true;
}

static err_t client_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct client *c = arg;

    c->connected = true;
    client_flush(c);
    return ERR_OK;
}

int peer_client_open(uint16_t port)
{
    struct client *c;
    ip_addr_t dst;

    if (nclients == PEER_MAX_CONNS) {
        abort();
    }
    c = &clients[nclients];
    memset(c, 0, sizeof(*c));
    c->pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (!c->pcb) {
        abort();
    }
    tcp_arg(c->pcb, c);
    tcp_recv(c->pcb, client_recv);
    tcp_sent(c->pcb, client_sent);
    tcp_err(c->pcb, client_err);
    tcp_nagle_disable(c->pcb);
    ipaddr_aton(PEER_CARD_NIC, &dst);
    if (tcp_connect(c->pcb, &dst, port, client_connected) != ERR_OK) {
        abort();
    }
    c->local_port = c->pcb->local_port;     /* bound by tcp_connect */
    return nclients++;
}

void peer_client_send(int id, const void *data, size_t len)
{
    struct client *c = client_get(id);

    buf_put(&c->tx, data, len);
    client_flush(c);
}

void peer_client_pause(int id, bool paused)
{
    struct client *c = client_get(id);

    c->paused = paused;
    if (!paused && c->pcb) {
        while (c->unacked) {
            u16_t step = c->unacked > 0xffff ? 0xffff : (u16_t)c->unacked;

            tcp_recved(c->pcb, step);
            c->unacked -= step;
        }
        tcp_output(c->pcb);     /* the window update */
    }
}

void peer_client_shutdown(int id)
{
    struct client *c = client_get(id);

    c->shut_pending = true;
    client_flush(c);            /* or client_connected(), or client_sent() */
}

void peer_client_send_str(int id, const char *s)
{
    peer_client_send(id, s, strlen(s));
}

const char *peer_client_received(int id, size_t *len)
{
    struct client *c = client_get(id);

    if (len) {
        *len = c->rx.len;
    }
    return c->rx.p ? c->rx.p : "";
}

void peer_client_abort(int id)
{
    struct client *c = client_get(id);

    if (c->pcb) {
        tcp_err(c->pcb, NULL);
        tcp_abort(c->pcb);      /* sends RST */
        c->pcb = NULL;
        c->reset = true;
    }
}

uint16_t peer_client_port(int id)
{
    return client_get(id)->local_port;
}

bool peer_client_connected(int id)
{
    return client_get(id)->connected;
}

bool peer_client_closed(int id)
{
    return client_get(id)->closed;
}

bool peer_client_reset(int id)
{
    return client_get(id)->reset;
}

uint32_t peer_client_fin_ms(int id)
{
    return client_get(id)->fin_ms;
}

/*
 * A hand-made segment on client @id's connection: @len bytes at sequence
 * number snd_nxt + @ahead, acknowledging what the client received, sent
 * behind the client's own TCP (which never learns of it).
 */
void peer_client_forge(int id, uint32_t ahead, const void *data, size_t len)
{
    peer_client_forge_opts(id, ahead, NULL, 0, data, len);
}

void peer_client_forge_opts(int id, uint32_t ahead, const uint8_t *opts,
                            size_t optlen, const void *data, size_t len)
{
    struct client *c = client_get(id);
    struct netif *n = &nif[PCFW_PORT_NIC];
    size_t hlen = TCP_HLEN + optlen;
    struct tcp_hdr *th;
    struct pbuf *p;

    if (!c->pcb || len > TCP_MSS || optlen > 40 || optlen % 4) {
        fprintf(stderr, "peer: client %d cannot forge a %zu-byte segment "
                "with %zu bytes of options (%s)\n", id, len, optlen,
                c->pcb ? "bad lengths" : "no connection");
        abort();
    }
    p = pbuf_alloc(PBUF_IP, (u16_t)(hlen + len), PBUF_RAM);
    if (!p) {
        abort();
    }
    th = p->payload;
    memset(th, 0, TCP_HLEN);
    th->src = lwip_htons(c->pcb->local_port);
    th->dest = lwip_htons(c->pcb->remote_port);
    th->seqno = lwip_htonl(c->pcb->snd_nxt + ahead);
    th->ackno = lwip_htonl(c->pcb->rcv_nxt);
    TCPH_HDRLEN_FLAGS_SET(th, hlen / 4, TCP_ACK);
    th->wnd = lwip_htons((u16_t)c->pcb->rcv_wnd);
    if (optlen) {
        memcpy((char *)p->payload + TCP_HLEN, opts, optlen);
    }
    if (len) {
        memcpy((char *)p->payload + hlen, data, len);
    }
    th->chksum = ip_chksum_pseudo(p, IP_PROTO_TCP, p->tot_len,
                                  &c->pcb->local_ip, &c->pcb->remote_ip);
    if (ip_output_if(p, &c->pcb->local_ip, &c->pcb->remote_ip, 64, 0,
                     IP_PROTO_TCP, n) != ERR_OK) {
        abort();
    }
    pbuf_free(p);
}

/* ---- the scripted server ---- */

struct script {
    enum peer_act act;
    char *reply;
};

struct sconn {
    struct tcp_pcb *pcb;        /* NULL once closed or reset, either side */
    struct peer_conn_info info;
    struct buf rx;              /* bytes not yet a complete request */
    struct buf raw;             /* every byte received, in order */
    size_t stream_left;         /* peer_server_stream(): bytes still to send */
};

struct request {
    struct buf bytes;
    unsigned conn;
};

static struct tcp_pcb *listen_pcb;
static struct sconn sconns[PEER_MAX_CONNS];
static unsigned nsconns;
static struct request requests[4 * PEER_MAX_CONNS];
static unsigned nrequests;
static struct script scripts[4 * PEER_MAX_CONNS];
static unsigned nscripts, next_script;
static struct script default_script = { PEER_REPLY, NULL };

static struct sconn *sconn_get(unsigned conn)
{
    if (conn >= nsconns) {
        fprintf(stderr, "peer: no server connection %u\n", conn);
        abort();
    }
    return &sconns[conn];
}

static char *dup_str(const char *s)
{
    char *d = strdup(s ? s : "");

    if (!d) {
        abort();
    }
    return d;
}

void peer_server_script(enum peer_act act, const char *reply)
{
    if (nscripts == sizeof(scripts) / sizeof(scripts[0])) {
        abort();
    }
    scripts[nscripts].act = act;
    scripts[nscripts].reply = dup_str(reply);
    nscripts++;
}

void peer_server_default(enum peer_act act, const char *reply)
{
    free(default_script.reply);
    default_script.act = act;
    default_script.reply = dup_str(reply);
}

/* Forget the pcb and stop its callbacks (before an abort of our own). */
static void sconn_release(struct sconn *s)
{
    if (s->pcb) {
        tcp_arg(s->pcb, NULL);
        tcp_recv(s->pcb, NULL);
        tcp_sent(s->pcb, NULL);
        tcp_err(s->pcb, NULL);
        s->pcb = NULL;
    }
    s->info.open = false;
}

static int sconn_write(struct sconn *s, const char *bytes)
{
    size_t len = strlen(bytes);

    if (!s->pcb) {
        return -1;
    }
    if (len == 0) {
        return 0;
    }
    if (len > tcp_sndbuf(s->pcb) ||
        tcp_write(s->pcb, bytes, (u16_t)len, TCP_WRITE_FLAG_COPY) != ERR_OK) {
        fprintf(stderr, "peer: server cannot write %zu bytes at once\n", len);
        abort();
    }
    return 0;
}

/*
 * Close gracefully: what was written goes out, with the FIN after it.  The
 * callbacks stay, so the card's FIN or RST that follows is still recorded;
 * s->pcb is forgotten, as lwIP may free the pcb silently from here on.
 */
static void sconn_close(struct sconn *s)
{
    struct tcp_pcb *pcb = s->pcb;

    s->info.we_closed = true;
    s->info.open = false;
    s->pcb = NULL;
    if (tcp_close(pcb) != ERR_OK) {
        tcp_arg(pcb, NULL);
        tcp_abort(pcb);
    }
}

static void sconn_reset(struct sconn *s)
{
    struct tcp_pcb *pcb = s->pcb;

    s->info.we_closed = true;
    sconn_release(s);
    tcp_abort(pcb);
}

/* Length of the complete request at the front of @b, or 0. */
static size_t request_len(const struct buf *b)
{
    const char *end = NULL;
    size_t head;
    long body = 0;

    for (size_t i = 0; i + 4 <= b->len; i++) {
        if (memcmp(b->p + i, "\r\n\r\n", 4) == 0) {
            end = b->p + i + 4;
            break;
        }
    }
    if (!end) {
        return 0;
    }
    head = (size_t)(end - b->p);
    for (const char *l = b->p; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));

        if (!nl) {
            break;
        }
        if (nl - l > 15 && strncasecmp(l, "Content-Length:", 15) == 0) {
            body = strtol(l + 15, NULL, 10);
        }
        l = nl + 1;
    }
    return b->len >= head + (size_t)body ? head + (size_t)body : 0;
}

/* Take the complete requests out of s->rx and act; false if s was reset. */
static bool sconn_serve(struct sconn *s)
{
    size_t len;

    while (s->pcb && (len = request_len(&s->rx)) > 0) {
        struct request *r;
        const struct script *sc;

        if (nrequests == sizeof(requests) / sizeof(requests[0])) {
            abort();
        }
        r = &requests[nrequests++];
        memset(r, 0, sizeof(*r));
        buf_put(&r->bytes, s->rx.p, len);
        r->conn = (unsigned)(s - sconns);
        buf_drop(&s->rx, len);
        s->info.requests++;

        sc = next_script < nscripts ? &scripts[next_script++] : &default_script;
        switch (sc->act) {
        case PEER_REPLY:
            sconn_write(s, sc->reply ? sc->reply : PEER_DEFAULT_REPLY);
            tcp_output(s->pcb);
            break;
        case PEER_REPLY_CLOSE:
            /* Written and closed before output: data and FIN in one segment. */
            sconn_write(s, sc->reply ? sc->reply : PEER_DEFAULT_REPLY);
            sconn_close(s);
            break;
        case PEER_RESET:
            sconn_reset(s);
            return false;
        case PEER_SILENT:
            break;
        }
    }
    s->info.unparsed = s->rx.len;
    return true;
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
        s->info.card_fin = true;
        s->info.end_ms = vclock;
        if (!s->pcb) {
            return ERR_OK;      /* we closed first: lwIP finishes alone */
        }
        /* The card closed: a server closes its side too. */
        sconn_release(s);
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            return ERR_ABRT;
        }
        return ERR_OK;
    }
    if (!s->pcb) {
        /* Data after our close: lwIP resets such a pcb before calling us. */
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
        return ERR_OK;
    }
    for (struct pbuf *q = p; q; q = q->next) {
        buf_put(&s->rx, q->payload, q->len);
        buf_put(&s->raw, q->payload, q->len);
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return sconn_serve(s) ? ERR_OK : ERR_ABRT;
}

static void server_err(void *arg, err_t err)
{
    struct sconn *s = arg;

    if (s) {
        s->pcb = NULL;  /* freed by lwIP */
        s->info.open = false;
        s->info.card_rst = true;
        s->info.end_ms = vclock;
    }
}

/* Send what peer_server_stream() still owes, as far as the window allows. */
static void sconn_stream(struct sconn *s)
{
    static char chunk[1460];
    bool wrote = false;

    memset(chunk, 's', sizeof(chunk));
    while (s->pcb && s->stream_left && tcp_sndbuf(s->pcb) &&
           tcp_sndqueuelen(s->pcb) < TCP_SND_QUEUELEN) {
        size_t n = s->stream_left < sizeof(chunk) ? s->stream_left
                                                  : sizeof(chunk);

        if (n > tcp_sndbuf(s->pcb)) {
            n = tcp_sndbuf(s->pcb);
        }
        if (tcp_write(s->pcb, chunk, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK) {
            break;
        }
        s->stream_left -= n;
        wrote = true;
    }
    if (wrote) {
        tcp_output(s->pcb);
    }
}

static err_t server_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    if (arg) {
        sconn_stream(arg);
    }
    return ERR_OK;
}

static err_t server_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct sconn *s;

    if (err != ERR_OK || !pcb || nsconns == PEER_MAX_CONNS) {
        return ERR_VAL;
    }
    s = &sconns[nsconns++];
    memset(s, 0, sizeof(*s));
    s->pcb = pcb;
    s->info.open = true;
    s->info.accepted_ms = vclock;
    tcp_arg(pcb, s);
    tcp_recv(pcb, server_recv);
    tcp_sent(pcb, server_sent);
    tcp_err(pcb, server_err);
    tcp_nagle_disable(pcb);
    return ERR_OK;
}

void peer_server_listen(uint16_t port)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    ip_addr_t a;

    ipaddr_aton(PEER_BUS_IP, &a);
    if (!pcb || tcp_bind(pcb, &a, port) != ERR_OK) {
        abort();
    }
    listen_pcb = tcp_listen(pcb);
    if (!listen_pcb) {
        abort();
    }
    tcp_accept(listen_pcb, server_accept);
}

unsigned peer_server_accepted(void)
{
    return nsconns;
}

const struct peer_conn_info *peer_server_conn(unsigned conn)
{
    return &sconn_get(conn)->info;
}

const char *peer_server_raw(unsigned conn, size_t *len)
{
    struct sconn *s = sconn_get(conn);

    *len = s->raw.len;
    return s->raw.p ? s->raw.p : "";
}

unsigned peer_server_requests(void)
{
    return nrequests;
}

const char *peer_server_request(unsigned i, size_t *len, unsigned *conn)
{
    if (i >= nrequests) {
        fprintf(stderr, "peer: no request %u\n", i);
        abort();
    }
    if (len) {
        *len = requests[i].bytes.len;
    }
    if (conn) {
        *conn = requests[i].conn;
    }
    return requests[i].bytes.p;
}

int peer_server_send(unsigned conn, const char *bytes)
{
    struct sconn *s = sconn_get(conn);

    if (sconn_write(s, bytes) != 0) {
        return -1;
    }
    tcp_output(s->pcb);
    return 0;
}

int peer_server_close(unsigned conn)
{
    struct sconn *s = sconn_get(conn);

    if (!s->pcb) {
        return -1;
    }
    sconn_close(s);
    return 0;
}

int peer_server_reset(unsigned conn)
{
    struct sconn *s = sconn_get(conn);

    if (!s->pcb) {
        return -1;
    }
    sconn_reset(s);
    return 0;
}

void peer_server_unlisten(void)
{
    if (listen_pcb) {
        tcp_close(listen_pcb);
        listen_pcb = NULL;
    }
}

int peer_server_forget(unsigned conn)
{
    struct sconn *s = sconn_get(conn);
    struct tcp_pcb *pcb = s->pcb;

    if (!pcb) {
        return -1;
    }
    s->info.we_closed = true;
    sconn_release(s);
    tcp_abandon(pcb, 0);        /* no RST: the card learns on its next segment */
    return 0;
}

int peer_server_stream(unsigned conn, size_t n)
{
    struct sconn *s = sconn_get(conn);

    if (!s->pcb) {
        return -1;
    }
    s->stream_left += n;
    sconn_stream(s);
    return 0;
}

size_t peer_server_stream_left(unsigned conn)
{
    return sconn_get(conn)->stream_left;
}
