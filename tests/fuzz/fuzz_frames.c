/*
 * libFuzzer target: the whole firmware (guest-fw + lwIP, built with the
 * sanitizers) fed Ethernet frames on both ports, with time steps.
 *
 * The platform is this file: send_frame records what the card sends (and
 * parses it, see below), now_ms is a counter the input advances.
 *
 * Determinism.  The firmware boots once per process (lwIP keeps global
 * state), so the target boots it once, lets the pool connect to the server,
 * and then snapshots everything the firmware can change: its data and bss
 * (the build renames them to the sections pcfw_snap_data / pcfw_snap_bss,
 * see tests/fuzz/fuzz.mk), the card memory and this harness's own state.
 * Every input starts from that snapshot, so an input's outcome depends on
 * the input alone and a crash replays.
 *
 * Reply awareness.  Random frames never get past a SYN: the card's initial
 * sequence numbers are unguessable.  So the harness watches the card's
 * replies and keeps, per TCP connection, the next sequence number of each
 * side; the input can then say "client 2 sends these bytes with PSH|ACK"
 * and the harness writes correct addresses, sequence numbers,
 * acknowledgements and checksums.  Raw frames are there too, verbatim or
 * "fixed up" (checksums recomputed and, for a tracked connection, the
 * sequence numbers filled in), so that captured frames replay.  By default
 * the harness also answers ARP, accepts the card's connections to the
 * server and acknowledges what the card sends, as a live peer would; the
 * input's first byte can turn the last two off.
 *
 * Input: byte 0 is the mode (bit 0: do not accept server connections by
 * itself, bit 1: do not acknowledge by itself), then records:
 *
 *   op & 7 == 0  RAW: port = op bit 3, fixup = op bit 4; u16 length (LE);
 *                that many bytes of Ethernet frame.
 *   op & 7 == 1  TIME: u8 steps-1, u16 step ms (LE; times 64 if op bit 3);
 *                each step advances the clock and runs pcfw_poll().
 *   op & 7 == 2  CLIENT: c = op bits 3-4 (four clients); u8 TCP flags;
 *                u16 payload length, the payload.  SYN on a client with no
 *                open connection opens one to card port ports[op bits 5-6].
 *   op & 7 == 3  SERVER: s = op bits 3-5 (7: the server connection the card
 *                wrote to last); u8 flags; u16 length, payload.
 *   op & 7 == 4  ODD: the next CLIENT/SERVER record gets a sequence offset
 *                (s16 LE) and a window (u8, in 256-byte units).
 *   op & 7 == 5  DRAIN: a second round of the automatic replies.
 *   op & 7 == 6  RECONFIG: load reconfigs[op bits 3-5] (pcfw_reconfigure);
 *                only the first MAX_RECONFIGS of an input, the rest skipped.
 *   otherwise    skipped.
 *
 * Invariants besides the sanitizers: the firmware never faults (an lwIP
 * assertion is a firmware bug), never sends a frame longer than the port's
 * MTU allows or shorter than an Ethernet header, and its memory accounting
 * stays within the card.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pcfw.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_frames.c:%d: invariant broken: %s\n",    \
                    __LINE__, #cond);                                      \
            abort();                                                       \
        }                                                                  \
    } while (0)

/* ---- the card and its peers ------------------------------------------------ */

#define CARD_MEM        (1u << 20)          /* PCFW_MIN_MEM: cheap to restore */
#define MTU             1500
#define MAX_PAYLOAD     1460
#define MAX_RAW         1600                /* longer than the MTU allows: tested */

/* Short timeouts, so that a few time steps reach them. */
#define CONFIG_TIMEOUTS \
    "timeout request 2s\ntimeout server 3s\ntimeout idle 4s\n" \
    "timeout pool-idle 5s\ntimeout connect 1s\ntimeout shed 1s\n"
#define CONFIG_LIMITS \
    "max-clients 16\nmax-header 4k\nmax-body 64k\nbuffer 64k\n"
/* The pass-through listener names its clients (PROXY protocol, issue 11). */
#define CONFIG_LISTEN \
    "listen 80 http 8080\nlisten 2222 pass 22 proxy-protocol v1\n" \
    "unmatched pass\n"

/*
 * The security proxy at boot too: every input meets its checks.  Card
 * port 8080 is listened on, since with `unmatched pass` a client could
 * otherwise reach server port 8080 around the rules (refused, config.c).  The user
 * is u, password p (salt 00: SHA-256 of 0x00 "p"), the token "t".
 */
#define CONFIG_SECURITY \
    "listen 8080 http 8080\n" /* else unmatched pass reaches it raw */ \
    "limit-conn 3\nlimit-conn 1 port 2222\nlimit-req 50/s burst 5\n" \
    "limit-req 2/s burst 2 port 8081\nlimit-rate 5/s burst 2 port 8081\n" \
    "sources 64\n" \
    "http-deny path /x\nhttp-deny method PUT\nauth basic r path /a\n" \
    "user u 00 " \
    "4cf5af027d9a949a881e505bd7c7b14c5eb61ff47d159b585a331d690501d13d\n" \
    "auth bearer b path /b\n" \
    "token e3b98a4da31a127d4bde6e43033f66ba274cab0eb7eb1c70ec41402bf6273dd8\n"

static const char config_text[] =
    "nic address 10.0.2.15/24 gateway 10.0.2.2\n"
    "bus address 10.0.3.15/24 gateway 10.0.3.2\n"
    "server 10.0.3.2\n"
    "pool 2\n"
    CONFIG_LISTEN CONFIG_LIMITS CONFIG_TIMEOUTS CONFIG_SECURITY;

/*
 * What RECONFIG loads (pcfw_reconfigure).  Three HTTP server ports in all:
 * pools are never freed (issue 9, item 2), so more would only find that
 * known bug again.
 */
static const char *const reconfigs[8] = {
    CONFIG_LISTEN CONFIG_LIMITS CONFIG_TIMEOUTS,
    "listen 80 http 8081\nlisten 2222 pass 22 proxy-protocol v2\n"
    CONFIG_LIMITS CONFIG_TIMEOUTS,
    "listen 80 pass 8080\nunmatched refuse\n" CONFIG_LIMITS CONFIG_TIMEOUTS,
    CONFIG_LISTEN "forwarded off\n" CONFIG_LIMITS CONFIG_TIMEOUTS
    CONFIG_SECURITY "limit-rate 20/s burst 3\ndeny 10.0.2.66\n",
    CONFIG_LISTEN "server 10.0.3.3\n" CONFIG_LIMITS CONFIG_TIMEOUTS,
    "listen 81 http 8080\nlisten 80 http 8082\n" CONFIG_LIMITS CONFIG_TIMEOUTS,
    CONFIG_LISTEN "max-clients 1\nmax-header 256\nmax-body 16\nbuffer 4k\n"
    CONFIG_TIMEOUTS,
    "unmatched refuse\npool 2\n",
};

static const uint8_t card_mac[PCFW_PORT_COUNT][6] = {
    { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
    { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 },
};
#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (c) << 8 | (d))
static const uint32_t card_ip[PCFW_PORT_COUNT] = { IP4(10, 0, 2, 15), IP4(10, 0, 3, 15) };
static const uint16_t client_ports[4] = { 80, 2222, 8081, 80 };

#define NCLIENTS        4
#define MAX_CONNS       32
#define MAX_PENDING     64
#define MAX_STEPS       512         /* pcfw_poll calls per input */
/*
 * One byte in eight of a random input is a RECONFIG, and parsing a
 * configuration and redialling its pools costs more than anything else an
 * input does: uncapped, reconfigurations took half the target's time.  The
 * firmware's reconfiguration paths need a few per input, not hundreds.
 */
#define MAX_RECONFIGS   4

/* One TCP connection the card has with a peer we play. */
struct conn {
    bool used, dead;
    uint8_t port;           /* enum pcfw_port: the card's side */
    uint32_t peer_ip;
    uint16_t peer_port, card_port;
    uint32_t our_nxt;       /* our next sequence number */
    uint32_t card_nxt;      /* the card's next sequence number (what we ack) */
    bool have_card;         /* card_nxt is known (we saw its SYN) */
    bool need_ack;          /* the card sent something we have not acked */
    bool need_synack;       /* a card SYN to the server, to be accepted */
};

struct pending {
    uint8_t port;
    uint8_t mac[6];
    uint32_t asker_ip, target_ip;
};

struct harness {
    uint32_t now;
    struct conn conns[MAX_CONNS];
    int client[NCLIENTS];           /* conn index of each client, -1 */
    int srv[8];                     /* conn index of card->server connections */
    unsigned nsrv;
    int last_srv;                   /* the server connection written to last */
    struct pending pend[MAX_PENDING];
    unsigned npend;
    uint16_t next_peer_port;
    bool auto_accept, auto_ack;
    unsigned steps;
    unsigned reconfigs;             /* RECONFIG records applied */
    uint64_t frames_out;
};

static struct harness H;
static uint8_t *card_mem;

/* ---- the snapshot ------------------------------------------------------------- */

extern char __start_pcfw_snap_data[], __stop_pcfw_snap_data[];
extern char __start_pcfw_snap_bss[], __stop_pcfw_snap_bss[];

static struct {
    char *data, *bss, *mem;
    struct harness h;
} snap;

/*
 * The sections hold ASan's redzones between the firmware's globals, so they
 * are copied outside ASan's view (memcpy would be checked), 16 bytes at a
 * time, and without coverage instrumentation (it would trace every
 * iteration's compare).
 */
typedef uint64_t v16 __attribute__((vector_size(16), aligned(1)));

__attribute__((no_sanitize("address", "undefined", "coverage")))
static void copy_words(void *dst, const void *src, size_t n)
{
    v16 *d = dst;
    const v16 *s = src;
    size_t i;

    for (i = 0; i + 4 <= n / 16; i += 4) {
        d[i] = s[i];
        d[i + 1] = s[i + 1];
        d[i + 2] = s[i + 2];
        d[i + 3] = s[i + 3];
    }
    for (; i < n / 16; i++) {
        d[i] = s[i];
    }
    for (i = n & ~(size_t)15; i < n; i++) {
        ((volatile uint8_t *)dst)[i] = ((const uint8_t *)src)[i];
    }
}

static void snapshot_take(void)
{
    size_t nd = (size_t)(__stop_pcfw_snap_data - __start_pcfw_snap_data);
    size_t nb = (size_t)(__stop_pcfw_snap_bss - __start_pcfw_snap_bss);

    snap.data = malloc(nd ? nd : 1);
    snap.bss = malloc(nb ? nb : 1);
    snap.mem = malloc(CARD_MEM);
    CHECK(snap.data && snap.bss && snap.mem);
    copy_words(snap.data, __start_pcfw_snap_data, nd);
    copy_words(snap.bss, __start_pcfw_snap_bss, nb);
    memcpy(snap.mem, card_mem, CARD_MEM);
    snap.h = H;
}

static void snapshot_restore(void)
{
    copy_words(__start_pcfw_snap_data, snap.data,
               (size_t)(__stop_pcfw_snap_data - __start_pcfw_snap_data));
    copy_words(__start_pcfw_snap_bss, snap.bss,
               (size_t)(__stop_pcfw_snap_bss - __start_pcfw_snap_bss));
    memcpy(card_mem, snap.mem, CARD_MEM);
    H = snap.h;
}

/* ---- frames ----------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += rd16(p + i);
    }
    if (n & 1) {
        sum += (uint32_t)p[n - 1] << 8;
    }
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

static void peer_mac(uint32_t ip, uint8_t port, uint8_t mac[6])
{
    mac[0] = 0x02; mac[1] = 0xfe; mac[2] = port;
    mac[3] = (uint8_t)(ip >> 16); mac[4] = (uint8_t)(ip >> 8); mac[5] = (uint8_t)ip;
}

#define ETH_HLEN 14
#define IP_HLEN  20
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* IP and L4 checksums of an IPv4 frame, recomputed in place (as far as the
 * frame's lengths allow: a frame too short to hold them is left alone). */
static void fix_checksums(uint8_t *f, size_t len)
{
    if (len < ETH_HLEN + IP_HLEN || rd16(f + 12) != 0x0800) {
        return;
    }
    uint8_t *ip = f + ETH_HLEN;
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    size_t tot = rd16(ip + 2);
    if (ihl < IP_HLEN || ETH_HLEN + ihl > len) {
        return;
    }
    ip[10] = ip[11] = 0;
    wr16(ip + 10, csum_fold(csum_add(0, ip, ihl)));
    if (tot > len - ETH_HLEN || tot < ihl || (rd16(ip + 6) & 0x3fff)) {
        return;     /* truncated, or a fragment: L4 checksum not ours to fix */
    }
    uint8_t *l4 = ip + ihl;
    size_t l4len = tot - ihl;
    size_t off = ip[9] == 6 ? 16 : ip[9] == 17 ? 6 : ip[9] == 1 ? 2 : 0;
    if (!off || l4len < off + 2) {
        return;
    }
    l4[off] = l4[off + 1] = 0;
    uint32_t sum = 0;
    if (ip[9] != 1) {
        uint8_t ph[12];
        memcpy(ph, ip + 12, 8);
        ph[8] = 0; ph[9] = ip[9];
        wr16(ph + 10, (uint16_t)l4len);
        sum = csum_add(0, ph, 12);
    }
    uint16_t c = csum_fold(csum_add(sum, l4, l4len));
    if (ip[9] == 17 && c == 0) {
        c = 0xffff;
    }
    wr16(l4 + off, c);
}

static int conn_find(uint8_t port, uint32_t peer_ip, uint16_t peer_port,
                     uint16_t card_port)
{
    for (int i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &H.conns[i];
        if (c->used && c->port == port && c->peer_ip == peer_ip &&
            c->peer_port == peer_port && c->card_port == card_port) {
            return i;
        }
    }
    return -1;
}

static int conn_new(uint8_t port, uint32_t peer_ip, uint16_t peer_port,
                    uint16_t card_port, uint32_t isn)
{
    int free_i = -1;

    for (int i = 0; i < MAX_CONNS; i++) {
        if (!H.conns[i].used || H.conns[i].dead) {
            free_i = i;
            if (!H.conns[i].used) {
                break;
            }
        }
    }
    if (free_i < 0) {
        return -1;
    }
    for (int k = 0; k < NCLIENTS; k++) {
        if (H.client[k] == free_i) {
            H.client[k] = -1;
        }
    }
    for (unsigned k = 0; k < H.nsrv; k++) {
        if (H.srv[k] == free_i) {
            H.srv[k] = -1;
        }
    }
    if (H.last_srv == free_i) {
        H.last_srv = -1;
    }
    struct conn *c = &H.conns[free_i];
    memset(c, 0, sizeof(*c));
    c->used = true;
    c->port = port;
    c->peer_ip = peer_ip;
    c->peer_port = peer_port;
    c->card_port = card_port;
    c->our_nxt = isn;
    return free_i;
}

static bool verbose;

/* With FUZZ_FRAMES_VERBOSE set: one line per frame in and out. */
static void trace(const char *dir, unsigned port, const uint8_t *f, size_t len)
{
    if (!verbose) {
        return;
    }
    fprintf(stderr, "%s %s len %zu", dir, port ? "bus" : "nic", len);
    if (len >= ETH_HLEN + IP_HLEN + 20 && rd16(f + 12) == 0x0800 &&
        f[ETH_HLEN + 9] == 6) {
        const uint8_t *ip = f + ETH_HLEN, *t = ip + (ip[0] & 15) * 4;
        if (t + 20 <= f + len) {
            fprintf(stderr, " tcp %u.%u.%u.%u:%u > %u.%u.%u.%u:%u flags %02x seq %u ack %u "
                    "win %u data %d", ip[12], ip[13], ip[14], ip[15], rd16(t),
                    ip[16], ip[17], ip[18], ip[19], rd16(t + 2), t[13], rd32(t + 4),
                    rd32(t + 8), rd16(t + 14),
                    (int)rd16(ip + 2) - (ip[0] & 15) * 4 - (t[12] >> 4) * 4);
        }
    } else if (len >= ETH_HLEN) {
        fprintf(stderr, " type %04x", rd16(f + 12));
    }
    fputc('\n', stderr);
}

/* ---- the platform: what the card sends ----------------------------------------- */

static void observe_tcp(uint8_t port, const uint8_t *ip, size_t ihl, size_t tot)
{
    const uint8_t *t = ip + ihl;
    size_t l4 = tot - ihl;

    if (l4 < 20) {
        return;
    }
    size_t doff = (size_t)(t[12] >> 4) * 4;
    if (doff < 20 || doff > l4) {
        return;
    }
    uint32_t peer_ip = rd32(ip + 16);
    uint16_t card_port = rd16(t), peer_port = rd16(t + 2);
    uint32_t seq = rd32(t + 4);
    uint8_t fl = t[13];
    uint32_t dlen = (uint32_t)(l4 - doff);
    int i = conn_find(port, peer_ip, peer_port, card_port);

    if (i < 0) {
        if (!(fl & TCP_SYN) || (fl & TCP_ACK) || port != PCFW_PORT_BUS) {
            return;     /* not a connection we play */
        }
        /* The card opens a connection to the server. */
        i = conn_new(port, peer_ip, peer_port, card_port, 0x5e000000u + H.nsrv * 0x1000000u);
        if (i < 0) {
            return;
        }
        if (H.nsrv < 7) {
            H.srv[H.nsrv++] = i;
        } else {
            memmove(H.srv, H.srv + 1, 6 * sizeof(int));
            H.srv[6] = i;
        }
        H.conns[i].need_synack = H.auto_accept;
    }
    struct conn *c = &H.conns[i];
    if (fl & TCP_RST) {
        c->dead = true;
        return;
    }
    if (fl & TCP_SYN) {
        c->card_nxt = seq + 1 + dlen;
        c->have_card = true;
        c->need_ack = (fl & TCP_ACK) != 0;     /* our SYN answered: ack it */
        return;
    }
    if (!c->have_card) {
        return;
    }
    uint32_t end = seq + dlen + ((fl & TCP_FIN) ? 1 : 0);
    if ((int32_t)(end - c->card_nxt) > 0 && (int32_t)(seq - c->card_nxt) <= 0) {
        c->card_nxt = end;
    }
    if (dlen || (fl & TCP_FIN)) {
        c->need_ack = true;
        if (c->port == PCFW_PORT_BUS && dlen) {
            H.last_srv = i;
        }
    }
}

static int plat_send(void *opaque, enum pcfw_port port, const void *frame, size_t len)
{
    const uint8_t *f = frame;

    (void)opaque;
    CHECK(port == PCFW_PORT_NIC || port == PCFW_PORT_BUS);
    CHECK(len >= ETH_HLEN && len <= MTU + ETH_HLEN);
    CHECK(memcmp(f + 6, card_mac[port], 6) == 0);
    H.frames_out++;
    trace("out", port, f, len);

    uint16_t type = rd16(f + 12);
    if (type == 0x0806 && len >= ETH_HLEN + 28) {
        const uint8_t *a = f + ETH_HLEN;
        if (rd16(a + 6) == 1 && H.npend < MAX_PENDING) {      /* request */
            struct pending *p = &H.pend[H.npend++];
            p->port = (uint8_t)port;
            memcpy(p->mac, a + 8, 6);
            p->asker_ip = rd32(a + 14);
            p->target_ip = rd32(a + 24);
        }
        return 0;
    }
    if (type == 0x0800 && len >= ETH_HLEN + IP_HLEN) {
        const uint8_t *ip = f + ETH_HLEN;
        size_t ihl = (size_t)(ip[0] & 15) * 4;
        size_t tot = rd16(ip + 2);
        CHECK((ip[0] >> 4) == 4 && ihl >= IP_HLEN);
        CHECK(tot >= ihl && tot <= len - ETH_HLEN);
        CHECK(rd32(ip + 12) == card_ip[port]);
        if (ip[9] == 6 && !(rd16(ip + 6) & 0x3fff)) {
            observe_tcp((uint8_t)port, ip, ihl, tot);
        }
    }
    return 0;
}

static uint32_t plat_now(void *opaque)
{
    (void)opaque;
    return H.now;
}

static void plat_log(void *opaque, enum pcfw_log_level level, const char *msg)
{
    (void)opaque;
    if (verbose) {
        fprintf(stderr, "fw[%d]: %s\n", level, msg);
    }
}

static const struct pcfw_platform platform = {
    .opaque = NULL, .send_frame = plat_send, .now_ms = plat_now, .log = plat_log,
};

/* ---- what the peers send -------------------------------------------------------- */

static void card_input(uint8_t port, const uint8_t *f, size_t len)
{
    trace("in ", port, f, len);
    pcfw_input((enum pcfw_port)port, f, len);
    CHECK(pcfw_fault() == NULL);
}

static void send_arp_reply(const struct pending *p)
{
    uint8_t f[ETH_HLEN + 28];
    uint8_t mac[6];

    peer_mac(p->target_ip, p->port, mac);
    memcpy(f, p->mac, 6);
    memcpy(f + 6, mac, 6);
    wr16(f + 12, 0x0806);
    uint8_t *a = f + ETH_HLEN;
    wr16(a, 1); wr16(a + 2, 0x0800); a[4] = 6; a[5] = 4; wr16(a + 6, 2);
    memcpy(a + 8, mac, 6); wr32(a + 14, p->target_ip);
    memcpy(a + 18, p->mac, 6); wr32(a + 24, p->asker_ip);
    card_input(p->port, f, sizeof(f));
}

struct odd {
    bool on;
    int16_t seq_off;
    uint16_t wnd;
};

/* A segment from the peer of connection @ci. */
static void send_seg(int ci, uint8_t flags, const uint8_t *data, size_t n,
                     const struct odd *odd)
{
    struct conn *c = &H.conns[ci];
    uint8_t f[ETH_HLEN + IP_HLEN + 24 + MAX_PAYLOAD];
    size_t optlen = (flags & TCP_SYN) ? 4 : 0;
    size_t tot = IP_HLEN + 20 + optlen + n;
    static uint16_t ip_id;

    if (n > MAX_PAYLOAD) {
        n = MAX_PAYLOAD;
        tot = IP_HLEN + 20 + optlen + n;
    }
    memcpy(f, card_mac[c->port], 6);
    peer_mac(c->peer_ip, c->port, f + 6);
    wr16(f + 12, 0x0800);
    uint8_t *ip = f + ETH_HLEN;
    ip[0] = 0x45; ip[1] = 0; wr16(ip + 2, (uint16_t)tot); wr16(ip + 4, ip_id++);
    wr16(ip + 6, 0x4000); ip[8] = 64; ip[9] = 6;
    wr32(ip + 12, c->peer_ip); wr32(ip + 16, card_ip[c->port]);
    uint8_t *t = ip + IP_HLEN;
    wr16(t, c->peer_port); wr16(t + 2, c->card_port);
    uint32_t seq = c->our_nxt + (odd && odd->on ? (uint32_t)(int32_t)odd->seq_off : 0);
    wr32(t + 4, seq);
    if (c->have_card && !(flags & TCP_SYN && !(flags & TCP_ACK))) {
        flags |= TCP_ACK;       /* everything but a first SYN acknowledges */
    }
    wr32(t + 8, (flags & TCP_ACK) ? c->card_nxt : 0);
    t[12] = (uint8_t)((20 + optlen) / 4) << 4;
    t[13] = flags;
    wr16(t + 14, odd && odd->on ? odd->wnd : 0xffff);
    wr16(t + 16, 0); wr16(t + 18, 0);
    if (optlen) {
        t[20] = 2; t[21] = 4; wr16(t + 22, MAX_PAYLOAD);
    }
    if (n) {
        memcpy(t + 20 + optlen, data, n);
    }
    fix_checksums(f, ETH_HLEN + tot);
    if (!(odd && odd->on && odd->seq_off)) {
        c->our_nxt += (uint32_t)n + ((flags & TCP_SYN) ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0);
    }
    if (flags & TCP_ACK) {
        c->need_ack = false;
    }
    if (flags & TCP_RST) {
        c->dead = true;
    }
    card_input(c->port, f, ETH_HLEN + tot);
}

/* Answer ARP, accept server connections, acknowledge: as a live peer would. */
static void pump(void)
{
    for (int round = 0; round < 8; round++) {
        bool did = false;

        while (H.npend) {
            struct pending p = H.pend[--H.npend];
            send_arp_reply(&p);
            did = true;
        }
        for (int i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &H.conns[i];
            if (!c->used || c->dead) {
                continue;
            }
            if (c->need_synack) {
                c->need_synack = false;
                send_seg(i, TCP_SYN | TCP_ACK, NULL, 0, NULL);
                did = true;
            } else if (c->need_ack && H.auto_ack) {
                send_seg(i, TCP_ACK, NULL, 0, NULL);
                did = true;
            }
        }
        if (!did) {
            return;
        }
    }
}

static void step_time(uint32_t ms)
{
    H.now += ms;
    pcfw_poll();
    CHECK(pcfw_fault() == NULL);
    H.steps++;
}

/* A raw frame, optionally fixed up: checksums, and for a connection we
 * track, our sequence number and the card's. */
static void send_raw(uint8_t port, bool fixup, const uint8_t *data, size_t n)
{
    uint8_t f[MAX_RAW];

    memcpy(f, data, n);
    if (fixup && n >= ETH_HLEN) {
        memcpy(f, card_mac[port], 6);
    }
    if (fixup && n >= ETH_HLEN + IP_HLEN + 20 && rd16(f + 12) == 0x0800 &&
        (f[ETH_HLEN] & 15) == 5 && f[ETH_HLEN + 9] == 6) {
        uint8_t *ip = f + ETH_HLEN, *t = ip + IP_HLEN;
        size_t tot = rd16(ip + 2);
        if (tot > n - ETH_HLEN || tot < IP_HLEN + 20) {
            tot = n - ETH_HLEN;
            wr16(ip + 2, (uint16_t)tot);
        }
        size_t doff = (size_t)(t[12] >> 4) * 4;
        uint32_t dlen = doff >= 20 && doff <= tot - IP_HLEN ? (uint32_t)(tot - IP_HLEN - doff) : 0;
        uint32_t peer_ip = rd32(ip + 12);
        uint16_t peer_port = rd16(t), card_port = rd16(t + 2);
        uint8_t fl = t[13];
        int ci = conn_find(port, peer_ip, peer_port, card_port);
        if (ci < 0 && (fl & TCP_SYN) && !(fl & TCP_ACK) && port == PCFW_PORT_NIC) {
            ci = conn_new(port, peer_ip, peer_port, card_port, rd32(t + 4));
        }
        if (ci >= 0) {
            struct conn *c = &H.conns[ci];
            wr32(t + 4, c->our_nxt);
            if (c->have_card) {
                wr32(t + 8, c->card_nxt);
            }
            c->our_nxt += dlen + ((fl & TCP_SYN) ? 1 : 0) + ((fl & TCP_FIN) ? 1 : 0);
            if (fl & TCP_RST) {
                c->dead = true;
            }
        }
    }
    if (fixup) {
        fix_checksums(f, n);
    }
    card_input(port, f, n);
}

/* ---- boot and the fuzzing loop ----------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct pcfw_config cfg;
    char err[256];
    struct pcfw_stats st;

    (void)argc; (void)argv;
    verbose = getenv("FUZZ_FRAMES_VERBOSE") != NULL;
    card_mem = malloc(CARD_MEM);
    CHECK(card_mem);
    memset(card_mem, 0, CARD_MEM);
    pcfw_config_defaults(&cfg);
    for (int p = 0; p < PCFW_PORT_COUNT; p++) {
        memcpy(cfg.port[p].mac, card_mac[p], 6);
        cfg.port[p].mtu = MTU;
    }
    if (pcfw_config_parse(&cfg, config_text, sizeof(config_text) - 1, err, sizeof(err))) {
        fprintf(stderr, "fuzz_frames: config: %s\n", err);
        abort();
    }
    memset(&H, 0, sizeof(H));
    H.now = 1000;
    for (int k = 0; k < NCLIENTS; k++) {
        H.client[k] = -1;
    }
    H.last_srv = -1;
    H.auto_accept = H.auto_ack = true;
    H.next_peer_port = 40000;
    int r = pcfw_init(&platform, &cfg, card_mem, CARD_MEM);
    if (r != PCFW_OK) {
        fprintf(stderr, "fuzz_frames: pcfw_init: %s\n", pcfw_strerror(r));
        abort();
    }
    /* Let the pool connect: ARP, SYN, SYN-ACK, ACK. */
    for (int i = 0; i < 20; i++) {
        pump();
        step_time(50);
    }
    pump();
    pcfw_get_stats(&st);
    fprintf(stderr, "fuzz_frames: booted; pool %llu idle, %llu in use; %llu bytes of "
            "card memory in use; snapshot %zu + %zu + %u bytes\n",
            (unsigned long long)st.proxy.srv_idle, (unsigned long long)st.proxy.srv_in_use,
            (unsigned long long)st.mem.in_use,
            (size_t)(__stop_pcfw_snap_data - __start_pcfw_snap_data),
            (size_t)(__stop_pcfw_snap_bss - __start_pcfw_snap_bss), CARD_MEM);
    CHECK(st.proxy.srv_idle == 2);
    H.steps = 0;
    snapshot_take();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
    size_t i = 0;
    struct odd odd = { false, 0, 0 };
    struct pcfw_stats st;

    snapshot_restore();
    if (n) {
        H.auto_accept = !(in[0] & 1);
        H.auto_ack = !(in[0] & 2);
        i = 1;
    }
    while (i < n && H.steps < MAX_STEPS) {
        uint8_t op = in[i++];
        switch (op & 7) {
        case 0: {                                   /* RAW */
            if (n - i < 2) {
                i = n;
                break;
            }
            size_t len = (size_t)in[i] | (size_t)in[i + 1] << 8;
            i += 2;
            if (len > n - i) {
                len = n - i;
            }
            if (len > MAX_RAW) {
                len = MAX_RAW;
            }
            send_raw((op >> 3) & 1, (op >> 4) & 1, in + i, len);
            pump();
            i += len;
            break;
        }
        case 1: {                                   /* TIME */
            if (n - i < 3) {
                i = n;
                break;
            }
            unsigned steps = (unsigned)in[i] + 1;
            uint32_t ms = (uint32_t)in[i + 1] | (uint32_t)in[i + 2] << 8;
            i += 3;
            if (op & 8) {
                ms *= 64;
            }
            for (unsigned k = 0; k < steps && H.steps < MAX_STEPS; k++) {
                step_time(ms);
                pump();
            }
            break;
        }
        case 2:                                     /* CLIENT */
        case 3: {                                   /* SERVER */
            if (n - i < 3) {
                i = n;
                break;
            }
            uint8_t flags = in[i] & 0x3f;
            size_t len = (size_t)in[i + 1] | (size_t)in[i + 2] << 8;
            i += 3;
            if (len > n - i) {
                len = n - i;
            }
            if (len > MAX_PAYLOAD) {
                len = MAX_PAYLOAD;
            }
            int ci;
            if ((op & 7) == 2) {
                int k = (op >> 3) & 3;
                ci = H.client[k];
                if ((ci < 0 || H.conns[ci].dead) && (flags & TCP_SYN)) {
                    uint16_t pp = H.next_peer_port++;
                    ci = conn_new(PCFW_PORT_NIC, IP4(10, 0, 2, 100 + k), pp,
                                  client_ports[(op >> 5) & 3], 0x1000000u * (k + 1) + pp);
                    H.client[k] = ci;
                }
            } else {
                int s = (op >> 3) & 7;
                ci = s == 7 ? H.last_srv : (unsigned)s < H.nsrv ? H.srv[s] : -1;
            }
            if (ci >= 0) {
                send_seg(ci, flags, in + i, len, &odd);
                pump();
            }
            odd.on = false;
            i += len;
            break;
        }
        case 4:                                     /* ODD */
            if (n - i < 3) {
                i = n;
                break;
            }
            odd.on = true;
            odd.seq_off = (int16_t)(in[i] | in[i + 1] << 8);
            odd.wnd = (uint16_t)(in[i + 2] << 8);
            i += 3;
            break;
        case 5:                                     /* DRAIN */
            pump();
            break;
        case 6: {                                   /* RECONFIG */
            const char *text = reconfigs[(op >> 3) & 7];
            char err[256];

            if (H.reconfigs >= MAX_RECONFIGS) {
                break;
            }
            H.reconfigs++;
            pcfw_reconfigure(text, strlen(text), err, sizeof(err));
            CHECK(pcfw_fault() == NULL);
            pump();
            break;
        }
        default:
            break;
        }
    }
    pump();
    CHECK(pcfw_fault() == NULL);
    pcfw_get_stats(&st);
    CHECK(st.mem.in_use <= st.mem.size && st.mem.size == CARD_MEM);
    if (verbose) {
        fprintf(stderr, "fuzz_frames: accepted %llu, requests %llu, responses "
                "2xx %llu 4xx %llu 5xx %llu, to server %llu B, to clients %llu B, "
                "frames out %llu, mem in use %llu\n",
                (unsigned long long)st.proxy.clients_accepted,
                (unsigned long long)st.proxy.requests,
                (unsigned long long)st.proxy.responses[2],
                (unsigned long long)st.proxy.responses[4],
                (unsigned long long)st.proxy.responses[5],
                (unsigned long long)st.proxy.bytes_to_server,
                (unsigned long long)st.proxy.bytes_to_clients,
                (unsigned long long)H.frames_out,
                (unsigned long long)st.mem.in_use);
    }
    return 0;
}
