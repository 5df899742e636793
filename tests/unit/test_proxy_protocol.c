/*
 * Unit tests: the PROXY protocol towards the server (issue 11), end to end
 * through the linked firmware against the in-process peer (peer/peer.c):
 * a pass-through listener with `proxy-protocol v1|v2` writes the header
 * naming the client as the first bytes of its server connection, before
 * any client byte, and nothing else changes.
 *
 * The firmware boots once per process: fw-pool runs this suite in Check's
 * fork mode, as the others.
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
#include "pool_common.h"

Suite *pp_suite(void);

/* One pooled connection, never used here: the server's connection 0. */
static void pp_boot(const char *extra)
{
    char cfg[1024];

    snprintf(cfg, sizeof(cfg), "pool 1\n%s", extra);
    boot(cfg);
    ck_assert_uint_eq(peer_server_accepted(), 1);
}

/* Server connection @conn received exactly @want (@len bytes, NULs too). */
#define assert_raw(conn, want, len) check_raw((conn), (want), (len), __LINE__)

static void hexdump(const char *what, const char *p, size_t len)
{
    fprintf(stderr, "%s (%zu bytes):", what, len);
    for (size_t i = 0; i < len; i++) {
        fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", (unsigned char)p[i]);
    }
    fprintf(stderr, "\n");
}

static void check_raw(unsigned conn, const void *want, size_t len, int line)
{
    size_t got_len;
    const char *got = peer_server_raw(conn, &got_len);

    if (got_len != len || memcmp(got, want, len) != 0) {
        hexdump("server got", got, got_len);
        hexdump("wanted", want, len);
    }
    ck_assert_msg(got_len == len && memcmp(got, want, len) == 0,
                  "line %d: server connection %u got %zu bytes, want %zu "
                  "(hex dumps above)", line, conn, got_len, len);
}

/* The v1 line for client @c on card port @port. */
static size_t v1_line(char *buf, size_t cap, int c, unsigned port)
{
    return (size_t)snprintf(buf, cap, "PROXY TCP4 " PEER_NIC_IP " "
                            PEER_CARD_NIC " %u %u\r\n",
                            (unsigned)peer_client_port(c), port);
}

/* The v2 header for client @c on card port @port: 28 bytes. */
static size_t v2_header(uint8_t *b, int c, unsigned port)
{
    static const uint8_t head[16] = {
        0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51,     /* signature */
        0x55, 0x49, 0x54, 0x0a,
        0x21,                   /* version 2, PROXY */
        0x11,                   /* TCP over IPv4 */
        0x00, 0x0c,             /* 12 bytes of addresses follow */
    };
    static const uint8_t addrs[8] = {
        10, 0, 2, 2,            /* source: the client (PEER_NIC_IP) */
        10, 0, 2, 15,           /* destination: the card (PEER_CARD_NIC) */
    };
    uint16_t sport = peer_client_port(c);

    memcpy(b, head, sizeof(head));
    memcpy(b + 16, addrs, sizeof(addrs));
    b[24] = (uint8_t)(sport >> 8);
    b[25] = (uint8_t)sport;
    b[26] = (uint8_t)(port >> 8);
    b[27] = (uint8_t)port;
    return 28;
}

/*
 * v1: the server connection gets exactly the line, then the client's
 * bytes; the server's answer reaches the client unchanged.
 */
START_TEST(test_pp_v1_then_client_bytes)
{
    char want[256];
    size_t n;
    int c;

    pp_boot("listen 81 pass 8080 proxy-protocol v1\n");
    c = peer_client_open(81);
    peer_run(EXCHANGE_MS);
    ck_assert(peer_client_connected(c));
    ck_assert_uint_eq(peer_server_accepted(), 2);
    /* The header goes at connect, before the client said anything. */
    n = v1_line(want, sizeof(want), c, 81);
    assert_raw(1, want, n);

    peer_client_send_str(c, "hello\n");
    peer_run(EXCHANGE_MS);
    strcat(want, "hello\n");
    assert_raw(1, want, n + 6);

    ck_assert_int_eq(peer_server_send(1, "world\n"), 0);
    peer_run(EXCHANGE_MS);
    ck_assert_str_eq(peer_client_received(c, &n), "world\n");
}
END_TEST

/* v2: the binary header byte for byte, then the client's bytes. */
START_TEST(test_pp_v2_byte_exact)
{
    uint8_t want[64];
    size_t n;
    int c;

    pp_boot("listen 82 pass 8080 proxy-protocol v2\n");
    c = peer_client_open(82);
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(peer_server_accepted(), 2);
    n = v2_header(want, c, 82);
    assert_raw(1, want, n);

    peer_client_send_str(c, "hello");
    peer_run(EXCHANGE_MS);
    memcpy(want + n, "hello", 5);
    assert_raw(1, want, n + 5);
}
END_TEST

/*
 * The client sends at once, at connect, more than a segment, and
 * half-closes: its bytes are in the card before the server connection is
 * up, and still none goes before the header; the FIN follows them.
 */
START_TEST(test_pp_client_first)
{
    static char data[6000], want[sizeof(data) + 64];
    size_t n;
    int c;

    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (char)('a' + i % 26);
    }
    pp_boot("listen 81 pass 8080 proxy-protocol v1\n"
         "listen 82 pass 8080 proxy-protocol v2\n");
    c = peer_client_open(81);
    peer_client_send(c, data, sizeof(data));
    peer_client_shutdown(c);
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(peer_server_accepted(), 2);
    n = v1_line(want, sizeof(want), c, 81);
    memcpy(want + n, data, sizeof(data));
    assert_raw(1, want, n + sizeof(data));
    ck_assert(peer_server_conn(1)->card_fin);

    c = peer_client_open(82);
    peer_client_send(c, data, sizeof(data));
    peer_client_shutdown(c);
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(peer_server_accepted(), 3);
    n = v2_header((uint8_t *)want, c, 82);
    memcpy(want + n, data, sizeof(data));
    assert_raw(2, want, n + sizeof(data));
    ck_assert(peer_server_conn(2)->card_fin);
}
END_TEST

/*
 * Without the option, and on the unmatched-pass path (no listener line to
 * ask for it), the server gets the client's bytes alone.
 */
START_TEST(test_pp_off_and_unmatched)
{
    int c, u;

    pp_boot("listen 81 pass 8080 proxy-protocol v1\n"
         "listen 83 pass 8080\n"
         "unmatched pass\n");
    c = peer_client_open(83);
    peer_client_send_str(c, "plain");
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(peer_server_accepted(), 2);
    assert_raw(1, "plain", 5);

    u = peer_client_open(8080);         /* no listen line: unmatched */
    peer_client_send_str(u, "other");
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(peer_server_accepted(), 3);
    assert_raw(2, "other", 5);
}
END_TEST

/*
 * A reloaded configuration that turns the option on applies to new clients
 * only: a client copies its listener's settings at accept.
 */
START_TEST(test_pp_reconfigure)
{
    char err[256], want[256];
    size_t n;
    int old, c;

    pp_boot("listen 81 pass 8080\n");
    old = peer_client_open(81);
    peer_client_send_str(old, "a");
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(peer_server_accepted(), 2);
    ck_assert_msg(pcfw_reconfigure(BASE_CONFIG "pool 1\n" "listen 81 pass 8080 "
                                   "proxy-protocol v1\n",
                                   strlen(BASE_CONFIG "pool 1\n" "listen 81 pass 8080 "
                                          "proxy-protocol v1\n"),
                                   err, sizeof(err)) == PCFW_OK, "%s", err);
    peer_client_send_str(old, "b");
    c = peer_client_open(81);
    peer_client_send_str(c, "c");
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(peer_server_accepted(), 3);
    assert_raw(1, "ab", 2);
    n = v1_line(want, sizeof(want), c, 81);
    strcat(want, "c");
    assert_raw(2, want, n + 1);
}
END_TEST

Suite *pp_suite(void)
{
    Suite *s = suite_create("proxy-protocol");
    TCase *tc = tcase_create("proxy-protocol");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_pp_v1_then_client_bytes);
    tcase_add_test(tc, test_pp_v2_byte_exact);
    tcase_add_test(tc, test_pp_client_first);
    tcase_add_test(tc, test_pp_off_and_unmatched);
    tcase_add_test(tc, test_pp_reconfigure);
    suite_add_tcase(s, tc);
    return s;
}
