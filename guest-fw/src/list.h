/*
 * Intrusive doubly-linked lists for the firmware's queues (the client, ready
 * and read-pending queues of the patent's FIG. 4): an element is linked into
 * a queue through a struct pcfw_list member, so queueing never allocates.
 *
 * A list head is a struct pcfw_list pointing to itself when empty.  An
 * element not on any list has next == prev == itself (pcfw_list_init), so
 * pcfw_list_linked() tells whether it is queued and removal is idempotent.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_LIST_H
#define PCFW_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct pcfw_list {
    struct pcfw_list *next, *prev;
};

#define pcfw_container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void pcfw_list_init(struct pcfw_list *l)
{
    l->next = l->prev = l;
}

static inline bool pcfw_list_empty(const struct pcfw_list *head)
{
    return head->next == head;
}

/* True when @e is on some list. */
static inline bool pcfw_list_linked(const struct pcfw_list *e)
{
    return e->next != e;
}

static inline void pcfw_list_insert_before(struct pcfw_list *pos,
                                           struct pcfw_list *e)
{
    e->prev = pos->prev;
    e->next = pos;
    pos->prev->next = e;
    pos->prev = e;
}

static inline void pcfw_list_push_tail(struct pcfw_list *head,
                                       struct pcfw_list *e)
{
    pcfw_list_insert_before(head, e);
}

static inline void pcfw_list_push_head(struct pcfw_list *head,
                                       struct pcfw_list *e)
{
    pcfw_list_insert_before(head->next, e);
}

/* Unlink @e (a no-op when it is on no list) and leave it unlinked. */
static inline void pcfw_list_remove(struct pcfw_list *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    pcfw_list_init(e);
}

/* Unlink and return the first element, or NULL when @head is empty. */
static inline struct pcfw_list *pcfw_list_pop_head(struct pcfw_list *head)
{
    struct pcfw_list *e = head->next;

    if (e == head) {
        return NULL;
    }
    pcfw_list_remove(e);
    return e;
}

/* Iterate; the body may remove the current element. */
#define pcfw_list_for_each_safe(pos, tmp, head) \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); \
         (pos) = (tmp), (tmp) = (pos)->next)

#endif /* PCFW_LIST_H */
