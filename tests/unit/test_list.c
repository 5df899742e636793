/*
 * Unit tests: intrusive queues (client, ready and read-pending queues).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <check.h>
#include "fw_unit.h"
#include "list.h"

struct item {
    int id;
    struct pcfw_list link;
};

static int pop_id(struct pcfw_list *head)
{
    struct pcfw_list *e = pcfw_list_pop_head(head);

    return e ? pcfw_container_of(e, struct item, link)->id : -1;
}

START_TEST(test_fifo_order)
{
    struct pcfw_list q;
    struct item it[5];

    pcfw_list_init(&q);
    ck_assert(pcfw_list_empty(&q));
    for (int i = 0; i < 5; i++) {
        it[i].id = i;
        pcfw_list_init(&it[i].link);
        pcfw_list_push_tail(&q, &it[i].link);
    }
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(pop_id(&q), i);
    }
    ck_assert_int_eq(pop_id(&q), -1);
    ck_assert(pcfw_list_empty(&q));
}
END_TEST

START_TEST(test_move_between_queues)
{
    /* FIG. 9: a client moves from the ready queue to read-pending. */
    struct pcfw_list ready, pending;
    struct item a = { .id = 1 }, b = { .id = 2 };

    pcfw_list_init(&ready);
    pcfw_list_init(&pending);
    pcfw_list_init(&a.link);
    pcfw_list_init(&b.link);
    ck_assert(!pcfw_list_linked(&a.link));
    pcfw_list_push_tail(&ready, &a.link);
    pcfw_list_push_tail(&ready, &b.link);
    ck_assert(pcfw_list_linked(&a.link));

    pcfw_list_remove(&a.link);
    pcfw_list_push_tail(&pending, &a.link);
    ck_assert_int_eq(pop_id(&ready), 2);
    ck_assert(pcfw_list_empty(&ready));
    ck_assert_int_eq(pop_id(&pending), 1);

    pcfw_list_remove(&a.link);          /* removing an unlinked item: no-op */
    ck_assert(!pcfw_list_linked(&a.link));
}
END_TEST

START_TEST(test_remove_while_iterating)
{
    struct pcfw_list q, *pos, *tmp;
    struct item it[6];
    int seen = 0;

    pcfw_list_init(&q);
    for (int i = 0; i < 6; i++) {
        it[i].id = i;
        pcfw_list_init(&it[i].link);
        pcfw_list_push_tail(&q, &it[i].link);
    }
    pcfw_list_for_each_safe(pos, tmp, &q) {
        if (pcfw_container_of(pos, struct item, link)->id % 2) {
            pcfw_list_remove(pos);
        }
        seen++;
    }
    ck_assert_int_eq(seen, 6);
    ck_assert_int_eq(pop_id(&q), 0);
    ck_assert_int_eq(pop_id(&q), 2);
    ck_assert_int_eq(pop_id(&q), 4);
    ck_assert(pcfw_list_empty(&q));

    pcfw_list_push_head(&q, &it[1].link);
    pcfw_list_push_head(&q, &it[3].link);
    ck_assert_int_eq(pop_id(&q), 3);
    ck_assert_int_eq(pop_id(&q), 1);
}
END_TEST

Suite *list_suite(void)
{
    Suite *s = suite_create("list");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_fifo_order);
    tcase_add_test(tc, test_move_between_queues);
    tcase_add_test(tc, test_remove_while_iterating);
    suite_add_tcase(s, tc);
    return s;
}
