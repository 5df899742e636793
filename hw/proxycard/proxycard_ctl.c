/*
 * proxycard: the control plane — commands the host gives the firmware over
 * the bus (docs/datasheet.md section 8): load a configuration, read the
 * statistics, read the firmware's log.
 *
 * The host puts a buffer's address and length in CMD_ADDR/CMD_LEN and
 * writes a command to CMD (vCPU, BQL): the command is recorded, CMD_STATUS
 * becomes BUSY and the firmware thread is woken.  The firmware thread runs
 * it, moving the buffer by DMA (as RAM only), stores CMD_RESULT, then
 * CMD_STATUS OK or FAILED, and raises INTR_CAUSE.CMD.  One command at a
 * time: a command written while one is BUSY is a logged guest error and
 * ignored.
 *
 * The firmware log is kept here, in a ring of PROXYCARD_LOG_SIZE bytes that
 * only the firmware thread touches.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/log.h"
#include "hw/pci/pci.h"
#include "pcfw.h"
#include "proxycard.h"
#include "proxycard_regs.h"
#include "trace.h"

/* ---- MMIO (vCPU thread, BQL held) ---- */

bool proxycard_ctl_mmio_read(ProxyCardState *s, hwaddr addr, uint32_t *val)
{
    switch (addr) {
    case PROXYCARD_REG_CMD_STATUS:
        *val = qatomic_load_acquire(&s->cmd_status);
        break;
    case PROXYCARD_REG_CMD_RESULT:
        *val = qatomic_read(&s->cmd_result);
        break;
    case PROXYCARD_REG_CMD_ADDR_LO:
        *val = (uint32_t)s->cmd_addr;
        break;
    case PROXYCARD_REG_CMD_ADDR_HI:
        *val = s->cmd_addr >> 32;
        break;
    case PROXYCARD_REG_CMD_LEN:
        *val = s->cmd_len;
        break;
    case PROXYCARD_REG_CMD:
        *val = 0;
        break;
    default:
        return false;
    }
    return true;
}

bool proxycard_ctl_mmio_write(ProxyCardState *s, hwaddr addr, uint32_t val)
{
    switch (addr) {
    case PROXYCARD_REG_CMD:
        if (qatomic_read(&s->cmd_status) == PROXYCARD_CMD_BUSY) {
            qemu_log_mask(LOG_GUEST_ERROR, "proxycard: command %u while "
                          "command %u is busy, ignored\n", val, s->cmd.code);
            return true;
        }
        s->cmd.code = val;
        s->cmd.addr = s->cmd_addr;
        s->cmd.len = s->cmd_len;
        qatomic_set(&s->cmd_result, 0);
        qatomic_store_release(&s->cmd_status, PROXYCARD_CMD_BUSY);
        trace_proxycard_cmd(val, s->cmd.addr, s->cmd.len);
        qatomic_or(&s->fw_requests, PROXYCARD_REQ_CMD);
        proxycard_fw_wake(s);
        return true;
    case PROXYCARD_REG_CMD_ADDR_LO:
        s->cmd_addr = deposit64(s->cmd_addr, 0, 32, val);
        return true;
    case PROXYCARD_REG_CMD_ADDR_HI:
        s->cmd_addr = deposit64(s->cmd_addr, 32, 32, val);
        return true;
    case PROXYCARD_REG_CMD_LEN:
        s->cmd_len = val;
        return true;
    case PROXYCARD_REG_CMD_STATUS:
    case PROXYCARD_REG_CMD_RESULT:
        trace_proxycard_wrn_mmio_readonly(addr, val);
        qemu_log_mask(LOG_GUEST_ERROR, "proxycard: write 0x%x to read-only "
                      "register 0x%" HWADDR_PRIx ", ignored\n", val, addr);
        return true;
    default:
        return false;
    }
}

/* Reset: no command, nothing pending.  BQL held, firmware acknowledged. */
void proxycard_ctl_reset(ProxyCardState *s)
{
    s->cmd_addr = 0;
    s->cmd_len = 0;
    qatomic_set(&s->cmd_result, 0);
    qatomic_set(&s->cmd_status, PROXYCARD_CMD_IDLE);
}

/* ---- the firmware log (firmware thread) ---- */

void proxycard_ctl_log(ProxyCardState *s, enum pcfw_log_level level,
                       const char *msg)
{
    static const char *const tag[] = { "error", "warn", "info", "debug" };
    char line[320];
    int n = snprintf(line, sizeof(line), "[%s] %s\n",
                     level <= PCFW_LOG_DEBUG ? tag[level] : "?", msg);

    n = MIN(n, (int)sizeof(line) - 1);
    for (int i = 0; i < n; i++) {
        s->log[s->log_pos] = line[i];
        s->log_pos = (s->log_pos + 1) % PROXYCARD_LOG_SIZE;
    }
    s->log_len = MIN(s->log_len + n, PROXYCARD_LOG_SIZE);
}

/* ---- running a command (firmware thread) ---- */

static bool ctl_dma(ProxyCardState *s, uint64_t addr, void *buf, uint32_t len,
                    DMADirection dir)
{
    if (!proxycard_dma_rw(s, addr, buf, len, dir)) {
        qemu_log_mask(LOG_GUEST_ERROR, "proxycard: command buffer 0x%" PRIx64
                      " (%u bytes) is not %s, or bus mastering is off\n",
                      addr, len, dir == DMA_DIRECTION_FROM_DEVICE ?
                      "writable RAM" : "RAM or ROM");
        proxycard_set_error(s, PROXYCARD_ERR_DMA);
        return false;
    }
    return true;
}

static bool ctl_load_config(ProxyCardState *s, uint32_t *result)
{
    g_autofree char *text = NULL;
    char err[256];

    if (s->cmd.len == 0 || s->cmd.len > PROXYCARD_CMD_MAX_CONFIG) {
        qemu_log_mask(LOG_GUEST_ERROR, "proxycard: LOAD_CONFIG of %u bytes "
                      "(1 to %u)\n", s->cmd.len, PROXYCARD_CMD_MAX_CONFIG);
        return false;
    }
    text = g_malloc(s->cmd.len);
    if (!ctl_dma(s, s->cmd.addr, text, s->cmd.len, DMA_DIRECTION_TO_DEVICE)) {
        return false;
    }
    /* The text ends at its first NUL, or fills the buffer. */
    if (pcfw_reconfigure(text, strnlen(text, s->cmd.len), err,
                         sizeof(err)) == PCFW_OK) {
        return true;
    }
    /* The reason, NUL-terminated, goes back in the host's buffer. */
    *result = MIN(strlen(err), s->cmd.len - 1);
    err[*result] = '\0';
    ctl_dma(s, s->cmd.addr, err, *result + 1, DMA_DIRECTION_FROM_DEVICE);
    return false;
}

static bool ctl_read_stats(ProxyCardState *s, uint32_t *result)
{
    uint64_t v[PROXYCARD_STAT_COUNT];
    uint32_t n = MIN(s->cmd.len / 8, PROXYCARD_STAT_COUNT);

    proxycard_stats_values(s, v);
    for (uint32_t i = 0; i < n; i++) {
        v[i] = cpu_to_le64(v[i]);
    }
    if (!ctl_dma(s, s->cmd.addr, v, n * 8, DMA_DIRECTION_FROM_DEVICE)) {
        return false;
    }
    *result = n * 8;
    return true;
}

static bool ctl_read_log(ProxyCardState *s, uint32_t *result)
{
    uint32_t n = MIN(s->cmd.len, s->log_len);
    g_autofree char *out = g_malloc(n ? n : 1);
    /* The last n bytes, oldest first. */
    size_t start = (s->log_pos + PROXYCARD_LOG_SIZE - n) % PROXYCARD_LOG_SIZE;

    for (uint32_t i = 0; i < n; i++) {
        out[i] = s->log[(start + i) % PROXYCARD_LOG_SIZE];
    }
    if (n && !ctl_dma(s, s->cmd.addr, out, n, DMA_DIRECTION_FROM_DEVICE)) {
        return false;
    }
    *result = n;
    return true;
}

void proxycard_ctl_run(ProxyCardState *s)
{
    uint32_t result = 0, code;
    bool ok;

    /* Acquire: pairs with the release in the CMD write; s->cmd is set. */
    if (qatomic_load_acquire(&s->cmd_status) != PROXYCARD_CMD_BUSY) {
        return;
    }
    code = s->cmd.code;
    switch (code) {
    case PROXYCARD_CMD_LOAD_CONFIG:
        ok = ctl_load_config(s, &result);
        break;
    case PROXYCARD_CMD_READ_STATS:
        ok = ctl_read_stats(s, &result);
        break;
    case PROXYCARD_CMD_READ_LOG:
        ok = ctl_read_log(s, &result);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "proxycard: unknown command %u\n",
                      code);
        ok = false;
        break;
    }
    /*
     * Once the status is published the host may write the next command
     * (s->cmd): nothing below may read it.
     */
    qatomic_set(&s->cmd_result, result);
    qatomic_store_release(&s->cmd_status, ok ? PROXYCARD_CMD_OK
                                             : PROXYCARD_CMD_FAILED);
    trace_proxycard_cmd_done(code, ok, result);
    proxycard_raise(s, PROXYCARD_VEC_MISC, PROXYCARD_INTR_CMD);
}
