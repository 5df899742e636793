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

/* Bus link: descriptor rings in host memory (datasheet section 5) */
#define PROXYCARD_REG_BUS_CONTROL       0x100   /* RW */
#define PROXYCARD_REG_BUS_STATUS        0x104   /* RO */
#define PROXYCARD_REG_BUS_MTU           0x108   /* RO */
#define PROXYCARD_REG_BUS_ITR           0x10c   /* RW */
#define PROXYCARD_REG_TX_BASE_LO        0x110   /* RW while disabled */
#define PROXYCARD_REG_TX_BASE_HI        0x114   /* RW while disabled */
#define PROXYCARD_REG_TX_SIZE           0x118   /* RW while disabled */
#define PROXYCARD_REG_TX_TAIL           0x11c   /* RW: doorbell */
#define PROXYCARD_REG_TX_HEAD           0x120   /* RO */
#define PROXYCARD_REG_RX_BASE_LO        0x130   /* RW while disabled */
#define PROXYCARD_REG_RX_BASE_HI        0x134   /* RW while disabled */
#define PROXYCARD_REG_RX_SIZE           0x138   /* RW while disabled */
#define PROXYCARD_REG_RX_TAIL           0x13c   /* RW: doorbell */
#define PROXYCARD_REG_RX_HEAD           0x140   /* RO */

/* Control plane: commands run by the firmware on a host buffer (section 8) */
#define PROXYCARD_REG_CMD               0x200   /* WO: a PROXYCARD_CMD_* */
#define PROXYCARD_REG_CMD_STATUS        0x204   /* RO */
#define PROXYCARD_REG_CMD_RESULT        0x208   /* RO */
#define PROXYCARD_REG_CMD_ADDR_LO       0x210   /* RW */
#define PROXYCARD_REG_CMD_ADDR_HI       0x214   /* RW */
#define PROXYCARD_REG_CMD_LEN           0x218   /* RW */

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
#define PROXYCARD_INTR_BUS_RX           (1u << 3)   /* on VEC_BUS_RX */
#define PROXYCARD_INTR_BUS_TX           (1u << 4)   /* on VEC_BUS_TX */
#define PROXYCARD_INTR_CMD              (1u << 5)   /* a command finished */
#define PROXYCARD_INTR_ALL              0x3fu

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
#define PROXYCARD_ERR_RING_CONFIG       3   /* bad ring base or size at enable */
#define PROXYCARD_ERR_RING_INDEX        4   /* a tail beyond the ring size */
#define PROXYCARD_ERR_DESC              5   /* a descriptor's length or flags */
#define PROXYCARD_ERR_DMA               6   /* DMA to or from non-RAM */
#define PROXYCARD_ERR_RING_BUSY         7   /* ring registers written while enabled */
#define PROXYCARD_ERR_NOT_ENABLED       8   /* doorbell before BUS_CONTROL.ENABLE */

/* REG_BUS_CONTROL bits */
#define PROXYCARD_BUS_ENABLE            (1u << 0)

/* REG_BUS_STATUS bits */
#define PROXYCARD_BUS_RUNNING           (1u << 0)   /* rings live */

/* The bus link carries Ethernet frames of up to MTU + 14 bytes */
#define PROXYCARD_BUS_MTU               9000    /* jumbo frames */
#define PROXYCARD_BUS_MAX_FRAME         9014

/* Rings: SIZE descriptors, a power of two in [MIN, MAX], BASE aligned */
#define PROXYCARD_RING_MIN              8
#define PROXYCARD_RING_MAX              4096
#define PROXYCARD_RING_ALIGN            64

/* Commands (REG_CMD) */
#define PROXYCARD_CMD_LOAD_CONFIG       1   /* buffer: configuration text */
#define PROXYCARD_CMD_READ_STATS        2   /* buffer <- u64 counters */
#define PROXYCARD_CMD_READ_LOG          3   /* buffer <- firmware log text */

/* REG_CMD_STATUS values */
#define PROXYCARD_CMD_IDLE              0
#define PROXYCARD_CMD_BUSY              1
#define PROXYCARD_CMD_OK                2
#define PROXYCARD_CMD_FAILED            3

#define PROXYCARD_CMD_MAX_CONFIG        65536   /* bytes of configuration */
#define PROXYCARD_LOG_SIZE              16384   /* firmware log kept */

/* Descriptor: 16 bytes, little-endian */
#define PROXYCARD_DESC_SIZE             16
#define PROXYCARD_DESC_ADDR             0   /* u64: buffer address */
#define PROXYCARD_DESC_LEN              8   /* u32: TX frame / RX buffer, then frame */
#define PROXYCARD_DESC_FLAGS            12  /* u16: written by the host, 0 */
#define PROXYCARD_DESC_STATUS           14  /* u16: written by the card */
#define PROXYCARD_DESC_DONE             0x1 /* status: the card is done with it */

#endif /* PROXYCARD_REGS_H */
