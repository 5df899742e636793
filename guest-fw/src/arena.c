/*
 * Card-memory arena: boundary-tag allocator with segregated free lists.
 *
 * Layout of the managed memory:
 *
 *   [struct pcfw_arena][block][block]...[block][sentinel header]
 *
 * Every block starts with a 16-byte header: the block size (a multiple of 16,
 * header included) with two flag bits, and a magic word telling used from
 * free.  A free block also holds its free-list links after the header and a
 * copy of its size in its last 8 bytes (the footer), so that the block after
 * it can find its start when coalescing.
 *
 * Invariants (checked by pcfw_arena_check()):
 *   - blocks tile [first, sentinel) exactly;
 *   - a block's PREV_INUSE flag equals the INUSE flag of the block before it;
 *   - no two free blocks are adjacent (free coalesces at once);
 *   - every free block is on exactly the list of its size class, and a class
 *     has its bit set in the bitmap if and only if its list is non-empty.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>
#include "arena.h"

#define HDR_SIZE        16u
#define MIN_BLOCK       48u     /* header + two links + footer, rounded */
#define F_INUSE         1u
#define F_PREV_INUSE    2u
#define F_MASK          15u
#define MAGIC_USED      0x5553454443524150ull   /* "PCRDUSE" */
#define MAGIC_FREE      0x4545524643524150ull   /* "PCRFREE" */
#define NBINS           128
#define BIN_WORDS       (NBINS / 64)

struct blk {
    uint64_t head;              /* size | flags */
    uint64_t magic;
    struct blk *next, *prev;    /* free blocks only */
};

struct pcfw_arena {
    uint8_t *first;             /* first block */
    uint8_t *end;               /* the sentinel header */
    uint64_t bitmap[BIN_WORDS];
    struct blk *bins[NBINS];
    struct pcfw_mem_stats st;
    uint64_t bad_frees;
    size_t reserve;             /* pcfw_arena_set_reserve() */
};

static inline size_t blk_size(const struct blk *b)
{
    return (size_t)(b->head & ~(uint64_t)F_MASK);
}

static inline struct blk *blk_at(const void *p, size_t off)
{
    return (struct blk *)((uint8_t *)p + off);
}

static inline void set_footer(struct blk *b)
{
    size_t sz = blk_size(b);

    memcpy((uint8_t *)b + sz - sizeof(uint64_t), &(uint64_t){ sz },
           sizeof(uint64_t));
}

static inline size_t prev_size(const struct blk *b)
{
    uint64_t sz;

    memcpy(&sz, (const uint8_t *)b - sizeof(uint64_t), sizeof(sz));
    return (size_t)sz;
}

/* Size class: four classes per power of two, from 32 bytes up. */
static unsigned bin_of(size_t size)
{
    unsigned fl = 63u - (unsigned)__builtin_clzll((unsigned long long)size);
    unsigned sl = (unsigned)(size >> (fl - 2)) & 3u;
    unsigned idx = (fl - 5u) * 4u + sl;

    return idx < NBINS ? idx : NBINS - 1;
}

static void bin_insert(struct pcfw_arena *a, struct blk *b)
{
    unsigned i = bin_of(blk_size(b));

    b->magic = MAGIC_FREE;
    b->prev = NULL;
    b->next = a->bins[i];
    if (b->next) {
        b->next->prev = b;
    }
    a->bins[i] = b;
    a->bitmap[i / 64] |= 1ull << (i % 64);
}

static void bin_remove(struct pcfw_arena *a, struct blk *b)
{
    unsigned i = bin_of(blk_size(b));

    if (b->prev) {
        b->prev->next = b->next;
    } else {
        a->bins[i] = b->next;
    }
    if (b->next) {
        b->next->prev = b->prev;
    }
    if (!a->bins[i]) {
        a->bitmap[i / 64] &= ~(1ull << (i % 64));
    }
}

/* First non-empty class above @i, or NBINS. */
static unsigned bin_next(const struct pcfw_arena *a, unsigned i)
{
    for (unsigned j = i + 1; j < NBINS; j = (j / 64 + 1) * 64) {
        uint64_t w = a->bitmap[j / 64] & (~0ull << (j % 64));

        if (w) {
            return (j / 64) * 64 + (unsigned)__builtin_ctzll(w);
        }
    }
    return NBINS;
}

struct pcfw_arena *pcfw_arena_init(void *mem, size_t size)
{
    uintptr_t lo = (uintptr_t)mem, hi = lo + size;
    uintptr_t start = (lo + PCFW_ARENA_ALIGN - 1) & ~(uintptr_t)(PCFW_ARENA_ALIGN - 1);
    struct pcfw_arena *a = (struct pcfw_arena *)start;
    uintptr_t first = (start + sizeof(*a) + 15) & ~(uintptr_t)15;
    uintptr_t end = (hi & ~(uintptr_t)15);
    struct blk *b, *sentinel;

    if (!mem || hi < lo || end < first + MIN_BLOCK + HDR_SIZE) {
        return NULL;
    }
    end -= HDR_SIZE;

    memset(a, 0, sizeof(*a));
    a->first = (uint8_t *)first;
    a->end = (uint8_t *)end;
    a->st.size = size;

    sentinel = (struct blk *)end;
    sentinel->head = F_INUSE;           /* size 0, never freed or merged */
    sentinel->magic = MAGIC_USED;

    b = (struct blk *)first;
    b->head = (end - first) | F_PREV_INUSE;
    set_footer(b);
    bin_insert(a, b);
    return a;
}

void pcfw_arena_set_reserve(struct pcfw_arena *a, size_t reserve)
{
    a->reserve = reserve < a->st.size ? reserve : a->st.size;
}

/* Bytes of the arena's size @cls may not take (see enum pcfw_mem_class). */
static size_t held_back(const struct pcfw_arena *a, enum pcfw_mem_class cls)
{
    switch (cls) {
    case PCFW_MEM_DATA:
        return a->reserve;
    case PCFW_MEM_FRAME:
        return a->reserve / 2;
    default:
        return 0;
    }
}

void *pcfw_arena_alloc_class(struct pcfw_arena *a, size_t n,
                             enum pcfw_mem_class cls)
{
    size_t need;
    unsigned i;
    struct blk *b = NULL, *next;

    if (n > (size_t)(a->end - a->first)) {
        a->st.failures++;
        return NULL;
    }
    need = (n + HDR_SIZE + 15) & ~(size_t)15;
    if (need < MIN_BLOCK) {
        need = MIN_BLOCK;
    }
    if (a->st.in_use + need + held_back(a, cls) > a->st.size) {
        a->st.failures++;
        return NULL;
    }

    /* First fit within the own class, then the head of any larger class. */
    i = bin_of(need);
    for (struct blk *c = a->bins[i]; c; c = c->next) {
        if (blk_size(c) >= need) {
            b = c;
            break;
        }
    }
    if (!b) {
        i = bin_next(a, i);
        if (i == NBINS) {
            a->st.failures++;
            return NULL;
        }
        b = a->bins[i];
    }
    bin_remove(a, b);

    if (blk_size(b) - need >= MIN_BLOCK) {
        struct blk *rest = blk_at(b, need);

        rest->head = (blk_size(b) - need) | F_PREV_INUSE;
        set_footer(rest);
        bin_insert(a, rest);
        b->head = need | (b->head & F_PREV_INUSE);
        /* The block after rest keeps PREV_INUSE clear: rest is free. */
    } else {
        next = blk_at(b, blk_size(b));
        next->head |= F_PREV_INUSE;
    }
    b->head |= F_INUSE;
    b->magic = MAGIC_USED;

    a->st.in_use += blk_size(b);
    if (a->st.in_use > a->st.high_water) {
        a->st.high_water = a->st.in_use;
    }
    a->st.allocs++;
    return (uint8_t *)b + HDR_SIZE;
}

void *pcfw_arena_alloc(struct pcfw_arena *a, size_t n)
{
    return pcfw_arena_alloc_class(a, n, PCFW_MEM_DATA);
}

void *pcfw_arena_calloc_class(struct pcfw_arena *a, size_t nmemb, size_t n,
                              enum pcfw_mem_class cls)
{
    void *p;

    if (n && nmemb > SIZE_MAX / n) {
        a->st.failures++;
        return NULL;
    }
    p = pcfw_arena_alloc_class(a, nmemb * n, cls);
    if (p) {
        memset(p, 0, nmemb * n);
    }
    return p;
}

void *pcfw_arena_calloc(struct pcfw_arena *a, size_t nmemb, size_t n)
{
    return pcfw_arena_calloc_class(a, nmemb, n, PCFW_MEM_DATA);
}

/* The used block behind @p, or NULL if @p is not one the arena handed out. */
static struct blk *used_block(const struct pcfw_arena *a, const void *p)
{
    const uint8_t *q = p;
    struct blk *b;

    if (q < a->first + HDR_SIZE || q >= a->end ||
        ((uintptr_t)q & (PCFW_ARENA_ALIGN - 1))) {
        return NULL;
    }
    b = (struct blk *)(q - HDR_SIZE);
    if (b->magic != MAGIC_USED || !(b->head & F_INUSE) ||
        blk_size(b) < MIN_BLOCK || blk_size(b) > (size_t)(a->end - (uint8_t *)b)) {
        return NULL;
    }
    return b;
}

void pcfw_arena_free(struct pcfw_arena *a, void *p)
{
    struct blk *b, *next;
    size_t size;

    if (!p) {
        return;
    }
    b = used_block(a, p);
    if (!b) {
        a->bad_frees++;
        return;
    }
    size = blk_size(b);
    a->st.in_use -= size;
    a->st.frees++;

    if (!(b->head & F_PREV_INUSE)) {
        /* Subtract: adding a wrapped size_t overflows the pointer (UB). */
        struct blk *prev = (struct blk *)((uint8_t *)b - prev_size(b));

        bin_remove(a, prev);
        size += blk_size(prev);
        b->magic = 0;                   /* no longer a block start */
        b = prev;
    }
    next = blk_at(b, size);
    if (!(next->head & F_INUSE)) {
        bin_remove(a, next);
        size += blk_size(next);
        next->magic = 0;
    }
    /* b's predecessor is in use: either it was, or we merged into it. */
    b->head = size | F_PREV_INUSE;
    set_footer(b);
    bin_insert(a, b);
    next = blk_at(b, size);
    next->head &= ~(uint64_t)F_PREV_INUSE;
}

size_t pcfw_arena_usable_size(const struct pcfw_arena *a, const void *p)
{
    const struct blk *b = used_block(a, p);

    return b ? blk_size(b) - HDR_SIZE : 0;
}

void pcfw_arena_stats(const struct pcfw_arena *a, struct pcfw_mem_stats *st)
{
    *st = a->st;
}

size_t pcfw_arena_in_use(const struct pcfw_arena *a)
{
    return (size_t)a->st.in_use;
}

uint64_t pcfw_arena_bad_frees(const struct pcfw_arena *a)
{
    return a->bad_frees;
}

bool pcfw_arena_check(const struct pcfw_arena *a)
{
    const uint8_t *p = a->first;
    bool prev_used = true;
    uint64_t used = 0, nfree = 0, nlisted = 0;

    while (p < a->end) {
        const struct blk *b = (const struct blk *)p;
        size_t sz = blk_size(b);
        bool in_use = b->head & F_INUSE;

        if (sz < MIN_BLOCK || sz > (size_t)(a->end - p) ||
            !!(b->head & F_PREV_INUSE) != prev_used) {
            return false;
        }
        if (in_use) {
            if (b->magic != MAGIC_USED) {
                return false;
            }
            used += sz;
        } else {
            const struct blk *n = blk_at(b, sz);

            if (b->magic != MAGIC_FREE || !prev_used ||
                prev_size(n) != sz) {
                return false;
            }
            nfree++;
        }
        prev_used = in_use;
        p += sz;
    }
    if (p != a->end || !!(((const struct blk *)p)->head & F_PREV_INUSE) != prev_used) {
        return false;
    }
    for (unsigned i = 0; i < NBINS; i++) {
        bool bit = a->bitmap[i / 64] & (1ull << (i % 64));

        if (bit != (a->bins[i] != NULL)) {
            return false;
        }
        for (const struct blk *b = a->bins[i]; b; b = b->next) {
            if (b->magic != MAGIC_FREE || bin_of(blk_size(b)) != i ||
                (b->next && b->next->prev != b)) {
                return false;
            }
            nlisted++;
        }
    }
    return nlisted == nfree && used == a->st.in_use;
}
