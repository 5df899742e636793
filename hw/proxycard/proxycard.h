/*
 * proxycard: connection-offload adapter card — device state.
 *
 * Two halves, like e1000e.c / e1000e_core.c:
 *   proxycard.c          QOM type, PCI, BAR0 registers, interrupts, reset
 *   proxycard_fw_host.c  the card CPU: the firmware thread and the platform
 *                        interface the firmware (guest-fw/) runs on
 *   proxycard_dma.c      the firmware thread's DMA: directly accessible
 *                        memory only, so that it never needs the BQL
 *
 * Threads and locks.  Lock order: BQL, then fw_lock.  The firmware thread
 * never takes the BQL and owns all firmware (lwIP) state.
 *   - vCPU/main loop (BQL held): MMIO, reset, BHs, timers' callbacks.
 *   - firmware thread: pcfw_* calls; talks to the rest through the atomics
 *     and the fw_lock-protected fields below, wakes up on fw_sem
 *     (posted through proxycard_fw_wake(), which coalesces).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_PROXYCARD_H
#define HW_PROXYCARD_H

#include "hw/pci/pci.h"
#include "net/net.h"
#include "qemu/queue.h"
#include "qemu/notify.h"
#include "qemu/thread.h"
#include "qom/object.h"
#include "sysemu/runstate.h"
#include "pcfw.h"
#include "proxycard_regs.h"
#include "proxycard_stats.h"

#define TYPE_PROXYCARD "proxycard"
OBJECT_DECLARE_SIMPLE_TYPE(ProxyCardState, PROXYCARD)

#define PROXYCARD_DEFAULT_MEM_SIZE  (64 * MiB)
#define PROXYCARD_MAX_MEM_SIZE      (16 * GiB)

/* Requests to the firmware thread (ProxyCardState.fw_requests bits). */
#define PROXYCARD_REQ_TEST_INTR     (1u << 0)
#define PROXYCARD_REQ_BUS           (1u << 1)   /* a bus doorbell or enable */
#define PROXYCARD_REQ_CMD           (1u << 2)   /* a control-plane command */

/* The bus link's rings, as the firmware thread sees them. */
enum { PC_RING_TX, PC_RING_RX, PC_RING_COUNT };

typedef struct PCBusRing {
    uint64_t base;
    uint32_t size;
    uint32_t head;              /* next descriptor the card uses */
    int64_t irq_last_ns;        /* interrupt moderation */
    bool irq_deferred;
} PCBusRing;

struct ProxyCardState {
    PCIDevice parent_obj;

    MemoryRegion mmio;
    NICState *nic;

    /* properties */
    NICConf conf;
    uint64_t mem_size;
    char *config_path;          /* config=FILE: the card configuration */
    struct pcfw_config fw_cfg;  /* what the firmware boots with */

    /* the card CPU */
    QemuThread fw_thread;
    QemuSemaphore fw_sem;       /* wakes the firmware thread */
    uint32_t fw_wake;           /* atomic: fw_sem posted, not yet taken */
    QEMUTimer *fw_timer;        /* QEMU_CLOCK_VIRTUAL: lwIP's next timeout */
    void *card_mem;             /* mem_size bytes, owned by the firmware */
    bool fw_stop;               /* atomic: thread must exit */
    uint32_t fw_requests;       /* atomic: PROXYCARD_REQ_* */
    uint32_t test_vectors;      /* atomic: vectors asked for by TEST_INTR */

    /*
     * protected by fw_lock; waited on with fw_cond.  The firmware thread
     * also reads reset_req and sync_req without it (proxycard_fw_yield);
     * every thread reads vm_stopped without it (atomic).
     */
    QemuMutex fw_lock;
    QemuCond fw_cond;
    uint32_t reset_req;         /* sequence of the last reset asked for */
    uint32_t reset_ack;         /* sequence the firmware has completed */
    uint32_t sync_req, sync_ack;    /* proxycard_fw_sync() handshake */
    bool vm_stopped;            /* VM not running: the firmware holds */
    bool fw_booted;             /* firmware left BOOTING */
    bool fw_exited;             /* the thread has returned */
    int fw_init_err;            /* pcfw_init() result */

    /* NIC front end (proxycard_nic.c); queues under fw_lock */
    QSIMPLEQ_HEAD(, PCFrame) nic_rxq;   /* wire -> firmware */
    QSIMPLEQ_HEAD(, PCFrame) nic_txq;   /* firmware -> wire */
    unsigned nic_rxq_len, nic_txq_len;
    bool nic_rx_blocked;        /* the net layer was told "no room" */
    bool nic_tx_waiting;        /* BQL: async send pending */
    QEMUBH *nic_tx_bh;
    QEMUBH *nic_flush_bh;
    uint64_t nic_rx_dropped;    /* atomic: frames over the MTU */

    /* bus link registers (proxycard_bus.c): written under the BQL */
    uint32_t bus_control;
    uint64_t tx_base, rx_base;  /* fixed while the link runs */
    uint32_t tx_size, rx_size;
    uint32_t tx_tail, rx_tail;  /* atomic: the host's doorbells */
    uint32_t tx_head, rx_head;  /* atomic: written by the firmware thread */
    uint32_t bus_itr;           /* atomic: interrupt moderation, us */
    bool bus_running;           /* atomic: enabled and not failed */
    unsigned bus_generation;    /* atomic: bumped at each enable */
    /* bus link, firmware thread only */
    unsigned fw_bus_gen;        /* generation the rings below belong to */
    PCBusRing ring[PC_RING_COUNT];
    QSIMPLEQ_HEAD(, PCBusFrame) bus_pending;    /* card -> host, waiting */
    unsigned bus_pending_len;
    uint8_t *bus_frame;         /* one TX frame being read */
    bool bus_rx_delivered;      /* frames went to the host in this pass */

    /* control plane (proxycard_ctl.c) */
    uint64_t cmd_addr;          /* BQL */
    uint32_t cmd_len;           /* BQL */
    struct {                    /* written under BQL before BUSY is stored */
        uint32_t code;
        uint64_t addr;
        uint32_t len;
    } cmd;
    uint32_t cmd_status;        /* atomic: PROXYCARD_CMD_* */
    uint32_t cmd_result;        /* atomic */
    char log[PROXYCARD_LOG_SIZE];          /* firmware thread: the firmware's log ring */
    size_t log_pos, log_len;
    /* the firmware's error lines on stderr, rate-limited (firmware thread) */
    int64_t log_window_ms;      /* QEMU_CLOCK_REALTIME: this second began */
    unsigned log_printed;       /* lines printed in it */
    unsigned log_suppressed;    /* lines not printed, not yet reported */

    /* statistics published by the firmware thread, under stats_lock */
    QemuMutex stats_lock;
    struct pcfw_stats stats;
    uint64_t fw_cpu_ns;         /* the firmware thread's CPU time */

    /* the VM's run state and QEMU's exit (proxycard.c) */
    VMChangeStateEntry *vm_state_entry;
    Notifier shutdown_notifier;

    /* firmware -> main loop interrupts */
    QEMUBH *irq_bh;
    uint32_t irq_pending;       /* atomic: MSI-X vectors to notify */

    /* registers: atomics where the firmware thread writes them */
    uint32_t fw_state;          /* atomic */
    uint32_t error;             /* atomic, sticky until reset */
    uint32_t intr_cause;        /* atomic */
    uint32_t test_intr_count;   /* atomic */
    uint32_t intr_mask;         /* written under BQL, read by any thread */
    uint32_t scratch;           /* BQL */
    uint32_t reset_count;       /* BQL */
};

/* proxycard.c */
void proxycard_raise(ProxyCardState *s, unsigned vector, uint32_t cause);
void proxycard_set_fw_state(ProxyCardState *s, uint32_t state);
void proxycard_set_error(ProxyCardState *s, uint32_t err);

/* proxycard_fw_host.c */
bool proxycard_fw_configure(ProxyCardState *s, Error **errp);
void proxycard_fw_wake(ProxyCardState *s);
bool proxycard_fw_start(ProxyCardState *s, Error **errp);
void proxycard_fw_stop(ProxyCardState *s);
void proxycard_fw_reset(ProxyCardState *s);
void proxycard_fw_sync(ProxyCardState *s);
void proxycard_fw_vm_running(ProxyCardState *s, bool running);
bool proxycard_fw_yield(ProxyCardState *s);
void proxycard_stats_values(ProxyCardState *s, uint64_t v[PROXYCARD_STAT_COUNT]);

/* proxycard_bus.c */
typedef struct PCBusFrame PCBusFrame;
void proxycard_bus_init(ProxyCardState *s);
void proxycard_bus_cleanup(ProxyCardState *s);
void proxycard_bus_reset(ProxyCardState *s);
bool proxycard_bus_mmio_read(ProxyCardState *s, hwaddr addr, uint32_t *val);
bool proxycard_bus_mmio_write(ProxyCardState *s, hwaddr addr, uint32_t val);
void proxycard_bus_run(ProxyCardState *s);
void proxycard_bus_end_pass(ProxyCardState *s);
int64_t proxycard_bus_deadline(ProxyCardState *s);
int proxycard_bus_send(ProxyCardState *s, const void *frame, size_t len);
void proxycard_bus_fw_reset(ProxyCardState *s);

/* proxycard_ctl.c */
bool proxycard_ctl_mmio_read(ProxyCardState *s, hwaddr addr, uint32_t *val);
bool proxycard_ctl_mmio_write(ProxyCardState *s, hwaddr addr, uint32_t val);
void proxycard_ctl_reset(ProxyCardState *s);
void proxycard_ctl_log(ProxyCardState *s, enum pcfw_log_level level,
                       const char *msg);
void proxycard_ctl_run(ProxyCardState *s);

/*
 * proxycard_dma.c: firmware thread; false (nothing copied) unless the whole
 * range is directly accessible memory.
 */
bool proxycard_dma_rw(ProxyCardState *s, dma_addr_t addr, void *buf,
                      dma_addr_t len, DMADirection dir);

/* proxycard_nic.c */
typedef struct PCFrame PCFrame;
void proxycard_nic_init(ProxyCardState *s);
void proxycard_nic_cleanup(ProxyCardState *s);
void proxycard_nic_stop(ProxyCardState *s);
void proxycard_nic_drain(ProxyCardState *s);
int proxycard_nic_send(ProxyCardState *s, const void *frame, size_t len);

#endif /* HW_PROXYCARD_H */
