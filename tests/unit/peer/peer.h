/*
 * The card's peer for deterministic firmware tests: a second lwIP stack in
 * the test process that plays the clients (NIC side) and a scripted HTTP
 * server (bus side), with frames passed in memory and a virtual clock.
 * See the top of peer.c for how it works.
 *
 * Usage, inside one Check test (one process: the firmware boots once):
 *
 *     peer_init();
 *     peer_server_listen(8080);
 *     ck_assert_int_eq(peer_card_boot("...config text..."), PCFW_OK);
 *     peer_run(500);                      pool connections are made
 *     int c = peer_client_open(80);
 *     peer_client_send_str(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
 *     peer_run(50);
 *     ... peer_client_received(c, &len), peer_server_request(0, ...) ...
 *
 * Nothing happens between peer_run() calls: frames and timers move only
 * inside it, so every observation is at an exact virtual time.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PEER_H
#define PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pcfw_platform.h"

/* Addresses of the two links (dotted quads, for building expectations). */
#define PEER_NIC_IP     "10.0.2.2"      /* the clients, facing 10.0.2.15 */
#define PEER_BUS_IP     "10.0.3.2"      /* the server, facing 10.0.3.15 */
#define PEER_CARD_NIC   "10.0.2.15"
#define PEER_CARD_BUS   "10.0.3.15"

/* Most connections one test may open on each side. */
#define PEER_MAX_CONNS  160

/* ---- set-up and time ---- */

/* Start the peer stack: its two netifs, the clock at 0.  Once per process. */
void peer_init(void);

/*
 * Boot the card: pcfw_config_defaults(), the card's MAC addresses, then
 * @config (docs/config.md) through pcfw_config_parse(), 8 MiB of malloc'd
 * card memory, pcfw_init().  Returns pcfw_init()'s result; a configuration
 * that does not parse aborts the test (it is the test that is wrong).
 */
int peer_card_boot(const char *config);

/*
 * Advance the virtual clock by @ms in 1 ms steps; at every step (and once
 * at the start) run both stacks' timers and pass frames both ways until
 * neither side has anything left to deliver.  peer_run(0) only delivers.
 */
void peer_run(uint32_t ms);

/*
 * Hand one Ethernet frame to the peer's netif facing the card's @port, as
 * if the card had sent it.  peer_run() does this for the card's frames; a
 * test may inject its own.  Never call it from inside a firmware hook.
 */
void peer_input(enum pcfw_port port, const void *frame, size_t len);

/*
 * See every frame the card sends (before the peer gets it), e.g. its
 * answers to forged segments, which the peer's stack drops; NULL: none.
 * Called from inside the firmware: look, never call back into it.
 */
typedef void (*peer_tap_fn)(enum pcfw_port port, const void *frame,
                            size_t len);
void peer_card_tap(peer_tap_fn fn);

/* The virtual clock, milliseconds since peer_init(). */
uint32_t peer_now(void);

/* A firmware fault seen by peer_run() (pcfw_fault()), or NULL. */
const char *peer_card_fault(void);

/* ---- clients: connections from 10.0.2.2 to the card's NIC port ---- */

/* Start a connection to the card's @port; returns its id (0, 1, ...). */
int peer_client_open(uint16_t port);

/* Queue bytes for the card; they leave as the connection allows. */
void peer_client_send(int id, const void *data, size_t len);
void peer_client_send_str(int id, const char *s);

/* Everything the client received so far (NUL-terminated), its length. */
const char *peer_client_received(int id, size_t *len);

/*
 * Stop (true) or resume (false) reading: received bytes are kept but not
 * acknowledged to TCP, so the client's window closes as a stalled reader's.
 */
void peer_client_pause(int id, bool paused);

/* Half-close: FIN once the queued bytes are out; the client still reads. */
void peer_client_shutdown(int id);

/* Reset the connection (RST to the card) and forget it. */
void peer_client_abort(int id);

uint16_t peer_client_port(int id);      /* its source port */
bool peer_client_connected(int id);     /* the handshake completed */
bool peer_client_closed(int id);        /* FIN from the card (we close too) */
bool peer_client_reset(int id);         /* RST from the card */
uint32_t peer_client_fin_ms(int id);    /* when the FIN came (if closed) */

/*
 * Send a forged data segment on client @id's connection: @len bytes at
 * @ahead bytes past the client's next sequence number (so @ahead > 0 leaves
 * a hole), behind the client's TCP.  Delivered by the next peer_run().
 */
void peer_client_forge(int id, uint32_t ahead, const void *data, size_t len);
/* The same with TCP options @opts (@optlen, a multiple of 4, at most 40). */
void peer_client_forge_opts(int id, uint32_t ahead, const uint8_t *opts,
                            size_t optlen, const void *data, size_t len);

/* ---- the scripted HTTP server on 10.0.3.2 ---- */

/* What the server does when a complete request arrived. */
enum peer_act {
    PEER_REPLY,         /* send the scripted bytes, keep the connection */
    PEER_REPLY_CLOSE,   /* send them, then FIN (in the same segment) */
    PEER_RESET,         /* send nothing, reset the connection */
    PEER_SILENT,        /* send nothing; the test may answer later */
};

/* Listen on @port of the bus side.  Call before peer_card_boot(). */
void peer_server_listen(uint16_t port);

/*
 * Queue one action for the next request (any connection), FIFO.  Requests
 * beyond the script get the default action, initially PEER_REPLY with
 * PEER_DEFAULT_REPLY.  @reply is copied; it may hold extra bytes.
 */
void peer_server_script(enum peer_act act, const char *reply);
void peer_server_default(enum peer_act act, const char *reply);

#define PEER_DEFAULT_REPLY  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

/* Connections the server accepted so far (ids 0 .. n-1, in accept order). */
unsigned peer_server_accepted(void);

/* What happened to one accepted connection. */
struct peer_conn_info {
    bool open;              /* neither side closed or reset it yet */
    bool card_fin;          /* the card sent FIN */
    bool card_rst;          /* the card reset it (or it was reset) */
    bool we_closed;         /* the server closed or reset it */
    uint32_t accepted_ms;
    uint32_t end_ms;        /* when card_fin or card_rst happened */
    unsigned requests;      /* complete requests received on it */
    size_t unparsed;        /* bytes received that are no complete request */
};
const struct peer_conn_info *peer_server_conn(unsigned conn);

/*
 * Every byte server connection @conn received so far, in order (requests
 * or not, NULs included; NUL-terminated too), its length in *@len.
 */
const char *peer_server_raw(unsigned conn, size_t *len);

/* Complete requests received so far, in arrival order over all connections. */
unsigned peer_server_requests(void);

/* Request @i: its bytes (NUL-terminated; head and body), length, connection. */
const char *peer_server_request(unsigned i, size_t *len, unsigned *conn);

/* Send @bytes on server connection @conn now: -1 if it is gone. */
int peer_server_send(unsigned conn, const char *bytes);

/* Close (FIN) or reset server connection @conn now: -1 if it is gone. */
int peer_server_close(unsigned conn);
int peer_server_reset(unsigned conn);

/* Data segments the card sent towards the server so far; *@with_psh: PSH. */
unsigned peer_bus_data_segments(unsigned *with_psh);

/*
 * Send @n bytes ('s') on server connection @conn as fast as the card's
 * window lets them go (the rest from the sent callback): a response body
 * larger than any one write.  -1 if the connection is gone.
 */
int peer_server_stream(unsigned conn, size_t n);
/* Bytes peer_server_stream() has yet to send on @conn. */
size_t peer_server_stream_left(unsigned conn);

/* Stop listening: connects from the card are refused (RST). */
void peer_server_unlisten(void);

/*
 * The server loses connection @conn without a word, as a restarted server
 * host does: no FIN, no RST now; the card's next segment on it gets RST.
 * -1 if it is gone.
 */
int peer_server_forget(unsigned conn);

#endif /* PEER_H */
