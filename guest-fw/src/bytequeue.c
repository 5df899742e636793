/*
 * Byte queues in card memory.  See bytequeue.h.
 *
 * Invariants: head == NULL iff tail == NULL iff len == 0; every chunk holds
 * bytes [start, end) with start < end (no empty chunk stays queued); len is
 * the sum of (end - start) over the chain.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>
#include "bytequeue.h"

#define MIN_U32(a, b) ((a) < (b) ? (a) : (b))

struct pcfw_bq_chunk {
    struct pcfw_bq_chunk *next;
    uint32_t start, end, cap;
    uint8_t data[];
};

/* The payload of a chunk whose block (headers included) is @block bytes. */
static uint32_t payload_of(uint32_t block)
{
    uint32_t hdr = sizeof(struct pcfw_bq_chunk) + PCFW_ARENA_OVERHEAD;

    return block > hdr ? block - hdr : 1;
}

void pcfw_bq_init(struct pcfw_bq *q, struct pcfw_arena *arena,
                  uint32_t block_size)
{
    q->arena = arena;
    q->head = q->tail = NULL;
    q->len = 0;
    q->block_size = block_size;
    q->cur = NULL;
    q->cur_off = 0;
    q->seg_steps = 0;
}

size_t pcfw_bq_append(struct pcfw_bq *q, const void *data, size_t len)
{
    const uint8_t *src = data;
    size_t done = 0;

    while (done < len) {
        struct pcfw_bq_chunk *c = q->tail;
        size_t n;

        if (!c || c->end == c->cap) {
            uint32_t cap = payload_of(q->head ? q->block_size
                                              : MIN_U32(q->block_size,
                                                        PCFW_BQ_FIRST_BLOCK));

            c = pcfw_arena_alloc(q->arena, sizeof(*c) + cap);
            if (!c) {
                break;
            }
            c->next = NULL;
            c->start = c->end = 0;
            c->cap = cap;
            if (q->tail) {
                q->tail->next = c;
            } else {
                q->head = c;
            }
            q->tail = c;
        }
        n = c->cap - c->end;
        if (n > len - done) {
            n = len - done;
        }
        memcpy(c->data + c->end, src + done, n);
        c->end += (uint32_t)n;
        done += n;
        q->len += n;
    }
    return done;
}

uint8_t pcfw_bq_at(const struct pcfw_bq *q, size_t off)
{
    for (const struct pcfw_bq_chunk *c = q->head; c; c = c->next) {
        size_t n = c->end - c->start;

        if (off < n) {
            return c->data[c->start + off];
        }
        off -= n;
    }
    return 0;
}

size_t pcfw_bq_peek(const struct pcfw_bq *q, size_t off, void *buf,
                    size_t len)
{
    uint8_t *dst = buf;
    size_t done = 0;

    for (const struct pcfw_bq_chunk *c = q->head; c && done < len; c = c->next) {
        size_t n = c->end - c->start;

        if (off >= n) {
            off -= n;
            continue;
        }
        n -= off;
        if (n > len - done) {
            n = len - done;
        }
        memcpy(dst + done, c->data + c->start + off, n);
        done += n;
        off = 0;
    }
    return done;
}

const void *pcfw_bq_front(const struct pcfw_bq *q, size_t *len)
{
    if (!q->head) {
        *len = 0;
        return NULL;
    }
    *len = q->head->end - q->head->start;
    return q->head->data + q->head->start;
}

const void *pcfw_bq_segment(struct pcfw_bq *q, size_t off, size_t *len)
{
    struct pcfw_bq_chunk *c = q->head;
    size_t base = 0;

    if (q->cur && off >= q->cur_off) {
        c = q->cur;
        base = q->cur_off;
    }
    for (; c; c = c->next) {
        size_t n = c->end - c->start;

        q->seg_steps++;
        if (off - base < n) {
            q->cur = c;
            q->cur_off = base;
            *len = n - (off - base);
            return c->data + c->start + (off - base);
        }
        base += n;
    }
    *len = 0;
    return NULL;
}

void pcfw_bq_consume(struct pcfw_bq *q, size_t n)
{
    if (n > q->len) {
        n = q->len;
    }
    q->len -= n;
    /* Chunks freed below all lie before the cursor's when n <= cur_off. */
    if (q->cur && n <= q->cur_off) {
        q->cur_off -= n;
    } else {
        q->cur = NULL;
    }
    while (n) {
        struct pcfw_bq_chunk *c = q->head;
        size_t have = c->end - c->start;

        if (n < have) {
            c->start += (uint32_t)n;
            return;
        }
        n -= have;
        q->head = c->next;
        pcfw_arena_free(q->arena, c);
    }
    if (!q->head) {
        q->tail = NULL;
    }
}

void pcfw_bq_clear(struct pcfw_bq *q)
{
    pcfw_bq_consume(q, q->len);
}
