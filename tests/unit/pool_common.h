/*
 * What the test files of the pool binary (tests/unit/pool.mk: test_pool.c,
 * test_attack.c, test_proxy_protocol.c) share: the base configuration, the
 * card's boot and reload against the in-process peer, statistics, and the
 * assertions that name the caller's line.  Static inline, so that a file
 * that uses only some of them still builds warning-free.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef POOL_COMMON_H
#define POOL_COMMON_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "pcfw.h"
#include "peer/peer.h"

/* The card of every test; each adds its own lines (a later one wins). */
#define BASE_CONFIG                                 \
    "nic address 10.0.2.15/24 gateway 10.0.2.2\n"   \
    "bus address 10.0.3.15/24 gateway 10.0.3.2\n"   \
    "server 10.0.3.2\n"                             \
    "listen 80 http 8080\n"

#define BOOT_MS         200     /* the pool is up after this */
#define EXCHANGE_MS     50      /* a request and its answer, in virtual time */

#define GET(path)       "GET " path " HTTP/1.1\r\nHost: card\r\n\r\n"
#define OK_RESP         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"  \
                        "Connection: keep-alive\r\n\r\nok"

/* Boot the card with BASE_CONFIG and @extra, its server on 8080. */
static inline void boot(const char *extra)
{
    char cfg[2048];

    snprintf(cfg, sizeof(cfg), "%s%s", BASE_CONFIG, extra);
    peer_init();
    peer_server_listen(8080);
    ck_assert_int_eq(peer_card_boot(cfg), PCFW_OK);
    peer_run(BOOT_MS);
}

/* Load BASE_CONFIG and @extra into the running card; it must be taken. */
static inline void reload(const char *extra)
{
    char cfg[2048], err[160];

    snprintf(cfg, sizeof(cfg), "%s%s", BASE_CONFIG, extra);
    ck_assert_msg(pcfw_reconfigure(cfg, strlen(cfg), err, sizeof(err)) ==
                  PCFW_OK, "reload refused: %s", err);
}

static inline struct pcfw_stats stats(void)
{
    struct pcfw_stats st;

    pcfw_get_stats(&st);
    return st;
}

static inline struct pcfw_proxy_stats pstats(void)
{
    return stats().proxy;
}

static inline uint64_t mem_in_use(void)
{
    return stats().mem.in_use;
}

/*
 * The assertions name the caller's line: a helper's own line would not say
 * which step of a test failed.
 */
#define assert_received(c, want)    check_received((c), (want), __LINE__)

/* Client @c received exactly @want so far. */
static inline void check_received(int c, const char *want, int line)
{
    size_t len;
    const char *got = peer_client_received(c, &len);

    ck_assert_msg(len == strlen(want) && strcmp(got, want) == 0,
                  "line %d: client %d received \"%s\" (%zu bytes), "
                  "want \"%s\"", line, c, got, len, want);
}

static inline void assert_healthy(void)
{
    ck_assert_msg(peer_card_fault() == NULL, "card fault: %s",
                  peer_card_fault());
}

/* Big-endian fields of the frames the tests forge and tap. */
static inline uint32_t get16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t get32(const uint8_t *p)
{
    return get16(p) << 16 | get16(p + 2);
}

#endif /* POOL_COMMON_H */
