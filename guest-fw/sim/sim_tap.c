/*
 * proxycard-sim: a port wired to an existing TAP device (see sim_tap.h).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include "sim_tap.h"

#define SIM_TAP_ETH_HDR     14
/*
 * Room for any frame tun hands out: a TAP's MTU is at most 65521 (tun's
 * maxmtu) plus the Ethernet header.  Reading into less would truncate a
 * long frame silently; this way it is seen whole, and counted as oversized.
 */
#define SIM_TAP_RX_BUF      (65536 + 64)

static void sim_tap_init_closed(SimTap *tap)
{
    memset(tap, 0, sizeof(*tap));
    tap->fd = -1;
}

/* open() and TUNSETIFF in the namespace we are in; -1 with errno. */
static int sim_tap_attach(const char *name, const char **what)
{
    struct ifreq ifr;
    int fd, e;

    *what = "cannot open /dev/net/tun";
    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    /*
     * TUNSETIFF on a name that exists attaches to that device if its flags
     * match (EINVAL otherwise: a TUN device, one with a vnet header or
     * packet information); on a name that does not, it would create a
     * device, which we do not want: the harness owns the device.
     */
    if (if_nametoindex(name) == 0) {
        *what = "not found (ip tuntap add dev NAME mode tap makes one)";
        e = ENODEV;
        close(fd);
        errno = e;
        return -1;
    }
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        *what = "cannot attach (TUNSETIFF; a TAP device without packet "
                "information or vnet header is needed)";
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int sim_tap_open(SimTap *tap, const char *name, const char *netns,
                 char *err, size_t errlen)
{
    char path[256];
    const char *what = "";
    int self = -1, ns = -1, fd, e;

    sim_tap_init_closed(tap);
    if (strlen(name) >= IFNAMSIZ) {
        snprintf(err, errlen, "TAP device name '%s' longer than %d", name,
                 IFNAMSIZ - 1);
        return -1;
    }
    snprintf(tap->name, sizeof(tap->name), "%s", name);
    tap->rx_buf = malloc(SIM_TAP_RX_BUF);
    if (!tap->rx_buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    if (netns) {
        snprintf(path, sizeof(path), strchr(netns, '/') ? "%s" :
                 "/run/netns/%s", netns);
        self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        ns = open(path, O_RDONLY | O_CLOEXEC);
        if (self < 0 || ns < 0) {
            e = errno;
            snprintf(err, errlen, "cannot open %s: %s",
                     self < 0 ? "/proc/self/ns/net" : path, strerror(e));
            goto fail;
        }
        if (setns(ns, CLONE_NEWNET) != 0) {
            e = errno;
            snprintf(err, errlen, "cannot enter network namespace %s: %s%s",
                     path, strerror(e), e == EPERM ? " (needs root)" : "");
            goto fail;
        }
    }
    fd = sim_tap_attach(name, &what);
    e = errno;
    if (netns && setns(self, CLONE_NEWNET) != 0) {
        /* Our slirp sockets would be made in the wrong namespace: stop. */
        e = errno;
        snprintf(err, errlen, "cannot return to our network namespace: %s",
                 strerror(e));
        if (fd >= 0) {
            close(fd);
        }
        goto fail;
    }
    if (fd < 0) {
        snprintf(err, errlen, "TAP device %s%s%s: %s: %s", name,
                 netns ? " in namespace " : "", netns ? netns : "", what,
                 strerror(e));
        goto fail;
    }
    tap->fd = fd;
    if (self >= 0) {
        close(self);
    }
    if (ns >= 0) {
        close(ns);
    }
    return 0;

fail:
    if (self >= 0) {
        close(self);
    }
    if (ns >= 0) {
        close(ns);
    }
    sim_tap_close(tap);
    return -1;
}

int sim_tap_read(SimTap *tap, size_t max_frame)
{
    ssize_t n;

    do {
        n = read(tap->fd, tap->rx_buf, SIM_TAP_RX_BUF);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        /* EIO while the device is down; nothing to read until it is up. */
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            tap->rx_errors++;
        }
        return SIM_TAP_NONE;
    }
    if (n < SIM_TAP_ETH_HDR) {
        tap->rx_runt++;
        return SIM_TAP_DROPPED;
    }
    if ((size_t)n > max_frame) {
        tap->rx_oversize++;
        return SIM_TAP_DROPPED;
    }
    tap->rx_frames++;
    return (int)n;
}

int sim_tap_write(SimTap *tap, const void *frame, size_t len)
{
    ssize_t n;

    do {
        n = write(tap->fd, frame, len);
    } while (n < 0 && errno == EINTR);
    /*
     * tun takes a whole frame or none.  It fails with EIO while the device
     * is down, EAGAIN hardly ever (the kernel queues, or drops, inside):
     * either way the frame is lost, like one a full ring would not take,
     * and TCP retransmits.
     */
    if (n != (ssize_t)len) {
        tap->tx_dropped++;
        tap->last_tx_errno = n < 0 ? errno : EMSGSIZE;
        return -1;
    }
    tap->tx_frames++;
    return 0;
}

void sim_tap_close(SimTap *tap)
{
    if (tap->fd >= 0) {
        close(tap->fd);
    }
    free(tap->rx_buf);
    sim_tap_init_closed(tap);
}
