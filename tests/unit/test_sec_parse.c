/*
 * Unit tests of what the security proxy parses and hashes: SHA-256 against
 * the FIPS 180-2 examples, the canonical path of prefix rules, strict
 * base64.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdio.h>
#include <string.h>
#include "fw_unit.h"
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
        { "/a?x=/admin", "/a" }, { "/a#f", "/a" }, { "/", "/" },
        { "*", "*" }, { "", "/" }, { "/a/b/..", "/a" }, { "/a/b/../", "/a/" },
        { "/a/%2e%2e/admin", "/admin" }, { "/admin%3fx", "/admin?x" },
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
            "/a b", "/a\tb",
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

Suite *sec_parse_suite(void)
{
    Suite *s = suite_create("sec_parse");
    TCase *tc = tcase_create("sec_parse");

    tcase_add_test(tc, test_sha256_vectors);
    tcase_add_test(tc, test_sha256_pieces);
    tcase_add_test(tc, test_norm_path);
    tcase_add_test(tc, test_base64);
    suite_add_tcase(s, tc);
    return s;
}
