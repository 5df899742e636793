/*
 * proxycard firmware: the connection-offload proxy's data structures
 * (the patent's FIG. 4) and the interfaces between its modules.
 *
 *   master.c      master process 202: listeners, accept, dispatch (FIG. 6)
 *   client.c      client processes 204: input and output queues (FIG. 7, 11)
 *   http_proxy.c  HTTP proxy 208(1) (FIG. 8-10)
 *   pool.c        its pool of persistent server connections (pool.h)
 *   pass_proxy.c  pass-through proxy 208(2)
 *
 * Everything lives in card memory and runs on the firmware thread, driven
 * by lwIP's callbacks: where the patent polls, a callback moves a client's
 * descriptor from queue to queue and runs the proxy.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_PROXY_H
#define PCFW_PROXY_H

#include "lwip/tcp.h"
#include "bytequeue.h"
#include "http_parse.h"
#include "list.h"
#include "pcfw.h"

struct pcfw_client;
struct pcfw_srv;

/* Connection state 410 of a client. */
enum pcfw_client_state {
    PCFW_CL_READING,    /* accumulating a request (FIG. 7) */
    PCFW_CL_READY,      /* complete request, on the ready queue (FIG. 8) */
    PCFW_CL_PENDING,    /* forwarded, on the read-pending queue (FIG. 9, 10) */
    PCFW_CL_STREAM,     /* pass-through: bytes flow both ways */
    PCFW_CL_CLOSING,    /* last bytes leaving, no more requests */
};

/* What a proxy does with its clients; client.c calls these. */
struct pcfw_proxy_ops {
    /* A client connection was accepted and set up; false if it aborted it. */
    bool (*accept)(struct pcfw_client *c);
    /* New bytes in c->in (or, with fin, the client's FIN). */
    void (*input)(struct pcfw_client *c, bool fin);
    /* Bytes left c->out for the client's TCP send buffer. */
    void (*drained)(struct pcfw_client *c);
    /* Once a second (the client's tcp_poll): timeouts. */
    void (*tick)(struct pcfw_client *c, uint32_t now);
    /* The client is going away: drop every reference to it. */
    void (*detach)(struct pcfw_client *c);
};

/*
 * Proxy data structure 404: one per application proxy.  Each client of the
 * proxy is on exactly one of its queues (through pcfw_client.link):
 * client queue 418 (reading), ready queue 420, read-pending queue 422.
 */
struct pcfw_proxy {
    const char *name;
    const struct pcfw_proxy_ops *ops;
    struct pcfw_list clients;
    struct pcfw_list ready;
    struct pcfw_list pending;
};

/* HTTP proxy data of a client (application proxy data 416). */
struct pcfw_http_client {
    /* request side */
    struct pcfw_http_head_scan scan;
    uint8_t phase;              /* enum in http_proxy.c */
    size_t parsed;              /* bytes of c->in examined for this request */
    size_t raw_head_len;        /* the request head as received */
    size_t req_len;             /* head + body, once complete */
    uint64_t body_left;         /* Content-Length body still to come */
    struct pcfw_http_chunked chunked;
    uint8_t *head;              /* rewritten head for the server (arena) */
    size_t head_len, head_sent;
    size_t head_cap;            /* bytes allocated for head */
    uint8_t req_framing;        /* enum pcfw_http_framing of the request */
    /*
     * A chunked request's data, its framing stripped (the card writes
     * Content-Length); its raw bytes are gone from c->in once complete.
     */
    struct pcfw_bq body;
    bool dechunked;
    size_t body_sent;           /* body bytes written to the server */
    int method;
    bool keep_alive;            /* the client's connection persists */
    uint8_t fresh_fails;        /* tries on fresh connections that failed */
    bool want_fresh;            /* retrying: only a fresh connection will do */
    bool on_fresh;              /* its connection carried nothing before */
    uint32_t req_start_ms;      /* first byte of this request */
    uint32_t body_read_ms;      /* the body's last bytes came then */
    uint32_t wait_start_ms;     /* queued or sent: start of server wait */
    uint32_t ready_ms;          /* the request was complete (not reset by a retry) */
    /* response side */
    uint8_t rphase;
    struct pcfw_http_head_scan rscan;
    struct pcfw_bq rhead;       /* response head being collected */
    uint64_t rbody_left;
    struct pcfw_http_chunked rchunked;
    bool resp_started;          /* a response byte arrived */
    uint32_t resp_read_ms;      /* the server's last bytes came then */
    bool client_10;             /* the request was HTTP/1.0 */
    bool resp_dechunk;          /* chunked response to a 1.0 client */
    bool close_after;           /* close the client after this response */
    bool answer_options;        /* OPTIONS with Max-Forwards: 0: ours */
};

/*
 * The ready queue is standing once its oldest request has waited this long
 * for a pooled connection: then the newest go first (http_run()).
 */
#define PCFW_READY_LIFO_MS      1000

/*
 * Longest PROXY protocol header the card writes: v1 for TCP over IPv4,
 * "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n" (v2's is 28).
 */
#define PCFW_PP_MAX     56

/* Pass-through proxy data of a client. */
struct pcfw_pass_client {
    struct tcp_pcb *srv;        /* the client's own server connection */
    bool srv_connected;
    /*
     * The PROXY protocol header for the server, made at accept (it lives in
     * the client struct, in card memory: a pass client is far smaller than
     * the HTTP client it shares a union with, so it costs nothing more).
     * pp_sent < pp_len: the rest must be queued before any client byte.
     */
    uint8_t pp[PCFW_PP_MAX];
    uint8_t pp_len, pp_sent;
    bool client_fin;            /* client sent FIN: half-close the server */
    bool srv_fin;               /* server sent FIN: half-close the client */
    bool srv_shut;              /* FIN sent to the server */
    uint32_t srv_held;          /* server bytes not yet acknowledged */
    uint32_t since_ms;          /* accepted at */
    uint32_t srv_active_ms;     /* the server side last moved a byte */
};

/* Client data structure 402: one per client connection. */
struct pcfw_client {
    struct tcp_pcb *pcb;        /* NULL once closed or freed by lwIP */
    ip4_addr_t addr;            /* client socket 406 */
    uint16_t port;
    uint16_t local_port;        /* the card port it connected to */
    uint16_t server_port;       /* its listener's, at accept */
    uint8_t proxy_protocol;     /* its listener's (enum pcfw_proxy_protocol) */
    struct pcfw_proxy *proxy;
    struct pcfw_srv *srv;       /* server socket 408 (HTTP: pooled) */
    uint8_t state;              /* connection state 410 */
    struct pcfw_bq in;          /* input queue 412 */
    struct pcfw_bq out;         /* output queue 414 */
    struct pcfw_list link;      /* on one of the proxy's queues */
    struct pcfw_list all;       /* on the master's list of clients */
    struct pcfw_list delack;    /* on client.c's delayed-ACK list */
    uint32_t ack_due_ms;        /* on it: acknowledge by then (ACK timing) */
    uint32_t in_held;           /* received, not yet acknowledged to TCP */
    uint32_t win_owed;          /* acknowledged, window held (watermark) */
    uint32_t last_active_ms;
    uint32_t sent_ms;           /* output pending: last ACK progress */
    uint32_t progress_ms;       /* last PCFW_SHED_UNIT acknowledged (shed.c) */
    uint32_t progress_bytes;    /* acknowledged since progress_ms */
    bool dead;                  /* freed; reaped when the entry point ends */
    bool peer_fin;              /* the client sent FIN */
    bool shut_tx;               /* our FIN is queued */
    bool sec_counted;           /* counted on its source (security.c) */
    union {                     /* application proxy data 416 */
        struct pcfw_http_client http;
        struct pcfw_pass_client pass;
    } pd;
};

/* ---- master.c ---- */
int pcfw_master_init(void);
/* Listeners for a new configuration: prepare (may fail, nothing changes), commit. */
int pcfw_master_prepare(const struct pcfw_config *cfg);
void pcfw_master_commit(void);
void pcfw_master_shutdown(void);
/* Call @fn for every live client (not for freed ones). */
void pcfw_master_each_client(void (*fn)(struct pcfw_client *c, void *arg),
                             void *arg);
uint32_t pcfw_now(void);

/* ---- client.c ---- */
void pcfw_client_setup(struct pcfw_client *c, struct tcp_pcb *pcb);
/*
 * Send the clients' delayed ACKs that are due (docs/firmware.md, "ACK
 * timing"); returns the milliseconds until the next one is, or UINT32_MAX
 * when none is pending.  From pcfw_poll().
 */
uint32_t pcfw_client_delack_run(void);
/* Move c->out to the client as far as its send window allows. */
void pcfw_client_flush(struct pcfw_client *c);
/*
 * Acknowledge @n held input bytes to the client's TCP: opens the window,
 * unless card memory is above the window watermark; then the window opens
 * from the client's poll once memory is back below it.
 */
void pcfw_client_ack(struct pcfw_client *c, uint32_t n);
/* Queue an error response (status, short text) and close after it. */
void pcfw_client_error(struct pcfw_client *c, int status);
/*
 * The same, answering a HEAD request if @head: the head without the body;
 * @extra (NULL or header lines, each ending in CRLF) goes in the head, such
 * as a 401's WWW-Authenticate or a 429's Retry-After.
 */
void pcfw_client_error_to(struct pcfw_client *c, int status, bool head,
                          const char *extra);
/*
 * Queue our FIN to the client (once); true once it is queued.  If the
 * client's FIN came already, the pcb goes back to lwIP at once (c->pcb
 * NULL): never hold a pcb whose both directions are closed.
 */
bool pcfw_client_shutdown_tx(struct pcfw_client *c);
/* Clear @pcb's callbacks and close it (reset if it cannot): lwIP owns it. */
void pcfw_tcp_release(struct tcp_pcb *pcb);
/* Send what is queued, then FIN; free once the client is done. */
void pcfw_client_close(struct pcfw_client *c);
/* Reset the connection and free the client now. */
void pcfw_client_abort(struct pcfw_client *c);
/*
 * May @c's server send it more (its window open)?  Only while c->out is
 * within the per-client budget (`buffer`) and card memory is below the
 * window watermark (`mem-window`); otherwise the bytes are held and the
 * window opens from the drained callback or the client's tick.
 */
bool pcfw_client_may_take(const struct pcfw_client *c);
/* Bytes for the client not yet acknowledged by it (queued or in flight)? */
bool pcfw_client_output_pending(const struct pcfw_client *c);
/* Was the client freed (during this entry point)? */
bool pcfw_client_gone(const struct pcfw_client *c);
/* Free the structs of clients freed during this entry point. */
void pcfw_client_reap(void);

/* ---- http_proxy.c, pass_proxy.c ---- */
extern struct pcfw_proxy pcfw_http_proxy;
extern struct pcfw_proxy pcfw_pass_proxy;

/* Proxy statistics, copied out by pcfw_get_stats(). */
extern struct pcfw_proxy_stats pcfw_pstats;

#endif /* PCFW_PROXY_H */
