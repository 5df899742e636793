/*
 * proxycard: connection-offload adapter card — QOM/PCI glue.
 *
 * A network card with its own processor, memory and TCP/IP stack that
 * terminates client connections and forwards complete requests to the host
 * over a few persistent bus connections.  This file is the PCI face of the
 * card: BAR0 registers (hw/proxycard/proxycard_regs.h, docs/datasheet.md),
 * MSI-X in BAR1, INTx, reset.  The card CPU lives in proxycard_fw_host.c.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "net/net.h"
#include "sysemu/runstate.h"
#include "sysemu/runstate-action.h"
#include "pcfw.h"
#include "proxycard.h"
#include "proxycard_regs.h"
#include "trace.h"

/*
 * lwIP keeps global state, so the firmware runs once per process; the one
 * card is remembered here (BQL).
 */
static ProxyCardState *proxycard_instance;

/* ---- interrupts ---- */

/* INTx follows (cause & mask) while MSI-X is off.  BQL held. */
static void proxycard_update_intx(ProxyCardState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    int level = 0;

    if (!msix_enabled(pdev)) {
        level = !!(qatomic_read(&s->intr_cause) & s->intr_mask);
    }
    trace_proxycard_irq_intx(level);
    pci_set_irq(pdev, level);
}

/* The MSI-X vector @cause (one INTR_CAUSE bit) is signalled on. */
static unsigned proxycard_cause_vector(uint32_t cause)
{
    switch (cause) {
    case PROXYCARD_INTR_BUS_RX:
        return PROXYCARD_VEC_BUS_RX;
    case PROXYCARD_INTR_BUS_TX:
        return PROXYCARD_VEC_BUS_TX;
    default:
        return PROXYCARD_VEC_MISC;
    }
}

/* Bottom half: deliver what any thread asked for.  BQL held. */
static void proxycard_irq_bh(void *opaque)
{
    ProxyCardState *s = opaque;
    PCIDevice *pdev = PCI_DEVICE(s);
    uint32_t pending;

    /*
     * An MSI-X message is a write to guest memory: none while the VM is
     * stopped.  The vectors stay pending; the VM's start reschedules us.
     */
    if (qatomic_read(&s->vm_stopped)) {
        proxycard_update_intx(s);
        return;
    }
    pending = qatomic_xchg(&s->irq_pending, 0);
    if (msix_enabled(pdev)) {
        while (pending) {
            unsigned vec = ctz32(pending);

            pending &= pending - 1;
            trace_proxycard_irq_msix_notify(vec);
            msix_notify(pdev, vec);
        }
    }
    proxycard_update_intx(s);
}

/*
 * Raise @cause in INTR_CAUSE and signal @vector.  Callable from any thread:
 * the firmware thread must not touch MSI-X or the IRQ line itself.  Misc
 * causes reach VEC_MISC only when enabled in INTR_MASK; a test interrupt
 * (cause PROXYCARD_INTR_TEST) always reaches the vector it names.
 */
void proxycard_raise(ProxyCardState *s, unsigned vector, uint32_t cause)
{
    trace_proxycard_irq_raise(vector);
    qatomic_or(&s->intr_cause, cause);
    /*
     * A cause left out of INTR_MASK changes neither a vector nor INTx: no
     * need to wake the main loop (it costs an eventfd write per frame).
     */
    if (cause == PROXYCARD_INTR_TEST ||
        (cause & qatomic_read(&s->intr_mask))) {
        qatomic_or(&s->irq_pending, 1u << vector);
        qemu_bh_schedule(s->irq_bh);
    }
}

void proxycard_set_fw_state(ProxyCardState *s, uint32_t state)
{
    uint32_t old = qatomic_xchg(&s->fw_state, state);

    if (old != state) {
        trace_proxycard_fw_state(old, state);
        proxycard_raise(s, PROXYCARD_VEC_MISC, PROXYCARD_INTR_FW_STATE);
    }
}

/* A guest-visible error: sticky in REG_ERROR until reset.  Any thread. */
void proxycard_set_error(ProxyCardState *s, uint32_t err)
{
    qatomic_cmpxchg(&s->error, PROXYCARD_ERR_NONE, err);
    proxycard_raise(s, PROXYCARD_VEC_MISC, PROXYCARD_INTR_ERROR);
}

/* ---- registers ---- */

static uint32_t proxycard_status(ProxyCardState *s)
{
    uint32_t st = 0;

    if (qatomic_read(&s->fw_state) == PROXYCARD_FW_RUNNING) {
        st |= PROXYCARD_STATUS_FW_RUNNING;
    }
    if (qatomic_read(&s->error) != PROXYCARD_ERR_NONE) {
        st |= PROXYCARD_STATUS_ERROR;
    }
    if (s->nic && !qemu_get_queue(s->nic)->link_down) {
        st |= PROXYCARD_STATUS_LINK_UP;
    }
    return st;
}

/* The card's own block of BAR0 (0x000-0x0ff).  BQL held. */
static bool proxycard_core_mmio_read(ProxyCardState *s, hwaddr addr,
                                     uint32_t *val)
{
    switch (addr) {
    case PROXYCARD_REG_ID:
        *val = PROXYCARD_ID_MAGIC;
        break;
    case PROXYCARD_REG_VERSION:
        *val = PROXYCARD_VERSION;
        break;
    case PROXYCARD_REG_STATUS:
        *val = proxycard_status(s);
        break;
    case PROXYCARD_REG_CONTROL:
        *val = 0;                /* RESET self-clears: reset is synchronous */
        break;
    case PROXYCARD_REG_INTR_CAUSE:
        *val = qatomic_read(&s->intr_cause);
        break;
    case PROXYCARD_REG_INTR_MASK:
        *val = s->intr_mask;
        break;
    case PROXYCARD_REG_SCRATCH:
        *val = s->scratch;
        break;
    case PROXYCARD_REG_MEM_SIZE_LO:
        *val = (uint32_t)s->mem_size;
        break;
    case PROXYCARD_REG_MEM_SIZE_HI:
        *val = (uint32_t)(s->mem_size >> 32);
        break;
    case PROXYCARD_REG_FW_STATE:
        *val = qatomic_read(&s->fw_state);
        break;
    case PROXYCARD_REG_TEST_INTR:
        *val = qatomic_read(&s->test_intr_count);
        break;
    case PROXYCARD_REG_ERROR:
        *val = qatomic_read(&s->error);
        break;
    case PROXYCARD_REG_MSIX_VECTORS:
        *val = PROXYCARD_MSIX_VECTORS;
        break;
    case PROXYCARD_REG_RESET_COUNT:
        *val = s->reset_count;
        break;
    default:
        return false;
    }
    return true;
}

static void proxycard_soft_reset(ProxyCardState *s);

/*
 * INTR_MASK: a cause that is already pending when it is unmasked fires its
 * vector then (as e1000e's IMS does); INTx follows cause & mask anyway.
 * The barrier pairs with the one in proxycard_raise()'s qatomic_or: either
 * the firmware sees the new mask and signals, or this sees its cause (or
 * both, and the vector fires twice, which MSI-X allows).  BQL held.
 */
static void proxycard_set_intr_mask(ProxyCardState *s, uint32_t mask)
{
    uint32_t unmasked = mask & ~s->intr_mask & ~PROXYCARD_INTR_TEST;

    qatomic_set(&s->intr_mask, mask);
    smp_mb();   /* the new mask before reading the causes: see above */
    unmasked &= qatomic_read(&s->intr_cause);
    while (unmasked) {
        uint32_t cause = unmasked & -unmasked;

        unmasked &= unmasked - 1;
        qatomic_or(&s->irq_pending, 1u << proxycard_cause_vector(cause));
    }
    proxycard_irq_bh(s);
}

static bool proxycard_core_mmio_write(ProxyCardState *s, hwaddr addr,
                                      uint32_t val)
{
    switch (addr) {
    case PROXYCARD_REG_CONTROL:
        if (val & ~PROXYCARD_CONTROL_RESET) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "proxycard: reserved CONTROL bits 0x%x written, "
                          "ignored\n", val & ~PROXYCARD_CONTROL_RESET);
        }
        if (val & PROXYCARD_CONTROL_RESET) {
            proxycard_soft_reset(s);
        }
        break;
    case PROXYCARD_REG_INTR_CAUSE:
        qatomic_and(&s->intr_cause, ~(uint32_t)val);
        proxycard_update_intx(s);
        break;
    case PROXYCARD_REG_INTR_MASK:
        proxycard_set_intr_mask(s, val & PROXYCARD_INTR_ALL);
        break;
    case PROXYCARD_REG_SCRATCH:
        s->scratch = val;
        break;
    case PROXYCARD_REG_TEST_INTR:
        if (val >= PROXYCARD_MSIX_VECTORS) {
            trace_proxycard_wrn_test_intr_vector(val);
            qemu_log_mask(LOG_GUEST_ERROR,
                          "proxycard: test interrupt for vector %u"
                          " (the card has %u), device error state set\n",
                          val, PROXYCARD_MSIX_VECTORS);
            proxycard_set_error(s, PROXYCARD_ERR_BAD_VECTOR);
            break;
        }
        qatomic_or(&s->test_vectors, 1u << val);
        qatomic_or(&s->fw_requests, PROXYCARD_REQ_TEST_INTR);
        proxycard_fw_wake(s);
        break;
    case PROXYCARD_REG_ID:
    case PROXYCARD_REG_VERSION:
    case PROXYCARD_REG_STATUS:
    case PROXYCARD_REG_MEM_SIZE_LO:
    case PROXYCARD_REG_MEM_SIZE_HI:
    case PROXYCARD_REG_FW_STATE:
    case PROXYCARD_REG_ERROR:
    case PROXYCARD_REG_MSIX_VECTORS:
    case PROXYCARD_REG_RESET_COUNT:
        trace_proxycard_wrn_mmio_readonly(addr, val);
        qemu_log_mask(LOG_GUEST_ERROR,
                      "proxycard: write 0x%x to read-only register 0x%"
                      HWADDR_PRIx ", ignored\n", val, addr);
        break;
    default:
        return false;
    }
    return true;
}

/*
 * BAR0 is decoded in blocks of 256 bytes, each by the file that owns its
 * registers (proxycard_regs.h): a lookup, then that block's switch.
 */
#define PROXYCARD_REG_BLOCK_SHIFT   8

typedef struct ProxyCardRegBlock {
    bool (*read)(ProxyCardState *s, hwaddr addr, uint32_t *val);
    bool (*write)(ProxyCardState *s, hwaddr addr, uint32_t val);
} ProxyCardRegBlock;

static const ProxyCardRegBlock proxycard_reg_blocks[] = {
    { proxycard_core_mmio_read, proxycard_core_mmio_write },    /* 0x000 */
    { proxycard_bus_mmio_read, proxycard_bus_mmio_write },      /* 0x100 */
    { proxycard_ctl_mmio_read, proxycard_ctl_mmio_write },      /* 0x200 */
};

static const ProxyCardRegBlock *proxycard_reg_block(hwaddr addr)
{
    hwaddr i = addr >> PROXYCARD_REG_BLOCK_SHIFT;

    return i < ARRAY_SIZE(proxycard_reg_blocks) ? &proxycard_reg_blocks[i]
                                                : NULL;
}

static uint64_t proxycard_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    ProxyCardState *s = opaque;
    const ProxyCardRegBlock *b = proxycard_reg_block(addr);
    uint32_t val;

    if (size != 4) {
        trace_proxycard_wrn_mmio_width("read", addr, size);
        qemu_log_mask(LOG_GUEST_ERROR,
                      "proxycard: %u-byte read at 0x%" HWADDR_PRIx
                      " (registers are 32-bit), returning 0\n", size, addr);
        return 0;
    }
    if (!b || !b->read(s, addr, &val)) {
        trace_proxycard_wrn_mmio_unknown("read", addr);
        qemu_log_mask(LOG_GUEST_ERROR,
                      "proxycard: read of unknown register 0x%" HWADDR_PRIx
                      ", returning 0\n", addr);
        return 0;
    }
    trace_proxycard_mmio_read(addr, size, val);
    return val;
}

static void proxycard_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    ProxyCardState *s = opaque;
    const ProxyCardRegBlock *b = proxycard_reg_block(addr);

    trace_proxycard_mmio_write(addr, size, val);
    if (size != 4) {
        trace_proxycard_wrn_mmio_width("write", addr, size);
        qemu_log_mask(LOG_GUEST_ERROR,
                      "proxycard: %u-byte write at 0x%" HWADDR_PRIx
                      " (registers are 32-bit), ignored\n", size, addr);
        return;
    }
    if (!b || !b->write(s, addr, val)) {
        trace_proxycard_wrn_mmio_unknown("write", addr);
        qemu_log_mask(LOG_GUEST_ERROR,
                      "proxycard: write 0x%" PRIx64 " to unknown register 0x%"
                      HWADDR_PRIx ", ignored\n", val, addr);
    }
}

static const MemoryRegionOps proxycard_mmio_ops = {
    .read = proxycard_mmio_read,
    .write = proxycard_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    /* Accept every width so that a wrong one is logged, not a bus error. */
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
};

/* ---- statistics (QOM property "stats", read with qom-get) ---- */

static void proxycard_get_stats(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    static const char *const names[] = {
#define PROXYCARD_STAT_NAME_(id, name) name,
        PROXYCARD_STATS_LIST(PROXYCARD_STAT_NAME_)
#undef PROXYCARD_STAT_NAME_
    };
    ProxyCardState *s = PROXYCARD(obj);
    uint64_t val[PROXYCARD_STAT_COUNT];
    bool ok;

    proxycard_stats_values(s, val);
    if (!visit_start_struct(v, name, NULL, 0, errp)) {
        return;
    }
    ok = true;
    for (size_t i = 0; ok && i < PROXYCARD_STAT_COUNT; i++) {
        ok = visit_type_uint64(v, names[i], &val[i], errp);
    }
    if (ok) {
        visit_check_struct(v, errp);
    }
    visit_end_struct(v, NULL);
}

/* ---- reset ---- */

/*
 * Reset the card: the firmware drops its host-facing state first (handshake
 * in proxycard_fw_reset()), then the registers return to their reset values.
 * Used for CONTROL.RESET and for a bus reset.  BQL held.
 */
static void proxycard_soft_reset(ProxyCardState *s)
{
    /*
     * Before the handshake, so that the firmware's first pass after it
     * neither picks the old rings up again nor starts a stale command.
     */
    s->bus_control = 0;
    qatomic_set(&s->bus_running, false);
    qatomic_set(&s->cmd_status, PROXYCARD_CMD_IDLE);
    proxycard_fw_reset(s);

    qatomic_set(&s->irq_pending, 0);
    qatomic_set(&s->intr_cause, 0);
    qatomic_set(&s->error, PROXYCARD_ERR_NONE);
    qatomic_set(&s->intr_mask, 0);
    s->scratch = 0;
    proxycard_bus_reset(s);
    proxycard_ctl_reset(s);
    s->reset_count++;
    proxycard_update_intx(s);
}

static void proxycard_qdev_reset(DeviceState *dev)
{
    proxycard_soft_reset(PROXYCARD(dev));
}

/* ---- life cycle ---- */

/*
 * The VM's change-state handler (BQL held): the card does no DMA and runs
 * no firmware while the VM is stopped; the VM's clock, which the firmware's
 * timers follow, stops too (datasheet section 9).
 */
static void proxycard_vm_state_change(void *opaque, bool running,
                                      RunState state)
{
    ProxyCardState *s = opaque;

    trace_proxycard_vm_state(running, state);
    proxycard_fw_vm_running(s, running);
    if (running) {
        qemu_bh_schedule(s->irq_bh);    /* interrupts held while stopped */
    }
}

/*
 * A shutdown request (main loop, BQL held).  Unless it only stops the VM
 * (-action shutdown=pause, -no-shutdown), QEMU exits next: qemu_cleanup()
 * never unrealizes the card, but net_cleanup() frees its NIC, and bottom
 * halves run after that (monitor_cleanup).  So stop and join the firmware
 * thread and delete the NIC here, before qemu_cleanup(): nothing of the
 * card uses the NIC after it is gone.  An exit notifier would be too late:
 * they run from atexit(), after net_cleanup().  (pvrdma stops its threads
 * from a shutdown notifier too.)  The thread joins within one frame
 * (proxycard_fw_yield).
 */
static void proxycard_shutdown_notify(Notifier *n, void *opaque)
{
    ProxyCardState *s = container_of(n, ProxyCardState, shutdown_notifier);

    if (shutdown_action == SHUTDOWN_ACTION_PAUSE) {
        return;         /* the VM stops, the card holds, and both may run */
    }
    trace_proxycard_shutdown(shutdown_action);
    proxycard_fw_stop(s);
    proxycard_nic_stop(s);
}

static void proxycard_destroy_locks(ProxyCardState *s)
{
    qemu_sem_destroy(&s->fw_sem);
    qemu_cond_destroy(&s->fw_cond);
    qemu_mutex_destroy(&s->fw_lock);
}

static void proxycard_realize(PCIDevice *pdev, Error **errp)
{
    ProxyCardState *s = PROXYCARD(pdev);
    DeviceState *dev = DEVICE(pdev);

    if (proxycard_instance) {
        error_setg(errp, "only one proxycard per QEMU process is supported "
                   "(its firmware's TCP/IP stack, lwIP, keeps global state); "
                   "'%s' already exists",
                   DEVICE(proxycard_instance)->id ?: "proxycard");
        return;
    }
    if (s->mem_size < PCFW_MIN_MEM || s->mem_size > PROXYCARD_MAX_MEM_SIZE) {
        error_setg(errp, "mem-size must be between %u MiB and %" PRIu64
                   " GiB, got %" PRIu64 " bytes", (unsigned)(PCFW_MIN_MEM / MiB),
                   (uint64_t)(PROXYCARD_MAX_MEM_SIZE / GiB), s->mem_size);
        return;
    }

    pdev->config[PCI_INTERRUPT_PIN] = 1;
    memory_region_init_io(&s->mmio, OBJECT(s), &proxycard_mmio_ops, s,
                          "proxycard-mmio", PROXYCARD_BAR_REGS_SIZE);
    pci_register_bar(pdev, PROXYCARD_BAR_REGS, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &s->mmio);

    if (msix_init_exclusive_bar(pdev, PROXYCARD_MSIX_VECTORS,
                                PROXYCARD_BAR_MSIX, errp)) {
        return;
    }
    for (unsigned v = 0; v < PROXYCARD_MSIX_VECTORS; v++) {
        msix_vector_use(pdev, v);
    }

    qemu_macaddr_default_if_unset(&s->conf.macaddr);
    if (!proxycard_fw_configure(s, errp)) {
        goto fail_msix;
    }

    qemu_mutex_init(&s->fw_lock);
    qemu_cond_init(&s->fw_cond);
    qemu_sem_init(&s->fw_sem, 0);
    proxycard_nic_init(s);
    proxycard_bus_init(s);
    s->irq_bh = qemu_bh_new_guarded(proxycard_irq_bh, s,
                                    &dev->mem_reentrancy_guard);

    if (!proxycard_fw_start(s, errp)) {
        qemu_bh_delete(s->irq_bh);
        proxycard_bus_cleanup(s);
        proxycard_nic_cleanup(s);
        proxycard_destroy_locks(s);
        goto fail_msix;
    }
    /*
     * Added here rather than in instance_init: a read-only property there
     * would be listed by -device proxycard,help as if it could be set.
     */
    object_property_add(OBJECT(s), "stats", "ProxyCardStats",
                        proxycard_get_stats, NULL, NULL, NULL);
    object_property_set_description(OBJECT(s), "stats",
        "the card's statistics (firmware, proxies, ports), read-only");
    s->vm_state_entry = qemu_add_vm_change_state_handler(
        proxycard_vm_state_change, s);
    s->shutdown_notifier.notify = proxycard_shutdown_notify;
    qemu_register_shutdown_notifier(&s->shutdown_notifier);
    proxycard_instance = s;
    return;

fail_msix:
    msix_unuse_all_vectors(pdev);
    msix_uninit_exclusive_bar(pdev);
}

static void proxycard_exit(PCIDevice *pdev)
{
    ProxyCardState *s = PROXYCARD(pdev);

    qemu_del_vm_change_state_handler(s->vm_state_entry);
    notifier_remove(&s->shutdown_notifier);
    /* The thread must be gone before the PCI core tears down DMA. */
    proxycard_fw_stop(s);
    qemu_bh_delete(s->irq_bh);
    proxycard_bus_cleanup(s);
    proxycard_nic_cleanup(s);
    proxycard_destroy_locks(s);
    msix_unuse_all_vectors(pdev);
    msix_uninit_exclusive_bar(pdev);
    if (proxycard_instance == s) {
        proxycard_instance = NULL;
    }
}

static const VMStateDescription proxycard_vmstate = {
    .name = "proxycard",
    /* Card memory and lwIP's connection state are not serialisable. */
    .unmigratable = 1,
};

static Property proxycard_properties[] = {
    DEFINE_PROP_SIZE("mem-size", ProxyCardState, mem_size,
                     PROXYCARD_DEFAULT_MEM_SIZE),
    DEFINE_NIC_PROPERTIES(ProxyCardState, conf),
    DEFINE_PROP_STRING("config", ProxyCardState, config_path),
    DEFINE_PROP_END_OF_LIST(),
};

static void proxycard_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = proxycard_realize;
    k->exit = proxycard_exit;
    k->vendor_id = PROXYCARD_PCI_VENDOR_ID;
    k->device_id = PROXYCARD_PCI_DEVICE_ID;
    k->revision = PROXYCARD_PCI_REVISION;
    k->class_id = PROXYCARD_PCI_CLASS;

    dc->desc = "proxycard connection-offload adapter (TCP proxy card)";
    dc->reset = proxycard_qdev_reset;
    dc->vmsd = &proxycard_vmstate;
    /* One firmware per process, started once: no hot (un)plug. */
    dc->hotpluggable = false;
    set_bit(DEVICE_CATEGORY_NETWORK, dc->categories);

    device_class_set_props(dc, proxycard_properties);
    object_class_property_set_description(klass, "mem-size",
        "card memory (the firmware's arena: connections, buffers, lwIP), "
        "1M to 16G");
    object_class_property_set_description(klass, "mac",
        "MAC address of the card's network port (client side)");
    object_class_property_set_description(klass, "netdev",
        "network backend of the card's network port (client side)");
    object_class_property_set_description(klass, "config",
        "card configuration file (docs/config.md): listeners, proxies, "
        "pool, limits; errors fail device creation");
}

static void proxycard_instance_init(Object *obj)
{
    qemu_mutex_init(&PROXYCARD(obj)->stats_lock);
}

static void proxycard_instance_finalize(Object *obj)
{
    qemu_mutex_destroy(&PROXYCARD(obj)->stats_lock);
}

static const TypeInfo proxycard_info = {
    .name = TYPE_PROXYCARD,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(ProxyCardState),
    .instance_init = proxycard_instance_init,
    .instance_finalize = proxycard_instance_finalize,
    .class_init = proxycard_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { },
    },
};

static void proxycard_register_types(void)
{
    type_register_static(&proxycard_info);
}

type_init(proxycard_register_types)
