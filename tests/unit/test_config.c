/*
 * Unit tests: the card configuration text format (docs/config.md).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <string.h>
#include "fw_unit.h"
#include "pcfw.h"

static struct pcfw_config cfg;
static char err[160];

static int parse(const char *text)
{
    pcfw_config_defaults(&cfg);
    return pcfw_config_parse(&cfg, text, strlen(text), err, sizeof(err));
}

static uint32_t ip(const char *s)
{
    return inet_addr(s);
}

START_TEST(test_defaults)
{
    ck_assert_int_eq(parse(""), 0);
    ck_assert_uint_eq(cfg.n_listeners, 0);
    ck_assert_uint_eq(cfg.pool_size, 4);
    ck_assert_uint_eq(cfg.max_clients, 10000);
    ck_assert_uint_eq(cfg.max_pass_clients, 1000);
    ck_assert_uint_eq(cfg.max_header, 16384);
    ck_assert_uint_eq(cfg.max_body, 1048576);
    ck_assert_uint_eq(cfg.conn_buffer, 1u << 20);
    ck_assert_uint_eq(cfg.mem_window_pct, 75);
    ck_assert_uint_eq(cfg.mem_refuse_pct, 90);
    ck_assert_uint_eq(cfg.header_timeout_ms, 30000);
    ck_assert_uint_eq(cfg.body_timeout_ms, 60000);
    ck_assert_uint_eq(cfg.server_read_timeout_ms, 60000);
    ck_assert_uint_eq(cfg.send_timeout_ms, 60000);
    ck_assert(cfg.forwarded);
    ck_assert(!cfg.unmatched_pass);
    ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(test_full_example)
{
    const char *text =
        "# the card in front of nginx\n"
        "nic address 10.0.2.15/24 gateway 10.0.2.2\n"
        "bus address 192.168.76.2/24\n"
        "server 192.168.76.1\n"
        "listen 80 http 8080   # web\n"
        "listen 2222 pass 22\n"
        "\n"
        "pool 8\r\n"
        "max-clients 50000\n"
        "max-pass-clients 0\n"
        "mem-window 80\n"
        "mem-refuse 100\n"
        "max-header 8k\n"
        "max-body 2m\n"
        "buffer 512K\n"
        "timeout request 10s\n"
        "timeout server 1m\n"
        "timeout idle 500ms\n"
        "timeout pool-idle 20\n"
        "timeout connect 2s\n"
        "unmatched pass\n"
        "forwarded off";

    ck_assert_msg(parse(text) == 0, "%s", err);
    ck_assert_uint_eq(cfg.port[PCFW_PORT_NIC].ip, ip("10.0.2.15"));
    ck_assert_uint_eq(cfg.port[PCFW_PORT_NIC].netmask, ip("255.255.255.0"));
    ck_assert_uint_eq(cfg.port[PCFW_PORT_NIC].gateway, ip("10.0.2.2"));
    ck_assert_uint_eq(cfg.port[PCFW_PORT_BUS].ip, ip("192.168.76.2"));
    ck_assert_uint_eq(cfg.port[PCFW_PORT_BUS].gateway, 0);
    ck_assert_uint_eq(cfg.server_ip, ip("192.168.76.1"));
    ck_assert_uint_eq(cfg.n_listeners, 2);
    ck_assert_uint_eq(cfg.listeners[0].port, 80);
    ck_assert_uint_eq(cfg.listeners[0].server_port, 8080);
    ck_assert_uint_eq(cfg.listeners[0].proxy, PCFW_PROXY_HTTP);
    ck_assert_uint_eq(cfg.listeners[1].port, 2222);
    ck_assert_uint_eq(cfg.listeners[1].server_port, 22);
    ck_assert_uint_eq(cfg.listeners[1].proxy, PCFW_PROXY_PASS);
    ck_assert_uint_eq(cfg.pool_size, 8);
    ck_assert_uint_eq(cfg.max_clients, 50000);
    ck_assert_uint_eq(cfg.max_pass_clients, 0);
    ck_assert_uint_eq(cfg.mem_window_pct, 80);
    ck_assert_uint_eq(cfg.mem_refuse_pct, 100);
    ck_assert_uint_eq(cfg.max_header, 8192);
    ck_assert_uint_eq(cfg.max_body, 2u << 20);
    ck_assert_uint_eq(cfg.conn_buffer, 512u << 10);
    ck_assert_uint_eq(cfg.header_timeout_ms, 10000);
    ck_assert_uint_eq(cfg.server_timeout_ms, 60000);
    ck_assert_uint_eq(cfg.idle_timeout_ms, 500);
    ck_assert_uint_eq(cfg.pool_idle_timeout_ms, 20000);
    ck_assert_uint_eq(cfg.connect_timeout_ms, 2000);
    ck_assert(!cfg.forwarded);
    ck_assert(cfg.unmatched_pass);
}
END_TEST

START_TEST(test_listen_defaults_to_same_port_and_dhcp)
{
    ck_assert_int_eq(parse("listen 8080 http\nnic address dhcp\n"), 0);
    ck_assert_uint_eq(cfg.listeners[0].server_port, 8080);
    ck_assert(cfg.port[PCFW_PORT_NIC].dhcp);
}
END_TEST

/* Issue 11: `proxy-protocol v1|v2` on pass listeners, with or without a
 * server port; none by default. */
START_TEST(test_listen_proxy_protocol)
{
    ck_assert_msg(parse("listen 2222 pass 22 proxy-protocol v1\n"
                        "listen 2223 pass proxy-protocol v2\n"
                        "listen 2224 pass 22\n"
                        "listen 80 http 8080\n") == 0, "%s", err);
    ck_assert_uint_eq(cfg.n_listeners, 4);
    ck_assert_uint_eq(cfg.listeners[0].server_port, 22);
    ck_assert_uint_eq(cfg.listeners[0].proxy, PCFW_PROXY_PASS);
    ck_assert_uint_eq(cfg.listeners[0].proxy_protocol, PCFW_PP_V1);
    ck_assert_uint_eq(cfg.listeners[1].port, 2223);
    ck_assert_uint_eq(cfg.listeners[1].server_port, 2223);
    ck_assert_uint_eq(cfg.listeners[1].proxy_protocol, PCFW_PP_V2);
    ck_assert_uint_eq(cfg.listeners[2].proxy_protocol, PCFW_PP_NONE);
    ck_assert_uint_eq(cfg.listeners[3].proxy_protocol, PCFW_PP_NONE);
}
END_TEST

/* The security proxy's directives (docs/security.md). */
START_TEST(test_security_directives)
{
    const struct pcfw_security_config *sc = &cfg.sec;

    ck_assert_int_eq(parse(""), 0);
    ck_assert_uint_eq(sc->sources, 16384);
    ck_assert_uint_eq(sc->half_open, 128);
    ck_assert_uint_eq(sc->n_acl + sc->n_rules + sc->n_limits, 0);
    ck_assert_int_eq(parse(
        "deny 10.0.2.7\n"
        "allow 10.0.2.0/24 port 80\n"
        "deny all\n"
        "limit-conn 20\nlimit-rate 10/s burst 30\nlimit-req 90/m\n"
        "limit-half-open 16\nsources 1000\n"
        "http-deny method DELETE\nhttp-deny host internal.example port 80\n"
        "http-deny path /.git\n"
        "auth basic Staff port 80 path /admin\nauth bearer api path /api/\n"
        "user alice 73616c74 "
        "bede90386d450cea8b77b822f8887065e4e5abf132c2f9dccfcc7fbd4cba5e35\n"
        "token c8963414bf6c4c869eeac5f8a057c3dc574d422f1b108397b66f67bab3d2f981\n"),
        0);
    ck_assert_uint_eq(sc->n_acl, 3);
    ck_assert(!sc->acl[0].allow && sc->acl[0].mask == 0xffffffffu);
    ck_assert_uint_eq(sc->acl[1].port, 80);
    ck_assert(sc->acl[1].allow);
    ck_assert_uint_eq(sc->acl[2].mask, 0);
    ck_assert_uint_eq(sc->n_limits, 3);
    ck_assert_uint_eq(sc->limits[0].kind, PCFW_LIMIT_CONN);
    ck_assert_uint_eq(sc->limits[0].conns, 20);
    ck_assert_uint_eq(sc->limits[0].port, 0);
    ck_assert_uint_eq(sc->limits[1].kind, PCFW_LIMIT_RATE);
    ck_assert_uint_eq(sc->limits[1].rate.milli_per_s, 10000);
    ck_assert_uint_eq(sc->limits[1].rate.burst, 30);
    ck_assert_uint_eq(sc->limits[2].kind, PCFW_LIMIT_REQ);
    ck_assert_uint_eq(sc->limits[2].rate.milli_per_s, 1500);
    ck_assert_uint_eq(sc->limits[2].rate.burst, 1);
    /* Numbered in the order of their lines, all kinds together. */
    ck_assert_uint_eq(sc->acl[0].no, 1);
    ck_assert_uint_eq(sc->acl[2].no, 3);
    ck_assert_uint_eq(sc->limits[0].no, 4);
    ck_assert_uint_eq(sc->limits[2].no, 6);
    ck_assert_uint_eq(sc->limits[2].line, 6);
    ck_assert_uint_eq(sc->rules[0].no, 7);
    ck_assert_uint_eq(sc->rules[4].no, 11);
    ck_assert_uint_eq(sc->rules[4].line, 13);
    ck_assert_uint_eq(sc->half_open, 16);
    ck_assert_uint_eq(sc->sources, 1000);
    ck_assert_uint_eq(sc->n_rules, 5);
    ck_assert_uint_eq(sc->rules[0].kind, PCFW_RULE_DENY_METHOD);
    ck_assert_str_eq(sc->rules[1].value, "internal.example");
    ck_assert_uint_eq(sc->rules[1].port, 80);
    ck_assert_uint_eq(sc->rules[3].kind, PCFW_RULE_AUTH_BASIC);
    ck_assert_str_eq(sc->rules[3].value, "Staff");
    ck_assert_str_eq(sc->rules[3].path, "/admin");
    ck_assert_str_eq(sc->rules[4].path, "/api/");
    ck_assert_uint_eq(sc->n_users, 1);
    ck_assert_str_eq(sc->users[0].name, "alice");
    ck_assert_uint_eq(sc->users[0].salt_len, 4);
    ck_assert_uint_eq(sc->users[0].hash[0], 0xbe);
    ck_assert_uint_eq(sc->n_tokens, 1);
    ck_assert_uint_eq(sc->tokens[0][31], 0x81);

    /* Prefixes are kept canonical; a guarded HTTP server port that is a
     * card port too may sit beside `unmatched pass`. */
    ck_assert_int_eq(parse("listen 80 http 8080\nlisten 8080 http 8080\n"
                           "unmatched pass\nhttp-deny path /A//b/./c/\n"
                           "auth basic r path /Admin/x/..\n"), 0);
    ck_assert_str_eq(sc->rules[0].value, "/a/b/c/");
    ck_assert_str_eq(sc->rules[1].path, "/admin/");
}
END_TEST

/*
 * Per-listener limits: a port makes a limit of its own beside the global
 * one; the same kind and port again replaces it (so a limit set twice means
 * what it always did), and limit-conn 0 removes it.
 */
START_TEST(test_limits_per_listener)
{
    const struct pcfw_security_config *sc = &cfg.sec;

    ck_assert_int_eq(parse("limit-conn 10\nlimit-conn 2 port 2222\n"
                           "limit-req 5/s port 80 burst 9\n"
                           "deny 10.0.0.0/8 port 22\n"
                           "limit-req 1/m\nlimit-conn 3 port 2222\n"), 0);
    ck_assert_uint_eq(sc->n_limits, 4);
    ck_assert_uint_eq(sc->limits[0].conns, 10);
    ck_assert_uint_eq(sc->limits[1].port, 2222);
    ck_assert_uint_eq(sc->limits[1].conns, 3);      /* replaced */
    ck_assert_uint_eq(sc->limits[1].line, 6);
    ck_assert_uint_eq(sc->limits[2].kind, PCFW_LIMIT_REQ);
    ck_assert_uint_eq(sc->limits[2].port, 80);
    ck_assert_uint_eq(sc->limits[2].rate.burst, 9);
    ck_assert_uint_eq(sc->limits[3].port, 0);
    ck_assert_uint_eq(sc->limits[3].rate.milli_per_s, 17);
    /* Numbers follow the lines: the replacing line's place counts. */
    ck_assert_uint_eq(sc->limits[0].no, 1);
    ck_assert_uint_eq(sc->limits[2].no, 2);
    ck_assert_uint_eq(sc->acl[0].no, 3);
    ck_assert_uint_eq(sc->limits[3].no, 4);
    ck_assert_uint_eq(sc->limits[1].no, 5);

    ck_assert_int_eq(parse("limit-conn 10\nlimit-conn 4 port 80\n"
                           "limit-conn 0\n"), 0);
    ck_assert_uint_eq(sc->n_limits, 1);
    ck_assert_uint_eq(sc->limits[0].port, 80);
    ck_assert_uint_eq(sc->limits[0].no, 1);

    ck_assert_int_ne(parse("limit-conn 1 port 1\nlimit-conn 1 port 2\n"
                           "limit-conn 1 port 3\nlimit-conn 1 port 4\n"
                           "limit-conn 1 port 5\nlimit-conn 1 port 6\n"
                           "limit-conn 1 port 7\nlimit-conn 1 port 8\n"
                           "limit-conn 1 port 9\n"), 0);
    ck_assert_ptr_nonnull(strstr(err, "line 9: more than 8 limit-conn"));
}
END_TEST

/* Each bad line is refused with its line number and a reason. */
START_TEST(test_errors)
{
    static const struct {
        const char *text;
        const char *msg;
    } bad[] = {
        { "frobnicate 1", "line 1: unknown directive 'frobnicate'" },
        { "\n\npool 0", "line 3: 'pool' needs a number from 1 to 1024, not '0'" },
        { "pool 1025", "needs a number from 1 to 1024" },
        { "pool 4x", "not '4x'" },
        { "pool", "'pool' takes one number" },
        { "max-header 100", "needs a size from 256" },
        /* Issue 8 item 9: accepted before, and heads over 64 KiB got 431. */
        { "max-header 64k", "needs a size from 256 to 65535" },
        { "max-header 1m", "needs a size from 256 to 65535" },
        { "max-body 99999999999999999999", "needs a size" },
        { "listen 0 http", "'0' is not a port" },
        { "listen 70000 http", "'70000' is not a port" },
        { "listen 80 ftp", "unknown proxy 'ftp'" },
        { "listen 80 http 0", "is not a server port" },
        { "listen 80 http\nlisten 80 pass", "line 2: port 80 is already listened on" },
        /* Issue 11: the PROXY protocol, pass-through only. */
        { "listen 80 http 8080 proxy-protocol v1",
          "'proxy-protocol' is for pass listeners only: an HTTP listener's "
          "pooled server connections carry many clients" },
        { "listen 80 http proxy-protocol v2", "for pass listeners only" },
        { "listen 22 pass proxy-protocol", "needs a version (v1 or v2)" },
        { "listen 22 pass 22 proxy-protocol", "needs a version (v1 or v2)" },
        { "listen 22 pass proxy-protocol v3",
          "unknown PROXY protocol version 'v3' (v1 or v2)" },
        { "listen 22 pass 22 v1", "unexpected 'v1' (expected 'proxy-protocol" },
        { "listen 22 pass proxy-protocol v1 now", "unexpected 'now' after" },
        { "listen 22 pass 22 22", "unexpected '22'" },
        { "listen 22 pass x proxy-protocol v1", "'x' is not a server port" },
        { "listen 22 pass 22 proxy-protocol v1 a b", "expected 'listen PORT "
          "http|pass [SERVER_PORT] [proxy-protocol v1|v2]'" },
        { "nic address 10.0.2.15", "not an address with a prefix length" },
        { "nic address 10.0.2.256/24", "not an address with a prefix length" },
        { "nic address 10.0.2.15/31", "N from 1 to 30" },
        { "nic address 10.0.2.15/24 gateway 10.0.2", "'10.0.2' is not an IPv4" },
        { "nic address 10.0.2.15/24 via 10.0.2.2", "unexpected 'via'" },
        { "bus address dhcp", "only 'nic address dhcp'" },
        { "server 1.2.3", "expected 'server A.B.C.D'" },
        { "timeout request 0s", "is not a duration" },
        { "timeout request soon", "is not a duration" },
        { "timeout forever 1s", "unknown timeout 'forever'" },
        { "forwarded maybe", "expected 'forwarded on|off'" },
        { "unmatched drop", "expected 'unmatched pass|refuse'" },
        { "a b c d e f g h i", "too many words" },
        { "deny 10.0.0.0/33", "expected 'deny A.B.C.D[/N]|all [port P]'" },
        { "allow 10.0.0.1 port 0", "expected 'allow" },
        { "allow 10.0.0.1 door 80", "expected 'allow" },
        { "limit-rate 10", "expected 'limit-rate N/s|N/m [burst B] [port P]'" },
        { "limit-rate 1/s port 0", "expected 'limit-rate" },
        { "limit-rate 1/s burst", "expected 'limit-rate" },
        { "limit-conn 1 burst 2", "expected 'limit-conn N [port P]'" },
        { "limit-conn 1 port 65536", "expected 'limit-conn N [port P]'" },
        { "limit-conn", "expected 'limit-conn N [port P]'" },
        { "limit-req 0/s", "expected 'limit-req" },
        { "limit-req 5/h", "expected 'limit-req" },
        { "limit-req 5/s burst 0", "expected 'limit-req" },
        { "sources 10", "'sources' needs a number from 64" },
        { "http-deny path admin", "expected 'http-deny method" },
        { "http-deny cookie x", "expected 'http-deny method" },
        { "auth digest r", "expected 'auth basic|bearer REALM" },
        { "auth basic a\"b", "expected 'auth basic|bearer REALM" },
        { "auth basic r path x", "expected 'auth basic|bearer REALM" },
        { "user al:ice 00 "
          "bede90386d450cea8b77b822f8887065e4e5abf132c2f9dccfcc7fbd4cba5e35",
          "expected 'user NAME SALT HASH'" },
        { "user alice 0 "
          "bede90386d450cea8b77b822f8887065e4e5abf132c2f9dccfcc7fbd4cba5e35",
          "expected 'user NAME SALT HASH'" },
        { "user alice 00 bede", "expected 'user NAME SALT HASH'" },
        { "token xyz", "expected 'token HASH'" },
        /* Review findings: a pass route around the HTTP rules; prefixes
         * a canonical request path could never match. */
        { "listen 80 http 8080\nlisten 81 pass 8080\nauth basic r",
          "'listen 81 pass 8080' reaches server port 8080 around" },
        { "listen 80 http 8080\nunmatched pass\nhttp-deny path /x",
          "'unmatched pass' lets a client reach server port 8080" },
        { "http-deny path /a%2fb", "is not a path prefix or host" },
        { "http-deny path /a;b", "is not a path prefix or host" },
        { "http-deny host a.example:80", "is not a path prefix or host" },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parse(bad[i].text) == -1, "accepted: %s", bad[i].text);
        ck_assert_msg(strstr(err, bad[i].msg) != NULL,
                      "for '%s' got '%s'", bad[i].text, err);
    }
}
END_TEST

START_TEST(test_too_many_listeners)
{
    char text[64 * 24] = "";

    for (int i = 0; i <= PCFW_MAX_LISTENERS; i++) {
        char line[32];

        snprintf(line, sizeof(line), "listen %d pass\n", 1000 + i);
        strcat(text, line);
    }
    ck_assert_int_eq(parse(text), -1);
    ck_assert_ptr_nonnull(strstr(err, "more than 32 listeners"));
}
END_TEST

START_TEST(test_not_nul_terminated)
{
    /* Only @len bytes are read: the directive is cut at "pool 1". */
    const char text[] = "pool 12";

    pcfw_config_defaults(&cfg);
    ck_assert_int_eq(pcfw_config_parse(&cfg, text, 6, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.pool_size, 1);
}
END_TEST

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_full_example);
    tcase_add_test(tc, test_listen_defaults_to_same_port_and_dhcp);
    tcase_add_test(tc, test_listen_proxy_protocol);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_security_directives);
    tcase_add_test(tc, test_limits_per_listener);
    tcase_add_test(tc, test_too_many_listeners);
    tcase_add_test(tc, test_not_nul_terminated);
    suite_add_tcase(s, tc);
    return s;
}
