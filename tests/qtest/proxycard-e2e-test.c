/*
 * QTest end to end for the proxycard connection-offload adapter, without a
 * guest OS:
 *
 *   real TCP clients (sockets in this program)
 *     -> 127.0.0.1:PORT, -netdev user,hostfwd -> the card's NIC port :80
 *     -> the card's HTTP proxy (firmware thread, lwIP)
 *     -> the card's bus port: DMA descriptor rings in guest memory (BAR0)
 *     -> this program as the card's host: it moves frames between the
 *        rings and a second lwIP (libpcpeer.a, proxycard-e2e-peer.c) that
 *        plays the server, 10.76.0.1:8080, over the card's pool of
 *        persistent connections.
 *
 * Time.  The card's lwIP timers and slirp's run on QEMU_CLOCK_VIRTUAL,
 * which under qtest moves only with clock_step.  The main loop (pump_until)
 * moves frames and client bytes as long as anything moves, and when nothing
 * does it steps the virtual clock by STEP_MS.  The peer's lwIP clock is
 * that same virtual clock: every step is passed on to it, so both ends of
 * the bus link time their TCP retransmissions, delayed ACKs and ARP on one
 * clock, and a slow host (real time) cannot make one side time out while
 * the other is merely waiting for the test to poll it.  Every wait is
 * bounded in real time (the test fails, never hangs).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <glib/gstdio.h>
#include "libqtest.h"
#include "qapi/qmp/qdict.h"
#include "qemu/bswap.h"
#include "qemu/sockets.h"
#include "libqos/libqos-pc.h"
#include "libqos/pci.h"
#include "hw/pci/pci_regs.h"
#include "hw/proxycard/proxycard_regs.h"
#include "proxycard-qtest.h"
#include "proxycard-e2e-peer.h"

/* Real-time bound of one test case, boot to shutdown. */
#define TEST_BUDGET_US      (25 * G_USEC_PER_SEC)
/* Virtual time one idle pass of the main loop moves the clocks on. */
#define STEP_MS             1
/*
 * Descriptors per ring: the smallest ring makes the bulk transfer wrap both
 * rings many times, fill the TX ring (frames wait here) and the RX ring
 * (frames wait in the card); the large one is how a driver would run.
 */
#define RING_SMALL          PROXYCARD_RING_MIN
#define RING_LARGE          256
/* Frames the peer may queue for a full TX ring before it drops (TCP resends). */
#define TXQ_MAX             4096
#define SLOT                PROXYCARD_BUS_MAX_FRAME
#define NS_PER_MS           1000000LL

#define SERVER_IP           "10.76.0.1"     /* the card's default server */
#define SERVER_PORT         8080
#define POOL                2

static const uint8_t server_mac[6] = { 0x02, 0x00, 0x0a, 0x4c, 0x00, 0x01 };

typedef struct Frame {
    size_t len;
    uint8_t data[];
} Frame;

typedef struct Client {
    int fd;
    const char *req;
    size_t req_len, sent;
    GByteArray *rx;
    bool eof;
    GBytes *want;         /* the body it must receive */
} Client;

typedef struct E2E {
    QOSState *qs;
    QTestState *qts;
    QPCIDevice *dev;
    QPCIBar bar0;
    char *conf;
    int port;

    /* the bus link, the test as its host driver */
    uint32_t n;
    uint64_t tx, rx, txbuf, rxbuf;
    uint32_t tx_tail, tx_head;  /* tx_head: the card's, as last read */
    uint32_t rx_next, rx_tail;  /* rx_next: next descriptor the card fills */
    GQueue txq;                 /* peer frames waiting for TX descriptors */
    uint64_t to_card, from_card, dropped;
    uint64_t tx_full;           /* times frames waited for TX descriptors */
    uint32_t rx_batch_max;      /* most frames found on the RX ring at once */
    uint64_t bus_dropped0;      /* bus-tx-dropped once the pool was up */

    /* time */
    int64_t vclock_ns;          /* QEMU's virtual clock, as last stepped */
    int64_t peer_ns;            /* ... as passed on to the peer */
    gint64 deadline;            /* real time (g_get_monotonic_time) */
    uint64_t idle_steps;

    Client *clients;
    unsigned nclients;
} E2E;

/* Bodies the peer server serves, by request target; lives for the process. */
static GHashTable *bodies;
static bool peer_started;

/* ---- the peer (server side) ---- */

static int peer_send(void *opaque, const void *frame, size_t len)
{
    E2E *e = opaque;
    Frame *f;

    if (g_queue_get_length(&e->txq) >= TXQ_MAX) {
        e->dropped++;
        return -1;
    }
    f = g_malloc(sizeof(*f) + len);
    f->len = len;
    memcpy(f->data, frame, len);
    g_queue_push_tail(&e->txq, f);
    return 0;
}

static bool serve(void *opaque, const char *method, const char *target,
                  struct pcpeer_response *r)
{
    GBytes *b = g_hash_table_lookup(bodies, target);
    gsize len;

    if (strcmp(method, "GET") || !b) {
        return false;
    }
    r->status = 200;
    r->body = g_bytes_get_data(b, &len);
    r->len = len;
    return true;
}

/* A body for @target: it starts with the target, then @len random bytes. */
static GBytes *add_body(const char *target, size_t len)
{
    GByteArray *a = g_byte_array_sized_new(len);
    GBytes *b;

    g_byte_array_append(a, (const guint8 *)target, MIN(strlen(target), len));
    while (a->len < len) {
        guint32 r = g_test_rand_int();

        g_byte_array_append(a, (const guint8 *)&r, MIN(4, len - a->len));
    }
    b = g_byte_array_free_to_bytes(a);
    g_hash_table_replace(bodies, g_strdup(target), b);
    return b;
}

/* ---- registers and the rings ---- */

static uint32_t rd(E2E *e, uint32_t reg)
{
    return qpci_io_readl(e->dev, e->bar0, reg);
}

static void wr(E2E *e, uint32_t reg, uint32_t val)
{
    qpci_io_writel(e->dev, e->bar0, reg, val);
}

static void desc_fill(uint8_t *d, uint64_t addr, uint32_t len)
{
    memset(d, 0, PROXYCARD_DESC_SIZE);
    stq_le_p(d + PROXYCARD_DESC_ADDR, addr);
    stl_le_p(d + PROXYCARD_DESC_LEN, len);
    /* flags and status 0 */
}

/* Descriptors @first .. @first + @count - 1 (mod n), wrapping as needed. */
static void descs_io(E2E *e, uint64_t ring, uint32_t first, uint32_t count,
                     uint8_t *d, bool write)
{
    while (count) {
        uint32_t k = MIN(count, e->n - first);
        uint64_t a = ring + (uint64_t)first * PROXYCARD_DESC_SIZE;

        if (write) {
            qtest_memwrite(e->qts, a, d, k * PROXYCARD_DESC_SIZE);
        } else {
            qtest_memread(e->qts, a, d, k * PROXYCARD_DESC_SIZE);
        }
        d += k * PROXYCARD_DESC_SIZE;
        count -= k;
        first = (first + k) & (e->n - 1);
    }
}

/* Lay out both rings, enable the link, post every RX buffer but one. */
static void bus_up(E2E *e, uint32_t n)
{
    QGuestAllocator *a = &e->qs->alloc;
    g_autofree uint8_t *d = g_malloc(n * PROXYCARD_DESC_SIZE);

    e->n = n;
    e->tx = QEMU_ALIGN_UP(guest_alloc(a, n * PROXYCARD_DESC_SIZE +
                                      PROXYCARD_RING_ALIGN), PROXYCARD_RING_ALIGN);
    e->rx = QEMU_ALIGN_UP(guest_alloc(a, n * PROXYCARD_DESC_SIZE +
                                      PROXYCARD_RING_ALIGN), PROXYCARD_RING_ALIGN);
    e->txbuf = guest_alloc(a, (uint64_t)n * SLOT);
    e->rxbuf = guest_alloc(a, (uint64_t)n * SLOT);
    g_assert_cmphex(e->txbuf, !=, 0);
    g_assert_cmphex(e->rxbuf, !=, 0);

    wr(e, PROXYCARD_REG_TX_BASE_LO, (uint32_t)e->tx);
    wr(e, PROXYCARD_REG_TX_BASE_HI, e->tx >> 32);
    wr(e, PROXYCARD_REG_TX_SIZE, n);
    wr(e, PROXYCARD_REG_RX_BASE_LO, (uint32_t)e->rx);
    wr(e, PROXYCARD_REG_RX_BASE_HI, e->rx >> 32);
    wr(e, PROXYCARD_REG_RX_SIZE, n);
    wr(e, PROXYCARD_REG_INTR_MASK, PROXYCARD_INTR_BUS_RX | PROXYCARD_INTR_BUS_TX);
    wr(e, PROXYCARD_REG_BUS_CONTROL, PROXYCARD_BUS_ENABLE);
    g_assert_cmphex(rd(e, PROXYCARD_REG_BUS_STATUS), ==, PROXYCARD_BUS_RUNNING);

    for (uint32_t i = 0; i < n - 1; i++) {
        desc_fill(d + i * PROXYCARD_DESC_SIZE, e->rxbuf + (uint64_t)i * SLOT,
                  SLOT);
    }
    descs_io(e, e->rx, 0, n - 1, d, true);
    e->tx_tail = e->tx_head = 0;
    e->rx_next = 0;
    e->rx_tail = n - 1;
    wr(e, PROXYCARD_REG_RX_TAIL, e->rx_tail);
}

/* Frames the card delivered on the RX ring: into the peer, then repost. */
static bool bus_rx(E2E *e)
{
    uint32_t head = rd(e, PROXYCARD_REG_RX_HEAD);
    uint32_t k = (head - e->rx_next) & (e->n - 1);
    g_autofree uint8_t *d = NULL;
    uint8_t frame[SLOT];

    g_assert_cmpuint(head, <, e->n);
    if (!k) {
        return false;
    }
    e->rx_batch_max = MAX(e->rx_batch_max, k);
    d = g_malloc(k * PROXYCARD_DESC_SIZE);
    descs_io(e, e->rx, e->rx_next, k, d, false);
    for (uint32_t i = 0; i < k; i++) {
        uint32_t idx = (e->rx_next + i) & (e->n - 1);
        const uint8_t *di = d + i * PROXYCARD_DESC_SIZE;
        uint32_t len = ldl_le_p(di + PROXYCARD_DESC_LEN);

        /* RX_HEAD moves only after the card wrote len, then DONE. */
        g_assert_cmphex(lduw_le_p(di + PROXYCARD_DESC_STATUS) &
                        PROXYCARD_DESC_DONE, ==, PROXYCARD_DESC_DONE);
        g_assert_cmpuint(ldq_le_p(di + PROXYCARD_DESC_ADDR), ==,
                         e->rxbuf + (uint64_t)idx * SLOT);
        g_assert_cmpuint(len, >=, 14);
        g_assert_cmpuint(len, <=, SLOT);
        qtest_bufread(e->qts, e->rxbuf + (uint64_t)idx * SLOT, frame, len);
        pcpeer_input(frame, len);
        e->from_card++;
    }
    /* Repost k buffers from our tail: each descriptor keeps its own slot. */
    for (uint32_t i = 0; i < k; i++) {
        uint32_t idx = (e->rx_tail + i) & (e->n - 1);

        desc_fill(d + i * PROXYCARD_DESC_SIZE, e->rxbuf + (uint64_t)idx * SLOT,
                  SLOT);
    }
    descs_io(e, e->rx, e->rx_tail, k, d, true);
    e->rx_tail = (e->rx_tail + k) & (e->n - 1);
    e->rx_next = head;
    wr(e, PROXYCARD_REG_RX_TAIL, e->rx_tail);
    return true;
}

/* The peer's frames onto the TX ring, as many as there are descriptors. */
static bool bus_tx(E2E *e)
{
    uint32_t mask = e->n - 1;
    uint32_t room = (e->tx_head - e->tx_tail - 1) & mask;
    uint32_t k = 0;
    g_autofree uint8_t *d = NULL;

    if (g_queue_is_empty(&e->txq)) {
        return false;
    }
    if (room < g_queue_get_length(&e->txq)) {
        e->tx_head = rd(e, PROXYCARD_REG_TX_HEAD);
        g_assert_cmpuint(e->tx_head, <, e->n);
        room = (e->tx_head - e->tx_tail - 1) & mask;
        e->tx_full += room < g_queue_get_length(&e->txq);
    }
    if (!room) {
        return false;
    }
    d = g_malloc(room * PROXYCARD_DESC_SIZE);
    while (k < room && !g_queue_is_empty(&e->txq)) {
        Frame *f = g_queue_pop_head(&e->txq);
        uint32_t idx = (e->tx_tail + k) & mask;
        uint64_t buf = e->txbuf + (uint64_t)idx * SLOT;

        g_assert_cmpuint(f->len, >=, 14);
        g_assert_cmpuint(f->len, <=, SLOT);
        qtest_bufwrite(e->qts, buf, f->data, f->len);
        desc_fill(d + k * PROXYCARD_DESC_SIZE, buf, f->len);
        g_free(f);
        k++;
    }
    descs_io(e, e->tx, e->tx_tail, k, d, true);
    e->tx_tail = (e->tx_tail + k) & mask;
    wr(e, PROXYCARD_REG_TX_TAIL, e->tx_tail);
    e->to_card += k;
    return true;
}

/* ---- clients: plain non-blocking sockets to hostfwd ---- */

static void client_open(E2E *e, Client *c, const char *req, GBytes *want)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    int r;

    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    g_assert_cmpint(c->fd, >=, 0);
    qemu_socket_set_nonblock(c->fd);
    a.sin_port = htons(e->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r = connect(c->fd, (struct sockaddr *)&a, sizeof(a));
    g_assert_true(r == 0 || errno == EINPROGRESS);
    c->req = req;
    c->req_len = strlen(req);
    c->rx = g_byte_array_new();
    c->want = want;
}

static void client_close(Client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    g_byte_array_free(c->rx, true);
    c->rx = NULL;
}

/* Send what is left of the request, read what arrived. */
static bool client_service(Client *c)
{
    bool moved = false;
    uint8_t buf[65536];

    if (c->fd < 0) {
        return false;
    }
    if (c->sent < c->req_len) {
        ssize_t n = send(c->fd, c->req + c->sent, c->req_len - c->sent,
                         MSG_NOSIGNAL);

        if (n > 0) {
            c->sent += n;
            moved = true;
        } else {
            g_assert_true(errno == EAGAIN || errno == EWOULDBLOCK ||
                          errno == ENOTCONN || errno == EINPROGRESS);
        }
    }
    while (!c->eof) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

        if (n > 0) {
            g_byte_array_append(c->rx, buf, n);
            moved = true;
        } else if (n == 0) {
            c->eof = true;
            moved = true;
        } else {
            g_assert_true(errno == EAGAIN || errno == EWOULDBLOCK ||
                          errno == ENOTCONN || errno == EINPROGRESS);
            break;
        }
    }
    return moved;
}

/* Length of the response head in @c->rx ("\r\n\r\n" included), or 0. */
static size_t client_head_len(const Client *c)
{
    const char *p;

    if (!c->rx->len) {
        return 0;
    }
    p = g_strstr_len((const char *)c->rx->data, c->rx->len, "\r\n\r\n");
    return p ? p + 4 - (const char *)c->rx->data : 0;
}

/* Content-Length of the response head, or -1. */
static int64_t client_content_length(const Client *c, size_t hl)
{
    g_autofree char *head = g_strndup((const char *)c->rx->data, hl);
    g_autofree char *lower = g_ascii_strdown(head, -1);
    const char *p = strstr(lower, "\r\ncontent-length:");

    return p ? g_ascii_strtoll(p + 17, NULL, 10) : -1;
}

/* The whole response (head and Content-Length body) has arrived. */
static bool client_complete(const Client *c)
{
    size_t hl = client_head_len(c);
    int64_t cl;

    if (!hl) {
        return false;
    }
    cl = client_content_length(c, hl);
    return cl >= 0 && c->rx->len >= hl + cl;
}

/* Assert: 200, then exactly the body wanted, and nothing more. */
static void client_check(const Client *c)
{
    size_t hl = client_head_len(c);
    gsize want_len;
    const uint8_t *want = g_bytes_get_data(c->want, &want_len);

    g_assert_cmpuint(hl, >, 0);
    if (!g_str_has_prefix((const char *)c->rx->data, "HTTP/1.1 200 ")) {
        g_autofree char *head = g_strndup((const char *)c->rx->data, hl);

        g_error("client got: %s", head);
    }
    g_assert_cmpint(client_content_length(c, hl), ==, want_len);
    g_assert_cmpuint(c->rx->len, ==, hl + want_len);
    if (memcmp(c->rx->data + hl, want, want_len)) {
        size_t i = 0;

        while (c->rx->data[hl + i] == want[i]) {
            i++;
        }
        g_error("body differs at byte %zu of %zu", i, (size_t)want_len);
    }
}

/* ---- the main loop ---- */

/* Step QEMU's virtual clock by @ms and pass the same time on to the peer. */
static void clock_step(E2E *e, unsigned ms)
{
    int64_t now = qtest_clock_step(e->qts, (int64_t)ms * NS_PER_MS);

    g_assert_cmpint(now, >=, e->vclock_ns);
    e->vclock_ns = now;
    if (now - e->peer_ns >= NS_PER_MS) {
        int64_t d = (now - e->peer_ns) / NS_PER_MS;

        pcpeer_advance((uint32_t)d);
        e->peer_ns += d * NS_PER_MS;
    }
}

/* One pass: frames both ways, client bytes; true if anything moved. */
static bool pump(E2E *e)
{
    bool moved = false;

    moved |= bus_rx(e);
    moved |= bus_tx(e);
    for (unsigned i = 0; i < e->nclients; i++) {
        moved |= client_service(&e->clients[i]);
    }
    return moved;
}

typedef bool (*DoneFn)(E2E *e, void *arg);

/*
 * Pump until @done, stepping the clocks whenever nothing moved.  False if
 * the test's real-time budget ran out first.
 */
static bool pump_until(E2E *e, DoneFn done, void *arg)
{
    while (!done(e, arg)) {
        if (g_get_monotonic_time() > e->deadline) {
            return false;
        }
        if (!pump(e)) {
            clock_step(e, STEP_MS);
            e->idle_steps++;
            /* Let the card's thread and QEMU's main loop run a little. */
            g_usleep(50);
        }
    }
    return true;
}

/* Pump for @ms of virtual time at least (things that must NOT happen). */
static bool pump_for(E2E *e, unsigned ms)
{
    int64_t until = e->vclock_ns + ms * NS_PER_MS;

    while (e->vclock_ns < until) {
        if (g_get_monotonic_time() > e->deadline) {
            return false;
        }
        pump(e);
        clock_step(e, STEP_MS);
        g_usleep(50);
    }
    return true;
}

static bool pool_ready(E2E *e, void *arg)
{
    return pcpeer_server_open() >= POOL;
}

static bool clients_complete(E2E *e, void *arg)
{
    for (unsigned i = 0; i < e->nclients; i++) {
        if (!client_complete(&e->clients[i])) {
            return false;
        }
    }
    return true;
}

static uint64_t stat_of(E2E *e, const char *field);

/* The card's statistic @arg (a StatWant) has reached its value. */
typedef struct StatWant {
    const char *field;
    uint64_t min;
} StatWant;

static bool stat_reached(E2E *e, void *arg)
{
    const StatWant *w = arg;

    return stat_of(e, w->field) >= w->min;
}

/* Where things stand, for failure messages. */
static char *state_str(E2E *e)
{
    GString *s = g_string_new(NULL);

    g_string_append_printf(s, "at %.3f s virtual: server %u accepted, %u open, "
                           "%u requests; %" PRIu64 " frames to the card, "
                           "%" PRIu64 " from it; clients received",
                           e->vclock_ns / 1e9, pcpeer_server_accepted(),
                           pcpeer_server_open(), pcpeer_server_requests(),
                           e->to_card, e->from_card);
    for (unsigned i = 0; i < e->nclients; i++) {
        g_string_append_printf(s, " %u", e->clients[i].rx->len);
    }
    return g_string_free(s, false);
}

/* ---- set-up ---- */

static uint64_t stat_of(E2E *e, const char *field)
{
    QDict *rsp = qtest_qmp(e->qts, "{ 'execute': 'qom-get', 'arguments': "
                           "{ 'path': '/machine/peripheral/card0', "
                           "'property': 'stats' } }");
    QDict *st = qdict_get_qdict(rsp, "return");
    uint64_t v;

    g_assert_nonnull(st);
    g_assert_true(qdict_haskey(st, field));
    v = qdict_get_int(st, field);
    qobject_unref(rsp);
    return v;
}

/*
 * Boot a PC with the card between -netdev user (hostfwd to card port 80)
 * and the bus link, bring the link up and wait for the pool.
 */
static void e2e_boot(E2E *e, uint32_t ring_size)
{
    g_autofree char *args = NULL;
    gint64 t0 = g_get_monotonic_time();

    memset(e, 0, sizeof(*e));
    e->deadline = t0 + TEST_BUDGET_US;
    g_queue_init(&e->txq);
    e->conf = pc_write_config("listen 80 http 8080\npool 2\n");
    e->port = pc_free_tcp_port();
    args = g_strdup_printf("-nodefaults "
                           "-netdev user,id=n0,hostfwd=tcp:127.0.0.1:%d-:80 "
                           "-device proxycard,id=card0,netdev=n0,config=%s",
                           e->port, e->conf);

    if (!peer_started) {
        pcpeer_init(server_mac, SERVER_IP, 24, PROXYCARD_BUS_MTU, peer_send, e);
        g_assert_cmpint(pcpeer_server_listen(SERVER_PORT, serve, NULL), ==, 0);
        peer_started = true;
    }
    pcpeer_set_output(peer_send, e);

    e->qs = qtest_pc_boot("%s", args);
    e->qts = e->qs->qts;
    qpci_device_foreach(e->qs->pcibus, PROXYCARD_PCI_VENDOR_ID,
                        PROXYCARD_PCI_DEVICE_ID, pc_save_dev, &e->dev);
    g_assert_nonnull(e->dev);
    e->bar0 = qpci_iomap(e->dev, PROXYCARD_BAR_REGS, NULL);
    qpci_device_enable(e->dev);         /* bus mastering for the rings */
    qpci_msix_enable(e->dev);           /* vectors masked: held in the PBA */
    g_assert_cmpuint(rd(e, PROXYCARD_REG_FW_STATE), ==, PROXYCARD_FW_RUNNING);
    g_assert_cmpuint(rd(e, PROXYCARD_REG_BUS_MTU), ==, PROXYCARD_BUS_MTU);

    e->vclock_ns = e->peer_ns = qtest_clock_step(e->qts, 0);
    bus_up(e, ring_size);
    /* The card's ARP for the server then needs no retry (1 s) to resolve. */
    pcpeer_announce();

    /* The card opened its pool at boot; it gets through once the link runs. */
    if (!pump_until(e, pool_ready, NULL)) {
        g_error("the pool never connected, %s", state_str(e));
    }
    g_assert_cmpuint(pcpeer_server_accepted(), ==, POOL);
    /* Frames the card sent before the link ran were dropped; no more now. */
    e->bus_dropped0 = stat_of(e, "bus-tx-dropped");
    if (g_test_verbose()) {
        g_test_message("pool up after %.3f s real, %.3f s virtual",
                       (g_get_monotonic_time() - t0) / 1e6,
                       e->vclock_ns / 1e9);
    }
}

static void e2e_shutdown(E2E *e)
{
    g_assert_cmpuint(e->dropped, ==, 0);
    g_assert_cmpuint(stat_of(e, "bus-tx-dropped"), ==, e->bus_dropped0);
    g_assert_cmphex(rd(e, PROXYCARD_REG_ERROR), ==, PROXYCARD_ERR_NONE);
    g_assert_cmphex(rd(e, PROXYCARD_REG_BUS_STATUS), ==, PROXYCARD_BUS_RUNNING);
    /* The card interrupted for its RX batches (masked: pending in the PBA). */
    g_assert_true(qpci_msix_pending(e->dev, PROXYCARD_VEC_BUS_RX));

    for (unsigned i = 0; i < e->nclients; i++) {
        client_close(&e->clients[i]);
    }
    g_free(e->clients);
    qpci_msix_disable(e->dev);
    g_free(e->dev);
    qtest_shutdown(e->qs);

    /* No card any more: the peer forgets this one's connections quietly. */
    pcpeer_set_output(NULL, NULL);
    pcpeer_reset();
    while (!g_queue_is_empty(&e->txq)) {
        g_free(g_queue_pop_head(&e->txq));
    }
    g_unlink(e->conf);
    g_free(e->conf);
}

static void report(E2E *e, const char *what, gint64 t0, int64_t v0)
{
    if (g_test_verbose()) {
        g_test_message("%s: %.3f s real, %.3f s virtual, %" PRIu64
                       " idle steps; rings of %u: %" PRIu64 " frames to the "
                       "card (TX ring full %" PRIu64 " times), %" PRIu64
                       " from it (at most %u at once)", what,
                       (g_get_monotonic_time() - t0) / 1e6,
                       (e->vclock_ns - v0) / 1e9, e->idle_steps, e->n,
                       e->to_card, e->tx_full, e->from_card, e->rx_batch_max);
    }
}

/* ---- tests ---- */

/*
 * One client, one GET: a 200 with a 200 KiB random body, byte-exact,
 * served by the peer over one of the pool's connections.
 */
static void test_one_client(void)
{
    static const char req[] = "GET /file HTTP/1.1\r\nHost: e2e\r\n\r\n";
    GBytes *body = g_hash_table_lookup(bodies, "/file");
    E2E e;
    gint64 t0;
    int64_t v0;
    unsigned conn = ~0u;
    const char *head;

    e2e_boot(&e, RING_SMALL);
    t0 = g_get_monotonic_time();
    v0 = e.vclock_ns;
    e.nclients = 1;
    e.clients = g_new0(Client, 1);
    client_open(&e, &e.clients[0], req, body);
    if (!pump_until(&e, clients_complete, NULL)) {
        g_error("no complete response within the budget, %s", state_str(&e));
    }
    report(&e, "one client", t0, v0);
    client_check(&e.clients[0]);

    /* The server saw one request, rewritten by the card, on a pool conn. */
    g_assert_cmpuint(pcpeer_server_requests(), ==, 1);
    head = pcpeer_server_request(0, &conn);
    g_assert_true(g_str_has_prefix(head, "GET /file HTTP/1.1\r\n"));
    g_assert_nonnull(strstr(head, "\r\nX-Forwarded-For: "));
    g_assert_cmpuint(conn, <, POOL);
    g_assert_cmpuint(pcpeer_server_accepted(), ==, POOL);
    g_assert_cmpuint(pcpeer_server_open(), ==, POOL);

    g_assert_cmpuint(stat_of(&e, "requests"), ==, 1);
    g_assert_cmpuint(stat_of(&e, "responses-2xx"), ==, 1);
    g_assert_cmpuint(stat_of(&e, "server-connects"), ==, POOL);
    g_assert_cmpuint(stat_of(&e, "bytes-to-clients"), >=,
                     g_bytes_get_size(body));
    e2e_shutdown(&e);
}

#define NCLIENTS 5

/*
 * Five clients at once, each with its own request and its own body (which
 * starts with the path it asked for).  The server holds its answers until
 * all five requests are in the card: two went out on the pool's two
 * connections, three wait in the card for a free one.  Released, every
 * client gets exactly its own bytes, and the server never saw a connection
 * but the pool's.
 */
static void test_many_clients(void)
{
    char *reqs[NCLIENTS];
    E2E e;
    gint64 t0;
    int64_t v0;
    unsigned per_conn[POOL] = { 0 };
    StatWant w;

    e2e_boot(&e, RING_LARGE);
    t0 = g_get_monotonic_time();
    v0 = e.vclock_ns;
    pcpeer_server_hold(true);
    e.clients = g_new0(Client, NCLIENTS);
    for (unsigned i = 0; i < NCLIENTS; i++) {
        g_autofree char *target = g_strdup_printf("/echo/%u", i);

        reqs[i] = g_strdup_printf("GET %s HTTP/1.1\r\nHost: e2e\r\n\r\n",
                                  target);
        client_open(&e, &e.clients[i], reqs[i],
                    g_hash_table_lookup(bodies, target));
        e.nclients = i + 1;
        /*
         * One at a time: slirp's hostfwd socket listens with a backlog of
         * 1, and a SYN beyond it costs the client a 1 s retransmission.
         */
        w = (StatWant){ "clients-accepted", i + 1 };
        if (!pump_until(&e, stat_reached, &w)) {
            g_error("the card never accepted client %u, %s", i, state_str(&e));
        }
    }
    /* Every request complete in the card... */
    w = (StatWant){ "requests", NCLIENTS };
    if (!pump_until(&e, stat_reached, &w)) {
        g_error("the card never had all requests, %s", state_str(&e));
    }
    g_assert_cmpuint(stat_of(&e, "clients-active"), ==, NCLIENTS);
    /* ...and no more at the server than the pool has connections. */
    g_assert_true(pump_for(&e, 100));
    g_assert_cmpuint(pcpeer_server_requests(), ==, POOL);
    for (unsigned i = 0; i < NCLIENTS; i++) {
        g_assert_cmpuint(e.clients[i].rx->len, ==, 0);
    }

    pcpeer_server_hold(false);
    if (!pump_until(&e, clients_complete, NULL)) {
        g_error("not every response within the budget, %s", state_str(&e));
    }
    report(&e, "many clients", t0, v0);
    for (unsigned i = 0; i < NCLIENTS; i++) {
        client_check(&e.clients[i]);
    }

    g_assert_cmpuint(pcpeer_server_accepted(), ==, POOL);
    g_assert_cmpuint(pcpeer_server_open(), ==, POOL);
    g_assert_cmpuint(pcpeer_server_requests(), ==, NCLIENTS);
    for (unsigned i = 0; i < NCLIENTS; i++) {
        unsigned conn = ~0u;

        pcpeer_server_request(i, &conn);
        g_assert_cmpuint(conn, <, POOL);
        per_conn[conn]++;
    }
    if (g_test_verbose()) {
        g_test_message("requests per pool connection: %u, %u",
                       per_conn[0], per_conn[1]);
    }
    g_assert_cmpuint(stat_of(&e, "requests"), ==, NCLIENTS);
    g_assert_cmpuint(stat_of(&e, "responses-2xx"), ==, NCLIENTS);
    g_assert_cmpuint(stat_of(&e, "clients-accepted"), ==, NCLIENTS);
    g_assert_cmpuint(stat_of(&e, "server-connects"), ==, POOL);
    e2e_shutdown(&e);
    for (unsigned i = 0; i < NCLIENTS; i++) {
        g_free(reqs[i]);
    }
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);

    bodies = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                   (GDestroyNotify)g_bytes_unref);
    add_body("/file", 200 * 1024);
    for (unsigned i = 0; i < NCLIENTS; i++) {
        g_autofree char *target = g_strdup_printf("/echo/%u", i);

        add_body(target, 16 * 1024 + i * 9973);
    }

    qtest_add_func("/proxycard/e2e/one-client", test_one_client);
    qtest_add_func("/proxycard/e2e/many-clients", test_many_clients);
    ret = g_test_run();
    g_hash_table_destroy(bodies);
    return ret;
}
