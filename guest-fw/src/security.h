/*
 * proxycard firmware: the security proxy (the patent's third application
 * proxy; docs/security.md).  It screens every client connection before an
 * application proxy sees it, and every HTTP request before it is
 * forwarded, in a fixed order:
 *
 *   at accept (no byte read yet):  1. allow/deny by source and card port
 *                                  2. limit-conn: connections per source
 *                                  3. limit-rate: new connections per source
 *   per HTTP request (head parsed): 4. limit-req: requests per source (429)
 *                                  5. http-deny: method, Host, path (403)
 *                                  6. auth basic|bearer (401)
 *
 * The per-source counts live in a table of `sources` entries in card
 * memory, allocated only while a limit is configured.  An entry with no
 * connection is on an LRU list and is reused, oldest first, for a new
 * source; one with connections is never evicted, so a flood of sources
 * (spoofed sources never complete a handshake, and so never get here)
 * cannot make the card forget a source's connections.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_SECURITY_H
#define PCFW_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "http_parse.h"
#include "proxy.h"

/*
 * The table for @cfg: prepare allocates what @cfg needs (PCFW_ERR_NOMEM, or
 * PCFW_ERR_ARG if fewer entries than clients connected now; nothing
 * changes); commit (after pcfw.cfg = @cfg) installs it and recounts every
 * live client in it; unprepare forgets a prepared table.
 */
void pcfw_sec_init(void);        /* at boot, before the first prepare */
int pcfw_sec_prepare(const struct pcfw_config *cfg);
void pcfw_sec_unprepare(void);
void pcfw_sec_commit(void);
void pcfw_sec_shutdown(void);

/*
 * At accept: may a client from @addr (network byte order) connect to card
 * port @port?  If so, and a limit is on, its connection is counted on its
 * source (*@counted: call pcfw_sec_closed() with the same address and port
 * when it ends).  A refusal is counted in the stats and logged.
 */
bool pcfw_sec_admit(uint32_t addr, uint16_t port, bool *counted);
void pcfw_sec_closed(uint32_t addr, uint16_t port);

/*
 * A parsed request head @raw / @req from @c: 0 to forward it, or the
 * status to answer (400, 401, 403, 429, 503) with the header lines of
 * @extra (each ending in CRLF; empty if none).
 */
int pcfw_sec_request(const struct pcfw_client *c, const uint8_t *raw,
                     const struct pcfw_http_request *req, char *extra,
                     size_t extralen);

/*
 * When an http-deny or auth rule applies on card port @port, the fields by
 * which a server may take another host, path or method than the one the
 * rules saw (X-Forwarded-Host, X-Original-URL, X-HTTP-Method-Override, a
 * client's Forwarded, ...) are not forwarded (http_proxy.c).
 */
bool pcfw_sec_screens(uint16_t port);
bool pcfw_sec_rerouting_field(const uint8_t *raw,
                              const struct pcfw_http_field *f);

#endif /* PCFW_SECURITY_H */
