/*
 * proxycard register map: the one source of truth.
 *
 * Shared by the QEMU device model (hw/proxycard/), the Linux driver
 * (host-driver/), the qtests (tests/qtest/) and docs/datasheet.md, which
 * describes every register below.  Keep the two in step: the datasheet check
 * in `make check` (scripts/check-datasheet.sh) compares them.
 *
 * Only preprocessor constants live here, so that the file compiles unchanged
 * in QEMU, in the kernel and in plain C11.  All registers are 32 bits wide,
 * little-endian, and must be accessed with 32-bit loads and stores.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PROXYCARD_REGS_H
#define PROXYCARD_REGS_H

/* PCI identity */
#define PROXYCARD_PCI_VENDOR_ID         0x1234  /* as QEMU's edu device */
#define PROXYCARD_PCI_DEVICE_ID         0x11c0
#define PROXYCARD_PCI_REVISION          0x01
#define PROXYCARD_PCI_CLASS             0x0280  /* network controller, other */

/* BARs */
#define PROXYCARD_BAR_REGS              0       /* register block, MMIO */
#define PROXYCARD_BAR_REGS_SIZE         0x1000
#define PROXYCARD_BAR_MSIX              1       /* MSI-X table and PBA */
#define PROXYCARD_MSIX_VECTORS          3

/* MSI-X vectors */
#define PROXYCARD_VEC_MISC              0       /* INTR_CAUSE misc causes */
#define PROXYCARD_VEC_BUS_RX            1       /* bus receive ring */
#define PROXYCARD_VEC_BUS_TX            2       /* bus transmit ring */

/* Register offsets in BAR0 */
#define PROXYCARD_REG_ID                0x000   /* RO */
#define PROXYCARD_REG_VERSION           0x004   /* RO */
#define PROXYCARD_REG_STATUS            0x008   /* RO */
#define PROXYCARD_REG_CONTROL           0x00c   /* RW */
#define PROXYCARD_REG_INTR_CAUSE        0x010   /* RO, write 1 to clear */
#define PROXYCARD_REG_INTR_MASK         0x014   /* RW */
#define PROXYCARD_REG_SCRATCH           0x018   /* RW */
#define PROXYCARD_REG_MEM_SIZE_LO       0x01c   /* RO */
#define PROXYCARD_REG_MEM_SIZE_HI       0x020   /* RO */
#define PROXYCARD_REG_FW_STATE          0x024   /* RO */
#define PROXYCARD_REG_TEST_INTR         0x028   /* WO vector; RO count */
#define PROXYCARD_REG_ERROR             0x02c   /* RO */
#define PROXYCARD_REG_MSIX_VECTORS      0x030   /* RO */
#define PROXYCARD_REG_RESET_COUNT       0x034   /* RO */

/* REG_ID value: "PXCD" read as a little-endian 32-bit word */
#define PROXYCARD_ID_MAGIC              0x44435850
/* REG_VERSION: major in bits 31..16, minor in bits 15..0 */
#define PROXYCARD_VERSION_MAJOR         1
#define PROXYCARD_VERSION_MINOR         0
#define PROXYCARD_VERSION \
    ((PROXYCARD_VERSION_MAJOR << 16) | PROXYCARD_VERSION_MINOR)

/* REG_STATUS bits */
#define PROXYCARD_STATUS_FW_RUNNING     (1u << 0)
#define PROXYCARD_STATUS_ERROR          (1u << 1)
#define PROXYCARD_STATUS_LINK_UP        (1u << 2)

/* REG_CONTROL bits */
#define PROXYCARD_CONTROL_RESET         (1u << 0)   /* self-clearing */

/* REG_INTR_CAUSE / REG_INTR_MASK bits (all signalled on VEC_MISC) */
#define PROXYCARD_INTR_TEST             (1u << 0)
#define PROXYCARD_INTR_FW_STATE         (1u << 1)
#define PROXYCARD_INTR_ERROR            (1u << 2)
#define PROXYCARD_INTR_ALL              0x7u

/* REG_FW_STATE values */
#define PROXYCARD_FW_OFF                0   /* thread not started */
#define PROXYCARD_FW_BOOTING            1   /* initialising lwIP and arena */
#define PROXYCARD_FW_RUNNING            2   /* serving */
#define PROXYCARD_FW_RESETTING          3   /* reset handshake in progress */
#define PROXYCARD_FW_FAILED             4   /* init failed; see REG_ERROR */

/* REG_ERROR values: the device error state, sticky until reset */
#define PROXYCARD_ERR_NONE              0
#define PROXYCARD_ERR_FW_INIT           1   /* firmware failed to start */
#define PROXYCARD_ERR_BAD_VECTOR        2   /* TEST_INTR vector out of range */

#endif /* PROXYCARD_REGS_H */
