/*
 * Check runner for the firmware's unit tests.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <check.h>
#include <stdlib.h>
#include "fw_unit.h"

int main(void)
{
    SRunner *sr = srunner_create(arena_suite());
    int failed;

    srunner_add_suite(sr, bytequeue_suite());
    srunner_add_suite(sr, list_suite());
    srunner_add_suite(sr, config_suite());
    srunner_add_suite(sr, http_parse_suite());
    srunner_add_suite(sr, sec_parse_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
