/*
 * proxycard firmware: the security proxy, see security.h and
 * docs/security.md.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "arch/cc.h"
#include "arena.h"
#include "bucket.h"
#include "fw_internal.h"
#include "sec_parse.h"
#include "security.h"
#include "sha256.h"

#define NIL             UINT32_MAX
/* Rejections logged per second at most; the rest are counted, then summed. */
#define LOG_PER_SECOND  10
/* Longest Authorization value decoded (user:password, or a token). */
#define CRED_MAX        256

/*
 * What one source has used of limit k (pcfw.cfg.sec.limits[k]): the
 * connections it has open where the limit counts (limit-conn), or the
 * thousandths of a token in its bucket and when it was last filled.
 */
struct lim_state {
    uint32_t v, ms;
};

/*
 * One source: 20 bytes, 8 per limit rule, plus 4 for its hash bucket
 * (docs/security.md).
 */
struct src {
    uint32_t addr;              /* network byte order */
    uint32_t conns;             /* connections open now, every port */
    uint32_t hnext;             /* hash chain */
    uint32_t prev, next;        /* LRU list (conns == 0 only), or free list */
    struct lim_state lim[];     /* one per limit rule, in their order */
};

struct table {
    uint32_t size, nbuckets;    /* nbuckets: a power of two >= size */
    uint32_t stride;            /* bytes per entry */
    uint32_t used;
    uint32_t lru_head, lru_tail;    /* most recently idle first */
    uint32_t free_head;
    uint32_t *bucket;
    uint8_t *e;                 /* size entries of stride bytes */
};

static struct table *table, *prepared;
/* TCP_SYN_PER_SOURCE_MAX (lwipopts.h, patches/lwip/0003): limit-half-open */
unsigned short pcfw_syn_per_source = 128;
static uint64_t hash_key;
/* The log's second (UINT32_MAX: none yet, so the first second logs). */
static uint32_t log_second = UINT32_MAX, log_budget, log_suppressed;

static bool limits_on(const struct pcfw_security_config *sc)
{
    return sc->n_limits > 0;
}

static bool limit_applies(const struct pcfw_limit_rule *r, uint16_t port)
{
    return !r->port || r->port == port;
}

/* The same limits, in the same order: a table counting one counts both. */
static bool same_limits(const struct pcfw_security_config *a,
                        const struct pcfw_security_config *b)
{
    if (a->n_limits != b->n_limits) {
        return false;
    }
    for (unsigned k = 0; k < a->n_limits; k++) {
        const struct pcfw_limit_rule *x = &a->limits[k], *y = &b->limits[k];

        if (x->kind != y->kind || x->port != y->port ||
            x->conns != y->conns ||
            x->rate.milli_per_s != y->rate.milli_per_s ||
            x->rate.burst != y->rate.burst) {
            return false;
        }
    }
    return true;
}

/* A rule decided (pcfw_proxy_stats.sec_rule_hits). */
static void rule_hit(uint16_t no)
{
    if (no >= 1 && no <= PCFW_SEC_RULE_COUNTERS) {
        pcfw_pstats.sec_rule_hits[no - 1]++;
    }
}

/* ---- logging, at most LOG_PER_SECOND lines a second ---- */

static void sec_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sec_log(const char *fmt, ...)
{
    uint32_t second = pcfw_now() / 1000;
    char line[160];
    va_list ap;

    if (second != log_second) {
        if (log_suppressed) {
            pcfw_log(PCFW_LOG_WARN, "security: %u more rejections not logged",
                     log_suppressed);
        }
        log_second = second;
        log_budget = LOG_PER_SECOND;
        log_suppressed = 0;
    }
    if (!log_budget) {
        log_suppressed++;
        return;
    }
    log_budget--;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    pcfw_log(PCFW_LOG_WARN, "security: %s", line);
}

static const char *addr_str(uint32_t addr, char buf[16])
{
    const uint8_t *b = (const uint8_t *)&addr;

    snprintf(buf, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    return buf;
}

/* ---- the per-source table ---- */

static struct src *src_at(const struct table *t, uint32_t i)
{
    return (struct src *)(void *)(t->e + (size_t)i * t->stride);
}

static uint32_t src_hash(const struct table *t, uint32_t addr)
{
    uint64_t x = hash_key ^ addr;

    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x & (t->nbuckets - 1);
}

static void lru_unlink(struct table *t, uint32_t i)
{
    struct src *s = src_at(t, i);

    if (s->prev != NIL) {
        src_at(t, s->prev)->next = s->next;
    } else {
        t->lru_head = s->next;
    }
    if (s->next != NIL) {
        src_at(t, s->next)->prev = s->prev;
    } else {
        t->lru_tail = s->prev;
    }
    s->prev = s->next = NIL;
}

static void lru_push(struct table *t, uint32_t i)
{
    struct src *s = src_at(t, i);

    s->prev = NIL;
    s->next = t->lru_head;
    if (t->lru_head != NIL) {
        src_at(t, t->lru_head)->prev = i;
    } else {
        t->lru_tail = i;
    }
    t->lru_head = i;
}

static void chain_remove(struct table *t, uint32_t i)
{
    uint32_t *p = &t->bucket[src_hash(t, src_at(t, i)->addr)];

    while (*p != i) {
        p = &src_at(t, *p)->hnext;
    }
    *p = src_at(t, i)->hnext;
}

static uint32_t src_find(const struct table *t, uint32_t addr)
{
    uint32_t i = t->bucket[src_hash(t, addr)];

    while (i != NIL && src_at(t, i)->addr != addr) {
        i = src_at(t, i)->hnext;
    }
    return i;
}

/*
 * The entry of @addr, made if need be: a free one, else the one idle the
 * longest (its counts are forgotten).  NIL when every entry has
 * connections.  A new entry's buckets are full.
 */
static uint32_t src_get(struct table *t, uint32_t addr,
                        const struct pcfw_security_config *sc)
{
    uint32_t i = src_find(t, addr);
    struct src *s;

    if (i != NIL) {
        return i;
    }
    if (t->free_head != NIL) {
        i = t->free_head;
        t->free_head = src_at(t, i)->next;
        t->used++;
    } else if (t->lru_tail != NIL) {
        i = t->lru_tail;
        lru_unlink(t, i);
        chain_remove(t, i);
        pcfw_pstats.sec_sources_evicted++;
    } else {
        return NIL;
    }
    s = src_at(t, i);
    memset(s, 0, t->stride);
    s->addr = addr;
    for (unsigned k = 0; k < sc->n_limits; k++) {
        if (sc->limits[k].kind != PCFW_LIMIT_CONN) {
            s->lim[k].v = sc->limits[k].rate.burst * 1000;
            s->lim[k].ms = pcfw_now();
        }
    }
    s->prev = s->next = NIL;
    s->hnext = t->bucket[src_hash(t, addr)];
    t->bucket[src_hash(t, addr)] = i;
    lru_push(t, i);             /* no connection yet */
    pcfw_pstats.sec_sources = t->used;
    return i;
}

/* A connection of source @i on card port @port opens (@sc: its limits). */
static void src_open(struct table *t, uint32_t i, uint16_t port,
                     const struct pcfw_security_config *sc)
{
    struct src *s = src_at(t, i);

    if (s->conns++ == 0) {
        lru_unlink(t, i);       /* held: never evicted */
    }
    for (unsigned k = 0; k < sc->n_limits; k++) {
        if (sc->limits[k].kind == PCFW_LIMIT_CONN &&
            limit_applies(&sc->limits[k], port)) {
            s->lim[k].v++;
        }
    }
}

static uint32_t entry_size(const struct pcfw_security_config *sc)
{
    return (uint32_t)(sizeof(struct src) +
                      sc->n_limits * sizeof(struct lim_state));
}

static struct table *table_new(const struct pcfw_security_config *sc)
{
    struct table *t = pcfw_arena_calloc(pcfw.arena, 1, sizeof(*t));
    uint32_t size = sc->sources, nb = 1;

    if (!t) {
        return NULL;
    }
    while (nb < size) {
        nb <<= 1;
    }
    t->size = size;
    t->nbuckets = nb;
    t->stride = entry_size(sc);
    t->bucket = pcfw_arena_alloc(pcfw.arena, (size_t)nb * sizeof(uint32_t));
    t->e = pcfw_arena_alloc(pcfw.arena, (size_t)size * t->stride);
    if (!t->bucket || !t->e) {
        pcfw_arena_free(pcfw.arena, t->bucket);
        pcfw_arena_free(pcfw.arena, t->e);
        pcfw_arena_free(pcfw.arena, t);
        return NULL;
    }
    memset(t->bucket, 0xff, (size_t)nb * sizeof(uint32_t));
    for (uint32_t i = 0; i < size; i++) {
        src_at(t, i)->next = i + 1 < size ? i + 1 : NIL;
    }
    t->free_head = 0;
    t->lru_head = t->lru_tail = NIL;
    return t;
}

static void table_free(struct table *t)
{
    if (t) {
        pcfw_arena_free(pcfw.arena, t->bucket);
        pcfw_arena_free(pcfw.arena, t->e);
        pcfw_arena_free(pcfw.arena, t);
    }
}

/* ---- configuration ---- */

void pcfw_sec_init(void)
{
    table = prepared = NULL;        /* a table of an earlier boot is gone */
    log_second = UINT32_MAX;
    log_budget = log_suppressed = 0;
    pcfw_syn_per_source = 128;
}

int pcfw_sec_prepare(const struct pcfw_config *cfg)
{
    const struct pcfw_security_config *sc = &cfg->sec;

    prepared = NULL;
    if (!limits_on(sc)) {
        return PCFW_OK;
    }
    if (table && table->size == sc->sources &&
        same_limits(sc, &pcfw.cfg.sec)) {
        return PCFW_OK;         /* kept as it is, counts and all */
    }
    if (sc->sources < pcfw_pstats.clients_active) {
        return PCFW_ERR_ARG;
    }
    /*
     * Not above the window watermark: a table that put card memory there
     * would stall every client's window for as long as it exists.
     */
    {
        uint64_t nb = 1, need;

        while (nb < sc->sources) {
            nb <<= 1;
        }
        need = nb * sizeof(uint32_t) + (uint64_t)sc->sources *
               entry_size(sc) + sizeof(struct table) +
               3 * PCFW_ARENA_OVERHEAD;
        if (pcfw_arena_in_use(pcfw.arena) + need >
            pcfw_mem_mark(cfg->mem_window_pct)) {
            return PCFW_ERR_NOMEM;
        }
    }
    prepared = table_new(sc);
    return prepared ? PCFW_OK : PCFW_ERR_NOMEM;
}

void pcfw_sec_unprepare(void)
{
    table_free(prepared);
    prepared = NULL;
}

static void recount(struct pcfw_client *c, void *arg)
{
    struct table *t = arg;
    uint32_t i;

    c->sec_counted = false;
    if (!t) {
        return;
    }
    i = src_get(t, c->addr.addr, &pcfw.cfg.sec);
    if (i != NIL) {         /* always: size >= clients (prepare) */
        src_open(t, i, c->local_port, &pcfw.cfg.sec);
        c->sec_counted = true;
    }
}

void pcfw_sec_commit(void)
{
    const struct pcfw_security_config *sc = &pcfw.cfg.sec;

    if (!hash_key) {
        hash_key = ((uint64_t)pcfw_rand() << 32) | pcfw_rand() | 1;
    }
    pcfw_syn_per_source = (u16_t)sc->half_open;
    memset(pcfw_pstats.sec_rule_hits, 0, sizeof(pcfw_pstats.sec_rule_hits));
    if (!limits_on(sc)) {
        table_free(table);
        table = NULL;
    } else if (prepared) {
        table_free(table);
        table = prepared;
    } else {
        return;                 /* the same table: nothing to recount */
    }
    prepared = NULL;
    /* The connections open now are what the new table counts. */
    pcfw_master_each_client(recount, table);
    pcfw_pstats.sec_sources = table ? table->used : 0;
}

void pcfw_sec_shutdown(void)
{
    table_free(table);
    table_free(prepared);
    table = prepared = NULL;
    pcfw_pstats.sec_sources = 0;
}

/* ---- at accept ---- */

static bool acl_allows(uint32_t addr, uint16_t port,
                       const struct pcfw_acl_rule **rule)
{
    const struct pcfw_security_config *sc = &pcfw.cfg.sec;

    for (unsigned i = 0; i < sc->n_acl; i++) {
        const struct pcfw_acl_rule *r = &sc->acl[i];

        if ((addr & r->mask) == r->net && (!r->port || r->port == port)) {
            *rule = r;
            return r->allow;
        }
    }
    return true;
}

/*
 * Is there a token in every bucket of @kind that applies on @port?  The
 * first limit without one (or NULL) in *@refused; tokens are taken only
 * when all have one, so a refusal by one limit costs the others nothing.
 */
static bool buckets_allow(struct src *s, enum pcfw_limit_kind kind,
                          uint16_t port, const struct pcfw_limit_rule **refused,
                          uint32_t *retry_s)
{
    const struct pcfw_security_config *sc = &pcfw.cfg.sec;
    uint32_t now = pcfw_now();

    for (unsigned k = 0; k < sc->n_limits; k++) {
        const struct pcfw_limit_rule *r = &sc->limits[k];

        if (r->kind == kind && limit_applies(r, port)) {
            pcfw_bucket_refill(&s->lim[k].v, &s->lim[k].ms, now, &r->rate);
            if (s->lim[k].v < 1000) {
                *refused = r;
                /* Takes nothing (no whole token): says how long to wait. */
                pcfw_bucket_take(&s->lim[k].v, &s->lim[k].ms, now, &r->rate,
                                 retry_s);
                return false;
            }
        }
    }
    for (unsigned k = 0; k < sc->n_limits; k++) {
        if (sc->limits[k].kind == kind &&
            limit_applies(&sc->limits[k], port)) {
            s->lim[k].v -= 1000;
        }
    }
    return true;
}

bool pcfw_sec_admit(uint32_t addr, uint16_t port, bool *counted)
{
    const struct pcfw_security_config *sc = &pcfw.cfg.sec;
    const struct pcfw_acl_rule *acl = NULL;
    const struct pcfw_limit_rule *lim = NULL;
    char ab[16];
    uint32_t i;
    struct src *s;

    *counted = false;
    if (!acl_allows(addr, port, &acl)) {
        pcfw_pstats.sec_acl_denied++;
        rule_hit(acl->no);
        sec_log("%s to port %u: denied by rule %u (line %u)",
                addr_str(addr, ab), port, acl->no, acl->line);
        return false;
    }
    if (!table) {
        if (acl) {
            rule_hit(acl->no);
        }
        return true;
    }
    i = src_get(table, addr, sc);
    if (i == NIL) {
        pcfw_pstats.sec_table_full++;
        sec_log("%s to port %u: refused, all %u sources have connections "
                "(sources)", addr_str(addr, ab), port, table->size);
        return false;
    }
    s = src_at(table, i);
    for (unsigned k = 0; k < sc->n_limits; k++) {
        const struct pcfw_limit_rule *r = &sc->limits[k];

        if (r->kind == PCFW_LIMIT_CONN && limit_applies(r, port) &&
            s->lim[k].v >= r->conns) {
            pcfw_pstats.sec_conn_limited++;
            rule_hit(r->no);
            sec_log("%s to port %u: refused, %u connections open (limit-conn, "
                    "rule %u, line %u)", addr_str(addr, ab), port, s->lim[k].v,
                    r->no, r->line);
            return false;
        }
    }
    if (!buckets_allow(s, PCFW_LIMIT_RATE, port, &lim, NULL)) {
        pcfw_pstats.sec_rate_limited++;
        rule_hit(lim->no);
        sec_log("%s to port %u: refused, new connections too fast "
                "(limit-rate, rule %u, line %u)", addr_str(addr, ab), port,
                lim->no, lim->line);
        return false;
    }
    if (acl) {
        rule_hit(acl->no);
    }
    src_open(table, i, port, sc);
    *counted = true;
    return true;
}

void pcfw_sec_closed(uint32_t addr, uint16_t port)
{
    const struct pcfw_security_config *sc = &pcfw.cfg.sec;
    uint32_t i = table ? src_find(table, addr) : NIL;
    struct src *s;

    if (i == NIL) {
        return;
    }
    s = src_at(table, i);
    for (unsigned k = 0; k < sc->n_limits; k++) {
        if (sc->limits[k].kind == PCFW_LIMIT_CONN &&
            limit_applies(&sc->limits[k], port) && s->lim[k].v) {
            s->lim[k].v--;
        }
    }
    if (s->conns && --s->conns == 0) {
        lru_push(table, i);
    }
}

/* ---- per request ---- */

static bool has_prefix_ci(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        if (pcfw_sec_lower((uint8_t)*s) != pcfw_sec_lower((uint8_t)*prefix)) {
            return false;
        }
    }
    return true;
}

/* The request's host, as a server routes on it: no port, no final dot. */
static bool host_is(const uint8_t *raw, const struct pcfw_http_request *req,
                    const char *name)
{
    const uint8_t *h;
    size_t n, want = strlen(name);

    if (req->target_form == PCFW_HTTP_TARGET_ABSOLUTE) {
        h = raw + req->authority_off;
        n = req->authority_len;
    } else {
        int f = pcfw_http_find_field(raw, req->fields, req->nfields, "host");

        if (f < 0) {
            return false;
        }
        h = raw + req->fields[f].value_off;
        n = req->fields[f].value_len;
    }
    /* The port goes: after the last ':' of a name, after "]:" of a literal. */
    if (n && h[0] == '[') {
        const uint8_t *end = memchr(h, ']', n);

        if (end) {
            n = (size_t)(end - h) + 1;
        }
    } else if (n) {
        const uint8_t *colon = memchr(h, ':', n);

        if (colon) {
            n = (size_t)(colon - h);
        }
    }
    if (n && h[n - 1] == '.') {
        n--;
    }
    /* %XX decoded (a reg-name may carry escapes), ASCII case ignored. */
    for (size_t i = 0, k = 0;; k++) {
        uint8_t c;

        if (i == n || k == want) {
            return i == n && k == want;
        }
        c = h[i++];
        if (c == '%' && i + 1 < n && pcfw_sec_hexval(h[i]) >= 0 &&
            pcfw_sec_hexval(h[i + 1]) >= 0) {
            c = (uint8_t)(pcfw_sec_hexval(h[i]) << 4 | pcfw_sec_hexval(h[i + 1]));
            i += 2;
        }
        if (pcfw_sec_lower(c) != pcfw_sec_lower((uint8_t)name[k])) {
            return false;
        }
    }
}

static bool equal_ct(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t d = 0;

    for (size_t i = 0; i < n; i++) {
        d |= a[i] ^ b[i];
    }
    return d == 0;
}

/*
 * The credentials of an `auth` rule: the one Authorization field, of the
 * rule's scheme.  Every stored hash is compared, in constant time, so the
 * time taken says nothing about which user or token came close.
 */
static bool authorized(const uint8_t *raw, const struct pcfw_http_request *req,
                       const struct pcfw_http_rule *r)
{
    const struct pcfw_security_config *sc = &pcfw.cfg.sec;
    bool basic = r->kind == PCFW_RULE_AUTH_BASIC;
    const char *scheme = basic ? "basic " : "bearer ";
    size_t slen = strlen(scheme), n;
    const uint8_t *v;
    uint8_t cred[CRED_MAX], hash[PCFW_HASH_LEN];
    int f = -1, count = 0;
    bool ok = false;

    for (unsigned i = 0; i < req->nfields; i++) {
        if (pcfw_http_field_is(raw, &req->fields[i], "authorization")) {
            f = (int)i;
            count++;
        }
    }
    if (count != 1) {
        return false;       /* none, or two: which one would the server take? */
    }
    v = raw + req->fields[f].value_off;
    n = req->fields[f].value_len;
    if (n <= slen) {
        return false;
    }
    for (size_t i = 0; i < slen; i++) {
        if (pcfw_sec_lower(v[i]) != (uint8_t)scheme[i]) {
            return false;
        }
    }
    v += slen;
    n -= slen;
    while (n && v[0] == ' ') {
        v++;
        n--;
    }
    if (!basic) {
        pcfw_sha256(v, n, NULL, 0, hash);
        for (unsigned i = 0; i < sc->n_tokens; i++) {
            ok |= equal_ct(hash, sc->tokens[i], PCFW_HASH_LEN);
        }
        return ok;
    }
    {
        long len = pcfw_sec_base64(v, n, cred, sizeof(cred));
        const uint8_t *colon;
        size_t ulen;

        if (len < 0 || !(colon = memchr(cred, ':', (size_t)len))) {
            return false;
        }
        ulen = (size_t)(colon - cred);
        for (unsigned i = 0; i < sc->n_users; i++) {
            const struct pcfw_user *u = &sc->users[i];
            bool name = strlen(u->name) == ulen &&
                        memcmp(u->name, cred, ulen) == 0;

            pcfw_sha256(u->salt, u->salt_len, colon + 1,
                        (size_t)len - ulen - 1, hash);
            ok |= name & equal_ct(hash, u->hash, PCFW_HASH_LEN);
        }
        return ok;
    }
}

/* Does an http-deny or auth rule apply on card port @port (kinds @lo-@hi)? */
static bool rule_on_port(uint16_t port, int lo, int hi)
{
    const struct pcfw_security_config *sc = &pcfw.cfg.sec;

    for (unsigned i = 0; i < sc->n_rules; i++) {
        if (sc->rules[i].kind >= lo && sc->rules[i].kind <= hi &&
            (!sc->rules[i].port || sc->rules[i].port == port)) {
            return true;
        }
    }
    return false;
}

bool pcfw_sec_screens(uint16_t port)
{
    return rule_on_port(port, PCFW_RULE_DENY_METHOD, PCFW_RULE_AUTH_BEARER);
}

bool pcfw_sec_rerouting_field(const uint8_t *raw,
                              const struct pcfw_http_field *f)
{
    static const char *const names[] = {
        "forwarded", "x-forwarded-host", "x-forwarded-server",
        "x-original-url", "x-rewrite-url", "x-http-method-override",
        "x-http-method", "x-method-override",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (pcfw_http_field_is(raw, f, names[i])) {
            return true;
        }
    }
    return false;
}

int pcfw_sec_request(const struct pcfw_client *c, const uint8_t *raw,
                     const struct pcfw_http_request *req, char *extra,
                     size_t extralen)
{
    const struct pcfw_security_config *sc = &pcfw.cfg.sec;
    char ab[16], *path = NULL;
    int status = 0;

    extra[0] = '\0';
    /* 4. limit-req */
    if (table) {
        uint32_t i = src_find(table, c->addr.addr), retry = 1;
        const struct pcfw_limit_rule *lim = NULL;

        if (i != NIL && !buckets_allow(src_at(table, i), PCFW_LIMIT_REQ,
                                       c->local_port, &lim, &retry)) {
            pcfw_pstats.sec_req_limited++;
            rule_hit(lim->no);
            snprintf(extra, extralen, "Retry-After: %u\r\n", retry);
            sec_log("%s: request refused, too many (limit-req, rule %u, "
                    "line %u)", addr_str(c->addr.addr, ab), lim->no,
                    lim->line);
            return 429;
        }
    }
    if (!sc->n_rules) {
        return 0;
    }
    /* The canonical path, only where a path or auth rule will read it. */
    if (rule_on_port(c->local_port, PCFW_RULE_DENY_PATH,
                     PCFW_RULE_AUTH_BEARER)) {
        const uint8_t *p = raw + req->target_off;
        size_t plen = req->target_len;
        bool bad;

        if (req->target_form == PCFW_HTTP_TARGET_ABSOLUTE) {
            p = raw + req->path_off;
            plen = req->path_len;
        }
        path = pcfw_arena_alloc(pcfw.arena, plen + 2);
        if (!path) {
            return 503;
        }
        pcfw_sec_norm_path(p, plen, path, &bad);
        if (bad) {
            pcfw_arena_free(pcfw.arena, path);
            pcfw_pstats.sec_http_denied++;
            sec_log("%s: request refused, a path no rule can read (400)",
                    addr_str(c->addr.addr, ab));
            return 400;
        }
    }
    /* 5. http-deny, then 6. the first auth rule that covers the path. */
    for (unsigned i = 0; !status && i < sc->n_rules; i++) {
        const struct pcfw_http_rule *r = &sc->rules[i];
        bool hit = false;

        if (r->port && r->port != c->local_port) {
            continue;
        }
        switch (r->kind) {
        case PCFW_RULE_DENY_METHOD:
            hit = req->method_len == strlen(r->value) &&
                  memcmp(raw + req->method_off, r->value, req->method_len) == 0;
            break;
        case PCFW_RULE_DENY_HOST:
            hit = host_is(raw, req, r->value);
            break;
        case PCFW_RULE_DENY_PATH:
            hit = path && has_prefix_ci(path, r->value);
            break;
        default:
            break;
        }
        if (hit) {
            pcfw_pstats.sec_http_denied++;
            rule_hit(r->no);
            sec_log("%s: request refused by http-deny %s (rule %u, line %u)",
                    addr_str(c->addr.addr, ab), r->value, r->no, r->line);
            status = 403;
        }
    }
    for (unsigned i = 0; !status && i < sc->n_rules; i++) {
        const struct pcfw_http_rule *r = &sc->rules[i];

        if ((r->kind != PCFW_RULE_AUTH_BASIC &&
             r->kind != PCFW_RULE_AUTH_BEARER) ||
            (r->port && r->port != c->local_port) || !path ||
            !has_prefix_ci(path, r->path)) {
            continue;
        }
        if (!authorized(raw, req, r)) {
            pcfw_pstats.sec_auth_failed++;
            rule_hit(r->no);
            snprintf(extra, extralen, "WWW-Authenticate: %s realm=\"%s\"%s\r\n",
                     r->kind == PCFW_RULE_AUTH_BASIC ? "Basic" : "Bearer",
                     r->value, r->kind == PCFW_RULE_AUTH_BASIC
                     ? ", charset=\"UTF-8\"" : "");
            sec_log("%s: request refused, no valid credentials for %s "
                    "(rule %u, line %u)", addr_str(c->addr.addr, ab), r->path,
                    r->no, r->line);
            status = 401;
        }
        break;      /* the first auth rule covering the path decides */
    }
    pcfw_arena_free(pcfw.arena, path);
    return status;
}
