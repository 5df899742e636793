/*
 * proxycard firmware: the entry API.
 *
 * These are the only global symbols of the linked firmware object
 * (build/fw/proxycard-fw.o; lwIP and the rest are localized, which
 * `make check` verifies with nm).  A platform drives the firmware like a
 * card's main loop:
 *
 *     pcfw_init(&platform, &cfg, card_memory, card_memory_size);
 *     for (;;) {
 *         wait for a frame, a request or pcfw_poll()'s deadline;
 *         pcfw_input(port, frame, len);       for every frame received
 *         next_ms = pcfw_poll();              runs lwIP's timers
 *     }
 *     pcfw_shutdown();
 *
 * All calls must come from one thread (see pcfw_platform.h).  The firmware
 * keeps global state (lwIP does), so there is one firmware per process.
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PCFW_H
#define PCFW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pcfw_platform.h"

/* Largest Ethernet frame (without FCS) on a port with the default MTU. */
#define PCFW_MAX_FRAME  1514

/* Largest MTU a platform may give a port (lwIP's pbufs are 16-bit long). */
#define PCFW_MAX_MTU    65521

/* Smallest card memory the firmware can boot in. */
#define PCFW_MIN_MEM    (1u << 20)

/* IPv4 settings of one port; addresses in network byte order. */
struct pcfw_port_config {
    uint8_t mac[6];
    uint16_t mtu;           /* set by the platform: 1500 unless its link is larger */
    bool dhcp;              /* take the address from DHCP (NIC port only) */
    uint32_t ip;
    uint32_t netmask;
    uint32_t gateway;
};

/* Application proxies (the patent's FIG. 3). */
enum pcfw_proxy_kind {
    PCFW_PROXY_HTTP = 1,    /* buffering HTTP/1.x reverse proxy */
    PCFW_PROXY_PASS = 2,    /* TCP pass-through */
};

#define PCFW_MAX_LISTENERS  32

/*
 * The PROXY protocol (haproxy's proxy-protocol.txt) a pass-through
 * listener writes first on each server connection, naming the client.
 */
enum pcfw_proxy_protocol {
    PCFW_PP_NONE = 0,
    PCFW_PP_V1 = 1,         /* "PROXY TCP4 src dst sport dport\r\n" */
    PCFW_PP_V2 = 2,         /* the binary header, TCP over IPv4 */
};

/* One listening port of the NIC side and where its clients go. */
struct pcfw_listener {
    uint16_t port;          /* card port clients connect to */
    uint16_t server_port;   /* server port on the bus side */
    uint8_t proxy;          /* enum pcfw_proxy_kind */
    uint8_t proxy_protocol; /* enum pcfw_proxy_protocol (pass only) */
};

/*
 * The security proxy's rules (docs/security.md, guest-fw/src/security.c):
 * applied to every client connection at accept, before any application
 * proxy sees it, and to every HTTP request before it is forwarded.
 */
#define PCFW_MAX_ACL        64
#define PCFW_MAX_LIMITS     8       /* limit-conn, limit-rate, limit-req */
#define PCFW_MAX_HTTP_RULES 32
/*
 * The rules above are numbered 1, 2, ... in the order their lines appear
 * (all kinds together); the first PCFW_SEC_RULE_COUNTERS have a counter of
 * their own (sec-rule-N), every rule one of its kind.
 */
#define PCFW_SEC_RULE_COUNTERS 32
#define PCFW_MAX_USERS      64
#define PCFW_MAX_TOKENS     64
#define PCFW_RULE_VALUE     64      /* a rule's value, NUL included */
#define PCFW_USER_NAME      32      /* a user name, NUL included */
#define PCFW_SALT_MAX       16
#define PCFW_HASH_LEN       32      /* SHA-256 */

/* `allow` / `deny`: the first rule that matches decides; none: allowed. */
struct pcfw_acl_rule {
    uint32_t net, mask;     /* network byte order; mask 0 matches all */
    uint16_t port;          /* card port; 0: every listener */
    bool allow;
    uint32_t line;          /* configuration line */
    uint16_t no;            /* rule number (above) */
};

/* A token bucket per source: @burst tokens, refilled at @milli_per_s / 1000
 * a second; 0: no limit. */
struct pcfw_rate_limit {
    uint32_t milli_per_s;
    uint32_t burst;
};

enum pcfw_limit_kind {
    PCFW_LIMIT_CONN = 1,        /* limit-conn: connections open at once */
    PCFW_LIMIT_RATE,            /* limit-rate: new connections */
    PCFW_LIMIT_REQ,             /* limit-req: HTTP requests (429) */
};

/*
 * A per-source limit.  With a port it counts a source's connections or
 * requests on that card port only; without, on every listener together.
 * Every limit that applies must allow a connection or request.
 */
struct pcfw_limit_rule {
    uint8_t kind;                       /* enum pcfw_limit_kind */
    uint16_t port;                      /* card port; 0: every listener */
    uint32_t conns;                     /* PCFW_LIMIT_CONN */
    struct pcfw_rate_limit rate;        /* PCFW_LIMIT_RATE, _REQ */
    uint32_t line;
    uint16_t no;
};

/* In this order: security.c looks for the kinds that read the path by range. */
enum pcfw_http_rule_kind {
    PCFW_RULE_DENY_METHOD = 1,  /* 403 for this method */
    PCFW_RULE_DENY_HOST,        /* 403 for this Host (port ignored) */
    PCFW_RULE_DENY_PATH,        /* 403 under this path prefix */
    PCFW_RULE_AUTH_BASIC,       /* 401 without a `user`'s password */
    PCFW_RULE_AUTH_BEARER,      /* 401 without a `token` */
};

struct pcfw_http_rule {
    uint8_t kind;                       /* enum pcfw_http_rule_kind */
    uint16_t port;                      /* card port; 0: every HTTP listener */
    char value[PCFW_RULE_VALUE];        /* method, host or prefix; auth: realm */
    char path[PCFW_RULE_VALUE];         /* auth: the prefix it guards */
    uint32_t line;
    uint16_t no;
};

/* A `user`: the password itself never reaches the card, only its hash. */
struct pcfw_user {
    char name[PCFW_USER_NAME];
    uint8_t salt[PCFW_SALT_MAX];
    uint8_t salt_len;
    uint8_t hash[PCFW_HASH_LEN];        /* SHA-256(salt || password) */
};

struct pcfw_security_config {
    unsigned n_acl;
    struct pcfw_acl_rule acl[PCFW_MAX_ACL];
    unsigned n_limits;
    struct pcfw_limit_rule limits[PCFW_MAX_LIMITS];
    uint32_t sources;                   /* per-source table entries */
    uint32_t half_open;                 /* half-open connections per source */
    unsigned n_rules;
    struct pcfw_http_rule rules[PCFW_MAX_HTTP_RULES];
    unsigned n_users;
    struct pcfw_user users[PCFW_MAX_USERS];
    unsigned n_tokens;
    uint8_t tokens[PCFW_MAX_TOKENS][PCFW_HASH_LEN];   /* SHA-256(token) */
};

/*
 * The card configuration (the patent's non-volatile memory 123).  The text
 * format that fills it is documented in docs/config.md; sizes in bytes,
 * times in milliseconds.
 */
struct pcfw_config {
    struct pcfw_port_config port[PCFW_PORT_COUNT];
    uint32_t server_ip;             /* the server, on the bus side */
    unsigned n_listeners;
    struct pcfw_listener listeners[PCFW_MAX_LISTENERS];
    uint32_t pool_size;             /* persistent server connections */
    uint32_t max_clients;           /* HTTP client connections at once */
    uint32_t max_pass_clients;      /* pass-through client connections */
    uint32_t max_header;            /* request head limit (431) */
    uint64_t max_body;              /* request body limit (413) */
    uint64_t conn_buffer;           /* response bytes buffered per client */
    uint32_t mem_window_pct;        /* card memory % above which windows stay shut */
    uint32_t mem_refuse_pct;        /* card memory % above which accepts are refused */
    uint32_t header_timeout_ms;     /* request head complete within (408) */
    uint32_t body_timeout_ms;       /* between two reads of a body (408) */
    uint32_t server_timeout_ms;     /* response must start within (504) */
    uint32_t server_read_timeout_ms; /* between two reads of a response */
    uint32_t send_timeout_ms;       /* client acknowledges nothing (reset) */
    uint32_t shed_timeout_ms;       /* above mem-window: slow reader reset (0: off) */
    uint32_t idle_timeout_ms;       /* idle client keep-alive connection */
    uint32_t pool_idle_timeout_ms;  /* idle pooled server connection */
    uint32_t connect_timeout_ms;    /* server connection set-up (502) */
    uint32_t pass_idle_timeout_ms;  /* pass-through: no byte either way */
    uint32_t pass_keepalive_ms;     /* pass-through TCP keepalive (0: off) */
    bool forwarded;                 /* add X-Forwarded-For and Forwarded */
    bool unmatched_pass;            /* other ports: pass-through, not refused */
    struct pcfw_security_config sec;
};

/* Card-memory accounting (bytes unless named otherwise). */
struct pcfw_mem_stats {
    uint64_t size;          /* arena size */
    uint64_t in_use;        /* bytes handed out, headers included */
    uint64_t high_water;    /* largest in_use seen */
    uint64_t allocs;        /* successful allocations */
    uint64_t frees;
    uint64_t failures;      /* allocations refused for lack of memory */
};

/* What the proxies did (counters since boot unless named otherwise). */
struct pcfw_proxy_stats {
    uint64_t clients_active;        /* client connections open now */
    uint64_t clients_accepted;
    uint64_t clients_refused;       /* max-clients or card memory */
    uint64_t clients_shed;          /* slow readers reset above mem-window */
    uint64_t requests;              /* complete HTTP requests received */
    uint64_t responses[6];          /* to clients, by class 1xx..5xx; [0] other */
    uint64_t bytes_from_clients;
    uint64_t bytes_to_clients;
    uint64_t bytes_to_server;
    uint64_t bytes_from_server;
    uint64_t srv_connects;          /* server connections established */
    uint64_t srv_connect_failures;
    uint64_t srv_in_use;            /* pooled connections serving now */
    uint64_t srv_idle;              /* pooled connections idle now */
    uint64_t retries;               /* requests resent on a fresh connection */
    uint64_t errors;                /* error responses made by the card */
    /* The security proxy (docs/security.md): what each check refused. */
    uint64_t sec_acl_denied;        /* connections: `deny` */
    uint64_t sec_conn_limited;      /* connections: `limit-conn` */
    uint64_t sec_rate_limited;      /* connections: `limit-rate` */
    uint64_t sec_table_full;        /* connections: no per-source entry free */
    uint64_t sec_req_limited;       /* requests: `limit-req` (429) */
    uint64_t sec_http_denied;       /* requests: `http-deny` (403) */
    uint64_t sec_auth_failed;       /* requests: `auth` (401) */
    uint64_t sec_sources;           /* per-source entries in use now */
    uint64_t sec_sources_evicted;   /* entries reused for another source */
    /*
     * What rule N decided, for N <= PCFW_SEC_RULE_COUNTERS: connections an
     * allow rule admitted; connections or requests every other rule
     * refused.  Zeroed when a configuration is loaded (the numbers may
     * name other rules then).
     */
    uint64_t sec_rule_hits[PCFW_SEC_RULE_COUNTERS];
};

struct pcfw_stats {
    struct pcfw_mem_stats mem;
    struct pcfw_proxy_stats proxy;
    uint64_t rx_frames[PCFW_PORT_COUNT];
    uint64_t tx_frames[PCFW_PORT_COUNT];
    uint64_t rx_dropped[PCFW_PORT_COUNT];   /* bad length or no memory */
    uint64_t tx_dropped[PCFW_PORT_COUNT];   /* platform refused the frame */
};

/* Error codes returned by pcfw_init(). */
enum pcfw_err {
    PCFW_OK = 0,
    PCFW_ERR_BUSY = -1,     /* initialised before in this process */
    PCFW_ERR_ARG = -2,      /* missing platform hook or NULL memory */
    PCFW_ERR_NOMEM = -3,    /* card memory smaller than PCFW_MIN_MEM */
};

/* Fill @cfg with the documented defaults (no listeners, no addresses). */
void pcfw_config_defaults(struct pcfw_config *cfg);

/*
 * Apply the configuration text @text (@len bytes, docs/config.md) on top of
 * @cfg.  Returns 0, or -1 with a message "line N: ..." in @err (@errlen
 * bytes, always NUL-terminated) and @cfg partly changed.  Needs no firmware
 * running: platforms use it to check a configuration before pcfw_init().
 */
int pcfw_config_parse(struct pcfw_config *cfg, const char *text, size_t len,
                      char *err, size_t errlen);

/*
 * Load a new configuration into the running firmware (the host's "load the
 * card's settings"): @text replaces the listeners, limits, timeouts,
 * `forwarded` and `unmatched` (defaults where it is silent); addresses and
 * the server keep their values unless @text sets them; `pool` may not
 * change.  Clients of a removed or changed listener carry on; a moved
 * server gets fresh pooled connections.  Returns 0, or a PCFW_ERR_* with the reason in @err.
 */
int pcfw_reconfigure(const char *text, size_t len, char *err, size_t errlen);

/*
 * Boot the firmware in @mem (@mem_size bytes of card memory, which the
 * firmware owns until pcfw_shutdown()).  Copies @platform and @cfg.
 */
int pcfw_init(const struct pcfw_platform *platform,
              const struct pcfw_config *cfg, void *mem, size_t mem_size);

/* Hand one received Ethernet frame to the firmware; the caller keeps @frame. */
void pcfw_input(enum pcfw_port port, const void *frame, size_t len);

/*
 * Run due timers.  Returns the milliseconds until the next timer is due
 * (UINT32_MAX when none is pending): the platform should call pcfw_poll()
 * again no later than that.
 */
uint32_t pcfw_poll(void);

/* Copy the current statistics into @st. */
void pcfw_get_stats(struct pcfw_stats *st);

/*
 * NULL while the firmware is healthy.  After an internal fault (an lwIP
 * assertion: a firmware bug, never a reaction to input) the firmware stops
 * for good, every entry point becomes a no-op, and this returns the reason.
 */
const char *pcfw_fault(void);

/*
 * Stop the firmware: from here on it touches neither card memory nor the
 * platform, and the platform may free both.  lwIP's global state cannot be
 * rebuilt in-process, so a later pcfw_init() returns PCFW_ERR_BUSY.
 */
void pcfw_shutdown(void);

/* A static string naming @err. */
const char *pcfw_strerror(int err);

#endif /* PCFW_H */
