/*
 * proxycard firmware: the HTTP proxy (the patent's FIG. 8-10); its pool of
 * persistent server connections is pool.c.
 *
 * A client's request accumulates in its input queue until it is complete
 * (head and whole body: nothing reaches the server before that).  The card
 * decides its framing and writes it: the head goes upstream rebuilt, with
 * Content-Length of the body it sends (a chunked body de-chunked); the
 * client's framing bytes never reach the server.  The client
 * then waits on its pool's ready queue (FIG. 8) for an idle pooled server
 * connection, the request is written to it (FIG. 9) and the client moves to
 * the read-pending queue.  The response is buffered into the client's output
 * queue (FIG. 10) up to the per-client budget (`buffer`); the moment its last
 * byte has arrived the server connection returns to the pool, however slowly
 * the client reads.  A response larger than the budget streams: the server's
 * TCP window is held closed while the client's output queue is over budget.
 *
 * A pooled connection returns to the pool only at the exact end of a
 * response that allows it: framing by Content-Length or chunked (or no
 * body), no extra bytes, keep-alive, and no FIN from the server.
 *
 * Failures: a server connection that fails before any response byte
 * arrived is retried, if the request is idempotent, on a fresh connection
 * (one that carried no exchange before: the request stays buffered until the
 * first response byte).  As in nginx, a failure on a reused connection
 * counts as no try, since the server may just have closed it as idle; a
 * request gets two tries on fresh connections, then 502.  A request that
 * is not idempotent gets 502 at its first failure.  After response bytes
 * went to the client, a failure can only be shown by resetting the client
 * connection.  Connects refused while no pooled connection is up answer the
 * waiting requests 502 at once.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdio.h>
#include <string.h>
#include "lwip/timeouts.h"
#include "cbguard.h"
#include "fw_internal.h"
#include "pool.h"
#include "security.h"
#include "tcpio.h"

enum { RQ_HEAD, RQ_BODY_LENGTH, RQ_BODY_CHUNKED, RQ_DONE };
enum { RS_HEAD, RS_LENGTH, RS_CHUNKED, RS_CLOSE, RS_DONE };

/* Tries on fresh connections an idempotent request gets. */
#define FRESH_TRIES         2
/* What the card adds to Via (RFC 9110 §7.6.3: protocol and a pseudonym). */
#define PCFW_VIA            "1.1 proxycard"
/* "Content-Length: " 20 digits CRLF, then the final CRLF. */
#define FRAMING_ROOM        48

static const struct pcfw_proxy_ops http_ops;
struct pcfw_proxy pcfw_http_proxy = { .name = "http", .ops = &http_ops };

static void http_run(struct pcfw_pool *pool);
static void http_parse_more(struct pcfw_client *c);
static void http_response_done(struct pcfw_client *c);
static void http_server_failed(struct pcfw_client *c);

/* The pool @c's requests go to; NULL once no listener uses its port. */
static struct pcfw_pool *pool_of(const struct pcfw_client *c)
{
    return pcfw_pool_find(c->server_port);
}

/* ---- head building ---- */

struct hbuf {
    uint8_t *p;
    size_t len, cap;
};

static void hb_put(struct hbuf *b, const void *data, size_t n)
{
    if (b->len + n <= b->cap) {
        memcpy(b->p + b->len, data, n);
    }
    b->len += n;    /* overflow shows as len > cap */
}

static void hb_str(struct hbuf *b, const char *s)
{
    hb_put(b, s, strlen(s));
}

static void hb_ip(struct hbuf *b, const ip4_addr_t *a)
{
    char s[16];

    hb_str(b, ip4addr_ntoa_r(a, s, sizeof(s)) ? s : "0.0.0.0");
}

static uint8_t ascii_lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool ci_equal(const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen)
{
    if (alen != blen) {
        return false;
    }
    for (size_t i = 0; i < alen; i++) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

/* Is @f's name one of the tokens of the Connection field @conn? */
static bool named_in(const uint8_t *head, const struct pcfw_http_field *conn,
                     const struct pcfw_http_field *f)
{
    const uint8_t *v = head + conn->value_off, *end = v + conn->value_len;

    while (v < end) {
        const uint8_t *t, *te;

        while (v < end && (*v == ',' || *v == ' ' || *v == '\t')) {
            v++;
        }
        t = v;
        while (v < end && *v != ',') {
            v++;
        }
        te = v;
        while (te > t && (te[-1] == ' ' || te[-1] == '\t')) {
            te--;
        }
        if (ci_equal(t, (size_t)(te - t), head + f->name_off, f->name_len)) {
            return true;
        }
    }
    return false;
}

/*
 * Fields that concern only one connection and are not forwarded: the
 * standard hop-by-hop ones, and any that a Connection field names
 * (RFC 9110 section 7.6.1).
 */
static bool hop_by_hop(const uint8_t *head, const struct pcfw_http_field *fields,
                       unsigned nfields, const struct pcfw_http_field *f)
{
    static const char *const names[] = {
        "connection", "keep-alive", "proxy-connection", "te", "upgrade",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (pcfw_http_field_is(head, f, names[i])) {
            return true;
        }
    }
    for (unsigned i = 0; i < nfields; i++) {
        if (pcfw_http_field_is(head, &fields[i], "connection") &&
            named_in(head, &fields[i], f)) {
            return true;
        }
    }
    return false;
}

/* The value of a Max-Forwards field (1*DIGIT), or -1 if it is not one. */
static long max_forwards(const uint8_t *raw, const struct pcfw_http_field *f)
{
    long v = 0;

    if (f->value_len == 0 || f->value_len > 9) {
        return -1;
    }
    for (unsigned i = 0; i < f->value_len; i++) {
        uint8_t d = raw[f->value_off + i];

        if (d < '0' || d > '9') {
            return -1;
        }
        v = v * 10 + (d - '0');
    }
    return v;
}

/*
 * The head sent to the server: the request line as HTTP/1.1 (the pool's
 * connections persist whatever the client speaks) with an absolute-form
 * target made origin-form and its authority as the only Host, the client's fields
 * without hop-by-hop ones and Expect (the card answered it), Host added for
 * HTTP/1.0 clients that sent none, the client's address appended to the
 * last X-Forwarded-For and Forwarded lines, and the card to Via.
 */
static uint8_t *build_request_head(struct pcfw_client *c, const uint8_t *raw,
                                   const struct pcfw_http_request *req,
                                   size_t *out_len, size_t *out_cap)
{
    struct hbuf b = { .cap = req->target_off + req->target_len + 512 };
    bool absolute = req->target_form == PCFW_HTTP_TARGET_ABSOLUTE;
    bool xff = false, fwd = false;
    /*
     * The client's address goes on the last X-Forwarded-For / Forwarded
     * line: a server's real-IP logic trusts the rightmost value, which
     * must be the one the card wrote, not one the client chose.
     */
    int last_xff = -1, last_fwd = -1, last_via = -1;
    bool screen = pcfw_sec_screens(c->local_port);

    for (unsigned i = 0; i < req->nfields; i++) {
        if (screen && pcfw_sec_rerouting_field(raw, &req->fields[i])) {
            continue;               /* dropped below */
        }
        if (pcfw_http_field_is(raw, &req->fields[i], "x-forwarded-for")) {
            last_xff = (int)i;
        } else if (pcfw_http_field_is(raw, &req->fields[i], "forwarded")) {
            last_fwd = (int)i;
        } else if (pcfw_http_field_is(raw, &req->fields[i], "via")) {
            last_via = (int)i;
        }
    }

    for (unsigned i = 0; i < req->nfields; i++) {
        b.cap += req->fields[i].name_len + req->fields[i].value_len + 4;
    }
    b.p = pcfw_arena_alloc(pcfw.arena, b.cap);
    if (!b.p) {
        return NULL;
    }
    hb_put(&b, raw + req->method_off, req->method_len);
    hb_str(&b, " ");
    if (absolute) {
        /* RFC 9112 §3.2.2: origin-form upstream, Host from the target. */
        if (req->path_len == 0 || raw[req->path_off] == '?') {
            hb_str(&b, "/");
        }
        hb_put(&b, raw + req->path_off, req->path_len);
    } else {
        hb_put(&b, raw + req->target_off, req->target_len);
    }
    hb_str(&b, " HTTP/1.1\r\n");
    if (absolute) {
        hb_str(&b, "Host: ");
        hb_put(&b, raw + req->authority_off, req->authority_len);
        hb_str(&b, "\r\n");
    }
    for (unsigned i = 0; i < req->nfields; i++) {
        const struct pcfw_http_field *f = &req->fields[i];
        bool is_xff = (int)i == last_xff, is_fwd = (int)i == last_fwd;

        /*
         * The framing fields are the card's to write (finish_request_head):
         * the client's bytes for them never reach the server.  Trailer goes
         * with them, since a de-chunked body has no trailers.
         */
        if (hop_by_hop(raw, req->fields, req->nfields, f) ||
            pcfw_http_field_is(raw, f, "expect") ||
            pcfw_http_field_is(raw, f, "content-length") ||
            pcfw_http_field_is(raw, f, "transfer-encoding") ||
            pcfw_http_field_is(raw, f, "trailer") ||
            (absolute && pcfw_http_field_is(raw, f, "host")) ||
            (screen && pcfw_sec_rerouting_field(raw, f))) {
            continue;
        }
        hb_put(&b, raw + f->name_off, f->name_len);
        hb_str(&b, ": ");
        if (req->method == PCFW_HTTP_M_OPTIONS &&
            pcfw_http_field_is(raw, f, "max-forwards") &&
            max_forwards(raw, f) > 0) {
            char n[24];

            /* One hop fewer (RFC 9110 §7.6.2); 0 never gets here. */
            snprintf(n, sizeof(n), "%ld", max_forwards(raw, f) - 1);
            hb_str(&b, n);
        } else {
            hb_put(&b, raw + f->value_off, f->value_len);
        }
        if (pcfw.cfg.forwarded && is_xff) {
            hb_str(&b, ", ");
            hb_ip(&b, &c->addr);
            xff = true;
        } else if (pcfw.cfg.forwarded && is_fwd) {
            hb_str(&b, ", for=");
            hb_ip(&b, &c->addr);
            fwd = true;
        } else if ((int)i == last_via) {
            hb_str(&b, ", " PCFW_VIA);
        }
        hb_str(&b, "\r\n");
    }
    if (!req->has_host && !absolute) {
        ip4_addr_t srv;

        ip4_addr_set_u32(&srv, pcfw.cfg.server_ip);
        hb_str(&b, "Host: ");
        hb_ip(&b, &srv);
        hb_str(&b, "\r\n");
    }
    if (pcfw.cfg.forwarded && !xff) {
        hb_str(&b, "X-Forwarded-For: ");
        hb_ip(&b, &c->addr);
        hb_str(&b, "\r\n");
    }
    if (pcfw.cfg.forwarded && !fwd) {
        hb_str(&b, "Forwarded: for=");
        hb_ip(&b, &c->addr);
        hb_str(&b, "\r\n");
    }
    if (last_via < 0) {
        hb_str(&b, "Via: " PCFW_VIA "\r\n");  /* RFC 9110 §7.6.3 */
    }
    /* Room for finish_request_head()'s framing field and the empty line. */
    if (b.len + FRAMING_ROOM > b.cap) {
        pcfw_arena_free(pcfw.arena, b.p);   /* cannot happen: cap is an upper bound */
        return NULL;
    }
    *out_len = b.len;
    *out_cap = b.cap;
    return b.p;
}

/*
 * End the head with the framing the card decided: Content-Length of the
 * body as it will be sent (a chunked body goes de-chunked), or nothing for
 * a request without a body.  Called once the whole request is in.
 */
static void finish_request_head(struct pcfw_http_client *h, uint64_t body_len)
{
    int n = 0;

    if (h->req_framing != PCFW_HTTP_BODY_NONE) {
        n = snprintf((char *)h->head + h->head_len, h->head_cap - h->head_len,
                     "Content-Length: %llu\r\n", (unsigned long long)body_len);
    }
    memcpy(h->head + h->head_len + n, "\r\n", 2);
    h->head_len += (size_t)n + 2;
}

/* The response head for the client: hop-by-hop fields replaced by ours. */
static bool queue_response_head(struct pcfw_client *c, const uint8_t *raw,
                                const struct pcfw_http_response *resp)
{
    struct pcfw_http_client *h = &c->pd.http;
    struct hbuf b = { .cap = 128 + resp->reason_len };
    char line[32];
    size_t took;

    for (unsigned i = 0; i < resp->nfields; i++) {
        b.cap += resp->fields[i].name_len + resp->fields[i].value_len + 4;
    }
    b.p = pcfw_arena_alloc(pcfw.arena, b.cap);
    if (!b.p) {
        return false;
    }
    snprintf(line, sizeof(line), "HTTP/1.1 %u ", resp->status);
    hb_str(&b, line);
    hb_put(&b, raw + resp->reason_off, resp->reason_len);
    hb_str(&b, "\r\n");
    for (unsigned i = 0; i < resp->nfields; i++) {
        const struct pcfw_http_field *f = &resp->fields[i];

        if (hop_by_hop(raw, resp->fields, resp->nfields, f) ||
            (h->resp_dechunk &&
             (pcfw_http_field_is(raw, f, "transfer-encoding") ||
              pcfw_http_field_is(raw, f, "trailer")))) {
            continue;
        }
        hb_put(&b, raw + f->name_off, f->name_len);
        hb_str(&b, ": ");
        hb_put(&b, raw + f->value_off, f->value_len);
        hb_str(&b, "\r\n");
    }
    hb_str(&b, h->close_after ? "Connection: close\r\n"
                              : "Connection: keep-alive\r\n");
    hb_str(&b, "\r\n");
    took = b.len <= b.cap ? pcfw_bq_append(&c->out, b.p, b.len) : 0;
    pcfw_arena_free(pcfw.arena, b.p);
    return took == b.len;
}

/* ---- requests ---- */

static void http_reset_request(struct pcfw_client *c)
{
    struct pcfw_http_client *h = &c->pd.http;

    pcfw_http_head_scan_init(&h->scan);
    pcfw_http_head_scan_init(&h->rscan);
    pcfw_bq_clear(&h->rhead);
    pcfw_arena_free(pcfw.arena, h->head);
    h->head = NULL;
    pcfw_bq_clear(&h->body);
    h->dechunked = false;
    h->phase = RQ_HEAD;
    h->method = PCFW_HTTP_M_OTHER;  /* unknown until the next head parses */
    h->rphase = RS_HEAD;
    h->parsed = h->raw_head_len = h->req_len = 0;
    h->head_len = h->head_sent = h->body_sent = 0;
    h->resp_started = h->want_fresh = h->resp_dechunk = false;
    h->fresh_fails = 0;
    h->close_after = h->answer_options = false;
}

/*
 * Open the client's window as far as one request may need: its head, its
 * body, and room for chunked framing around the body (which max-body does
 * not count).  Beyond that the client waits, and a request still not
 * complete when its time is up gets 408.
 */
static void http_ack_input(struct pcfw_client *c)
{
    uint64_t limit = (uint64_t)pcfw.cfg.max_header + pcfw.cfg.max_body +
                     pcfw.cfg.max_body / 4 + 65536;

    if (pcfw_bq_len(&c->in) <= limit) {
        pcfw_client_ack(c, c->in_held);
    }
}

static bool idempotent(int method)
{
    return method == PCFW_HTTP_M_GET || method == PCFW_HTTP_M_HEAD ||
           method == PCFW_HTTP_M_PUT || method == PCFW_HTTP_M_DELETE ||
           method == PCFW_HTTP_M_OPTIONS || method == PCFW_HTTP_M_TRACE;
}

static void http_error_ext(struct pcfw_client *c, int status,
                           const char *extra)
{
    pcfw_list_remove(&c->link);
    if (c->srv) {
        struct pcfw_srv *s = c->srv;

        c->srv = NULL;
        pcfw_srv_drop(s, true); /* its late answer must reach nobody */
    }
    pcfw_client_error_to(c, status, c->pd.http.method == PCFW_HTTP_M_HEAD,
                         extra);
}

static void http_error(struct pcfw_client *c, int status)
{
    http_error_ext(c, status, NULL);
}

/* The head is complete in c->in[0, raw_head_len): parse and prepare it. */
static bool http_head_done(struct pcfw_client *c)
{
    struct pcfw_http_client *h = &c->pd.http;
    struct pcfw_http_request req;
    uint8_t *raw = pcfw_arena_alloc(pcfw.arena, h->raw_head_len);
    int err;

    if (!raw) {
        http_error(c, 503);
        return false;
    }
    pcfw_bq_peek(&c->in, 0, raw, h->raw_head_len);
    err = pcfw_http_parse_request(raw, h->raw_head_len, &req);
    if (err == 0) {
        char extra[128];
        int status;

        h->method = req.method;         /* errors to HEAD carry no body */
        /* The security proxy, before anything else looks at the request. */
        status = pcfw_sec_request(c, raw, &req, extra, sizeof(extra));
        if (status) {
            pcfw_arena_free(pcfw.arena, raw);
            http_error_ext(c, status, extra);
            return false;
        }
    }
    if (err == 0 && req.method == PCFW_HTTP_M_CONNECT) {
        err = PCFW_HTTP_E_NOT_IMPLEMENTED;
    }
    if (err == 0 && req.method == PCFW_HTTP_M_TRACE) {
        pcfw_arena_free(pcfw.arena, raw);
        http_error(c, 405);
        return false;
    }
    if (err == 0 && req.method == PCFW_HTTP_M_OPTIONS) {
        int mf = pcfw_http_find_field(raw, req.fields, req.nfields,
                                      "max-forwards");

        h->answer_options = mf >= 0 && max_forwards(raw, &req.fields[mf]) == 0;
    }
    if (err == 0 && req.content_length > (int64_t)pcfw.cfg.max_body) {
        err = PCFW_HTTP_E_BODY_TOO_LARGE;
    }
    if (err) {
        pcfw_arena_free(pcfw.arena, raw);
        http_error(c, pcfw_http_error_status(err));
        return false;
    }
    h->method = req.method;
    h->keep_alive = req.keep_alive;
    h->client_10 = req.version_minor == 0;
    h->req_framing = (uint8_t)req.framing;
    h->head = build_request_head(c, raw, &req, &h->head_len, &h->head_cap);
    pcfw_arena_free(pcfw.arena, raw);
    if (!h->head) {
        http_error(c, 503);
        return false;
    }
    if (req.framing == PCFW_HTTP_BODY_LENGTH && req.content_length > 0) {
        h->phase = RQ_BODY_LENGTH;
        h->body_left = (uint64_t)req.content_length;
    } else if (req.framing == PCFW_HTTP_BODY_CHUNKED) {
        h->phase = RQ_BODY_CHUNKED;
        pcfw_http_chunked_init(&h->chunked);
    } else {
        h->phase = RQ_DONE;
    }
    if (req.expect_continue && h->phase != RQ_DONE &&
        pcfw_bq_len(&c->in) == h->raw_head_len) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

        pcfw_bq_append(&c->out, cont, sizeof(cont) - 1);
        pcfw_client_flush(c);
        if (pcfw_client_gone(c)) {
            return false;
        }
    }
    return true;
}

/* Bytes of the request body as the server gets it. */
static size_t req_body_len(const struct pcfw_client *c)
{
    const struct pcfw_http_client *h = &c->pd.http;

    return h->dechunked ? pcfw_bq_len(&h->body) : h->req_len - h->raw_head_len;
}

/* The body bytes from @off on, as one contiguous segment of *@len bytes. */
static const uint8_t *req_body_segment(struct pcfw_client *c, size_t off,
                                       size_t *len)
{
    struct pcfw_http_client *h = &c->pd.http;
    const uint8_t *p = h->dechunked
        ? pcfw_bq_segment(&h->body, off, len)
        : pcfw_bq_segment(&c->in, h->raw_head_len + off, len);

    if (p && *len > req_body_len(c) - off) {
        *len = req_body_len(c) - off;
    }
    return p;
}

/*
 * A complete chunked request: move its data into h->body without the
 * client's framing (already validated by the parse) and drop its raw bytes
 * from c->in, so the card holds the body once.  False if card memory is
 * short.
 */
static bool dechunk_request(struct pcfw_client *c)
{
    struct pcfw_http_client *h = &c->pd.http;
    struct pcfw_http_chunked dec;
    size_t off = h->raw_head_len;

    pcfw_http_chunked_init(&dec);
    while (off < h->req_len) {
        size_t len, used, data;
        const uint8_t *seg = pcfw_bq_segment(&c->in, off, &len);
        int r;

        if (len > h->req_len - off) {
            len = h->req_len - off;
        }
        r = pcfw_http_chunked_feed_data(&dec, seg, len, &used, &data,
                                        UINT64_MAX);
        if (r < 0 || (data && pcfw_bq_append(&h->body, seg + used - data,
                                              data) != data)) {
            pcfw_bq_clear(&h->body);
            return false;
        }
        off += used;
        if (r == 1) {
            break;
        }
    }
    pcfw_bq_consume(&c->in, h->req_len);
    h->req_len = h->raw_head_len = h->parsed = 0;
    h->dechunked = true;
    return true;
}

/*
 * The current request is answered: close if @close, else on to the next
 * one, which may be pipelined behind it already; a client that half-closed
 * is closed once no complete request is left.
 */
static void http_next_request(struct pcfw_client *c, bool close)
{
    struct pcfw_http_client *h = &c->pd.http;

    pcfw_list_remove(&c->link);
    pcfw_bq_consume(&c->in, h->req_len);
    http_reset_request(c);
    if (close) {
        pcfw_client_close(c);
        return;
    }
    c->state = PCFW_CL_READING;
    pcfw_list_push_tail(&pcfw_http_proxy.clients, &c->link);
    http_ack_input(c);
    http_parse_more(c);
    if (!pcfw_client_gone(c) && c->state == PCFW_CL_READING && c->peer_fin) {
        pcfw_client_close(c);
    }
}

/*
 * OPTIONS with Max-Forwards: 0 is for the card itself (RFC 9110 §7.6.2):
 * answered here, and the connection goes on.
 */
static void http_answer_options(struct pcfw_client *c)
{
    struct pcfw_http_client *h = &c->pd.http;
    char buf[160];
    int n = snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\n"
                     "Server: proxycard\r\nAllow: " PCFW_HTTP_ALLOW "\r\n"
                     "Content-Length: 0\r\n%s\r\n",
                     h->keep_alive ? "" : "Connection: close\r\n");

    if (pcfw_bq_append(&c->out, buf, (size_t)n) != (size_t)n) {
        http_error(c, 503);
        return;
    }
    pcfw_pstats.responses[2]++;
    pcfw_client_flush(c);               /* a READING client is not freed here */
    http_next_request(c, !h->keep_alive);
}

/* Examine what arrived for the current request (FIG. 7, steps 710-714). */
static void http_parse_more(struct pcfw_client *c)
{
    struct pcfw_http_client *h = &c->pd.http;

    while (c->state == PCFW_CL_READING && h->phase != RQ_DONE) {
        size_t len;
        const uint8_t *seg = pcfw_bq_segment(&c->in, h->parsed, &len);

        if (!seg) {
            return;                     /* wait for more */
        }
        if (h->parsed == 0) {
            h->req_start_ms = pcfw_now();
        }
        if (h->phase == RQ_HEAD) {
            long r = pcfw_http_head_scan_feed(&h->scan, seg, len,
                                              pcfw.cfg.max_header);

            if (r < 0) {
                http_error(c, pcfw_http_error_status((int)r));
                return;
            }
            h->parsed += r ? (size_t)r : len;
            if (r > 0) {
                h->raw_head_len = h->scan.total;
                if (!http_head_done(c)) {
                    return;
                }
            }
        } else if (h->phase == RQ_BODY_LENGTH) {
            size_t take = len < h->body_left ? len : (size_t)h->body_left;

            h->parsed += take;
            h->body_left -= take;
            if (h->body_left == 0) {
                h->phase = RQ_DONE;
            }
        } else {
            size_t used = 0;
            int r = pcfw_http_chunked_feed(&h->chunked, seg, len, &used,
                                           pcfw.cfg.max_body);

            if (r < 0) {
                http_error(c, pcfw_http_error_status(r));
                return;
            }
            h->parsed += used;
            if (r == 1) {
                h->phase = RQ_DONE;
            }
        }
    }
    if (c->state == PCFW_CL_READING && h->phase == RQ_DONE) {
        struct pcfw_pool *pool = pool_of(c);

        /* A complete request: to the ready queue (FIG. 7 step 714, FIG. 8). */
        h->req_len = h->parsed;
        if (h->req_framing == PCFW_HTTP_BODY_CHUNKED && !dechunk_request(c)) {
            http_error(c, 503);
            return;
        }
        finish_request_head(h, req_body_len(c));
        h->wait_start_ms = h->ready_ms = pcfw_now();
        pcfw_pstats.requests++;
        if (h->answer_options) {
            http_answer_options(c);
            return;
        }
        if (!pool) {
            http_error(c, 502);         /* its listener was removed */
            return;
        }
        c->state = PCFW_CL_READY;
        pcfw_list_remove(&c->link);
        pcfw_list_push_tail(&pcfw_http_proxy.ready, &c->link);
        pcfw_pool_want(pool, false);
        http_run(pool);
    }
}

/* Write as much of the request as the server connection takes (FIG. 9). */
static void srv_send_request(struct pcfw_client *c)
{
    struct pcfw_http_client *h = &c->pd.http;
    struct tcp_pcb *pcb = c->srv ? c->srv->pcb : NULL;
    size_t body_len = req_body_len(c);
    bool wrote = false;

    while (pcb && (h->head_sent < h->head_len || h->body_sent < body_len)) {
        const uint8_t *p;
        size_t len;

        if (h->head_sent < h->head_len) {
            p = h->head + h->head_sent;
            len = h->head_len - h->head_sent;
        } else {
            p = req_body_segment(c, h->body_sent, &len);
        }
        /* PSH on the request's last byte: MORE only while more follows. */
        len = pcfw_tcp_send(pcb, p, len, h->head_len - h->head_sent +
                            body_len - h->body_sent > len);
        if (len == 0) {
            break;
        }
        if (h->head_sent < h->head_len) {
            h->head_sent += len;
        } else {
            h->body_sent += len;
        }
        pcfw_pstats.bytes_to_server += len;
        wrote = true;
    }
    if (wrote) {
        tcp_output(pcb);
    }
}

/* Give ready client @c an idle connection of @pool if one suits it. */
static void http_pair(struct pcfw_pool *pool, struct pcfw_client *c)
{
    struct pcfw_srv *s;

    if (pool_of(c) != pool) {
        return;
    }
    s = pcfw_pool_take(pool, c, c->pd.http.want_fresh);
    if (!s) {
        /* A retry with only used ones idle: have a fresh one made. */
        pcfw_pool_want(pool, c->pd.http.want_fresh);
        return;
    }
    c->srv = s;
    c->pd.http.on_fresh = s->uses == 1;
    c->state = PCFW_CL_PENDING;
    c->pd.http.wait_start_ms = pcfw_now();
    pcfw_list_remove(&c->link);
    pcfw_list_push_tail(&pcfw_http_proxy.pending, &c->link);
    srv_send_request(c);
}

/*
 * The oldest request of @pool's in the ready queue: retries go to the head,
 * so the head is not always the oldest (a few retries, never many).
 */
static uint32_t http_oldest_ready_ms(struct pcfw_pool *pool, uint32_t now)
{
    struct pcfw_list *pos, *tmp;
    uint32_t oldest = 0;

    pcfw_list_for_each_safe(pos, tmp, &pcfw_http_proxy.ready) {
        struct pcfw_client *c = pcfw_container_of(pos, struct pcfw_client, link);

        if (pool_of(c) == pool) {
            uint32_t waited = now - c->pd.http.ready_ms;

            oldest = waited > oldest ? waited : oldest;
            if (c->pd.http.want_fresh) {
                continue;               /* a retry: look further */
            }
            break;                      /* requests behind it are younger */
        }
    }
    return oldest;
}

/*
 * Pair ready clients with idle connections (FIG. 8 steps 802-810, FIG. 9):
 * oldest first, unless @pool's oldest has waited PCFW_READY_LIFO_MS since
 * its request was complete.  Then the queue is standing (more requests
 * come than the pool serves: a slow server, or slow readers holding the
 * pool), and the newest go first
 * (adaptive LIFO): a client that just asked is still there to read its
 * answer, while the oldest waiters may have given up long ago, and a
 * backlog of thousands (slowhttptest's) no longer keeps a new client waiting
 * behind all of it.  The oldest still get their 504 at `timeout server`.
 */
static void http_run(struct pcfw_pool *pool)
{
    struct pcfw_list *ready = &pcfw_http_proxy.ready, *pos, *tmp;
    bool lifo;

    if (pcfw_list_empty(ready) || pcfw_list_empty(&pool->idle)) {
        return;
    }
    lifo = http_oldest_ready_ms(pool, pcfw_now()) >= PCFW_READY_LIFO_MS;
    /* http_pair() may unlink only @pos: step from what was next to it. */
    for (pos = lifo ? ready->prev : ready->next;
         pos != ready && !pcfw_list_empty(&pool->idle); pos = tmp) {
        tmp = lifo ? pos->prev : pos->next;
        http_pair(pool, pcfw_container_of(pos, struct pcfw_client, link));
    }
}

/* ---- responses ---- */

/* The complete response head is in h->rhead: parse it, queue ours. */
static bool http_response_head(struct pcfw_client *c, struct pcfw_srv *s)
{
    struct pcfw_http_client *h = &c->pd.http;
    struct pcfw_http_response resp;
    size_t len = pcfw_bq_len(&h->rhead);
    uint8_t *raw = pcfw_arena_alloc(pcfw.arena, len);
    int err;

    if (!raw) {
        return false;
    }
    pcfw_bq_peek(&h->rhead, 0, raw, len);
    pcfw_bq_clear(&h->rhead);
    err = pcfw_http_parse_response(raw, len, h->method, &resp);
    if (err == 0 && resp.tunnel) {
        err = PCFW_HTTP_E_BAD;  /* we never ask for an upgrade or CONNECT */
    }
    if (err) {
        pcfw_arena_free(pcfw.arena, raw);
        return false;
    }
    if (resp.interim) {
        /* 100 Continue and friends: the card already answered the client. */
        pcfw_arena_free(pcfw.arena, raw);
        pcfw_http_head_scan_init(&h->rscan);
        return true;
    }
    h->resp_started = true;
    if (!resp.keep_alive) {
        s->reusable = false;
    } else {
        /* How long the server keeps it idle, if it says (pool.h). */
        int ka = pcfw_http_find_field(raw, resp.fields, resp.nfields,
                                      "keep-alive");
        long secs = ka < 0 ? -1 : pcfw_http_keepalive_timeout(
            raw + resp.fields[ka].value_off, resp.fields[ka].value_len);

        if (secs >= 0) {
            pcfw_srv_keepalive_hint(s, (uint32_t)secs);
        }
    }
    /*
     * RFC 9112 §6.1: a 1.0 recipient must not get Transfer-Encoding, so a
     * chunked response reaches a 1.0 client de-chunked and close-delimited.
     */
    h->resp_dechunk = h->client_10 && resp.framing == PCFW_HTTP_BODY_CHUNKED;
    /*
     * A client that half-closed still gets the answers to the requests it
     * pipelined before its FIN (http_next_request closes after the last).
     */
    h->close_after = !h->keep_alive || h->resp_dechunk ||
                     resp.framing == PCFW_HTTP_BODY_CLOSE;
    if (!queue_response_head(c, raw, &resp)) {
        pcfw_arena_free(pcfw.arena, raw);
        return false;
    }
    pcfw_arena_free(pcfw.arena, raw);
    pcfw_pstats.responses[resp.status / 100 <= 5 ? resp.status / 100 : 0]++;
    switch (resp.framing) {
    case PCFW_HTTP_BODY_NONE:
        h->rphase = RS_DONE;
        break;
    case PCFW_HTTP_BODY_LENGTH:
        h->rbody_left = (uint64_t)resp.content_length;
        h->rphase = h->rbody_left ? RS_LENGTH : RS_DONE;
        break;
    case PCFW_HTTP_BODY_CHUNKED:
        pcfw_http_chunked_init(&h->rchunked);
        h->rphase = RS_CHUNKED;
        break;
    default:
        h->rphase = RS_CLOSE;
        break;
    }
    return true;
}

/* Move one segment of server bytes along (FIG. 10); false on failure. */
static bool http_response_bytes(struct pcfw_client *c, struct pcfw_srv *s,
                                const uint8_t *p, size_t len)
{
    struct pcfw_http_client *h = &c->pd.http;

    while (len) {
        size_t take = len;

        switch (h->rphase) {
        case RS_HEAD: {
            long r = pcfw_http_head_scan_feed(&h->rscan, p, len,
                                              PCFW_HTTP_HEAD_MAX);

            if (r < 0) {
                return false;
            }
            take = r ? (size_t)r : len;
            if (pcfw_bq_append(&h->rhead, p, take) != take) {
                return false;
            }
            if (r > 0 && !http_response_head(c, s)) {
                return false;
            }
            break;
        }
        case RS_LENGTH:
            if (take > h->rbody_left) {
                take = (size_t)h->rbody_left;
            }
            h->rbody_left -= take;
            if (pcfw_bq_append(&c->out, p, take) != take) {
                return false;
            }
            if (h->rbody_left == 0) {
                h->rphase = RS_DONE;
            }
            break;
        case RS_CHUNKED: {
            size_t data = take;
            int r = h->resp_dechunk
                ? pcfw_http_chunked_feed_data(&h->rchunked, p, len, &take,
                                              &data, UINT64_MAX)
                : pcfw_http_chunked_feed(&h->rchunked, p, len, &take,
                                         UINT64_MAX);

            /* Verbatim, or (1.0 client) the data runs only. */
            if (r < 0 || (h->resp_dechunk
                          ? pcfw_bq_append(&c->out, p + take - data, data) != data
                          : pcfw_bq_append(&c->out, p, take) != take)) {
                return false;
            }
            if (r == 1) {
                h->rphase = RS_DONE;
            }
            break;
        }
        case RS_CLOSE:
            if (pcfw_bq_append(&c->out, p, take) != take) {
                return false;
            }
            break;
        default:
            /* Bytes after the end of the response: never reuse this one. */
            s->reusable = false;
            return true;
        }
        p += take;
        len -= take;
    }
    return true;
}

static void http_response_input(struct pcfw_client *c, struct pcfw_srv *s,
                                struct pbuf *p)
{
    struct pcfw_http_client *h = &c->pd.http;
    u16_t n = p->tot_len;
    bool ok = true;

    h->resp_read_ms = pcfw_now();
    for (struct pbuf *q = p; q && ok; q = q->next) {
        ok = http_response_bytes(c, s, q->payload, q->len);
    }
    pbuf_free(p);
    if (!ok) {
        /* A bad or unbufferable response: 502 if nothing went out yet. */
        c->srv = NULL;
        pcfw_srv_drop(s, true);
        if (h->resp_started) {
            pcfw_client_abort(c);
        } else {
            http_error(c, 502);
        }
        return;
    }
    /* Back-pressure: acknowledge only while the client's budget allows. */
    if (pcfw_client_may_take(c)) {
        pcfw_srv_ack(s, n);
    } else {
        pcfw_srv_hold(s, n);
    }
    pcfw_client_flush(c);       /* a PENDING client is never freed here */
    if (h->rphase == RS_DONE) {
        http_response_done(c);
    }
}

static void http_response_done(struct pcfw_client *c)
{
    struct pcfw_http_client *h = &c->pd.http;
    struct pcfw_srv *s = c->srv;
    struct pcfw_pool *pool = s->pool;

    /* The whole response is in card memory: free the server at once. */
    c->srv = NULL;
    if (h->head_sent < h->head_len || h->body_sent < req_body_len(c)) {
        /* It answered before reading all of the request: never reuse it. */
        s->reusable = false;
    }
    pcfw_srv_release(s, h->rphase == RS_DONE);
    http_next_request(c, h->close_after);
    http_run(pool);
}

/* The server connection failed before the response was complete. */
static void http_server_failed(struct pcfw_client *c)
{
    struct pcfw_http_client *h = &c->pd.http;
    struct pcfw_pool *pool = pool_of(c);

    c->srv = NULL;
    if (h->resp_started) {
        pcfw_client_abort(c);           /* truncated: only a reset says so */
        return;
    }
    /* A failure on a reused connection counts as no try. */
    if (h->on_fresh) {
        h->fresh_fails++;
    }
    if (idempotent(h->method) && pool && h->fresh_fails < FRESH_TRIES) {
        h->want_fresh = true;
        h->wait_start_ms = pcfw_now();  /* a new wait, for a new connection */
        h->head_sent = h->body_sent = 0;
        pcfw_http_head_scan_init(&h->rscan);
        pcfw_bq_clear(&h->rhead);
        pcfw_pstats.retries++;
        c->state = PCFW_CL_READY;
        pcfw_list_remove(&c->link);
        pcfw_list_push_head(&pcfw_http_proxy.ready, &c->link);
        pcfw_pool_want(pool, true);
        http_run(pool);
        return;
    }
    http_error(c, 502);
}

/* ---- what the pool calls (pool.h) ---- */

void pcfw_http_srv_ready(struct pcfw_pool *pool)
{
    http_run(pool);
}

void pcfw_http_srv_input(struct pcfw_client *c, struct pcfw_srv *s,
                         struct pbuf *p)
{
    http_response_input(c, s, p);
}

void pcfw_http_srv_fin(struct pcfw_client *c, struct pcfw_srv *s)
{
    if (c->pd.http.rphase == RS_CLOSE) {
        /* The end of a close-delimited body. */
        s->reusable = false;
        http_response_done(c);          /* drops s: it is not reusable */
        return;
    }
    c->srv = NULL;
    pcfw_srv_drop(s, false);
    http_server_failed(c);
}

void pcfw_http_srv_failed(struct pcfw_client *c)
{
    http_server_failed(c);
}

void pcfw_http_srv_writable(struct pcfw_client *c)
{
    srv_send_request(c);
}

void pcfw_http_srv_refused(struct pcfw_pool *pool)
{
    struct pcfw_list *pos, *tmp;

    pcfw_list_for_each_safe(pos, tmp, &pcfw_http_proxy.ready) {
        struct pcfw_client *c = pcfw_container_of(pos, struct pcfw_client, link);

        if (pool_of(c) == pool) {
            http_error(c, 502);
        }
    }
}

/* ---- proxy ops ---- */

static bool http_accept(struct pcfw_client *c)
{
    struct pcfw_http_client *h = &c->pd.http;

    pcfw_bq_init(&h->rhead, pcfw.arena, 2048);
    pcfw_bq_init(&h->body, pcfw.arena, 4096);
    http_reset_request(c);
    pcfw_list_push_tail(&pcfw_http_proxy.clients, &c->link);
    return true;
}

static void http_input(struct pcfw_client *c, bool fin)
{
    if (fin) {
        /* Nothing more will come: finish what is complete, then close. */
        if (c->state == PCFW_CL_READING) {
            pcfw_client_close(c);
        }
        return;
    }
    c->pd.http.body_read_ms = pcfw_now();  /* `timeout body` runs from here */
    if (c->state == PCFW_CL_READING) {
        http_parse_more(c);
    }
    if (!pcfw_client_gone(c) && c->state != PCFW_CL_CLOSING) {
        http_ack_input(c);
    }
}

static void http_drained(struct pcfw_client *c)
{
    struct pcfw_srv *s = c->srv;

    if (s && s->held && pcfw_client_may_take(c)) {
        pcfw_srv_unhold(s);
    }
}

static void http_tick(struct pcfw_client *c, uint32_t now)
{
    struct pcfw_http_client *h = &c->pd.http;

    if (pcfw_client_output_pending(c) &&
        now - c->sent_ms >= pcfw.cfg.send_timeout_ms) {
        pcfw_client_abort(c);           /* it reads nothing of its answer */
        return;
    }
    http_drained(c);            /* a window the watermark held, memory back */
    switch (c->state) {
    case PCFW_CL_READING:
        if (h->phase != RQ_HEAD) {
            if (now - h->body_read_ms >= pcfw.cfg.body_timeout_ms) {
                http_error(c, 408);     /* the body stopped coming */
            }
        } else if (pcfw_bq_len(&c->in)) {
            if (now - h->req_start_ms >= pcfw.cfg.header_timeout_ms) {
                http_error(c, 408);
            }
        } else if (!pcfw_bq_len(&c->out) &&
                   now - c->last_active_ms >= pcfw.cfg.idle_timeout_ms) {
            pcfw_client_close(c);       /* idle keep-alive connection */
        }
        break;
    case PCFW_CL_READY:
        if (!pool_of(c) || (pool_of(c)->down &&
                            now - h->wait_start_ms >=
                            pcfw.cfg.connect_timeout_ms)) {
            http_error(c, 502);         /* no server connection can be made */
            break;
        }
        /* fall through */
    case PCFW_CL_PENDING:
        if (!h->resp_started &&
            now - h->wait_start_ms >= pcfw.cfg.server_timeout_ms) {
            http_error(c, 504);
        } else if (h->resp_started && c->srv && !c->srv->held &&
                   now - h->resp_read_ms >= pcfw.cfg.server_read_timeout_ms) {
            /*
             * The server stalled mid-response (the card is not holding its
             * window): free the connection; the head went to the client
             * already, so only a reset can say the response is cut.
             */
            struct pcfw_srv *s = c->srv;

            c->srv = NULL;
            pcfw_srv_drop(s, true);
            pcfw_client_abort(c);
        }
        break;
    default:
        break;
    }
}

static void http_detach(struct pcfw_client *c)
{
    struct pcfw_http_client *h = &c->pd.http;

    if (c->srv) {
        struct pcfw_srv *s = c->srv;

        c->srv = NULL;
        pcfw_srv_drop(s, true); /* mid-exchange: its bytes have no home */
    }
    pcfw_arena_free(pcfw.arena, h->head);
    h->head = NULL;
    pcfw_bq_clear(&h->rhead);
    pcfw_bq_clear(&h->body);
}

static const struct pcfw_proxy_ops http_ops = {
    .accept = http_accept,
    .input = http_input,
    .drained = http_drained,
    .tick = http_tick,
    .detach = http_detach,
};
