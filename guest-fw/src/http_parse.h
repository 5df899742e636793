/*
 * HTTP/1.x message framing for the reverse proxy: where a head ends, what a
 * request or response head says, and where a chunked body ends.
 *
 * The proxy accumulates a head in one contiguous buffer it owns, feeding the
 * incremental scanner as data arrives (any split, down to one byte at a
 * time); once the scanner reports the end, the whole head is parsed in one
 * pass.  The chunked decoder finds the boundaries and counts the data
 * bytes, and can hand the data runs to a caller that writes its own framing
 * (the proxy never forwards a client's chunk-size lines).
 *
 * Framing that two parties could read differently is rejected, as nginx
 * does: Content-Length together with Transfer-Encoding, a duplicate
 * Content-Length, a Transfer-Encoding other than "chunked" in a request or
 * in any HTTP/1.0 message, whitespace before a field's colon, obs-fold,
 * (in chunked bodies) a bare LF, and a Connection field naming
 * Content-Length, Transfer-Encoding or Host (a hop-by-hop reading of it
 * would drop the field that frames the message).
 *
 * Nothing here allocates, keeps a pointer into the caller's buffers between
 * calls, or depends on the locale.  Field positions are offsets into the
 * head, so heads are limited to PCFW_HTTP_HEAD_MAX bytes.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_HTTP_PARSE_H
#define PCFW_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Errors: negative, distinct; pcfw_http_error_status() gives the status. */
enum {
    PCFW_HTTP_E_BAD             = -1,   /* 400 (for a response: 502) */
    PCFW_HTTP_E_HEAD_TOO_LARGE  = -2,   /* 431 */
    PCFW_HTTP_E_BODY_TOO_LARGE  = -3,   /* 413 */
    PCFW_HTTP_E_NOT_IMPLEMENTED = -4,   /* 501 */
    PCFW_HTTP_E_VERSION         = -5,   /* 505 */
    PCFW_HTTP_E_EXPECTATION     = -6,   /* 417 */
    PCFW_HTTP_E_URI_TOO_LONG    = -7,   /* 414: the request line is */
};

/* Status code for a PCFW_HTTP_E_* error; 500 for anything else. */
int pcfw_http_error_status(int err);

/*
 * The methods the card forwards, for Allow in its own 405 and OPTIONS
 * answers: TRACE is answered 405 (as nginx does: it would echo the
 * client's credentials back to a script), CONNECT 501.
 */
#define PCFW_HTTP_ALLOW "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"

/* Standard reason phrase of @status, "Unknown" if it is not one we emit. */
const char *pcfw_http_reason(int status);

/* Largest head the parsers accept: field offsets are 16 bits. */
#define PCFW_HTTP_HEAD_MAX      65535u
/*
 * Field lines kept per request head (Apache's LimitRequestFields) and per
 * response head (a server may send many Set-Cookie lines); one more is
 * PCFW_HTTP_E_HEAD_TOO_LARGE (431 for a request, 502 for a response).
 */
#define PCFW_HTTP_MAX_FIELDS    100
#define PCFW_HTTP_MAX_RESP_FIELDS 256
/* Bytes of trailer field lines in a chunked body (final CRLF excluded). */
#define PCFW_HTTP_MAX_TRAILER   8192u
/* Bytes of one chunk-size line before its LF (size, extensions, CR). */
#define PCFW_HTTP_MAX_CHUNK_LINE 4096u
/* Largest chunk size: 15 hex digits' worth, far below any overflow. */
#define PCFW_HTTP_MAX_CHUNK_SIZE ((UINT64_C(1) << 60) - 1)

/* ---- end of head ------------------------------------------------------- */

/*
 * Incremental end-of-head detector.  Lines end in CRLF or a bare LF; a CR
 * not followed by LF is an error.  Empty lines before the start line are
 * skipped but belong to the head; the head ends at the first empty line
 * after a non-empty one.  Fields are opaque to the caller.
 */
struct pcfw_http_head_scan {
    size_t total;       /* head bytes accepted; the head's length once done */
    uint8_t state;
    int8_t err;         /* sticky error, 0 if none */
};

void pcfw_http_head_scan_init(struct pcfw_http_head_scan *s);

/*
 * Feed the next @len bytes of the stream.  Returns:
 *   > 0  the head ended within this call after that many of its bytes (the
 *        rest, e.g. a body or a pipelined request, is not the head's); the
 *        head's length is s->total;
 *   0    the head has not ended, all @len bytes belong to it;
 *   < 0  PCFW_HTTP_E_BAD (bare CR), PCFW_HTTP_E_URI_TOO_LONG (the head
 *        would exceed @max_head bytes before the start line has ended:
 *        RFC 9112 §3's 414, as nginx answers a request line that does not
 *        fit its buffers) or PCFW_HTTP_E_HEAD_TOO_LARGE (it would exceed
 *        them later, in the fields); exactly @max_head is fine.
 * Errors are sticky.  Feeding a scanner that already found the end returns
 * PCFW_HTTP_E_BAD (a caller bug: re-initialise it for the next head).
 */
long pcfw_http_head_scan_feed(struct pcfw_http_head_scan *s, const uint8_t *p,
                              size_t len, size_t max_head);

/* Has the scanner found the end of the head? */
bool pcfw_http_head_scan_done(const struct pcfw_http_head_scan *s);

/* ---- heads ------------------------------------------------------------- */

/* One field line: offsets into the head; the value is trimmed of OWS. */
struct pcfw_http_field {
    uint16_t name_off, name_len;
    uint16_t value_off, value_len;
};

enum pcfw_http_method {
    PCFW_HTTP_M_OTHER = 0,      /* a valid token we have no name for */
    PCFW_HTTP_M_GET,
    PCFW_HTTP_M_HEAD,
    PCFW_HTTP_M_POST,
    PCFW_HTTP_M_PUT,
    PCFW_HTTP_M_DELETE,
    PCFW_HTTP_M_OPTIONS,
    PCFW_HTTP_M_PATCH,
    PCFW_HTTP_M_CONNECT,
    PCFW_HTTP_M_TRACE,
};

/* How the body that follows a head is delimited. */
enum pcfw_http_framing {
    PCFW_HTTP_BODY_NONE,        /* no body */
    PCFW_HTTP_BODY_LENGTH,      /* content_length bytes (may be 0) */
    PCFW_HTTP_BODY_CHUNKED,     /* until pcfw_http_chunked_feed() returns 1 */
    PCFW_HTTP_BODY_CLOSE,       /* until the peer closes; never pooled */
};

struct pcfw_http_request {
    enum pcfw_http_method method;   /* compared case-sensitively */
    uint16_t method_off, method_len;
    uint16_t target_off, target_len;
    /*
     * The request-target's form (RFC 9112 §3.2), checked against the
     * method: asterisk-form only with OPTIONS, authority-form only with
     * CONNECT, otherwise origin-form ("/...") or absolute-form
     * ("http://authority/path?query", scheme case-insensitive, the
     * authority uri-host [":" port] by the rule Host values are checked
     * by: no userinfo, a non-empty host).  For absolute-form, the authority and the
     * path-and-query (possibly empty: it means "/") within the target.
     */
    enum {
        PCFW_HTTP_TARGET_ORIGIN,
        PCFW_HTTP_TARGET_ABSOLUTE,
        PCFW_HTTP_TARGET_AUTHORITY,
        PCFW_HTTP_TARGET_ASTERISK,
    } target_form;
    uint16_t authority_off, authority_len;
    uint16_t path_off, path_len;
    /* 1.0 or 1.1; 1.2 to 1.9 read as 1.1 (RFC 9110 §2.5) */
    uint8_t version_major, version_minor;
    uint16_t nfields;
    struct pcfw_http_field fields[PCFW_HTTP_MAX_FIELDS];
    int64_t content_length;     /* -1 if none */
    bool chunked;               /* Transfer-Encoding: chunked */
    enum pcfw_http_framing framing; /* NONE, LENGTH or CHUNKED */
    bool conn_close;            /* Connection tokens, case-insensitive */
    bool conn_keepalive;
    bool conn_upgrade;
    bool expect_continue;       /* HTTP/1.1 with Expect: 100-continue */
    bool has_host;
    /* Persistence: 1.1 unless "close"; 1.0 only with "keep-alive". */
    bool keep_alive;
};

/*
 * Parse the complete request head @head[0..@len), exactly as delimited by
 * the scanner (leading empty lines included, final empty line included,
 * nothing after it).  Returns 0 or a negative PCFW_HTTP_E_*; on error *@req
 * is partly filled and must not be used.
 *
 * Line syntax errors come first, in line order (a 65th field line is
 * HEAD_TOO_LARGE, any second Content-Length is BAD even if identical); then
 * Transfer-Encoding in HTTP/1.0 or with Content-Length (BAD), a
 * Transfer-Encoding other than the single coding "chunked" (NOT_IMPLEMENTED,
 * several TE lines count as one list), Host missing in 1.1, repeated, or
 * a non-empty value that is not uri-host [":" port] (BAD, RFC 9112 §3.2;
 * an empty one is allowed), and an Expect other than 100-continue in 1.1 (EXPECTATION; a 1.0
 * request's Expect is ignored, RFC 9110 §10.1.1).
 */
int pcfw_http_parse_request(const uint8_t *head, size_t len,
                            struct pcfw_http_request *req);

struct pcfw_http_response {
    uint16_t status;            /* 100..999 */
    uint8_t version_major, version_minor;   /* as for requests */
    uint16_t reason_off, reason_len;
    uint16_t nfields;
    struct pcfw_http_field fields[PCFW_HTTP_MAX_RESP_FIELDS];
    int64_t content_length;     /* -1 if none (kept even when unused) */
    bool chunked;               /* chunked once, the last transfer coding */
    bool conn_close;
    bool conn_keepalive;
    bool conn_upgrade;
    /* Authoritative, decided once (RFC 9112 §6.3); see parse_response. */
    enum pcfw_http_framing framing;
    bool interim;               /* 1xx other than 101: a final head follows */
    bool tunnel;                /* 101, or 2xx to CONNECT: raw bytes follow */
    /* The connection may carry another exchange after this body. */
    bool keep_alive;
};

/*
 * Parse the complete response head @head[0..@len) (delimited as for
 * requests) answering a request with method @request_method (an enum
 * pcfw_http_method).  Framing, in this order:
 *   101, or 2xx to CONNECT             CLOSE, tunnel, keep_alive false
 *   HEAD request, 1xx, 204, 304         NONE
 *   Transfer-Encoding ending in chunked CHUNKED
 *   a Transfer-Encoding without chunked CLOSE (RFC 9112 §6.3 point 4)
 *   Content-Length                      LENGTH (0 included)
 *   otherwise                           CLOSE
 * CLOSE always clears keep_alive.  Returns 0 or a negative PCFW_HTTP_E_*
 * (the proxy answers 502 whichever it is): besides syntax, Content-Length
 * with Transfer-Encoding, a second Content-Length, any
 * Transfer-Encoding in an HTTP/1.0 response (faulty framing, RFC 9112 §6.1),
 * and chunked applied twice or followed by another coding (RFC 9112 §6.1;
 * the field is forwarded, so the client would read it differently) are
 * PCFW_HTTP_E_BAD whatever the status.
 */
int pcfw_http_parse_response(const uint8_t *head, size_t len,
                             int request_method,
                             struct pcfw_http_response *resp);

/*
 * Is @f's name @lower_name, compared ASCII case-insensitively?  @lower_name
 * must be lower case.
 */
bool pcfw_http_field_is(const uint8_t *head, const struct pcfw_http_field *f,
                        const char *lower_name);

/* Index of the first field named @lower_name, or -1. */
int pcfw_http_find_field(const uint8_t *head,
                         const struct pcfw_http_field *fields,
                         unsigned nfields, const char *lower_name);

/*
 * The timeout=N parameter of a Keep-Alive field value (RFC 2068 §19.7.1.1;
 * Apache and Node send "timeout=5, max=100"): N in seconds, or -1 if the
 * value has no well-formed timeout parameter.  N above 86400 counts as
 * 86400.
 */
long pcfw_http_keepalive_timeout(const uint8_t *value, size_t len);

/* ---- chunked bodies ---------------------------------------------------- */

/*
 * Resumable boundary finder for a chunked body: hex size (overflow checked
 * before each digit), optional BWS then extensions (skipped but checked
 * against the RFC 9112 §7.1.1 grammar, quoted strings included), CRLF,
 * data, CRLF; after the last chunk, trailer field lines and the final CRLF.
 * Every line must end in CRLF: a bare LF is rejected (request smuggling).
 */
struct pcfw_http_chunked {
    uint8_t state;
    int8_t err;                 /* sticky error, 0 if none */
    uint32_t line_len;          /* bytes of the current size line */
    uint32_t trailer_len;       /* bytes of trailer field lines */
    uint64_t size_left;         /* size being read, then data bytes left */
    uint64_t body_bytes;        /* decoded data bytes so far */
};

void pcfw_http_chunked_init(struct pcfw_http_chunked *c);

/*
 * Consume up to @len bytes; *@used is set to the bytes consumed.  Returns
 *   0    need more: all @len bytes consumed;
 *   1    the body (last chunk, trailers, final CRLF) ended after *@used
 *        bytes; what follows is not the body's;
 *   < 0  PCFW_HTTP_E_BAD (syntax, size overflow), PCFW_HTTP_E_BODY_TOO_LARGE
 *        (the data would exceed @max_body bytes; UINT64_MAX for no limit) or
 *        PCFW_HTTP_E_HEAD_TOO_LARGE (trailers over PCFW_HTTP_MAX_TRAILER);
 *        *@used is the offset of the offending byte.
 * After the end, further calls return 1 and consume nothing; errors are
 * sticky and consume nothing.
 */
int pcfw_http_chunked_feed(struct pcfw_http_chunked *c, const uint8_t *p,
                           size_t len, size_t *used, uint64_t max_body);

/*
 * The same, for a caller that wants the data without the framing (to write
 * its own): it stops after each run of chunk data.  On return 0 with
 * *@data > 0, p[*@used - *@data, *@used) is chunk data and the call may have
 * consumed less than @len: call again with the rest.  Framing bytes are
 * never reported as data; the return values are those above.
 */
int pcfw_http_chunked_feed_data(struct pcfw_http_chunked *c, const uint8_t *p,
                                size_t len, size_t *used, size_t *data,
                                uint64_t max_body);

/* Has the decoder found the end of the body? */
bool pcfw_http_chunked_done(const struct pcfw_http_chunked *c);

#endif /* PCFW_HTTP_PARSE_H */
