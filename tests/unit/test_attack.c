/*
 * Unit tests: the card under resource attacks (issue 9), end to end
 * through the linked firmware against the in-process peer
 * (tests/unit/peer/peer.c), like test_pool.c: connection limits, spoofed
 * SYN floods, TIME_WAIT, configuration reloads.  Where TCP must be forged
 * (SYNs from addresses nobody owns), the test builds the frames itself and
 * hands them to the card's NIC port; the card's answers to them go to the
 * peer's gateway address, whose stack drops them as not its own, exactly
 * as the Internet drops SYN-ACKs to spoofed sources.
 *
 * The firmware boots once per process: fw-pool runs this suite in Check's
 * fork mode with the pool suite (test_pool.c holds the runner).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pcfw.h"
#include "peer/peer.h"

Suite *attack_suite(void);

#define BASE_CONFIG                                 \
    "nic address 10.0.2.15/24 gateway 10.0.2.2\n"   \
    "bus address 10.0.3.15/24 gateway 10.0.3.2\n"   \
    "server 10.0.3.2\n"                             \
    "listen 80 http 8080\n"

#define BOOT_MS         200
#define EXCHANGE_MS     50

#define GET(path)       "GET " path " HTTP/1.1\r\nHost: card\r\n\r\n"
#define OK_RESP         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"  \
                        "Connection: keep-alive\r\n\r\nok"

static void boot(const char *extra)
{
    char cfg[1024];

    snprintf(cfg, sizeof(cfg), "%s%s", BASE_CONFIG, extra);
    peer_init();
    peer_server_listen(8080);
    ck_assert_int_eq(peer_card_boot(cfg), PCFW_OK);
    peer_run(BOOT_MS);
}

static void reload(const char *extra)
{
    char cfg[1024], err[160];

    snprintf(cfg, sizeof(cfg), "%s%s", BASE_CONFIG, extra);
    ck_assert_msg(pcfw_reconfigure(cfg, strlen(cfg), err, sizeof(err)) ==
                  PCFW_OK, "reload refused: %s", err);
}

static struct pcfw_stats stats(void)
{
    struct pcfw_stats st;

    pcfw_get_stats(&st);
    return st;
}

#define assert_received(c, want)    check_received((c), (want), __LINE__)

static void check_received(int c, const char *want, int line)
{
    size_t len;
    const char *got = peer_client_received(c, &len);

    ck_assert_msg(len == strlen(want) && strcmp(got, want) == 0,
                  "line %d: client %d received \"%s\" (%zu bytes), "
                  "want \"%s\"", line, c, got, len, want);
}

static void assert_healthy(void)
{
    ck_assert_msg(peer_card_fault() == NULL, "card fault: %s",
                  peer_card_fault());
}

/* Frames the card sent on both ports. */
static uint64_t tx_frames(void)
{
    struct pcfw_stats st = stats();

    return st.tx_frames[PCFW_PORT_NIC] + st.tx_frames[PCFW_PORT_BUS];
}

/*
 * 1. A reload that omits `timeout pass-idle` and `timeout pass-keepalive`
 * gets their defaults (1 h, 2 min) back, like every other setting.
 */
START_TEST(test_reload_resets_pass_timeouts)
{
    uint64_t frames;
    int p;

    boot("pool 1\nlisten 81 pass 8080\ntimeout pass-idle 3s\n"
         "timeout pass-keepalive 1s\n");
    reload("listen 81 pass 8080\n");
    peer_server_script(PEER_SILENT, NULL);
    p = peer_client_open(81);
    peer_client_send_str(p, GET("/pass"));
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(peer_server_conn(1)->requests, 1);
    frames = tx_frames();
    peer_run(5000);
    /* 3 s idle would have reset it; 1 s keepalive would have probed. */
    ck_assert_msg(!peer_client_reset(p) && peer_server_conn(1)->open,
                  "the pass-through connection was reset at %u ms",
                  (unsigned)peer_server_conn(1)->end_ms);
    ck_assert_uint_eq(tx_frames() - frames, 0);
    p = peer_client_open(80);
    peer_client_send_str(p, GET("/after"));
    peer_run(EXCHANGE_MS);
    assert_received(p, OK_RESP);
    assert_healthy();
}
END_TEST

static struct pcfw_proxy_stats pstats(void)
{
    return stats().proxy;
}

/*
 * 2. Issue 9 item 7: pass-through has its own limit (`max-pass-clients`),
 * so it neither takes HTTP's `max-clients` nor is limited by it: before,
 * one `max-clients` counted both, and pass-through clients (which hold a
 * server connection each, for hours) could take every slot.
 */
START_TEST(test_pass_client_limit)
{
    int h1, h2, p1, p2, p3;

    boot("pool 1\nlisten 81 pass 8080\nmax-clients 1\n"
         "max-pass-clients 2\n");
    h1 = peer_client_open(80);
    p1 = peer_client_open(81);
    p2 = peer_client_open(81);
    peer_run(EXCHANGE_MS);
    ck_assert(peer_client_connected(h1) && !peer_client_reset(h1));
    ck_assert(peer_client_connected(p1) && !peer_client_reset(p1));
    ck_assert(peer_client_connected(p2) && !peer_client_reset(p2));
    p3 = peer_client_open(81);
    h2 = peer_client_open(80);
    peer_run(EXCHANGE_MS);
    ck_assert(peer_client_reset(p3));
    ck_assert(peer_client_reset(h2));
    ck_assert_uint_eq(pstats().clients_refused, 2);

    /* A pass-through client gone makes room for exactly one more. */
    peer_client_abort(p1);
    peer_run(EXCHANGE_MS);
    p3 = peer_client_open(81);
    peer_run(EXCHANGE_MS);
    ck_assert(peer_client_connected(p3) && !peer_client_reset(p3));
    p1 = peer_client_open(81);                  /* and no more */
    peer_run(EXCHANGE_MS);
    ck_assert(peer_client_reset(p1));
    peer_client_send_str(h1, GET("/h"));
    peer_run(EXCHANGE_MS);
    assert_received(h1, OK_RESP);
    assert_healthy();
}
END_TEST

/* 3. The default: 1000 pass-through clients beside HTTP's 10000. */
START_TEST(test_pass_client_limit_default)
{
    int h;

    boot("pool 1\nlisten 81 pass 8080\nmax-clients 2\n");
    for (int i = 0; i < 4; i++) {
        peer_client_open(81);
    }
    h = peer_client_open(80);
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(pstats().clients_refused, 0);
    ck_assert_uint_eq(pstats().clients_active, 5);
    peer_client_send_str(h, GET("/h"));
    peer_run(EXCHANGE_MS);
    assert_received(h, OK_RESP);
    assert_healthy();
}
END_TEST

Suite *attack_suite(void)
{
    Suite *s = suite_create("attack");
    TCase *tc = tcase_create("attack");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_reload_resets_pass_timeouts);
    tcase_add_test(tc, test_pass_client_limit);
    tcase_add_test(tc, test_pass_client_limit_default);
    suite_add_tcase(s, tc);
    return s;
}
