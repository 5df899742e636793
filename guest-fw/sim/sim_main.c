/*
 * proxycard-sim: the card firmware as an ordinary Linux process.
 *
 * The same firmware object QEMU links (libproxycard-fw.a) runs here on a
 * platform made of this process: the main thread is the card CPU, malloc'd
 * memory is card memory, and each of the two Ethernet ports is wired to its
 * own libslirp instance (sim_slirp.c):
 *
 *   host clients --(slirp host forwarding)--> NIC port  [10.0.2.15]
 *   card's server connections <-- BUS port [10.0.3.15] --(slirp NAT)--> host
 *
 * or, with --nic-tap NAME [--nic-netns NS], the NIC port on an existing TAP
 * device (sim_tap.c), so that clients' own TCP stacks, with their own
 * source addresses, talk to the card:
 *
 *   clients in NS [10.0.2.x] --(TAP device NAME)--> NIC port  [10.0.2.15]
 *
 * This file holds the options, set-up, the main loop, signals and the
 * statistics output.  The whole harness state is one struct (sim); the
 * signal handler only sets its flags, which the loop reads after ppoll()
 * (signals are blocked everywhere else, so they interrupt that wait at once
 * and never a firmware call).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "pcfw.h"
#include "sim_slirp.h"

#define SIM_NAME                "proxycard-sim"
#define SIM_MAX_FORWARDS        64
#define SIM_DEFAULT_MEM         (64u << 20)
#define SIM_DEFAULT_BACKLOG     4096
#define SIM_MAX_CONFIG          (64u << 10)

/* Exit statuses. */
enum {
    SIM_EXIT_OK = 0,
    SIM_EXIT_FAIL = 1,          /* set-up failed, or the firmware faulted */
    SIM_EXIT_USAGE = 2,
};

/* One --forward: host address:port to the card's NIC address:port. */
typedef struct SimForward {
    struct in_addr host_addr;
    int host_port;
    int card_port;
} SimForward;

typedef struct SimOptions {
    uint8_t mac[PCFW_PORT_COUNT][6];
    size_t mem_size;
    int backlog;
    int verbose;                /* 0: warnings, 1: info, 2: debug */
    const char *stats_path;     /* NULL: stdout */
    const char *ready_path;
    const char *config_path;    /* docs/config.md, applied last */
    SimForward fwd[SIM_MAX_FORWARDS];
    unsigned nfwd;
    const char *nic_tap;        /* NULL: the NIC port is on slirp */
    const char *nic_netns;      /* where nic_tap is; NULL: our namespace */
} SimOptions;

typedef struct Sim {
    SimOptions opt;
    SimNet net;
    void *card_mem;
    bool card_up;               /* pcfw_init() succeeded, no shutdown yet */
    bool fault_seen;            /* pcfw_fault() reported */
    uint64_t card_cpu_ns;       /* thread CPU time inside pcfw_* calls */
    uint64_t batch_t0;          /* sim_card_batch(): start of a batch */
    int64_t start_ms;
    sigset_t wait_mask;         /* ppoll()'s mask: our signals unblocked */
    volatile sig_atomic_t stop;
    volatile sig_atomic_t dump_stats;
    volatile sig_atomic_t reload;
} Sim;

static Sim sim;

/*
 * The two networks.  The card's address is the first one slirp's DHCP would
 * hand out, so the firmware may later take it by DHCP and get the same.
 */
typedef struct SimPortPlan {
    const char *network;
    const char *netmask;
    const char *gateway;        /* slirp's own address */
    const char *card;
    const char *dns;
    bool restricted;
    bool host_loopback;
} SimPortPlan;

static const SimPortPlan sim_plan[PCFW_PORT_COUNT] = {
    /*
     * Clients' side.  Restricted: the card cannot open connections into the
     * host through it; host forwards still work.
     */
    [PCFW_PORT_NIC] = {
        "10.0.2.0", "255.255.255.0", "10.0.2.2", "10.0.2.15", "10.0.2.3",
        .restricted = true, .host_loopback = false,
    },
    /* Server's side: 10.0.3.2:PORT is 127.0.0.1:PORT on the host. */
    [PCFW_PORT_BUS] = {
        "10.0.3.0", "255.255.255.0", "10.0.3.2", "10.0.3.15", "10.0.3.3",
        .restricted = false, .host_loopback = true,
    },
};

static const uint8_t sim_default_mac[PCFW_PORT_COUNT][6] = {
    [PCFW_PORT_NIC] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
    [PCFW_PORT_BUS] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 },
};

static const char *const sim_port_name[PCFW_PORT_COUNT] = {
    [PCFW_PORT_NIC] = "nic",
    [PCFW_PORT_BUS] = "bus",
};

/* ---- logging --------------------------------------------------------------- */

static const char *const sim_level_name[] = {
    [PCFW_LOG_ERROR] = "error",
    [PCFW_LOG_WARN] = "warn",
    [PCFW_LOG_INFO] = "info",
    [PCFW_LOG_DEBUG] = "debug",
};

static bool sim_log_enabled(const Sim *s, enum pcfw_log_level level)
{
    return (int)level <= PCFW_LOG_WARN + s->opt.verbose;
}

static void sim_vlog(Sim *s, enum pcfw_log_level level, const char *fmt,
                     va_list ap)
{
    char line[512];

    if (!sim_log_enabled(s, level)) {
        return;
    }
    vsnprintf(line, sizeof(line), fmt, ap);
    /* stderr is unbuffered: glibc writes each fprintf() at once. */
    fprintf(stderr, SIM_NAME ": [%s] %s\n",
            (unsigned)level <= PCFW_LOG_DEBUG ? sim_level_name[level] : "?",
            line);
}

/* SimLogFn: also sim_slirp.c's. */
static void sim_log_cb(void *opaque, enum pcfw_log_level level,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sim_log_cb(void *opaque, enum pcfw_log_level level,
                       const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sim_vlog(opaque, level, fmt, ap);
    va_end(ap);
}

#define sim_log(s, level, ...) sim_log_cb((s), (level), __VA_ARGS__)

/* ---- the platform (pcfw_platform.h), called from inside pcfw_* ----------- */

/* Queued, never handed to slirp here: slirp could call back into us. */
static int sim_plat_send_frame(void *opaque, enum pcfw_port port,
                               const void *frame, size_t len)
{
    Sim *s = opaque;

    return sim_net_card_send(&s->net, port, frame, len);
}

static uint32_t sim_plat_now_ms(void *opaque)
{
    (void)opaque;
    return (uint32_t)sim_now_ms();     /* lwIP copes with the wrap */
}

static void sim_plat_log(void *opaque, enum pcfw_log_level level,
                         const char *msg)
{
    sim_log(opaque, level, "fw: %s", msg);
}

/* ---- the card: every pcfw_* call, with its CPU time ------------------------ */

/*
 * The card CPU's time is the thread CPU time spent inside the firmware's
 * entry points; it includes the platform hooks they call (copying a sent
 * frame into its queue, logging), as a real card's would.
 */
#define SIM_CARD_CALL(s, call)                                  \
    do {                                                        \
        uint64_t t0_ = sim_thread_cpu_ns();                     \
        call;                                                   \
        (s)->card_cpu_ns += sim_thread_cpu_ns() - t0_;          \
    } while (0)

static void sim_card_check_fault(Sim *s)
{
    const char *fault;

    if (s->fault_seen || !s->card_up) {
        return;
    }
    fault = pcfw_fault();
    if (fault) {
        /* Like the device's FW_STATE = FAILED: the card stays dead. */
        s->fault_seen = true;
        sim_log(s, PCFW_LOG_ERROR, "firmware fault, the card is stopped: %s",
                fault);
    }
}

/*
 * SimDeliverFn: a frame from slirp arrives on @port.  Frames come in
 * batches, timed as a whole by sim_card_batch(): the firmware is all that
 * runs between the two clock reads.
 */
static void sim_card_input(void *opaque, enum pcfw_port port,
                           const void *frame, size_t len)
{
    (void)opaque;
    pcfw_input(port, frame, len);
}

static void sim_card_batch(void *opaque, bool begin)
{
    Sim *s = opaque;

    if (begin) {
        s->batch_t0 = sim_thread_cpu_ns();
    } else {
        s->card_cpu_ns += sim_thread_cpu_ns() - s->batch_t0;
    }
}

static uint32_t sim_card_poll(Sim *s)
{
    uint32_t next;

    SIM_CARD_CALL(s, next = pcfw_poll());
    sim_card_check_fault(s);
    return next;
}

static void sim_card_stats(Sim *s, struct pcfw_stats *st)
{
    SIM_CARD_CALL(s, pcfw_get_stats(st));
}

/* ---- configuration ---------------------------------------------------------- */

static struct in_addr sim_ip4(const char *text)
{
    struct in_addr a;

    if (inet_pton(AF_INET, text, &a) != 1) {
        abort();    /* only our constant tables get here */
    }
    return a;
}

static char *sim_read_config(const char *path, size_t *lenp);

/*
 * Everything the firmware is told at boot comes from here: the firmware's
 * defaults, then what the harness's networks dictate (MACs, static
 * addresses, the server behind the bus port's slirp), and last the
 * --config FILE (docs/config.md), whose directives override these.
 * Returns 0, or -1 after saying what is wrong with the file.
 */
static int sim_build_fw_config(const SimOptions *opt, struct pcfw_config *cfg)
{
    char err[256];
    char *text = NULL;
    size_t len = 0;
    int ret = 0;

    pcfw_config_defaults(cfg);
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        struct pcfw_port_config *pc = &cfg->port[port];
        const SimPortPlan *plan = &sim_plan[port];

        memcpy(pc->mac, opt->mac[port], sizeof(pc->mac));
        pc->dhcp = false;
        pc->ip = sim_ip4(plan->card).s_addr;
        pc->netmask = sim_ip4(plan->netmask).s_addr;
        pc->gateway = sim_ip4(plan->gateway).s_addr;
    }
    /* The bus side's slirp NATs its own address to host loopback. */
    cfg->server_ip = sim_ip4(sim_plan[PCFW_PORT_BUS].gateway).s_addr;

    if (!opt->config_path) {
        return 0;
    }
    text = sim_read_config(opt->config_path, &len);
    if (!text) {
        return -1;
    }
    if (pcfw_config_parse(cfg, text, len, err, sizeof(err)) != 0) {
        fprintf(stderr, SIM_NAME ": %s: %s\n", opt->config_path, err);
        ret = -1;
    }
    free(text);
    return ret;
}

/* The whole of @path (at most SIM_MAX_CONFIG bytes), malloc'd; NULL said why. */
static char *sim_read_config(const char *path, size_t *lenp)
{
    char *text;
    size_t len = 0;
    FILE *f = fopen(path, "r");

    if (!f) {
        fprintf(stderr, SIM_NAME ": cannot open %s: %s\n", path,
                strerror(errno));
        return NULL;
    }
    text = malloc(SIM_MAX_CONFIG + 1);
    if (text) {
        len = fread(text, 1, SIM_MAX_CONFIG + 1, f);
    }
    fclose(f);
    if (!text || len > SIM_MAX_CONFIG) {
        fprintf(stderr, SIM_NAME ": %s: %s\n", path,
                text ? "larger than 64 KiB" : "out of memory");
        free(text);
        return NULL;
    }
    *lenp = len;
    return text;
}

/* The slirp side of each port: the same plan, seen from the network. */
static void sim_build_net_config(const SimOptions *opt,
                                 SimNetPortConfig cfg[PCFW_PORT_COUNT])
{
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        const SimPortPlan *plan = &sim_plan[port];

        memset(&cfg[port], 0, sizeof(cfg[port]));
        cfg[port].network = sim_ip4(plan->network);
        cfg[port].netmask = sim_ip4(plan->netmask);
        cfg[port].host = sim_ip4(plan->gateway);
        cfg[port].dhcp_start = sim_ip4(plan->card);
        cfg[port].dns = sim_ip4(plan->dns);
        cfg[port].restricted = plan->restricted;
        cfg[port].host_loopback = plan->host_loopback;
    }
    /* The same addresses, on a real link: the namespace holds 10.0.2.2. */
    cfg[PCFW_PORT_NIC].tap_name = opt->nic_tap;
    cfg[PCFW_PORT_NIC].tap_netns = opt->nic_netns;
}

/* ---- options ---------------------------------------------------------------- */

static void sim_usage(FILE *f)
{
    fprintf(f,
"Usage: " SIM_NAME " [OPTION]...\n"
"Run the proxycard card firmware as an ordinary process.  Each of the card's\n"
"two Ethernet ports is wired to its own user-mode network (libslirp), unless\n"
"--nic-tap says otherwise:\n"
"\n"
"  NIC port, the clients' side: network 10.0.2.0/24, slirp at 10.0.2.2, the\n"
"      card at 10.0.2.15/24 (gateway 10.0.2.2).  Host clients reach the card\n"
"      through slirp host forwarding (--forward), whose listening sockets get\n"
"      the raised backlog of --backlog.\n"
"  BUS port, the server's side: network 10.0.3.0/24, slirp at 10.0.3.2, the\n"
"      card at 10.0.3.15/24 (gateway 10.0.3.2).  The card's connections to\n"
"      10.0.3.2:PORT are NATed by slirp to 127.0.0.1:PORT on the host, where\n"
"      the real server listens.\n"
"\n"
"With --nic-tap the NIC port is wired to a TAP device instead of slirp:\n"
"the card keeps 10.0.2.15/24 (gateway 10.0.2.2), and clients on the TAP's\n"
"side of the link (in --nic-netns NS, typically) connect to it directly,\n"
"with their own TCP stacks and source addresses.  The BUS port stays on\n"
"slirp, so the server still listens on the host's loopback.\n"
"\n"
"Options:\n"
"  --config FILE       the card configuration (docs/config.md): listeners,\n"
"                      proxies, pool, limits, timeouts; applied on top of\n"
"                      the addresses above and the server 10.0.3.2, so\n"
"                      'listen 80 http 8080' makes the HTTP proxy on card\n"
"                      port 80 use a server on the host's 127.0.0.1:8080\n"
"  --forward [HOSTADDR:]HOSTPORT:CARDPORT\n"
"                      forward TCP HOSTADDR:HOSTPORT on the host (HOSTADDR\n"
"                      defaults to 127.0.0.1) to port CARDPORT of the card's\n"
"                      NIC address; repeatable (up to %d)\n"
"  --backlog N         listen backlog of the forwarded ports (default %d;\n"
"                      the kernel caps it at net.core.somaxconn).  libslirp\n"
"                      4.7.0 listens with a backlog of 1, which stalls\n"
"                      hundreds of simultaneous clients (dropped SYNs, SYN\n"
"                      cookies, resets); the harness calls listen() again,\n"
"                      with N, on every listening socket slirp polls.\n"
"                      --backlog 1 reproduces slirp's own behaviour.\n"
"  --nic-tap NAME      wire the NIC port to the existing TAP device NAME\n"
"                      (ip tuntap add dev NAME mode tap: no packet\n"
"                      information, no vnet header) instead of slirp;\n"
"                      frames shorter than 14 bytes or longer than 1514\n"
"                      (MTU 1500) are dropped and counted.  Not with\n"
"                      --forward.  Needs access to /dev/net/tun and NAME\n"
"  --nic-netns NS      with --nic-tap: NAME is in network namespace NS\n"
"                      (/run/netns/NS, as 'ip netns add' makes; or a path\n"
"                      holding '/').  Only opening the TAP happens in NS\n"
"                      (setns), everything else in our own namespace; needs\n"
"                      root\n"
"  --mem-size SIZE     card memory in bytes, suffix K, M or G (powers of\n"
"                      1024; default 64M, at least 1M)\n"
"  --nic-mac MAC       the NIC port's MAC (default 52:54:00:12:34:56)\n"
"  --bus-mac MAC       the BUS port's MAC (default 52:54:00:12:34:57)\n"
"  --stats FILE        write statistics, one JSON object, on SIGUSR1 and at\n"
"                      exit to FILE (through FILE.tmp and a rename, so that\n"
"                      readers never see part of it); default: stdout\n"
"  --ready-file FILE   create FILE, holding our pid, once the firmware is up\n"
"                      and every forward listens (removed first if stale,\n"
"                      and again at exit)\n"
"  -v, --verbose       log more: once for info, twice for debug (default:\n"
"                      warnings and errors only); the log goes to stderr\n"
"  -h, --help          show this help and exit\n"
"\n"
"Signals: SIGUSR1 writes the statistics; SIGHUP loads the --config file\n"
"again into the running card (pcfw_reconfigure: listeners, limits and\n"
"timeouts change, the pool's size does not); SIGINT or SIGTERM stops the card,\n"
"writes them and exits.\n"
"Exit status: 0 when stopped by a signal, 1 if set-up failed or the firmware\n"
"faulted, 2 for bad options.\n",
            SIM_MAX_FORWARDS, SIM_DEFAULT_BACKLOG);
}

static void sim_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void sim_usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, SIM_NAME ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '" SIM_NAME " --help' for more information.\n");
    exit(SIM_EXIT_USAGE);
}

/* A decimal integer in [min, max], all of @text. */
static bool sim_parse_int(const char *text, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

/* Bytes with an optional K/M/G suffix (powers of 1024). */
static bool sim_parse_size(const char *text, size_t *out)
{
    unsigned shift = 0;
    unsigned long long v;
    char *end;

    if (*text < '0' || *text > '9') {
        return false;       /* strtoull would take "-1" */
    }
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno || end == text) {
        return false;
    }
    switch (*end) {
    case '\0':
        break;
    case 'k': case 'K':
        shift = 10;
        break;
    case 'm': case 'M':
        shift = 20;
        break;
    case 'g': case 'G':
        shift = 30;
        break;
    default:
        return false;
    }
    if (*end && end[1]) {
        return false;
    }
    if (v > (SIZE_MAX >> shift)) {
        return false;
    }
    *out = (size_t)v << shift;
    return true;
}

static bool sim_parse_mac(const char *text, uint8_t mac[6])
{
    unsigned b[6];
    char tail;

    if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c",
               &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6) {
        return false;
    }
    for (int i = 0; i < 6; i++) {
        mac[i] = (uint8_t)b[i];
    }
    return !(mac[0] & 1);   /* a port's own address is never multicast */
}

/* [HOSTADDR:]HOSTPORT:CARDPORT */
static bool sim_parse_forward(const char *text, SimForward *fwd)
{
    char buf[128];
    char *card, *host;
    long port;

    if (strlen(text) >= sizeof(buf)) {
        return false;
    }
    strcpy(buf, text);
    card = strrchr(buf, ':');
    if (!card) {
        return false;
    }
    *card++ = '\0';
    host = strrchr(buf, ':');
    if (host) {
        *host++ = '\0';
        if (inet_pton(AF_INET, buf, &fwd->host_addr) != 1) {
            return false;
        }
    } else {
        host = buf;
        fwd->host_addr = sim_ip4("127.0.0.1");
    }
    if (!sim_parse_int(host, 1, 65535, &port)) {
        return false;
    }
    fwd->host_port = (int)port;
    if (!sim_parse_int(card, 1, 65535, &port)) {
        return false;
    }
    fwd->card_port = (int)port;
    return true;
}

enum {
    OPT_FORWARD = 0x100,
    OPT_CONFIG,
    OPT_BACKLOG,
    OPT_MEM_SIZE,
    OPT_NIC_MAC,
    OPT_BUS_MAC,
    OPT_STATS,
    OPT_READY_FILE,
    OPT_NIC_TAP,
    OPT_NIC_NETNS,
};

static const struct option sim_long_options[] = {
    { "forward",    required_argument, NULL, OPT_FORWARD },
    { "config",     required_argument, NULL, OPT_CONFIG },
    { "backlog",    required_argument, NULL, OPT_BACKLOG },
    { "mem-size",   required_argument, NULL, OPT_MEM_SIZE },
    { "nic-mac",    required_argument, NULL, OPT_NIC_MAC },
    { "bus-mac",    required_argument, NULL, OPT_BUS_MAC },
    { "stats",      required_argument, NULL, OPT_STATS },
    { "ready-file", required_argument, NULL, OPT_READY_FILE },
    { "nic-tap",    required_argument, NULL, OPT_NIC_TAP },
    { "nic-netns",  required_argument, NULL, OPT_NIC_NETNS },
    { "verbose",    no_argument,       NULL, 'v' },
    { "help",       no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* Fills @opt; exits for --help (0) and for bad options (2). */
static void sim_parse_options(SimOptions *opt, int argc, char **argv)
{
    long n;
    int c;

    memset(opt, 0, sizeof(*opt));
    memcpy(opt->mac, sim_default_mac, sizeof(opt->mac));
    opt->mem_size = SIM_DEFAULT_MEM;
    opt->backlog = SIM_DEFAULT_BACKLOG;

    while ((c = getopt_long(argc, argv, "vh", sim_long_options, NULL)) != -1) {
        switch (c) {
        case OPT_FORWARD:
            if (opt->nfwd == SIM_MAX_FORWARDS) {
                sim_usage_error("too many --forward (at most %d)",
                                SIM_MAX_FORWARDS);
            }
            if (!sim_parse_forward(optarg, &opt->fwd[opt->nfwd])) {
                sim_usage_error("bad --forward '%s': want "
                                "[HOSTADDR:]HOSTPORT:CARDPORT, ports 1-65535, "
                                "HOSTADDR an IPv4 address", optarg);
            }
            opt->nfwd++;
            break;
        case OPT_BACKLOG:
            if (!sim_parse_int(optarg, 1, INT_MAX, &n)) {
                sim_usage_error("bad --backlog '%s': want a positive integer",
                                optarg);
            }
            opt->backlog = (int)n;
            break;
        case OPT_MEM_SIZE:
            if (!sim_parse_size(optarg, &opt->mem_size)) {
                sim_usage_error("bad --mem-size '%s': want a number with an "
                                "optional K, M or G suffix", optarg);
            }
            if (opt->mem_size < PCFW_MIN_MEM) {
                sim_usage_error("--mem-size %s is below the firmware's "
                                "minimum of %u bytes (1M)", optarg,
                                PCFW_MIN_MEM);
            }
            break;
        case OPT_NIC_MAC:
        case OPT_BUS_MAC:
            if (!sim_parse_mac(optarg, opt->mac[c == OPT_NIC_MAC ?
                                                 PCFW_PORT_NIC :
                                                 PCFW_PORT_BUS])) {
                sim_usage_error("bad MAC address '%s': want six hex bytes "
                                "like 52:54:00:12:34:56, not multicast",
                                optarg);
            }
            break;
        case OPT_STATS:
            opt->stats_path = optarg;
            break;
        case OPT_CONFIG:
            opt->config_path = optarg;
            break;
        case OPT_READY_FILE:
            opt->ready_path = optarg;
            break;
        case OPT_NIC_TAP:
            if (!*optarg || strlen(optarg) >= IFNAMSIZ || strchr(optarg, '/')) {
                sim_usage_error("bad --nic-tap '%s': want a network device "
                                "name of 1 to %d characters", optarg,
                                IFNAMSIZ - 1);
            }
            opt->nic_tap = optarg;
            break;
        case OPT_NIC_NETNS:
            if (!*optarg) {
                sim_usage_error("empty --nic-netns");
            }
            opt->nic_netns = optarg;
            break;
        case 'v':
            if (opt->verbose < PCFW_LOG_DEBUG - PCFW_LOG_WARN) {
                opt->verbose++;
            }
            break;
        case 'h':
            sim_usage(stdout);
            exit(SIM_EXIT_OK);
        default:
            /* getopt_long() said what was wrong. */
            fprintf(stderr, "Try '" SIM_NAME " --help' for more "
                    "information.\n");
            exit(SIM_EXIT_USAGE);
        }
    }
    if (optind < argc) {
        sim_usage_error("unexpected argument '%s'", argv[optind]);
    }
    if (opt->nic_netns && !opt->nic_tap) {
        sim_usage_error("--nic-netns needs --nic-tap");
    }
    if (opt->nic_tap && opt->nfwd) {
        sim_usage_error("--forward and --nic-tap exclude each other: the "
                        "forwards are the NIC port's slirp, which --nic-tap "
                        "replaces");
    }
    if (memcmp(opt->mac[PCFW_PORT_NIC], opt->mac[PCFW_PORT_BUS], 6) == 0) {
        sim_usage_error("--nic-mac and --bus-mac must differ");
    }
}

/* ---- statistics ------------------------------------------------------------- */

static void sim_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

static void sim_json_queue(FILE *f, const char *name, const SimFrameQueue *q)
{
    fprintf(f, "\"%s\": {\"queued\": %" PRIu64 ", \"dropped\": %" PRIu64
            ", \"high_water\": %" PRIu64 ", \"pending\": %u}",
            name, q->queued, q->dropped, q->high_water, q->count);
}

static void sim_json_firmware(FILE *f, Sim *s)
{
    struct pcfw_stats st;
    const char *fault = pcfw_fault();

    sim_card_stats(s, &st);
    fprintf(f, "  \"firmware\": {\n    \"fault\": ");
    if (fault) {
        sim_json_string(f, fault);
    } else {
        fprintf(f, "null");
    }
    fprintf(f, ",\n    \"mem\": {\"size\": %" PRIu64 ", \"in_use\": %" PRIu64
            ", \"high_water\": %" PRIu64 ", \"allocs\": %" PRIu64
            ", \"frees\": %" PRIu64 ", \"failures\": %" PRIu64 "},\n",
            st.mem.size, st.mem.in_use, st.mem.high_water, st.mem.allocs,
            st.mem.frees, st.mem.failures);
    fprintf(f, "    \"ports\": {");
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        fprintf(f, "%s\n      \"%s\": {\"rx_frames\": %" PRIu64
                ", \"tx_frames\": %" PRIu64 ", \"rx_dropped\": %" PRIu64
                ", \"tx_dropped\": %" PRIu64 "}",
                port ? "," : "", sim_port_name[port], st.rx_frames[port],
                st.tx_frames[port], st.rx_dropped[port], st.tx_dropped[port]);
    }
    fprintf(f, "\n    },\n");
    fprintf(f, "    \"proxy\": {\"clients_active\": %" PRIu64
            ", \"clients_accepted\": %" PRIu64 ", \"clients_refused\": %" PRIu64
            ", \"requests\": %" PRIu64 ", \"responses\": [%" PRIu64 ", %" PRIu64
            ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 "]"
            ", \"bytes_from_clients\": %" PRIu64 ", \"bytes_to_clients\": %" PRIu64
            ", \"bytes_to_server\": %" PRIu64 ", \"bytes_from_server\": %" PRIu64
            ", \"srv_connects\": %" PRIu64 ", \"srv_connect_failures\": %" PRIu64
            ", \"srv_in_use\": %" PRIu64 ", \"srv_idle\": %" PRIu64
            ", \"retries\": %" PRIu64 ", \"errors\": %" PRIu64
            ", \"sec_acl_denied\": %" PRIu64 ", \"sec_conn_limited\": %" PRIu64
            ", \"sec_rate_limited\": %" PRIu64 ", \"sec_table_full\": %" PRIu64
            ", \"sec_req_limited\": %" PRIu64 ", \"sec_http_denied\": %" PRIu64
            ", \"sec_auth_failed\": %" PRIu64 ", \"sec_sources\": %" PRIu64
            ", \"sec_sources_evicted\": %" PRIu64
            ", \"clients_shed\": %" PRIu64 ", \"sec_rule_hits\": [",
            st.proxy.clients_active, st.proxy.clients_accepted,
            st.proxy.clients_refused, st.proxy.requests,
            st.proxy.responses[0], st.proxy.responses[1], st.proxy.responses[2],
            st.proxy.responses[3], st.proxy.responses[4], st.proxy.responses[5],
            st.proxy.bytes_from_clients, st.proxy.bytes_to_clients,
            st.proxy.bytes_to_server, st.proxy.bytes_from_server,
            st.proxy.srv_connects, st.proxy.srv_connect_failures,
            st.proxy.srv_in_use, st.proxy.srv_idle, st.proxy.retries,
            st.proxy.errors, st.proxy.sec_acl_denied, st.proxy.sec_conn_limited,
            st.proxy.sec_rate_limited, st.proxy.sec_table_full,
            st.proxy.sec_req_limited, st.proxy.sec_http_denied,
            st.proxy.sec_auth_failed, st.proxy.sec_sources,
            st.proxy.sec_sources_evicted, st.proxy.clients_shed);
    for (int r = 0; r < PCFW_SEC_RULE_COUNTERS; r++) {
        fprintf(f, "%s%" PRIu64, r ? ", " : "", st.proxy.sec_rule_hits[r]);
    }
    fprintf(f, "]}\n  },\n");
}

static void sim_json_harness(FILE *f, const Sim *s)
{
    const SimNet *net = &s->net;
    struct timespec cpu;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    fprintf(f, "  \"harness\": {\n");
    fprintf(f, "    \"card_cpu_ns\": %" PRIu64 ",\n"
            "    \"slirp_cpu_ns\": %" PRIu64 ",\n"
            "    \"process_cpu_ns\": %" PRIu64 ",\n",
            s->card_cpu_ns, net->slirp_cpu_ns,
            (uint64_t)cpu.tv_sec * 1000000000 + (uint64_t)cpu.tv_nsec);
    fprintf(f, "    \"poll_rounds\": %" PRIu64 ",\n"
            "    \"backlog\": %d,\n"
            "    \"listeners_raised\": %" PRIu64 ",\n"
            "    \"listeners_raise_failed\": %" PRIu64 ",\n",
            net->poll_rounds, net->backlog, net->listeners_raised,
            net->listeners_raise_failed);
    fprintf(f, "    \"queues\": {");
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        fprintf(f, "%s\n      \"%s\": {", port ? "," : "", sim_port_name[port]);
        sim_json_queue(f, "to_slirp", &net->port[port].to_slirp);
        fprintf(f, ", ");
        sim_json_queue(f, "to_card", &net->port[port].to_card);
        fprintf(f, "}");
    }
    fprintf(f, "\n    }");
    for (int port = 0; port < PCFW_PORT_COUNT; port++) {
        const SimNetPort *p = &net->port[port];

        if (!p->use_tap) {
            continue;
        }
        /* rx_queue_dropped: read whole but the card's queue was full. */
        fprintf(f, ",\n    \"tap_%s\": {\"device\": ", sim_port_name[port]);
        sim_json_string(f, p->tap.name);
        fprintf(f, ", \"gone\": %s, \"rx_frames\": %" PRIu64
                ", \"rx_runt\": %" PRIu64 ", \"rx_oversize\": %" PRIu64
                ", \"rx_errors\": %" PRIu64 ", \"rx_queue_dropped\": %" PRIu64
                ", \"tx_frames\": %" PRIu64 ", \"tx_dropped\": %" PRIu64 "}",
                p->tap_gone ? "true" : "false", p->tap.rx_frames,
                p->tap.rx_runt, p->tap.rx_oversize, p->tap.rx_errors,
                p->to_card.dropped, p->tap.tx_frames, p->tap.tx_dropped);
    }
    fprintf(f, "\n  }\n");
}

static void sim_json_write(FILE *f, Sim *s)
{
    fprintf(f, "{\n  \"uptime_ms\": %" PRId64 ",\n",
            sim_now_ms() - s->start_ms);
    sim_json_firmware(f, s);
    sim_json_harness(f, s);
    fprintf(f, "}\n");
}

/* To --stats FILE through FILE.tmp and rename(), or to stdout. */
static void sim_write_stats(Sim *s)
{
    const char *path = s->opt.stats_path;
    char *tmp;
    FILE *f;

    if (!path) {
        sim_json_write(stdout, s);
        fflush(stdout);
        return;
    }
    if (asprintf(&tmp, "%s.tmp", path) < 0) {
        sim_log(s, PCFW_LOG_ERROR, "stats: out of memory");
        return;
    }
    f = fopen(tmp, "w");
    if (!f) {
        sim_log(s, PCFW_LOG_ERROR, "stats: cannot create %s: %s", tmp,
                strerror(errno));
        free(tmp);
        return;
    }
    sim_json_write(f, s);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        sim_log(s, PCFW_LOG_ERROR, "stats: cannot write %s: %s", path,
                strerror(errno));
        unlink(tmp);
    }
    free(tmp);
}

/* ---- signals ---------------------------------------------------------------- */

static void sim_on_signal(int sig)
{
    if (sig == SIGUSR1) {
        sim.dump_stats = 1;
    } else if (sig == SIGHUP) {
        sim.reload = 1;
    } else {
        sim.stop = 1;
    }
}

/*
 * Block our signals everywhere but in ppoll(), which unblocks them: a signal
 * then ends the wait at once, and the loop acts on its flag right after.
 */
static void sim_signals_init(Sim *s)
{
    static const int sigs[] = { SIGINT, SIGTERM, SIGUSR1, SIGHUP };
    struct sigaction sa;
    sigset_t block;

    sigemptyset(&block);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaddset(&block, sigs[i]);
    }
    sigprocmask(SIG_BLOCK, &block, &s->wait_mask);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sim_on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigdelset(&s->wait_mask, sigs[i]);
        sigaction(sigs[i], &sa, NULL);
    }
    /* A client that went away must not kill us when slirp writes to it. */
    signal(SIGPIPE, SIG_IGN);
}

/* ---- set-up and the main loop ----------------------------------------------- */

static int sim_card_boot(Sim *s)
{
    static const struct pcfw_platform platform_template = {
        .send_frame = sim_plat_send_frame,
        .now_ms = sim_plat_now_ms,
        .log = sim_plat_log,
    };
    struct pcfw_platform platform = platform_template;
    struct pcfw_config cfg;
    int err;

    s->card_mem = malloc(s->opt.mem_size);
    if (!s->card_mem) {
        sim_log(s, PCFW_LOG_ERROR, "cannot allocate %zu bytes of card memory",
                s->opt.mem_size);
        return -1;
    }
    platform.opaque = s;
    s->net.batch = sim_card_batch;
    if (sim_build_fw_config(&s->opt, &cfg) != 0) {
        return -1;
    }
    SIM_CARD_CALL(s, err = pcfw_init(&platform, &cfg, s->card_mem,
                                     s->opt.mem_size));
    if (err != PCFW_OK) {
        sim_log(s, PCFW_LOG_ERROR, "the firmware failed to start: %s",
                pcfw_strerror(err));
        return -1;
    }
    s->card_up = true;
    return 0;
}

static int sim_add_forwards(Sim *s)
{
    struct in_addr card = sim_ip4(sim_plan[PCFW_PORT_NIC].card);

    for (unsigned i = 0; i < s->opt.nfwd; i++) {
        const SimForward *fwd = &s->opt.fwd[i];
        char host[INET_ADDRSTRLEN];

        inet_ntop(AF_INET, &fwd->host_addr, host, sizeof(host));
        if (sim_net_add_forward(&s->net, PCFW_PORT_NIC, fwd->host_addr,
                                fwd->host_port, card, fwd->card_port) != 0) {
            sim_log(s, PCFW_LOG_ERROR, "cannot forward %s:%d to the card's "
                    "port %d: %s", host, fwd->host_port, fwd->card_port,
                    strerror(errno));
            return -1;
        }
        sim_log(s, PCFW_LOG_INFO, "forwarding %s:%d -> %s:%d (NIC)", host,
                fwd->host_port, sim_plan[PCFW_PORT_NIC].card, fwd->card_port);
    }
    return 0;
}

/* Pid in @path, created whole (through a rename) or not at all. */
static int sim_write_ready(Sim *s)
{
    char *tmp;
    FILE *f;
    int ret = 0;

    if (asprintf(&tmp, "%s.tmp", s->opt.ready_path) < 0) {
        return -1;
    }
    f = fopen(tmp, "w");
    if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0 ||
        rename(tmp, s->opt.ready_path) != 0) {
        sim_log(s, PCFW_LOG_ERROR, "cannot create %s: %s", s->opt.ready_path,
                strerror(errno));
        ret = -1;
    }
    free(tmp);
    return ret;
}

/*
 * Ready: the firmware is up and the forwards listen.  The frames the card
 * sent while booting (gratuitous ARP) go out first, then one round of
 * polling, so that slirp has shown us its listening sockets and their
 * backlogs are raised before any client is told to connect.
 */
static int sim_become_ready(Sim *s)
{
    sim_net_flush(&s->net);
    if (sim_net_poll(&s->net, 0, &s->wait_mask) != 0) {
        sim_log(s, PCFW_LOG_ERROR, "poll: %s", strerror(errno));
        return -1;
    }
    if (s->net.listeners_raised < s->opt.nfwd) {
        sim_log(s, PCFW_LOG_WARN, "only %" PRIu64 " of %u forwards had their "
                "backlog raised", s->net.listeners_raised, s->opt.nfwd);
    }
    sim_log(s, PCFW_LOG_INFO, "card up: NIC %s, BUS %s, %zu bytes of card "
            "memory, backlog %d", sim_plan[PCFW_PORT_NIC].card,
            sim_plan[PCFW_PORT_BUS].card, s->opt.mem_size, s->opt.backlog);
    return s->opt.ready_path ? sim_write_ready(s) : 0;
}

/*
 * The card CPU: slirp I/O (sleeping until a socket, a slirp timer, lwIP's
 * next timer or a signal), then frames both ways until the queues are
 * empty, then lwIP's timers, which may send again.
 */
/* SIGHUP: load the --config file again into the running card. */
static void sim_reload(Sim *s)
{
    char err[256];
    char *text;
    size_t len;
    int ret;

    if (!s->opt.config_path) {
        sim_log(s, PCFW_LOG_WARN, "SIGHUP: no --config file to reload");
        return;
    }
    text = sim_read_config(s->opt.config_path, &len);
    if (!text) {
        return;
    }
    SIM_CARD_CALL(s, ret = pcfw_reconfigure(text, len, err, sizeof(err)));
    free(text);
    if (ret != PCFW_OK) {
        sim_log(s, PCFW_LOG_ERROR, "%s: not loaded: %s", s->opt.config_path,
                err);
    } else {
        sim_log(s, PCFW_LOG_INFO, "%s: loaded", s->opt.config_path);
    }
}

static int sim_run(Sim *s)
{
    uint32_t fw_next;

    for (;;) {
        do {
            sim_net_flush(&s->net);
            fw_next = sim_card_poll(s);
        } while (sim_net_pending(&s->net));

        if (s->stop) {
            return 0;
        }
        if (s->dump_stats) {
            s->dump_stats = 0;
            sim_write_stats(s);
        }
        if (s->reload) {
            s->reload = 0;
            sim_reload(s);
        }
        if (sim_net_poll(&s->net, fw_next, &s->wait_mask) != 0) {
            sim_log(s, PCFW_LOG_ERROR, "poll: %s", strerror(errno));
            return -1;
        }
    }
}

static void sim_teardown(Sim *s)
{
    if (s->card_up) {
        SIM_CARD_CALL(s, pcfw_shutdown());
        s->card_up = false;
    }
    /* Only now: the firmware no longer touches the platform or memory. */
    sim_net_cleanup(&s->net);
    free(s->card_mem);
    s->card_mem = NULL;
    if (s->opt.ready_path) {
        unlink(s->opt.ready_path);
    }
}

int main(int argc, char **argv)
{
    Sim *s = &sim;
    SimNetPortConfig netcfg[PCFW_PORT_COUNT];
    int status = SIM_EXIT_FAIL;
    bool ran = false;

    sim_parse_options(&s->opt, argc, argv);
    s->start_ms = sim_now_ms();
    sim_signals_init(s);
    if (s->opt.ready_path) {
        unlink(s->opt.ready_path);  /* a stale one must not fool a test */
    }

    sim_build_net_config(&s->opt, netcfg);
    if (sim_net_init(&s->net, netcfg, s->opt.backlog, sim_card_input,
                     sim_log_cb, s) == 0 &&
        sim_card_boot(s) == 0 &&
        sim_add_forwards(s) == 0 &&
        sim_become_ready(s) == 0) {
        ran = true;
        if (sim_run(s) == 0) {
            status = s->fault_seen ? SIM_EXIT_FAIL : SIM_EXIT_OK;
            sim_log(s, PCFW_LOG_INFO, "stopping");
        }
    }
    if (ran) {
        sim_write_stats(s);     /* before shutdown: card memory included */
    }
    sim_teardown(s);
    return status;
}
