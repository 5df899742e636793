// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * proxycard: the control plane (docs/datasheet.md section 8) and its sysfs
 * interface on the PCI device (README.md, "Control interface"):
 *
 *   proxycard_config         write: the configuration text, up to 64 KiB
 *                            (a binary attribute, written in pieces)
 *   proxycard_config_load    write: "1" loads that text (LOAD_CONFIG)
 *   proxycard_config_status  read:  outcome of the last load (the card's
 *                            reason when it refused)
 *   proxycard_stats          read:  READ_STATS as "name value" lines, cached
 *   proxycard_log            read:  READ_LOG, the firmware's recent log
 *   proxycard_state          read:  firmware state, error, links, resets
 *
 * Copyright (c) 2026 The proxycard authors
 */

#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/netdevice.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "proxycard.h"

/* In the list's order, which is also the enum's. */
const char * const proxycard_card_stat_names[PROXYCARD_STAT_COUNT] = {
#define PROXYCARD_STAT_NAME(id, name) name,
	PROXYCARD_STATS_LIST(PROXYCARD_STAT_NAME)
#undef PROXYCARD_STAT_NAME
};

static void proxycard_stats_work(struct work_struct *work);

int proxycard_ctl_init(struct proxycard *pc)
{
	mutex_init(&pc->config_lock);
	spin_lock_init(&pc->stats_lock);
	INIT_DELAYED_WORK(&pc->stats_work, proxycard_stats_work);
	pc->cmd_buf = dma_alloc_coherent(&pc->pdev->dev,
					 PROXYCARD_CMD_MAX_CONFIG,
					 &pc->cmd_dma, GFP_KERNEL);
	if (!pc->cmd_buf)
		return -ENOMEM;
	pc->log_snap = kvmalloc(PROXYCARD_LOG_SIZE, GFP_KERNEL);
	pc->config_text = kvmalloc(PROXYCARD_CMD_MAX_CONFIG, GFP_KERNEL);
	if (!pc->log_snap || !pc->config_text) {
		proxycard_ctl_fini(pc);
		return -ENOMEM;
	}
	pc->log_len = 0;
	pc->config_len = 0;
	strscpy(pc->config_status, "none", sizeof(pc->config_status));
	return 0;
}

/*
 * The card is reset: it does no DMA into the command buffer any more; the
 * statistics work is cancelled.
 */
void proxycard_ctl_fini(struct proxycard *pc)
{
	kvfree(pc->config_text);
	pc->config_text = NULL;
	kvfree(pc->log_snap);
	pc->log_snap = NULL;
	if (pc->cmd_buf)
		dma_free_coherent(&pc->pdev->dev, PROXYCARD_CMD_MAX_CONFIG,
				  pc->cmd_buf, pc->cmd_dma);
	pc->cmd_buf = NULL;
}

/* INTR_CAUSE.CMD, from the misc vector. */
void proxycard_ctl_cmd_done(struct proxycard *pc)
{
	complete(&pc->cmd_done);
}

/*
 * Run @cmd on the first @len bytes of the command buffer and wait for it.
 * The CMD interrupt wakes us; CMD_STATUS is polled as well, so that a lost
 * or masked interrupt costs at most one poll interval.  0: OK; -EREMOTEIO:
 * the card answered FAILED; -ETIMEDOUT: no answer (the card is reset by the
 * recovery work, as it ignores commands while one is BUSY).
 */
static int proxycard_cmd(struct proxycard *pc, u32 cmd, u32 len, u32 *result)
{
	unsigned long deadline;
	u32 st;

	lockdep_assert_held(&pc->cmd_lock);
	if (proxycard_rd(pc, PROXYCARD_REG_CMD_STATUS) == PROXYCARD_CMD_BUSY)
		return -EBUSY;

	reinit_completion(&pc->cmd_done);
	proxycard_wr(pc, PROXYCARD_REG_CMD_ADDR_LO, lower_32_bits(pc->cmd_dma));
	proxycard_wr(pc, PROXYCARD_REG_CMD_ADDR_HI, upper_32_bits(pc->cmd_dma));
	proxycard_wr(pc, PROXYCARD_REG_CMD_LEN, len);
	/* writel(): the buffer's contents reach memory before the command. */
	proxycard_wr(pc, PROXYCARD_REG_CMD, cmd);

	deadline = jiffies + msecs_to_jiffies(PROXYCARD_CMD_TIMEOUT_MS);
	for (;;) {
		st = proxycard_rd(pc, PROXYCARD_REG_CMD_STATUS);
		if (st == PROXYCARD_CMD_OK || st == PROXYCARD_CMD_FAILED)
			break;
		if (st != PROXYCARD_CMD_BUSY) {
			dev_err(&pc->pdev->dev,
				"command %u lost: the card was reset\n", cmd);
			return -EIO;
		}
		if (time_after(jiffies, deadline)) {
			atomic64_inc(&pc->cmd_timeouts);
			dev_err(&pc->pdev->dev,
				"command %u: no answer in %u ms; resetting the card\n",
				cmd, PROXYCARD_CMD_TIMEOUT_MS);
			proxycard_schedule_reset(pc);
			return -ETIMEDOUT;
		}
		wait_for_completion_timeout(&pc->cmd_done,
					    msecs_to_jiffies(100));
	}
	/* The final status before what the card wrote into the buffer. */
	dma_rmb();
	*result = proxycard_rd(pc, PROXYCARD_REG_CMD_RESULT);
	return st == PROXYCARD_CMD_OK ? 0 : -EREMOTEIO;
}

static int proxycard_read_card_stats(struct proxycard *pc,
				     u64 vals[PROXYCARD_STAT_COUNT])
{
	const __le64 *v = pc->cmd_buf;
	u32 result, n, i;
	int err;

	mutex_lock(&pc->cmd_lock);
	err = proxycard_cmd(pc, PROXYCARD_CMD_READ_STATS,
			    PROXYCARD_STAT_COUNT * sizeof(u64), &result);
	if (!err) {
		/* An older card may know fewer counters: those read 0. */
		n = min_t(u32, result / sizeof(u64), PROXYCARD_STAT_COUNT);
		for (i = 0; i < PROXYCARD_STAT_COUNT; i++)
			vals[i] = i < n ? le64_to_cpu(v[i]) : 0;
	}
	mutex_unlock(&pc->cmd_lock);
	return err;
}

/*
 * The statistics cache.  The work runs READ_STATS (which may wait for the
 * card up to PROXYCARD_CMD_TIMEOUT_MS, under cmd_lock but never under rtnl)
 * and rearms itself while the interface is up.  Readers copy the cache.
 */
static void proxycard_stats_work(struct work_struct *work)
{
	struct proxycard *pc = container_of(to_delayed_work(work),
					    struct proxycard, stats_work);
	u64 v[PROXYCARD_STAT_COUNT];
	int err;

	/* At the start: readers do not ask again while this one runs. */
	WRITE_ONCE(pc->stats_jiffies, jiffies);
	err = proxycard_read_card_stats(pc, v);
	spin_lock(&pc->stats_lock);
	if (!err) {
		memcpy(pc->card_stats, v, sizeof(v));
		pc->stats_valid = true;
	}
	pc->stats_err = err;
	spin_unlock(&pc->stats_lock);
	if (READ_ONCE(pc->up) && !test_bit(PROXYCARD_F_REMOVING, &pc->flags))
		schedule_delayed_work(&pc->stats_work,
				      PROXYCARD_STATS_INTERVAL);
}

/* The interface came up: refresh now, then every interval while it is up. */
void proxycard_stats_start(struct proxycard *pc)
{
	mod_delayed_work(system_wq, &pc->stats_work, 0);
}

/*
 * The cached card statistics in @vals.  If they are older than
 * PROXYCARD_STATS_MAX_AGE (the interface is down, or the card is slow to
 * answer), ask for a refresh, and with @wait wait for it: never with rtnl
 * held.  Returns the error of the last refresh when there is no value yet.
 */
int proxycard_card_stats(struct proxycard *pc, u64 vals[PROXYCARD_STAT_COUNT],
			 bool wait)
{
	int err;

	if ((!READ_ONCE(pc->stats_valid) ||
	     time_after(jiffies, READ_ONCE(pc->stats_jiffies) +
			PROXYCARD_STATS_MAX_AGE)) &&
	    !test_bit(PROXYCARD_F_REMOVING, &pc->flags)) {
		mod_delayed_work(system_wq, &pc->stats_work, 0);
		if (wait)
			flush_delayed_work(&pc->stats_work);
	}
	spin_lock(&pc->stats_lock);
	memcpy(vals, pc->card_stats, sizeof(pc->card_stats));
	err = pc->stats_valid ? 0 : pc->stats_err ? : -EAGAIN;
	spin_unlock(&pc->stats_lock);
	return err;
}

/* ---- sysfs ---- */

/*
 * proxycard_config: the text, written from offset 0 in as many pieces as
 * the writer likes (sysfs hands a binary attribute one page at a time).  A
 * write at offset 0 starts a new text.  Nothing reaches the card until
 * proxycard_config_load.
 */
static ssize_t proxycard_config_write(struct file *file, struct kobject *kobj,
				      struct bin_attribute *attr, char *buf,
				      loff_t off, size_t count)
{
	struct proxycard *pc = dev_get_drvdata(kobj_to_dev(kobj));
	ssize_t ret = count;

	/* sysfs clamps to the attribute's size: PROXYCARD_CMD_MAX_CONFIG - 1 */
	if (memchr(buf, '\0', count))
		return -EINVAL;
	mutex_lock(&pc->config_lock);
	if (off == 0)
		pc->config_len = 0;
	if (off != pc->config_len ||
	    off + count > PROXYCARD_CMD_MAX_CONFIG - 1) {
		ret = off > pc->config_len ? -EINVAL : -E2BIG;
		goto out;
	}
	memcpy(pc->config_text + off, buf, count);
	pc->config_len = off + count;
out:
	mutex_unlock(&pc->config_lock);
	return ret;
}
static BIN_ATTR_WO(proxycard_config, PROXYCARD_CMD_MAX_CONFIG - 1);

static ssize_t proxycard_config_load_store(struct device *dev,
					   struct device_attribute *attr,
					   const char *buf, size_t count)
{
	struct proxycard *pc = dev_get_drvdata(dev);
	char *text = pc->cmd_buf;
	size_t len;
	u32 result;
	bool load;
	int err;

	err = kstrtobool(buf, &load);
	if (err)
		return err;
	if (!load)
		return count;

	mutex_lock(&pc->config_lock);
	len = pc->config_len;
	if (!len) {
		mutex_unlock(&pc->config_lock);
		return -ENODATA;
	}
	mutex_lock(&pc->cmd_lock);
	/*
	 * A command that timed out may still be running on the card, reading
	 * or writing the buffer: check before touching it.
	 */
	if (proxycard_rd(pc, PROXYCARD_REG_CMD_STATUS) == PROXYCARD_CMD_BUSY) {
		err = -EBUSY;
	} else {
		memcpy(text, pc->config_text, len);
		text[len] = '\0';
		err = proxycard_cmd(pc, PROXYCARD_CMD_LOAD_CONFIG,
				    PROXYCARD_CMD_MAX_CONFIG, &result);
	}
	switch (err) {
	case 0:
		strscpy(pc->config_status, "ok", sizeof(pc->config_status));
		dev_info(dev, "configuration loaded (%zu bytes)\n", len);
		break;
	case -EREMOTEIO:
		/* The reason, NUL-terminated, is in the buffer. */
		text[min_t(u32, result, PROXYCARD_CMD_MAX_CONFIG - 1)] = '\0';
		strreplace(text, '\n', ' ');
		snprintf(pc->config_status, sizeof(pc->config_status),
			 "refused: %s", text);
		dev_info(dev, "configuration refused: %s\n", text);
		err = -EINVAL;
		break;
	case -ETIMEDOUT:
		strscpy(pc->config_status, "failed: the card did not answer",
			sizeof(pc->config_status));
		break;
	case -EBUSY:
		strscpy(pc->config_status,
			"failed: a previous command is still running",
			sizeof(pc->config_status));
		break;
	default:
		snprintf(pc->config_status, sizeof(pc->config_status),
			 "failed: error %d", err);
		break;
	}
	mutex_unlock(&pc->cmd_lock);
	mutex_unlock(&pc->config_lock);
	return err ? err : count;
}
static DEVICE_ATTR_WO(proxycard_config_load);

static ssize_t proxycard_config_status_show(struct device *dev,
					    struct device_attribute *attr,
					    char *buf)
{
	struct proxycard *pc = dev_get_drvdata(dev);
	ssize_t n;

	mutex_lock(&pc->cmd_lock);
	n = sysfs_emit(buf, "%s\n", pc->config_status);
	mutex_unlock(&pc->cmd_lock);
	return n;
}
static DEVICE_ATTR_RO(proxycard_config_status);

static ssize_t proxycard_stats_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	struct proxycard *pc = dev_get_drvdata(dev);
	u64 v[PROXYCARD_STAT_COUNT];
	int i, err, n = 0;

	/* Any user may read this: the cache, refreshed at most once a second. */
	err = proxycard_card_stats(pc, v, true);
	if (err)
		return err;
	for (i = 0; i < PROXYCARD_STAT_COUNT; i++)
		n += sysfs_emit_at(buf, n, "%s %llu\n",
				   proxycard_card_stat_names[i], v[i]);
	return n;
}
static DEVICE_ATTR_RO(proxycard_stats);

static ssize_t proxycard_state_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	static const char * const fw_states[] = {
		[PROXYCARD_FW_OFF] = "off",
		[PROXYCARD_FW_BOOTING] = "booting",
		[PROXYCARD_FW_RUNNING] = "running",
		[PROXYCARD_FW_RESETTING] = "resetting",
		[PROXYCARD_FW_FAILED] = "failed",
	};
	struct proxycard *pc = dev_get_drvdata(dev);
	u32 fw = proxycard_rd(pc, PROXYCARD_REG_FW_STATE);
	u32 err = proxycard_rd(pc, PROXYCARD_REG_ERROR);
	u32 status = proxycard_rd(pc, PROXYCARD_REG_STATUS);
	u32 bus = proxycard_rd(pc, PROXYCARD_REG_BUS_STATUS);
	int n = 0;

	n += sysfs_emit_at(buf, n, "firmware %s\n",
			   fw < ARRAY_SIZE(fw_states) ? fw_states[fw] : "?");
	n += sysfs_emit_at(buf, n, "error %u %s\n", err,
			   proxycard_error_name(err));
	n += sysfs_emit_at(buf, n, "bus-link %s\n",
			   bus & PROXYCARD_BUS_RUNNING ? "running" : "stopped");
	n += sysfs_emit_at(buf, n, "network-link %s\n",
			   status & PROXYCARD_STATUS_LINK_UP ? "up" : "down");
	n += sysfs_emit_at(buf, n, "interface %s\n", netdev_name(pc->ndev));
	n += sysfs_emit_at(buf, n, "card-resets %u\n",
			   proxycard_rd(pc, PROXYCARD_REG_RESET_COUNT));
	n += sysfs_emit_at(buf, n, "card-errors %lld\n",
			   (long long)atomic64_read(&pc->card_errors));
	n += sysfs_emit_at(buf, n, "recoveries %lld\n",
			   (long long)atomic64_read(&pc->recoveries));
	return n;
}
static DEVICE_ATTR_RO(proxycard_state);

/*
 * The log is up to PROXYCARD_LOG_SIZE bytes, more than a sysfs page: a
 * binary attribute.  A read at offset 0 takes a new snapshot with READ_LOG;
 * reads further on continue in that snapshot.
 */
static ssize_t proxycard_log_read(struct file *file, struct kobject *kobj,
				  struct bin_attribute *attr, char *buf,
				  loff_t off, size_t count)
{
	struct proxycard *pc = dev_get_drvdata(kobj_to_dev(kobj));
	u32 result;
	ssize_t n;
	int err;

	mutex_lock(&pc->cmd_lock);
	if (off == 0) {
		err = proxycard_cmd(pc, PROXYCARD_CMD_READ_LOG,
				    PROXYCARD_LOG_SIZE, &result);
		if (err) {
			mutex_unlock(&pc->cmd_lock);
			return err == -EREMOTEIO ? -EIO : err;
		}
		pc->log_len = min_t(u32, result, PROXYCARD_LOG_SIZE);
		memcpy(pc->log_snap, pc->cmd_buf, pc->log_len);
	}
	if (off >= pc->log_len) {
		n = 0;
	} else {
		n = min_t(size_t, count, pc->log_len - off);
		memcpy(buf, pc->log_snap + off, n);
	}
	mutex_unlock(&pc->cmd_lock);
	return n;
}
static BIN_ATTR_ADMIN_RO(proxycard_log, PROXYCARD_LOG_SIZE);

static struct attribute *proxycard_attrs[] = {
	&dev_attr_proxycard_config_load.attr,
	&dev_attr_proxycard_config_status.attr,
	&dev_attr_proxycard_stats.attr,
	&dev_attr_proxycard_state.attr,
	NULL
};

static struct bin_attribute *proxycard_bin_attrs[] = {
	&bin_attr_proxycard_config,
	&bin_attr_proxycard_log,
	NULL
};

static const struct attribute_group proxycard_group = {
	.attrs = proxycard_attrs,
	.bin_attrs = proxycard_bin_attrs,
};

/* Created by the driver core after probe, removed before remove. */
const struct attribute_group *proxycard_dev_groups[] = {
	&proxycard_group,
	NULL
};
