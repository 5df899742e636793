/*
 * Byte queues in card memory: the per-connection input and output queues of
 * the patent's FIG. 4.
 *
 * A queue is a FIFO of bytes stored in a chain of chunks allocated from the
 * arena as data arrives and freed as it is consumed, so an idle connection
 * holds no buffer at all.  The first chunk of an empty queue is small
 * (PCFW_BQ_FIRST_BLOCK bytes of card memory), so that a few bytes (a
 * request line trickling in) cost little; later chunks are the queue's
 * full block size.  Appending stops at the first chunk the arena
 * cannot provide and reports how much was taken: the caller turns a short
 * append into back-pressure (it does not acknowledge the rest to TCP).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_BYTEQUEUE_H
#define PCFW_BYTEQUEUE_H

#include <stddef.h>
#include <stdint.h>
#include "arena.h"

struct pcfw_bq_chunk;

/* Card memory taken by the first chunk of an empty queue. */
#define PCFW_BQ_FIRST_BLOCK 512

struct pcfw_bq {
    struct pcfw_arena *arena;
    struct pcfw_bq_chunk *head, *tail;
    size_t len;             /* bytes queued */
    uint32_t block_size;    /* card memory per full chunk, header included */
    /* pcfw_bq_segment()'s cursor: chunk @cur starts at queue offset @cur_off. */
    struct pcfw_bq_chunk *cur;
    size_t cur_off;
    uint64_t seg_steps;     /* chunks pcfw_bq_segment() stepped over */
};

/*
 * @block_size: card memory per chunk, arena and chunk headers included
 * (e.g. 4096 makes arena blocks of exactly 4 KiB).
 */
void pcfw_bq_init(struct pcfw_bq *q, struct pcfw_arena *arena,
                  uint32_t block_size);

/* Append up to @len bytes; returns how many were taken (< @len: no memory). */
size_t pcfw_bq_append(struct pcfw_bq *q, const void *data, size_t len);

static inline size_t pcfw_bq_len(const struct pcfw_bq *q)
{
    return q->len;
}

/* The byte at @off (< pcfw_bq_len). */
uint8_t pcfw_bq_at(const struct pcfw_bq *q, size_t off);

/* Copy up to @len bytes from offset @off into @buf; returns bytes copied. */
size_t pcfw_bq_peek(const struct pcfw_bq *q, size_t off, void *buf,
                    size_t len);

/* The first contiguous run of queued bytes; *@len is 0 when empty. */
const void *pcfw_bq_front(const struct pcfw_bq *q, size_t *len);

/*
 * The contiguous run of queued bytes starting at offset @off; *@len is 0
 * when @off is at or past the end.  For sending a queue's middle without
 * copying it out first.  It walks on from where its last call stopped when
 * @off is not before it, so rising offsets cost O(1) each, not a walk from
 * the head (quadratic over a 1 MiB body).
 */
const void *pcfw_bq_segment(struct pcfw_bq *q, size_t off, size_t *len);

/* Drop @n bytes (at most pcfw_bq_len) from the front, freeing chunks. */
void pcfw_bq_consume(struct pcfw_bq *q, size_t n);

/* Drop everything. */
void pcfw_bq_clear(struct pcfw_bq *q);

#endif /* PCFW_BYTEQUEUE_H */
