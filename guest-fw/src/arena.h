/*
 * Card-memory arena: the only allocator of the firmware.
 *
 * One contiguous block of card memory (the device's mem-size) managed with
 * boundary tags and segregated free lists (128 size classes, four per power
 * of two, found through a bitmap): allocation and free are O(1) apart from a
 * walk of one size class, and adjacent free blocks are always coalesced.
 *
 * Exhaustion is an ordinary outcome: pcfw_arena_alloc() returns NULL, counts
 * a failure, and the caller applies back-pressure or answers 503.
 *
 * Not thread-safe: only the firmware thread uses it.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_ARENA_H
#define PCFW_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pcfw.h"

/* Every pointer returned is aligned to this many bytes. */
#define PCFW_ARENA_ALIGN    16
/* Bytes a block spends on its header: n bytes asked cost n + this, rounded. */
#define PCFW_ARENA_OVERHEAD 16

struct pcfw_arena;

/*
 * Make an arena of the @size bytes at @mem.  The arena's own bookkeeping
 * lives at the start of @mem.  Returns NULL if @size is too small to hold it.
 */
struct pcfw_arena *pcfw_arena_init(void *mem, size_t size);

/*
 * Who an allocation is for, in rising priority (issue 9, docs/firmware.md
 * "Memory under attack").  The top `reserve` bytes of the arena
 * (pcfw_arena_set_reserve()) are out of reach of data buffers; its upper
 * half is out of reach of received frames too; lwIP's own allocations
 * (timers, pcbs, segments, the pbufs of ACKs) may use all of it.
 */
enum pcfw_mem_class {
    PCFW_MEM_DATA,      /* buffered bytes: bytequeues, heads, bodies */
    PCFW_MEM_FRAME,     /* a received frame */
    PCFW_MEM_STACK,     /* lwIP's own state */
};

void pcfw_arena_set_reserve(struct pcfw_arena *a, size_t reserve);

/* pcfw_arena_alloc() and _calloc() are for PCFW_MEM_DATA. */
void *pcfw_arena_alloc(struct pcfw_arena *a, size_t n);
void *pcfw_arena_calloc(struct pcfw_arena *a, size_t nmemb, size_t n);
void *pcfw_arena_alloc_class(struct pcfw_arena *a, size_t n,
                             enum pcfw_mem_class cls);
void *pcfw_arena_calloc_class(struct pcfw_arena *a, size_t nmemb, size_t n,
                              enum pcfw_mem_class cls);

/*
 * Free @p (NULL is ignored).  A pointer that the arena did not hand out, or
 * one freed twice, is refused and counted in bad_frees, never followed.
 */
void pcfw_arena_free(struct pcfw_arena *a, void *p);

/* Usable size of the block behind @p (at least what was asked for). */
size_t pcfw_arena_usable_size(const struct pcfw_arena *a, const void *p);

void pcfw_arena_stats(const struct pcfw_arena *a, struct pcfw_mem_stats *st);
/* Bytes in allocated blocks, headers included (st.in_use). */
size_t pcfw_arena_in_use(const struct pcfw_arena *a);
uint64_t pcfw_arena_bad_frees(const struct pcfw_arena *a);

/*
 * Walk every block and check the invariants (tags agree, no two free blocks
 * adjacent, free lists hold exactly the free blocks, in_use adds up).
 * For tests and debugging; O(blocks).
 */
bool pcfw_arena_check(const struct pcfw_arena *a);

#endif /* PCFW_ARENA_H */
