/*
 * Helpers shared by the proxycard qtests (proxycard-test.c and
 * proxycard-e2e-test.c): finding the card, temporary configuration files,
 * a free loopback port.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PROXYCARD_QTEST_H
#define PROXYCARD_QTEST_H

#include "libqos/pci.h"

/* qpci_device_foreach() callback: keep the device found. */
static inline void pc_save_dev(QPCIDevice *dev, int devfn, void *data)
{
    *(QPCIDevice **)data = dev;
}

/* A card configuration file in the temp dir; returns its path (g_free). */
static inline char *pc_write_config(const char *text)
{
    char *path = NULL;
    int fd = g_file_open_tmp("proxycard-qtest-XXXXXX.conf", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

/* A TCP port free on 127.0.0.1 right now (for -netdev user,hostfwd). */
static inline int pc_free_tcp_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&a, &len), ==, 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

#endif /* PROXYCARD_QTEST_H */
