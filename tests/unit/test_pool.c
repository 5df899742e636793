/*
 * Unit tests: the HTTP proxy's pool of server connections and the HTTP
 * exchange, end to end through the linked firmware (libproxycard-fw.a).
 *
 * The card's outside world is a second lwIP stack in this process
 * (tests/unit/peer/peer.c): clients on the NIC side, a scripted server on
 * the bus side, frames in memory, one virtual clock.  Every outcome below
 * is exact: the bytes a client received, the requests the server saw, the
 * connections it accepted, the card's counters, at exact virtual times.
 *
 * The firmware boots once per process, so every test boots it itself and
 * the runner keeps Check's fork mode (one process per test).
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

Suite *pool_suite(void);
Suite *attack_suite(void);              /* test_attack.c */
Suite *pp_suite(void);                  /* test_proxy_protocol.c */

/* Virtual time after boot: ARP and every pool handshake are long done. */
/* One exchange over the in-memory links (no loss, no latency) and then some. */
/* A reopened pool connection: the next pool tick (100 ms) and a handshake. */
#define REOPEN_MS       300

/* What a client sends, and what the server then sees from the card. */
#define FWD_GET(path)   "GET " path " HTTP/1.1\r\nHost: card\r\n"  \
                        "X-Forwarded-For: 10.0.2.2\r\n"             \
                        "Forwarded: for=10.0.2.2\r\n"             \
                        "Via: 1.1 proxycard\r\n\r\n"

/* The server's default reply (PEER_DEFAULT_REPLY) as the client gets it. */
/* The card's own error answers (client.c, pcfw_client_error). */
#define CARD_ERROR(code, reason, len)                               \
    "HTTP/1.1 " code " " reason "\r\nServer: proxycard\r\n"         \
    "Content-Type: text/plain\r\nContent-Length: " len "\r\n"       \
    "Connection: close\r\n\r\n" reason "\n"
#define RESP_502        CARD_ERROR("502", "Bad Gateway", "12")
#define RESP_504        CARD_ERROR("504", "Gateway Timeout", "16")
#define RESP_408        CARD_ERROR("408", "Request Timeout", "16")

/* A new client connection sending @req. */
static int request(const char *req)
{
    int c = peer_client_open(80);

    peer_client_send_str(c, req);
    return c;
}

/*
 * The assertions below name the caller's line: a helper's own line would
 * not say which step of a test failed.
 */
#define assert_request(i, want)     check_request((i), (want), __LINE__)
#define assert_pool(in_use, idle, connects) \
    check_pool((in_use), (idle), (connects), __LINE__)

/* Client @c received exactly @want so far. */
/* Request @i as the server saw it is exactly @want; returns its connection. */
static unsigned check_request(unsigned i, const char *want, int line)
{
    size_t len;
    unsigned conn;
    const char *got;

    ck_assert_msg(i < peer_server_requests(), "line %d: the server saw %u "
                  "requests, not %u", line, peer_server_requests(), i + 1);
    got = peer_server_request(i, &len, &conn);
    ck_assert_msg(len == strlen(want) && strcmp(got, want) == 0,
                  "line %d: request %u was \"%s\" (%zu bytes), want \"%s\"",
                  line, i, got, len, want);
    return conn;
}

static void check_pool(unsigned in_use, unsigned idle, unsigned connects,
                       int line)
{
    struct pcfw_proxy_stats ps = pstats();

    ck_assert_msg(ps.srv_in_use == in_use && ps.srv_idle == idle &&
                  ps.srv_connects == connects,
                  "line %d: srv_in_use %llu srv_idle %llu srv_connects %llu, "
                  "want %u %u %u", line, (unsigned long long)ps.srv_in_use,
                  (unsigned long long)ps.srv_idle,
                  (unsigned long long)ps.srv_connects, in_use, idle, connects);
}

/* 1. Boot opens exactly `pool` connections; a GET is answered byte-exact. */
START_TEST(test_boot_and_get)
{
    unsigned conn0 = 0;

    boot("pool 2\n");
    ck_assert_uint_eq(peer_server_accepted(), 2);
    assert_pool(0, 2, 2);
    ck_assert_uint_eq(pstats().srv_connect_failures, 0);

    for (unsigned i = 0; i < 3; i++) {
        static const char *const paths[] = { "/0", "/1", "/2" };
        char req[64], fwd[160];
        int c;
        unsigned conn;

        snprintf(req, sizeof(req), GET("%s"), paths[i]);
        snprintf(fwd, sizeof(fwd), FWD_GET("%s"), paths[i]);
        c = request(req);
        peer_run(EXCHANGE_MS);
        assert_received(c, OK_RESP);
        ck_assert(!peer_client_closed(c));      /* keep-alive */
        ck_assert_uint_eq(peer_server_requests(), i + 1);
        conn = assert_request(i, fwd);
        /* The idle list is most-recent-first: one connection does it all. */
        if (i == 0) {
            conn0 = conn;
        }
        ck_assert_uint_eq(conn, conn0);
        assert_pool(0, 2, 2);
        ck_assert_uint_eq(pstats().requests, i + 1);
        ck_assert_uint_eq(pstats().responses[2], i + 1);
    }
    ck_assert_uint_eq(peer_server_accepted(), 2);
    ck_assert_uint_eq(peer_server_conn(conn0)->requests, 3);
    ck_assert_uint_eq(peer_server_conn(conn0 ^ 1)->requests, 0);
    ck_assert(peer_server_conn(0)->open && peer_server_conn(1)->open);
    ck_assert_uint_eq(pstats().errors, 0);
    ck_assert_uint_eq(pstats().retries, 0);
    assert_healthy();
}
END_TEST

/* 2. Sequential requests from different clients: no new connection. */
START_TEST(test_keepalive_reuse)
{
    int c[5];

    boot("pool 2\n");
    for (int i = 0; i < 5; i++) {
        c[i] = request(GET("/k"));
        peer_run(EXCHANGE_MS);
        assert_received(c[i], OK_RESP);
        ck_assert_uint_eq(peer_server_accepted(), 2);
    }
    /* A keep-alive client's second request uses the pool too. */
    peer_client_send_str(c[0], GET("/again"));
    peer_run(EXCHANGE_MS);
    assert_received(c[0], OK_RESP OK_RESP);
    assert_request(5, FWD_GET("/again"));

    ck_assert_uint_eq(peer_server_requests(), 6);
    ck_assert_uint_eq(peer_server_accepted(), 2);
    ck_assert_uint_eq(peer_server_conn(0)->requests +
                      peer_server_conn(1)->requests, 6);
    assert_pool(0, 2, 2);
    ck_assert_uint_eq(pstats().requests, 6);
    ck_assert_uint_eq(pstats().clients_accepted, 5);
    ck_assert_uint_eq(pstats().errors, 0);
    assert_healthy();
}
END_TEST

/* 3. The server closes an idle pooled connection: it is reopened. */
START_TEST(test_idle_fin_reopens)
{
    int c;

    boot("pool 2\n");
    ck_assert_int_eq(peer_server_close(1), 0);
    peer_run(REOPEN_MS);
    ck_assert(peer_server_conn(1)->card_fin);   /* the card closed its side */
    ck_assert(!peer_server_conn(1)->card_rst);
    ck_assert_uint_eq(peer_server_accepted(), 3);
    ck_assert(peer_server_conn(2)->open);
    assert_pool(0, 2, 3);

    c = request(GET("/after-fin"));
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    ck_assert_uint_ne(assert_request(0, FWD_GET("/after-fin")), 1);
    ck_assert_uint_eq(peer_server_accepted(), 3);
    assert_pool(0, 2, 3);
    ck_assert_uint_eq(pstats().errors, 0);
    assert_healthy();
}
END_TEST

/* 4. Unsolicited bytes on an idle connection: dropped, reopened, unseen. */
START_TEST(test_idle_unsolicited_bytes)
{
    int a, b;
    unsigned used;

    boot("pool 2\n");
    a = request(GET("/a"));
    peer_run(EXCHANGE_MS);
    assert_received(a, OK_RESP);
    used = assert_request(0, FWD_GET("/a"));

    /* The connection that just served client a, now idle, talks again. */
    ck_assert_int_eq(peer_server_send(used, "HTTP/1.1 200 OK\r\n"
                                      "Content-Length: 5\r\n\r\nbogus"), 0);
    peer_run(REOPEN_MS);
    ck_assert(peer_server_conn(used)->card_rst);    /* dropped at once */
    ck_assert_uint_eq(peer_server_accepted(), 3);
    assert_pool(0, 2, 3);
    assert_received(a, OK_RESP);                    /* nothing more */

    b = request(GET("/b"));
    peer_run(EXCHANGE_MS);
    assert_received(b, OK_RESP);
    peer_client_send_str(a, GET("/a2"));
    peer_run(EXCHANGE_MS);
    assert_received(a, OK_RESP OK_RESP);
    ck_assert_uint_eq(peer_server_requests(), 3);
    ck_assert_uint_ne(assert_request(1, FWD_GET("/b")), used);
    ck_assert_uint_ne(assert_request(2, FWD_GET("/a2")), used);
    ck_assert_uint_eq(peer_server_accepted(), 3);
    ck_assert_uint_eq(pstats().errors, 0);
    assert_healthy();
}
END_TEST

/* 5. Bytes after a Content-Length body: not forwarded, connection retired. */
START_TEST(test_extra_bytes_after_body)
{
    int c;
    unsigned used;

    boot("pool 2\n");
    peer_server_script(PEER_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                       "\r\nhelloEXTRA BYTES");
    c = request(GET("/x"));
    peer_run(EXCHANGE_MS);
    assert_received(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                    "Connection: keep-alive\r\n\r\nhello");
    ck_assert(!peer_client_closed(c));
    used = assert_request(0, FWD_GET("/x"));
    ck_assert(!peer_server_conn(used)->open);
    ck_assert(peer_server_conn(used)->card_fin || peer_server_conn(used)->card_rst);

    peer_run(REOPEN_MS);
    ck_assert_uint_eq(peer_server_accepted(), 3);
    assert_pool(0, 2, 3);

    peer_client_send_str(c, GET("/y"));
    peer_run(EXCHANGE_MS);
    assert_received(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                    "Connection: keep-alive\r\n\r\nhello" OK_RESP);
    ck_assert_uint_ne(assert_request(1, FWD_GET("/y")), used);
    ck_assert_uint_eq(pstats().errors, 0);
    assert_healthy();
}
END_TEST

/* 6. A close-delimited body: all of it, then the client is closed too. */
START_TEST(test_close_delimited)
{
    int c;
    unsigned used;

    boot("pool 2\n");
    peer_server_script(PEER_REPLY_CLOSE, "HTTP/1.1 200 OK\r\n"
                       "Content-Type: text/plain\r\n\r\n"
                       "the whole body, until the server closes");
    c = request(GET("/close"));
    peer_run(EXCHANGE_MS);
    assert_received(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    "Connection: close\r\n\r\n"
                    "the whole body, until the server closes");
    ck_assert(peer_client_closed(c));
    ck_assert(!peer_client_reset(c));
    used = assert_request(0, FWD_GET("/close"));
    ck_assert(peer_server_conn(used)->we_closed);

    peer_run(REOPEN_MS);
    ck_assert_uint_eq(peer_server_accepted(), 3);
    assert_pool(0, 2, 3);
    ck_assert_uint_eq(pstats().responses[2], 1);
    ck_assert_uint_eq(pstats().errors, 0);

    c = request(GET("/next"));
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    assert_healthy();
}
END_TEST

/* 7. HEAD, 204 and 304 have no body whatever they say; reused after. */
START_TEST(test_bodiless_responses)
{
    static const struct {
        const char *req, *fwd, *reply, *want;
    } cases[] = {
        { "HEAD /h HTTP/1.1\r\nHost: card\r\n\r\n",
          "HEAD /h HTTP/1.1\r\nHost: card\r\nX-Forwarded-For: 10.0.2.2\r\n"
          "Forwarded: for=10.0.2.2\r\nVia: 1.1 proxycard\r\n\r\n",
          "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
          "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n"
          "Connection: keep-alive\r\n\r\n" },
        { GET("/204"), FWD_GET("/204"),
          "HTTP/1.1 204 No Content\r\n\r\n",
          "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n" },
        { GET("/304"), FWD_GET("/304"),
          "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n"
          "ETag: \"v1\"\r\n\r\n",
          "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n"
          "ETag: \"v1\"\r\nConnection: keep-alive\r\n\r\n" },
    };
    unsigned conn0 = 0;
    int c;

    boot("pool 2\n");
    for (unsigned i = 0; i < 3; i++) {
        unsigned conn;

        peer_server_script(PEER_REPLY, cases[i].reply);
        c = request(cases[i].req);
        peer_run(EXCHANGE_MS);
        assert_received(c, cases[i].want);
        ck_assert(!peer_client_closed(c));
        conn = assert_request(i, cases[i].fwd);
        if (i == 0) {
            conn0 = conn;
        }
        ck_assert_uint_eq(conn, conn0);         /* back to idle, reused */
        assert_pool(0, 2, 2);
    }
    c = request(GET("/after"));
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    ck_assert_uint_eq(assert_request(3, FWD_GET("/after")), conn0);
    ck_assert_uint_eq(peer_server_accepted(), 2);
    ck_assert(peer_server_conn(conn0)->open);
    ck_assert_uint_eq(pstats().responses[2], 3);
    ck_assert_uint_eq(pstats().responses[3], 1);
    assert_healthy();
}
END_TEST

/* 8. A chunked response is forwarded as it is, connection reused after. */
START_TEST(test_chunked_response)
{
    static const char head[] = "HTTP/1.1 200 OK\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
    static const char want_head[] = "HTTP/1.1 200 OK\r\n"
                                    "Transfer-Encoding: chunked\r\n"
                                    "Connection: keep-alive\r\n\r\n";
    int c;
    unsigned used;

    boot("pool 2\n");
    peer_server_script(PEER_SILENT, NULL);
    c = request(GET("/chunks"));
    peer_run(EXCHANGE_MS);
    used = assert_request(0, FWD_GET("/chunks"));

    ck_assert_int_eq(peer_server_send(used, head), 0);
    ck_assert_int_eq(peer_server_send(used, "5\r\nhello\r\n"), 0);
    peer_run(100);
    assert_received(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                    "Connection: keep-alive\r\n\r\n5\r\nhello\r\n");
    assert_pool(1, 1, 2);                       /* not finished yet */

    ck_assert_int_eq(peer_server_send(used, "6;ext=1\r\n world\r\n"), 0);
    peer_run(100);
    ck_assert_int_eq(peer_server_send(used, "0\r\nX-Trailer: t\r\n"), 0);
    peer_run(100);
    assert_pool(1, 1, 2);                       /* the trailer section is open */
    ck_assert_int_eq(peer_server_send(used, "\r\n"), 0);
    peer_run(EXCHANGE_MS);
    {
        char want[512];

        snprintf(want, sizeof(want), "%s%s", want_head,
                 "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
        assert_received(c, want);
    }
    assert_pool(0, 2, 2);
    ck_assert(!peer_client_closed(c));

    peer_client_send_str(c, GET("/again"));
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(assert_request(1, FWD_GET("/again")), used);
    ck_assert_uint_eq(peer_server_accepted(), 2);
    assert_healthy();
}
END_TEST

/* 8b. HTTP/1.0 clients never get chunked: de-chunked, then the close. */
START_TEST(test_chunked_response_http10)
{
    int c;
    unsigned used;

    boot("pool 2\n");
    peer_server_script(PEER_SILENT, NULL);
    c = request("GET /c10 HTTP/1.0\r\nHost: card\r\n"
                "Connection: keep-alive\r\n\r\n");
    peer_run(EXCHANGE_MS);
    used = assert_request(0, FWD_GET("/c10"));
    ck_assert_int_eq(peer_server_send(used, "HTTP/1.1 200 OK\r\n"
                                      "Transfer-Encoding: chunked\r\n"
                                      "Trailer: X-T\r\n\r\n"
                                      "5\r\nhello\r\n0006;e=1\r\n world\r\n"
                                      "0\r\nX-T: 1\r\n\r\n"), 0);
    peer_run(EXCHANGE_MS);
    assert_received(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                    "hello world");
    ck_assert(peer_client_closed(c));
    assert_pool(0, 2, 2);       /* the server connection is reused */
    assert_healthy();
}
END_TEST

/* 9a. Reset before any response byte: an idempotent request is retried. */
START_TEST(test_reset_retry_get)
{
    int c;
    unsigned first, second;

    boot("pool 2\n");
    peer_server_script(PEER_RESET, NULL);
    c = request(GET("/r"));
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    ck_assert(!peer_client_closed(c));
    ck_assert_uint_eq(peer_server_requests(), 2);
    first = assert_request(0, FWD_GET("/r"));
    second = assert_request(1, FWD_GET("/r"));
    ck_assert_uint_ne(first, second);
    ck_assert_uint_lt(second, 2);       /* the other pooled connection */
    ck_assert(peer_server_conn(first)->we_closed);
    ck_assert_uint_eq(pstats().retries, 1);
    ck_assert_uint_eq(pstats().requests, 1);
    ck_assert_uint_eq(pstats().errors, 0);

    peer_run(REOPEN_MS);
    ck_assert_uint_eq(peer_server_accepted(), 3);
    assert_pool(0, 2, 3);
    assert_healthy();
}
END_TEST

/* 9b. The same with POST: not idempotent, so 502 and no retry. */
START_TEST(test_reset_no_retry_post)
{
    int c;

    boot("pool 2\n");
    peer_server_script(PEER_RESET, NULL);
    c = request("POST /p HTTP/1.1\r\nHost: card\r\nContent-Length: 4\r\n\r\n"
                "data");
    peer_run(EXCHANGE_MS);
    assert_received(c, RESP_502);
    ck_assert(peer_client_closed(c));
    ck_assert_uint_eq(peer_server_requests(), 1);
    assert_request(0, "POST /p HTTP/1.1\r\nHost: card\r\n"
                   "X-Forwarded-For: 10.0.2.2\r\nForwarded: for=10.0.2.2\r\n"
                   "Via: 1.1 proxycard\r\nContent-Length: 4\r\n\r\ndata");
    ck_assert_uint_eq(pstats().retries, 0);
    ck_assert_uint_eq(pstats().errors, 1);
    ck_assert_uint_eq(pstats().responses[5], 1);

    peer_run(REOPEN_MS);
    ck_assert_uint_eq(peer_server_accepted(), 3);
    assert_pool(0, 2, 3);
    assert_healthy();
}
END_TEST

/* 10. A silent server: 504 after `timeout server`, its connection dropped. */
START_TEST(test_server_timeout)
{
    int c, d;
    uint32_t t0;
    unsigned used;
    const struct peer_conn_info *ci;

    boot("pool 2\ntimeout server 2s\n");
    peer_server_script(PEER_SILENT, NULL);
    t0 = peer_now();
    c = request(GET("/slow"));
    peer_run(1900);
    used = assert_request(0, FWD_GET("/slow"));
    assert_received(c, "");                     /* not yet at 1.9 s */
    ck_assert(!peer_client_closed(c));
    ck_assert(peer_server_conn(used)->open);
    assert_pool(1, 1, 2);
    ck_assert_uint_eq(pstats().errors, 0);

    peer_run(3100 - (peer_now() - t0));
    assert_received(c, RESP_504);
    ck_assert(peer_client_closed(c));
    ck_assert_uint_ge(peer_client_fin_ms(c) - t0, 2000);
    ck_assert_uint_lt(peer_client_fin_ms(c) - t0, 3000);
    ck_assert_uint_eq(pstats().errors, 1);
    ck_assert_uint_eq(pstats().responses[5], 1);
    ck_assert_uint_eq(pstats().retries, 0);

    /* The silent connection was reset with the 504: no late answer. */
    ci = peer_server_conn(used);
    ck_assert(ci->card_rst);
    ck_assert_uint_ge(ci->end_ms - t0, 2000);
    ck_assert_int_eq(peer_server_send(used, PEER_DEFAULT_REPLY), -1);

    peer_run(REOPEN_MS);
    ck_assert_uint_eq(peer_server_accepted(), 3);
    assert_pool(0, 2, 3);
    d = request(GET("/fresh"));
    peer_run(EXCHANGE_MS);
    assert_received(d, OK_RESP);
    assert_received(c, RESP_504);
    ck_assert_uint_ne(assert_request(1, FWD_GET("/fresh")), used);
    assert_healthy();
}
END_TEST

/* 10b. The card's own error answer to HEAD has no body. */
START_TEST(test_error_to_head)
{
    int c, d;

    boot("pool 1\ntimeout server 1s\n");
    peer_server_script(PEER_SILENT, NULL);
    c = request("HEAD /slow HTTP/1.1\r\nHost: card\r\n\r\n");
    peer_run(2500);
    assert_received(c, "HTTP/1.1 504 Gateway Timeout\r\nServer: proxycard\r\n"
                    "Content-Type: text/plain\r\nContent-Length: 16\r\n"
                    "Connection: close\r\n\r\n");
    ck_assert(peer_client_closed(c));
    /* A HEAD answered, then a bad request on the same connection: its 400
     * has a body (the method is the new request's, unknown yet). */
    d = request("HEAD /h HTTP/1.1\r\nHost: card\r\n\r\nGARBAGE\r\n\r\n");
    peer_run(EXCHANGE_MS);
    ck_assert(peer_client_closed(d));
    {
        size_t len;
        const char *got = peer_client_received(d, &len);

        ck_assert_msg(strstr(got, "400 Bad Request") &&
                      len >= 12 && strcmp(got + len - 12, "Bad Request\n") == 0,
                      "got \"%s\"", got);
    }
}
END_TEST

/* 11. `timeout pool-idle`: idle connections are closed and reopened. */
START_TEST(test_pool_idle_timeout)
{
    int c;

    boot("pool 2\ntimeout pool-idle 3s\n");
    peer_run(2900 - peer_now());
    ck_assert_uint_eq(peer_server_accepted(), 2);
    ck_assert(peer_server_conn(0)->open && peer_server_conn(1)->open);

    peer_run(4500 - peer_now());
    for (unsigned i = 0; i < 2; i++) {
        const struct peer_conn_info *ci = peer_server_conn(i);

        ck_assert(ci->card_fin);                /* a graceful close */
        ck_assert(!ci->card_rst);
        ck_assert_uint_ge(ci->end_ms - ci->accepted_ms, 3000);
        ck_assert_uint_lt(ci->end_ms - ci->accepted_ms, 4100);
    }
    ck_assert_uint_eq(peer_server_accepted(), 4);
    ck_assert(peer_server_conn(2)->open && peer_server_conn(3)->open);
    assert_pool(0, 2, 4);

    c = request(GET("/after-idle"));
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    ck_assert_uint_ge(assert_request(0, FWD_GET("/after-idle")), 2);
    assert_healthy();
}
END_TEST

/* 12. More ready clients than connections: served in arrival order. */
START_TEST(test_queue_order)
{
    static const char *const paths[] = { "/a", "/b", "/c" };
    static const char *const replies[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nC",
    };
    int c[3];

    boot("pool 1\n");
    ck_assert_uint_eq(peer_server_accepted(), 1);
    peer_server_default(PEER_SILENT, NULL);
    for (int i = 0; i < 3; i++) {
        char req[64];

        snprintf(req, sizeof(req), GET("%s"), paths[i]);
        c[i] = request(req);
        peer_run(5);
    }
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(pstats().requests, 3);    /* all complete at the card */
    ck_assert_uint_eq(peer_server_requests(), 1);
    assert_pool(1, 0, 1);

    for (int i = 0; i < 3; i++) {
        char fwd[160], want[128];

        snprintf(fwd, sizeof(fwd), FWD_GET("%s"), paths[i]);
        ck_assert_uint_eq(peer_server_requests(), (unsigned)i + 1);
        ck_assert_uint_eq(assert_request((unsigned)i, fwd), 0);
        for (int j = i; j < 3; j++) {
            assert_received(c[j], "");          /* still waiting */
        }
        ck_assert_int_eq(peer_server_send(0, replies[i]), 0);
        peer_run(EXCHANGE_MS);
        snprintf(want, sizeof(want), "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                 "Connection: keep-alive\r\n\r\n%c", 'A' + i);
        assert_received(c[i], want);
    }
    ck_assert_uint_eq(peer_server_requests(), 3);
    ck_assert_uint_eq(peer_server_accepted(), 1);
    assert_pool(0, 1, 1);
    ck_assert_uint_eq(pstats().errors, 0);
    assert_healthy();
}
END_TEST

/* 13. Expect: 100-continue is answered by the card, never forwarded. */
START_TEST(test_expect_continue)
{
    int c;

    boot("pool 2\n");
    c = request("POST /up HTTP/1.1\r\nHost: card\r\nExpect: 100-continue\r\n"
                "Content-Length: 10\r\n\r\n");
    peer_run(EXCHANGE_MS);
    assert_received(c, "HTTP/1.1 100 Continue\r\n\r\n");
    ck_assert_uint_eq(peer_server_requests(), 0);   /* not complete yet */

    peer_client_send_str(c, "0123456789");
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(peer_server_requests(), 1);
    assert_request(0, "POST /up HTTP/1.1\r\nHost: card\r\n"
                   "X-Forwarded-For: 10.0.2.2\r\nForwarded: for=10.0.2.2\r\n"
                   "Via: 1.1 proxycard\r\nContent-Length: 10\r\n\r\n"
                   "0123456789");
    ck_assert_uint_eq(peer_server_conn(0)->unparsed +
                      peer_server_conn(1)->unparsed, 0);
    assert_received(c, "HTTP/1.1 100 Continue\r\n\r\n" OK_RESP);
    ck_assert_uint_eq(pstats().responses[1], 0);    /* the card's own 100 */
    ck_assert_uint_eq(pstats().responses[2], 1);
    assert_healthy();
}
END_TEST

/* 14. Forwarding fields added or extended; hop-by-hop fields dropped. */
START_TEST(test_forwarded_fields)
{
    int c, d;

    boot("pool 2\n");
    /* X-Secret is named by Connection: hop-by-hop too (RFC 9110 7.6.1). */
    c = request("GET /x HTTP/1.1\r\nHost: card\r\n"
                "Connection: keep-alive, Upgrade ,x-secret\r\n"
                "Keep-Alive: timeout=5\r\nX-Secret: 1\r\n"
                "Upgrade: websocket\r\nX-Forwarded-For: 192.0.2.7\r\n"
                "Accept: */*\r\n\r\n");
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    assert_request(0, "GET /x HTTP/1.1\r\nHost: card\r\n"
                   "X-Forwarded-For: 192.0.2.7, 10.0.2.2\r\nAccept: */*\r\n"
                   "Forwarded: for=10.0.2.2\r\nVia: 1.1 proxycard\r\n\r\n");

    d = request("GET /y HTTP/1.1\r\nForwarded: for=192.0.2.8\r\n"
                "Host: card\r\nConnection: close\r\n\r\n");
    peer_run(EXCHANGE_MS);
    assert_received(d, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                    "Connection: close\r\n\r\nok");
    ck_assert(peer_client_closed(d));
    assert_request(1, "GET /y HTTP/1.1\r\nForwarded: for=192.0.2.8, "
                   "for=10.0.2.2\r\nHost: card\r\n"
                   "X-Forwarded-For: 10.0.2.2\r\nVia: 1.1 proxycard\r\n\r\n");
    /* The client's Connection: close is not the pool's business. */
    ck_assert_uint_eq(peer_server_accepted(), 2);
    assert_pool(0, 2, 2);
    assert_healthy();
}
END_TEST

/* 14b. The card writes the request's framing: never the client's bytes. */
START_TEST(test_request_framing_written)
{
    int c;

    boot("pool 1\n");
    /* Chunk sizes with leading zeros, extensions, a trailer: de-chunked. */
    c = request("POST /ch HTTP/1.1\r\nHost: card\r\n"
                "Transfer-Encoding: chunked\r\nTrailer: T\r\n\r\n"
                "00000000000000003;ext=\"x\"\r\nabc\r\n"
                "2\r\nde\r\n0\r\nT: 1\r\n\r\n");
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    assert_request(0, "POST /ch HTTP/1.1\r\nHost: card\r\n"
                   "X-Forwarded-For: 10.0.2.2\r\nForwarded: for=10.0.2.2\r\n"
                   "Via: 1.1 proxycard\r\nContent-Length: 5\r\n\r\nabcde");
    /* A Content-Length written oddly goes out canonical. */
    c = request("PUT /cl HTTP/1.1\r\nContent-Length: 0003\r\n"
                "Host: card\r\n\r\nxyz");
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    assert_request(1, "PUT /cl HTTP/1.1\r\nHost: card\r\n"
                   "X-Forwarded-For: 10.0.2.2\r\nForwarded: for=10.0.2.2\r\n"
                   "Via: 1.1 proxycard\r\nContent-Length: 3\r\n\r\nxyz");
    /* An empty chunked body is Content-Length: 0. */
    c = request("POST /e HTTP/1.1\r\nHost: card\r\n"
                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    assert_request(2, "POST /e HTTP/1.1\r\nHost: card\r\n"
                   "X-Forwarded-For: 10.0.2.2\r\nForwarded: for=10.0.2.2\r\n"
                   "Via: 1.1 proxycard\r\nContent-Length: 0\r\n\r\n");
    assert_healthy();
}
END_TEST

/*
 * 15. A pool connection reset from outside its own callbacks (here the
 * client's timer, answering 504) must not make the firmware mistake the
 * connection reopened after it for the aborted one.  The reopened pcb is
 * likely to get the aborted one's card memory back, and a callback of it
 * that wrongly returns ERR_ABRT makes lwIP skip the rest of the segment:
 * with body and FIN in one segment, the FIN is lost for good.
 */
START_TEST(test_abort_then_reopened_close_delimited)
{
    int c, d;

    boot("pool 1\ntimeout server 2s\n");
    peer_server_script(PEER_SILENT, NULL);
    c = request(GET("/slow"));
    peer_run(3100);
    assert_received(c, RESP_504);
    ck_assert(peer_server_conn(0)->card_rst);
    peer_run(REOPEN_MS);
    ck_assert_uint_eq(peer_server_accepted(), 2);
    assert_pool(0, 1, 2);

    /* Within the reopened connection's first second: body and FIN at once. */
    peer_server_script(PEER_REPLY_CLOSE, "HTTP/1.1 200 OK\r\n\r\nuntil close");
    d = request(GET("/close"));
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(assert_request(1, FWD_GET("/close")), 1);
    assert_received(d, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                    "until close");
    ck_assert_msg(peer_client_closed(d), "the client never got the end of "
                  "its close-delimited response (srv_in_use %llu, "
                  "srv_idle %llu)", (unsigned long long)pstats().srv_in_use,
                  (unsigned long long)pstats().srv_idle);
    peer_run(REOPEN_MS);
    assert_pool(0, 1, 3);
    ck_assert_uint_eq(peer_server_accepted(), 3);
    assert_healthy();
}
END_TEST

/*
 * 17. Pass-through, issue 9 item 1: the client half-closes and stops
 * reading, the server answers its FIN with its own, and the client stays
 * silent for longer than 2 MSL.  The card's server pcb went to TIME_WAIT
 * and lwIP freed it silently; the card must have let go of it at once, or
 * its final close lands on whatever pcb reuses that memory (here: the
 * pool's reopened connections).
 */
#define PASS_CHUNK      16000
#define PASS_CHUNKS     8

/* Server connections still open from the card's pool (all but @except). */
static void server_close_all_but(unsigned except)
{
    for (unsigned k = 0; k < peer_server_accepted(); k++) {
        if (k != except && peer_server_conn(k)->open) {
            peer_server_close(k);
        }
    }
}

START_TEST(test_pass_halfclose_time_wait)
{
    static char chunk[PASS_CHUNK + 1];
    size_t len;
    int p, c;

    boot("pool 1\nlisten 81 pass 8080\n");
    memset(chunk, 'x', PASS_CHUNK);
    peer_server_script(PEER_SILENT, NULL);      /* the pass-through request */
    p = peer_client_open(81);
    peer_client_send_str(p, GET("/pass"));
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(peer_server_accepted(), 2);
    ck_assert_uint_eq(peer_server_conn(1)->requests, 1);

    /* More than the client's window and the card's send buffer. */
    peer_client_pause(p, true);
    for (int i = 0; i < PASS_CHUNKS; i++) {
        ck_assert_int_eq(peer_server_send(1, chunk), 0);
        peer_run(EXCHANGE_MS);
    }
    peer_client_shutdown(p);
    peer_run(EXCHANGE_MS);
    ck_assert(peer_server_conn(1)->card_fin);   /* the half-close passed on */
    ck_assert(!peer_server_conn(1)->open);      /* and answered with FIN */
    ck_assert(!peer_client_closed(p));          /* bytes still wait for it */

    /* 2 MSL and more: lwIP frees the card's TIME_WAIT pcb. */
    peer_run(2 * 60000 + 5000);
    server_close_all_but(1);                    /* new pool pcbs now */
    peer_run(REOPEN_MS);

    peer_client_pause(p, false);
    peer_run(1000);
    peer_client_received(p, &len);
    ck_assert_uint_eq(len, (size_t)PASS_CHUNK * PASS_CHUNKS);
    ck_assert(peer_client_closed(p));
    ck_assert(!peer_client_reset(p));

    /* The pool is intact: it serves, and nothing of it was closed. */
    for (int i = 0; i < 3; i++) {
        c = request(GET("/after"));
        peer_run(EXCHANGE_MS);
        assert_received(c, OK_RESP);
    }
    ck_assert_uint_eq(pstats().srv_idle, 1);
    assert_healthy();
}
END_TEST

/*
 * 18. Issue 9 item 3: one connection sending 1-byte segments past a hole
 * cannot hold more card memory than the out-of-order bound
 * (TCP_OOSEQ_MAX_PBUFS in guest-fw/port/lwipopts.h), and the memory comes
 * back when the connection ends.  Unbounded, 3000 segments held ~5 MiB.
 */
#define OOSEQ_SEGS      3000
#define OOSEQ_BOUND     (512u << 10)    /* 128 queued frames and then some */

START_TEST(test_ooseq_bounded)
{
    uint64_t base, held;
    int c, d;

    boot("pool 1\n");
    c = peer_client_open(80);
    peer_run(EXCHANGE_MS);
    ck_assert(peer_client_connected(c));
    base = mem_in_use();
    for (uint32_t i = 1; i <= OOSEQ_SEGS; i++) {
        peer_client_forge(c, i, "x", 1);    /* byte 0 never comes */
        if (i % 100 == 0) {
            peer_run(0);
        }
    }
    peer_run(EXCHANGE_MS);
    held = mem_in_use() - base;
    ck_assert_msg(held < OOSEQ_BOUND, "one connection holds %llu bytes of "
                  "out-of-order data", (unsigned long long)held);

    /* A well-behaved client is served meanwhile. */
    d = request(GET("/probe"));
    peer_run(EXCHANGE_MS);
    assert_received(d, OK_RESP);

    /* The attacker leaves: its queue goes with it. */
    peer_client_shutdown(c);
    peer_run(EXCHANGE_MS);
    ck_assert(peer_client_closed(c));
    ck_assert_msg(mem_in_use() < base + 4096, "in_use %llu after the close, "
                  "%llu before the attack", (unsigned long long)mem_in_use(),
                  (unsigned long long)base);
    assert_healthy();
}
END_TEST

/*
 * 19. Issue 9: a received frame costs card memory by its size, not a
 * 1.5 KiB pool buffer whatever it holds.  100 queued one-byte segments
 * (below the out-of-order bound) cost 1632 bytes each in pool pbufs, 144
 * in right-sized ones.
 */
#define SMALL_SEGS      100
#define SMALL_SEG_COST  256     /* frame copy, pbuf, tcp_seg, arena headers */

START_TEST(test_small_frame_cost)
{
    uint64_t base, per;
    int c;

    boot("pool 1\n");
    c = peer_client_open(80);
    peer_run(EXCHANGE_MS);
    ck_assert(peer_client_connected(c));
    base = mem_in_use();
    for (uint32_t i = 1; i <= SMALL_SEGS; i++) {
        peer_client_forge(c, 2 * i, "x", 1);
    }
    peer_run(EXCHANGE_MS);
    per = (mem_in_use() - base) / SMALL_SEGS;
    ck_assert_msg(per <= SMALL_SEG_COST, "a queued 55-byte frame costs %llu "
                  "bytes of card memory", (unsigned long long)per);
    peer_client_shutdown(c);
    peer_run(EXCHANGE_MS);
    ck_assert(peer_client_closed(c));
    ck_assert_uint_lt(mem_in_use(), base + 4096);
    assert_healthy();
}
END_TEST

/*
 * 20. Issue 9 item 6: client data fills card memory (uploads the silent
 * server never takes), and lwIP's own allocations still find the reserve
 * (arena.h, enum pcfw_mem_class): timers re-arm, a new connection is
 * accepted, and once the uploads are gone the card serves again with its
 * memory back to baseline.  (This passed before the reserve too: the 503s
 * free the uploads' buffers, 8.1 of 8 MiB in use at the peak without the
 * reserve, 7.1 with it; test_reserve_classes in test_arena.c is the one
 * that pins the reserve down.)
 */
#define UPLOADS         12
#define UPLOAD_LEN      1000000

START_TEST(test_data_cannot_take_reserve)
{
    static char body[UPLOAD_LEN];
    struct pcfw_stats st;
    uint64_t base;
    int up[UPLOADS], probe, d;

    /* The watermarks off (100%): the data itself must fill the card. */
    boot("pool 1\nmem-window 100\nmem-refuse 100\n");
    base = mem_in_use();
    peer_server_default(PEER_SILENT, NULL);
    memset(body, 'u', sizeof(body));
    for (int i = 0; i < UPLOADS; i++) {
        up[i] = request("POST /up HTTP/1.1\r\nHost: card\r\n"
                        "Content-Length: 1000000\r\n\r\n");
        peer_client_send(up[i], body, sizeof(body));
    }
    peer_run(3000);
    pcfw_get_stats(&st);
    ck_assert_uint_gt(st.mem.failures, 0);      /* the data did fill it */
    ck_assert_msg(st.mem.size - st.mem.in_use >= (64u << 10),
                  "client data left %llu bytes free",
                  (unsigned long long)(st.mem.size - st.mem.in_use));

    /* lwIP still has memory of its own: a handshake, timers for seconds. */
    probe = peer_client_open(80);
    peer_run(2000);
    ck_assert(peer_client_connected(probe));
    assert_healthy();

    for (int i = 0; i < UPLOADS; i++) {
        peer_client_abort(up[i]);
    }
    peer_client_abort(probe);
    peer_run(1000);
    ck_assert_msg(mem_in_use() < base + 8192, "in_use %llu after the "
                  "uploads, %llu before", (unsigned long long)mem_in_use(),
                  (unsigned long long)base);
    peer_server_default(PEER_REPLY, PEER_DEFAULT_REPLY);
    peer_run(REOPEN_MS);
    d = request(GET("/after"));
    peer_run(EXCHANGE_MS);
    assert_received(d, OK_RESP);
    assert_healthy();
}
END_TEST

/*
 * 21. Issue 9 item 5: out of card memory for data (here: out-of-order
 * queues of many connections fill it up to the data limit), a client's
 * new bytes cannot be buffered.  An HTTP client gets the documented 503
 * and a clean close; a pass-through client gets a reset, never an HTTP
 * answer inside its stream (before: "HTTP/1.1 503" in the byte stream).
 */
#define FILLERS         120
#define FILL_SEG        1400

START_TEST(test_exhaustion_answers)
{
    static char seg[FILL_SEG];
    struct pcfw_stats st;
    uint64_t base;
    int fill[FILLERS], nfill = 0, pass, h, d;
    size_t len;

    /* The watermarks off (100%): the fillers must reach the data limit. */
    boot("pool 1\nlisten 81 pass 8080\nmem-window 100\nmem-refuse 100\n");
    pass = peer_client_open(81);
    peer_client_send_str(pass, "hello");
    h = peer_client_open(80);
    peer_run(EXCHANGE_MS);
    ck_assert(peer_client_connected(pass) && peer_client_connected(h));
    base = mem_in_use();

    memset(seg, 'f', sizeof(seg));
    while (nfill < FILLERS) {
        int i = nfill++;

        fill[i] = peer_client_open(80);
        peer_run(5);
        if (!peer_client_connected(fill[i]) || peer_client_reset(fill[i])) {
            break;                          /* the card is full */
        }
        for (uint32_t k = 1; k <= 45; k++) {     /* within 64 KiB */
            peer_client_forge(fill[i], k * FILL_SEG, seg, FILL_SEG);
        }
        peer_run(0);
    }
    peer_run(EXCHANGE_MS);
    pcfw_get_stats(&st);
    ck_assert_msg(st.mem.in_use > st.mem.size - (256u << 10),
                  "the fillers hold only %llu of %llu bytes",
                  (unsigned long long)st.mem.in_use,
                  (unsigned long long)st.mem.size);

    peer_client_send_str(pass, "more bytes for the server");
    peer_client_send_str(h, GET("/full"));
    peer_run(EXCHANGE_MS);
    peer_client_received(pass, &len);
    ck_assert_msg(len == 0, "the pass-through client got \"%s\"",
                  peer_client_received(pass, &len));
    ck_assert(peer_client_reset(pass));
    assert_received(h, CARD_ERROR("503", "Service Unavailable", "20"));
    ck_assert(peer_client_closed(h) && !peer_client_reset(h));

    for (int i = 0; i < nfill; i++) {
        peer_client_abort(fill[i]);
    }
    peer_run(1000);
    ck_assert_uint_lt(mem_in_use(), base + 8192);
    d = request(GET("/after"));
    peer_run(EXCHANGE_MS);
    assert_received(d, OK_RESP);
    assert_healthy();
}
END_TEST

/*
 * 22. Issue 9 item 7: a pass-through connection with no byte either way
 * for `timeout pass-idle` is reset on both sides; a byte in time keeps it.
 */
START_TEST(test_pass_idle_timeout)
{
    int p;
    uint32_t t0;

    boot("pool 1\nlisten 81 pass 8080\ntimeout pass-idle 3s\n");
    peer_server_script(PEER_SILENT, NULL);
    p = peer_client_open(81);
    peer_client_send_str(p, GET("/pass"));
    peer_run(EXCHANGE_MS);
    ck_assert_uint_eq(peer_server_conn(1)->requests, 1);
    t0 = peer_now();
    peer_run(2500);
    ck_assert(!peer_client_reset(p));
    ck_assert_int_eq(peer_server_send(1, "x"), 0);      /* activity */
    peer_run(2500);
    ck_assert(!peer_client_reset(p) && peer_server_conn(1)->open);
    peer_run(2500);
    ck_assert(peer_client_reset(p));
    ck_assert(peer_server_conn(1)->card_rst);
    ck_assert_uint_ge(peer_server_conn(1)->end_ms - t0, 2500 + 3000);
    ck_assert_uint_lt(peer_server_conn(1)->end_ms - t0, 2500 + 4100);
    assert_healthy();
}
END_TEST

/*
 * 23. `timeout pass-keepalive`: an idle pass-through connection is probed
 * (TCP keepalive) on both sides; with `off` it is not.
 */
static uint64_t idle_pass_frames(const char *extra)
{
    char cfg[256];
    struct pcfw_stats st0, st1;
    int p;

    /* No pool recycling in the window: only pass-through frames count. */
    snprintf(cfg, sizeof(cfg), "pool 1\nlisten 81 pass 8080\n"
             "timeout pool-idle 60m\n%s", extra);
    boot(cfg);
    peer_server_script(PEER_SILENT, NULL);
    p = peer_client_open(81);
    peer_client_send_str(p, GET("/pass"));
    peer_run(EXCHANGE_MS);
    pcfw_get_stats(&st0);
    peer_run(5000);
    pcfw_get_stats(&st1);
    ck_assert(!peer_client_reset(p));
    assert_healthy();
    return st1.tx_frames[PCFW_PORT_NIC] - st0.tx_frames[PCFW_PORT_NIC] +
           st1.tx_frames[PCFW_PORT_BUS] - st0.tx_frames[PCFW_PORT_BUS];
}

START_TEST(test_pass_keepalive)
{
    /* 1 s idle, then probes every 10 s: one per side within 5 s. */
    ck_assert_uint_ge(idle_pass_frames("timeout pass-keepalive 1s\n"), 2);
}
END_TEST

START_TEST(test_pass_keepalive_off)
{
    ck_assert_uint_eq(idle_pass_frames("timeout pass-keepalive off\n"), 0);
}
END_TEST

/*
 * Issue 8 item 3.  The server's FIN comes in the segment that ends a
 * keep-alive response: that connection is closing and must not take the
 * request waiting behind it (before: the POST was written to it, the FIN
 * then failed it, and it got 502 although the server was fine).
 */
START_TEST(test_fin_with_response_not_reused)
{
    int a, b;
    unsigned first;

    boot("pool 1\n");
    peer_server_script(PEER_REPLY_CLOSE, PEER_DEFAULT_REPLY);
    a = request(GET("/a"));
    b = request("POST /b HTTP/1.1\r\nHost: card\r\nContent-Length: 1\r\n\r\nx");
    peer_run(REOPEN_MS);
    assert_received(a, OK_RESP);
    assert_received(b, OK_RESP);
    ck_assert_uint_eq(peer_server_requests(), 2);
    first = assert_request(0, FWD_GET("/a"));
    {
        unsigned conn;

        peer_server_request(1, NULL, &conn);
        ck_assert_uint_ne(conn, first);     /* a new connection took it */
        ck_assert_uint_eq(peer_server_conn(first)->requests, 1);
    }
    ck_assert_uint_eq(pstats().errors, 0);
    ck_assert_uint_eq(pstats().retries, 0);
    assert_healthy();
}
END_TEST

/*
 * Issue 8 item 4.  The server restarted: every idle pooled connection is
 * dead, and the card learns it only by writing on it.  A GET is retried on
 * a fresh connection, not on another dead one (before: the retry went to
 * the other idle connection, died too, and the client got 502).
 */
START_TEST(test_retry_fresh_after_restart)
{
    int a, b, c;
    unsigned n;

    boot("pool 2\n");
    a = request(GET("/a"));
    b = request(GET("/b"));             /* both connections carry one */
    peer_run(EXCHANGE_MS);
    assert_received(a, OK_RESP);
    assert_received(b, OK_RESP);
    ck_assert_uint_eq(peer_server_conn(0)->requests, 1);
    ck_assert_uint_eq(peer_server_conn(1)->requests, 1);

    ck_assert_int_eq(peer_server_forget(0), 0);
    ck_assert_int_eq(peer_server_forget(1), 0);
    c = request(GET("/after-restart"));
    peer_run(REOPEN_MS);
    assert_received(c, OK_RESP);
    ck_assert(!peer_client_closed(c));
    n = peer_server_requests();
    ck_assert_uint_eq(n, 3);            /* the dead ones saw nothing */
    {
        unsigned conn;

        peer_server_request(2, NULL, &conn);
        ck_assert_uint_ge(conn, 2);     /* on a connection opened since */
    }
    ck_assert_uint_eq(pstats().retries, 1);
    ck_assert_uint_eq(pstats().errors, 0);
    assert_healthy();
}
END_TEST

/*
 * Issue 8 item 5.  Nothing listens on the server port: connects are
 * refused, and a request gets 502 at once instead of after the connect
 * timeout; the requests do not make the card hammer the port.
 */
START_TEST(test_refused_answers_at_once)
{
    int c[10];
    uint64_t fails;

    boot("pool 2\ntimeout connect 6s\n");
    peer_server_unlisten();
    ck_assert_int_eq(peer_server_reset(0), 0);
    ck_assert_int_eq(peer_server_reset(1), 0);
    peer_run(1000);                     /* reconnects refused: pool down */
    fails = pstats().srv_connect_failures;
    ck_assert_uint_gt(fails, 0);

    for (int i = 0; i < 10; i++) {
        uint32_t t0 = peer_now();

        c[i] = request(GET("/down"));
        peer_run(EXCHANGE_MS);
        assert_received(c[i], RESP_502);
        ck_assert_msg(peer_now() - t0 <= EXCHANGE_MS, "502 after %u ms",
                      peer_now() - t0);
    }
    /* One connect per request at most, besides the back-off's own. */
    ck_assert_uint_le(pstats().srv_connect_failures - fails, 10 + 2);
    ck_assert_uint_eq(pstats().responses[5], 10);

    peer_server_listen(8080);           /* back: served again */
    peer_run(3000);
    c[0] = request(GET("/up"));
    peer_run(EXCHANGE_MS);
    assert_received(c[0], OK_RESP);
    assert_healthy();
}
END_TEST

/*
 * Issue 8 item 4.  The server says how long it keeps an idle connection
 * (Keep-Alive: timeout=2): the card reopens it before then, not after its
 * own pool-idle (30 s here).
 */
START_TEST(test_keepalive_hint)
{
    int c;
    const struct peer_conn_info *ci;
    unsigned conn;

    boot("pool 1\ntimeout pool-idle 30s\n");
    peer_server_script(PEER_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                       "Keep-Alive: timeout=2, max=100\r\n\r\nok");
    c = request(GET("/hint"));
    peer_run(EXCHANGE_MS);
    assert_received(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                    "Connection: keep-alive\r\n\r\nok");
    conn = assert_request(0, FWD_GET("/hint"));
    peer_run(1500);
    ci = peer_server_conn(conn);
    ck_assert(ci->card_fin);
    ck_assert(!ci->card_rst);
    ck_assert_uint_eq(peer_server_accepted(), 2);
    assert_pool(0, 1, 2);
    assert_healthy();
}
END_TEST

/*
 * Issue 9 item 2.  Pools come and go with their listeners: 40 server ports
 * in turn (more than the 32 the card once kept for its whole life, after
 * which a request dereferenced a NULL pool), each request answered, and
 * the card memory of the retired pools given back.
 */
START_TEST(test_pools_follow_listeners)
{
    char cfg[512], err[256];
    uint64_t base;
    struct pcfw_stats st;
    int c;

    boot("pool 2\n");
    pcfw_get_stats(&st);
    base = st.mem.in_use;
    for (int i = 0; i < 40; i++) {
        snprintf(cfg, sizeof(cfg), "listen 80 http %d\ntimeout connect 1s\n",
                 9000 + i);
        ck_assert_msg(pcfw_reconfigure(cfg, strlen(cfg), err,
                                       sizeof(err)) == PCFW_OK, "%s", err);
        c = request(GET("/p"));
        peer_run(3000);
        assert_received(c, RESP_502);   /* nothing listens on 90NN */
        assert_healthy();
    }
    /*
     * No recycling from here on: each idle connection the card closes
     * leaves a TIME_WAIT pcb for 2 MSL, which would blur the count.
     */
    snprintf(cfg, sizeof(cfg), "listen 80 http 8080\ntimeout pool-idle 60m\n");
    ck_assert_int_eq(pcfw_reconfigure(cfg, strlen(cfg), err, sizeof(err)),
                     PCFW_OK);
    peer_run(REOPEN_MS);
    c = request(GET("/back"));
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    peer_run(125000);                   /* pools freed, TIME_WAIT over */
    pcfw_get_stats(&st);
    ck_assert_msg(st.mem.in_use <= base + 4096, "in_use %llu, %llu at boot",
                  (unsigned long long)st.mem.in_use,
                  (unsigned long long)base);
    assert_pool(0, 2, pstats().srv_connects);
    assert_healthy();
}
END_TEST

/* Issue 8 item 8: timeouts as nginx names them. */

/*
 * `timeout request` (now the head's alone) no longer covers the body: an
 * upload that keeps coming, one byte a second for 5 s, is served (before:
 * 408 at 2 s, the request timeout covered head and body together).
 */
START_TEST(test_timeout_body_between_reads)
{
    int c;

    boot("timeout request 2s\n");
    c = request("POST /up HTTP/1.1\r\nHost: card\r\nContent-Length: 5\r\n\r\n");
    for (int i = 0; i < 5; i++) {
        peer_run(1000);
        peer_client_send_str(c, "x");
    }
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    ck_assert_uint_eq(peer_server_requests(), 1);
    assert_healthy();
}
END_TEST

/* A body that stops coming for `timeout body`: 408. */
START_TEST(test_timeout_body_stall)
{
    int c;
    uint32_t t0;

    boot("timeout body 2s\n");
    c = request("POST /up HTTP/1.1\r\nHost: card\r\nContent-Length: 5\r\n\r\nxy");
    t0 = peer_now();
    peer_run(1500);
    assert_received(c, "");
    peer_run(2000);
    assert_received(c, RESP_408);
    ck_assert(peer_client_closed(c));
    ck_assert_uint_ge(peer_client_fin_ms(c) - t0, 2000);
    ck_assert_uint_eq(peer_server_requests(), 0);
    assert_healthy();
}
END_TEST

/*
 * A server that stalls mid-body: after `timeout server-read` its pooled
 * connection is reset and freed, the client reset (its response is cut),
 * and the pool serves the next request (before: the connection stayed
 * busy forever; with pool 1 the next request got 504).
 */
START_TEST(test_timeout_server_read)
{
    int c, d;
    unsigned conn;

    boot("pool 1\ntimeout server-read 2s\n");
    peer_server_script(PEER_SILENT, NULL);
    c = request(GET("/stall"));
    peer_run(EXCHANGE_MS);
    conn = assert_request(0, FWD_GET("/stall"));
    ck_assert_int_eq(peer_server_send(conn, "HTTP/1.1 200 OK\r\n"
                                      "Content-Length: 100\r\n\r\npartial"), 0);
    peer_run(1500);
    ck_assert(!peer_client_reset(c));
    peer_run(1500);
    ck_assert(peer_client_reset(c));
    ck_assert(peer_server_conn(conn)->card_rst);

    peer_run(REOPEN_MS);
    d = request(GET("/next"));
    peer_run(EXCHANGE_MS);
    assert_received(d, OK_RESP);
    assert_healthy();
}
END_TEST

/* A response of @n body bytes, sent by the server in two writes. */
static void send_big_response(unsigned conn, size_t n, bool close)
{
    static char part[20001];
    char head[128];

    snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n%s"
             "\r\n", n, close ? "Connection: close\r\n" : "");
    ck_assert_int_eq(peer_server_send(conn, head), 0);
    for (size_t sent = 0; sent < n; sent += 20000) {
        size_t k = n - sent < 20000 ? n - sent : 20000;

        memset(part, 'a' + (int)(sent / 20000), k);
        part[k] = '\0';
        ck_assert_int_eq(peer_server_send(conn, part), 0);
        peer_run(EXCHANGE_MS);
    }
}

/*
 * A client that reads nothing of its answer for `timeout send` is reset
 * (before: it held the card's memory for as long as it liked).
 */
START_TEST(test_timeout_send)
{
    int c;
    unsigned conn;

    boot("timeout send 2s\n");
    peer_server_script(PEER_SILENT, NULL);
    c = request(GET("/big"));
    peer_client_pause(c, true);
    peer_run(EXCHANGE_MS);
    conn = assert_request(0, FWD_GET("/big"));
    send_big_response(conn, 40000, false);
    peer_run(1000);
    ck_assert(!peer_client_reset(c));
    peer_run(4000);                     /* 2 s, and the 1 s tick */
    ck_assert(peer_client_reset(c));
    assert_healthy();
}
END_TEST

/*
 * Linger only once everything is acknowledged: a reader that pauses 8 s
 * in a `Connection: close` response still gets all of it and a FIN
 * (before: reset after the fixed 5 s linger, most of it unsent).
 */
START_TEST(test_linger_slow_reader)
{
    int c;
    unsigned conn;
    size_t len;
    const char *got;

    boot("");
    peer_server_script(PEER_SILENT, NULL);
    c = request("GET /slow HTTP/1.1\r\nHost: card\r\nConnection: close\r\n\r\n");
    peer_client_pause(c, true);
    peer_run(EXCHANGE_MS);
    conn = assert_request(0, "GET /slow HTTP/1.1\r\nHost: card\r\n"
                          "X-Forwarded-For: 10.0.2.2\r\n"
                          "Forwarded: for=10.0.2.2\r\n"
                          "Via: 1.1 proxycard\r\n\r\n");
    send_big_response(conn, 40000, true);
    peer_run(8000);
    ck_assert(!peer_client_reset(c));
    peer_client_pause(c, false);
    peer_run(1000);
    ck_assert(!peer_client_reset(c));
    ck_assert(peer_client_closed(c));
    got = peer_client_received(c, &len);
    ck_assert_uint_gt(len, 40000);
    ck_assert(strstr(got, "\r\n\r\n") && strlen(strstr(got, "\r\n\r\n")) == 40004);
    assert_healthy();
}
END_TEST

/* Issue 8 item 9: TRACE is the card's to refuse (405 with Allow), as nginx. */
START_TEST(test_trace_refused)
{
    int c;

    boot("");
    c = request("TRACE /t HTTP/1.1\r\nHost: card\r\nCookie: secret\r\n\r\n");
    peer_run(EXCHANGE_MS);
    assert_received(c, "HTTP/1.1 405 Method Not Allowed\r\nServer: proxycard\r\n"
                    "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\n"
                    "Content-Type: text/plain\r\nContent-Length: 19\r\n"
                    "Connection: close\r\n\r\nMethod Not Allowed\n");
    ck_assert(peer_client_closed(c));
    ck_assert_uint_eq(peer_server_requests(), 0);
    assert_healthy();
}
END_TEST

/*
 * OPTIONS with Max-Forwards (RFC 9110 §7.6.2): 0 is answered by the card
 * and the connection goes on; more is forwarded one lower.
 */
START_TEST(test_max_forwards)
{
    int c;

    boot("");
    c = request("OPTIONS * HTTP/1.1\r\nHost: card\r\nMax-Forwards: 0\r\n\r\n"
                "OPTIONS * HTTP/1.1\r\nHost: card\r\nMax-Forwards: 3\r\n\r\n");
    peer_run(EXCHANGE_MS);
    assert_received(c, "HTTP/1.1 200 OK\r\nServer: proxycard\r\n"
                    "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\n"
                    "Content-Length: 0\r\n\r\n" OK_RESP);
    ck_assert(!peer_client_closed(c));
    ck_assert_uint_eq(peer_server_requests(), 1);
    assert_request(0, "OPTIONS * HTTP/1.1\r\nHost: card\r\nMax-Forwards: 2\r\n"
                   "X-Forwarded-For: 10.0.2.2\r\nForwarded: for=10.0.2.2\r\n"
                   "Via: 1.1 proxycard\r\n\r\n");
    assert_healthy();
}
END_TEST

/*
 * Requests pipelined before the client's FIN are all answered, then the
 * card closes (before: the FIN made the card close after the first).
 */
START_TEST(test_pipelined_then_half_close)
{
    int c;

    boot("pool 1\n");
    peer_server_script(PEER_SILENT, NULL);
    c = request(GET("/a") GET("/b"));
    peer_client_shutdown(c);
    peer_run(EXCHANGE_MS);
    ck_assert_int_eq(peer_server_send(assert_request(0, FWD_GET("/a")),
                                      PEER_DEFAULT_REPLY), 0);
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP OK_RESP);
    assert_request(1, FWD_GET("/b"));
    ck_assert(peer_client_closed(c));
    assert_healthy();
}
END_TEST

/* The last segment of each request written to the server carries PSH. */
START_TEST(test_request_push)
{
    static char body[6001];
    char req[7000];
    unsigned data, psh;
    int c;

    boot("");
    memset(body, 'b', sizeof(body) - 1);
    snprintf(req, sizeof(req), "POST /p HTTP/1.1\r\nHost: card\r\n"
             "Content-Length: %zu\r\n\r\n%s", sizeof(body) - 1, body);
    c = request(req);
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    c = request(GET("/g"));
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    data = peer_bus_data_segments(&psh);
    ck_assert_uint_ge(data, 6);         /* the POST took several segments */
    ck_assert_uint_eq(psh, 2);          /* one per request, its last */
    assert_healthy();
}
END_TEST

/*
 * Issue 9 item 2.  A listener removed and loaded again while its clients
 * are still connected (and a card-closed one is in TIME_WAIT): the new one
 * binds the port (SOF_REUSEADDR), the old clients carry on (before: the
 * bind failed, the configuration was applied in part and port 80 stayed
 * shut to new clients).
 */
START_TEST(test_listener_readded)
{
    static const char close_get[] =
        "GET /c HTTP/1.1\r\nHost: card\r\nConnection: close\r\n\r\n";
    char err[256];
    int a, b, c;

    boot("");
    a = request(GET("/a"));
    b = request(close_get);
    peer_run(EXCHANGE_MS);
    assert_received(a, OK_RESP);
    ck_assert(peer_client_closed(b));   /* the card closed first */
    ck_assert_int_eq(pcfw_reconfigure("listen 81 http 8080\n", 20, err,
                                      sizeof(err)), PCFW_OK);
    ck_assert_msg(pcfw_reconfigure("listen 80 http 8080\n", 20, err,
                                   sizeof(err)) == PCFW_OK, "%s", err);
    c = request(GET("/new"));
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    peer_client_send_str(a, GET("/again"));
    peer_run(EXCHANGE_MS);
    assert_received(a, OK_RESP OK_RESP);
    assert_healthy();
}
END_TEST

/*
 * Review finding: a connection past its idle limit is never handed out,
 * even between two pool ticks: after `Keep-Alive: timeout=0` the next
 * request goes to a new connection (before: to the one the server closes).
 */
START_TEST(test_keepalive_zero_not_reused)
{
    int c;
    unsigned first, second;

    boot("pool 1\n");
    peer_server_script(PEER_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                       "Keep-Alive: timeout=0\r\n\r\nok");
    c = request(GET("/a") GET("/b"));
    peer_run(REOPEN_MS);
    ck_assert_uint_eq(peer_server_requests(), 2);
    peer_server_request(0, NULL, &first);
    peer_server_request(1, NULL, &second);
    ck_assert_uint_ne(first, second);
    ck_assert_uint_eq(pstats().errors, 0);
    (void)c;
    assert_healthy();
}
END_TEST

/* ---- ACK timing (issue 14 item 1, docs/firmware.md "ACK timing") ---- */

/*
 * The card's segments to clients, as the tap sees them: when the ACK
 * number first covered each new byte, and how many were bare ACKs (no
 * data, SYN, FIN or RST).
 */
#define ACKS_MAX        256

static struct { uint32_t ack, ms; } acks[ACKS_MAX];
static unsigned n_acks, n_bare_acks;
static enum pcfw_port ack_port = PCFW_PORT_NIC;    /* whose ACKs ack_tap keeps */

static void ack_tap(enum pcfw_port port, const void *frame, size_t len)
{
    const uint8_t *f = frame, *ip = f + 14, *tcp;
    uint32_t ack, data;

    if (port != ack_port || len < 14 + 20 + 20 || get16(f + 12) != 0x0800 ||
        ip[9] != 6) {
        return;
    }
    tcp = ip + (ip[0] & 0xf) * 4;
    if (!(tcp[13] & 0x10)) {
        return;                         /* no ACK (a RST) */
    }
    ack = get32(tcp + 8);
    data = get16(ip + 2) - (uint32_t)(ip[0] & 0xf) * 4 - (tcp[12] >> 4) * 4u;
    if (!data && !(tcp[13] & 0x07)) {
        n_bare_acks++;
    }
    if (n_acks < ACKS_MAX &&
        (!n_acks || (int32_t)(ack - acks[n_acks - 1].ack) > 0)) {
        acks[n_acks].ack = ack;
        acks[n_acks].ms = peer_now();
        n_acks++;
    }
}

/* The card's highest ACK number to the client so far. */
static uint32_t ack_hi(void)
{
    ck_assert_uint_gt(n_acks, 0);
    return acks[n_acks - 1].ack;
}

/* Milliseconds from @since until the card first acknowledged @from + @n. */
static uint32_t ack_delay(uint32_t from, size_t n, uint32_t since)
{
    for (unsigned i = 0; i < n_acks; i++) {
        if ((int32_t)(acks[i].ack - (from + (uint32_t)n)) >= 0) {
            return acks[i].ms - since;
        }
    }
    return UINT32_MAX;
}

#define ACK_MAX_MS      40      /* client.c, PCFW_DELACK_MS */

/*
 * A slow client writes its request in pieces, 90 ms apart: the card
 * acknowledges every piece at once, since it sends nothing before the rest
 * comes (before: at its next 250 ms fast tick, 0-250 ms later, past a Linux
 * client's 200 ms minimum RTO, so the client retransmitted).
 */
START_TEST(test_ack_request_pieces)
{
    static const char *const piece[] = {
        "GET /slow HTTP/1.1\r\n", "Host: ca", "rd\r\n", "User-Agent: t\r\n",
        "Accept: */*\r\n", "\r\n",
    };
    enum { N = sizeof(piece) / sizeof(piece[0]) };
    uint32_t from[N], t0[N], worst = 0;
    char seen[160] = "";
    int c;

    boot("");
    peer_card_tap(ack_tap);
    c = peer_client_open(80);
    peer_run(EXCHANGE_MS);
    for (unsigned i = 0; i < N; i++) {
        from[i] = ack_hi();
        t0[i] = peer_now();
        peer_client_send_str(c, piece[i]);
        peer_run(90);
    }
    peer_run(300);
    /* Every delay first, so that a failure shows them all. */
    for (unsigned i = 0; i < N; i++) {
        uint32_t d = ack_delay(from[i], strlen(piece[i]), t0[i]);

        snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), " %d",
                 d == UINT32_MAX ? -1 : (int)d);
        worst = d > worst ? d : worst;
    }
    fprintf(stderr, "test_ack_request_pieces: ACK delays (ms):%s\n", seen);
    ck_assert_msg(worst <= ACK_MAX_MS, "ACK delays (ms):%s", seen);
    assert_received(c, OK_RESP);
    /* The pieces but the last (its ACK rides on the response). */
    ck_assert_uint_eq(n_bare_acks, N - 1);
    assert_healthy();
}
END_TEST

/*
 * A complete request the server is slow to answer: its ACK waits for the
 * response no longer than PCFW_DELACK_MS.  One answered at once carries
 * the ACK itself: no bare ACK at all.
 */
START_TEST(test_ack_request_complete)
{
    uint32_t from, t0, d;
    int c;

    boot("");
    peer_card_tap(ack_tap);
    c = peer_client_open(80);
    peer_run(EXCHANGE_MS);
    from = ack_hi();
    t0 = peer_now();
    n_bare_acks = 0;
    peer_client_send_str(c, GET("/fast"));
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    ck_assert_uint_eq(ack_delay(from, strlen(GET("/fast")), t0), 0);
    ck_assert_uint_eq(n_bare_acks, 0);

    peer_server_script(PEER_SILENT, NULL);
    from = ack_hi();
    t0 = peer_now();
    peer_client_send_str(c, GET("/slow"));
    peer_run(300);
    d = ack_delay(from, strlen(GET("/slow")), t0);
    ck_assert_msg(d <= ACK_MAX_MS, "acknowledged after %u ms", (unsigned)d);
    ck_assert_uint_eq(n_bare_acks, 1);
    assert_healthy();
}
END_TEST

/*
 * An upload of UPLOAD_SEGS full segments keeps lwIP's ACK for every second
 * one (RFC 5681 §4.2): no ACK per segment.
 */
#define UPLOAD_SEGS     40
#define CLIENT_MSS      1460    /* tests/unit/peer/lwipopts.h, TCP_MSS */

START_TEST(test_ack_upload)
{
    static char req[UPLOAD_SEGS * CLIENT_MSS + 1];
    int head, c;

    boot("");
    peer_card_tap(ack_tap);
    c = peer_client_open(80);
    peer_run(EXCHANGE_MS);
    head = snprintf(req, sizeof(req), "POST /up HTTP/1.1\r\nHost: card\r\n"
                    "Content-Length: %06d\r\n\r\n",
                    UPLOAD_SEGS * CLIENT_MSS - 57);
    ck_assert_int_eq(head, 57);          /* the %06d keeps it so */
    memset(req + head, 'u', sizeof(req) - 1 - (size_t)head);
    n_bare_acks = 0;
    peer_client_send(c, req, sizeof(req) - 1);
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    fprintf(stderr, "test_ack_upload: %d full segments, %u bare ACKs\n",
            UPLOAD_SEGS, n_bare_acks);
    ck_assert_uint_le(n_bare_acks, UPLOAD_SEGS / 2);
    assert_healthy();
}
END_TEST

/*
 * The server's response, one short segment, is acknowledged at once: the
 * card has nothing to send back that the ACK could ride on (before: at the
 * next 250 ms fast tick, past a Linux server's 200 ms minimum RTO).
 */
START_TEST(test_ack_server_response)
{
    uint32_t from, t0, d;
    int c;

    boot("pool 1\n");
    ack_port = PCFW_PORT_BUS;
    peer_card_tap(ack_tap);
    c = peer_client_open(80);
    peer_client_send_str(c, GET("/warm"));
    peer_run(300);
    assert_received(c, OK_RESP);
    from = ack_hi();
    t0 = peer_now();
    peer_client_send_str(c, GET("/fast"));
    peer_run(300);
    d = ack_delay(from, strlen(PEER_DEFAULT_REPLY), t0);
    fprintf(stderr, "test_ack_server_response: response acknowledged after "
            "%u ms\n", (unsigned)d);
    ck_assert_msg(d <= 1, "acknowledged after %u ms", (unsigned)d);
    assert_healthy();
}
END_TEST

/*
 * Two HTTP listeners to one server port share its pool: the server sees the
 * pool's connections once (before: a pool each at boot, twice as many, the
 * second pool's never used).  Found with fuzz-frames' configuration.
 */
START_TEST(test_listeners_share_pool)
{
    int c;

    boot("pool 2\nlisten 81 http 8080\n");
    ck_assert_uint_eq(peer_server_accepted(), 2);
    assert_pool(0, 2, 2);
    c = peer_client_open(81);
    peer_client_send_str(c, GET("/81"));
    peer_run(EXCHANGE_MS);
    assert_received(c, OK_RESP);
    ck_assert_uint_eq(peer_server_accepted(), 2);
    assert_healthy();
}
END_TEST

Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");

    /* Virtual time: seconds of it take milliseconds of real time. */
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_boot_and_get);
    tcase_add_test(tc, test_keepalive_reuse);
    tcase_add_test(tc, test_idle_fin_reopens);
    tcase_add_test(tc, test_idle_unsolicited_bytes);
    tcase_add_test(tc, test_extra_bytes_after_body);
    tcase_add_test(tc, test_close_delimited);
    tcase_add_test(tc, test_bodiless_responses);
    tcase_add_test(tc, test_chunked_response);
    tcase_add_test(tc, test_chunked_response_http10);
    tcase_add_test(tc, test_reset_retry_get);
    tcase_add_test(tc, test_reset_no_retry_post);
    tcase_add_test(tc, test_server_timeout);
    tcase_add_test(tc, test_error_to_head);
    tcase_add_test(tc, test_pool_idle_timeout);
    tcase_add_test(tc, test_queue_order);
    tcase_add_test(tc, test_expect_continue);
    tcase_add_test(tc, test_forwarded_fields);
    tcase_add_test(tc, test_request_framing_written);
    tcase_add_test(tc, test_abort_then_reopened_close_delimited);
    tcase_add_test(tc, test_pass_halfclose_time_wait);
    tcase_add_test(tc, test_ooseq_bounded);
    tcase_add_test(tc, test_small_frame_cost);
    tcase_add_test(tc, test_data_cannot_take_reserve);
    tcase_add_test(tc, test_exhaustion_answers);
    tcase_add_test(tc, test_pass_idle_timeout);
    tcase_add_test(tc, test_pass_keepalive);
    tcase_add_test(tc, test_pass_keepalive_off);
    tcase_add_test(tc, test_fin_with_response_not_reused);
    tcase_add_test(tc, test_retry_fresh_after_restart);
    tcase_add_test(tc, test_refused_answers_at_once);
    tcase_add_test(tc, test_keepalive_hint);
    tcase_add_test(tc, test_pools_follow_listeners);
    tcase_add_test(tc, test_timeout_body_between_reads);
    tcase_add_test(tc, test_timeout_body_stall);
    tcase_add_test(tc, test_timeout_server_read);
    tcase_add_test(tc, test_timeout_send);
    tcase_add_test(tc, test_linger_slow_reader);
    tcase_add_test(tc, test_trace_refused);
    tcase_add_test(tc, test_max_forwards);
    tcase_add_test(tc, test_pipelined_then_half_close);
    tcase_add_test(tc, test_request_push);
    tcase_add_test(tc, test_listener_readded);
    tcase_add_test(tc, test_keepalive_zero_not_reused);
    tcase_add_test(tc, test_listeners_share_pool);
    suite_add_tcase(s, tc);

    tc = tcase_create("ack");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_ack_request_pieces);
    tcase_add_test(tc, test_ack_request_complete);
    tcase_add_test(tc, test_ack_upload);
    tcase_add_test(tc, test_ack_server_response);
    suite_add_tcase(s, tc);
    return s;
}

#ifdef POOL_TEST_MAIN
/* The runner of build/tests/unit/fw-pool (tests/unit/pool.mk). */
int main(void)
{
    SRunner *sr = srunner_create(pool_suite());
    int failed;

    srunner_add_suite(sr, attack_suite());
    srunner_add_suite(sr, pp_suite());

    /* One firmware per process: every test must run in its own child. */
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
