/*
 * Unit tests: the card-memory arena.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "arena.h"
#include "fw_unit.h"

#define MEM (1u << 20)

static uint8_t *mem;
static struct pcfw_arena *a;

static void setup(void)
{
    mem = malloc(MEM);
    ck_assert_ptr_nonnull(mem);
    a = pcfw_arena_init(mem, MEM);
    ck_assert_ptr_nonnull(a);
}

static void teardown(void)
{
    free(mem);
}

START_TEST(test_init_too_small)
{
    uint8_t small[256];

    ck_assert_ptr_null(pcfw_arena_init(small, sizeof(small)));
    ck_assert_ptr_null(pcfw_arena_init(NULL, MEM));
}
END_TEST

START_TEST(test_alloc_aligned_and_writable)
{
    void *p[64];

    for (int i = 0; i < 64; i++) {
        p[i] = pcfw_arena_alloc(a, (size_t)i * 7 + 1);
        ck_assert_ptr_nonnull(p[i]);
        ck_assert_uint_eq((uintptr_t)p[i] % PCFW_ARENA_ALIGN, 0);
        ck_assert_uint_ge(pcfw_arena_usable_size(a, p[i]), (size_t)i * 7 + 1);
        memset(p[i], i, (size_t)i * 7 + 1);
    }
    /* No block overlaps another: every byte still holds its owner's mark. */
    for (int i = 0; i < 64; i++) {
        for (size_t j = 0; j < (size_t)i * 7 + 1; j++) {
            ck_assert_uint_eq(((uint8_t *)p[i])[j], (uint8_t)i);
        }
    }
    ck_assert(pcfw_arena_check(a));
    for (int i = 0; i < 64; i++) {
        pcfw_arena_free(a, p[i]);
    }
    ck_assert(pcfw_arena_check(a));
}
END_TEST

START_TEST(test_accounting)
{
    struct pcfw_mem_stats st;
    void *p, *q;

    pcfw_arena_stats(a, &st);
    ck_assert_uint_eq(st.size, MEM);
    ck_assert_uint_eq(st.in_use, 0);

    p = pcfw_arena_alloc(a, 1000);
    q = pcfw_arena_alloc(a, 3000);
    pcfw_arena_stats(a, &st);
    ck_assert_uint_ge(st.in_use, 4000);
    ck_assert_uint_le(st.in_use, 4000 + 2 * 64);
    ck_assert_uint_eq(st.high_water, st.in_use);
    ck_assert_uint_eq(st.allocs, 2);

    pcfw_arena_free(a, q);
    pcfw_arena_stats(a, &st);
    ck_assert_uint_lt(st.in_use, st.high_water);
    ck_assert_uint_eq(st.frees, 1);
    pcfw_arena_free(a, p);
    pcfw_arena_stats(a, &st);
    ck_assert_uint_eq(st.in_use, 0);
    ck_assert_uint_ge(st.high_water, 4000);
    ck_assert_uint_eq(st.failures, 0);
}
END_TEST

START_TEST(test_exhaustion_and_recovery)
{
    struct pcfw_mem_stats st;
    void *blocks[1024];
    int n = 0;

    /* Fill the arena with 4 KiB blocks until it refuses. */
    while (n < 1024 && (blocks[n] = pcfw_arena_alloc(a, 4096))) {
        n++;
    }
    ck_assert_int_gt(n, 200);
    ck_assert_int_lt(n, 1024);
    pcfw_arena_stats(a, &st);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_ptr_null(pcfw_arena_alloc(a, SIZE_MAX));
    ck_assert_ptr_null(pcfw_arena_calloc(a, SIZE_MAX / 2, 4));
    pcfw_arena_stats(a, &st);
    ck_assert_uint_eq(st.failures, 3);
    ck_assert(pcfw_arena_check(a));

    /* Freeing everything coalesces back into one block that fits it all. */
    for (int i = 0; i < n; i++) {
        pcfw_arena_free(a, blocks[i]);
    }
    ck_assert(pcfw_arena_check(a));
    blocks[0] = pcfw_arena_alloc(a, (size_t)n * 4096);
    ck_assert_ptr_nonnull(blocks[0]);
    pcfw_arena_free(a, blocks[0]);
}
END_TEST

/*
 * Issue 9: the reserve.  Data fills the arena up to `reserve` below its
 * size, received frames up to half of it, lwIP's own state all of it; the
 * reserve is usable again once data is freed.
 */
#define RESERVE     (64u << 10)

static int fill(void **blocks, int max, enum pcfw_mem_class cls)
{
    int n = 0;

    while (n < max && (blocks[n] = pcfw_arena_alloc_class(a, 1024, cls))) {
        n++;
    }
    return n;
}

START_TEST(test_reserve_classes)
{
    static void *data[2048], *frames[64], *stack[64];
    struct pcfw_mem_stats st;
    int nd, nf, ns;

    pcfw_arena_set_reserve(a, RESERVE);
    nd = fill(data, 2048, PCFW_MEM_DATA);
    ck_assert_int_lt(nd, 2048);
    pcfw_arena_stats(a, &st);
    ck_assert_uint_le(st.in_use + RESERVE, st.size);
    ck_assert_uint_gt(st.in_use + RESERVE + 1040, st.size);
    ck_assert_ptr_null(pcfw_arena_alloc(a, 1024));

    nf = fill(frames, 64, PCFW_MEM_FRAME);     /* half the reserve */
    ck_assert_int_ge(nf, 30);
    ck_assert_int_le(nf, 32);
    ns = fill(stack, 64, PCFW_MEM_STACK);      /* the other half */
    ck_assert_int_ge(ns, 28);
    ck_assert_int_lt(ns, 64);
    ck_assert(pcfw_arena_check(a));

    for (int i = 0; i < nd; i++) {
        pcfw_arena_free(a, data[i]);
    }
    for (int i = 0; i < nf; i++) {
        pcfw_arena_free(a, frames[i]);
    }
    for (int i = 0; i < ns; i++) {
        pcfw_arena_free(a, stack[i]);
    }
    pcfw_arena_stats(a, &st);
    ck_assert_uint_eq(st.in_use, 0);
    ck_assert_int_eq(fill(data, 2048, PCFW_MEM_DATA), nd);
    for (int i = 0; i < nd; i++) {
        pcfw_arena_free(a, data[i]);
    }
}
END_TEST

START_TEST(test_coalesce_both_sides)
{
    void *x = pcfw_arena_alloc(a, 500);
    void *y = pcfw_arena_alloc(a, 500);
    void *z = pcfw_arena_alloc(a, 500);
    void *guard = pcfw_arena_alloc(a, 16);
    void *big;

    pcfw_arena_free(a, x);
    pcfw_arena_free(a, z);
    ck_assert(pcfw_arena_check(a));
    pcfw_arena_free(a, y);      /* merges with x before and z after */
    ck_assert(pcfw_arena_check(a));
    big = pcfw_arena_alloc(a, 1500);
    ck_assert_ptr_eq(big, x);   /* the merged hole is reused first-fit */
    pcfw_arena_free(a, big);
    pcfw_arena_free(a, guard);
    ck_assert(pcfw_arena_check(a));
}
END_TEST

START_TEST(test_bad_and_double_free)
{
    uint8_t outside[64];
    char *p = pcfw_arena_alloc(a, 100);

    pcfw_arena_free(a, NULL);
    pcfw_arena_free(a, outside + 16);
    pcfw_arena_free(a, p + 16);         /* inside a block */
    pcfw_arena_free(a, p);
    pcfw_arena_free(a, p);              /* twice */
    ck_assert_uint_eq(pcfw_arena_bad_frees(a), 3);
    ck_assert(pcfw_arena_check(a));
}
END_TEST

START_TEST(test_calloc_zeroes)
{
    uint8_t *p = pcfw_arena_alloc(a, 256);

    memset(p, 0xaa, 256);
    pcfw_arena_free(a, p);
    p = pcfw_arena_calloc(a, 16, 16);
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 256; i++) {
        ck_assert_uint_eq(p[i], 0);
    }
    pcfw_arena_free(a, p);
}
END_TEST

/* A random workload against a shadow copy: contents survive, tags hold. */
START_TEST(test_random_workload)
{
    enum { SLOTS = 512 };
    static uint8_t *ptr[SLOTS];
    static size_t len[SLOTS];
    uint32_t seed = 12345;
    struct pcfw_mem_stats st;

    memset(ptr, 0, sizeof(ptr));
    for (int round = 0; round < 20000; round++) {
        int i;

        seed = seed * 1103515245u + 12345u;
        i = (int)((seed >> 8) % SLOTS);
        if (ptr[i]) {
            size_t bad = 0;

            for (size_t j = 0; j < len[i]; j++) {
                bad += ptr[i][j] != (uint8_t)(i ^ j);
            }
            ck_assert_uint_eq(bad, 0);
            pcfw_arena_free(a, ptr[i]);
            ptr[i] = NULL;
        } else {
            seed = seed * 1103515245u + 12345u;
            len[i] = (seed >> 4) % ((seed & 1) ? 64 : 9000) + 1;
            ptr[i] = pcfw_arena_alloc(a, len[i]);
            if (ptr[i]) {
                for (size_t j = 0; j < len[i]; j++) {
                    ptr[i][j] = (uint8_t)(i ^ j);
                }
            }
        }
        if (round % 1000 == 0) {
            ck_assert(pcfw_arena_check(a));
        }
    }
    for (int i = 0; i < SLOTS; i++) {
        pcfw_arena_free(a, ptr[i]);
    }
    ck_assert(pcfw_arena_check(a));
    pcfw_arena_stats(a, &st);
    ck_assert_uint_eq(st.in_use, 0);
    ck_assert_uint_eq(st.allocs, st.frees);
    ck_assert_uint_eq(pcfw_arena_bad_frees(a), 0);
}
END_TEST

Suite *arena_suite(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_init_too_small);
    tcase_add_test(tc, test_alloc_aligned_and_writable);
    tcase_add_test(tc, test_accounting);
    tcase_add_test(tc, test_exhaustion_and_recovery);
    tcase_add_test(tc, test_coalesce_both_sides);
    tcase_add_test(tc, test_bad_and_double_free);
    tcase_add_test(tc, test_calloc_zeroes);
    tcase_add_test(tc, test_random_workload);
    tcase_add_test(tc, test_reserve_classes);
    suite_add_tcase(s, tc);
    return s;
}
