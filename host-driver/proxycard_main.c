// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * proxycard: PCI probe/remove, the pcard%d network interface, the bus link
 * rings, NAPI and interrupts (docs/datasheet.md sections 2, 3 and 5).
 *
 * Copyright (c) 2026 The proxycard authors
 */

#include <linux/bitops.h>
#include <linux/dma-mapping.h>
#include <linux/etherdevice.h>
#include <linux/inetdevice.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <net/page_pool.h>

#include "proxycard.h"

/* Room in front of a received frame, for build_skb(). */
#define PROXYCARD_RX_HEADROOM	(NET_SKB_PAD + NET_IP_ALIGN)
#define PROXYCARD_RX_SHINFO	SKB_DATA_ALIGN(sizeof(struct skb_shared_info))

static unsigned int tx_ring_size = PROXYCARD_TX_RING_SIZE;
module_param(tx_ring_size, uint, 0444);
MODULE_PARM_DESC(tx_ring_size, "TX ring descriptors at probe, a power of two from 8 to 4096 (default 256; ethtool -G changes it)");
static unsigned int rx_ring_size = PROXYCARD_RX_RING_SIZE;
module_param(rx_ring_size, uint, 0444);
MODULE_PARM_DESC(rx_ring_size, "RX ring descriptors at probe, a power of two from 8 to 4096 (default 256; ethtool -G changes it)");

/* More recoveries than this within PROXYCARD_RECOVERY_WINDOW: give up. */
#define PROXYCARD_RECOVERY_MAX		5
#define PROXYCARD_RECOVERY_WINDOW	(10 * HZ)

static const struct {
	const char *name;
	const char *what;
} proxycard_errors[] = {
	[PROXYCARD_ERR_NONE] = { "NONE", "no error" },
	[PROXYCARD_ERR_FW_INIT] = { "FW_INIT", "the firmware failed to start" },
	[PROXYCARD_ERR_BAD_VECTOR] = { "BAD_VECTOR",
				       "test interrupt for a vector out of range" },
	[PROXYCARD_ERR_RING_CONFIG] = { "RING_CONFIG",
					"bad ring base or size at enable" },
	[PROXYCARD_ERR_RING_INDEX] = { "RING_INDEX",
				       "a tail not below the ring size" },
	[PROXYCARD_ERR_DESC] = { "DESC", "bad descriptor length or flags" },
	[PROXYCARD_ERR_DMA] = { "DMA", "DMA to or from an address not RAM" },
	[PROXYCARD_ERR_RING_BUSY] = { "RING_BUSY",
				      "ring registers written while enabled" },
	[PROXYCARD_ERR_NOT_ENABLED] = { "NOT_ENABLED",
					"doorbell while the link is disabled" },
};

const char *proxycard_error_name(u32 err)
{
	if (err < ARRAY_SIZE(proxycard_errors) && proxycard_errors[err].name)
		return proxycard_errors[err].name;
	return "UNKNOWN";
}

static const char *proxycard_error_what(u32 err)
{
	if (err < ARRAY_SIZE(proxycard_errors) && proxycard_errors[err].what)
		return proxycard_errors[err].what;
	return "unknown error code";
}

/* ---- interrupt mask: one register for three vectors ---- */

static void proxycard_intr_set(struct proxycard *pc, u32 set, u32 clear)
{
	unsigned long fl;

	spin_lock_irqsave(&pc->irq_lock, fl);
	pc->intr_mask = (pc->intr_mask & ~clear) | set;
	proxycard_wr(pc, PROXYCARD_REG_INTR_MASK, pc->intr_mask);
	spin_unlock_irqrestore(&pc->irq_lock, fl);
}

/* NAPI is done: unmask the ring causes, unless the rings are going down. */
static void proxycard_unmask_rings(struct proxycard *pc)
{
	unsigned long fl;

	spin_lock_irqsave(&pc->irq_lock, fl);
	if (pc->rings_unmaskable) {
		pc->intr_mask |= PROXYCARD_INTR_RINGS;
		proxycard_wr(pc, PROXYCARD_REG_INTR_MASK, pc->intr_mask);
	}
	spin_unlock_irqrestore(&pc->irq_lock, fl);
}

/*
 * CONTROL.RESET: synchronous (the firmware acknowledges it between two
 * passes of its loop), so when the write returns the card does no more DMA
 * for anything posted before.  It clears INTR_MASK: restore the shadow.
 * With cmd_lock held, so that no command is running.
 */
void proxycard_card_reset_locked(struct proxycard *pc)
{
	unsigned long fl;

	lockdep_assert_held(&pc->cmd_lock);
	proxycard_wr(pc, PROXYCARD_REG_CONTROL, PROXYCARD_CONTROL_RESET);
	spin_lock_irqsave(&pc->irq_lock, fl);
	proxycard_wr(pc, PROXYCARD_REG_INTR_MASK, pc->intr_mask);
	spin_unlock_irqrestore(&pc->irq_lock, fl);
}

static void proxycard_card_reset(struct proxycard *pc)
{
	mutex_lock(&pc->cmd_lock);
	proxycard_card_reset_locked(pc);
	mutex_unlock(&pc->cmd_lock);
}

void proxycard_schedule_reset(struct proxycard *pc)
{
	if (test_bit(PROXYCARD_F_REMOVING, &pc->flags))
		return;
	if (!test_and_set_bit(PROXYCARD_F_RESET_PENDING, &pc->flags))
		schedule_work(&pc->reset_work);
}

/* ---- statistics ---- */

void proxycard_get_ring_stats(struct proxycard *pc, u64 *tx, u64 *rx)
{
	struct proxycard_tx_ring *t = &pc->tx;
	struct proxycard_rx_ring *r = &pc->rx;
	unsigned int start;

	do {
		start = u64_stats_fetch_begin(&t->syncp);
		tx[PROXYCARD_TXS_PACKETS] = u64_stats_read(&t->packets);
		tx[PROXYCARD_TXS_BYTES] = u64_stats_read(&t->bytes);
		tx[PROXYCARD_TXS_WAKES] = u64_stats_read(&t->wakes);
	} while (u64_stats_fetch_retry(&t->syncp, start));
	do {
		start = u64_stats_fetch_begin(&t->xmit_syncp);
		tx[PROXYCARD_TXS_DROPPED] = u64_stats_read(&t->dropped);
		tx[PROXYCARD_TXS_STOPS] = u64_stats_read(&t->stops);
	} while (u64_stats_fetch_retry(&t->xmit_syncp, start));
	do {
		start = u64_stats_fetch_begin(&r->syncp);
		rx[PROXYCARD_RXS_PACKETS] = u64_stats_read(&r->packets);
		rx[PROXYCARD_RXS_BYTES] = u64_stats_read(&r->bytes);
		rx[PROXYCARD_RXS_DROPPED] = u64_stats_read(&r->dropped);
		rx[PROXYCARD_RXS_ERRORS] = u64_stats_read(&r->errors);
		rx[PROXYCARD_RXS_COPIED] = u64_stats_read(&r->copied);
		rx[PROXYCARD_RXS_ALLOC_FAILURES] =
			u64_stats_read(&r->alloc_failures);
	} while (u64_stats_fetch_retry(&r->syncp, start));
}

static void proxycard_get_stats64(struct net_device *ndev,
				  struct rtnl_link_stats64 *s)
{
	struct proxycard *pc = netdev_priv(ndev);
	u64 tx[PROXYCARD_TXS_COUNT], rx[PROXYCARD_RXS_COUNT];

	proxycard_get_ring_stats(pc, tx, rx);
	s->tx_packets = tx[PROXYCARD_TXS_PACKETS];
	s->tx_bytes = tx[PROXYCARD_TXS_BYTES];
	s->tx_dropped = tx[PROXYCARD_TXS_DROPPED];
	s->rx_packets = rx[PROXYCARD_RXS_PACKETS];
	s->rx_bytes = rx[PROXYCARD_RXS_BYTES];
	s->rx_dropped = rx[PROXYCARD_RXS_DROPPED];
	s->rx_errors = rx[PROXYCARD_RXS_ERRORS];
	s->rx_length_errors = rx[PROXYCARD_RXS_ERRORS];
}

/* ---- TX ---- */

/* Free descriptors; the producer may use them all (HEAD = TAIL: empty). */
static u32 proxycard_tx_free(struct proxycard_tx_ring *tx, u32 clean, u32 tail)
{
	return (clean - tail - 1) & (tx->size - 1);
}

static void proxycard_tx_doorbell(struct proxycard *pc)
{
	struct proxycard_tx_ring *tx = &pc->tx;

	if (tx->db_tail == tx->tail)
		return;
	/* The descriptors before the doorbell (datasheet section 5). */
	dma_wmb();
	proxycard_wr(pc, PROXYCARD_REG_TX_TAIL, tx->tail);
	tx->db_tail = tx->tail;
}

/*
 * Stop the queue if the next frame would not fit, then recheck: NAPI may
 * have freed descriptors between the test and the stop, and seeing the
 * queue still awake it would not wake it (__e1000_maybe_stop_tx).
 */
static void proxycard_maybe_stop_tx(struct proxycard *pc,
				    struct netdev_queue *txq)
{
	struct proxycard_tx_ring *tx = &pc->tx;

	/* acquire: NAPI's reads of the freed slots are done */
	if (likely(proxycard_tx_free(tx, smp_load_acquire(&tx->clean),
				     tx->tail)))
		return;
	netif_tx_stop_queue(txq);
	u64_stats_update_begin(&tx->xmit_syncp);
	u64_stats_inc(&tx->stops);
	u64_stats_update_end(&tx->xmit_syncp);
	/* The stop before the recheck; pairs with smp_mb() in tx_clean. */
	smp_mb();
	/* acquire: as above */
	if (proxycard_tx_free(tx, smp_load_acquire(&tx->clean), tx->tail))
		netif_tx_start_queue(txq);
}

static netdev_tx_t proxycard_start_xmit(struct sk_buff *skb,
					struct net_device *ndev)
{
	struct proxycard *pc = netdev_priv(ndev);
	struct proxycard_tx_ring *tx = &pc->tx;
	struct netdev_queue *txq = netdev_get_tx_queue(ndev, 0);
	struct device *dev = &pc->pdev->dev;
	struct proxycard_desc *d;
	u32 tail = tx->tail;
	unsigned int len;
	dma_addr_t dma;

	/* No NETIF_F_SG: the stack hands over linear frames; be sure. */
	if (unlikely(skb_linearize(skb)))
		goto drop;
	len = skb->len;
	if (unlikely(len < ETH_HLEN || len > PROXYCARD_BUS_MAX_FRAME))
		goto drop;
	/* acquire: pairs with the release of tx->clean in tx_clean */
	if (unlikely(!proxycard_tx_free(tx, smp_load_acquire(&tx->clean),
					tail))) {
		/* The queue is stopped whenever the ring is full. */
		netif_tx_stop_queue(txq);
		netdev_err_once(ndev, "TX ring full while the queue was awake\n");
		return NETDEV_TX_BUSY;
	}

	dma = dma_map_single(dev, skb->data, len, DMA_TO_DEVICE);
	if (unlikely(dma_mapping_error(dev, dma)))
		goto drop;

	tx->buf[tail].skb = skb;
	tx->buf[tail].dma = dma;
	tx->buf[tail].len = len;
	d = &tx->desc[tail];
	d->addr = cpu_to_le64(dma);
	d->len = cpu_to_le32(len);
	d->flags = 0;
	d->status = 0;
	skb_tx_timestamp(skb);

	/* Descriptor and buffer info before the tail NAPI reads. */
	smp_store_release(&tx->tail, (tail + 1) & (tx->size - 1));

	proxycard_maybe_stop_tx(pc, txq);
	/* Ring unless more frames follow (and the queue still runs). */
	if (__netdev_tx_sent_queue(txq, len, netdev_xmit_more()))
		proxycard_tx_doorbell(pc);
	return NETDEV_TX_OK;

drop:
	dev_kfree_skb_any(skb);
	u64_stats_update_begin(&tx->xmit_syncp);
	u64_stats_inc(&tx->dropped);
	u64_stats_update_end(&tx->xmit_syncp);
	/* A frame queued earlier with xmit_more still needs its doorbell. */
	if (!netdev_xmit_more())
		proxycard_tx_doorbell(pc);
	return NETDEV_TX_OK;
}

/* NAPI: reclaim what the card has sent.  Not bounded by the budget. */
static void proxycard_tx_clean(struct proxycard *pc, int budget)
{
	struct proxycard_tx_ring *tx = &pc->tx;
	struct netdev_queue *txq = netdev_get_tx_queue(pc->ndev, 0);
	struct device *dev = &pc->pdev->dev;
	/* acquire: pairs with the release of tx->tail in start_xmit */
	u32 tail = smp_load_acquire(&tx->tail);
	u32 clean = tx->clean;
	unsigned int pkts = 0, bytes = 0;

	while (clean != tail) {
		struct proxycard_desc *d = &tx->desc[clean];
		struct proxycard_tx_buf *b = &tx->buf[clean];

		if (!(le16_to_cpu(READ_ONCE(d->status)) & PROXYCARD_DESC_DONE))
			break;
		/* Nothing of the descriptor is read before its DONE. */
		dma_rmb();
		dma_unmap_single(dev, b->dma, b->len, DMA_TO_DEVICE);
		pkts++;
		bytes += b->len;
		napi_consume_skb(b->skb, budget);
		b->skb = NULL;
		clean = (clean + 1) & (tx->size - 1);
	}
	if (!pkts)
		return;

	/* Buffer info read before xmit may reuse the slots. */
	smp_store_release(&tx->clean, clean);
	netdev_tx_completed_queue(txq, pkts, bytes);
	u64_stats_update_begin(&tx->syncp);
	u64_stats_add(&tx->packets, pkts);
	u64_stats_add(&tx->bytes, bytes);
	u64_stats_update_end(&tx->syncp);

	/* New free space before the queue state; pairs with maybe_stop_tx. */
	smp_mb();
	if (unlikely(netif_tx_queue_stopped(txq)) &&
	    proxycard_tx_free(tx, clean, READ_ONCE(tx->tail)) >=
	    tx->wake_thresh) {
		netif_tx_wake_queue(txq);
		u64_stats_update_begin(&tx->syncp);
		u64_stats_inc(&tx->wakes);
		u64_stats_update_end(&tx->syncp);
	}
}

/* ---- RX ---- */

/*
 * RX buffers come from a page_pool, created when the link comes up: it maps
 * each page once (DMA_FROM_DEVICE) and syncs a recycled page for the device
 * before handing it out again, and pages that went up in an skb come back
 * to it when the stack frees the skb (skb_mark_for_recycle()).  The card
 * needs 9014 bytes in every RX buffer (datasheet section 5) and a frame
 * never spans two descriptors, so a buffer is an order-2 page.
 */
static int proxycard_rx_create_pool(struct proxycard *pc)
{
	struct proxycard_rx_ring *rx = &pc->rx;
	struct page_pool_params pp = {
		.flags = PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV,
		.order = rx->order,
		.pool_size = rx->size,
		.nid = dev_to_node(&pc->pdev->dev),
		.dev = &pc->pdev->dev,
		.dma_dir = DMA_FROM_DEVICE,
		.offset = PROXYCARD_RX_HEADROOM,
		.max_len = rx->buf_len,
	};
	struct page_pool *pool = page_pool_create(&pp);

	if (IS_ERR(pool))
		return PTR_ERR(pool);
	rx->pool = pool;
	return 0;
}

/* The rings' pages are back (free_bufs); skbs up the stack may keep some. */
static void proxycard_rx_destroy_pool(struct proxycard *pc)
{
	page_pool_destroy(pc->rx.pool);
	pc->rx.pool = NULL;
}

static void proxycard_rx_free_buf(struct proxycard *pc,
				  struct proxycard_rx_buf *b)
{
	if (!b->page)
		return;
	page_pool_put_full_page(pc->rx.pool, b->page, false);
	b->page = NULL;
}

/* Hand descriptor @i, with its buffer, back for the card to fill. */
static void proxycard_rx_write_desc(struct proxycard_rx_ring *rx, u32 i)
{
	struct proxycard_desc *d = &rx->desc[i];

	d->addr = cpu_to_le64(page_pool_get_dma_addr(rx->buf[i].page) +
			      PROXYCARD_RX_HEADROOM);
	d->len = cpu_to_le32(rx->buf_len);
	d->flags = 0;
	d->status = 0;
}

/*
 * The frame in descriptor @i as an skb, leaving a buffer in the slot.  A
 * frame up to PROXYCARD_RX_COPYBREAK is copied into an skb of its size and
 * the buffer stays; a larger one goes up in its page (napi_build_skb, the
 * page recycled to the pool when the skb is freed) and a page from the pool
 * takes its place.  NULL: no memory, the frame is dropped and the buffer
 * stays.  Only the frame's bytes are synced, in both directions.
 */
static struct sk_buff *proxycard_rx_skb(struct proxycard *pc, u32 i,
					unsigned int len, bool *copied)
{
	struct proxycard_rx_ring *rx = &pc->rx;
	struct proxycard_rx_buf *b = &rx->buf[i];
	struct device *dev = &pc->pdev->dev;
	dma_addr_t dma = page_pool_get_dma_addr(b->page);
	void *va = page_address(b->page);
	struct page *fresh = NULL;
	struct sk_buff *skb;

	dma_sync_single_range_for_cpu(dev, dma, PROXYCARD_RX_HEADROOM, len,
				      DMA_FROM_DEVICE);
	if (len <= PROXYCARD_RX_COPYBREAK) {
		skb = napi_alloc_skb(&pc->napi, len);
		if (skb) {
			skb_put_data(skb, va + PROXYCARD_RX_HEADROOM, len);
			*copied = true;
		}
		goto keep;
	}

	fresh = page_pool_dev_alloc_pages(rx->pool);
	if (!fresh) {
		skb = NULL;
		goto keep;
	}
	skb = napi_build_skb(va, rx->truesize);
	if (!skb) {
		page_pool_recycle_direct(rx->pool, fresh);
		goto keep;
	}
	skb_mark_for_recycle(skb);
	skb_reserve(skb, PROXYCARD_RX_HEADROOM);
	skb_put(skb, len);
	b->page = fresh;
	return skb;

keep:
	/* The buffer stays posted: the card's again. */
	dma_sync_single_range_for_device(dev, dma, PROXYCARD_RX_HEADROOM, len,
					 DMA_FROM_DEVICE);
	return skb;
}

/* NAPI: receive up to @budget frames, repost, move RX_TAIL once. */
static int proxycard_rx_clean(struct proxycard *pc, int budget)
{
	struct proxycard_rx_ring *rx = &pc->rx;
	struct net_device *ndev = pc->ndev;
	unsigned int bytes = 0, errors = 0, dropped = 0, copies = 0;
	u32 i = rx->next, last = 0;
	int done = 0;

	while (done < budget) {
		struct proxycard_desc *d = &rx->desc[i];
		bool copied = false;
		struct sk_buff *skb;
		unsigned int len;

		if (!(le16_to_cpu(READ_ONCE(d->status)) & PROXYCARD_DESC_DONE))
			break;
		/* The card wrote the frame, then len, then DONE. */
		dma_rmb();
		len = le32_to_cpu(READ_ONCE(d->len));
		if (unlikely(len < ETH_HLEN || len > rx->buf_len)) {
			errors++;
		} else {
			skb = proxycard_rx_skb(pc, i, len, &copied);
			if (likely(skb)) {
				skb->protocol = eth_type_trans(skb, ndev);
				napi_gro_receive(&pc->napi, skb);
				bytes += len;
				copies += copied;
			} else {
				dropped++;
			}
		}
		proxycard_rx_write_desc(rx, i);
		last = i;
		i = (i + 1) & (rx->size - 1);
		done++;
	}
	if (!done)
		return 0;

	rx->next = i;
	/* The reposted descriptors before the doorbell. */
	dma_wmb();
	proxycard_wr(pc, PROXYCARD_REG_RX_TAIL, last);

	u64_stats_update_begin(&rx->syncp);
	u64_stats_add(&rx->packets, done - errors - dropped);
	u64_stats_add(&rx->bytes, bytes);
	u64_stats_add(&rx->errors, errors);
	u64_stats_add(&rx->dropped, dropped);
	u64_stats_add(&rx->alloc_failures, dropped);
	u64_stats_add(&rx->copied, copies);
	u64_stats_update_end(&rx->syncp);
	return done;
}

/* ---- NAPI and interrupts ---- */

/* Anything for NAPI on the rings?  Read-only; safe after napi_complete. */
static bool proxycard_work_pending(struct proxycard *pc)
{
	struct proxycard_rx_ring *rx = &pc->rx;
	struct proxycard_tx_ring *tx = &pc->tx;
	u32 clean = READ_ONCE(tx->clean);

	if (le16_to_cpu(READ_ONCE(rx->desc[READ_ONCE(rx->next)].status)) &
	    PROXYCARD_DESC_DONE)
		return true;
	/* acquire: the descriptor is read after the tail */
	return clean != smp_load_acquire(&tx->tail) &&
	       (le16_to_cpu(READ_ONCE(tx->desc[clean].status)) &
		PROXYCARD_DESC_DONE);
}

/*
 * Lost wakeups.  The ring vectors are edge MSI-X, and the card signals a
 * vector only if the cause is enabled in INTR_MASK when it finishes a batch;
 * an event while the cause is masked raises no interrupt, ever (INTR_CAUSE
 * keeps a bit, but nothing re-signals it).  So:
 *  - the interrupt masks both ring causes and schedules NAPI;
 *  - the poll acknowledges the causes (W1C) before it looks at the rings;
 *  - when it is done it calls napi_complete_done() and, only if that
 *    returned true, unmasks, then mb() and rechecks the rings itself.
 *    The card writes a descriptor's DONE and then reads INTR_MASK (with a
 *    full barrier between: an atomic on INTR_CAUSE); we write INTR_MASK
 *    and then read DONE (mb()).  One of the two sees the other: either the
 *    card signals, or the recheck finds the work and reschedules NAPI
 *    (masking again if it won the race to schedule).
 *  - proxycard_up() schedules NAPI once after unmasking, for frames that
 *    arrived while the link was masked.
 * An interrupt that arrives while NAPI is scheduled only sets NAPI_MISSED,
 * and napi_complete_done() then returns false and the poll runs again.
 */
static int proxycard_poll(struct napi_struct *napi, int budget)
{
	struct proxycard *pc = container_of(napi, struct proxycard, napi);
	int done;

	proxycard_wr(pc, PROXYCARD_REG_INTR_CAUSE, PROXYCARD_INTR_RINGS);
	proxycard_tx_clean(pc, budget);
	if (!budget)
		return 0;

	done = proxycard_rx_clean(pc, budget);
	if (done == budget)
		return budget;

	if (likely(napi_complete_done(napi, done))) {
		proxycard_unmask_rings(pc);
		/* INTR_MASK written before the descriptors are read again. */
		mb();
		if (proxycard_work_pending(pc) && napi_reschedule(napi))
			proxycard_intr_set(pc, 0, PROXYCARD_INTR_RINGS);
	}
	return done;
}

/* Vectors BUS_RX and BUS_TX: one NAPI context serves both rings. */
static irqreturn_t proxycard_ring_intr(int irq, void *data)
{
	struct proxycard *pc = data;

	if (napi_schedule_prep(&pc->napi)) {
		proxycard_intr_set(pc, 0, PROXYCARD_INTR_RINGS);
		__napi_schedule_irqoff(&pc->napi);
	}
	return IRQ_HANDLED;
}

/* Hard IRQ: a guest that keeps breaking the card must not flood the log. */
static void proxycard_handle_error(struct proxycard *pc)
{
	u32 code = proxycard_rd(pc, PROXYCARD_REG_ERROR);

	if (code == PROXYCARD_ERR_NONE)
		return;			/* already reset */
	if (test_bit(PROXYCARD_F_RESET_PENDING, &pc->flags))
		return;			/* already being recovered */
	atomic64_inc(&pc->card_errors);
	dev_err_ratelimited(&pc->pdev->dev,
			    "card error %u (%s: %s), bus link %s; resetting the card\n",
			    code, proxycard_error_name(code),
			    proxycard_error_what(code),
			    proxycard_rd(pc, PROXYCARD_REG_BUS_STATUS) &
			    PROXYCARD_BUS_RUNNING ? "running" : "stopped");
	netif_carrier_off(pc->ndev);
	proxycard_schedule_reset(pc);
}

/* The misc causes in @cause: acknowledge and serve them. */
static void proxycard_misc(struct proxycard *pc, u32 cause)
{
	proxycard_wr(pc, PROXYCARD_REG_INTR_CAUSE, cause);

	if (cause & PROXYCARD_INTR_CMD)
		proxycard_ctl_cmd_done(pc);
	if (cause & PROXYCARD_INTR_ERROR)
		proxycard_handle_error(pc);
	if ((cause & PROXYCARD_INTR_FW_STATE) &&
	    proxycard_rd(pc, PROXYCARD_REG_FW_STATE) == PROXYCARD_FW_FAILED) {
		dev_err_ratelimited(&pc->pdev->dev,
				    "card firmware failed: only a new power-on restarts it\n");
		netif_carrier_off(pc->ndev);
	}
}

/* Vector MISC: ERROR, FW_STATE, CMD (and TEST). */
static irqreturn_t proxycard_misc_intr(int irq, void *data)
{
	struct proxycard *pc = data;
	u32 cause = proxycard_rd(pc, PROXYCARD_REG_INTR_CAUSE) &
		    PROXYCARD_INTR_MISC;

	if (!cause)
		return IRQ_NONE;
	proxycard_misc(pc, cause);
	return IRQ_HANDLED;
}

/*
 * INTx, without MSI-X: one level-triggered, possibly shared line, asserted
 * while INTR_CAUSE & INTR_MASK is non-zero (datasheet section 2).  Ring
 * causes are masked until NAPI is done, misc causes acknowledged, so the
 * line drops when this returns.
 */
static irqreturn_t proxycard_intx_intr(int irq, void *data)
{
	struct proxycard *pc = data;
	u32 cause = proxycard_rd(pc, PROXYCARD_REG_INTR_CAUSE) &
		    READ_ONCE(pc->intr_mask);

	if (!cause)
		return IRQ_NONE;
	if (cause & PROXYCARD_INTR_RINGS) {
		proxycard_intr_set(pc, 0, PROXYCARD_INTR_RINGS);
		napi_schedule_irqoff(&pc->napi);
	}
	if (cause & PROXYCARD_INTR_MISC)
		proxycard_misc(pc, cause & PROXYCARD_INTR_MISC);
	return IRQ_HANDLED;
}

static void proxycard_free_irqs(struct proxycard *pc)
{
	while (pc->irqs_requested > 0) {
		pc->irqs_requested--;
		free_irq(pci_irq_vector(pc->pdev, pc->irqs_requested), pc);
	}
}

/*
 * MSI-X with its three vectors, else INTx.  The card has no MSI capability
 * (hw/proxycard: MSI-X and an INTA pin only), so there is no MSI step.
 */
static int proxycard_alloc_vectors(struct proxycard *pc)
{
	struct pci_dev *pdev = pc->pdev;
	int n;

	n = pci_alloc_irq_vectors(pdev, PROXYCARD_MSIX_VECTORS,
				  PROXYCARD_MSIX_VECTORS, PCI_IRQ_MSIX);
	if (n < 0) {
		dev_info(&pdev->dev, "no MSI-X (%d): using INTx\n", n);
		n = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_LEGACY);
	}
	if (n < 0)
		return dev_err_probe(&pdev->dev, n, "no interrupt\n");
	pc->nvecs = n;
	return 0;
}

static int proxycard_request_irqs(struct proxycard *pc)
{
	static const char * const what[PROXYCARD_MSIX_VECTORS] = {
		[PROXYCARD_VEC_MISC] = "misc",
		[PROXYCARD_VEC_BUS_RX] = "rx",
		[PROXYCARD_VEC_BUS_TX] = "tx",
	};
	int v, err;

	if (pc->nvecs == 1) {
		snprintf(pc->irq_name[0], sizeof(pc->irq_name[0]), "%s@%s",
			 PROXYCARD_DRV_NAME, pci_name(pc->pdev));
		err = request_irq(pci_irq_vector(pc->pdev, 0),
				  proxycard_intx_intr, IRQF_SHARED,
				  pc->irq_name[0], pc);
		if (err) {
			dev_err(&pc->pdev->dev, "cannot request IRQ %s: %d\n",
				pc->irq_name[0], err);
			return err;
		}
		pc->irqs_requested = 1;
		return 0;
	}
	for (v = 0; v < PROXYCARD_MSIX_VECTORS; v++) {
		snprintf(pc->irq_name[v], sizeof(pc->irq_name[v]), "%s-%s@%s",
			 PROXYCARD_DRV_NAME, what[v], pci_name(pc->pdev));
		err = request_irq(pci_irq_vector(pc->pdev, v),
				  v == PROXYCARD_VEC_MISC ? proxycard_misc_intr
							  : proxycard_ring_intr,
				  0, pc->irq_name[v], pc);
		if (err) {
			dev_err(&pc->pdev->dev, "cannot request IRQ %s: %d\n",
				pc->irq_name[v], err);
			proxycard_free_irqs(pc);
			return err;
		}
		pc->irqs_requested++;
	}
	return 0;
}

/* ---- rings ---- */

/* The descriptor memory and slot array of one ring. */
struct proxycard_ring_mem {
	u32 size;
	struct proxycard_desc *desc;
	dma_addr_t desc_dma;
	void *buf;
};

static void proxycard_free_ring_mem(struct proxycard *pc,
				    struct proxycard_ring_mem *m)
{
	kfree(m->buf);
	m->buf = NULL;
	if (m->desc)
		dma_free_coherent(&pc->pdev->dev, m->size * sizeof(*m->desc),
				  m->desc, m->desc_dma);
	m->desc = NULL;
}

static int proxycard_alloc_ring_mem(struct proxycard *pc,
				    struct proxycard_ring_mem *m, u32 size,
				    size_t slot)
{
	struct device *dev = &pc->pdev->dev;

	m->size = size;
	/* Coherent memory is page aligned: PROXYCARD_RING_ALIGN holds. */
	m->desc = dma_alloc_coherent(dev, size * sizeof(*m->desc),
				     &m->desc_dma, GFP_KERNEL);
	m->buf = kcalloc(size, slot, GFP_KERNEL);
	if (!m->desc || !m->buf ||
	    WARN_ON(m->desc_dma & (PROXYCARD_RING_ALIGN - 1))) {
		proxycard_free_ring_mem(pc, m);
		return -ENOMEM;
	}
	return 0;
}

/* Both rings' memory, or neither. */
static int proxycard_alloc_rings_mem(struct proxycard *pc,
				     struct proxycard_ring_mem *t, u32 tx_size,
				     struct proxycard_ring_mem *r, u32 rx_size)
{
	int err;

	err = proxycard_alloc_ring_mem(pc, t, tx_size,
				       sizeof(struct proxycard_tx_buf));
	if (err)
		return err;
	err = proxycard_alloc_ring_mem(pc, r, rx_size,
				       sizeof(struct proxycard_rx_buf));
	if (err)
		proxycard_free_ring_mem(pc, t);
	return err;
}

/* The rings' memory, in and out of struct proxycard_ring_mem. */
static void proxycard_set_rings(struct proxycard *pc,
				struct proxycard_ring_mem *t,
				struct proxycard_ring_mem *r)
{
	struct proxycard_tx_ring *tx = &pc->tx;
	struct proxycard_rx_ring *rx = &pc->rx;

	tx->size = t->size;
	tx->desc = t->desc;
	tx->desc_dma = t->desc_dma;
	tx->buf = t->buf;
	/* Wake a stopped queue once a quarter of the ring is free again. */
	tx->wake_thresh = tx->size / 4;
	rx->size = r->size;
	rx->desc = r->desc;
	rx->desc_dma = r->desc_dma;
	rx->buf = r->buf;
}

static void proxycard_free_rings(struct proxycard *pc)
{
	struct proxycard_ring_mem t = {
		.size = pc->tx.size, .desc = pc->tx.desc,
		.desc_dma = pc->tx.desc_dma, .buf = pc->tx.buf,
	};
	struct proxycard_ring_mem r = {
		.size = pc->rx.size, .desc = pc->rx.desc,
		.desc_dma = pc->rx.desc_dma, .buf = pc->rx.buf,
	};

	proxycard_free_ring_mem(pc, &r);
	proxycard_free_ring_mem(pc, &t);
	pc->rx.desc = NULL;
	pc->rx.buf = NULL;
	pc->tx.desc = NULL;
	pc->tx.buf = NULL;
}

/* Descriptor memory and slot arrays, until ethtool -G changes the sizes. */
static int proxycard_alloc_rings(struct proxycard *pc, u32 tx_size,
				 u32 rx_size)
{
	struct proxycard_rx_ring *rx = &pc->rx;
	struct proxycard_ring_mem t, r;
	int err;

	err = proxycard_alloc_rings_mem(pc, &t, tx_size, &r, rx_size);
	if (err)
		return err;
	proxycard_set_rings(pc, &t, &r);
	rx->order = get_order(SKB_DATA_ALIGN(PROXYCARD_RX_HEADROOM +
					     PROXYCARD_BUS_MAX_FRAME) +
			      PROXYCARD_RX_SHINFO);
	rx->truesize = PAGE_SIZE << rx->order;
	rx->buf_len = rx->truesize - PROXYCARD_RX_HEADROOM - PROXYCARD_RX_SHINFO;
	u64_stats_init(&pc->tx.syncp);
	u64_stats_init(&pc->tx.xmit_syncp);
	u64_stats_init(&rx->syncp);
	return 0;
}

/* Unmap and free what the rings hold.  The card does no DMA any more. */
static void proxycard_free_bufs(struct proxycard *pc)
{
	struct proxycard_tx_ring *tx = &pc->tx;
	u32 i;

	for (i = 0; i < tx->size; i++) {
		struct proxycard_tx_buf *b = &tx->buf[i];

		if (!b->skb)
			continue;
		dma_unmap_single(&pc->pdev->dev, b->dma, b->len,
				 DMA_TO_DEVICE);
		dev_kfree_skb_any(b->skb);
		b->skb = NULL;
	}
	for (i = 0; i < pc->rx.size; i++)
		proxycard_rx_free_buf(pc, &pc->rx.buf[i]);
}

/*
 * A buffer in every RX slot, empty TX ring; indices as the card's after
 * BUS_CONTROL.ENABLE (all 0).  NAPI is disabled: the pool is ours alone.
 */
static int proxycard_fill_rings(struct proxycard *pc)
{
	struct proxycard_tx_ring *tx = &pc->tx;
	struct proxycard_rx_ring *rx = &pc->rx;
	int err;
	u32 i;

	err = proxycard_rx_create_pool(pc);
	if (err)
		return err;
	memset(tx->desc, 0, tx->size * sizeof(*tx->desc));
	tx->tail = 0;
	tx->db_tail = 0;
	tx->clean = 0;
	for (i = 0; i < rx->size; i++) {
		rx->buf[i].page = page_pool_alloc_pages(rx->pool, GFP_KERNEL |
							__GFP_NOWARN);
		if (!rx->buf[i].page) {
			proxycard_free_bufs(pc);
			proxycard_rx_destroy_pool(pc);
			return -ENOMEM;
		}
		proxycard_rx_write_desc(rx, i);
	}
	rx->next = 0;
	return 0;
}

/* ---- bring the link up and down (rtnl held) ---- */

static int proxycard_up(struct proxycard *pc)
{
	struct net_device *ndev = pc->ndev;
	u32 code;
	int err;

	code = proxycard_rd(pc, PROXYCARD_REG_ERROR);
	if (code) {
		dev_warn(&pc->pdev->dev, "card error %u (%s) pending: reset\n",
			 code, proxycard_error_name(code));
		proxycard_card_reset(pc);
	}
	err = proxycard_fill_rings(pc);
	if (err)
		return err;

	proxycard_wr(pc, PROXYCARD_REG_TX_BASE_LO, lower_32_bits(pc->tx.desc_dma));
	proxycard_wr(pc, PROXYCARD_REG_TX_BASE_HI, upper_32_bits(pc->tx.desc_dma));
	proxycard_wr(pc, PROXYCARD_REG_TX_SIZE, pc->tx.size);
	proxycard_wr(pc, PROXYCARD_REG_RX_BASE_LO, lower_32_bits(pc->rx.desc_dma));
	proxycard_wr(pc, PROXYCARD_REG_RX_BASE_HI, upper_32_bits(pc->rx.desc_dma));
	proxycard_wr(pc, PROXYCARD_REG_RX_SIZE, pc->rx.size);
	proxycard_wr(pc, PROXYCARD_REG_BUS_ITR, PROXYCARD_BUS_ITR_US);

	napi_enable(&pc->napi);
	proxycard_wr(pc, PROXYCARD_REG_BUS_CONTROL, PROXYCARD_BUS_ENABLE);
	/* Every RX buffer but the one at the tail; posted before the doorbell. */
	dma_wmb();
	proxycard_wr(pc, PROXYCARD_REG_RX_TAIL, pc->rx.size - 1);

	code = proxycard_rd(pc, PROXYCARD_REG_ERROR);
	if (code) {
		dev_err(&pc->pdev->dev,
			"enabling the bus link failed: card error %u (%s: %s)\n",
			code, proxycard_error_name(code),
			proxycard_error_what(code));
		err = -EIO;
		goto err_disable;
	}

	netdev_reset_queue(ndev);
	spin_lock_irq(&pc->irq_lock);
	pc->rings_unmaskable = true;
	spin_unlock_irq(&pc->irq_lock);
	proxycard_intr_set(pc, PROXYCARD_INTR_RINGS, 0);
	netif_tx_start_all_queues(ndev);
	WRITE_ONCE(pc->up, true);
	if (proxycard_rd(pc, PROXYCARD_REG_BUS_STATUS) & PROXYCARD_BUS_RUNNING)
		netif_carrier_on(ndev);
	proxycard_stats_start(pc);

	/* Frames that completed while masked raised no interrupt. */
	local_bh_disable();
	napi_schedule(&pc->napi);
	local_bh_enable();
	return 0;

err_disable:
	napi_disable(&pc->napi);
	proxycard_wr(pc, PROXYCARD_REG_BUS_CONTROL, 0);
	proxycard_card_reset(pc);
	proxycard_free_bufs(pc);
	proxycard_rx_destroy_pool(pc);
	return err;
}

/* In gve_close()'s order: carrier, NAPI, queue, device, memory. */
static void proxycard_down(struct proxycard *pc)
{
	struct net_device *ndev = pc->ndev;

	WRITE_ONCE(pc->up, false);
	netif_carrier_off(ndev);
	napi_disable(&pc->napi);
	spin_lock_irq(&pc->irq_lock);
	pc->rings_unmaskable = false;
	spin_unlock_irq(&pc->irq_lock);
	proxycard_intr_set(pc, 0, PROXYCARD_INTR_RINGS);
	netif_tx_disable(ndev);
	/*
	 * BUS_CONTROL = 0 completes once the card has stopped touching the
	 * rings (datasheet section 5): no DMA reaches the buffers freed below.
	 * No card reset, so no command or statistic is lost; the read makes
	 * sure the write has reached the card.
	 */
	proxycard_wr(pc, PROXYCARD_REG_BUS_CONTROL, 0);
	proxycard_rd(pc, PROXYCARD_REG_BUS_CONTROL);
	proxycard_free_bufs(pc);
	proxycard_rx_destroy_pool(pc);
	netdev_reset_queue(ndev);
}

/*
 * ethtool -G (rtnl held): new descriptor memory first, so that a failure
 * leaves the rings as they were; then the link goes down and up again.
 */
int proxycard_resize_rings(struct proxycard *pc, u32 tx_size, u32 rx_size)
{
	struct proxycard_ring_mem t, r;
	bool was_up = pc->up;
	int err;

	if (tx_size == pc->tx.size && rx_size == pc->rx.size)
		return 0;
	err = proxycard_alloc_rings_mem(pc, &t, tx_size, &r, rx_size);
	if (err)
		return err;
	if (was_up)
		proxycard_down(pc);
	proxycard_free_rings(pc);
	proxycard_set_rings(pc, &t, &r);
	if (!was_up)
		return 0;
	err = proxycard_up(pc);
	if (err) {
		netdev_err(pc->ndev, "rings of %u/%u: link failed (%d): interface stopped\n",
			   tx_size, rx_size, err);
		dev_close(pc->ndev);
	}
	return err;
}

static int proxycard_open(struct net_device *ndev)
{
	return proxycard_up(netdev_priv(ndev));
}

static int proxycard_close(struct net_device *ndev)
{
	struct proxycard *pc = netdev_priv(ndev);

	if (pc->up)
		proxycard_down(pc);
	return 0;
}

static void proxycard_tx_timeout(struct net_device *ndev, unsigned int txq)
{
	struct proxycard *pc = netdev_priv(ndev);

	netdev_err(ndev,
		   "TX timeout: tail %u clean %u, card TX_HEAD %u, BUS_STATUS %#x, ERROR %u\n",
		   READ_ONCE(pc->tx.tail), READ_ONCE(pc->tx.clean),
		   proxycard_rd(pc, PROXYCARD_REG_TX_HEAD),
		   proxycard_rd(pc, PROXYCARD_REG_BUS_STATUS),
		   proxycard_rd(pc, PROXYCARD_REG_ERROR));
	proxycard_schedule_reset(pc);
}

/*
 * Error recovery: CONTROL.RESET brings the card out of its error state
 * (it keeps its network-side connections and configuration), then the
 * rings are set up anew if the interface was up.
 */
static void proxycard_reset_task(struct work_struct *work)
{
	struct proxycard *pc = container_of(work, struct proxycard, reset_work);
	struct net_device *ndev = pc->ndev;
	int err;

	rtnl_lock();
	/* Errors from here on schedule another run. */
	clear_bit(PROXYCARD_F_RESET_PENDING, &pc->flags);
	if (test_bit(PROXYCARD_F_REMOVING, &pc->flags))
		goto out;

	if (time_after(jiffies, pc->recovery_window + PROXYCARD_RECOVERY_WINDOW)) {
		pc->recovery_window = jiffies;
		pc->recovery_burst = 0;
	}
	if (++pc->recovery_burst > PROXYCARD_RECOVERY_MAX) {
		netdev_err(ndev,
			   "%u card resets in %u s: giving up; set the interface up again to retry\n",
			   PROXYCARD_RECOVERY_MAX,
			   PROXYCARD_RECOVERY_WINDOW / HZ);
		if (pc->up)
			dev_close(ndev);
		proxycard_card_reset(pc);
		pc->recovery_burst = 0;
		goto out;
	}

	atomic64_inc(&pc->recoveries);
	if (!pc->up) {
		proxycard_card_reset(pc);
		goto out;
	}
	proxycard_down(pc);
	/* Down no longer resets the card; recovery must (a stuck command). */
	proxycard_card_reset(pc);
	err = proxycard_up(pc);
	if (err) {
		netdev_err(ndev, "recovery failed (%d): interface stopped\n",
			   err);
		dev_close(ndev);
		goto out;
	}
	netdev_info(ndev, "card reset, bus link %s\n",
		    netif_carrier_ok(ndev) ? "running" : "not running");
out:
	rtnl_unlock();
}

/*
 * The card's lwIP caches the server's MAC address (ARP) for minutes, and
 * ours is random at each probe: after a reload, or a MAC change, the card
 * would keep sending to the old one.  So announce the address (gratuitous
 * ARP, NETDEV_NOTIFY_PEERS) whenever it may be new to the card: when the
 * interface comes up, when it gets an IPv4 address, and when its MAC
 * changes.  rtnl is held in all three.
 */
static void proxycard_announce(struct net_device *ndev)
{
	if (netif_running(ndev) && netif_carrier_ok(ndev))
		__netdev_notify_peers(ndev);
}

static int proxycard_set_mac_address(struct net_device *ndev, void *addr)
{
	int err = eth_mac_addr(ndev, addr);

	if (!err)
		proxycard_announce(ndev);
	return err;
}

static const struct net_device_ops proxycard_netdev_ops = {
	.ndo_open = proxycard_open,
	.ndo_stop = proxycard_close,
	.ndo_start_xmit = proxycard_start_xmit,
	.ndo_get_stats64 = proxycard_get_stats64,
	.ndo_tx_timeout = proxycard_tx_timeout,
	.ndo_set_mac_address = proxycard_set_mac_address,
	.ndo_validate_addr = eth_validate_addr,
};

static int proxycard_netdev_event(struct notifier_block *nb,
				  unsigned long event, void *ptr)
{
	struct net_device *ndev = netdev_notifier_info_to_dev(ptr);

	if (event == NETDEV_UP && ndev->netdev_ops == &proxycard_netdev_ops)
		proxycard_announce(ndev);
	return NOTIFY_DONE;
}

static int proxycard_inetaddr_event(struct notifier_block *nb,
				    unsigned long event, void *ptr)
{
	struct in_ifaddr *ifa = ptr;
	struct net_device *ndev = ifa->ifa_dev->dev;

	if (event == NETDEV_UP && ndev->netdev_ops == &proxycard_netdev_ops)
		proxycard_announce(ndev);
	return NOTIFY_DONE;
}

static struct notifier_block proxycard_netdev_nb = {
	.notifier_call = proxycard_netdev_event,
};

static struct notifier_block proxycard_inetaddr_nb = {
	.notifier_call = proxycard_inetaddr_event,
};

/* ---- PCI ---- */

static int proxycard_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct net_device *ndev;
	struct proxycard *pc;
	void __iomem *regs;
	u32 val, mtu;
	int err;

	err = pcim_enable_device(pdev);
	if (err)
		return dev_err_probe(&pdev->dev, err, "cannot enable device\n");
	/* Managed, as the device was enabled with pcim_enable_device(). */
	err = pci_request_regions(pdev, PROXYCARD_DRV_NAME);
	if (err)
		return dev_err_probe(&pdev->dev, err, "cannot request BARs\n");
	err = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (err)
		return dev_err_probe(&pdev->dev, err, "no 64-bit DMA\n");
	if (pci_resource_len(pdev, PROXYCARD_BAR_REGS) < PROXYCARD_BAR_REGS_SIZE)
		return dev_err_probe(&pdev->dev, -ENODEV, "BAR%d too small\n",
				     PROXYCARD_BAR_REGS);
	regs = pcim_iomap(pdev, PROXYCARD_BAR_REGS, PROXYCARD_BAR_REGS_SIZE);
	if (!regs)
		return dev_err_probe(&pdev->dev, -ENOMEM, "cannot map BAR%d\n",
				     PROXYCARD_BAR_REGS);

	val = readl(regs + PROXYCARD_REG_ID);
	if (val != PROXYCARD_ID_MAGIC)
		return dev_err_probe(&pdev->dev, -ENODEV,
				     "not a proxycard: ID %#010x\n", val);
	val = readl(regs + PROXYCARD_REG_VERSION);
	if (val >> 16 != PROXYCARD_VERSION_MAJOR)
		return dev_err_probe(&pdev->dev, -ENODEV,
				     "interface version %u.%u not supported (driver: %u.x)\n",
				     val >> 16, val & 0xffff,
				     PROXYCARD_VERSION_MAJOR);
	if (!PROXYCARD_RING_SIZE_OK(tx_ring_size) ||
	    !PROXYCARD_RING_SIZE_OK(rx_ring_size))
		return dev_err_probe(&pdev->dev, -EINVAL,
				     "ring sizes %u/%u: each must be a power of two from %u to %u\n",
				     tx_ring_size, rx_ring_size,
				     PROXYCARD_RING_MIN, PROXYCARD_RING_MAX);
	/*
	 * Stop whatever a previous driver (kexec, a crashed kernel) left
	 * running, and only then let the card master the bus.
	 */
	writel(PROXYCARD_CONTROL_RESET, regs + PROXYCARD_REG_CONTROL);
	pci_set_master(pdev);

	ndev = alloc_etherdev(sizeof(*pc));
	if (!ndev)
		return -ENOMEM;
	SET_NETDEV_DEV(ndev, &pdev->dev);
	pc = netdev_priv(ndev);
	pc->pdev = pdev;
	pc->ndev = ndev;
	pc->regs = regs;
	pc->fw_version = val;
	spin_lock_init(&pc->irq_lock);
	mutex_init(&pc->cmd_lock);
	init_completion(&pc->cmd_done);
	INIT_WORK(&pc->reset_work, proxycard_reset_task);
	pci_set_drvdata(pdev, pc);
	/* Before any IRQ: a ring interrupt schedules this NAPI context. */
	netif_napi_add(ndev, &pc->napi, proxycard_poll);

	err = proxycard_alloc_vectors(pc);
	if (err)
		goto err_napi_del;
	err = proxycard_ctl_init(pc);
	if (err)
		goto err_free_vectors;
	err = proxycard_alloc_rings(pc, tx_ring_size, rx_ring_size);
	if (err)
		goto err_ctl_fini;
	err = proxycard_request_irqs(pc);
	if (err)
		goto err_free_rings;

	ndev->netdev_ops = &proxycard_netdev_ops;
	ndev->ethtool_ops = &proxycard_ethtool_ops;
	ndev->watchdog_timeo = 5 * HZ;
	/* No offloads: the card's stack checksums and segments itself. */
	ndev->features |= NETIF_F_HIGHDMA | NETIF_F_VLAN_CHALLENGED;
	ndev->priv_flags |= IFF_LIVE_ADDR_CHANGE;
	strscpy(ndev->name, "pcard%d", sizeof(ndev->name));
	eth_hw_addr_random(ndev);
	mtu = readl(regs + PROXYCARD_REG_BUS_MTU);
	if (mtu < ETH_MIN_MTU) {
		dev_err(&pdev->dev, "bus MTU %u below %u\n", mtu, ETH_MIN_MTU);
		err = -ENODEV;
		goto err_free_irqs;
	}
	ndev->min_mtu = ETH_MIN_MTU;
	ndev->max_mtu = min_t(u32, mtu, PROXYCARD_BUS_MAX_FRAME - ETH_HLEN);
	netif_carrier_off(ndev);

	proxycard_intr_set(pc, PROXYCARD_INTR_MISC & ~PROXYCARD_INTR_TEST, 0);
	err = register_netdev(ndev);
	if (err) {
		dev_err(&pdev->dev, "cannot register the interface: %d\n", err);
		goto err_mask;
	}
	netdev_info(ndev, "proxycard %s: interface %u.%u, bus MTU %u, MAC %pM, %s\n",
		    pci_name(pdev), pc->fw_version >> 16,
		    pc->fw_version & 0xffff, mtu, ndev->dev_addr,
		    pc->nvecs == 1 ? "INTx" : "MSI-X");
	return 0;

err_mask:
	set_bit(PROXYCARD_F_REMOVING, &pc->flags);
	proxycard_intr_set(pc, 0, ~0u);
	cancel_delayed_work_sync(&pc->stats_work);
	proxycard_card_reset(pc);
err_free_irqs:
	set_bit(PROXYCARD_F_REMOVING, &pc->flags);	/* no more recovery */
	proxycard_free_irqs(pc);
	cancel_work_sync(&pc->reset_work);
err_free_rings:
	proxycard_free_rings(pc);
err_ctl_fini:
	proxycard_ctl_fini(pc);
err_free_vectors:
	pci_free_irq_vectors(pdev);
err_napi_del:
	netif_napi_del(&pc->napi);
	free_netdev(ndev);
	return err;
}

/* Probe in reverse, from unregister_netdev. */
static void proxycard_remove(struct pci_dev *pdev)
{
	struct proxycard *pc = pci_get_drvdata(pdev);
	struct net_device *ndev = pc->ndev;

	set_bit(PROXYCARD_F_REMOVING, &pc->flags);
	unregister_netdev(ndev);		/* closes it: no ring DMA */
	cancel_delayed_work_sync(&pc->stats_work);
	proxycard_intr_set(pc, 0, ~0u);
	proxycard_card_reset(pc);		/* no DMA, no interrupt */
	proxycard_free_irqs(pc);
	cancel_work_sync(&pc->reset_work);
	proxycard_free_rings(pc);
	proxycard_ctl_fini(pc);
	pci_free_irq_vectors(pdev);
	netif_napi_del(&pc->napi);
	free_netdev(ndev);
}

/*
 * Reboot, power-off or kexec: stop all DMA and interrupts, and take bus
 * mastering away, so that the next kernel finds a quiet card.
 */
static void proxycard_shutdown(struct pci_dev *pdev)
{
	struct proxycard *pc = pci_get_drvdata(pdev);

	set_bit(PROXYCARD_F_REMOVING, &pc->flags);
	rtnl_lock();
	netif_device_detach(pc->ndev);
	if (pc->up)
		proxycard_down(pc);
	rtnl_unlock();
	cancel_delayed_work_sync(&pc->stats_work);
	cancel_work_sync(&pc->reset_work);
	proxycard_intr_set(pc, 0, ~0u);
	proxycard_card_reset(pc);
	pci_clear_master(pdev);
}

static const struct pci_device_id proxycard_pci_ids[] = {
	{ PCI_DEVICE(PROXYCARD_PCI_VENDOR_ID, PROXYCARD_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, proxycard_pci_ids);

static struct pci_driver proxycard_driver = {
	.name = PROXYCARD_DRV_NAME,
	.id_table = proxycard_pci_ids,
	.probe = proxycard_probe,
	.remove = proxycard_remove,
	.shutdown = proxycard_shutdown,
	.dev_groups = proxycard_dev_groups,
};

static int __init proxycard_init(void)
{
	int err;

	err = register_netdevice_notifier(&proxycard_netdev_nb);
	if (err)
		return err;
	err = register_inetaddr_notifier(&proxycard_inetaddr_nb);
	if (err)
		goto err_netdev_nb;
	err = pci_register_driver(&proxycard_driver);
	if (err)
		goto err_inetaddr_nb;
	return 0;

err_inetaddr_nb:
	unregister_inetaddr_notifier(&proxycard_inetaddr_nb);
err_netdev_nb:
	unregister_netdevice_notifier(&proxycard_netdev_nb);
	return err;
}
module_init(proxycard_init);

static void __exit proxycard_exit(void)
{
	pci_unregister_driver(&proxycard_driver);
	unregister_inetaddr_notifier(&proxycard_inetaddr_nb);
	unregister_netdevice_notifier(&proxycard_netdev_nb);
}
module_exit(proxycard_exit);

MODULE_AUTHOR("The proxycard authors");
MODULE_DESCRIPTION("proxycard connection-offload adapter: bus link and control plane");
MODULE_LICENSE("GPL");
MODULE_VERSION(PROXYCARD_DRV_VERSION);
