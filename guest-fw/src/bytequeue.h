/*
 * Byte queues in card memory: the per-connection input and output queues of
 * the patent's FIG. 4.
 *
 * A queue is a FIFO of bytes stored in a chain of chunks allocated from the
 * arena as data arrives and freed as it is consumed, so an idle connection
 * holds no buffer at all.  Appending stops at the first chunk the arena
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

struct pcfw_bq {
    struct pcfw_arena *arena;
    struct pcfw_bq_chunk *head, *tail;
    size_t len;             /* bytes queued */
    uint32_t chunk_size;    /* payload bytes per chunk */
};

void pcfw_bq_init(struct pcfw_bq *q, struct pcfw_arena *arena,
                  uint32_t chunk_size);

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
 * copying it out first.
 */
const void *pcfw_bq_segment(const struct pcfw_bq *q, size_t off, size_t *len);

/* Drop @n bytes (at most pcfw_bq_len) from the front, freeing chunks. */
void pcfw_bq_consume(struct pcfw_bq *q, size_t n);

/* Drop everything. */
void pcfw_bq_clear(struct pcfw_bq *q);

#endif /* PCFW_BYTEQUEUE_H */
