/*
 * proxycard: DMA by the card CPU (the firmware thread).
 *
 * The firmware thread must never take the BQL: a vCPU holding it may be
 * waiting for the thread (CONTROL.RESET, BUS_CONTROL = 0, machine reset,
 * exit), docs/firmware.md "Threads and locks".  pci_dma_rw() with
 * .memory = 1 is not enough for that: the attribute only refuses regions
 * that are not RAM, and ROM (the BIOS, its 0xc0000 alias, ROM devices)
 * counts as RAM, yet a write to it, and any access to a ram_device region
 * (a VFIO BAR), is not a direct access: QEMU takes the MMIO path and
 * prepare_mmio_access() locks the BQL.
 *
 * So every access here is translated, checked and copied through
 * MemoryRegionCaches, which hold a reference to one FlatView and to the
 * MemoryRegion they found: the whole range must be memory the thread can
 * touch directly in that FlatView (writable RAM for a write, RAM or ROM for
 * a read), checked for every piece before the first byte moves, or nothing
 * is copied and the caller reports ERR_DMA.  A guest that remaps a BAR over
 * the buffer at the same moment cannot turn a checked RAM address into
 * MMIO: the copy goes to the RAM that was mapped when it was checked, as if
 * the DMA had happened just before the remap.  The same rule makes DMA into
 * the card's own BAR0 (re-entrancy) impossible.
 *
 * The view is the device's bus-master address space: with bus mastering
 * off it maps nothing, and behind a vIOMMU its root is an IOMMU region,
 * which is not RAM either, so the card does no DMA through a vIOMMU
 * (datasheet section 5).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/rcu.h"
#include "exec/memory.h"
#include "hw/pci/pci.h"
#include "proxycard.h"

/*
 * A buffer may span this many RAM regions (RAM below and above 4 GiB are
 * separate regions; a frame or a command buffer needs one or two).
 */
#define PROXYCARD_DMA_MAX_PIECES    4

bool proxycard_dma_rw(ProxyCardState *s, dma_addr_t addr, void *buf,
                      dma_addr_t len, DMADirection dir)
{
    AddressSpace *as = pci_get_address_space(&s->parent_obj);
    bool is_write = dir == DMA_DIRECTION_FROM_DEVICE;
    MemoryRegionCache cache[PROXYCARD_DMA_MAX_PIECES];
    unsigned pieces = 0;
    dma_addr_t mapped = 0;
    uint8_t *p = buf;
    bool ok = true;

    if (len == 0) {
        return true;
    }
    if (addr + len < addr) {
        return false;                   /* wraps around the address space */
    }

    RCU_READ_LOCK_GUARD();
    /* Check the whole range first: every piece directly accessible. */
    while (mapped < len) {
        MemoryRegionCache *c = &cache[pieces];
        int64_t l;

        if (pieces == PROXYCARD_DMA_MAX_PIECES) {
            ok = false;
            break;
        }
        l = address_space_cache_init(c, as, addr + mapped, len - mapped,
                                     is_write);
        pieces++;
        if (l <= 0 || !c->ptr) {        /* not RAM (or ROM, for a read) */
            ok = false;
            break;
        }
        mapped += l;
    }
    /* Then copy: memcpy plus dirty tracking, never the MMIO dispatch. */
    for (unsigned i = 0; ok && i < pieces; i++) {
        if (is_write) {
            address_space_write_cached(&cache[i], 0, p, cache[i].len);
        } else {
            address_space_read_cached(&cache[i], 0, p, cache[i].len);
        }
        p += cache[i].len;
    }
    for (unsigned i = 0; i < pieces; i++) {
        address_space_cache_destroy(&cache[i]);
    }
    return ok;
}
