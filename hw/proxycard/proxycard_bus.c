/*
 * proxycard: the bus link — the card's bus port as descriptor rings in host
 * memory (the patent's bus protocol bridge 128), docs/datasheet.md section 5.
 *
 * Two rings of 16-byte descriptors: TX carries frames from the host to the
 * card, RX carries frames from the card to the host.  The host owns the
 * descriptors from HEAD up to TAIL (exclusive) no longer: it produces by
 * writing a descriptor and then moving TAIL (the doorbell); the card
 * consumes from HEAD, writes the descriptor's status back and moves HEAD.
 *
 * Threads: the ring registers are written by the vCPU (BQL) in
 * proxycard_bus_mmio_write(); while the link is running only the tails
 * change, as atomics, and the firmware thread, which owns all ring
 * processing and DMA, reads them.  Any write to the ring layout while the
 * link runs is a guest error that stops the link (it cannot change under
 * the firmware's feet).  DMA goes through proxycard_dma_rw(), which only
 * touches memory the thread can access directly (proxycard_dma.c): anything
 * else fails (device error state) instead of touching MMIO or taking the
 * BQL; the firmware thread never takes the BQL.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/log.h"
#include "qemu/timer.h"
#include "hw/pci/pci.h"
#include "pcfw.h"
#include "proxycard.h"
#include "proxycard_regs.h"
#include "trace.h"

/* Frames the card holds while the host has posted no RX buffer. */
#define PROXYCARD_BUS_PENDING_MAX   512

typedef struct PCBusFrame {
    QSIMPLEQ_ENTRY(PCBusFrame) next;
    size_t len;
    uint8_t data[];
} PCBusFrame;

/* ---- errors ---- */

/*
 * Stop the link in the device error state @err.  The firmware thread calls
 * it directly; register writes through proxycard_bus_fail_sync().
 */
static void proxycard_bus_fail(ProxyCardState *s, uint32_t err,
                               const char *what)
{
    qemu_log_mask(LOG_GUEST_ERROR, "proxycard: bus link: %s; link stopped "
                  "(ERROR %u), reset the card to recover\n", what, err);
    trace_proxycard_wrn_bus(err, what);
    qatomic_set(&s->bus_running, false);
    proxycard_set_error(s, err);
}

/* ---- MMIO (vCPU thread, BQL held) ---- */

/*
 * A guest error in a register write stops the link like BUS_CONTROL = 0:
 * the write completes once the firmware has left the pass it may be in, so
 * no ring DMA happens after it (datasheet section 5).
 */
static void proxycard_bus_fail_sync(ProxyCardState *s, uint32_t err,
                                    const char *what)
{
    proxycard_bus_fail(s, err, what);
    proxycard_fw_sync(s);
}

static bool ring_ok(uint64_t base, uint32_t size)
{
    return base && !(base & (PROXYCARD_RING_ALIGN - 1)) &&
           size >= PROXYCARD_RING_MIN && size <= PROXYCARD_RING_MAX &&
           is_power_of_2(size);
}

bool proxycard_bus_mmio_read(ProxyCardState *s, hwaddr addr, uint32_t *val)
{
    switch (addr) {
    case PROXYCARD_REG_BUS_CONTROL:
        *val = s->bus_control;
        break;
    case PROXYCARD_REG_BUS_STATUS:
        *val = qatomic_read(&s->bus_running) ? PROXYCARD_BUS_RUNNING : 0;
        break;
    case PROXYCARD_REG_BUS_MTU:
        *val = PROXYCARD_BUS_MTU;
        break;
    case PROXYCARD_REG_BUS_ITR:
        *val = qatomic_read(&s->bus_itr);
        break;
    case PROXYCARD_REG_TX_BASE_LO:
        *val = (uint32_t)s->tx_base;
        break;
    case PROXYCARD_REG_TX_BASE_HI:
        *val = s->tx_base >> 32;
        break;
    case PROXYCARD_REG_TX_SIZE:
        *val = s->tx_size;
        break;
    case PROXYCARD_REG_TX_TAIL:
        *val = qatomic_read(&s->tx_tail);
        break;
    case PROXYCARD_REG_TX_HEAD:
        *val = qatomic_read(&s->tx_head);
        break;
    case PROXYCARD_REG_RX_BASE_LO:
        *val = (uint32_t)s->rx_base;
        break;
    case PROXYCARD_REG_RX_BASE_HI:
        *val = s->rx_base >> 32;
        break;
    case PROXYCARD_REG_RX_SIZE:
        *val = s->rx_size;
        break;
    case PROXYCARD_REG_RX_TAIL:
        *val = qatomic_read(&s->rx_tail);
        break;
    case PROXYCARD_REG_RX_HEAD:
        *val = qatomic_read(&s->rx_head);
        break;
    default:
        return false;
    }
    return true;
}

static void proxycard_bus_wake(ProxyCardState *s)
{
    qatomic_or(&s->fw_requests, PROXYCARD_REQ_BUS);
    proxycard_fw_wake(s);
}

static void proxycard_bus_doorbell(ProxyCardState *s, uint32_t *tail,
                                   uint32_t size, uint32_t val,
                                   const char *ring)
{
    char what[80];

    if (!(s->bus_control & PROXYCARD_BUS_ENABLE)) {
        snprintf(what, sizeof(what), "%s doorbell %u before the link was "
                 "enabled", ring, val);
        proxycard_bus_fail_sync(s, PROXYCARD_ERR_NOT_ENABLED, what);
        return;
    }
    if (val >= size) {
        snprintf(what, sizeof(what), "%s tail %u beyond the ring of %u", ring,
                 val, size);
        proxycard_bus_fail_sync(s, PROXYCARD_ERR_RING_INDEX, what);
        return;
    }
    qatomic_set(tail, val);
    proxycard_bus_wake(s);
}

/* A ring layout register: only while the link is disabled. */
static bool proxycard_bus_layout_writable(ProxyCardState *s, hwaddr addr)
{
    char what[80];

    if (!(s->bus_control & PROXYCARD_BUS_ENABLE)) {
        return true;
    }
    snprintf(what, sizeof(what), "ring register 0x%" HWADDR_PRIx
             " written while the link is enabled", addr);
    proxycard_bus_fail_sync(s, PROXYCARD_ERR_RING_BUSY, what);
    return false;
}

bool proxycard_bus_mmio_write(ProxyCardState *s, hwaddr addr, uint32_t val)
{
    switch (addr) {
    case PROXYCARD_REG_BUS_CONTROL:
        if (val & ~PROXYCARD_BUS_ENABLE) {
            qemu_log_mask(LOG_GUEST_ERROR, "proxycard: reserved BUS_CONTROL "
                          "bits 0x%x written, ignored\n",
                          val & ~PROXYCARD_BUS_ENABLE);
        }
        if ((val & PROXYCARD_BUS_ENABLE) &&
            !(s->bus_control & PROXYCARD_BUS_ENABLE)) {
            if (!ring_ok(s->tx_base, s->tx_size) ||
                !ring_ok(s->rx_base, s->rx_size)) {
                proxycard_bus_fail_sync(s, PROXYCARD_ERR_RING_CONFIG,
                                   "enabled with a ring base not 64-byte "
                                   "aligned or a size not a power of two "
                                   "from 8 to 4096");
                return true;
            }
            /* A new link: every index starts at 0. */
            qatomic_set(&s->tx_tail, 0);
            qatomic_set(&s->rx_tail, 0);
            qatomic_set(&s->tx_head, 0);
            qatomic_set(&s->rx_head, 0);
            s->bus_control = PROXYCARD_BUS_ENABLE;
            smp_wmb();          /* the layout before the new generation */
            qatomic_inc(&s->bus_generation);
            qatomic_set(&s->bus_running, true);
            trace_proxycard_bus_enable(s->tx_base, s->tx_size, s->rx_base,
                                       s->rx_size);
            proxycard_bus_wake(s);
        } else if (!(val & PROXYCARD_BUS_ENABLE)) {
            s->bus_control = 0;
            qatomic_set(&s->bus_running, false);
            /* The write completes once no ring DMA can happen any more. */
            proxycard_fw_sync(s);
        }
        return true;
    case PROXYCARD_REG_BUS_ITR:
        qatomic_set(&s->bus_itr, val);
        return true;
    case PROXYCARD_REG_TX_BASE_LO:
        if (proxycard_bus_layout_writable(s, addr)) {
            s->tx_base = deposit64(s->tx_base, 0, 32, val);
        }
        return true;
    case PROXYCARD_REG_TX_BASE_HI:
        if (proxycard_bus_layout_writable(s, addr)) {
            s->tx_base = deposit64(s->tx_base, 32, 32, val);
        }
        return true;
    case PROXYCARD_REG_TX_SIZE:
        if (proxycard_bus_layout_writable(s, addr)) {
            s->tx_size = val;
        }
        return true;
    case PROXYCARD_REG_RX_BASE_LO:
        if (proxycard_bus_layout_writable(s, addr)) {
            s->rx_base = deposit64(s->rx_base, 0, 32, val);
        }
        return true;
    case PROXYCARD_REG_RX_BASE_HI:
        if (proxycard_bus_layout_writable(s, addr)) {
            s->rx_base = deposit64(s->rx_base, 32, 32, val);
        }
        return true;
    case PROXYCARD_REG_RX_SIZE:
        if (proxycard_bus_layout_writable(s, addr)) {
            s->rx_size = val;
        }
        return true;
    case PROXYCARD_REG_TX_TAIL:
        proxycard_bus_doorbell(s, &s->tx_tail, s->tx_size, val, "TX");
        return true;
    case PROXYCARD_REG_RX_TAIL:
        proxycard_bus_doorbell(s, &s->rx_tail, s->rx_size, val, "RX");
        return true;
    case PROXYCARD_REG_BUS_STATUS:
    case PROXYCARD_REG_BUS_MTU:
    case PROXYCARD_REG_TX_HEAD:
    case PROXYCARD_REG_RX_HEAD:
        trace_proxycard_wrn_mmio_readonly(addr, val);
        qemu_log_mask(LOG_GUEST_ERROR, "proxycard: write 0x%x to read-only "
                      "register 0x%" HWADDR_PRIx ", ignored\n", val, addr);
        return true;
    default:
        return false;
    }
}

/* Reset: the link off, every register back to 0.  BQL held. */
void proxycard_bus_reset(ProxyCardState *s)
{
    s->bus_control = 0;
    qatomic_set(&s->bus_running, false);
    s->tx_base = s->rx_base = 0;
    s->tx_size = s->rx_size = 0;
    qatomic_set(&s->tx_tail, 0);
    qatomic_set(&s->rx_tail, 0);
    qatomic_set(&s->tx_head, 0);
    qatomic_set(&s->rx_head, 0);
    qatomic_set(&s->bus_itr, 0);
}

/* ---- the firmware thread's side ---- */

/* Interrupt moderation: at most one interrupt per vector per ITR. */
static void proxycard_bus_irq(ProxyCardState *s, int ring, uint32_t cause)
{
    PCBusRing *r = &s->ring[ring];
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    int64_t itr = (int64_t)qatomic_read(&s->bus_itr) * SCALE_US;

    if (itr && now - r->irq_last_ns < itr) {
        r->irq_deferred = true;         /* proxycard_bus_deadline() wakes us */
        return;
    }
    r->irq_last_ns = now;
    r->irq_deferred = false;
    proxycard_raise(s, ring == PC_RING_TX ? PROXYCARD_VEC_BUS_TX
                                          : PROXYCARD_VEC_BUS_RX, cause);
}

/* Deferred interrupts that are due; the next deadline in ns (INT64_MAX). */
int64_t proxycard_bus_deadline(ProxyCardState *s)
{
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    int64_t itr = (int64_t)qatomic_read(&s->bus_itr) * SCALE_US;
    int64_t next = INT64_MAX;

    for (int ring = 0; ring < PC_RING_COUNT; ring++) {
        PCBusRing *r = &s->ring[ring];

        if (!r->irq_deferred) {
            continue;
        }
        if (now - r->irq_last_ns >= itr) {
            proxycard_bus_irq(s, ring, ring == PC_RING_TX ? PROXYCARD_INTR_BUS_TX
                                                          : PROXYCARD_INTR_BUS_RX);
        } else {
            next = MIN(next, r->irq_last_ns + itr);
        }
    }
    return next;
}

static bool proxycard_bus_dma(ProxyCardState *s, dma_addr_t addr, void *buf,
                              dma_addr_t len, DMADirection dir)
{
    if (!proxycard_dma_rw(s, addr, buf, len, dir)) {
        char what[96];

        snprintf(what, sizeof(what), "DMA %s 0x%" PRIx64 " (%" PRIu64
                 " bytes) failed: not writable RAM (RAM or ROM to read), "
                 "or bus mastering off",
                 dir == DMA_DIRECTION_TO_DEVICE ? "from" : "to",
                 (uint64_t)addr, (uint64_t)len);
        proxycard_bus_fail(s, PROXYCARD_ERR_DMA, what);
        return false;
    }
    return true;
}

static void proxycard_bus_drop_pending(ProxyCardState *s)
{
    PCBusFrame *f;

    while ((f = QSIMPLEQ_FIRST(&s->bus_pending))) {
        QSIMPLEQ_REMOVE_HEAD(&s->bus_pending, next);
        g_free(f);
    }
    s->bus_pending_len = 0;
}

/* Is the link running for the firmware?  Picks up a new enable. */
static bool proxycard_bus_live(ProxyCardState *s)
{
    unsigned gen = qatomic_read(&s->bus_generation);

    if (!qatomic_read(&s->bus_running)) {
        if (s->fw_bus_gen != 0) {
            s->fw_bus_gen = 0;
            proxycard_bus_drop_pending(s);
        }
        return false;
    }
    if (s->fw_bus_gen != gen) {
        /* Enabled anew: the layout is fixed until the link stops. */
        smp_rmb();
        s->ring[PC_RING_TX].base = s->tx_base;
        s->ring[PC_RING_TX].size = s->tx_size;
        s->ring[PC_RING_RX].base = s->rx_base;
        s->ring[PC_RING_RX].size = s->rx_size;
        s->ring[PC_RING_TX].head = s->ring[PC_RING_RX].head = 0;
        s->fw_bus_gen = gen;
        proxycard_bus_drop_pending(s);
    }
    return true;
}

/* Put one frame into the next RX buffer; false if none or the link broke. */
static bool proxycard_bus_rx_one(ProxyCardState *s, const void *frame,
                                 size_t len)
{
    PCBusRing *r = &s->ring[PC_RING_RX];
    dma_addr_t desc = r->base + (dma_addr_t)r->head * PROXYCARD_DESC_SIZE;
    uint8_t d[PROXYCARD_DESC_SIZE];
    uint32_t cap, len32 = cpu_to_le32(len);
    uint16_t status = cpu_to_le16(PROXYCARD_DESC_DONE);

    if (r->head == qatomic_read(&s->rx_tail)) {
        return false;                   /* no buffer posted */
    }
    if (!proxycard_bus_dma(s, desc, d, sizeof(d), DMA_DIRECTION_TO_DEVICE)) {
        return false;
    }
    cap = ldl_le_p(d + PROXYCARD_DESC_LEN);
    if (cap < PROXYCARD_BUS_MAX_FRAME || lduw_le_p(d + PROXYCARD_DESC_FLAGS)) {
        char what[80];

        snprintf(what, sizeof(what), "RX descriptor %u: buffer of %u bytes "
                 "(at least %u needed) or flags set", r->head, cap,
                 PROXYCARD_BUS_MAX_FRAME);
        proxycard_bus_fail(s, PROXYCARD_ERR_DESC, what);
        return false;
    }
    /* Data, then length, then DONE: the host reads them in reverse. */
    if (!proxycard_bus_dma(s, ldq_le_p(d + PROXYCARD_DESC_ADDR), (void *)frame,
                           len, DMA_DIRECTION_FROM_DEVICE) ||
        !proxycard_bus_dma(s, desc + PROXYCARD_DESC_LEN, &len32, 4,
                           DMA_DIRECTION_FROM_DEVICE)) {
        return false;
    }
    smp_wmb();          /* frame and length visible before DONE */
    if (!proxycard_bus_dma(s, desc + PROXYCARD_DESC_STATUS, &status, 2,
                           DMA_DIRECTION_FROM_DEVICE)) {
        return false;
    }
    r->head = (r->head + 1) & (r->size - 1);
    qatomic_set(&s->rx_head, r->head);
    return true;
}

/* Move held frames into posted RX buffers, then interrupt once. */
static void proxycard_bus_rx_flush(ProxyCardState *s)
{
    PCBusFrame *f;
    unsigned n = 0;

    while ((f = QSIMPLEQ_FIRST(&s->bus_pending)) &&
           qatomic_read(&s->bus_running) && !proxycard_fw_yield(s) &&
           proxycard_bus_rx_one(s, f->data, f->len)) {
        QSIMPLEQ_REMOVE_HEAD(&s->bus_pending, next);
        s->bus_pending_len--;
        g_free(f);
        n++;
    }
    if (n) {
        proxycard_bus_irq(s, PC_RING_RX, PROXYCARD_INTR_BUS_RX);
    }
}

/* The firmware's send_frame on the bus port (firmware thread). */
int proxycard_bus_send(ProxyCardState *s, const void *frame, size_t len)
{
    PCBusFrame *f;

    if (!proxycard_bus_live(s) || len > PROXYCARD_BUS_MAX_FRAME) {
        trace_proxycard_fw_send_drop(PCFW_PORT_BUS, len);
        return -1;                      /* link down: like a cable unplugged */
    }
    if (QSIMPLEQ_EMPTY(&s->bus_pending) && proxycard_bus_rx_one(s, frame, len)) {
        s->bus_rx_delivered = true;     /* one interrupt per pass */
        return 0;
    }
    if (s->bus_pending_len >= PROXYCARD_BUS_PENDING_MAX ||
        !qatomic_read(&s->bus_running)) {
        return -1;
    }
    f = g_malloc(sizeof(*f) + len);
    f->len = len;
    memcpy(f->data, frame, len);
    QSIMPLEQ_INSERT_TAIL(&s->bus_pending, f, next);
    s->bus_pending_len++;
    return 0;
}

/* Consume the TX ring: every posted frame into the firmware. */
static void proxycard_bus_tx(ProxyCardState *s)
{
    PCBusRing *r = &s->ring[PC_RING_TX];
    uint8_t *frame = s->bus_frame;
    unsigned n = 0;

    /* One frame at a time, while nobody waits for the firmware (yield). */
    while (qatomic_read(&s->bus_running) && !proxycard_fw_yield(s) &&
           r->head != qatomic_read(&s->tx_tail)) {
        dma_addr_t desc = r->base + (dma_addr_t)r->head * PROXYCARD_DESC_SIZE;
        uint16_t status = cpu_to_le16(PROXYCARD_DESC_DONE);
        uint8_t d[PROXYCARD_DESC_SIZE];
        uint32_t len;

        smp_rmb();      /* the descriptor is read after the tail */
        if (!proxycard_bus_dma(s, desc, d, sizeof(d), DMA_DIRECTION_TO_DEVICE)) {
            return;
        }
        len = ldl_le_p(d + PROXYCARD_DESC_LEN);
        if (len < 14 || len > PROXYCARD_BUS_MAX_FRAME ||
            lduw_le_p(d + PROXYCARD_DESC_FLAGS)) {
            char what[80];

            snprintf(what, sizeof(what), "TX descriptor %u: length %u (14 to "
                     "%u) or flags set", r->head, len, PROXYCARD_BUS_MAX_FRAME);
            proxycard_bus_fail(s, PROXYCARD_ERR_DESC, what);
            return;
        }
        if (!proxycard_bus_dma(s, ldq_le_p(d + PROXYCARD_DESC_ADDR), frame, len,
                               DMA_DIRECTION_TO_DEVICE)) {
            return;
        }
        pcfw_input(PCFW_PORT_BUS, frame, len);
        if (!proxycard_bus_dma(s, desc + PROXYCARD_DESC_STATUS, &status, 2,
                               DMA_DIRECTION_FROM_DEVICE)) {
            return;
        }
        r->head = (r->head + 1) & (r->size - 1);
        qatomic_set(&s->tx_head, r->head);
        n++;
    }
    if (n) {
        proxycard_bus_irq(s, PC_RING_TX, PROXYCARD_INTR_BUS_TX);
    }
}

/*
 * Firmware thread, at the end of a pass of its loop: one RX interrupt for
 * every frame the firmware sent to the host during the pass.
 */
void proxycard_bus_end_pass(ProxyCardState *s)
{
    if (s->bus_rx_delivered) {
        s->bus_rx_delivered = false;
        proxycard_bus_irq(s, PC_RING_RX, PROXYCARD_INTR_BUS_RX);
    }
}

/* Firmware thread: one pass over the link. */
void proxycard_bus_run(ProxyCardState *s)
{
    if (!proxycard_bus_live(s)) {
        return;
    }
    proxycard_bus_tx(s);
    if (qatomic_read(&s->bus_running)) {
        proxycard_bus_rx_flush(s);
    }
}

/* Firmware thread, reset handshake: forget the link. */
void proxycard_bus_fw_reset(ProxyCardState *s)
{
    s->fw_bus_gen = 0;
    s->bus_rx_delivered = false;
    proxycard_bus_drop_pending(s);
    for (int ring = 0; ring < PC_RING_COUNT; ring++) {
        s->ring[ring].irq_deferred = false;
    }
}

void proxycard_bus_init(ProxyCardState *s)
{
    QSIMPLEQ_INIT(&s->bus_pending);
    s->bus_pending_len = 0;
    s->bus_frame = g_malloc(PROXYCARD_BUS_MAX_FRAME);
    s->fw_bus_gen = 0;
    proxycard_bus_reset(s);
}

void proxycard_bus_cleanup(ProxyCardState *s)
{
    proxycard_bus_drop_pending(s);
    g_free(s->bus_frame);
    s->bus_frame = NULL;
}
