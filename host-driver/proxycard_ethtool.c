// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * proxycard: ethtool operations.  The statistics are the card's counters
 * (hw/proxycard/proxycard_stats.h, fetched with READ_STATS by a work item
 * and cached) followed by the driver's ring counters.
 *
 * Copyright (c) 2026 The proxycard authors
 */

#include <linux/ethtool.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/string.h>

#include "proxycard.h"

static const char proxycard_tx_stat_names[PROXYCARD_TXS_COUNT][ETH_GSTRING_LEN] = {
	[PROXYCARD_TXS_PACKETS] = "tx-ring-packets",
	[PROXYCARD_TXS_BYTES] = "tx-ring-bytes",
	[PROXYCARD_TXS_DROPPED] = "tx-ring-dropped",
	[PROXYCARD_TXS_STOPS] = "tx-ring-queue-stops",
	[PROXYCARD_TXS_WAKES] = "tx-ring-queue-wakes",
};

static const char proxycard_rx_stat_names[PROXYCARD_RXS_COUNT][ETH_GSTRING_LEN] = {
	[PROXYCARD_RXS_PACKETS] = "rx-ring-packets",
	[PROXYCARD_RXS_BYTES] = "rx-ring-bytes",
	[PROXYCARD_RXS_DROPPED] = "rx-ring-dropped",
	[PROXYCARD_RXS_ERRORS] = "rx-ring-length-errors",
	[PROXYCARD_RXS_COPIED] = "rx-ring-copied",
	[PROXYCARD_RXS_ALLOC_FAILURES] = "rx-ring-alloc-failures",
};

static const char proxycard_dev_stat_names[][ETH_GSTRING_LEN] = {
	"card-errors",
	"card-recoveries",
	"cmd-timeouts",
};

#define PROXYCARD_DEV_STATS	ARRAY_SIZE(proxycard_dev_stat_names)
#define PROXYCARD_ALL_STATS	(PROXYCARD_STAT_COUNT + PROXYCARD_TXS_COUNT + \
				 PROXYCARD_RXS_COUNT + PROXYCARD_DEV_STATS)

static void proxycard_get_drvinfo(struct net_device *ndev,
				  struct ethtool_drvinfo *info)
{
	struct proxycard *pc = netdev_priv(ndev);

	strscpy(info->driver, PROXYCARD_DRV_NAME, sizeof(info->driver));
	strscpy(info->version, PROXYCARD_DRV_VERSION, sizeof(info->version));
	strscpy(info->bus_info, pci_name(pc->pdev), sizeof(info->bus_info));
	snprintf(info->fw_version, sizeof(info->fw_version), "%u.%u",
		 pc->fw_version >> 16, pc->fw_version & 0xffff);
}

static void proxycard_get_ringparam(struct net_device *ndev,
				    struct ethtool_ringparam *ring,
				    struct kernel_ethtool_ringparam *kring,
				    struct netlink_ext_ack *extack)
{
	struct proxycard *pc = netdev_priv(ndev);

	ring->rx_max_pending = PROXYCARD_RING_MAX;
	ring->tx_max_pending = PROXYCARD_RING_MAX;
	ring->rx_pending = pc->rx.size;
	ring->tx_pending = pc->tx.size;
	kring->rx_buf_len = pc->rx.buf_len;
}

static int proxycard_set_ringparam(struct net_device *ndev,
				   struct ethtool_ringparam *ring,
				   struct kernel_ethtool_ringparam *kring,
				   struct netlink_ext_ack *extack)
{
	struct proxycard *pc = netdev_priv(ndev);

	/* The core checked the maxima; the card wants powers of two. */
	if (!PROXYCARD_RING_SIZE_OK(ring->tx_pending) ||
	    !PROXYCARD_RING_SIZE_OK(ring->rx_pending)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "ring sizes must be powers of two from 8 to 4096");
		return -EINVAL;
	}
	return proxycard_resize_rings(pc, ring->tx_pending, ring->rx_pending);
}

static int proxycard_get_sset_count(struct net_device *ndev, int sset)
{
	switch (sset) {
	case ETH_SS_STATS:
		return PROXYCARD_ALL_STATS;
	default:
		return -EOPNOTSUPP;
	}
}

static void proxycard_get_strings(struct net_device *ndev, u32 sset, u8 *data)
{
	int i;

	if (sset != ETH_SS_STATS)
		return;
	for (i = 0; i < PROXYCARD_STAT_COUNT; i++)
		ethtool_sprintf(&data, "%s", proxycard_card_stat_names[i]);
	for (i = 0; i < PROXYCARD_TXS_COUNT; i++)
		ethtool_sprintf(&data, "%s", proxycard_tx_stat_names[i]);
	for (i = 0; i < PROXYCARD_RXS_COUNT; i++)
		ethtool_sprintf(&data, "%s", proxycard_rx_stat_names[i]);
	for (i = 0; i < PROXYCARD_DEV_STATS; i++)
		ethtool_sprintf(&data, "%s", proxycard_dev_stat_names[i]);
}

static void proxycard_get_ethtool_stats(struct net_device *ndev,
					struct ethtool_stats *stats, u64 *data)
{
	struct proxycard *pc = netdev_priv(ndev);

	/*
	 * rtnl is held and any user may ask: never wait for the card here.
	 * The cache is at most a second old while the interface is up; 0s
	 * until the card first answered.
	 */
	proxycard_card_stats(pc, data, false);
	data += PROXYCARD_STAT_COUNT;
	proxycard_get_ring_stats(pc, data, data + PROXYCARD_TXS_COUNT);
	data += PROXYCARD_TXS_COUNT + PROXYCARD_RXS_COUNT;
	*data++ = atomic64_read(&pc->card_errors);
	*data++ = atomic64_read(&pc->recoveries);
	*data++ = atomic64_read(&pc->cmd_timeouts);
}

const struct ethtool_ops proxycard_ethtool_ops = {
	.get_drvinfo = proxycard_get_drvinfo,
	.get_link = ethtool_op_get_link,
	.get_ringparam = proxycard_get_ringparam,
	.set_ringparam = proxycard_set_ringparam,
	.get_sset_count = proxycard_get_sset_count,
	.get_strings = proxycard_get_strings,
	.get_ethtool_stats = proxycard_get_ethtool_stats,
};
