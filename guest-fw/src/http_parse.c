/*
 * HTTP/1.x message framing.  See http_parse.h.
 *
 * The two incremental parsers (end of head, chunked body) are byte-at-a-time
 * state machines in the manner of nginx's ngx_http_parse.c: one switch in a
 * loop over the buffer, the state saved in the caller's struct at the end of
 * the buffer, no byte ever looked at twice.  The head parsers run once, on a
 * complete head, and walk it line by line.
 *
 * Character classes are our own ASCII tables: the C library's are locale
 * dependent, and a proxy must classify bytes exactly as its peers do.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <limits.h>
#include <string.h>
#include "http_parse.h"

/* ---- ASCII helpers ----------------------------------------------------- */

static inline uint8_t lc(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c | 0x20) : c;
}

static inline bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Hex digit value, or -1. */
static inline int hex_val(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = lc(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* tchar of RFC 9110 §5.6.2: the characters of methods and field names. */
static inline bool is_tchar(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) {
        return true;
    }
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '.': case '^': case '_': case '`': case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

/* unreserved and sub-delims of RFC 3986 §2.3, §2.2: a reg-name's bytes. */
static inline bool is_host_char(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) {
        return true;
    }
    switch (c) {
    case '-': case '.': case '_': case '~':
    case '!': case '$': case '&': case '\'': case '(': case ')': case '*':
    case '+': case ',': case ';': case '=':
        return true;
    default:
        return false;
    }
}

static inline bool is_ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/* field-vchar, SP or HTAB: what a field value, reason phrase may hold. */
static inline bool is_text(uint8_t c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Case-insensitive compare of b[0..n) with the lower-case @lower. */
static bool eq_lower(const uint8_t *b, size_t n, const char *lower)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (lower[i] == '\0' || lc(b[i]) != (uint8_t)lower[i]) {
            return false;
        }
    }
    return lower[i] == '\0';
}

/* ---- errors and reasons ------------------------------------------------ */

int pcfw_http_error_status(int err)
{
    switch (err) {
    case PCFW_HTTP_E_BAD:               return 400;
    case PCFW_HTTP_E_HEAD_TOO_LARGE:    return 431;
    case PCFW_HTTP_E_URI_TOO_LONG:      return 414;
    case PCFW_HTTP_E_BODY_TOO_LARGE:    return 413;
    case PCFW_HTTP_E_NOT_IMPLEMENTED:   return 501;
    case PCFW_HTTP_E_VERSION:           return 505;
    case PCFW_HTTP_E_EXPECTATION:       return 417;
    default:                            return 500;
    }
}

const char *pcfw_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";       /* RFC 9110 §15.5.14 */
    case 414: return "URI Too Long";            /* RFC 9110 §15.5.15 */
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";       /* RFC 6585 §4 */
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default:  return "Unknown";
    }
}

/* ---- end of head ------------------------------------------------------- */

enum {
    HS_START = 0,       /* at a line start, no non-empty line yet */
    HS_START_CR,        /* CR of a leading empty line: LF must follow */
    HS_FIRST,           /* inside the start line */
    HS_FIRST_CR,        /* CR inside the start line: LF must follow */
    HS_LINE,            /* inside a non-empty line */
    HS_LINE_CR,         /* CR inside a line: LF must follow */
    HS_LINE_START,      /* at a line start after a non-empty line */
    HS_END_CR,          /* CR of the final empty line: LF must follow */
    HS_DONE,
};

void pcfw_http_head_scan_init(struct pcfw_http_head_scan *s)
{
    s->total = 0;
    s->state = HS_START;
    s->err = 0;
}

bool pcfw_http_head_scan_done(const struct pcfw_http_head_scan *s)
{
    return s->state == HS_DONE;
}

long pcfw_http_head_scan_feed(struct pcfw_http_head_scan *s, const uint8_t *p,
                              size_t len, size_t max_head)
{
    uint8_t state = s->state;
    size_t i;

    if (s->err) {
        return s->err;
    }
    if (state == HS_DONE) {
        return PCFW_HTTP_E_BAD;
    }
    /* The count returned must fit a long; no real head comes near. */
    if (max_head > LONG_MAX) {
        max_head = LONG_MAX;
    }

    for (i = 0; i < len; i++) {
        uint8_t ch = p[i];

        /*
         * Invariant: s->total counts the head bytes before p[i].  Over
         * the limit inside the start line, it is the request-target
         * that does not fit (the method and version are short): 414 as
         * RFC 9112 §3 asks and nginx answers, not 431.  (A response's
         * status line: any error is a 502 there.)
         */
        if (s->total >= max_head) {
            s->err = state == HS_FIRST || state == HS_FIRST_CR
                     ? PCFW_HTTP_E_URI_TOO_LONG : PCFW_HTTP_E_HEAD_TOO_LARGE;
            break;
        }

        switch (state) {
        case HS_START:
            if (ch == '\r') {
                state = HS_START_CR;
            } else if (ch != '\n') {
                state = HS_FIRST;
            }
            break;

        case HS_FIRST:
        case HS_LINE:
            if (ch == '\r') {
                state = state == HS_FIRST ? HS_FIRST_CR : HS_LINE_CR;
            } else if (ch == '\n') {
                state = HS_LINE_START;
            }
            break;

        case HS_LINE_START:
            if (ch == '\r') {
                state = HS_END_CR;
            } else if (ch == '\n') {
                state = HS_DONE;
            } else {
                state = HS_LINE;
            }
            break;

        case HS_START_CR:
        case HS_FIRST_CR:
        case HS_LINE_CR:
        case HS_END_CR:
            if (ch != '\n') {
                /* A bare CR: RFC 9112 §2.2 lets us reject it, and we do. */
                s->err = PCFW_HTTP_E_BAD;
                break;
            }
            state = state == HS_START_CR ? HS_START
                    : state == HS_END_CR ? HS_DONE : HS_LINE_START;
            break;
        }
        if (s->err) {
            break;
        }
        s->total++;
        if (state == HS_DONE) {
            s->state = state;
            return (long)(i + 1);
        }
    }
    s->state = state;
    return s->err;
}

/* ---- heads: lines, fields, lists --------------------------------------- */

/*
 * Find the end of the line starting at @pos: its content is [pos, *eol),
 * and the next line starts at *next.  A line ends in LF or CRLF; a CR
 * anywhere else, or no line end before @len, makes the head malformed.
 */
static int line_end(const uint8_t *b, size_t len, size_t pos, size_t *eol,
                    size_t *next)
{
    for (size_t i = pos; i < len; i++) {
        if (b[i] == '\n') {
            *eol = i;
            *next = i + 1;
            return 0;
        }
        if (b[i] == '\r') {
            if (i + 1 < len && b[i + 1] == '\n') {
                *eol = i;
                *next = i + 2;
                return 0;
            }
            return PCFW_HTTP_E_BAD;
        }
    }
    return PCFW_HTTP_E_BAD;
}

/*
 * Next element of the comma-separated list in [*pos, end), OWS-trimmed, as
 * [*off, *off + *n).  Empty elements are skipped (RFC 9110 §5.6.1).
 * Returns false when the list is exhausted.
 */
static bool list_next(const uint8_t *b, size_t *pos, size_t end, size_t *off,
                      size_t *n)
{
    while (*pos < end) {
        size_t s = *pos, e;

        while (*pos < end && b[*pos] != ',') {
            (*pos)++;
        }
        e = *pos;
        if (*pos < end) {
            (*pos)++;           /* the comma */
        }
        while (s < e && is_ows(b[s])) {
            s++;
        }
        while (e > s && is_ows(b[e - 1])) {
            e--;
        }
        if (e > s) {
            *off = s;
            *n = e - s;
            return true;
        }
    }
    return false;
}

/*
 * "HTTP/" DIGIT "." DIGIT: 0 for major 1, E_VERSION for another major,
 * E_BAD for anything else (the name is case-sensitive).  A minor above 1
 * is reported as 1: RFC 9110 §2.5 says to process a higher minor of a
 * major we implement as the highest minor we conform to, and the card
 * writes its own "HTTP/1.1" on whatever it forwards either way.
 */
static int parse_version(const uint8_t *p, size_t n, uint8_t *major,
                         uint8_t *minor)
{
    if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || !is_digit(p[5])
        || p[6] != '.' || !is_digit(p[7])) {
        return PCFW_HTTP_E_BAD;
    }
    *major = (uint8_t)(p[5] - '0');
    *minor = (uint8_t)(p[7] - '0');
    if (*major != 1) {
        return PCFW_HTTP_E_VERSION;
    }
    if (*minor > 1) {
        *minor = 1;
    }
    return 0;
}

/* ---- authorities (Host, absolute-form targets) ------------------------ */

/* IPv4address of RFC 3986 §3.2.2: four dec-octets, no leading zeros. */
static bool ipv4_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;

    for (int k = 0; k < 4; k++) {
        size_t s;
        unsigned v = 0;

        if (k > 0 && (i == n || p[i++] != '.')) {
            return false;
        }
        for (s = i; i < n && is_digit(p[i]) && i - s < 3; i++) {
            v = v * 10 + (unsigned)(p[i] - '0');
        }
        if (i == s || v > 255 || (i - s > 1 && p[s] == '0')) {
            return false;
        }
    }
    return i == n;
}

/*
 * IPv6address of RFC 3986 §3.2.2: eight h16 groups, or fewer with one
 * "::", the last two of them possibly an IPv4address.
 */
static bool ipv6_valid(const uint8_t *p, size_t n)
{
    unsigned groups = 0;
    bool gap = false;
    size_t i = 0;

    if (n >= 2 && p[0] == ':' && p[1] == ':') {
        gap = true;
        i = 2;
    } else if (n > 0 && p[0] == ':') {
        return false;
    }
    while (i < n) {
        size_t s = i;

        while (i < n && hex_val(p[i]) >= 0 && i - s < 5) {
            i++;
        }
        if (i < n && p[i] == '.') {
            if (!ipv4_valid(p + s, n - s)) {
                return false;
            }
            groups += 2;
            break;
        }
        if (i == s || i - s > 4) {
            return false;
        }
        groups++;
        if (i == n) {
            break;
        }
        if (p[i++] != ':' || i == n) {
            return false;       /* junk, or a trailing single ':' */
        }
        if (p[i] == ':') {
            if (gap) {
                return false;   /* a second "::" */
            }
            gap = true;
            i++;
        }
    }
    return gap ? groups < 8 : groups == 8;
}

/*
 * IP-literal of RFC 3986 §3.2.2, between the brackets: an IPv6address
 * or IPvFuture ("v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )).
 */
static bool ip_literal_valid(const uint8_t *p, size_t n)
{
    size_t i = 1;

    if (n == 0 || (p[0] != 'v' && p[0] != 'V')) {
        return ipv6_valid(p, n);
    }
    while (i < n && hex_val(p[i]) >= 0) {
        i++;
    }
    if (i == 1 || i == n || p[i++] != '.' || i == n) {
        return false;
    }
    for (; i < n; i++) {
        if (!is_host_char(p[i]) && p[i] != ':') {
            return false;
        }
    }
    return true;
}

/*
 * uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2, §3.2.3): the one
 * rule for a Host value and for an absolute-form target's authority, which
 * the card sends on as the Host.  A reg-name covers IPv4 as well (it is
 * read as an address only if it is one).  No userinfo: '@' is no host
 * byte (RFC 9110 §4.2.4).  The host must not be empty, since an http(s)
 * URI with an empty host is invalid (RFC 9110 §4.2.1); the port may be
 * (RFC 3986 §3.2.3: the scheme's default), but holds nothing but digits.
 */
static bool authority_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;

    if (n > 0 && p[0] == '[') {
        while (i < n && p[i] != ']') {
            i++;
        }
        if (i == n || !ip_literal_valid(p + 1, i - 1)) {
            return false;
        }
        i++;
    } else {
        while (i < n && p[i] != ':') {
            if (p[i] == '%') {
                /* pct-encoded */
                if (n - i < 3 || hex_val(p[i + 1]) < 0
                    || hex_val(p[i + 2]) < 0) {
                    return false;
                }
                i += 3;
            } else if (is_host_char(p[i])) {
                i++;
            } else {
                return false;
            }
        }
        if (i == 0) {
            return false;
        }
    }
    if (i < n && p[i++] != ':') {
        return false;
    }
    while (i < n && is_digit(p[i])) {
        i++;
    }
    return i == n;
}

/* What the framing- and connection-related fields said, for both kinds. */
struct hdr_sum {
    int64_t content_length;     /* -1 if none */
    unsigned te_lines;          /* Transfer-Encoding field lines */
    unsigned te_codings;        /* codings over all of them */
    unsigned te_chunked;        /* how many of them are "chunked" */
    bool te_last_chunked;       /* the last coding is "chunked" */
    bool conn_close, conn_keepalive, conn_upgrade;
    /*
     * A Connection token names a field that frames or routes the message
     * (Content-Length, Transfer-Encoding, Host): a hop-by-hop reading of it
     * would drop the very field the message was framed by.
     */
    bool conn_names_framing;
    bool bad_forwarded;         /* a Forwarded line that is not RFC 7239 */
    unsigned hosts;
    bool bad_host;              /* a Host value that is no authority */
    unsigned expect_lines;
    bool expect_other;          /* an expectation other than 100-continue */
};

/* What the transfer codings make of the body, for both kinds. */
enum {
    TE_NONE,            /* no Transfer-Encoding */
    TE_CHUNKED,         /* chunked once, as the final coding */
    TE_UNCHUNKED,       /* codings without chunked */
    TE_INVALID,         /* chunked twice, or not the final coding */
};

/*
 * RFC 9112 §6.1: chunked MUST NOT be applied more than once, and a
 * message with a coding after it cannot be delimited by it.  The card
 * forwards a response's Transfer-Encoding as it came, so a downstream
 * reader would decode "chunked, chunked" twice where the card decodes
 * once; the one rule here serves requests and responses, so that the
 * two cannot drift apart.
 */
static int te_verdict(const struct hdr_sum *sum)
{
    if (sum->te_lines == 0) {
        return TE_NONE;
    }
    if (sum->te_chunked == 0) {
        return TE_UNCHUNKED;
    }
    if (sum->te_chunked > 1 || !sum->te_last_chunked) {
        return TE_INVALID;
    }
    return TE_CHUNKED;
}

/* Content-Length = 1*DIGIT, at most INT64_MAX (RFC 9110 §8.6). */
static int parse_content_length(const uint8_t *b, size_t n, int64_t *out)
{
    int64_t v = 0;

    if (n == 0) {
        return PCFW_HTTP_E_BAD;
    }
    for (size_t i = 0; i < n; i++) {
        int d;

        if (!is_digit(b[i])) {
            return PCFW_HTTP_E_BAD;     /* a list "5, 5" included */
        }
        d = b[i] - '0';
        if (v > (INT64_MAX - d) / 10) {
            return PCFW_HTTP_E_BAD;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/*
 * Forwarded = 1#forwarded-element, forwarded-element = [pair] *(";" [pair]),
 * pair = token "=" ( token / quoted-string ) (RFC 7239 §4), with OWS
 * around the separators.  The card appends its own element to the last
 * line, so a line a server could split differently is refused.
 */
static bool forwarded_valid(const uint8_t *b, size_t pos, size_t end)
{
    bool any = false;

    while (pos < end) {
        while (pos < end && (is_ows(b[pos]) || b[pos] == ',' ||
                             b[pos] == ';')) {
            pos++;
        }
        if (pos == end) {
            break;
        }
        if (!is_tchar(b[pos])) {
            return false;
        }
        while (pos < end && is_tchar(b[pos])) {
            pos++;
        }
        if (pos == end || b[pos++] != '=' || pos == end) {
            return false;
        }
        if (b[pos] == '"') {
            for (pos++; pos < end && b[pos] != '"'; pos++) {
                if (b[pos] == '\\' && ++pos == end) {
                    return false;
                }
            }
            if (pos++ == end) {
                return false;   /* unterminated */
            }
        } else if (is_tchar(b[pos])) {
            while (pos < end && is_tchar(b[pos])) {
                pos++;
            }
        } else {
            return false;
        }
        while (pos < end && is_ows(b[pos])) {
            pos++;
        }
        if (pos < end && b[pos] != ',' && b[pos] != ';') {
            return false;
        }
        any = true;
    }
    return any;
}

/* Fold one field into the summary; the value is f's trimmed value. */
static int note_field(const uint8_t *b, const struct pcfw_http_field *f,
                      struct hdr_sum *sum)
{
    size_t vo = f->value_off, vend = (size_t)f->value_off + f->value_len;
    size_t pos = vo, eo, en;
    int64_t cl;
    int rc;

    if (pcfw_http_field_is(b, f, "content-length")) {
        /*
         * Any second Content-Length is refused, even an identical one:
         * nginx does the same, and it leaves no value to choose.
         */
        if (sum->content_length >= 0) {
            return PCFW_HTTP_E_BAD;
        }
        rc = parse_content_length(b + vo, f->value_len, &cl);
        if (rc) {
            return rc;
        }
        sum->content_length = cl;
    } else if (pcfw_http_field_is(b, f, "transfer-encoding")) {
        /* Several lines make one list (RFC 9110 §5.3), judged at the end. */
        sum->te_lines++;
        while (list_next(b, &pos, vend, &eo, &en)) {
            sum->te_codings++;
            sum->te_last_chunked = eq_lower(b + eo, en, "chunked");
            sum->te_chunked += sum->te_last_chunked;
        }
    } else if (pcfw_http_field_is(b, f, "connection")) {
        while (list_next(b, &pos, vend, &eo, &en)) {
            if (eq_lower(b + eo, en, "close")) {
                sum->conn_close = true;
            } else if (eq_lower(b + eo, en, "keep-alive")) {
                sum->conn_keepalive = true;
            } else if (eq_lower(b + eo, en, "upgrade")) {
                sum->conn_upgrade = true;
            } else if (eq_lower(b + eo, en, "content-length") ||
                       eq_lower(b + eo, en, "transfer-encoding") ||
                       eq_lower(b + eo, en, "host")) {
                sum->conn_names_framing = true;
            }
        }
    } else if (pcfw_http_field_is(b, f, "host")) {
        sum->hosts++;
        /* Empty is allowed: a target URI without authority (RFC 9112 §3.2). */
        if (f->value_len && !authority_valid(b + vo, f->value_len)) {
            sum->bad_host = true;
        }
    } else if (pcfw_http_field_is(b, f, "forwarded")) {
        if (!forwarded_valid(b, vo, vend)) {
            sum->bad_forwarded = true;
        }
    } else if (pcfw_http_field_is(b, f, "expect")) {
        bool any = false;

        sum->expect_lines++;
        while (list_next(b, &pos, vend, &eo, &en)) {
            any = true;
            if (!eq_lower(b + eo, en, "100-continue")) {
                sum->expect_other = true;
            }
        }
        if (!any) {
            sum->expect_other = true;   /* an empty Expect: not 100-continue */
        }
    }
    return 0;
}

/*
 * Parse the field lines from @pos up to and including the empty line that
 * must end exactly at @len.  Syntax (RFC 9112 §5): a name of tchars, the
 * colon right after it (whitespace before it is refused, RFC 9112 §5.1),
 * OWS, a value of field-vchars/SP/HTAB, OWS.  A line starting with SP or
 * HTAB is obs-fold and refused (RFC 9112 §5.2).
 */
static int parse_fields(const uint8_t *b, size_t len, size_t pos,
                        struct pcfw_http_field *fields, unsigned max_fields,
                        uint16_t *nfields, struct hdr_sum *sum)
{
    unsigned n = 0;
    int rc;

    memset(sum, 0, sizeof(*sum));
    sum->content_length = -1;

    for (;;) {
        size_t eol, next, i, vs, ve;
        struct pcfw_http_field *f;

        rc = line_end(b, len, pos, &eol, &next);
        if (rc) {
            return rc;
        }
        if (eol == pos) {
            /* The empty line: the head must end with it. */
            if (next != len) {
                return PCFW_HTTP_E_BAD;
            }
            *nfields = (uint16_t)n;
            return 0;
        }

        i = pos;
        while (i < eol && is_tchar(b[i])) {
            i++;
        }
        if (i == pos || i == eol || b[i] != ':') {
            /* obs-fold, empty name, non-token byte, no colon */
            return PCFW_HTTP_E_BAD;
        }
        vs = i + 1;
        ve = eol;
        while (vs < ve && is_ows(b[vs])) {
            vs++;
        }
        while (ve > vs && is_ows(b[ve - 1])) {
            ve--;
        }
        for (size_t j = vs; j < ve; j++) {
            if (!is_text(b[j])) {
                return PCFW_HTTP_E_BAD;     /* NUL, other CTLs, DEL */
            }
        }

        if (n == max_fields) {
            return PCFW_HTTP_E_HEAD_TOO_LARGE;
        }
        f = &fields[n++];
        f->name_off = (uint16_t)pos;
        f->name_len = (uint16_t)(i - pos);
        f->value_off = (uint16_t)vs;
        f->value_len = (uint16_t)(ve - vs);
        rc = note_field(b, f, sum);
        if (rc) {
            return rc;
        }
        pos = next;
    }
}

/* Skip the empty lines allowed before a start line (RFC 9112 §2.2). */
static int skip_empty_lines(const uint8_t *b, size_t len, size_t *pos)
{
    for (;;) {
        size_t eol, next;
        int rc = line_end(b, len, *pos, &eol, &next);

        if (rc) {
            return rc;
        }
        if (eol != *pos) {
            return 0;
        }
        *pos = next;
    }
}

bool pcfw_http_field_is(const uint8_t *head, const struct pcfw_http_field *f,
                        const char *lower_name)
{
    return eq_lower(head + f->name_off, f->name_len, lower_name);
}

int pcfw_http_find_field(const uint8_t *head,
                         const struct pcfw_http_field *fields,
                         unsigned nfields, const char *lower_name)
{
    for (unsigned i = 0; i < nfields; i++) {
        if (pcfw_http_field_is(head, &fields[i], lower_name)) {
            return (int)i;
        }
    }
    return -1;
}

long pcfw_http_keepalive_timeout(const uint8_t *v, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t start, end;
        long secs = 0;
        bool digits = false;

        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        start = i;
        while (i < len && v[i] != ',') {
            i++;
        }
        end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) {
            end--;
        }
        if (end - start < 8 || !eq_lower(v + start, 7, "timeout")) {
            continue;
        }
        start += 7;
        while (start < end && (v[start] == ' ' || v[start] == '\t')) {
            start++;
        }
        if (start == end || v[start++] != '=') {
            continue;
        }
        while (start < end && (v[start] == ' ' || v[start] == '\t')) {
            start++;
        }
        for (; start < end && v[start] >= '0' && v[start] <= '9'; start++) {
            secs = secs * 10 + (v[start] - '0');
            secs = secs > 86400 ? 86400 : secs;
            digits = true;
        }
        if (digits && start == end) {
            return secs;
        }
    }
    return -1;
}

/* ---- request head ------------------------------------------------------ */

static const struct {
    const char *name;
    enum pcfw_http_method m;
} methods[] = {
    { "GET", PCFW_HTTP_M_GET },
    { "HEAD", PCFW_HTTP_M_HEAD },
    { "POST", PCFW_HTTP_M_POST },
    { "PUT", PCFW_HTTP_M_PUT },
    { "DELETE", PCFW_HTTP_M_DELETE },
    { "OPTIONS", PCFW_HTTP_M_OPTIONS },
    { "PATCH", PCFW_HTTP_M_PATCH },
    { "CONNECT", PCFW_HTTP_M_CONNECT },
    { "TRACE", PCFW_HTTP_M_TRACE },
};

/* Methods are case-sensitive (RFC 9110 §9.1): "get" is OTHER. */
static enum pcfw_http_method method_of(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strlen(methods[i].name) == n
            && memcmp(p, methods[i].name, n) == 0) {
            return methods[i].m;
        }
    }
    return PCFW_HTTP_M_OTHER;
}

/*
 * request-line = method SP request-target SP HTTP-version, single SPs
 * (RFC 9112 §3).  The target is any run of bytes other than CTLs, SP and
 * DEL (obs-text passes, as nginx lets raw UTF-8 through); its form is the
 * proxy's business.
 */
static int parse_request_line(const uint8_t *b, size_t s, size_t e,
                              struct pcfw_http_request *req)
{
    size_t i, j;

    i = s;
    while (i < e && is_tchar(b[i])) {
        i++;
    }
    if (i == s || i == e || b[i] != ' ') {
        return PCFW_HTTP_E_BAD;
    }
    req->method_off = (uint16_t)s;
    req->method_len = (uint16_t)(i - s);
    req->method = method_of(b + s, i - s);

    j = ++i;
    while (j < e && b[j] > 0x20 && b[j] != 0x7f) {
        j++;
    }
    if (j == i || j == e || b[j] != ' ') {
        return PCFW_HTTP_E_BAD;   /* empty target, CTL in it, or no version */
    }
    req->target_off = (uint16_t)i;
    req->target_len = (uint16_t)(j - i);

    j++;
    return parse_version(b + j, e - j, &req->version_major,
                         &req->version_minor);
}

/* Does @p[0..n) start with the lower-case @lit, ASCII case-insensitively? */
static bool prefix_lower(const uint8_t *p, size_t n, const char *lit)
{
    size_t k = strlen(lit);

    return n >= k && eq_lower(p, k, lit);
}

/*
 * The request-target's form against the method (RFC 9112 §3.2): anything
 * else is a 400, so the server never sees a target it would read
 * differently from the card.
 */
static int classify_target(const uint8_t *b, struct pcfw_http_request *req)
{
    const uint8_t *t = b + req->target_off;
    size_t n = req->target_len, a, e;

    /*
     * No form has a fragment (RFC 9112 §3.2): a '#' would make the card and
     * a server that keeps it in the path (Go's ParseRequestURI) read
     * different paths, as a security proxy's path rule would.
     */
    if (memchr(t, '#', n)) {
        return PCFW_HTTP_E_BAD;
    }
    if (n == 1 && t[0] == '*') {
        req->target_form = PCFW_HTTP_TARGET_ASTERISK;
        return req->method == PCFW_HTTP_M_OPTIONS ? 0 : PCFW_HTTP_E_BAD;
    }
    if (t[0] == '/') {
        req->target_form = PCFW_HTTP_TARGET_ORIGIN;
        return 0;
    }
    if (req->method == PCFW_HTTP_M_CONNECT) {
        req->target_form = PCFW_HTTP_TARGET_AUTHORITY;
        return 0;
    }
    if (prefix_lower(t, n, "http://")) {
        a = 7;
    } else if (prefix_lower(t, n, "https://")) {
        a = 8;
    } else {
        return PCFW_HTTP_E_BAD;     /* no leading slash, no scheme */
    }
    e = a;
    while (e < n && t[e] != '/' && t[e] != '?') {
        e++;
    }
    /* The authority becomes the Host upstream: the Host field's rule. */
    if (!authority_valid(t + a, e - a)) {
        return PCFW_HTTP_E_BAD;     /* userinfo, empty host, ... */
    }
    req->target_form = PCFW_HTTP_TARGET_ABSOLUTE;
    req->authority_off = (uint16_t)(req->target_off + a);
    req->authority_len = (uint16_t)(e - a);
    req->path_off = (uint16_t)(req->target_off + e);
    req->path_len = (uint16_t)(n - e);
    return 0;
}

/* Skip the empty lines before the start line, then find the line's end. */
static int start_line(const uint8_t *head, size_t len, size_t *pos,
                      size_t *eol, size_t *next)
{
    int rc = skip_empty_lines(head, len, pos);

    return rc ? rc : line_end(head, len, *pos, eol, next);
}

int pcfw_http_parse_request(const uint8_t *head, size_t len,
                            struct pcfw_http_request *req)
{
    struct hdr_sum sum;
    size_t pos = 0, eol, next;
    bool v11;
    int rc;

    memset(req, 0, sizeof(*req));
    req->content_length = -1;
    if (len > PCFW_HTTP_HEAD_MAX) {
        return PCFW_HTTP_E_HEAD_TOO_LARGE;
    }

    rc = start_line(head, len, &pos, &eol, &next);
    if (rc) {
        return rc;
    }
    rc = parse_request_line(head, pos, eol, req);
    if (rc == 0) {
        rc = classify_target(head, req);
    }
    if (rc) {
        return rc;
    }
    rc = parse_fields(head, len, next, req->fields, PCFW_HTTP_MAX_FIELDS,
                      &req->nfields, &sum);
    if (rc) {
        return rc;
    }
    v11 = req->version_minor == 1;

    /*
     * Framing that an upstream might read differently is refused; so is a
     * Connection field naming a framing field (a proxy that honours it
     * forwards a body without the field that delimits it).
     */
    if (sum.conn_names_framing || sum.bad_forwarded) {
        return PCFW_HTTP_E_BAD;
    }

    /*
     * Framing that an upstream might read differently is refused
     * (RFC 9112 §6.1, §6.3; nginx's ngx_http_process_request_header).
     */
    if (sum.te_lines) {
        if (!v11 || sum.content_length >= 0) {
            return PCFW_HTTP_E_BAD;
        }
        /*
         * Only "chunked" alone: another coding we cannot decode, and an
         * invalid list (te_verdict) is refused with it, 501 as nginx
         * answers (RFC 9112 §6.1's SHOULD for a coding not understood).
         */
        if (te_verdict(&sum) != TE_CHUNKED || sum.te_codings != 1) {
            return PCFW_HTTP_E_NOT_IMPLEMENTED;
        }
        req->chunked = true;
        req->framing = PCFW_HTTP_BODY_CHUNKED;
    } else if (sum.content_length >= 0) {
        req->content_length = sum.content_length;
        req->framing = PCFW_HTTP_BODY_LENGTH;
    } else {
        req->framing = PCFW_HTTP_BODY_NONE;
    }

    /*
     * RFC 9112 §3.2: exactly one Host, valid, and a 1.1 request must have
     * it; checked whatever the target's form, as §3.2 says.
     */
    if (sum.hosts > 1 || (v11 && sum.hosts == 0) || sum.bad_host) {
        return PCFW_HTTP_E_BAD;
    }
    req->has_host = sum.hosts == 1;

    /*
     * RFC 9110 §10.1.1: an HTTP/1.0 request's expectation is ignored;
     * a 1.1 one we cannot meet is a 417.
     */
    if (v11 && sum.expect_lines) {
        if (sum.expect_other) {
            return PCFW_HTTP_E_EXPECTATION;
        }
        req->expect_continue = true;
    }

    req->conn_close = sum.conn_close;
    req->conn_keepalive = sum.conn_keepalive;
    req->conn_upgrade = sum.conn_upgrade;
    req->keep_alive = !sum.conn_close && (v11 || sum.conn_keepalive);
    return 0;
}

/* ---- response head ----------------------------------------------------- */

/*
 * status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ] (RFC 9112 §4);
 * like nginx we also take a status code ending the line with no SP.
 */
static int parse_status_line(const uint8_t *b, size_t s, size_t e,
                             struct pcfw_http_response *resp)
{
    size_t i;
    int rc;

    if (e - s < 8) {
        return PCFW_HTTP_E_BAD;
    }
    /* "HTTP/2.0 200" is a version we refuse, "HTTP/1.10 200" is garbage. */
    rc = parse_version(b + s, 8, &resp->version_major, &resp->version_minor);
    if (rc == PCFW_HTTP_E_BAD || e - s < 12 || b[s + 8] != ' ') {
        return PCFW_HTTP_E_BAD;
    }
    if (rc) {
        return rc;
    }
    i = s + 9;
    if (!is_digit(b[i]) || !is_digit(b[i + 1]) || !is_digit(b[i + 2])
        || b[i] == '0') {
        return PCFW_HTTP_E_BAD;
    }
    resp->status = (uint16_t)((b[i] - '0') * 100 + (b[i + 1] - '0') * 10
                              + (b[i + 2] - '0'));
    i += 3;
    if (i == e) {
        resp->reason_off = (uint16_t)i;
        return 0;
    }
    if (b[i] != ' ') {
        return PCFW_HTTP_E_BAD;
    }
    resp->reason_off = (uint16_t)++i;
    resp->reason_len = (uint16_t)(e - i);
    for (; i < e; i++) {
        if (!is_text(b[i])) {
            return PCFW_HTTP_E_BAD;
        }
    }
    return 0;
}

int pcfw_http_parse_response(const uint8_t *head, size_t len,
                             int request_method,
                             struct pcfw_http_response *resp)
{
    struct hdr_sum sum;
    size_t pos = 0, eol, next;
    unsigned st;
    bool v11;
    int rc;

    memset(resp, 0, sizeof(*resp));
    resp->content_length = -1;
    if (len > PCFW_HTTP_HEAD_MAX) {
        return PCFW_HTTP_E_HEAD_TOO_LARGE;
    }

    rc = start_line(head, len, &pos, &eol, &next);
    if (rc) {
        return rc;
    }
    rc = parse_status_line(head, pos, eol, resp);
    if (rc) {
        return rc;
    }
    rc = parse_fields(head, len, next, resp->fields, PCFW_HTTP_MAX_RESP_FIELDS,
                      &resp->nfields, &sum);
    if (rc) {
        return rc;
    }
    st = resp->status;
    v11 = resp->version_minor == 1;
    if (sum.conn_names_framing) {
        return PCFW_HTTP_E_BAD;     /* as for requests: see there */
    }

    /*
     * RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty
     * framing; with Content-Length it is ambiguous.  Both are refused
     * whatever the status, as nginx's upstream module does.
     */
    if (sum.te_lines && (!v11 || sum.content_length >= 0)) {
        return PCFW_HTTP_E_BAD;
    }
    /* Likewise whatever the status: the field goes on to the client. */
    if (te_verdict(&sum) == TE_INVALID) {
        return PCFW_HTTP_E_BAD;
    }
    resp->content_length = sum.content_length;
    resp->chunked = te_verdict(&sum) == TE_CHUNKED;
    resp->conn_close = sum.conn_close;
    resp->conn_keepalive = sum.conn_keepalive;
    resp->conn_upgrade = sum.conn_upgrade;
    resp->keep_alive = !sum.conn_close && (v11 || sum.conn_keepalive);

    /* Decided once, here (RFC 9112 §6.3). */
    if (st == 101 || (request_method == PCFW_HTTP_M_CONNECT
                      && st >= 200 && st < 300)) {
        resp->framing = PCFW_HTTP_BODY_CLOSE;
        resp->tunnel = true;
    } else if (request_method == PCFW_HTTP_M_HEAD || st < 200 || st == 204
               || st == 304) {
        resp->framing = PCFW_HTTP_BODY_NONE;
        resp->interim = st < 200;
    } else if (resp->chunked) {
        resp->framing = PCFW_HTTP_BODY_CHUNKED;
    } else if (sum.te_lines) {
        resp->framing = PCFW_HTTP_BODY_CLOSE;   /* §6.3 point 4 */
    } else if (sum.content_length >= 0) {
        resp->framing = PCFW_HTTP_BODY_LENGTH;
    } else {
        resp->framing = PCFW_HTTP_BODY_CLOSE;
    }
    if (resp->framing == PCFW_HTTP_BODY_CLOSE) {
        resp->keep_alive = false;
    }
    return 0;
}

/* ---- chunked bodies ---------------------------------------------------- */

enum {
    sw_chunk_start = 0,     /* first hex digit of a chunk size */
    sw_chunk_size,          /* more hex digits */
    sw_chunk_bws,           /* BWS after size or extension: ';' must come */
    sw_ext_name_start,      /* after ';': BWS, then a name */
    sw_ext_name,
    sw_ext_name_bws,        /* BWS after a name: '=' or ';' must come */
    sw_ext_val_start,       /* after '=': BWS, then a token or DQUOTE */
    sw_ext_val_token,
    sw_ext_val_quoted,
    sw_ext_val_qpair,       /* after a backslash inside the quotes */
    sw_ext_val_end,         /* after the closing DQUOTE */
    sw_chunk_size_lf,       /* CR of the size line: LF must follow */
    sw_chunk_data,
    sw_chunk_data_cr,       /* data done: CR must follow */
    sw_chunk_data_lf,
    sw_trailer_start,       /* start of a trailer line or of the final CRLF */
    sw_trailer_name,
    sw_trailer_value,
    sw_trailer_lf,          /* CR of a trailer line: LF must follow */
    sw_end_lf,              /* CR of the final line: LF must follow */
    sw_done,
};

void pcfw_http_chunked_init(struct pcfw_http_chunked *c)
{
    memset(c, 0, sizeof(*c));
    c->state = sw_chunk_start;
}

bool pcfw_http_chunked_done(const struct pcfw_http_chunked *c)
{
    return c->state == sw_done;
}

/* qdtext of RFC 9110 §5.6.4. */
static inline bool is_qdtext(uint8_t c)
{
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b)
           || (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

/*
 * The size line ends (CR or the start of extensions): the size is known, so
 * the body limit is checked now, before any of its data arrives.
 */
static int chunk_size_known(struct pcfw_http_chunked *c, uint64_t max_body)
{
    if (c->size_left > max_body - c->body_bytes) {
        return PCFW_HTTP_E_BODY_TOO_LARGE;
    }
    return 0;
}

/*
 * The decoder proper.  With @data non-NULL it stops right after a run of
 * chunk data and reports the run's length there (the run is the last
 * *@data of the *@used bytes); otherwise it runs to the end of @p.
 */
static int chunked_feed(struct pcfw_http_chunked *c, const uint8_t *p,
                        size_t len, size_t *used, size_t *data,
                        uint64_t max_body)
{
    uint8_t state = c->state;
    size_t i = 0;
    int rc = 0;

    *used = 0;
    if (data) {
        *data = 0;
    }
    if (c->err) {
        return c->err;
    }
    if (state == sw_done) {
        return 1;
    }

    /*
     * Invariants: body_bytes <= max_body; in sw_chunk_data, size_left > 0
     * and body_bytes + size_left <= max_body.
     */
    while (i < len) {
        uint8_t ch = p[i];

        if (state <= sw_ext_val_end) {
            /* A size line: bounded so extensions cannot run forever. */
            if (++c->line_len > PCFW_HTTP_MAX_CHUNK_LINE) {
                rc = PCFW_HTTP_E_BAD;
                goto fail;
            }
        } else if (state >= sw_trailer_name && state <= sw_trailer_lf) {
            if (++c->trailer_len > PCFW_HTTP_MAX_TRAILER) {
                rc = PCFW_HTTP_E_HEAD_TOO_LARGE;
                goto fail;
            }
        }

        switch (state) {
        case sw_chunk_start:
        case sw_chunk_size: {
            int d = hex_val(ch);

            if (d >= 0) {
                /* Overflow is checked before the digit goes in. */
                if (c->size_left > (PCFW_HTTP_MAX_CHUNK_SIZE >> 4)) {
                    rc = PCFW_HTTP_E_BAD;
                    goto fail;
                }
                c->size_left = (c->size_left << 4) | (uint64_t)d;
                state = sw_chunk_size;
                break;
            }
            if (state == sw_chunk_start) {
                rc = PCFW_HTTP_E_BAD;   /* no digits: whitespace, sign, junk */
                goto fail;
            }
            rc = chunk_size_known(c, max_body);
            if (rc) {
                goto fail;
            }
            if (ch == '\r') {
                state = sw_chunk_size_lf;
            } else if (ch == ';') {
                state = sw_ext_name_start;
            } else if (is_ows(ch)) {
                state = sw_chunk_bws;   /* only allowed before ';' */
            } else {
                rc = PCFW_HTTP_E_BAD;   /* bare LF included */
                goto fail;
            }
            break;
        }

        case sw_chunk_bws:
            if (ch == ';') {
                state = sw_ext_name_start;
            } else if (!is_ows(ch)) {
                rc = PCFW_HTTP_E_BAD;   /* e.g. "5 \r\n" */
                goto fail;
            }
            break;

        case sw_ext_name_start:
            if (is_tchar(ch)) {
                state = sw_ext_name;
            } else if (!is_ows(ch)) {
                rc = PCFW_HTTP_E_BAD;
                goto fail;
            }
            break;

        case sw_ext_name:
        case sw_ext_name_bws:
            if (ch == '=') {
                state = sw_ext_val_start;
            } else if (ch == ';') {
                state = sw_ext_name_start;
            } else if (is_ows(ch)) {
                state = sw_ext_name_bws;
            } else if (ch == '\r' && state == sw_ext_name) {
                state = sw_chunk_size_lf;
            } else if (!is_tchar(ch) || state != sw_ext_name) {
                rc = PCFW_HTTP_E_BAD;
                goto fail;
            }
            break;

        case sw_ext_val_start:
            if (ch == '"') {
                state = sw_ext_val_quoted;
            } else if (is_tchar(ch)) {
                state = sw_ext_val_token;
            } else if (!is_ows(ch)) {
                rc = PCFW_HTTP_E_BAD;
                goto fail;
            }
            break;

        case sw_ext_val_token:
        case sw_ext_val_end:
            if (ch == '\r') {
                state = sw_chunk_size_lf;
            } else if (ch == ';') {
                state = sw_ext_name_start;
            } else if (is_ows(ch)) {
                state = sw_chunk_bws;
            } else if (!is_tchar(ch) || state != sw_ext_val_token) {
                rc = PCFW_HTTP_E_BAD;
                goto fail;
            }
            break;

        case sw_ext_val_quoted:
            if (ch == '"') {
                state = sw_ext_val_end;
            } else if (ch == '\\') {
                state = sw_ext_val_qpair;
            } else if (!is_qdtext(ch)) {
                rc = PCFW_HTTP_E_BAD;   /* CR, LF, other CTLs */
                goto fail;
            }
            break;

        case sw_ext_val_qpair:
            if (!is_text(ch)) {
                rc = PCFW_HTTP_E_BAD;
                goto fail;
            }
            state = sw_ext_val_quoted;
            break;

        case sw_chunk_size_lf:
            if (ch != '\n') {
                rc = PCFW_HTTP_E_BAD;
                goto fail;
            }
            c->line_len = 0;
            state = c->size_left ? sw_chunk_data : sw_trailer_start;
            break;

        case sw_chunk_data: {
            size_t n = len - i;

            if (n > c->size_left) {
                n = (size_t)c->size_left;
            }
            c->size_left -= n;
            c->body_bytes += n;
            i += n;
            if (c->size_left == 0) {
                state = sw_chunk_data_cr;
            }
            if (data) {
                c->state = state;
                *data = n;
                *used = i;
                return 0;
            }
            continue;           /* i already advanced */
        }

        case sw_chunk_data_cr:
            if (ch != '\r') {
                rc = PCFW_HTTP_E_BAD;   /* data longer than its size, or LF */
                goto fail;
            }
            state = sw_chunk_data_lf;
            break;

        case sw_chunk_data_lf:
            if (ch != '\n') {
                rc = PCFW_HTTP_E_BAD;
                goto fail;
            }
            state = sw_chunk_start;
            break;

        case sw_trailer_start:
            if (ch == '\r') {
                state = sw_end_lf;
                break;
            }
            if (!is_tchar(ch)) {
                rc = PCFW_HTTP_E_BAD;   /* obs-fold, bare LF, junk */
                goto fail;
            }
            /* This byte starts a field line: count it with the rest. */
            if (++c->trailer_len > PCFW_HTTP_MAX_TRAILER) {
                rc = PCFW_HTTP_E_HEAD_TOO_LARGE;
                goto fail;
            }
            state = sw_trailer_name;
            break;

        case sw_trailer_name:
            if (ch == ':') {
                state = sw_trailer_value;
            } else if (!is_tchar(ch)) {
                rc = PCFW_HTTP_E_BAD;   /* whitespace before the colon too */
                goto fail;
            }
            break;

        case sw_trailer_value:
            if (ch == '\r') {
                state = sw_trailer_lf;
            } else if (!is_text(ch)) {
                rc = PCFW_HTTP_E_BAD;
                goto fail;
            }
            break;

        case sw_trailer_lf:
            if (ch != '\n') {
                rc = PCFW_HTTP_E_BAD;
                goto fail;
            }
            state = sw_trailer_start;
            break;

        case sw_end_lf:
            if (ch != '\n') {
                rc = PCFW_HTTP_E_BAD;
                goto fail;
            }
            c->state = sw_done;
            *used = i + 1;
            return 1;
        }
        i++;
    }

    c->state = state;
    *used = len;
    return 0;

fail:
    c->state = state;
    c->err = (int8_t)rc;
    *used = i;
    return rc;
}

int pcfw_http_chunked_feed(struct pcfw_http_chunked *c, const uint8_t *p,
                           size_t len, size_t *used, uint64_t max_body)
{
    return chunked_feed(c, p, len, used, NULL, max_body);
}

int pcfw_http_chunked_feed_data(struct pcfw_http_chunked *c, const uint8_t *p,
                                size_t len, size_t *used, size_t *data,
                                uint64_t max_body)
{
    return chunked_feed(c, p, len, used, data, max_body);
}
