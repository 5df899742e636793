/*
 * proxycard firmware: the platform interface.
 *
 * What a platform (the QEMU device thread in hw/proxycard/, or the host
 * harness) must provide to run the firmware.  The firmware knows nothing of
 * QEMU or glib: everything it needs from the outside world is here.
 *
 * Threading contract: the platform calls every pcfw_* entry point from one
 * thread only (the "card CPU"), and the firmware calls these hooks only from
 * inside those entry points, on that same thread.  A hook must not call back
 * into the firmware.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_PLATFORM_H
#define PCFW_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* The card's two Ethernet ports. */
enum pcfw_port {
    PCFW_PORT_NIC = 0,  /* network controller: the clients' side */
    PCFW_PORT_BUS = 1,  /* bus protocol bridge: the server's side */
    PCFW_PORT_COUNT
};

enum pcfw_log_level {
    PCFW_LOG_ERROR = 0,
    PCFW_LOG_WARN  = 1,
    PCFW_LOG_INFO  = 2,
    PCFW_LOG_DEBUG = 3,
};

struct pcfw_platform {
    /* Passed back as the first argument of every hook. */
    void *opaque;

    /*
     * Transmit one Ethernet frame (without FCS) on @port.  The platform
     * copies the frame before returning.  Returns 0 when the frame was taken,
     * -1 when it was dropped (queue full, link down); lwIP's TCP retransmits.
     */
    int (*send_frame)(void *opaque, enum pcfw_port port,
                      const void *frame, size_t len);

    /*
     * Milliseconds on the card's clock: monotonic, arbitrary origin.  lwIP's
     * timers (sys_now) run on it.
     */
    uint32_t (*now_ms)(void *opaque);

    /* One line of firmware log, without a trailing newline. */
    void (*log)(void *opaque, enum pcfw_log_level level, const char *msg);
};

#endif /* PCFW_PLATFORM_H */
