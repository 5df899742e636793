/*
 * Suites of the firmware's unit tests.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef FW_UNIT_H
#define FW_UNIT_H

#include <check.h>

Suite *arena_suite(void);
Suite *bytequeue_suite(void);
Suite *list_suite(void);
Suite *config_suite(void);
Suite *http_parse_suite(void);
Suite *sec_parse_suite(void);

#endif
