/*
 * proxycard: the NIC front end — the card's network port on a QEMU netdev.
 *
 * Frames cross between QEMU's net layer (main loop, BQL) and the firmware
 * thread through two bounded queues under fw_lock:
 *
 *   wire -> card: .receive copies the frame onto nic_rxq and wakes the
 *     firmware; a full queue answers 0, so the net layer keeps the frame and
 *     stops delivering; once the firmware has drained the queue, a BH calls
 *     qemu_flush_queued_packets() to resume (receive back-pressure).
 *   card -> wire: the firmware's send_frame copies onto nic_txq and
 *     schedules a BH that sends with qemu_send_packet_async(); when the peer
 *     cannot take more, the BH stops until the sent callback (a plain
 *     qemu_send_packet would drop silently).  A full nic_txq drops the frame,
 *     like a full transmit ring; TCP retransmits.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "net/net.h"
#include "pcfw.h"
#include "proxycard.h"
#include "trace.h"

#define PROXYCARD_NIC_RXQ_MAX   256
#define PROXYCARD_NIC_TXQ_MAX   1024

typedef struct PCFrame {
    QSIMPLEQ_ENTRY(PCFrame) next;
    size_t len;
    uint8_t data[];
} PCFrame;

static PCFrame *pc_frame_new(const void *buf, size_t len)
{
    PCFrame *f = g_malloc(sizeof(*f) + len);

    f->len = len;
    memcpy(f->data, buf, len);
    return f;
}

/* ---- wire -> card ---- */

static bool proxycard_nic_can_receive(NetClientState *nc)
{
    ProxyCardState *s = qemu_get_nic_opaque(nc);
    bool room;

    qemu_mutex_lock(&s->fw_lock);
    room = s->nic_rxq_len < PROXYCARD_NIC_RXQ_MAX;
    if (!room) {
        s->nic_rx_blocked = true;
    }
    qemu_mutex_unlock(&s->fw_lock);
    return room;
}

static ssize_t proxycard_nic_receive(NetClientState *nc, const uint8_t *buf,
                                     size_t size)
{
    ProxyCardState *s = qemu_get_nic_opaque(nc);
    PCFrame *f;

    if (size > PCFW_MAX_FRAME) {
        trace_proxycard_nic_rx_drop(size);
        qatomic_inc(&s->nic_rx_dropped);
        return size;                    /* larger than the port's MTU */
    }
    qemu_mutex_lock(&s->fw_lock);
    if (s->nic_rxq_len >= PROXYCARD_NIC_RXQ_MAX) {
        s->nic_rx_blocked = true;
        qemu_mutex_unlock(&s->fw_lock);
        return 0;                       /* the net layer queues it */
    }
    f = pc_frame_new(buf, size);
    QSIMPLEQ_INSERT_TAIL(&s->nic_rxq, f, next);
    s->nic_rxq_len++;
    qemu_mutex_unlock(&s->fw_lock);
    proxycard_fw_wake(s);
    return size;
}

static void proxycard_nic_flush_bh(void *opaque)
{
    ProxyCardState *s = opaque;

    if (!s->nic) {
        return;                         /* deleted: QEMU exits */
    }
    qemu_flush_queued_packets(qemu_get_queue(s->nic));
}

/*
 * Firmware thread: hand every queued frame to the firmware.  When a BQL
 * holder waits for the firmware (proxycard_fw_yield), the frames not yet
 * handed over go back to the head of the queue, in order, for the next pass.
 */
void proxycard_nic_drain(ProxyCardState *s)
{
    QSIMPLEQ_HEAD(, PCFrame) list = QSIMPLEQ_HEAD_INITIALIZER(list);
    bool was_blocked;
    unsigned left;
    PCFrame *f;

    qemu_mutex_lock(&s->fw_lock);
    QSIMPLEQ_CONCAT(&list, &s->nic_rxq);
    left = s->nic_rxq_len;
    s->nic_rxq_len = 0;
    was_blocked = s->nic_rx_blocked;
    s->nic_rx_blocked = false;
    qemu_mutex_unlock(&s->fw_lock);

    while ((f = QSIMPLEQ_FIRST(&list)) && !proxycard_fw_yield(s)) {
        QSIMPLEQ_REMOVE_HEAD(&list, next);
        left--;
        pcfw_input(PCFW_PORT_NIC, f->data, f->len);
        g_free(f);
    }
    if (left) {
        qemu_mutex_lock(&s->fw_lock);
        QSIMPLEQ_PREPEND(&s->nic_rxq, &list);
        s->nic_rxq_len += left;
        qemu_mutex_unlock(&s->fw_lock);
    }
    if (was_blocked) {
        qemu_bh_schedule(s->nic_flush_bh);
    }
}

/* ---- card -> wire ---- */

static void proxycard_nic_tx_bh(void *opaque);

static void proxycard_nic_tx_done(NetClientState *nc, ssize_t len)
{
    ProxyCardState *s = qemu_get_nic_opaque(nc);

    s->nic_tx_waiting = false;
    qemu_bh_schedule(s->nic_tx_bh);
}

static void proxycard_nic_tx_bh(void *opaque)
{
    ProxyCardState *s = opaque;
    NetClientState *nc;

    if (!s->nic) {
        return;                         /* deleted: QEMU exits */
    }
    nc = qemu_get_queue(s->nic);
    while (!s->nic_tx_waiting) {
        PCFrame *f;

        qemu_mutex_lock(&s->fw_lock);
        f = QSIMPLEQ_FIRST(&s->nic_txq);
        if (f) {
            QSIMPLEQ_REMOVE_HEAD(&s->nic_txq, next);
            s->nic_txq_len--;
        }
        qemu_mutex_unlock(&s->fw_lock);
        if (!f) {
            break;
        }
        /* 0: the peer is busy; the net layer keeps a copy and calls back. */
        if (qemu_send_packet_async(nc, f->data, f->len,
                                   proxycard_nic_tx_done) == 0) {
            s->nic_tx_waiting = true;
        }
        g_free(f);
    }
}

/* Firmware thread: the firmware's send_frame on the NIC port. */
int proxycard_nic_send(ProxyCardState *s, const void *frame, size_t len)
{
    PCFrame *f = pc_frame_new(frame, len);
    bool full;

    qemu_mutex_lock(&s->fw_lock);
    full = s->nic_txq_len >= PROXYCARD_NIC_TXQ_MAX;
    if (!full) {
        QSIMPLEQ_INSERT_TAIL(&s->nic_txq, f, next);
        s->nic_txq_len++;
    }
    qemu_mutex_unlock(&s->fw_lock);
    if (full) {
        g_free(f);
        trace_proxycard_fw_send_drop(PCFW_PORT_NIC, len);
        return -1;
    }
    qemu_bh_schedule(s->nic_tx_bh);
    return 0;
}

/* ---- set-up ---- */

static NetClientInfo proxycard_net_info = {
    .type = NET_CLIENT_DRIVER_NIC,
    .size = sizeof(NICState),
    .can_receive = proxycard_nic_can_receive,
    .receive = proxycard_nic_receive,
};

/* Realize: the NIC and its BHs; fw_lock must exist.  BQL held. */
void proxycard_nic_init(ProxyCardState *s)
{
    DeviceState *dev = DEVICE(s);

    QSIMPLEQ_INIT(&s->nic_rxq);
    QSIMPLEQ_INIT(&s->nic_txq);
    s->nic_rxq_len = s->nic_txq_len = 0;
    s->nic_tx_waiting = s->nic_rx_blocked = false;
    qemu_macaddr_default_if_unset(&s->conf.macaddr);
    s->nic = qemu_new_nic(&proxycard_net_info, &s->conf,
                          object_get_typename(OBJECT(s)), dev->id,
                          &dev->mem_reentrancy_guard, s);
    qemu_format_nic_info_str(qemu_get_queue(s->nic), s->conf.macaddr.a);
    s->nic_tx_bh = qemu_bh_new_guarded(proxycard_nic_tx_bh, s,
                                       &dev->mem_reentrancy_guard);
    s->nic_flush_bh = qemu_bh_new_guarded(proxycard_nic_flush_bh, s,
                                          &dev->mem_reentrancy_guard);
}

/*
 * Delete the NIC, after the firmware thread is gone; the BHs then do
 * nothing (deleting it completes our sends still queued in the peer, whose
 * callback schedules the TX BH).  At exit (proxycard.c) or unrealize.  BQL.
 */
void proxycard_nic_stop(ProxyCardState *s)
{
    NICState *nic = s->nic;

    if (nic) {
        s->nic = NULL;
        qemu_del_nic(nic);
    }
}

/* Exit, after the firmware thread is gone.  BQL held. */
void proxycard_nic_cleanup(ProxyCardState *s)
{
    PCFrame *f;

    proxycard_nic_stop(s);
    qemu_bh_delete(s->nic_tx_bh);
    qemu_bh_delete(s->nic_flush_bh);
    while ((f = QSIMPLEQ_FIRST(&s->nic_rxq))) {
        QSIMPLEQ_REMOVE_HEAD(&s->nic_rxq, next);
        g_free(f);
    }
    while ((f = QSIMPLEQ_FIRST(&s->nic_txq))) {
        QSIMPLEQ_REMOVE_HEAD(&s->nic_txq, next);
        g_free(f);
    }
}
