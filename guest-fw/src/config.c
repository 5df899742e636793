/*
 * proxycard firmware: the card configuration and its text format
 * (docs/config.md).
 *
 * One directive per line, words separated by blanks, '#' starts a comment.
 * The parser allocates nothing and never reads past @len; every error names
 * its line.  Directives apply in order on top of what @cfg already holds, so
 * a platform can set defaults (MACs, addresses of its own networks) first.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "pcfw.h"
#include "sec_parse.h"

#define MAX_WORDS   8
/* A word holds a SHA-256 in hex (64 characters) and its NUL. */
#define MAX_WORD    80

struct line {
    unsigned no;
    int nwords;
    char word[MAX_WORDS][MAX_WORD];
};

void pcfw_config_defaults(struct pcfw_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port[PCFW_PORT_NIC].mtu = 1500;
    cfg->port[PCFW_PORT_BUS].mtu = 1500;
    cfg->pool_size = 4;
    cfg->max_clients = 10000;
    cfg->max_pass_clients = 1000;
    cfg->max_header = 16 * 1024;
    cfg->max_body = 1024 * 1024;
    cfg->conn_buffer = 1024 * 1024;
    cfg->mem_window_pct = 75;
    cfg->mem_refuse_pct = 90;
    cfg->header_timeout_ms = 30 * 1000;
    cfg->body_timeout_ms = 60 * 1000;
    cfg->server_timeout_ms = 60 * 1000;
    cfg->server_read_timeout_ms = 60 * 1000;
    cfg->send_timeout_ms = 60 * 1000;
    cfg->shed_timeout_ms = 5 * 1000;
    cfg->idle_timeout_ms = 60 * 1000;
    cfg->pool_idle_timeout_ms = 4 * 1000;   /* below Apache's and Node's 5 s */
    cfg->connect_timeout_ms = 5 * 1000;
    cfg->pass_idle_timeout_ms = 60 * 60 * 1000;
    cfg->pass_keepalive_ms = 2 * 60 * 1000;
    cfg->forwarded = true;
    cfg->sec.sources = 16384;
    cfg->sec.half_open = 128;
}

static int fail(char *err, size_t errlen, const struct line *l,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, const struct line *l,
                const char *fmt, ...)
{
    va_list ap;
    int n = 0;

    if (errlen) {
        n = snprintf(err, errlen, "line %u: ", l->no);
        if (n < 0 || (size_t)n >= errlen) {
            n = 0;
        }
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Decimal without sign; false on overflow of @max or on junk. */
static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (!is_digit(*s)) {
        return false;
    }
    for (; is_digit(*s); s++) {
        unsigned d = (unsigned)(*s - '0');

        if (v > (max - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return *s == '\0';
}

/* N[k|m|g] (powers of 1024). */
static bool parse_size(const char *s, uint64_t max, uint64_t *out)
{
    char num[MAX_WORD];
    size_t n = strlen(s);
    uint64_t mult = 1, v;

    if (n == 0 || n >= sizeof(num)) {
        return false;
    }
    memcpy(num, s, n + 1);
    switch (num[n - 1]) {
    case 'k': case 'K': mult = 1ull << 10; break;
    case 'm': case 'M': mult = 1ull << 20; break;
    case 'g': case 'G': mult = 1ull << 30; break;
    default: break;
    }
    if (mult != 1) {
        num[n - 1] = '\0';
    }
    if (!parse_uint(num, max / mult, &v)) {
        return false;
    }
    *out = v * mult;
    return true;
}

/* N(ms|s|m); a bare number is seconds. */
static bool parse_duration(const char *s, uint32_t *out_ms)
{
    char num[MAX_WORD];
    size_t n = strlen(s);
    uint64_t mult = 1000, v;

    if (n == 0 || n >= sizeof(num)) {
        return false;
    }
    memcpy(num, s, n + 1);
    if (n > 2 && strcmp(num + n - 2, "ms") == 0) {
        mult = 1;
        num[n - 2] = '\0';
    } else if (num[n - 1] == 's') {
        num[n - 1] = '\0';
    } else if (num[n - 1] == 'm') {
        mult = 60 * 1000;
        num[n - 1] = '\0';
    }
    if (!parse_uint(num, UINT32_MAX / mult, &v) || v == 0) {
        return false;
    }
    *out_ms = (uint32_t)(v * mult);
    return true;
}

/* Dotted quad to network byte order. */
static bool parse_ipv4(const char *s, uint32_t *out)
{
    uint8_t b[4];

    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        int digits = 0;

        while (is_digit(*s) && digits < 4) {
            v = v * 10 + (uint64_t)(*s++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255 || *s != (i < 3 ? '.' : '\0')) {
            return false;
        }
        b[i] = (uint8_t)v;
        if (i < 3) {
            s++;
        }
    }
    memcpy(out, b, 4);
    return true;
}

/* A.B.C.D/N */
static bool parse_cidr(const char *s, uint32_t *ip, uint32_t *mask)
{
    char addr[MAX_WORD];
    const char *slash = strchr(s, '/');
    uint64_t bits;
    uint32_t m;

    if (!slash || (size_t)(slash - s) >= sizeof(addr)) {
        return false;
    }
    memcpy(addr, s, (size_t)(slash - s));
    addr[slash - s] = '\0';
    if (!parse_ipv4(addr, ip) || !parse_uint(slash + 1, 32, &bits) ||
        bits == 0 || bits > 30) {
        return false;
    }
    m = (uint32_t)(0xffffffffull << (32 - bits));
    /* to network byte order, independent of the host's */
    {
        uint8_t b[4] = { m >> 24, m >> 16, m >> 8, m };

        memcpy(mask, b, 4);
    }
    return true;
}

static int do_address(struct pcfw_config *cfg, const struct line *l,
                      char *err, size_t errlen)
{
    enum pcfw_port port = strcmp(l->word[0], "nic") == 0 ? PCFW_PORT_NIC
                                                         : PCFW_PORT_BUS;
    struct pcfw_port_config *pc = &cfg->port[port];

    if (l->nwords < 3 || strcmp(l->word[1], "address") != 0) {
        return fail(err, errlen, l, "expected '%s address A.B.C.D/N [gateway "
                    "A.B.C.D]'%s", l->word[0],
                    port == PCFW_PORT_NIC ? " or 'nic address dhcp'" : "");
    }
    if (strcmp(l->word[2], "dhcp") == 0) {
        if (port != PCFW_PORT_NIC || l->nwords != 3) {
            return fail(err, errlen, l, "only 'nic address dhcp' takes its "
                        "address from DHCP");
        }
        pc->dhcp = true;
        pc->ip = pc->netmask = pc->gateway = 0;
        return 0;
    }
    if (!parse_cidr(l->word[2], &pc->ip, &pc->netmask)) {
        return fail(err, errlen, l, "'%s' is not an address with a prefix "
                    "length (A.B.C.D/N, N from 1 to 30)", l->word[2]);
    }
    pc->dhcp = false;
    pc->gateway = 0;
    if (l->nwords == 5 && strcmp(l->word[3], "gateway") == 0) {
        if (!parse_ipv4(l->word[4], &pc->gateway)) {
            return fail(err, errlen, l, "'%s' is not an IPv4 address",
                        l->word[4]);
        }
    } else if (l->nwords != 3) {
        return fail(err, errlen, l, "unexpected '%s' (only 'gateway "
                    "A.B.C.D' may follow the address)", l->word[3]);
    }
    return 0;
}

static int do_listen(struct pcfw_config *cfg, const struct line *l,
                     char *err, size_t errlen)
{
    struct pcfw_listener li = { 0 };
    uint64_t port, sport;
    int w = 3;                  /* the next word after the proxy's name */

    if (l->nwords < 3 || l->nwords > 6) {
        return fail(err, errlen, l, "expected 'listen PORT http|pass "
                    "[SERVER_PORT] [proxy-protocol v1|v2]'");
    }
    if (!parse_uint(l->word[1], 65535, &port) || port == 0) {
        return fail(err, errlen, l, "'%s' is not a port (1 to 65535)",
                    l->word[1]);
    }
    if (strcmp(l->word[2], "http") == 0) {
        li.proxy = PCFW_PROXY_HTTP;
    } else if (strcmp(l->word[2], "pass") == 0) {
        li.proxy = PCFW_PROXY_PASS;
    } else {
        return fail(err, errlen, l, "unknown proxy '%s' (http or pass)",
                    l->word[2]);
    }
    sport = port;
    if (w < l->nwords && strcmp(l->word[w], "proxy-protocol") != 0) {
        if (!parse_uint(l->word[w], 65535, &sport) || sport == 0) {
            return fail(err, errlen, l, "'%s' is not a server port "
                        "(1 to 65535)", l->word[w]);
        }
        w++;
    }
    if (w < l->nwords) {
        if (strcmp(l->word[w], "proxy-protocol") != 0) {
            return fail(err, errlen, l, "unexpected '%s' (expected "
                        "'proxy-protocol v1|v2')", l->word[w]);
        }
        /*
         * An HTTP listener's server connections are pooled: one carries
         * many clients' requests, so no one client can be named at its
         * start; the client goes in each request's X-Forwarded-For and
         * Forwarded fields instead (`forwarded on`).
         */
        if (li.proxy != PCFW_PROXY_PASS) {
            return fail(err, errlen, l, "'proxy-protocol' is for pass "
                        "listeners only: an HTTP listener's pooled server "
                        "connections carry many clients, and 'forwarded on' "
                        "names each request's client (X-Forwarded-For, "
                        "Forwarded)");
        }
        if (w + 1 >= l->nwords) {
            return fail(err, errlen, l, "'proxy-protocol' needs a version "
                        "(v1 or v2)");
        }
        if (strcmp(l->word[w + 1], "v1") == 0) {
            li.proxy_protocol = PCFW_PP_V1;
        } else if (strcmp(l->word[w + 1], "v2") == 0) {
            li.proxy_protocol = PCFW_PP_V2;
        } else {
            return fail(err, errlen, l, "unknown PROXY protocol version "
                        "'%s' (v1 or v2)", l->word[w + 1]);
        }
        w += 2;
    }
    if (w < l->nwords) {
        return fail(err, errlen, l, "unexpected '%s' after the PROXY "
                    "protocol version", l->word[w]);
    }
    for (unsigned i = 0; i < cfg->n_listeners; i++) {
        if (cfg->listeners[i].port == port) {
            return fail(err, errlen, l, "port %u is already listened on",
                        (unsigned)port);
        }
    }
    if (cfg->n_listeners == PCFW_MAX_LISTENERS) {
        return fail(err, errlen, l, "more than %d listeners",
                    PCFW_MAX_LISTENERS);
    }
    li.port = (uint16_t)port;
    li.server_port = (uint16_t)sport;
    cfg->listeners[cfg->n_listeners++] = li;
    return 0;
}

static int do_timeout(struct pcfw_config *cfg, const struct line *l,
                      char *err, size_t errlen)
{
    static const struct {
        const char *name;
        size_t off;
        bool may_be_off;        /* "off" is 0: no timeout, no probes */
    } timeouts[] = {
        { "header", offsetof(struct pcfw_config, header_timeout_ms), false },
        /* The name before the head and body got a timeout each. */
        { "request", offsetof(struct pcfw_config, header_timeout_ms), false },
        { "body", offsetof(struct pcfw_config, body_timeout_ms), false },
        { "server", offsetof(struct pcfw_config, server_timeout_ms), false },
        { "server-read", offsetof(struct pcfw_config, server_read_timeout_ms),
          false },
        { "send", offsetof(struct pcfw_config, send_timeout_ms), false },
        { "shed", offsetof(struct pcfw_config, shed_timeout_ms), true },
        { "idle", offsetof(struct pcfw_config, idle_timeout_ms), false },
        { "pool-idle", offsetof(struct pcfw_config, pool_idle_timeout_ms),
          false },
        { "connect", offsetof(struct pcfw_config, connect_timeout_ms), false },
        { "pass-idle", offsetof(struct pcfw_config, pass_idle_timeout_ms),
          true },
        { "pass-keepalive", offsetof(struct pcfw_config, pass_keepalive_ms),
          true },
    };

    if (l->nwords != 3) {
        return fail(err, errlen, l, "expected 'timeout "
                    "header|body|server|server-read|send|shed|idle|pool-idle|connect|"
                    "pass-idle|pass-keepalive DURATION'");
    }
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
        if (strcmp(l->word[1], timeouts[i].name) == 0) {
            uint32_t ms = 0;

            if (timeouts[i].may_be_off && strcmp(l->word[2], "off") == 0) {
                /* ms stays 0 */
            } else if (!parse_duration(l->word[2], &ms)) {
                return fail(err, errlen, l, "'%s' is not a duration (e.g. "
                            "500ms, 30s, 2m)", l->word[2]);
            }
            memcpy((char *)cfg + timeouts[i].off, &ms, sizeof(ms));
            return 0;
        }
    }
    return fail(err, errlen, l, "unknown timeout '%s'", l->word[1]);
}

/* Directives taking one number or size: name, field, limits, kind. */
struct num_directive {
    const char *name;
    size_t off;
    unsigned width;         /* 4 or 8 bytes */
    uint64_t min, max;
    bool size;              /* accepts k/m/g */
};

static const struct num_directive num_directives[] = {
    { "pool", offsetof(struct pcfw_config, pool_size), 4, 1, 1024, false },
    { "max-clients", offsetof(struct pcfw_config, max_clients), 4, 1,
      1000000, false },
    { "max-pass-clients", offsetof(struct pcfw_config, max_pass_clients), 4,
      0, 1000000, false },
    /* The parsers' limit, PCFW_HTTP_HEAD_MAX: field offsets are 16 bits. */
    { "max-header", offsetof(struct pcfw_config, max_header), 4, 256,
      65535, true },
    { "max-body", offsetof(struct pcfw_config, max_body), 8, 0,
      1ull << 40, true },
    { "buffer", offsetof(struct pcfw_config, conn_buffer), 8, 4096,
      1ull << 40, true },
    { "mem-window", offsetof(struct pcfw_config, mem_window_pct), 4, 1, 100,
      false },
    { "mem-refuse", offsetof(struct pcfw_config, mem_refuse_pct), 4, 1, 100,
      false },
    { "limit-half-open", offsetof(struct pcfw_config, sec.half_open), 4, 1,
      1024, false },
    { "sources", offsetof(struct pcfw_config, sec.sources), 4, 64, 1000000,
      false },
};

static int do_number(struct pcfw_config *cfg, const struct line *l,
                     const struct num_directive *d, char *err, size_t errlen)
{
    uint64_t v;
    bool ok;

    if (l->nwords != 2) {
        return fail(err, errlen, l, "'%s' takes one %s", d->name,
                    d->size ? "size" : "number");
    }
    ok = d->size ? parse_size(l->word[1], d->max, &v)
                 : parse_uint(l->word[1], d->max, &v);
    if (!ok || v < d->min || v > d->max) {
        return fail(err, errlen, l, "'%s' needs a %s from %llu to %llu, not "
                    "'%s'", d->name, d->size ? "size" : "number",
                    (unsigned long long)d->min, (unsigned long long)d->max,
                    l->word[1]);
    }
    if (d->width == 4) {
        uint32_t v32 = (uint32_t)v;

        memcpy((char *)cfg + d->off, &v32, sizeof(v32));
    } else {
        memcpy((char *)cfg + d->off, &v, sizeof(v));
    }
    return 0;
}

/* ---- the security proxy's directives (docs/security.md) ---- */

/* A.B.C.D, A.B.C.D/N (0-32, host bits ignored) or "all". */
static bool parse_acl_net(const char *s, uint32_t *net, uint32_t *mask)
{
    char addr[MAX_WORD];
    const char *slash = strchr(s, '/');
    uint64_t bits = 32;
    uint32_t m;

    if (strcmp(s, "all") == 0) {
        *net = *mask = 0;
        return true;
    }
    if (slash) {
        if ((size_t)(slash - s) >= sizeof(addr) ||
            !parse_uint(slash + 1, 32, &bits)) {
            return false;
        }
        memcpy(addr, s, (size_t)(slash - s));
        addr[slash - s] = '\0';
        s = addr;
    }
    if (!parse_ipv4(s, net)) {
        return false;
    }
    m = bits ? (uint32_t)(0xffffffffull << (32 - bits)) : 0;
    {
        uint8_t b[4] = { m >> 24, m >> 16, m >> 8, m };

        memcpy(mask, b, 4);
    }
    *net &= *mask;
    return true;
}

/* The optional trailing "port P" (and, for auth, "path PREFIX") words. */
static bool parse_rule_tail(const struct line *l, int from, uint16_t *port,
                            char *path, size_t pathlen)
{
    for (int i = from; i < l->nwords; i += 2) {
        uint64_t v;

        if (i + 1 >= l->nwords) {
            return false;
        }
        if (strcmp(l->word[i], "port") == 0 &&
            parse_uint(l->word[i + 1], 65535, &v) && v > 0) {
            *port = (uint16_t)v;
        } else if (path && strcmp(l->word[i], "path") == 0 &&
                   l->word[i + 1][0] == '/' &&
                   strlen(l->word[i + 1]) < pathlen) {
            strcpy(path, l->word[i + 1]);
        } else {
            return false;
        }
    }
    return true;
}

/* N/s or N/m in @word into @r (burst 1): false if it is not one. */
static bool parse_rate(const char *word, struct pcfw_rate_limit *r)
{
    char num[MAX_WORD];
    const char *slash = strchr(word, '/');
    uint64_t n;
    size_t len;

    if (!slash || (slash[1] != 's' && slash[1] != 'm') || slash[2] != '\0') {
        return false;
    }
    len = (size_t)(slash - word);
    memcpy(num, word, len);
    num[len] = '\0';
    if (!parse_uint(num, 1000000, &n) || n == 0) {
        return false;
    }
    r->milli_per_s = slash[1] == 's' ? (uint32_t)(n * 1000)
                                     : (uint32_t)((n * 1000 + 59) / 60);
    r->burst = 1;
    return true;
}

/*
 * limit-conn N [port P], limit-rate and limit-req N/s|N/m [burst B]
 * [port P].  A later line of the same kind and port replaces an earlier
 * one (limit-conn 0 removes it), so a limit set twice means what it did
 * when there was one of each.
 */
static int do_limit(struct pcfw_security_config *sc, const struct line *l,
                    enum pcfw_limit_kind kind, char *err, size_t errlen)
{
    struct pcfw_limit_rule r = { .kind = (uint8_t)kind, .line = l->no };
    unsigned k;
    uint64_t v;
    bool ok = l->nwords >= 2;

    if (ok && kind == PCFW_LIMIT_CONN) {
        ok = parse_uint(l->word[1], 1000000, &v);
        r.conns = (uint32_t)v;
    } else if (ok) {
        ok = parse_rate(l->word[1], &r.rate);
    }
    for (int i = 2; ok && i < l->nwords; i += 2) {
        ok = i + 1 < l->nwords;
        if (ok && kind != PCFW_LIMIT_CONN &&
            strcmp(l->word[i], "burst") == 0) {
            ok = parse_uint(l->word[i + 1], 1000000, &v) && v > 0;
            r.rate.burst = (uint32_t)v;
        } else if (ok && strcmp(l->word[i], "port") == 0) {
            ok = parse_uint(l->word[i + 1], 65535, &v) && v > 0;
            r.port = (uint16_t)v;
        } else {
            ok = false;
        }
    }
    if (!ok) {
        return fail(err, errlen, l, kind == PCFW_LIMIT_CONN
                    ? "expected 'limit-conn N [port P]' (N from 0 to 1000000)"
                    : "expected '%s N/s|N/m [burst B] [port P]' (N and B "
                      "from 1 to 1000000)", l->word[0]);
    }
    for (k = 0; k < sc->n_limits; k++) {
        if (sc->limits[k].kind == r.kind && sc->limits[k].port == r.port) {
            break;
        }
    }
    if (kind == PCFW_LIMIT_CONN && r.conns == 0) {
        if (k < sc->n_limits) {
            memmove(&sc->limits[k], &sc->limits[k + 1],
                    (sc->n_limits - k - 1) * sizeof(sc->limits[0]));
            sc->n_limits--;
        }
        return 0;
    }
    if (k == PCFW_MAX_LIMITS) {
        return fail(err, errlen, l, "more than %d limit-conn/limit-rate/"
                    "limit-req rules", PCFW_MAX_LIMITS);
    }
    sc->limits[k] = r;
    if (k == sc->n_limits) {
        sc->n_limits++;
    }
    return 0;
}

static bool parse_hex(const char *s, uint8_t *out, size_t max, size_t *n)
{
    size_t len = strlen(s);

    if (len % 2 || len / 2 > max) {
        return false;
    }
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v = 0;

        for (int j = 0; j < 2; j++) {
            char c = s[2 * i + (size_t)j];

            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= (unsigned)(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                v |= (unsigned)(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                v |= (unsigned)(c - 'A' + 10);
            } else {
                return false;
            }
        }
        out[i] = (uint8_t)v;
    }
    *n = len / 2;
    return true;
}

/* Printable, no blank, no quote or backslash (a realm goes in quotes). */
static bool rule_word_ok(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '"' ||
            *s == '\\') {
            return false;
        }
    }
    return true;
}

/*
 * Make the prefix @p (NUL-terminated, at most PCFW_RULE_VALUE) canonical in
 * place, as requests are (sec_parse.h); false if it is not already a
 * plain one (escapes, ';', ':' or '#': it would not mean what it shows).
 * NULL: nothing to do.
 */
static bool canonical_prefix(char *p)
{
    char out[PCFW_RULE_VALUE + 2];
    bool bad;

    if (!p) {
        return true;
    }
    if (strpbrk(p, "%;:#")) {
        return false;
    }
    pcfw_sec_norm_path((const uint8_t *)p, strlen(p), out, &bad);
    if (bad || strlen(out) >= PCFW_RULE_VALUE) {
        return false;
    }
    strcpy(p, out);
    return true;
}

static int do_security(struct pcfw_config *cfg, const struct line *l,
                       char *err, size_t errlen)
{
    struct pcfw_security_config *sc = &cfg->sec;
    const char *w = l->word[0];

    if (strcmp(w, "allow") == 0 || strcmp(w, "deny") == 0) {
        struct pcfw_acl_rule r = { .allow = w[0] == 'a', .line = l->no };

        if (l->nwords < 2 || !parse_acl_net(l->word[1], &r.net, &r.mask) ||
            !parse_rule_tail(l, 2, &r.port, NULL, 0)) {
            return fail(err, errlen, l, "expected '%s A.B.C.D[/N]|all "
                        "[port P]'", w);
        }
        if (sc->n_acl == PCFW_MAX_ACL) {
            return fail(err, errlen, l, "more than %d allow/deny rules",
                        PCFW_MAX_ACL);
        }
        sc->acl[sc->n_acl++] = r;
        return 0;
    }
    if (strcmp(w, "limit-conn") == 0) {
        return do_limit(sc, l, PCFW_LIMIT_CONN, err, errlen);
    }
    if (strcmp(w, "limit-rate") == 0) {
        return do_limit(sc, l, PCFW_LIMIT_RATE, err, errlen);
    }
    if (strcmp(w, "limit-req") == 0) {
        return do_limit(sc, l, PCFW_LIMIT_REQ, err, errlen);
    }
    if (strcmp(w, "http-deny") == 0 || strcmp(w, "auth") == 0) {
        struct pcfw_http_rule r = { .line = l->no };
        bool deny = w[0] == 'h';
        const char *kind = l->nwords >= 3 ? l->word[1] : "";

        if (deny) {
            r.kind = strcmp(kind, "method") == 0 ? PCFW_RULE_DENY_METHOD
                   : strcmp(kind, "host") == 0 ? PCFW_RULE_DENY_HOST
                   : strcmp(kind, "path") == 0 && l->word[2][0] == '/'
                   ? PCFW_RULE_DENY_PATH : 0;
        } else {
            r.kind = strcmp(kind, "basic") == 0 ? PCFW_RULE_AUTH_BASIC
                   : strcmp(kind, "bearer") == 0 ? PCFW_RULE_AUTH_BEARER : 0;
            strcpy(r.path, "/");
        }
        if (!r.kind || strlen(l->word[2]) >= sizeof(r.value) ||
            !rule_word_ok(l->word[2]) ||
            !parse_rule_tail(l, 3, &r.port, deny ? NULL : r.path,
                             sizeof(r.path))) {
            return fail(err, errlen, l, deny
                        ? "expected 'http-deny method NAME|host NAME|path "
                          "/PREFIX [port P]'"
                        : "expected 'auth basic|bearer REALM [port P] "
                          "[path /PREFIX]'");
        }
        strcpy(r.value, l->word[2]);
        /*
         * A rule compares the request's canonical path, so its own prefix
         * is made canonical too ("/a//b" could never match as written);
         * a host rule compares names without a port.
         */
        if (!canonical_prefix(r.kind == PCFW_RULE_DENY_PATH ? r.value
                              : !deny ? r.path : NULL) ||
            (r.kind == PCFW_RULE_DENY_HOST && strchr(r.value, ':'))) {
            return fail(err, errlen, l, "'%s' is not a path prefix or host "
                        "name a request could match (no escapes, '#', ';' "
                        "or ':'; a host without port)", l->word[2]);
        }
        if (sc->n_rules == PCFW_MAX_HTTP_RULES) {
            return fail(err, errlen, l, "more than %d http-deny/auth rules",
                        PCFW_MAX_HTTP_RULES);
        }
        sc->rules[sc->n_rules++] = r;
        return 0;
    }
    if (strcmp(w, "user") == 0) {
        struct pcfw_user u = { 0 };
        size_t n, hn;

        if (l->nwords != 4 || strlen(l->word[1]) >= sizeof(u.name) ||
            strchr(l->word[1], ':') || !rule_word_ok(l->word[1]) ||
            !parse_hex(l->word[2], u.salt, sizeof(u.salt), &n) ||
            !parse_hex(l->word[3], u.hash, sizeof(u.hash), &hn) ||
            hn != sizeof(u.hash)) {
            return fail(err, errlen, l, "expected 'user NAME SALT HASH': a "
                        "name without ':', up to %d bytes of salt and the "
                        "SHA-256 of salt and password, in hex "
                        "(scripts/proxycard-passwd)", PCFW_SALT_MAX);
        }
        strcpy(u.name, l->word[1]);
        u.salt_len = (uint8_t)n;
        if (sc->n_users == PCFW_MAX_USERS) {
            return fail(err, errlen, l, "more than %d users", PCFW_MAX_USERS);
        }
        sc->users[sc->n_users++] = u;
        return 0;
    }
    if (strcmp(w, "token") == 0) {
        size_t hn;

        if (sc->n_tokens == PCFW_MAX_TOKENS) {
            return fail(err, errlen, l, "more than %d tokens", PCFW_MAX_TOKENS);
        }
        if (l->nwords != 2 ||
            !parse_hex(l->word[1], sc->tokens[sc->n_tokens], PCFW_HASH_LEN,
                       &hn) || hn != PCFW_HASH_LEN) {
            return fail(err, errlen, l, "expected 'token HASH': the SHA-256 "
                        "of the token, in hex (scripts/proxycard-passwd)");
        }
        sc->n_tokens++;
        return 0;
    }
    return 1;   /* not ours */
}

static int do_line(struct pcfw_config *cfg, const struct line *l,
                   char *err, size_t errlen)
{
    const char *w = l->word[0];

    if (strcmp(w, "nic") == 0 || strcmp(w, "bus") == 0) {
        return do_address(cfg, l, err, errlen);
    }
    if (strcmp(w, "server") == 0) {
        if (l->nwords != 2 || !parse_ipv4(l->word[1], &cfg->server_ip)) {
            return fail(err, errlen, l, "expected 'server A.B.C.D'");
        }
        return 0;
    }
    if (strcmp(w, "listen") == 0) {
        return do_listen(cfg, l, err, errlen);
    }
    if (strcmp(w, "timeout") == 0) {
        return do_timeout(cfg, l, err, errlen);
    }
    if (strcmp(w, "unmatched") == 0) {
        if (l->nwords == 2 && strcmp(l->word[1], "pass") == 0) {
            cfg->unmatched_pass = true;
        } else if (l->nwords == 2 && strcmp(l->word[1], "refuse") == 0) {
            cfg->unmatched_pass = false;
        } else {
            return fail(err, errlen, l, "expected 'unmatched pass|refuse'");
        }
        return 0;
    }
    if (strcmp(w, "forwarded") == 0) {
        if (l->nwords == 2 && strcmp(l->word[1], "on") == 0) {
            cfg->forwarded = true;
        } else if (l->nwords == 2 && strcmp(l->word[1], "off") == 0) {
            cfg->forwarded = false;
        } else {
            return fail(err, errlen, l, "expected 'forwarded on|off'");
        }
        return 0;
    }
    {
        int r = do_security(cfg, l, err, errlen);

        if (r <= 0) {
            return r;
        }
    }
    for (size_t i = 0; i < sizeof(num_directives) / sizeof(num_directives[0]);
         i++) {
        if (strcmp(w, num_directives[i].name) == 0) {
            return do_number(cfg, l, &num_directives[i], err, errlen);
        }
    }
    return fail(err, errlen, l, "unknown directive '%s'", w);
}

/*
 * The security proxy's HTTP rules guard a server port only if no
 * pass-through route reaches the same port around them: refuse a `pass`
 * listener to the server port of an HTTP listener the rules cover, and
 * `unmatched pass` when such a server port is not itself a card port (a
 * client would reach it raw).  docs/security.md.
 */
static int check_routes(const struct pcfw_config *cfg, char *err,
                        size_t errlen)
{
    const struct pcfw_security_config *sc = &cfg->sec;

    for (unsigned i = 0; i < cfg->n_listeners; i++) {
        const struct pcfw_listener *h = &cfg->listeners[i];
        bool guarded = false, listened = false;

        if (h->proxy != PCFW_PROXY_HTTP) {
            continue;
        }
        for (unsigned k = 0; k < sc->n_rules; k++) {
            guarded |= !sc->rules[k].port || sc->rules[k].port == h->port;
        }
        if (!guarded) {
            continue;
        }
        for (unsigned j = 0; j < cfg->n_listeners; j++) {
            const struct pcfw_listener *p = &cfg->listeners[j];

            listened |= p->port == h->server_port;
            if (p->proxy == PCFW_PROXY_PASS &&
                p->server_port == h->server_port) {
                snprintf(err, errlen, "'listen %u pass %u' reaches server "
                         "port %u around the http-deny/auth rules of card "
                         "port %u", p->port, p->server_port, h->server_port,
                         h->port);
                return -1;
            }
        }
        if (cfg->unmatched_pass && !listened) {
            snprintf(err, errlen, "'unmatched pass' lets a client reach "
                     "server port %u on card port %u, around the "
                     "http-deny/auth rules of card port %u: listen on %u "
                     "too, or 'unmatched refuse'", h->server_port,
                     h->server_port, h->port, h->server_port);
            return -1;
        }
    }
    return 0;
}

/*
 * Number the security rules 1, 2, ... in the order of their lines, all
 * kinds together (one rule per line): the numbers the log and the sec-rule-N
 * counters use.
 */
static void number_rules(struct pcfw_security_config *sc)
{
    uint16_t *no[PCFW_MAX_ACL + PCFW_MAX_LIMITS + PCFW_MAX_HTTP_RULES];
    uint32_t line[PCFW_MAX_ACL + PCFW_MAX_LIMITS + PCFW_MAX_HTTP_RULES];
    unsigned n = 0;

    for (unsigned i = 0; i < sc->n_acl; i++, n++) {
        no[n] = &sc->acl[i].no;
        line[n] = sc->acl[i].line;
    }
    for (unsigned i = 0; i < sc->n_limits; i++, n++) {
        no[n] = &sc->limits[i].no;
        line[n] = sc->limits[i].line;
    }
    for (unsigned i = 0; i < sc->n_rules; i++, n++) {
        no[n] = &sc->rules[i].no;
        line[n] = sc->rules[i].line;
    }
    for (unsigned i = 0; i < n; i++) {
        uint16_t before = 0;

        for (unsigned j = 0; j < n; j++) {
            before += line[j] < line[i];
        }
        *no[i] = (uint16_t)(before + 1);
    }
}

int pcfw_config_parse(struct pcfw_config *cfg, const char *text, size_t len,
                      char *err, size_t errlen)
{
    struct line l = { .no = 1 };
    size_t i = 0;

    if (errlen) {
        err[0] = '\0';
    }
    while (i <= len) {
        bool eol = i == len || text[i] == '\n';

        if (!eol && text[i] == '#') {
            while (i < len && text[i] != '\n') {
                i++;
            }
            continue;
        }
        if (!eol && text[i] != ' ' && text[i] != '\t' && text[i] != '\r') {
            size_t n = 0;

            if (l.nwords == MAX_WORDS) {
                return fail(err, errlen, &l, "too many words");
            }
            while (i < len && text[i] != ' ' && text[i] != '\t' &&
                   text[i] != '\r' && text[i] != '\n' && text[i] != '#') {
                if (text[i] == '\0' || n + 1 == MAX_WORD) {
                    return fail(err, errlen, &l, "word too long or NUL byte");
                }
                l.word[l.nwords][n++] = text[i++];
            }
            l.word[l.nwords++][n] = '\0';
            continue;
        }
        if (eol) {
            if (l.nwords && do_line(cfg, &l, err, errlen) < 0) {
                return -1;
            }
            l.nwords = 0;
            l.no++;
        }
        i++;
    }
    number_rules(&cfg->sec);
    return check_routes(cfg, err, errlen);
}
