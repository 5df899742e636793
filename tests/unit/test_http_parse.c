/*
 * Unit tests: HTTP/1.x framing (end of head, request and response heads,
 * chunked bodies).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http_parse.h"
#include "fw_unit.h"

Suite *http_parse_suite(void);

#define U8(s)       ((const uint8_t *)(s))
#define BIG         8192u   /* a head limit nothing here reaches */

/* ---- helpers ----------------------------------------------------------- */

static int parse_req(const char *s, struct pcfw_http_request *r)
{
    return pcfw_http_parse_request(U8(s), strlen(s), r);
}

static int parse_resp(const char *s, int method, struct pcfw_http_response *r)
{
    return pcfw_http_parse_response(U8(s), strlen(s), method, r);
}

/* The bytes at [off, off + len) of @head are exactly @want. */
static void check_span(const char *head, unsigned off, unsigned len,
                       const char *want)
{
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_msg(memcmp(head + off, want, len) == 0,
                  "span '%.*s' != '%s'", (int)len, head + off, want);
}

static void check_field(const char *head, const struct pcfw_http_field *f,
                        const char *name, const char *value)
{
    check_span(head, f->name_off, f->name_len, name);
    check_span(head, f->value_off, f->value_len, value);
}

/* Scan @s in one call; returns the feed's result. */
static long scan_once(const char *s, size_t max_head, size_t *total)
{
    struct pcfw_http_head_scan sc;
    long r;

    pcfw_http_head_scan_init(&sc);
    r = pcfw_http_head_scan_feed(&sc, U8(s), strlen(s), max_head);
    *total = sc.total;
    return r;
}

/* Feed a string literal as a whole chunked body in one call. */
#define ONCE(lit, used, max, c) \
    chunked_once((lit), sizeof(lit) - 1, (used), (max), (c))

/* Feed @len bytes of a chunked body in one call. */
static int chunked_once(const char *s, size_t len, size_t *used,
                        uint64_t max_body, struct pcfw_http_chunked *c)
{
    pcfw_http_chunked_init(c);
    return pcfw_http_chunked_feed(c, U8(s), len, used, max_body);
}

/* ---- errors and reasons ------------------------------------------------ */

START_TEST(test_error_status_and_reasons)
{
    static const struct { int status; const char *reason; } tab[] = {
        { 100, "Continue" }, { 200, "OK" }, { 400, "Bad Request" },
        { 404, "Not Found" }, { 408, "Request Timeout" },
        { 413, "Content Too Large" }, { 414, "URI Too Long" },
        { 417, "Expectation Failed" },
        { 431, "Request Header Fields Too Large" },
        { 500, "Internal Server Error" }, { 501, "Not Implemented" },
        { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
        { 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
        { 0, "Unknown" }, { 299, "Unknown" }, { 1000, "Unknown" },
        { -1, "Unknown" },
    };

    ck_assert_int_eq(pcfw_http_error_status(PCFW_HTTP_E_BAD), 400);
    ck_assert_int_eq(pcfw_http_error_status(PCFW_HTTP_E_HEAD_TOO_LARGE), 431);
    ck_assert_int_eq(pcfw_http_error_status(PCFW_HTTP_E_BODY_TOO_LARGE), 413);
    ck_assert_int_eq(pcfw_http_error_status(PCFW_HTTP_E_NOT_IMPLEMENTED), 501);
    ck_assert_int_eq(pcfw_http_error_status(PCFW_HTTP_E_VERSION), 505);
    ck_assert_int_eq(pcfw_http_error_status(PCFW_HTTP_E_EXPECTATION), 417);
    ck_assert_int_eq(pcfw_http_error_status(PCFW_HTTP_E_URI_TOO_LONG), 414);
    ck_assert_int_eq(pcfw_http_error_status(0), 500);
    ck_assert_int_eq(pcfw_http_error_status(-8), 500);
    ck_assert_int_eq(pcfw_http_error_status(1), 500);

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        ck_assert_str_eq(pcfw_http_reason(tab[i].status), tab[i].reason);
    }
}
END_TEST

/* ---- end of head ------------------------------------------------------- */

static const char *const scan_heads[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /x HTTP/1.0\n\n",
    "GET / HTTP/1.1\nHost: a\nX: y\n\n",
    "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "\n\r\n\nPOST /p HTTP/1.1\r\nHost: a\nContent-Length: 3\r\n\n",
    "GET / HTTP/1.1\r\nHost: a\r\n\n",       /* CRLF line, LF end */
    "GET / HTTP/1.1\nHost: a\n\r\n",         /* LF line, CRLF end */
    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
};

START_TEST(test_scan_one_call)
{
    for (size_t h = 0; h < sizeof(scan_heads) / sizeof(scan_heads[0]); h++) {
        size_t n = strlen(scan_heads[h]), total;

        ck_assert_int_eq(scan_once(scan_heads[h], BIG, &total), (long)n);
        ck_assert_uint_eq(total, n);
    }
}
END_TEST

START_TEST(test_scan_byte_at_a_time)
{
    for (size_t h = 0; h < sizeof(scan_heads) / sizeof(scan_heads[0]); h++) {
        const char *s = scan_heads[h];
        size_t n = strlen(s);
        struct pcfw_http_head_scan sc;

        pcfw_http_head_scan_init(&sc);
        for (size_t i = 0; i < n; i++) {
            long r = pcfw_http_head_scan_feed(&sc, U8(s + i), 1, BIG);

            ck_assert_int_eq(r, i + 1 == n ? 1 : 0);
            ck_assert_uint_eq(sc.total, i + 1);
            ck_assert(pcfw_http_head_scan_done(&sc) == (i + 1 == n));
        }
    }
}
END_TEST

/*
 * Every split of head + pipelined bytes into two feeds: the head ends at
 * the same byte, and the count tells the caller exactly where.
 */
START_TEST(test_scan_every_split)
{
    static const char next[] = "GET /next HTTP/1.1\r\nHost: b\r\n\r\n";
    char buf[256];

    for (size_t h = 0; h < sizeof(scan_heads) / sizeof(scan_heads[0]); h++) {
        size_t hl = strlen(scan_heads[h]), n;

        n = (size_t)snprintf(buf, sizeof(buf), "%s%s", scan_heads[h], next);
        for (size_t k = 0; k <= n; k++) {
            struct pcfw_http_head_scan sc;
            long r1, r2;

            pcfw_http_head_scan_init(&sc);
            r1 = pcfw_http_head_scan_feed(&sc, U8(buf), k, BIG);
            if (k >= hl) {
                ck_assert_int_eq(r1, (long)hl);
            } else {
                ck_assert_int_eq(r1, 0);
                ck_assert_uint_eq(sc.total, k);
                r2 = pcfw_http_head_scan_feed(&sc, U8(buf + k), n - k, BIG);
                ck_assert_int_eq(r2, (long)(hl - k));
            }
            ck_assert_uint_eq(sc.total, hl);
        }
    }
}
END_TEST

START_TEST(test_scan_pipelined)
{
    static const char in[] =
        "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
        "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        "GET /c HTTP/1.1\r\n";
    struct pcfw_http_head_scan sc;
    size_t off = 0, n = sizeof(in) - 1;
    long r;

    pcfw_http_head_scan_init(&sc);
    r = pcfw_http_head_scan_feed(&sc, U8(in), n, BIG);
    ck_assert_int_eq(r, 28);
    ck_assert_uint_eq(sc.total, 28);
    ck_assert_mem_eq(in + 28, "GET /b", 6);
    /* Feeding a finished scanner is a caller bug. */
    ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8(in), 1, BIG),
                     PCFW_HTTP_E_BAD);

    off = 28;
    pcfw_http_head_scan_init(&sc);
    r = pcfw_http_head_scan_feed(&sc, U8(in + off), n - off, BIG);
    ck_assert_int_eq(r, 28);
    off += 28;
    pcfw_http_head_scan_init(&sc);
    r = pcfw_http_head_scan_feed(&sc, U8(in + off), n - off, BIG);
    ck_assert_int_eq(r, 0);
    ck_assert_uint_eq(sc.total, 17);
    ck_assert(!pcfw_http_head_scan_done(&sc));
}
END_TEST

START_TEST(test_scan_leading_empty_lines)
{
    size_t total;
    struct pcfw_http_head_scan sc;

    /* Empty lines alone never end a head, however many. */
    ck_assert_int_eq(scan_once("\r\n\r\n\n\r\n", BIG, &total), 0);
    ck_assert_uint_eq(total, 7);
    ck_assert_int_eq(scan_once("\r\n\r\nGET / HTTP/1.0\r\n\r\nrest", BIG,
                               &total), 22);
    ck_assert_uint_eq(total, 22);

    /* They count against the limit. */
    pcfw_http_head_scan_init(&sc);
    ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8("\r\n\r\n\r\n"), 6, 5),
                     PCFW_HTTP_E_HEAD_TOO_LARGE);
    ck_assert_uint_eq(sc.total, 5);
}
END_TEST

START_TEST(test_scan_bare_cr)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\rHost: a\r\n\r\n",
        "\rGET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\rX",
        "GET / HTTP/1.1\r\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
    };
    static const size_t at[] = { 15, 1, 26, 15, 26 };   /* offending byte */

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pcfw_http_head_scan sc;
        size_t total;

        ck_assert_int_eq(scan_once(bad[i], BIG, &total), PCFW_HTTP_E_BAD);
        ck_assert_uint_eq(total, at[i]);

        /* Byte at a time: the same byte is refused, and it sticks. */
        pcfw_http_head_scan_init(&sc);
        for (size_t j = 0; j < at[i]; j++) {
            ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8(bad[i] + j), 1,
                                                      BIG), 0);
        }
        ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8(bad[i] + at[i]),
                                                  1, BIG), PCFW_HTTP_E_BAD);
        ck_assert_uint_eq(sc.total, at[i]);
        ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8("\n\r\n"), 3, BIG),
                         PCFW_HTTP_E_BAD);
    }
}
END_TEST

START_TEST(test_scan_too_large)
{
    static const char h[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t n = sizeof(h) - 1, total;
    struct pcfw_http_head_scan sc;

    /* Exactly max_head bytes is fine; one fewer allowed is not. */
    ck_assert_int_eq(scan_once(h, n, &total), (long)n);
    ck_assert_int_eq(scan_once(h, n - 1, &total), PCFW_HTTP_E_HEAD_TOO_LARGE);
    ck_assert_uint_eq(total, n - 1);

    /*
     * Byte at a time, the byte past the limit is the one refused; inside
     * the request line that is 414 (RFC 9112 §3), not 431.
     */
    pcfw_http_head_scan_init(&sc);
    for (size_t i = 0; i < 10; i++) {
        ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8(h + i), 1, 10), 0);
    }
    ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8(h + 10), 1, 10),
                     PCFW_HTTP_E_URI_TOO_LONG);
    /* Sticky, even for a feed that could have ended the head. */
    ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8("\r\n\r\n"), 4, BIG),
                     PCFW_HTTP_E_URI_TOO_LONG);

    /* A long stream with no end: refused at the limit, not later. */
    {
        static uint8_t junk[20000];

        memset(junk, 'a', sizeof(junk));
        pcfw_http_head_scan_init(&sc);
        ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, junk, 4000, 8192), 0);
        ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, junk, 16000, 8192),
                         PCFW_HTTP_E_URI_TOO_LONG);
        ck_assert_uint_eq(sc.total, 8192);
    }
}
END_TEST

/* Which part of the head the limit falls in decides 414 or 431. */
START_TEST(test_scan_too_large_where)
{
    /* A request line (line bytes, CRLF included), a field, the end. */
    static const char h[] = "GET /abc HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char lf[] = "GET /abc HTTP/1.1\nHost: a\n\n";
    size_t line = strlen("GET /abc HTTP/1.1\r\n"), total;

    /* Inside the line, on its CR, on its LF: the line does not fit. */
    ck_assert_int_eq(scan_once(h, 5, &total), PCFW_HTTP_E_URI_TOO_LONG);
    ck_assert_int_eq(scan_once(h, line - 2, &total),
                     PCFW_HTTP_E_URI_TOO_LONG);
    ck_assert_int_eq(scan_once(h, line - 1, &total),
                     PCFW_HTTP_E_URI_TOO_LONG);
    ck_assert_int_eq(scan_once(lf, line - 2, &total),
                     PCFW_HTTP_E_URI_TOO_LONG);
    /* The line fits, a field does not: 431. */
    ck_assert_int_eq(scan_once(h, line, &total), PCFW_HTTP_E_HEAD_TOO_LARGE);
    ck_assert_uint_eq(total, line);
    ck_assert_int_eq(scan_once(lf, line - 1, &total),
                     PCFW_HTTP_E_HEAD_TOO_LARGE);
    ck_assert_int_eq(scan_once(h, sizeof(h) - 2, &total),
                     PCFW_HTTP_E_HEAD_TOO_LARGE);
    /* Leading empty lines alone are no request line: 431. */
    ck_assert_int_eq(scan_once("\r\n\r\n\r\nGET", 4, &total),
                     PCFW_HTTP_E_HEAD_TOO_LARGE);
    /* ... but they count against the limit with the line after them. */
    ck_assert_int_eq(scan_once("\r\nGET / HTTP/1.1\r\n", 6, &total),
                     PCFW_HTTP_E_URI_TOO_LONG);
}
END_TEST

START_TEST(test_scan_empty_feed)
{
    struct pcfw_http_head_scan sc;

    pcfw_http_head_scan_init(&sc);
    ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8(""), 0, BIG), 0);
    ck_assert_uint_eq(sc.total, 0);
    ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8("GET / HTTP/1.0\n"), 15,
                                              BIG), 0);
    ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8(""), 0, BIG), 0);
    ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8("\nXYZ"), 4, BIG), 1);
    ck_assert_uint_eq(sc.total, 16);
}
END_TEST

/* ---- request heads ----------------------------------------------------- */

START_TEST(test_req_get)
{
    static const char h[] =
        "GET /index.html?q=1 HTTP/1.1\r\n"
        "Host:   example.com \t\r\n"
        "User-Agent: t/1.0\r\n"
        "X-Empty:\r\n"
        "X-Spaces: \t \r\n"
        "Accept: a, b ,c\r\n"
        "\r\n";
    struct pcfw_http_request r;

    ck_assert_int_eq(parse_req(h, &r), 0);
    ck_assert_int_eq(r.method, PCFW_HTTP_M_GET);
    check_span(h, r.method_off, r.method_len, "GET");
    check_span(h, r.target_off, r.target_len, "/index.html?q=1");
    ck_assert_uint_eq(r.version_major, 1);
    ck_assert_uint_eq(r.version_minor, 1);
    ck_assert_uint_eq(r.nfields, 5);
    check_field(h, &r.fields[0], "Host", "example.com");
    ck_assert_uint_eq(r.fields[0].value_off, 38);
    check_field(h, &r.fields[1], "User-Agent", "t/1.0");
    check_field(h, &r.fields[2], "X-Empty", "");
    check_field(h, &r.fields[3], "X-Spaces", "");
    check_field(h, &r.fields[4], "Accept", "a, b ,c");
    ck_assert_int_eq(r.content_length, -1);
    ck_assert(!r.chunked);
    ck_assert_int_eq(r.framing, PCFW_HTTP_BODY_NONE);
    ck_assert(r.has_host);
    ck_assert(r.keep_alive);
    ck_assert(!r.conn_close && !r.conn_keepalive && !r.conn_upgrade);
    ck_assert(!r.expect_continue);
}
END_TEST

START_TEST(test_req_head_and_post)
{
    static const char head[] = "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char cl[] =
        "POST /up HTTP/1.1\r\nHost: h\r\ncontent-LENGTH: 0013\r\n\r\n";
    static const char ch[] =
        "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked \r\n\r\n";
    struct pcfw_http_request r;

    ck_assert_int_eq(parse_req(head, &r), 0);
    ck_assert_int_eq(r.method, PCFW_HTTP_M_HEAD);
    ck_assert_int_eq(r.framing, PCFW_HTTP_BODY_NONE);

    ck_assert_int_eq(parse_req(cl, &r), 0);
    ck_assert_int_eq(r.method, PCFW_HTTP_M_POST);
    check_span(cl, r.target_off, r.target_len, "/up");
    ck_assert_int_eq(r.content_length, 13);
    ck_assert(!r.chunked);
    ck_assert_int_eq(r.framing, PCFW_HTTP_BODY_LENGTH);

    ck_assert_int_eq(parse_req(ch, &r), 0);
    ck_assert_int_eq(r.content_length, -1);
    ck_assert(r.chunked);
    ck_assert_int_eq(r.framing, PCFW_HTTP_BODY_CHUNKED);
    check_field(ch, &r.fields[1], "Transfer-Encoding", "Chunked");

    ck_assert_int_eq(parse_req("POST / HTTP/1.1\r\nHost: h\r\n"
                               "Content-Length: 0\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.content_length, 0);
    ck_assert_int_eq(r.framing, PCFW_HTTP_BODY_LENGTH);
    ck_assert_int_eq(parse_req("POST / HTTP/1.1\r\nHost: h\r\n"
                               "Content-Length: 9223372036854775807\r\n\r\n",
                               &r), 0);
    ck_assert_int_eq(r.content_length, INT64_MAX);
    ck_assert_int_eq(parse_req("PUT / HTTP/1.1\r\nHost: h\r\n"
                               "Transfer-Encoding: ,CHUNKED,\r\n\r\n", &r), 0);
    ck_assert(r.chunked);
}
END_TEST

START_TEST(test_req_methods)
{
    static const struct { const char *m; int e; } tab[] = {
        { "GET", PCFW_HTTP_M_GET }, { "HEAD", PCFW_HTTP_M_HEAD },
        { "POST", PCFW_HTTP_M_POST }, { "PUT", PCFW_HTTP_M_PUT },
        { "DELETE", PCFW_HTTP_M_DELETE }, { "OPTIONS", PCFW_HTTP_M_OPTIONS },
        { "PATCH", PCFW_HTTP_M_PATCH }, { "CONNECT", PCFW_HTTP_M_CONNECT },
        { "TRACE", PCFW_HTTP_M_TRACE }, { "get", PCFW_HTTP_M_OTHER },
        { "GETS", PCFW_HTTP_M_OTHER }, { "GE", PCFW_HTTP_M_OTHER },
        { "PROPFIND", PCFW_HTTP_M_OTHER }, { "M-SEARCH", PCFW_HTTP_M_OTHER },
        { "!#$%&'*+-.^_`|~09", PCFW_HTTP_M_OTHER },
    };
    char buf[128];
    struct pcfw_http_request r;

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        snprintf(buf, sizeof(buf), "%s /x HTTP/1.1\r\nHost: h\r\n\r\n",
                 tab[i].m);
        ck_assert_int_eq(parse_req(buf, &r), 0);
        ck_assert_int_eq(r.method, tab[i].e);
        check_span(buf, r.method_off, r.method_len, tab[i].m);
        check_span(buf, r.target_off, r.target_len, "/x");
    }
}
END_TEST

START_TEST(test_req_leading_lines_and_lf)
{
    static const char h[] =
        "\r\n\nGET /a HTTP/1.0\nHost: x\r\nAccept: */*\n\n";
    struct pcfw_http_request r;
    size_t total;

    ck_assert_int_eq(scan_once(h, BIG, &total), (long)(sizeof(h) - 1));
    ck_assert_int_eq(pcfw_http_parse_request(U8(h), total, &r), 0);
    ck_assert_uint_eq(r.method_off, 3);
    check_span(h, r.method_off, r.method_len, "GET");
    check_span(h, r.target_off, r.target_len, "/a");
    ck_assert_uint_eq(r.version_minor, 0);
    ck_assert_uint_eq(r.nfields, 2);
    check_field(h, &r.fields[0], "Host", "x");
    check_field(h, &r.fields[1], "Accept", "*/*");
    ck_assert(!r.keep_alive);
}
END_TEST

START_TEST(test_req_connection)
{
    static const struct {
        const char *h;
        bool close, ka, up, keep_alive;
    } tab[] = {
        { "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, 0, 0, 1 },
        { "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
          1, 0, 0, 0 },
        { "GET / HTTP/1.1\r\nHost: h\r\nConnection: CLOSE\r\n\r\n",
          1, 0, 0, 0 },
        { "GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, Upgrade\r\n"
          "\r\n", 0, 1, 1, 1 },
        { "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, , closed,x-close\r\n"
          "\r\n", 0, 0, 0, 1 },
        { "GET / HTTP/1.1\r\nHost: h\r\nConnection: te\r\n"
          "connection:upgrade ,close\r\n\r\n", 1, 0, 1, 0 },
        { "GET / HTTP/1.0\r\n\r\n", 0, 0, 0, 0 },
        { "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, 1, 0, 1 },
        { "GET / HTTP/1.0\r\nConnection: keep-alive,close\r\n\r\n",
          1, 1, 0, 0 },
        { "GET / HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n", 0, 0, 0, 0 },
    };
    struct pcfw_http_request r;

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        ck_assert_msg(parse_req(tab[i].h, &r) == 0, "case %zu", i);
        ck_assert_msg(r.conn_close == tab[i].close
                      && r.conn_keepalive == tab[i].ka
                      && r.conn_upgrade == tab[i].up
                      && r.keep_alive == tab[i].keep_alive, "case %zu", i);
    }
}
END_TEST

/* Keep-Alive: timeout=N as Apache and Node send it; anything else is -1. */
START_TEST(test_keepalive_timeout)
{
    static const struct {
        const char *value;
        long secs;
    } cases[] = {
        { "timeout=5, max=100", 5 },
        { "max=100, timeout=15", 15 },
        { "Timeout = 7", 7 },
        { "timeout=0", 0 },
        { "timeout=99999999999", 86400 },
        { "timeout=", -1 },
        { "timeout=5s", -1 },
        { "timeouts=5", -1 },
        { "max=5", -1 },
        { "", -1 },
        { "timeout=-1", -1 },
        { ",,timeout=3,,", 3 },
    };

    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *v = cases[i].value;

        ck_assert_msg(pcfw_http_keepalive_timeout((const uint8_t *)v,
                                                  strlen(v)) == cases[i].secs,
                      "\"%s\"", v);
    }
}
END_TEST

START_TEST(test_connection_names_framing)
{
    /*
     * A Connection token naming a framing or routing field is refused in
     * both directions: honouring it would drop the field the body was
     * framed by (request capture on a shared server connection).
     */
    static const char *const reqs[] = {
        "POST /a HTTP/1.1\r\nHost: h\r\nConnection: content-length\r\n"
        "Content-Length: 44\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, "
        "Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nConnection: HOST\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nConnection: x\r\n"
        "Connection: close , content-length\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: content-length\r\n\r\n",
    };
    static const char *const resps[] = {
        "HTTP/1.1 200 OK\r\nConnection: content-length\r\n"
        "Content-Length: 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: Transfer-Encoding\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.0 200 OK\r\nConnection: keep-alive,content-length\r\n"
        "Content-Length: 5\r\n\r\n",
    };
    struct pcfw_http_request r;
    struct pcfw_http_response resp;

    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        ck_assert_msg(parse_req(reqs[i], &r) == PCFW_HTTP_E_BAD, "req %zu", i);
    }
    for (size_t i = 0; i < sizeof(resps) / sizeof(resps[0]); i++) {
        ck_assert_msg(parse_resp(resps[i], PCFW_HTTP_M_GET, &resp) ==
                      PCFW_HTTP_E_BAD, "resp %zu", i);
    }
    /* Other names stay hop-by-hop tokens, as before. */
    ck_assert_int_eq(parse_req("GET / HTTP/1.1\r\nHost: h\r\nConnection: "
                               "content-lengthx, x-host\r\n\r\n", &r), 0);
}
END_TEST

START_TEST(test_req_target_forms)
{
    /* RFC 9112 §3.2: the target's form must fit the method. */
    static const struct {
        const char *line;
        int rc, form;
        const char *authority, *path;
    } tab[] = {
        { "GET /a?b HTTP/1.1", 0, PCFW_HTTP_TARGET_ORIGIN, NULL, NULL },
        { "OPTIONS * HTTP/1.1", 0, PCFW_HTTP_TARGET_ASTERISK, NULL, NULL },
        { "GET * HTTP/1.1", PCFW_HTTP_E_BAD, 0, NULL, NULL },
        { "POST * HTTP/1.1", PCFW_HTTP_E_BAD, 0, NULL, NULL },
        { "GET a/b HTTP/1.1", PCFW_HTTP_E_BAD, 0, NULL, NULL },
        { "GET ?q HTTP/1.1", PCFW_HTTP_E_BAD, 0, NULL, NULL },
        { "GET host:80 HTTP/1.1", PCFW_HTTP_E_BAD, 0, NULL, NULL },
        { "CONNECT host:443 HTTP/1.1", 0, PCFW_HTTP_TARGET_AUTHORITY,
          NULL, NULL },
        { "GET http://ex.com:81/p?q HTTP/1.1", 0, PCFW_HTTP_TARGET_ABSOLUTE,
          "ex.com:81", "/p?q" },
        { "GET HTTPS://ex.com HTTP/1.1", 0, PCFW_HTTP_TARGET_ABSOLUTE,
          "ex.com", "" },
        { "GET http://ex.com?q HTTP/1.1", 0, PCFW_HTTP_TARGET_ABSOLUTE,
          "ex.com", "?q" },
        { "GET http:///p HTTP/1.1", PCFW_HTTP_E_BAD, 0, NULL, NULL },
        { "GET http://:80/p HTTP/1.1", PCFW_HTTP_E_BAD, 0, NULL, NULL },
        { "GET http://ex.com:8x/p HTTP/1.1", PCFW_HTTP_E_BAD, 0, NULL, NULL },
        { "GET http://[::1]:8080/p HTTP/1.1", 0, PCFW_HTTP_TARGET_ABSOLUTE,
          "[::1]:8080", "/p" },
        { "GET http://ex.com/a@b HTTP/1.1", 0, PCFW_HTTP_TARGET_ABSOLUTE,
          "ex.com", "/a@b" },
        { "GET http://u:pw@ex.com/ HTTP/1.1", PCFW_HTTP_E_BAD, 0, NULL, NULL },
        { "GET http://ex.com#f HTTP/1.1", PCFW_HTTP_E_BAD, 0, NULL, NULL },
        /* A fragment in origin-form too: Go keeps it in the path. */
        { "GET /public#/../admin/ HTTP/1.1", PCFW_HTTP_E_BAD, 0, NULL, NULL },
        { "GET /a?q#f HTTP/1.1", PCFW_HTTP_E_BAD, 0, NULL, NULL },
        { "GET ftp://ex.com/ HTTP/1.1", PCFW_HTTP_E_BAD, 0, NULL, NULL },
    };
    char buf[256];
    struct pcfw_http_request r;

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        snprintf(buf, sizeof(buf), "%s\r\nHost: h\r\n\r\n", tab[i].line);
        ck_assert_msg(parse_req(buf, &r) == tab[i].rc, "case %zu", i);
        if (tab[i].rc) {
            continue;
        }
        ck_assert_msg((int)r.target_form == tab[i].form, "case %zu", i);
        if (tab[i].authority) {
            check_span(buf, r.authority_off, r.authority_len,
                       tab[i].authority);
            check_span(buf, r.path_off, r.path_len, tab[i].path);
        }
    }
}
END_TEST

START_TEST(test_req_forwarded_syntax)
{
    /* RFC 7239: the card appends to the last line, so it must parse. */
    static const struct { const char *v; int rc; } tab[] = {
        { "for=1.2.3.4", 0 },
        { "for=1.2.3.4;proto=http, for=\"[2001:db8::1]:80\"", 0 },
        { "For=a ; by=b,for=c", 0 },
        { "for=\"a\\\"b\"", 0 },
        { "for", PCFW_HTTP_E_BAD },
        { "for=", PCFW_HTTP_E_BAD },
        { "=x", PCFW_HTTP_E_BAD },
        { "for=a b", PCFW_HTTP_E_BAD },
        { "for=\"open", PCFW_HTTP_E_BAD },
        { "for=a=b", PCFW_HTTP_E_BAD },
        { ",", PCFW_HTTP_E_BAD },
    };
    char buf[256];
    struct pcfw_http_request r;

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\n"
                 "Forwarded: %s\r\n\r\n", tab[i].v);
        ck_assert_msg(parse_req(buf, &r) == tab[i].rc, "case %zu: %s", i,
                      tab[i].v);
    }
}
END_TEST

START_TEST(test_req_expect)
{
    struct pcfw_http_request r;

    ck_assert_int_eq(parse_req("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5"
                               "\r\nExpect: 100-Continue\r\n\r\n", &r), 0);
    ck_assert(r.expect_continue);
    ck_assert_int_eq(parse_req("PUT / HTTP/1.1\r\nHost: h\r\n"
                               "Expect: 100-continue\r\nExpect: 100-CONTINUE"
                               "\r\n\r\n", &r), 0);
    ck_assert(r.expect_continue);
    ck_assert_int_eq(parse_req("PUT / HTTP/1.1\r\nHost: h\r\n"
                               "Expect: foo\r\n\r\n", &r),
                     PCFW_HTTP_E_EXPECTATION);
    ck_assert_int_eq(parse_req("PUT / HTTP/1.1\r\nHost: h\r\n"
                               "Expect: 100-continue, foo\r\n\r\n", &r),
                     PCFW_HTTP_E_EXPECTATION);
    ck_assert_int_eq(parse_req("PUT / HTTP/1.1\r\nHost: h\r\n"
                               "Expect: 100-continues\r\n\r\n", &r),
                     PCFW_HTTP_E_EXPECTATION);
    ck_assert_int_eq(parse_req("PUT / HTTP/1.1\r\nHost: h\r\n"
                               "Expect:\r\n\r\n", &r),
                     PCFW_HTTP_E_EXPECTATION);
    /* RFC 9110 §10.1.1: an HTTP/1.0 request's expectations are ignored. */
    ck_assert_int_eq(parse_req("PUT / HTTP/1.0\r\nContent-Length: 5\r\n"
                               "Expect: 100-continue\r\n\r\n", &r), 0);
    ck_assert(!r.expect_continue);
    ck_assert_int_eq(parse_req("PUT / HTTP/1.0\r\nExpect: foo\r\n\r\n", &r),
                     0);
    ck_assert(!r.expect_continue);
}
END_TEST

/* Request lines refused with 400 (one field line and the end follow). */
START_TEST(test_req_bad_request_line)
{
    static const char *const bad[] = {
        "GET  / HTTP/1.1", "GET /  HTTP/1.1", " GET / HTTP/1.1",
        "GET / HTTP/1.1 ", "GET\t/ HTTP/1.1", "GET /\tHTTP/1.1",
        "G(T / HTTP/1.1", "G:T / HTTP/1.1", "GET  HTTP/1.1",
        "GET /a\x01" "b HTTP/1.1",
        "GET /a\x7f HTTP/1.1", "GET /", "GET / ", "GET", "/ HTTP/1.1",
        "GET / http/1.1", "GET / HTTP/1.10", "GET / HTTP/11", "GET / HTTP/1",
        "GET / HTTP/1.1x", "GET / HTTP/ 1.1", "GET / HTTP/1,1",
        "GET /a b HTTP/1.1", "GET / HTTP/1.1 HTTP/1.1", "GET / HTTPS/1.1",
        "GET / HTTP/a.1", "GET / HTTP/1.",
    };
    static const char nul_target[] = "GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n";
    char buf[128];
    struct pcfw_http_request r;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf), "%s\r\nHost: h\r\n\r\n", bad[i]);
        ck_assert_msg(parse_req(buf, &r) == PCFW_HTTP_E_BAD, "case %zu: %s",
                      i, bad[i]);
    }
    /* NUL in the target. */
    ck_assert_int_eq(pcfw_http_parse_request(U8(nul_target),
                                             sizeof(nul_target) - 1, &r),
                     PCFW_HTTP_E_BAD);
    /* Nothing but empty lines. */
    ck_assert_int_eq(parse_req("\r\n\r\n", &r), PCFW_HTTP_E_BAD);
    ck_assert_int_eq(pcfw_http_parse_request(U8(""), 0, &r), PCFW_HTTP_E_BAD);
    /* Obs-text passes in the target (raw UTF-8, as nginx allows). */
    ck_assert_int_eq(parse_req("GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
                               &r), 0);
    check_span("GET /\xc3\xa9", r.target_off, r.target_len, "/\xc3\xa9");
}
END_TEST

START_TEST(test_req_version)
{
    static const struct { const char *v; int rc; } tab[] = {
        { "HTTP/1.1", 0 }, { "HTTP/1.0", 0 },
        { "HTTP/2.0", PCFW_HTTP_E_VERSION },
        { "HTTP/0.9", PCFW_HTTP_E_VERSION },
        { "HTTP/1.2", 0 }, { "HTTP/1.9", 0 },
        { "HTTP/9.9", PCFW_HTTP_E_VERSION },
        { "HTTP/3.0", PCFW_HTTP_E_VERSION }, { "HTTP/2", PCFW_HTTP_E_BAD },
        { "HTTP/2.00", PCFW_HTTP_E_BAD }, { "HTTP/1.1.1", PCFW_HTTP_E_BAD },
        { "Http/1.1", PCFW_HTTP_E_BAD }, { "FOO", PCFW_HTTP_E_BAD },
    };
    char buf[128];
    struct pcfw_http_request r;

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        snprintf(buf, sizeof(buf), "GET / %s\r\nHost: h\r\n\r\n", tab[i].v);
        ck_assert_msg(parse_req(buf, &r) == tab[i].rc, "case %s", tab[i].v);
    }
    ck_assert_int_eq(parse_req("GET / HTTP/1.0\r\nHost: h\r\n\r\n", &r), 0);
    ck_assert_uint_eq(r.version_major, 1);
    ck_assert_uint_eq(r.version_minor, 0);
    /*
     * RFC 9110 §2.5: a higher minor of major 1 is processed as 1.1, the
     * highest we conform to, so 1.1's rules apply (Host required,
     * persistent by default).
     */
    ck_assert_int_eq(parse_req("GET / HTTP/1.2\r\nHost: h\r\n\r\n", &r), 0);
    ck_assert_uint_eq(r.version_major, 1);
    ck_assert_uint_eq(r.version_minor, 1);
    ck_assert(r.keep_alive);
    ck_assert_int_eq(parse_req("GET / HTTP/1.7\r\n\r\n", &r),
                     PCFW_HTTP_E_BAD);
}
END_TEST

START_TEST(test_req_bad_fields)
{
    static const char *const bad[] = {
        "Host : a",             /* whitespace before the colon */
        "Host\t: a",
        "Ho st: a",
        " X: a",                /* obs-fold / leading whitespace */
        "\tX: a",
        "X a",                  /* no colon */
        "X",
        ": a",                  /* empty name */
        "X(: a",                /* not a token */
        "X\"y: a",
        "X/y: a",
        "X@: a",
        "\xc3\xa9: a",
        "X: a\x01" "b",         /* CTL in the value */
        "X: a\x7f",
        "X: \x1b[0m",
        "X: a\rb",              /* bare CR */
    };
    static const char nul_value[] =
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
    char buf[128];
    struct pcfw_http_request r;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\n%s\r\n\r\n",
                 bad[i]);
        ck_assert_msg(parse_req(buf, &r) == PCFW_HTTP_E_BAD, "case %zu", i);
    }
    /* obs-fold continuing a valid field. */
    ck_assert_int_eq(parse_req("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n"
                               "\r\n", &r), PCFW_HTTP_E_BAD);
    /* NUL in a value. */
    ck_assert_int_eq(pcfw_http_parse_request(U8(nul_value),
                                             sizeof(nul_value) - 1, &r),
                     PCFW_HTTP_E_BAD);
    /* obs-text and HTAB inside a value are fine. */
    ck_assert_int_eq(parse_req("GET / HTTP/1.1\r\nHost: h\r\n"
                               "X: a\tb \xff\r\n\r\n", &r), 0);
    check_field("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb \xff", &r.fields[1],
                "X", "a\tb \xff");
}
END_TEST

START_TEST(test_req_not_a_whole_head)
{
    static uint8_t big[PCFW_HTTP_HEAD_MAX + 2];
    struct pcfw_http_request r;

    ck_assert_int_eq(parse_req("GET / HTTP/1.1\r\nHost: h\r\n", &r),
                     PCFW_HTTP_E_BAD);
    ck_assert_int_eq(parse_req("GET / HTTP/1.1\r\nHost: h", &r),
                     PCFW_HTTP_E_BAD);
    ck_assert_int_eq(parse_req("GET / HTTP/1.1", &r), PCFW_HTTP_E_BAD);
    /* Bytes after the empty line are not the head's. */
    ck_assert_int_eq(parse_req("GET / HTTP/1.1\r\nHost: h\r\n\r\nX", &r),
                     PCFW_HTTP_E_BAD);
    ck_assert_int_eq(parse_req("GET / HTTP/1.1\r\nHost: h\r\n\r\n\r\n", &r),
                     PCFW_HTTP_E_BAD);
    /* Over the offset range. */
    memset(big, 'a', sizeof(big));
    ck_assert_int_eq(pcfw_http_parse_request(big, PCFW_HTTP_HEAD_MAX + 1, &r),
                     PCFW_HTTP_E_HEAD_TOO_LARGE);
}
END_TEST

/* A head of @n field lines after the start line (Host is the first). */
static size_t many_fields(char *buf, size_t cap, const char *start,
                          unsigned n)
{
    size_t len = (size_t)snprintf(buf, cap, "%s\r\nHost: h\r\n", start);

    for (unsigned i = 1; i < n; i++) {
        len += (size_t)snprintf(buf + len, cap - len, "X-F%u: v%u\r\n", i, i);
    }
    len += (size_t)snprintf(buf + len, cap - len, "\r\n");
    return len;
}

START_TEST(test_fields_limit)
{
    static char buf[8192];
    struct pcfw_http_request r;
    struct pcfw_http_response rs;
    size_t n;

    n = many_fields(buf, sizeof(buf), "GET / HTTP/1.1", PCFW_HTTP_MAX_FIELDS);
    ck_assert_int_eq(pcfw_http_parse_request(U8(buf), n, &r), 0);
    ck_assert_uint_eq(r.nfields, PCFW_HTTP_MAX_FIELDS);
    check_field(buf, &r.fields[99], "X-F99", "v99");

    n = many_fields(buf, sizeof(buf), "GET / HTTP/1.1",
                    PCFW_HTTP_MAX_FIELDS + 1);
    ck_assert_int_eq(pcfw_http_parse_request(U8(buf), n, &r),
                     PCFW_HTTP_E_HEAD_TOO_LARGE);

    /* Responses may have many more (issue 8 item 9: 65 gave 502). */
    n = many_fields(buf, sizeof(buf), "HTTP/1.1 200 OK", 65);
    ck_assert_int_eq(pcfw_http_parse_response(U8(buf), n, PCFW_HTTP_M_GET,
                                              &rs), 0);
    n = many_fields(buf, sizeof(buf), "HTTP/1.1 200 OK",
                    PCFW_HTTP_MAX_RESP_FIELDS);
    ck_assert_int_eq(pcfw_http_parse_response(U8(buf), n, PCFW_HTTP_M_GET,
                                              &rs), 0);
    ck_assert_uint_eq(rs.nfields, PCFW_HTTP_MAX_RESP_FIELDS);
    n = many_fields(buf, sizeof(buf), "HTTP/1.1 200 OK",
                    PCFW_HTTP_MAX_RESP_FIELDS + 1);
    ck_assert_int_eq(pcfw_http_parse_response(U8(buf), n, PCFW_HTTP_M_GET,
                                              &rs),
                     PCFW_HTTP_E_HEAD_TOO_LARGE);
}
END_TEST

START_TEST(test_req_content_length)
{
    static const struct { const char *v; int rc; int64_t cl; } tab[] = {
        { "0", 0, 0 }, { "007", 0, 7 }, { " 42 ", 0, 42 },
        { "9223372036854775807", 0, INT64_MAX },
        { "9223372036854775808", PCFW_HTTP_E_BAD, 0 },
        { "10000000000000000000", PCFW_HTTP_E_BAD, 0 },
        { "99999999999999999999999", PCFW_HTTP_E_BAD, 0 },
        { "-1", PCFW_HTTP_E_BAD, 0 }, { "+1", PCFW_HTTP_E_BAD, 0 },
        { "1 2", PCFW_HTTP_E_BAD, 0 }, { "1,1", PCFW_HTTP_E_BAD, 0 },
        { "5, 5", PCFW_HTTP_E_BAD, 0 }, { "", PCFW_HTTP_E_BAD, 0 },
        { "0x10", PCFW_HTTP_E_BAD, 0 }, { "1e3", PCFW_HTTP_E_BAD, 0 },
        { "12a", PCFW_HTTP_E_BAD, 0 },
    };
    char buf[160];
    struct pcfw_http_request r;

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        int rc;

        snprintf(buf, sizeof(buf),
                 "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\n\r\n",
                 tab[i].v);
        rc = parse_req(buf, &r);
        ck_assert_msg(rc == tab[i].rc, "case '%s': %d", tab[i].v, rc);
        if (rc == 0) {
            ck_assert_int_eq(r.content_length, tab[i].cl);
        }
    }
    /* Duplicates are refused, identical ones too (as nginx). */
    ck_assert_int_eq(parse_req("POST / HTTP/1.1\r\nHost: h\r\n"
                               "Content-Length: 5\r\ncontent-length: 5\r\n\r\n",
                               &r), PCFW_HTTP_E_BAD);
    ck_assert_int_eq(parse_req("POST / HTTP/1.1\r\nHost: h\r\n"
                               "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
                               &r), PCFW_HTTP_E_BAD);
    ck_assert_int_eq(parse_req("POST / HTTP/1.1\r\nHost: h\r\n"
                               "Content-Length: 0\r\nContent-Length: 0\r\n\r\n",
                               &r), PCFW_HTTP_E_BAD);
}
END_TEST

START_TEST(test_req_transfer_encoding)
{
    static const struct { const char *fields; int rc; } tab[] = {
        { "Transfer-Encoding: chunked\r\n", 0 },
        { "transfer-encoding: CHUNKED\r\n", 0 },
        { "Transfer-Encoding:  chunked\t\r\n", 0 },
        { "Transfer-Encoding: gzip, chunked\r\n", PCFW_HTTP_E_NOT_IMPLEMENTED },
        { "Transfer-Encoding: chunked, gzip\r\n", PCFW_HTTP_E_NOT_IMPLEMENTED },
        { "Transfer-Encoding: gzip\r\n", PCFW_HTTP_E_NOT_IMPLEMENTED },
        { "Transfer-Encoding: identity\r\n", PCFW_HTTP_E_NOT_IMPLEMENTED },
        { "Transfer-Encoding: chunked;q=1\r\n", PCFW_HTTP_E_NOT_IMPLEMENTED },
        { "Transfer-Encoding: chunked, chunked\r\n",
          PCFW_HTTP_E_NOT_IMPLEMENTED },
        { "Transfer-Encoding: chunkedx\r\n", PCFW_HTTP_E_NOT_IMPLEMENTED },
        { "Transfer-Encoding: \"chunked\"\r\n", PCFW_HTTP_E_NOT_IMPLEMENTED },
        { "Transfer-Encoding:\r\n", PCFW_HTTP_E_NOT_IMPLEMENTED },
        { "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
          PCFW_HTTP_E_NOT_IMPLEMENTED },
        { "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
          PCFW_HTTP_E_NOT_IMPLEMENTED },
        { "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
          PCFW_HTTP_E_BAD },
        { "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
          PCFW_HTTP_E_BAD },
        /* CL+TE is 400 even when the coding would be a 501. */
        { "Content-Length: 5\r\nTransfer-Encoding: gzip\r\n", PCFW_HTTP_E_BAD },
        { "Transfer-Encoding : chunked\r\n", PCFW_HTTP_E_BAD },
    };
    char buf[256];
    struct pcfw_http_request r;

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        int rc;

        snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nHost: h\r\n%s\r\n",
                 tab[i].fields);
        rc = parse_req(buf, &r);
        ck_assert_msg(rc == tab[i].rc, "case %zu: %d", i, rc);
        if (rc == 0) {
            ck_assert(r.chunked);
            ck_assert_int_eq(r.framing, PCFW_HTTP_BODY_CHUNKED);
        }
    }
    /* Any Transfer-Encoding in an HTTP/1.0 request is 400. */
    ck_assert_int_eq(parse_req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked"
                               "\r\n\r\n", &r), PCFW_HTTP_E_BAD);
    ck_assert_int_eq(parse_req("POST / HTTP/1.0\r\nTransfer-Encoding: gzip"
                               "\r\n\r\n", &r), PCFW_HTTP_E_BAD);
}
END_TEST

START_TEST(test_req_host)
{
    struct pcfw_http_request r;

    ck_assert_int_eq(parse_req("GET / HTTP/1.1\r\n\r\n", &r), PCFW_HTTP_E_BAD);
    ck_assert_int_eq(parse_req("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", &r),
                     PCFW_HTTP_E_BAD);
    ck_assert_int_eq(parse_req("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
                               &r), PCFW_HTTP_E_BAD);
    ck_assert_int_eq(parse_req("GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n",
                               &r), PCFW_HTTP_E_BAD);
    ck_assert_int_eq(parse_req("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
                               &r), PCFW_HTTP_E_BAD);
    ck_assert_int_eq(parse_req("GET / HTTP/1.0\r\n\r\n", &r), 0);
    ck_assert(!r.has_host);
    ck_assert_int_eq(parse_req("GET / HTTP/1.0\r\nhOsT: a:80\r\n\r\n", &r), 0);
    ck_assert(r.has_host);
    /* An empty Host is allowed (RFC 9112 §3.2). */
    ck_assert_int_eq(parse_req("GET / HTTP/1.1\r\nHost:\r\n\r\n", &r), 0);
    ck_assert(r.has_host);
    ck_assert_uint_eq(r.fields[0].value_len, 0);
}
END_TEST

/*
 * Host = uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2): anything
 * else is a 400 (RFC 9112 §3.2), so no server routes on a path-like or
 * userinfo-carrying value the card let through.
 */
static const char *const good_hosts[] = {
    "a", "example.com", "EXAMPLE.com.", "example.com:8080", "ex.com:",
    "1.2.3.4", "1.2.3.4:80", "999.1.1.1", "xn--bcher-kva.example", "a_b~c",
    "a%20b", "a!$&'()*+,;=b", "[::1]", "[::1]:8080", "[::]",
    "[2001:db8::1]", "[2001:DB8:0:0:0:0:0:1]", "[1:2:3:4:5:6:7::]",
    "[::ffff:1.2.3.4]", "[1:2:3:4:5:6:1.2.3.4]", "[v1.x:y]", "[vF.a]:1",
};
static const char *const bad_hosts[] = {
    "a/b", "/", "a?b", "a#b", "u@a", "u:p@a", "a b", "a\tb", "a\\b",
    ":80", ":", "a:8x", "a:80:80", "a:-1", "a%2", "a%zz", "a%", "\xc3\xa9",
    "a\"b", "a<b", "a[b", "a]b", "[::1", "::1", "[::1]x", "[::1]:a",
    "[]", "[:]", "[1::2::3]", "[1:2:3:4:5:6:7:8:9]", "[1:2:3:4:5:6:7]",
    "[1:2:3:4:5:6:7:8::]", "[12345::]", "[:1::]", "[1::2:]", "[::1.2.3.256]",
    "[::1.2.3]", "[::01.2.3.4]", "[::1.2.3.4:5]", "[1:2:3:4:5:6:7:1.2.3.4]",
    "[v1]", "[v.x]", "[vx.y]", "[v1.]", "[v1.a/b]", "[::1]/", "[::1]@a",
};

START_TEST(test_req_host_syntax)
{
    char buf[256];
    struct pcfw_http_request r;

    for (size_t i = 0; i < sizeof(good_hosts) / sizeof(good_hosts[0]); i++) {
        snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
                 good_hosts[i]);
        ck_assert_msg(parse_req(buf, &r) == 0, "good %zu: %s", i,
                      good_hosts[i]);
    }
    for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
        snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
                 bad_hosts[i]);
        ck_assert_msg(parse_req(buf, &r) == PCFW_HTTP_E_BAD, "bad %zu: %s",
                      i, bad_hosts[i]);
        /* 1.0 too: an invalid Host is refused whatever the version. */
        snprintf(buf, sizeof(buf), "GET / HTTP/1.0\r\nHost: %s\r\n\r\n",
                 bad_hosts[i]);
        ck_assert_msg(parse_req(buf, &r) == PCFW_HTTP_E_BAD, "bad 1.0 %zu",
                      i);
        /*
         * With an absolute-form target the card sends the target's
         * authority instead, but RFC 9112 §3.2 still says 400.
         */
        snprintf(buf, sizeof(buf), "GET http://ok/ HTTP/1.1\r\nHost: %s"
                 "\r\n\r\n", bad_hosts[i]);
        ck_assert_msg(parse_req(buf, &r) == PCFW_HTTP_E_BAD, "bad abs %zu",
                      i);
    }
    /*
     * The same rule for an absolute-form target's authority, which the
     * card sends as the Host (up to the first '/', '?' or '#').
     */
    for (size_t i = 0; i < sizeof(good_hosts) / sizeof(good_hosts[0]); i++) {
        snprintf(buf, sizeof(buf), "GET http://%s/p HTTP/1.1\r\nHost: h"
                 "\r\n\r\n", good_hosts[i]);
        ck_assert_msg(parse_req(buf, &r) == 0, "good abs %zu: %s", i,
                      good_hosts[i]);
        check_span(buf, r.authority_off, r.authority_len, good_hosts[i]);
    }
    for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
        /* '/', '?', '#' end the authority: what is before them counts. */
        if (strpbrk(bad_hosts[i], " \t/?#")) {
            continue;
        }
        snprintf(buf, sizeof(buf), "GET http://%s/p HTTP/1.1\r\nHost: h"
                 "\r\n\r\n", bad_hosts[i]);
        ck_assert_msg(parse_req(buf, &r) == PCFW_HTTP_E_BAD,
                      "bad abs target %zu: %s", i, bad_hosts[i]);
    }
    /* Only the request's Host is checked: a response's is no routing. */
    {
        struct pcfw_http_response resp;

        ck_assert_int_eq(parse_resp("HTTP/1.1 200 OK\r\nHost: a/b\r\n"
                                    "Content-Length: 0\r\n\r\n",
                                    PCFW_HTTP_M_GET, &resp), 0);
    }
}
END_TEST

START_TEST(test_field_is_and_find)
{
    static const char h[] =
        "GET / HTTP/1.1\r\nHost: h\r\nKEEP-alive: 5\r\nKeep-Alive-X: 1\r\n"
        "connection: close\r\n\r\n";
    struct pcfw_http_request r;

    ck_assert_int_eq(parse_req(h, &r), 0);
    ck_assert(pcfw_http_field_is(U8(h), &r.fields[0], "host"));
    ck_assert(!pcfw_http_field_is(U8(h), &r.fields[0], "hos"));
    ck_assert(!pcfw_http_field_is(U8(h), &r.fields[0], "hostx"));
    ck_assert(pcfw_http_field_is(U8(h), &r.fields[1], "keep-alive"));
    ck_assert(!pcfw_http_field_is(U8(h), &r.fields[2], "keep-alive"));
    ck_assert(pcfw_http_field_is(U8(h), &r.fields[3], "connection"));
    ck_assert_int_eq(pcfw_http_find_field(U8(h), r.fields, r.nfields,
                                          "keep-alive"), 1);
    ck_assert_int_eq(pcfw_http_find_field(U8(h), r.fields, r.nfields,
                                          "connection"), 3);
    ck_assert_int_eq(pcfw_http_find_field(U8(h), r.fields, r.nfields,
                                          "upgrade"), -1);
    ck_assert_int_eq(pcfw_http_find_field(U8(h), r.fields, 0, "host"), -1);
}
END_TEST

/* ---- response heads ---------------------------------------------------- */

START_TEST(test_resp_basic)
{
    static const char h[] =
        "HTTP/1.1 200 All Good\tHere\r\nContent-Length: 5\r\n"
        "Server: x\r\n\r\n";
    struct pcfw_http_response r;

    ck_assert_int_eq(parse_resp(h, PCFW_HTTP_M_GET, &r), 0);
    ck_assert_uint_eq(r.status, 200);
    ck_assert_uint_eq(r.version_major, 1);
    ck_assert_uint_eq(r.version_minor, 1);
    check_span(h, r.reason_off, r.reason_len, "All Good\tHere");
    ck_assert_uint_eq(r.nfields, 2);
    check_field(h, &r.fields[0], "Content-Length", "5");
    check_field(h, &r.fields[1], "Server", "x");
    ck_assert_int_eq(r.content_length, 5);
    ck_assert_int_eq(r.framing, PCFW_HTTP_BODY_LENGTH);
    ck_assert(r.keep_alive && !r.interim && !r.tunnel && !r.chunked);

    /* No reason phrase, with and without its SP; leading empty lines. */
    ck_assert_int_eq(parse_resp("HTTP/1.1 204\r\n\r\n", PCFW_HTTP_M_GET, &r),
                     0);
    ck_assert_uint_eq(r.status, 204);
    ck_assert_uint_eq(r.reason_len, 0);
    ck_assert_int_eq(parse_resp("\r\nHTTP/1.1 404 \n\n", PCFW_HTTP_M_GET, &r),
                     0);
    ck_assert_uint_eq(r.status, 404);
    ck_assert_uint_eq(r.reason_off, 15);
    ck_assert_uint_eq(r.reason_len, 0);
    ck_assert_int_eq(parse_resp("HTTP/1.1 999 Odd\r\nContent-Length: 1\r\n\r\n",
                                PCFW_HTTP_M_GET, &r), 0);
    ck_assert_uint_eq(r.status, 999);
}
END_TEST

START_TEST(test_resp_framing_table)
{
    static const struct {
        const char *h;
        int method;
        int framing;
        bool keep_alive, interim, tunnel, chunked;
        int64_t cl;
    } tab[] = {
#define R11 "HTTP/1.1 200 OK\r\n"
        { R11 "Content-Length: 5\r\n\r\n", PCFW_HTTP_M_GET,
          PCFW_HTTP_BODY_LENGTH, 1, 0, 0, 0, 5 },
        { R11 "Content-Length: 0\r\n\r\n", PCFW_HTTP_M_GET,
          PCFW_HTTP_BODY_LENGTH, 1, 0, 0, 0, 0 },
        { R11 "Transfer-Encoding: chunked\r\n\r\n", PCFW_HTTP_M_GET,
          PCFW_HTTP_BODY_CHUNKED, 1, 0, 0, 1, -1 },
        { R11 "Transfer-Encoding: gzip, Chunked\r\n\r\n", PCFW_HTTP_M_POST,
          PCFW_HTTP_BODY_CHUNKED, 1, 0, 0, 1, -1 },
        { R11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
          PCFW_HTTP_M_GET, PCFW_HTTP_BODY_CHUNKED, 1, 0, 0, 1, -1 },
        { R11 "Transfer-Encoding: gzip\r\n\r\n", PCFW_HTTP_M_GET,
          PCFW_HTTP_BODY_CLOSE, 0, 0, 0, 0, -1 },
        { R11 "\r\n", PCFW_HTTP_M_GET, PCFW_HTTP_BODY_CLOSE, 0, 0, 0, 0, -1 },
        { R11 "Content-Length: 5\r\n\r\n", PCFW_HTTP_M_HEAD,
          PCFW_HTTP_BODY_NONE, 1, 0, 0, 0, 5 },
        { R11 "Transfer-Encoding: chunked\r\n\r\n", PCFW_HTTP_M_HEAD,
          PCFW_HTTP_BODY_NONE, 1, 0, 0, 1, -1 },
        { R11 "\r\n", PCFW_HTTP_M_HEAD, PCFW_HTTP_BODY_NONE, 1, 0, 0, 0, -1 },
        { "HTTP/1.1 204 No Content\r\n\r\n", PCFW_HTTP_M_DELETE,
          PCFW_HTTP_BODY_NONE, 1, 0, 0, 0, -1 },
        { "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
          PCFW_HTTP_M_GET, PCFW_HTTP_BODY_NONE, 1, 0, 0, 0, 0 },
        { "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
          PCFW_HTTP_M_GET, PCFW_HTTP_BODY_NONE, 1, 0, 0, 0, 100 },
        { "HTTP/1.1 100 Continue\r\n\r\n", PCFW_HTTP_M_PUT,
          PCFW_HTTP_BODY_NONE, 1, 1, 0, 0, -1 },
        { "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", PCFW_HTTP_M_GET,
          PCFW_HTTP_BODY_NONE, 1, 1, 0, 0, -1 },
        { "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
          "Upgrade: websocket\r\n\r\n", PCFW_HTTP_M_GET,
          PCFW_HTTP_BODY_CLOSE, 0, 0, 1, 0, -1 },
        { "HTTP/1.1 101 Switching Protocols\r\n\r\n", PCFW_HTTP_M_HEAD,
          PCFW_HTTP_BODY_CLOSE, 0, 0, 1, 0, -1 },
        { "HTTP/1.1 200 Connection established\r\n\r\n", PCFW_HTTP_M_CONNECT,
          PCFW_HTTP_BODY_CLOSE, 0, 0, 1, 0, -1 },
        { "HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n",
          PCFW_HTTP_M_CONNECT, PCFW_HTTP_BODY_LENGTH, 1, 0, 0, 0, 3 },
        { "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", PCFW_HTTP_M_GET,
          PCFW_HTTP_BODY_LENGTH, 0, 0, 0, 0, 5 },
        { "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n"
          "Connection: Keep-Alive\r\n\r\n", PCFW_HTTP_M_GET,
          PCFW_HTTP_BODY_LENGTH, 1, 0, 0, 0, 5 },
        { "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", PCFW_HTTP_M_GET,
          PCFW_HTTP_BODY_CLOSE, 0, 0, 0, 0, -1 },
        { "HTTP/1.0 304 Not Modified\r\nConnection: keep-alive\r\n\r\n",
          PCFW_HTTP_M_GET, PCFW_HTTP_BODY_NONE, 1, 0, 0, 0, -1 },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
          PCFW_HTTP_M_GET, PCFW_HTTP_BODY_LENGTH, 0, 0, 0, 0, 5 },
        { "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n"
          "Connection: close\r\n\r\n", PCFW_HTTP_M_POST,
          PCFW_HTTP_BODY_CHUNKED, 0, 0, 0, 1, -1 },
        /* RFC 9110 §2.5: 1.2 is read as 1.1 (persistent, TE allowed). */
        { "HTTP/1.2 200 OK\r\nContent-Length: 5\r\n\r\n", PCFW_HTTP_M_GET,
          PCFW_HTTP_BODY_LENGTH, 1, 0, 0, 0, 5 },
        { "HTTP/1.2 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
          PCFW_HTTP_M_GET, PCFW_HTTP_BODY_CHUNKED, 1, 0, 0, 1, -1 },
#undef R11
    };
    struct pcfw_http_response r;

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        int rc = parse_resp(tab[i].h, tab[i].method, &r);

        ck_assert_msg(rc == 0, "case %zu: rc %d", i, rc);
        ck_assert_msg((int)r.framing == tab[i].framing, "case %zu: framing %d",
                      i, r.framing);
        ck_assert_msg(r.keep_alive == tab[i].keep_alive
                      && r.interim == tab[i].interim
                      && r.tunnel == tab[i].tunnel
                      && r.chunked == tab[i].chunked
                      && r.content_length == tab[i].cl,
                      "case %zu: ka %d interim %d tunnel %d chunked %d cl %lld",
                      i, r.keep_alive, r.interim, r.tunnel, r.chunked,
                      (long long)r.content_length);
    }
}
END_TEST

START_TEST(test_resp_rejects)
{
    static const struct { const char *h; int rc; } tab[] = {
        { "HTTP/1.1 20 OK\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 2000 OK\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 099 Low\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 000\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 abc\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 2x0 OK\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1  200 OK\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1200 OK\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1\t200 OK\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200\tOK\r\n\r\n", PCFW_HTTP_E_BAD },
        { "http/1.1 200 OK\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.10 200 OK\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 \r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/2.0\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1\r\n\r\n", PCFW_HTTP_E_BAD },
        { "ICY 200 OK\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/2.0 200 OK\r\n\r\n", PCFW_HTTP_E_VERSION },
        { "HTTP/0.9 200 OK\r\n\r\n", PCFW_HTTP_E_VERSION },
        { "HTTP/3.1 200 OK\r\n\r\n", PCFW_HTTP_E_VERSION },
        { "HTTP/1.1 200 O\x01K\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
          "Transfer-Encoding: chunked\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n"
          "Content-Length: 5\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
          PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
          PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
          PCFW_HTTP_E_BAD },
        { "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
          PCFW_HTTP_E_BAD },
        /*
         * RFC 9112 §6.1: chunked at most once, and last.  A client that
         * takes the field as written would decode twice, or not at all,
         * whatever the card makes of it; as with CL+TE, any status.
         */
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
          PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
          "Transfer-Encoding: chunked\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked, Chunked"
          "\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
          PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
          "Transfer-Encoding: gzip\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked, chunked"
          "\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\nX : a\r\n\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", PCFW_HTTP_E_BAD },
        { "HTTP/1.1 200 OK\r\n\r\nbody", PCFW_HTTP_E_BAD },
    };
    struct pcfw_http_response r;

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        int rc = parse_resp(tab[i].h, PCFW_HTTP_M_GET, &r);

        ck_assert_msg(rc == tab[i].rc, "case %zu: %d", i, rc);
    }
}
END_TEST

/* ---- chunked bodies ---------------------------------------------------- */

/* A body with sizes in both cases, leading zeros, extensions, trailers. */
static const char chunked_body[] =
    "5\r\nhello\r\n"
    "0A;name=value\r\n0123456789\r\n"
    "00003 ;a ; b = \"q\\\"x;\\\\\" ;c=tok\r\nxyz\r\n"
    "1;\tq=\"\"\r\n\n\r\n"
    "0;last\r\n"
    "X-Trailer: yes\r\n"
    "Digest:\r\n"
    "\r\n";
#define CHUNKED_DATA 19u
static const char pipelined[] = "GET /next HTTP/1.1\r\n";

START_TEST(test_chunked_simple)
{
    static const char b[] = "5\r\nhello\r\n0\r\n\r\nGET";
    struct pcfw_http_chunked c;
    size_t used;

    ck_assert_int_eq(chunked_once(b, sizeof(b) - 1, &used, UINT64_MAX, &c), 1);
    ck_assert_uint_eq(used, 15);
    ck_assert_uint_eq(c.body_bytes, 5);
    ck_assert(pcfw_http_chunked_done(&c));
    /* Done is final: nothing more is consumed. */
    ck_assert_int_eq(pcfw_http_chunked_feed(&c, U8("0\r\n"), 3, &used,
                                            UINT64_MAX), 1);
    ck_assert_uint_eq(used, 0);

    /* An empty body. */
    ck_assert_int_eq(ONCE("0\r\n\r\n", &used, 0, &c), 1);
    ck_assert_uint_eq(used, 5);
    ck_assert_uint_eq(c.body_bytes, 0);

    /* Nothing fed, nothing done. */
    pcfw_http_chunked_init(&c);
    ck_assert_int_eq(pcfw_http_chunked_feed(&c, U8(""), 0, &used, 10), 0);
    ck_assert_uint_eq(used, 0);
    ck_assert(!pcfw_http_chunked_done(&c));
}
END_TEST

START_TEST(test_chunked_byte_at_a_time)
{
    size_t n = sizeof(chunked_body) - 1;
    struct pcfw_http_chunked c;

    pcfw_http_chunked_init(&c);
    for (size_t i = 0; i < n; i++) {
        size_t used = 99;
        int rc = pcfw_http_chunked_feed(&c, U8(chunked_body + i), 1, &used,
                                        UINT64_MAX);

        ck_assert_msg(rc == (i + 1 == n ? 1 : 0), "byte %zu: %d", i, rc);
        ck_assert_uint_eq(used, 1);
    }
    ck_assert_uint_eq(c.body_bytes, CHUNKED_DATA);
    ck_assert_uint_eq(c.trailer_len, 25);
}
END_TEST

START_TEST(test_chunked_every_split)
{
    char buf[512];
    size_t bl = sizeof(chunked_body) - 1;
    size_t n = (size_t)snprintf(buf, sizeof(buf), "%s%s", chunked_body,
                                pipelined);

    for (size_t k = 0; k <= n; k++) {
        struct pcfw_http_chunked c;
        size_t used;
        int rc;

        pcfw_http_chunked_init(&c);
        rc = pcfw_http_chunked_feed(&c, U8(buf), k, &used, CHUNKED_DATA);
        if (k >= bl) {
            ck_assert_int_eq(rc, 1);
            ck_assert_uint_eq(used, bl);
        } else {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(used, k);
            rc = pcfw_http_chunked_feed(&c, U8(buf + k), n - k, &used,
                                        CHUNKED_DATA);
            ck_assert_int_eq(rc, 1);
            ck_assert_uint_eq(used, bl - k);
        }
        ck_assert_uint_eq(c.body_bytes, CHUNKED_DATA);
        ck_assert_mem_eq(buf + bl, "GET /next", 9);
    }

    /* Three pieces, every pair of cut points. */
    for (size_t k1 = 0; k1 < bl; k1++) {
        for (size_t k2 = k1; k2 <= bl; k2++) {
            struct pcfw_http_chunked c;
            size_t u1, u2, u3;
            int r1, r2, r3;

            pcfw_http_chunked_init(&c);
            r1 = pcfw_http_chunked_feed(&c, U8(buf), k1, &u1, UINT64_MAX);
            r2 = pcfw_http_chunked_feed(&c, U8(buf + k1), k2 - k1, &u2,
                                        UINT64_MAX);
            r3 = pcfw_http_chunked_feed(&c, U8(buf + k2), n - k2, &u3,
                                        UINT64_MAX);
            ck_assert(r1 == 0 && u1 == k1);
            ck_assert(k2 == bl ? (r2 == 1 && u2 == k2 - k1)
                               : (r2 == 0 && u2 == k2 - k1));
            ck_assert(k2 == bl ? (r3 == 1 && u3 == 0)
                               : (r3 == 1 && u3 == bl - k2));
            ck_assert(c.body_bytes == CHUNKED_DATA);
        }
    }
}
END_TEST

START_TEST(test_chunked_feed_data)
{
    /* Data runs only, at every split: framing bytes never leak as data. */
    static const char body[] =
        "0005;x=\"1\\\"2\"\r\nhello\r\n1\r\n \r\n00000000a\r\n0123456789"
        "\r\n0\r\nT: v\r\n\r\nNEXT";
    static const char want[] = "hello 0123456789";
    size_t blen = sizeof(body) - 1 - 4;     /* "NEXT" is not the body's */

    for (size_t split = 1; split <= blen; split++) {
        struct pcfw_http_chunked c;
        char out[64];
        size_t off = 0, n = 0, used, data;
        int rc = 0;

        pcfw_http_chunked_init(&c);
        while (off < sizeof(body) - 1 && rc != 1) {
            size_t len = sizeof(body) - 1 - off;

            if (len > split) {
                len = split;
            }
            rc = pcfw_http_chunked_feed_data(&c, U8(body) + off, len, &used,
                                             &data, UINT64_MAX);
            ck_assert_int_ge(rc, 0);
            ck_assert_uint_le(data, used);
            ck_assert_uint_le(n + data, sizeof(out));
            memcpy(out + n, body + off + used - data, data);
            n += data;
            off += used;
            ck_assert_msg(rc == 1 || used == len || data > 0,
                          "split %zu: stopped with no data", split);
        }
        ck_assert_int_eq(rc, 1);
        ck_assert_uint_eq(off, blen);
        ck_assert_uint_eq(n, sizeof(want) - 1);
        ck_assert(memcmp(out, want, n) == 0);
        ck_assert_uint_eq(c.body_bytes, n);
    }
}
END_TEST

START_TEST(test_chunked_extensions)
{
    static const char *const good[] = {
        "5;a\r\n", "5;a=b\r\n", "5 ;a=b\r\n", "5\t; a = b ; c\r\n",
        "5;a=\"\"\r\n", "5;a=\"x y\"\r\n", "5;a=\"q\\\"uo;ted\"\r\n",
        "5;a=\"\\\\\";b\r\n", "5;a=\"\xc3\xa9\"\r\n", "5;a=b;c=d;e\r\n",
        "5 \t ;a\r\n", "5;a=\"x\" ;b\r\n", "5;!#$%&'*+-.^_`|~=~\r\n",
    };
    static const char *const bad[] = {
        "5 \r\n", "5\t\r\n", "5;\r\n", "5; \r\n", "5;a=\r\n", "5;a= \r\n",
        "5;a=\"x\r\n", "5;a b\r\n", "5;a=b c\r\n", "5;a=\"x\"y\r\n",
        "5;a \r\n", "5;a=b \r\n", "5;a=\"x\" \r\n", "5;=b\r\n", "5;a==b\r\n",
        "5;a=\"\x01\"\r\n", "5;a=\"\\\x01\"\r\n", "5;a(b\r\n", "5;a=b(\r\n",
        "5;;a\r\n", "5x\r\n", "5;a=\"x\"\"\r\n",
    };
    char buf[128];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct pcfw_http_chunked c;
        size_t used, n;

        n = (size_t)snprintf(buf, sizeof(buf), "%shello\r\n0\r\n\r\n", good[i]);
        ck_assert_msg(chunked_once(buf, n, &used, 5, &c) == 1, "good %zu", i);
        ck_assert_uint_eq(used, n);
        ck_assert_uint_eq(c.body_bytes, 5);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pcfw_http_chunked c;
        size_t used, n;

        n = (size_t)snprintf(buf, sizeof(buf), "%shello\r\n0\r\n\r\n", bad[i]);
        ck_assert_msg(chunked_once(buf, n, &used, UINT64_MAX, &c)
                      == PCFW_HTTP_E_BAD, "bad %zu", i);
        ck_assert_uint_lt(used, strlen(bad[i]));
    }
}
END_TEST

START_TEST(test_chunked_bad_size_line)
{
    static const struct { const char *b; size_t at; } tab[] = {
        { " 5\r\nhello\r\n0\r\n\r\n", 0 },
        { "\r\nhello\r\n0\r\n\r\n", 0 },
        { "x\r\n", 0 },
        { "-5\r\n", 0 },
        { "+5\r\n", 0 },
        { "0x5\r\n", 1 },
        { "5\r\r\n", 2 },
        { "5\rhello", 2 },
        { "g\r\n", 0 },
    };

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        struct pcfw_http_chunked c;
        size_t used;

        ck_assert_msg(chunked_once(tab[i].b, strlen(tab[i].b), &used,
                                   UINT64_MAX, &c) == PCFW_HTTP_E_BAD,
                      "case %zu", i);
        ck_assert_msg(used == tab[i].at, "case %zu: used %zu", i, used);
    }
}
END_TEST

/* Bare LF anywhere in the framing is refused (nginx >= 1.25: smuggling). */
START_TEST(test_chunked_bare_lf)
{
    static const struct { const char *b; size_t at; } tab[] = {
        { "5\nhello\r\n0\r\n\r\n", 1 },
        { "5;a\nhello\r\n0\r\n\r\n", 3 },
        { "5;a=b\nhello\r\n0\r\n\r\n", 5 },
        { "5;a=\"b\"\nhello\r\n0\r\n\r\n", 7 },
        { "5\r\nhello\n0\r\n\r\n", 8 },
        { "5\r\nhello\r\r\n", 9 },
        { "0\n\r\n", 1 },
        { "0\r\n\n", 3 },
        { "0\r\nX: y\n\r\n", 7 },
        { "0\r\nX: y\r\n\n", 9 },
        { "0\r\n\r\r\n", 4 },
    };

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        struct pcfw_http_chunked c;
        size_t used;

        ck_assert_msg(chunked_once(tab[i].b, strlen(tab[i].b), &used,
                                   UINT64_MAX, &c) == PCFW_HTTP_E_BAD,
                      "case %zu", i);
        ck_assert_msg(used == tab[i].at, "case %zu: used %zu", i, used);
    }
}
END_TEST

START_TEST(test_chunked_data_mismatch)
{
    struct pcfw_http_chunked c;
    size_t used;

    /* More data than the size said: the byte after it must be CR. */
    ck_assert_int_eq(ONCE("3\r\nhello\r\n", &used, UINT64_MAX, &c),
                     PCFW_HTTP_E_BAD);
    ck_assert_uint_eq(used, 6);
    ck_assert_uint_eq(c.body_bytes, 3);
    /* Errors stick and consume nothing. */
    ck_assert_int_eq(pcfw_http_chunked_feed(&c, U8("\r\n"), 2, &used,
                                            UINT64_MAX), PCFW_HTTP_E_BAD);
    ck_assert_uint_eq(used, 0);
    ck_assert(!pcfw_http_chunked_done(&c));
    /* No CRLF at all after the data. */
    ck_assert_int_eq(ONCE("3\r\nabc0\r\n\r\n", &used, UINT64_MAX, &c),
                     PCFW_HTTP_E_BAD);
    ck_assert_uint_eq(used, 6);
}
END_TEST

START_TEST(test_chunked_size_overflow)
{
    struct pcfw_http_chunked c;
    size_t used;

    /* 2^60 - 1 is the largest size taken. */
    ck_assert_int_eq(ONCE("fffffffffffffff\r\n", &used, UINT64_MAX, &c), 0);
    ck_assert_uint_eq(used, 17);
    ck_assert_uint_eq(c.size_left, PCFW_HTTP_MAX_CHUNK_SIZE);
    ck_assert_int_eq(ONCE("FFFFFFFFFFFFFFF;x\r\n", &used, UINT64_MAX, &c), 0);
    /* A 16th significant digit is refused before it goes in. */
    ck_assert_int_eq(ONCE("1000000000000000\r\n", &used, UINT64_MAX, &c),
                     PCFW_HTTP_E_BAD);
    ck_assert_uint_eq(used, 15);
    ck_assert_int_eq(ONCE("ffffffffffffffffffffffff\r\n", &used, UINT64_MAX,
                          &c), PCFW_HTTP_E_BAD);
    ck_assert_uint_eq(used, 15);
    /* Leading zeros are not significant. */
    ck_assert_int_eq(ONCE("000000000000000000000000001\r\nx\r\n0\r\n\r\n",
                          &used, UINT64_MAX, &c), 1);
    ck_assert_uint_eq(c.body_bytes, 1);
}
END_TEST

START_TEST(test_chunked_max_body)
{
    static const char b[] = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    struct pcfw_http_chunked c;
    size_t used;

    /* Exactly the limit is fine. */
    ck_assert_int_eq(chunked_once(b, sizeof(b) - 1, &used, 10, &c), 1);
    ck_assert_uint_eq(c.body_bytes, 10);
    /* One over: refused at the end of the size digits, before the data. */
    ck_assert_int_eq(chunked_once(b, sizeof(b) - 1, &used, 9, &c),
                     PCFW_HTTP_E_BODY_TOO_LARGE);
    ck_assert_uint_eq(used, 11);
    ck_assert_uint_eq(c.body_bytes, 5);
    ck_assert_int_eq(pcfw_http_chunked_feed(&c, U8("\r\n"), 2, &used, 100),
                     PCFW_HTTP_E_BODY_TOO_LARGE);
    ck_assert_int_eq(ONCE("b;ext\r\n", &used, 10, &c),
                     PCFW_HTTP_E_BODY_TOO_LARGE);
    ck_assert_uint_eq(used, 1);
    ck_assert_int_eq(ONCE("1\r\nx\r\n0\r\n\r\n", &used, 0, &c),
                     PCFW_HTTP_E_BODY_TOO_LARGE);
    ck_assert_int_eq(ONCE("0\r\n\r\n", &used, 0, &c), 1);
    /* A huge but valid size against a small limit: 413, not 400. */
    ck_assert_int_eq(ONCE("fffffffffffffff\r\n", &used, 1 << 20, &c),
                     PCFW_HTTP_E_BODY_TOO_LARGE);
    ck_assert_uint_eq(used, 15);

    /* Byte at a time gives the same verdict at the same byte. */
    pcfw_http_chunked_init(&c);
    for (size_t i = 0; i < 11; i++) {
        ck_assert_int_eq(pcfw_http_chunked_feed(&c, U8(b + i), 1, &used, 9), 0);
    }
    ck_assert_int_eq(pcfw_http_chunked_feed(&c, U8(b + 11), 1, &used, 9),
                     PCFW_HTTP_E_BODY_TOO_LARGE);
    ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(test_chunked_trailers)
{
    static const struct { const char *b; int rc; } tab[] = {
        { "0\r\nX-A: 1\r\nX-B:\r\n\r\n", 1 },
        { "0\r\nX-A:\t\xff \r\n\r\n", 1 },
        { "0\r\n X: 1\r\n\r\n", PCFW_HTTP_E_BAD },
        { "0\r\nX: 1\r\n\tfold\r\n\r\n", PCFW_HTTP_E_BAD },
        { "0\r\nX : 1\r\n\r\n", PCFW_HTTP_E_BAD },
        { "0\r\nX\r\n\r\n", PCFW_HTTP_E_BAD },
        { "0\r\n: 1\r\n\r\n", PCFW_HTTP_E_BAD },
        { "0\r\nX(: 1\r\n\r\n", PCFW_HTTP_E_BAD },
        { "0\r\nX: a\x01\r\n\r\n", PCFW_HTTP_E_BAD },
        { "0\r\nX: a\rb\r\n\r\n", PCFW_HTTP_E_BAD },
    };

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        struct pcfw_http_chunked c;
        size_t used;
        int rc = chunked_once(tab[i].b, strlen(tab[i].b), &used, UINT64_MAX,
                              &c);

        ck_assert_msg(rc == tab[i].rc, "case %zu: %d", i, rc);
        if (rc == 1) {
            ck_assert_uint_eq(used, strlen(tab[i].b));
        }
    }
}
END_TEST

START_TEST(test_chunked_trailer_limit)
{
    static char buf[PCFW_HTTP_MAX_TRAILER + 64];
    struct pcfw_http_chunked c;
    size_t used, n;

    /* Trailer lines of exactly PCFW_HTTP_MAX_TRAILER bytes: fine. */
    n = (size_t)snprintf(buf, sizeof(buf), "0\r\nX: ");
    memset(buf + n, 'v', PCFW_HTTP_MAX_TRAILER - 5);
    n += PCFW_HTTP_MAX_TRAILER - 5;
    memcpy(buf + n, "\r\n\r\n", 4);
    n += 4;
    ck_assert_int_eq(chunked_once(buf, n, &used, UINT64_MAX, &c), 1);
    ck_assert_uint_eq(used, n);
    ck_assert_uint_eq(c.trailer_len, PCFW_HTTP_MAX_TRAILER);

    /* One byte more. */
    n = (size_t)snprintf(buf, sizeof(buf), "0\r\nX: ");
    memset(buf + n, 'v', PCFW_HTTP_MAX_TRAILER - 4);
    n += PCFW_HTTP_MAX_TRAILER - 4;
    memcpy(buf + n, "\r\n\r\n", 4);
    n += 4;
    ck_assert_int_eq(chunked_once(buf, n, &used, UINT64_MAX, &c),
                     PCFW_HTTP_E_HEAD_TOO_LARGE);
    ck_assert_uint_eq(used, 3 + PCFW_HTTP_MAX_TRAILER);

    /* Many short lines add up. */
    n = (size_t)snprintf(buf, sizeof(buf), "0\r\n");
    while (n < 3 + PCFW_HTTP_MAX_TRAILER + 8) {
        memcpy(buf + n, "A: b\r\n", 6);
        n += 6;
    }
    ck_assert_int_eq(chunked_once(buf, n, &used, UINT64_MAX, &c),
                     PCFW_HTTP_E_HEAD_TOO_LARGE);
    ck_assert_uint_eq(used, 3 + PCFW_HTTP_MAX_TRAILER);
}
END_TEST

START_TEST(test_chunked_size_line_limit)
{
    static char buf[PCFW_HTTP_MAX_CHUNK_LINE + 64];
    struct pcfw_http_chunked c;
    size_t used, n;

    /* A size line of exactly the limit (CR included) is fine. */
    memcpy(buf, "1;", 2);
    memset(buf + 2, 'a', PCFW_HTTP_MAX_CHUNK_LINE - 3);
    n = PCFW_HTTP_MAX_CHUNK_LINE - 1;
    memcpy(buf + n, "\r\nx\r\n0\r\n\r\n", 10);
    ck_assert_int_eq(chunked_once(buf, n + 10, &used, UINT64_MAX, &c), 1);
    ck_assert_uint_eq(used, n + 10);

    /* An endless extension is cut off. */
    memset(buf + 2, 'a', sizeof(buf) - 2);
    ck_assert_int_eq(chunked_once(buf, sizeof(buf), &used, UINT64_MAX, &c),
                     PCFW_HTTP_E_BAD);
    ck_assert_uint_eq(used, PCFW_HTTP_MAX_CHUNK_LINE);
}
END_TEST

/* ---- end to end -------------------------------------------------------- */

/*
 * What the proxy does with a pipelined stream: scan a head, parse it, find
 * the end of its body, and keep the rest for the next request.
 */
START_TEST(test_pipeline_end_to_end)
{
#define HEAD1 "POST /a HTTP/1.1\r\nHost: h\r\n" \
              "Transfer-Encoding: chunked\r\n\r\n"
#define BODY1 "4;x=1\r\nabcd\r\n0\r\nT: 1\r\n\r\n"
#define HEAD2 "PUT /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n"
#define HEAD3 "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    static const char in[] = HEAD1 BODY1 HEAD2 "xyz" HEAD3;
    size_t n = sizeof(in) - 1, off = 0;
    struct pcfw_http_head_scan sc;
    struct pcfw_http_request r;
    struct pcfw_http_chunked c;
    size_t used;
    long hl;

    pcfw_http_head_scan_init(&sc);
    hl = pcfw_http_head_scan_feed(&sc, U8(in), n, BIG);
    ck_assert_int_eq(hl, (long)sizeof(HEAD1) - 1);
    ck_assert_int_eq(pcfw_http_parse_request(U8(in), sc.total, &r), 0);
    ck_assert_int_eq(r.framing, PCFW_HTTP_BODY_CHUNKED);
    off = sc.total;
    pcfw_http_chunked_init(&c);
    ck_assert_int_eq(pcfw_http_chunked_feed(&c, U8(in + off), n - off, &used,
                                            1024), 1);
    ck_assert_uint_eq(used, sizeof(BODY1) - 1);
    ck_assert_uint_eq(c.body_bytes, 4);
    off += used;

    pcfw_http_head_scan_init(&sc);
    ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8(in + off), n - off, BIG),
                     (long)sizeof(HEAD2) - 1);
    ck_assert_int_eq(pcfw_http_parse_request(U8(in + off), sc.total, &r), 0);
    ck_assert_int_eq(r.method, PCFW_HTTP_M_PUT);
    ck_assert_int_eq(r.content_length, 3);
    off += sc.total + (size_t)r.content_length;

    pcfw_http_head_scan_init(&sc);
    ck_assert_int_eq(pcfw_http_head_scan_feed(&sc, U8(in + off), n - off, BIG),
                     (long)(n - off));
    ck_assert_int_eq(pcfw_http_parse_request(U8(in + off), sc.total, &r), 0);
    ck_assert_int_eq(r.method, PCFW_HTTP_M_GET);
    check_span(in + off, r.target_off, r.target_len, "/c");
    ck_assert(!r.keep_alive);
#undef HEAD1
#undef BODY1
#undef HEAD2
#undef HEAD3
}
END_TEST

Suite *http_parse_suite(void)
{
    Suite *s = suite_create("http_parse");
    TCase *tc;

    tc = tcase_create("errors");
    tcase_add_test(tc, test_error_status_and_reasons);
    suite_add_tcase(s, tc);

    tc = tcase_create("head_scan");
    tcase_add_test(tc, test_scan_one_call);
    tcase_add_test(tc, test_scan_byte_at_a_time);
    tcase_add_test(tc, test_scan_every_split);
    tcase_add_test(tc, test_scan_pipelined);
    tcase_add_test(tc, test_scan_leading_empty_lines);
    tcase_add_test(tc, test_scan_bare_cr);
    tcase_add_test(tc, test_scan_too_large);
    tcase_add_test(tc, test_scan_too_large_where);
    tcase_add_test(tc, test_scan_empty_feed);
    suite_add_tcase(s, tc);

    tc = tcase_create("request");
    tcase_add_test(tc, test_req_get);
    tcase_add_test(tc, test_req_head_and_post);
    tcase_add_test(tc, test_req_methods);
    tcase_add_test(tc, test_req_leading_lines_and_lf);
    tcase_add_test(tc, test_req_connection);
    tcase_add_test(tc, test_connection_names_framing);
    tcase_add_test(tc, test_req_target_forms);
    tcase_add_test(tc, test_req_forwarded_syntax);
    tcase_add_test(tc, test_req_expect);
    tcase_add_test(tc, test_req_bad_request_line);
    tcase_add_test(tc, test_req_version);
    tcase_add_test(tc, test_req_bad_fields);
    tcase_add_test(tc, test_req_not_a_whole_head);
    tcase_add_test(tc, test_fields_limit);
    tcase_add_test(tc, test_req_content_length);
    tcase_add_test(tc, test_req_transfer_encoding);
    tcase_add_test(tc, test_req_host);
    tcase_add_test(tc, test_req_host_syntax);
    tcase_add_test(tc, test_field_is_and_find);
    suite_add_tcase(s, tc);

    tc = tcase_create("response");
    tcase_add_test(tc, test_resp_basic);
    tcase_add_test(tc, test_resp_framing_table);
    tcase_add_test(tc, test_resp_rejects);
    suite_add_tcase(s, tc);

    tc = tcase_create("chunked");
    tcase_add_test(tc, test_chunked_simple);
    tcase_add_test(tc, test_chunked_byte_at_a_time);
    tcase_add_test(tc, test_chunked_every_split);
    tcase_add_test(tc, test_chunked_feed_data);
    tcase_add_test(tc, test_chunked_extensions);
    tcase_add_test(tc, test_chunked_bad_size_line);
    tcase_add_test(tc, test_chunked_bare_lf);
    tcase_add_test(tc, test_chunked_data_mismatch);
    tcase_add_test(tc, test_chunked_size_overflow);
    tcase_add_test(tc, test_chunked_max_body);
    tcase_add_test(tc, test_chunked_trailers);
    tcase_add_test(tc, test_chunked_trailer_limit);
    tcase_add_test(tc, test_chunked_size_line_limit);
    tcase_add_test(tc, test_pipeline_end_to_end);
    tcase_add_test(tc, test_keepalive_timeout);
    suite_add_tcase(s, tc);
    return s;
}
