/*
 * Unit tests of what the security proxy parses, hashes and counts: SHA-256
 * against the FIPS 180-2 examples, the canonical path of prefix rules,
 * strict base64, the rate limits' token buckets.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdio.h>
#include <string.h>
#include "fw_unit.h"
#include "bucket.h"
#include "sec_parse.h"
#include "sha256.h"

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", b[i]);
    }
}

START_TEST(test_sha256_vectors)
{
    static const struct { const char *msg, *digest; } v[] = {
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    };
    uint8_t d[PCFW_SHA256_LEN];
    char got[65];

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        pcfw_sha256(v[i].msg, strlen(v[i].msg), NULL, 0, d);
        hex(d, sizeof(d), got);
        ck_assert_str_eq(got, v[i].digest);
    }
}
END_TEST

/* A million 'a', fed in uneven pieces; and a salt and password in two. */
START_TEST(test_sha256_pieces)
{
    struct pcfw_sha256 ctx;
    uint8_t d[PCFW_SHA256_LEN], buf[997];
    char got[65];
    size_t left = 1000000;

    memset(buf, 'a', sizeof(buf));
    pcfw_sha256_init(&ctx);
    while (left) {
        size_t n = left < sizeof(buf) ? left : sizeof(buf);

        pcfw_sha256_update(&ctx, buf, n);
        left -= n;
    }
    pcfw_sha256_final(&ctx, d);
    hex(d, sizeof(d), got);
    ck_assert_str_eq(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* scripts/proxycard-passwd: SHA-256(salt || password) */
    pcfw_sha256("salt", 4, "secret", 6, d);
    hex(d, sizeof(d), got);
    ck_assert_str_eq(got, "bede90386d450cea8b77b822f8887065e4e5abf132c2f9dccfcc7fbd4cba5e35");
}
END_TEST

/* Every spelling a server might read as /admin reads as /admin. */
START_TEST(test_norm_path)
{
    static const struct { const char *in, *out; } v[] = {
        { "/admin", "/admin" }, { "/ADMIN", "/admin" },
        { "/%61dmin", "/admin" }, { "/%2561dmin", "/admin" },
        { "//admin", "/admin" }, { "/x/../admin", "/admin" },
        { "/./admin", "/admin" }, { "/admin/", "/admin/" },
        { "\\admin", "/admin" }, { "/x%2f..%2fadmin", "/admin" },
        { "/x%5c..%5cadmin", "/admin" }, { "/../../admin", "/admin" },
        { "/a?x=/admin", "/a" }, { "/", "/" },
        { "*", "/*" }, { "", "/" }, { "/a/b/..", "/a/" }, { "/a/b/../", "/a/" },
        { "/a/%2e%2e/admin", "/admin" }, { "/admin%3fx", "/admin?x" },
        /* Review findings: a final dot segment is a directory (RFC 3986,
         * nginx, Apache); Tomcat's path parameters; IIS's dots, blanks and
         * streams; a '%' that double decoding made, kept. */
        { "/admin/.", "/admin/" }, { "/admin/x/%2e%2e", "/admin/" },
        { "/admin;x/", "/admin/" }, { "/public/..;/admin/", "/admin/" },
        { "/admin%3bjsessionid=1/", "/admin/" }, { "/admin./", "/admin/" },
        { "/admin%20/", "/admin/" }, { "/admin::$INDEX_ALLOCATION/", "/admin/" },
        { "/shop/50%25off", "/shop/50%off" }, { "/a/...", "/a/" },
    };
    char out[64];
    bool bad;

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n = pcfw_sec_norm_path((const uint8_t *)v[i].in,
                                      strlen(v[i].in), out, &bad);

        ck_assert_msg(!bad, "%s: bad", v[i].in);
        ck_assert_msg(strcmp(out, v[i].out) == 0, "%s -> %s, want %s",
                      v[i].in, out, v[i].out);
        ck_assert_uint_eq(n, strlen(v[i].out));
    }
    {
        static const char *const broken[] = {
            "/a%", "/a%4", "/a%zz", "/a%00b", "/a%2500", "/a%0d%0aX: y",
            "/a b", "/a\tb", "/public#/../admin/",
        };

        for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
            pcfw_sec_norm_path((const uint8_t *)broken[i], strlen(broken[i]),
                               out, &bad);
            ck_assert_msg(bad, "%s accepted", broken[i]);
        }
    }
}
END_TEST

START_TEST(test_base64)
{
    uint8_t out[32];
    long n;

    n = pcfw_sec_base64((const uint8_t *)"YWxpY2U6c2VjcmV0", 16, out,
                        sizeof(out));
    ck_assert_int_eq(n, 12);
    ck_assert(memcmp(out, "alice:secret", 12) == 0);
    ck_assert_int_eq(pcfw_sec_base64((const uint8_t *)"YQ==", 4, out, 32), 1);
    ck_assert_int_eq(pcfw_sec_base64((const uint8_t *)"YWI=", 4, out, 32), 2);
    /* No padding, padding inside, junk, too long for @cap. */
    ck_assert_int_eq(pcfw_sec_base64((const uint8_t *)"YQ", 2, out, 32), -1);
    ck_assert_int_eq(pcfw_sec_base64((const uint8_t *)"Y===YWJj", 8, out, 32),
                     -1);
    ck_assert_int_eq(pcfw_sec_base64((const uint8_t *)"YW*j", 4, out, 32), -1);
    ck_assert_int_eq(pcfw_sec_base64((const uint8_t *)"YWJjZGVm", 8, out, 5),
                     -1);
}
END_TEST

/* Successes of attempts every @step ms for @ms at @rate (burst 1, full). */
static unsigned bucket_run(uint32_t milli_per_s, uint32_t step, uint32_t ms)
{
    struct pcfw_rate_limit rate = { milli_per_s, 1 };
    uint32_t tokens = 1000, since = 5, ok = 0;

    for (uint32_t t = 5; t <= 5 + ms; t += step) {
        ok += pcfw_bucket_take(&tokens, &since, t, &rate, NULL);
    }
    return ok;
}

/*
 * Review finding: a `1/m` bucket (17 thousandths a second) asked every
 * 51 ms gained nothing at each refill and never refilled: 1 success in
 * 130 s, not 3.  The clock now keeps what did not make a thousandth.
 */
START_TEST(test_bucket_rates)
{
    struct pcfw_rate_limit ten = { 10000, 3 };
    uint32_t tokens = 0, since = 0, retry = 0;

    ck_assert_uint_eq(bucket_run(17, 51, 130000), 3);
    ck_assert_uint_eq(bucket_run(17, 1, 130000), 3);
    ck_assert_uint_eq(bucket_run(10000, 1, 1000), 11);
    ck_assert_uint_eq(bucket_run(1000000000, 1, 10), 11);
    /* Empty: back in 0.1 s, so Retry-After says 1 s; the burst caps it. */
    ck_assert(!pcfw_bucket_take(&tokens, &since, 0, &ten, &retry));
    ck_assert_uint_eq(retry, 1);
    ck_assert(pcfw_bucket_take(&tokens, &since, 3600000, &ten, NULL));
    ck_assert_uint_eq(tokens, 2000);
    /* The clock wraps (49.7 days). */
    tokens = 0;
    since = UINT32_MAX - 50;
    ck_assert(pcfw_bucket_take(&tokens, &since, 60, &ten, NULL));
}
END_TEST

Suite *sec_parse_suite(void)
{
    Suite *s = suite_create("sec_parse");
    TCase *tc = tcase_create("sec_parse");

    tcase_add_test(tc, test_sha256_vectors);
    tcase_add_test(tc, test_sha256_pieces);
    tcase_add_test(tc, test_norm_path);
    tcase_add_test(tc, test_base64);
    tcase_add_test(tc, test_bucket_rates);
    suite_add_tcase(s, tc);
    return s;
}
