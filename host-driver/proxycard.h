/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * proxycard: Linux driver for the proxycard connection-offload adapter.
 *
 * The card's bus link (docs/datasheet.md section 5: two descriptor rings in
 * host memory plus MSI-X) is presented as the network interface pcard%d; the
 * control plane (section 8) as sysfs attributes of the PCI device.
 *
 * Copyright (c) 2026 The proxycard authors
 */

#ifndef _PROXYCARD_H_
#define _PROXYCARD_H_

#include <linux/build_bug.h>
#include <linux/completion.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/spinlock.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <linux/u64_stats_sync.h>
#include <linux/workqueue.h>

/* The one register map and statistics list, shared with the device model. */
#include "proxycard_regs.h"
#include "proxycard_stats.h"

struct page_pool;

#define PROXYCARD_DRV_NAME		"proxycard"
#define PROXYCARD_DRV_VERSION		"1.0"

/*
 * Default ring sizes (module parameters tx_ring_size, rx_ring_size; ethtool
 * -G changes them per interface): powers of two within
 * [PROXYCARD_RING_MIN, PROXYCARD_RING_MAX].
 */
#define PROXYCARD_TX_RING_SIZE		256
#define PROXYCARD_RX_RING_SIZE		256
/* Interrupt moderation written to BUS_ITR, microseconds. */
#define PROXYCARD_BUS_ITR_US		20
/*
 * RX frames up to this length are copied into an skb of their own size and
 * the buffer stays posted, so that no skb charges a 16 KiB buffer to its
 * socket for less than a quarter of it.
 */
#define PROXYCARD_RX_COPYBREAK		4096
/* A control-plane command that takes longer than this has failed. */
#define PROXYCARD_CMD_TIMEOUT_MS	10000
/*
 * The card's statistics are cached: refreshed every PROXYCARD_STATS_INTERVAL
 * while the interface is up; a reader finding them older than
 * PROXYCARD_STATS_MAX_AGE asks for a refresh (so at most one READ_STATS per
 * interval, whoever reads).
 */
#define PROXYCARD_STATS_INTERVAL	HZ
#define PROXYCARD_STATS_MAX_AGE		(2 * HZ)

#define PROXYCARD_RING_SIZE_OK(n) \
	((n) >= PROXYCARD_RING_MIN && (n) <= PROXYCARD_RING_MAX && \
	 !((n) & ((n) - 1)))
static_assert(PROXYCARD_RING_SIZE_OK(PROXYCARD_TX_RING_SIZE));
static_assert(PROXYCARD_RING_SIZE_OK(PROXYCARD_RX_RING_SIZE));

/* INTR_CAUSE bits served by the misc vector, and by the two ring vectors. */
#define PROXYCARD_INTR_MISC		(PROXYCARD_INTR_TEST | \
					 PROXYCARD_INTR_FW_STATE | \
					 PROXYCARD_INTR_ERROR | \
					 PROXYCARD_INTR_CMD)
#define PROXYCARD_INTR_RINGS		(PROXYCARD_INTR_BUS_RX | \
					 PROXYCARD_INTR_BUS_TX)

/* A bus link descriptor (datasheet section 5), little-endian. */
struct proxycard_desc {
	__le64 addr;
	__le32 len;
	__le16 flags;
	__le16 status;
};

static_assert(sizeof(struct proxycard_desc) == PROXYCARD_DESC_SIZE);
static_assert(offsetof(struct proxycard_desc, addr) == PROXYCARD_DESC_ADDR);
static_assert(offsetof(struct proxycard_desc, len) == PROXYCARD_DESC_LEN);
static_assert(offsetof(struct proxycard_desc, flags) == PROXYCARD_DESC_FLAGS);
static_assert(offsetof(struct proxycard_desc, status) ==
	      PROXYCARD_DESC_STATUS);

struct proxycard_tx_buf {
	struct sk_buff *skb;
	dma_addr_t dma;
	unsigned int len;
};

/* A page of rx.pool, mapped DMA_FROM_DEVICE by the pool. */
struct proxycard_rx_buf {
	struct page *page;
};

/*
 * TX ring: ndo_start_xmit produces at @tail, NAPI consumes at @clean.  The
 * two run concurrently: @tail is published with smp_store_release() after
 * the descriptor is written, and read with smp_load_acquire().
 */
struct proxycard_tx_ring {
	struct proxycard_desc *desc;
	dma_addr_t desc_dma;
	struct proxycard_tx_buf *buf;
	u32 size;
	u32 wake_thresh;		/* wake a stopped queue at this many free */
	u32 tail;			/* next descriptor to fill (xmit) */
	u32 db_tail;			/* last value written to TX_TAIL */
	u32 clean;			/* next descriptor to complete (NAPI) */

	/* written by NAPI */
	struct u64_stats_sync syncp;
	u64_stats_t packets;
	u64_stats_t bytes;
	u64_stats_t wakes;
	/* written by ndo_start_xmit (under the TX queue lock) */
	struct u64_stats_sync xmit_syncp;
	u64_stats_t dropped;
	u64_stats_t stops;
};

/*
 * RX ring: every descriptor always holds a buffer.  @next is the next
 * descriptor the card fills; RX_TAIL is the last descriptor the driver
 * consumed and reposted, so the card owns [next, tail) and the one at tail
 * is posted at the next doorbell.
 */
struct proxycard_rx_ring {
	struct proxycard_desc *desc;
	dma_addr_t desc_dma;
	struct proxycard_rx_buf *buf;
	struct page_pool *pool;		/* the buffers, while the link is up */
	u32 size;
	u32 next;
	unsigned int order;		/* page order of a buffer */
	unsigned int truesize;		/* PAGE_SIZE << order */
	unsigned int buf_len;		/* bytes the card may write */

	/* written by NAPI */
	struct u64_stats_sync syncp;
	u64_stats_t packets;
	u64_stats_t bytes;
	u64_stats_t dropped;
	u64_stats_t errors;
	u64_stats_t copied;
	u64_stats_t alloc_failures;
};

/* proxycard.flags */
enum {
	PROXYCARD_F_REMOVING,		/* remove() runs: no more recovery */
	PROXYCARD_F_RESET_PENDING,	/* error recovery scheduled */
};

struct proxycard {
	struct pci_dev *pdev;
	struct net_device *ndev;
	void __iomem *regs;
	unsigned long flags;
	u32 fw_version;			/* REG_VERSION */

	struct napi_struct napi;
	struct proxycard_tx_ring tx;
	struct proxycard_rx_ring rx;
	bool up;			/* rings live (rtnl) */

	/*
	 * INTR_MASK is shared by the three vectors: a shadow under a lock.
	 * Without MSI-X, one INTx line serves all causes (nvecs = 1).
	 */
	spinlock_t irq_lock;
	u32 intr_mask;
	bool rings_unmaskable;		/* NAPI may unmask the ring causes */
	int nvecs;
	char irq_name[PROXYCARD_MSIX_VECTORS][32];
	int irqs_requested;

	struct work_struct reset_work;	/* error recovery */
	atomic64_t card_errors;		/* ERROR interrupts seen */
	atomic64_t recoveries;		/* resets by reset_work */
	atomic64_t cmd_timeouts;
	unsigned long recovery_window;	/* jiffies: start of a burst */
	unsigned int recovery_burst;	/* recoveries in that burst */

	/*
	 * Control plane: one command at a time, under cmd_lock.  Lock order:
	 * rtnl_lock, then cmd_lock.  The command buffer is allocated for the
	 * device's lifetime, so a command that timed out can never DMA into
	 * freed memory.
	 */
	struct mutex cmd_lock;
	struct completion cmd_done;
	void *cmd_buf;			/* PROXYCARD_CMD_MAX_CONFIG bytes */
	dma_addr_t cmd_dma;
	char config_status[320];	/* last LOAD_CONFIG outcome */
	char *log_snap;			/* READ_LOG snapshot for sysfs reads */
	size_t log_len;

	/*
	 * The configuration text written to proxycard_config, until
	 * proxycard_config_load loads it.  Lock order: config_lock, then
	 * cmd_lock.
	 */
	struct mutex config_lock;
	char *config_text;		/* PROXYCARD_CMD_MAX_CONFIG bytes */
	size_t config_len;

	/* READ_STATS, cached (PROXYCARD_STATS_INTERVAL) */
	struct delayed_work stats_work;
	spinlock_t stats_lock;		/* card_stats, stats_err, stats_valid */
	u64 card_stats[PROXYCARD_STAT_COUNT];
	int stats_err;			/* of the last refresh */
	bool stats_valid;		/* card_stats holds an answer */
	unsigned long stats_jiffies;	/* when the last refresh started */
};

static inline u32 proxycard_rd(struct proxycard *pc, u32 reg)
{
	return readl(pc->regs + reg);
}

static inline void proxycard_wr(struct proxycard *pc, u32 reg, u32 val)
{
	writel(val, pc->regs + reg);
}

/* proxycard_main.c */
void proxycard_card_reset_locked(struct proxycard *pc);
void proxycard_schedule_reset(struct proxycard *pc);
int proxycard_resize_rings(struct proxycard *pc, u32 tx_size, u32 rx_size);
const char *proxycard_error_name(u32 err);
void proxycard_get_ring_stats(struct proxycard *pc, u64 *tx, u64 *rx);

/* proxycard_ethtool.c */
extern const struct ethtool_ops proxycard_ethtool_ops;

/* proxycard_ctl.c */
extern const char * const proxycard_card_stat_names[PROXYCARD_STAT_COUNT];
extern const struct attribute_group *proxycard_dev_groups[];
int proxycard_ctl_init(struct proxycard *pc);
void proxycard_ctl_fini(struct proxycard *pc);
void proxycard_ctl_cmd_done(struct proxycard *pc);
void proxycard_stats_start(struct proxycard *pc);
int proxycard_card_stats(struct proxycard *pc, u64 vals[PROXYCARD_STAT_COUNT],
			 bool wait);

/* Driver ring counters, in the order proxycard_get_ring_stats() fills. */
enum {
	PROXYCARD_TXS_PACKETS,
	PROXYCARD_TXS_BYTES,
	PROXYCARD_TXS_DROPPED,
	PROXYCARD_TXS_STOPS,
	PROXYCARD_TXS_WAKES,
	PROXYCARD_TXS_COUNT
};

enum {
	PROXYCARD_RXS_PACKETS,
	PROXYCARD_RXS_BYTES,
	PROXYCARD_RXS_DROPPED,
	PROXYCARD_RXS_ERRORS,
	PROXYCARD_RXS_COPIED,
	PROXYCARD_RXS_ALLOC_FAILURES,
	PROXYCARD_RXS_COUNT
};

#endif /* _PROXYCARD_H_ */
