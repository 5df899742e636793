/*
 * proxycard firmware: client processes (the patent's FIG. 7 and 11).
 *
 * A client connection's bytes go into its input queue as they arrive and
 * leave its output queue as fast as the client's TCP window allows.  The
 * proxy owning the client decides everything else through its ops.
 *
 * Life cycle and ownership:
 *   - the client struct lives from accept until its pcb is closed or freed;
 *   - pcfw_client_close(): queued bytes go out, then FIN (tcp_shutdown of
 *     the sending side); input is then read and discarded (a lingering
 *     close, so that a client still sending does not turn our FIN into a
 *     reset that destroys the response) until the client's FIN, or
 *     PCFW_LINGER_MS after the client acknowledged everything (FIN
 *     included), then the pcb is closed and the struct freed; while bytes
 *     are unacknowledged, `timeout send` applies instead (a slow reader is
 *     never cut off while it still reads);
 *   - pcfw_client_abort(): RST and free at once;
 *   - the pcb's err callback means lwIP freed it: free the struct.
 * Callbacks are cleared before any close or abort, so lwIP never calls us
 * with a freed struct; a callback whose own pcb was aborted returns
 * ERR_ABRT (cbguard.h).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdio.h>
#include <string.h>
#include "cbguard.h"
#include "fw_internal.h"
#include "http_parse.h"
#include "proxy.h"
#include "security.h"
#include "shed.h"
#include "tcpio.h"

#define PCFW_LINGER_MS      5000
#define PCFW_POLL_INTERVAL  2       /* tcp_poll units of 500 ms */
/*
 * Longest a client's data waits for its ACK (docs/firmware.md, "ACK
 * timing"): Linux's own delayed-ACK minimum, well under the 200 ms minimum
 * RTO of a Linux client, where lwIP's fast timer alone took up to 250 ms.
 */
#define PCFW_DELACK_MS      40

/* Freed clients, kept until the entry point returns (pcfw_client_reap). */
static struct pcfw_list zombies = { &zombies, &zombies };

/*
 * Clients whose last data lwIP has not acknowledged yet, in the order it
 * came: all wait the same PCFW_DELACK_MS, so the list is sorted by
 * ack_due_ms and only its head is ever due first.
 */
static struct pcfw_list delack = { &delack, &delack };

/*
 * Drop the client: off every queue, its memory back to the arena, except
 * the struct itself, which stays (marked dead) until pcfw_client_reap() at
 * the end of the firmware entry point.  So code that called into the proxy
 * may still test pcfw_client_gone(c) afterwards, whatever happened inside.
 */
static void client_free(struct pcfw_client *c)
{
    if (c->dead) {
        return;
    }
    c->dead = true;
    c->proxy->ops->detach(c);
    pcfw_list_remove(&c->link);
    pcfw_list_remove(&c->all);
    pcfw_list_remove(&c->delack);
    pcfw_bq_clear(&c->in);
    pcfw_bq_clear(&c->out);
    pcfw_pstats.clients_active--;
    if (c->sec_counted) {
        pcfw_sec_closed(c->addr.addr, c->local_port);
        c->sec_counted = false;
    }
    if (c->proxy == &pcfw_pass_proxy) {
        pcfw.pass_active--;
    }
    pcfw_list_push_tail(&zombies, &c->all);
}

void pcfw_client_reap(void)
{
    struct pcfw_list *e;

    while ((e = pcfw_list_pop_head(&zombies))) {
        pcfw_arena_free(pcfw.arena, pcfw_container_of(e, struct pcfw_client, all));
    }
}

void pcfw_client_abort(struct pcfw_client *c)
{
    if (c->dead) {
        return;
    }
    if (c->pcb) {
        pcfw_tcp_abort(c->pcb);
        c->pcb = NULL;
    }
    client_free(c);
}

void pcfw_tcp_release(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
    tcp_poll(pcb, NULL, 0);
    if (tcp_close(pcb) != ERR_OK) {
        pcfw_tcp_abort(pcb);        /* no memory for the FIN: reset, not leak */
    }
}

/* Close the pcb for good (both directions) and free the client. */
static void client_finish(struct pcfw_client *c)
{
    pcfw_tcp_release(c->pcb);
    c->pcb = NULL;
    client_free(c);
}

/*
 * Both directions of the client's connection are closed (its FIN came and
 * ours is queued): give the pcb to lwIP now.  From here it may sit in
 * TIME_WAIT, which lwIP frees silently (after 2 MSL, or at once when a pcb
 * allocation fails), and LAST_ACK ends with ERR_CLSD unless the receive
 * side is closed: a pointer kept past this point is a use-after-free.  The
 * struct stays as long as the proxy still has work for it (a pass-through
 * client's last bytes for the server); pcfw_client_close() then frees it.
 */
static void client_release_if_done(struct pcfw_client *c)
{
    if (!c->dead && c->pcb && c->peer_fin && c->shut_tx) {
        pcfw_tcp_release(c->pcb);
        c->pcb = NULL;
    }
}

bool pcfw_client_shutdown_tx(struct pcfw_client *c)
{
    if (c->shut_tx || !c->pcb || tcp_shutdown(c->pcb, 0, 1) != ERR_OK) {
        return c->shut_tx;
    }
    c->shut_tx = true;
    c->last_active_ms = pcfw_now();
    client_release_if_done(c);
    return true;
}

/*
 * Open the window by what the client is owed, unless card memory is above
 * the window watermark (@force: a closing client, whose bytes are dropped
 * as they come, is never held).
 */
static void client_open_window(struct pcfw_client *c, bool force)
{
    uint32_t n = c->win_owed;

    if (!n || !c->pcb || (!force && pcfw_mem_above(PCFW_WM_WINDOW))) {
        return;
    }
    c->win_owed = 0;
    pcfw_tcp_recved(c->pcb, n);
}

void pcfw_client_ack(struct pcfw_client *c, uint32_t n)
{
    if (n > c->in_held) {
        n = c->in_held;
    }
    c->in_held -= n;
    c->win_owed += n;
    client_open_window(c, c->state == PCFW_CL_CLOSING);
}

void pcfw_client_flush(struct pcfw_client *c)
{
    bool wrote = false;

    while (c->pcb && pcfw_bq_len(&c->out)) {
        size_t len;
        const void *p = pcfw_bq_front(&c->out, &len);

        len = pcfw_tcp_send(c->pcb, p, len, len < pcfw_bq_len(&c->out));
        if (len == 0) {
            break;              /* the rest waits for sent/poll */
        }
        pcfw_bq_consume(&c->out, len);
        pcfw_pstats.bytes_to_clients += len;
        wrote = true;
    }
    if (wrote) {
        tcp_output(c->pcb);
    }
    if (c->state != PCFW_CL_CLOSING) {
        return;
    }
    if (!c->pcb) {
        client_free(c);                 /* already given back to lwIP */
    } else if (!pcfw_bq_len(&c->out)) {
        if (c->peer_fin) {
            client_finish(c);           /* both sides are done */
        } else {
            pcfw_client_shutdown_tx(c);
        }
    }
}

void pcfw_client_close(struct pcfw_client *c)
{
    c->state = PCFW_CL_CLOSING;
    pcfw_list_remove(&c->link);
    /* Whatever the client sends from now on is read and dropped. */
    pcfw_client_ack(c, c->in_held);
    pcfw_bq_clear(&c->in);
    pcfw_client_flush(c);
}

void pcfw_client_error(struct pcfw_client *c, int status)
{
    pcfw_client_error_to(c, status, false, NULL);
}

void pcfw_client_error_to(struct pcfw_client *c, int status, bool head,
                          const char *extra)
{
    char buf[384];
    const char *reason = pcfw_http_reason(status);
    int body, n;

    body = (int)strlen(reason) + 1;
    /*
     * An answer to HEAD has the same head and no body (RFC 9110 §9.3.2);
     * a 405 says what is allowed (§15.5.6).
     */
    n = snprintf(buf, sizeof(buf),
                 "HTTP/1.1 %d %s\r\n"
                 "Server: proxycard\r\n"
                 "%s%s"
                 "Content-Type: text/plain\r\n"
                 "Content-Length: %d\r\n"
                 "Connection: close\r\n"
                 "\r\n"
                 "%s%s", status, reason,
                 status == 405 ? "Allow: " PCFW_HTTP_ALLOW "\r\n" : "",
                 extra ? extra : "",
                 body, head ? "" : reason, head ? "" : "\n");
    pcfw_pstats.errors++;
    pcfw_pstats.responses[status / 100 <= 5 ? status / 100 : 0]++;
    /*
     * Straight into TCP's send buffer when nothing is queued before it:
     * lwIP's segments may use the card-memory reserve, so the answer goes
     * out even when the data buffers are exhausted (the 503's own cause).
     */
    if (n > 0 && c->pcb && !pcfw_bq_len(&c->out) && tcp_sndbuf(c->pcb) >= n &&
        tcp_write(c->pcb, buf, (u16_t)n, TCP_WRITE_FLAG_COPY) == ERR_OK) {
        pcfw_pstats.bytes_to_clients += (uint64_t)n;
        tcp_output(c->pcb);
        n = 0;
    }
    if (n > 0 && pcfw_bq_append(&c->out, buf, (size_t)n) != (size_t)n) {
        pcfw_client_abort(c);   /* no card memory even for the answer */
        return;
    }
    pcfw_client_close(c);
}

bool pcfw_client_gone(const struct pcfw_client *c)
{
    return c->dead;
}

/* ---- ACK timing ---- */

/*
 * After the proxy took the client's data (from client_recv, so lwIP's
 * tcp_input() sends whatever is flagged here once we return): lwIP has
 * left the ACK for its fast timer (TF_ACK_DELAY, up to TCP_TMR_INTERVAL,
 * 250 ms) unless this was the second unacknowledged full segment, or
 * something we sent carried it already.
 *
 * - A short segment while the request is still incomplete: the client
 *   has nothing more in flight (a slow client writing its request in
 *   pieces) and the card sends nothing until it does, so waiting gains
 *   nothing and only risks the client's retransmission: ACK at once.
 * - Anything else (full segments of an upload, a complete request the
 *   server is about to answer): the ACK may still ride on the next full
 *   segment or on the response, so it waits, but PCFW_DELACK_MS at most.
 *   An upload so keeps lwIP's ACK for every second full segment.
 */
static void client_ack_timing(struct pcfw_client *c, size_t len)
{
    struct tcp_pcb *pcb = c->pcb;

    if (c->dead || !pcb || (pcb->flags & (TF_ACK_DELAY | TF_ACK_NOW)) !=
                           TF_ACK_DELAY) {
        return;
    }
    if (c->state == PCFW_CL_READING && len < tcp_mss(pcb)) {
        tcp_set_flags(pcb, TF_ACK_NOW);
        return;
    }
    /* A client already on the list keeps the older data's deadline. */
    if (!pcfw_list_linked(&c->delack)) {
        c->ack_due_ms = pcfw_now() + PCFW_DELACK_MS;
        pcfw_list_push_tail(&delack, &c->delack);
    }
}

uint32_t pcfw_client_delack_run(void)
{
    uint32_t now = pcfw_now();
    struct pcfw_list *e;

    while ((e = delack.next) != &delack) {
        struct pcfw_client *c = pcfw_container_of(e, struct pcfw_client, delack);
        int32_t left = (int32_t)(c->ack_due_ms - now);

        if (left > 0) {
            return (uint32_t)left;
        }
        pcfw_list_remove(e);
        /* Not sent since (no data went out to carry it): send it now. */
        if (c->pcb && (c->pcb->flags & TF_ACK_DELAY)) {
            tcp_set_flags(c->pcb, TF_ACK_NOW);
            tcp_output(c->pcb);     /* no memory: lwIP's fast timer retries */
        }
    }
    return UINT32_MAX;
}

/* ---- lwIP callbacks ---- */

static err_t client_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p,
                         err_t err)
{
    struct pcfw_client *c = arg;
    struct pcfw_cb cb;

    if (!c) {
        /* Not ours any more: drop it (lwIP answers further data with RST). */
        if (p) {
            tcp_recved(pcb, p->tot_len);
            pbuf_free(p);
        }
        return ERR_OK;
    }
    pcfw_cb_enter(&cb, pcb);

    if (!p) {
        c->peer_fin = true;
        if (c->state == PCFW_CL_CLOSING) {
            if (c->shut_tx || !pcfw_bq_len(&c->out)) {
                client_finish(c);
            }
        } else {
            c->proxy->ops->input(c, true);
            client_release_if_done(c);
        }
    } else if (c->state == PCFW_CL_CLOSING || err != ERR_OK) {
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
    } else {
        size_t total = p->tot_len, took = 0;

        for (struct pbuf *q = p; q; q = q->next) {
            size_t n = pcfw_bq_append(&c->in, q->payload, q->len);

            took += n;
            if (n < q->len) {
                break;
            }
        }
        pbuf_free(p);
        /* All of it, dropped bytes too: the close acknowledges them. */
        c->in_held += (uint32_t)total;
        c->last_active_ms = pcfw_now();
        pcfw_pstats.bytes_from_clients += took;
        if (took < total && c->state == PCFW_CL_READING) {
            /* Card memory is exhausted: this client cannot be served. */
            pcfw_client_error(c, 503);
        } else if (took < total) {
            /*
             * A stream (pass-through) or a request already forwarded: an
             * HTTP answer would corrupt the bytes the client gets, so the
             * client is reset (client_free() detaches it from its server
             * connection).
             */
            pcfw_client_abort(c);
        } else {
            c->proxy->ops->input(c, false);
            client_ack_timing(c, total);
        }
    }

    return pcfw_cb_leave(&cb);
}

bool pcfw_client_may_take(const struct pcfw_client *c)
{
    return pcfw_bq_len(&c->out) <= pcfw.cfg.conn_buffer &&
           !pcfw_mem_above(PCFW_WM_WINDOW);
}

bool pcfw_client_output_pending(const struct pcfw_client *c)
{
    return pcfw_bq_len(&c->out) ||
           (c->pcb && (c->pcb->unsent || c->pcb->unacked));
}

static err_t client_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct pcfw_client *c = arg;
    struct pcfw_cb cb;

    if (!c) {
        return ERR_OK;
    }
    pcfw_cb_enter(&cb, pcb);
    c->last_active_ms = c->sent_ms = pcfw_now();
    pcfw_shed_acked(c, len);
    pcfw_client_flush(c);
    if (!pcfw_client_output_pending(c)) {
        pcfw_shed_caught_up(c);
    }
    if (!cb.aborted && !c->dead && c->state != PCFW_CL_CLOSING) {
        c->proxy->ops->drained(c);
    }
    return pcfw_cb_leave(&cb);
}

static err_t client_poll(void *arg, struct tcp_pcb *pcb)
{
    struct pcfw_client *c = arg;
    struct pcfw_cb cb;
    uint32_t now = pcfw_now();

    if (!c) {
        return ERR_OK;
    }
    pcfw_cb_enter(&cb, pcb);
    if (!pcfw_client_output_pending(c)) {
        c->sent_ms = now;       /* the send timeout runs only while pending */
        pcfw_shed_caught_up(c);
    }
    if (c->state == PCFW_CL_CLOSING) {
        if (pcfw_client_output_pending(c)
            ? now - c->sent_ms >= pcfw.cfg.send_timeout_ms
            : now - c->last_active_ms >= PCFW_LINGER_MS) {
            pcfw_client_abort(c);           /* the client never finished */
        } else {
            pcfw_client_flush(c);
        }
    } else {
        client_open_window(c, false);   /* held by the watermark */
        pcfw_client_flush(c);
        if (!cb.aborted && !c->dead) {
            c->proxy->ops->tick(c, now);
        }
    }
    return pcfw_cb_leave(&cb);
}

static void client_err(void *arg, err_t err)
{
    struct pcfw_client *c = arg;

    /* lwIP has freed the pcb already: never touch it. */
    if (c) {
        pcfw_cb_pcb_gone(c->pcb);
        c->pcb = NULL;
        client_free(c);
    }
}

void pcfw_client_setup(struct pcfw_client *c, struct tcp_pcb *pcb)
{
    c->pcb = pcb;
    c->state = PCFW_CL_READING;
    c->last_active_ms = c->sent_ms = pcfw_now();
    pcfw_shed_caught_up(c);
    pcfw_list_init(&c->link);
    pcfw_list_init(&c->delack);
    pcfw_bq_init(&c->in, pcfw.arena, 4096);
    pcfw_bq_init(&c->out, pcfw.arena, 16384);
    tcp_arg(pcb, c);
    tcp_recv(pcb, client_recv);
    tcp_sent(pcb, client_sent);
    tcp_err(pcb, client_err);
    tcp_poll(pcb, client_poll, PCFW_POLL_INTERVAL);
    tcp_nagle_disable(pcb);
}
