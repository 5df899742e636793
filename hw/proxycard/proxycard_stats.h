/*
 * proxycard statistics: the one list of the card's counters, in order.
 *
 * Used by the QOM property "stats" (names), by the READ_STATS command
 * (the values as little-endian u64, in this order), and by the Linux driver
 * (ethtool names).  docs/datasheet.md section 6 lists them in this order.
 * Append only: the position of a counter is part of the interface.
 * sec-rule-N is what the N-th security rule of the configuration decided
 * (pcfw.h, PCFW_SEC_RULE_COUNTERS of them, SEC_RULE_1 first).
 *
 * Copyright (c) 2026 The proxycard authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PROXYCARD_STATS_H
#define PROXYCARD_STATS_H

#define PROXYCARD_STATS_LIST(X)                             \
    X(CARD_CPU_NS, "card-cpu-ns")                           \
    X(MEM_SIZE, "mem-size")                                 \
    X(MEM_IN_USE, "mem-in-use")                             \
    X(MEM_HIGH_WATER, "mem-high-water")                     \
    X(MEM_FAILURES, "mem-failures")                         \
    X(CLIENTS_ACTIVE, "clients-active")                     \
    X(CLIENTS_ACCEPTED, "clients-accepted")                 \
    X(CLIENTS_REFUSED, "clients-refused")                   \
    X(REQUESTS, "requests")                                 \
    X(RESPONSES_1XX, "responses-1xx")                       \
    X(RESPONSES_2XX, "responses-2xx")                       \
    X(RESPONSES_3XX, "responses-3xx")                       \
    X(RESPONSES_4XX, "responses-4xx")                       \
    X(RESPONSES_5XX, "responses-5xx")                       \
    X(ERRORS, "errors")                                     \
    X(RETRIES, "retries")                                   \
    X(BYTES_FROM_CLIENTS, "bytes-from-clients")             \
    X(BYTES_TO_CLIENTS, "bytes-to-clients")                 \
    X(BYTES_TO_SERVER, "bytes-to-server")                   \
    X(BYTES_FROM_SERVER, "bytes-from-server")               \
    X(SERVER_CONNECTS, "server-connects")                   \
    X(SERVER_CONNECT_FAILURES, "server-connect-failures")   \
    X(SERVER_IN_USE, "server-in-use")                       \
    X(SERVER_IDLE, "server-idle")                           \
    X(NIC_RX_FRAMES, "nic-rx-frames")                       \
    X(NIC_TX_FRAMES, "nic-tx-frames")                       \
    X(NIC_RX_DROPPED, "nic-rx-dropped")                     \
    X(NIC_TX_DROPPED, "nic-tx-dropped")                     \
    X(BUS_RX_FRAMES, "bus-rx-frames")                       \
    X(BUS_TX_FRAMES, "bus-tx-frames")                       \
    X(BUS_RX_DROPPED, "bus-rx-dropped")                     \
    X(BUS_TX_DROPPED, "bus-tx-dropped")                     \
    X(SEC_ACL_DENIED, "sec-acl-denied")                     \
    X(SEC_CONN_LIMITED, "sec-conn-limited")                 \
    X(SEC_RATE_LIMITED, "sec-rate-limited")                 \
    X(SEC_TABLE_FULL, "sec-table-full")                     \
    X(SEC_REQ_LIMITED, "sec-req-limited")                   \
    X(SEC_HTTP_DENIED, "sec-http-denied")                   \
    X(SEC_AUTH_FAILED, "sec-auth-failed")                   \
    X(SEC_SOURCES, "sec-sources")                           \
    X(SEC_SOURCES_EVICTED, "sec-sources-evicted")           \
    X(CLIENTS_SHED, "clients-shed")                         \
    X(SEC_RULE_1, "sec-rule-1")                             \
    X(SEC_RULE_2, "sec-rule-2")                             \
    X(SEC_RULE_3, "sec-rule-3")                             \
    X(SEC_RULE_4, "sec-rule-4")                             \
    X(SEC_RULE_5, "sec-rule-5")                             \
    X(SEC_RULE_6, "sec-rule-6")                             \
    X(SEC_RULE_7, "sec-rule-7")                             \
    X(SEC_RULE_8, "sec-rule-8")                             \
    X(SEC_RULE_9, "sec-rule-9")                             \
    X(SEC_RULE_10, "sec-rule-10")                           \
    X(SEC_RULE_11, "sec-rule-11")                           \
    X(SEC_RULE_12, "sec-rule-12")                           \
    X(SEC_RULE_13, "sec-rule-13")                           \
    X(SEC_RULE_14, "sec-rule-14")                           \
    X(SEC_RULE_15, "sec-rule-15")                           \
    X(SEC_RULE_16, "sec-rule-16")                           \
    X(SEC_RULE_17, "sec-rule-17")                           \
    X(SEC_RULE_18, "sec-rule-18")                           \
    X(SEC_RULE_19, "sec-rule-19")                           \
    X(SEC_RULE_20, "sec-rule-20")                           \
    X(SEC_RULE_21, "sec-rule-21")                           \
    X(SEC_RULE_22, "sec-rule-22")                           \
    X(SEC_RULE_23, "sec-rule-23")                           \
    X(SEC_RULE_24, "sec-rule-24")                           \
    X(SEC_RULE_25, "sec-rule-25")                           \
    X(SEC_RULE_26, "sec-rule-26")                           \
    X(SEC_RULE_27, "sec-rule-27")                           \
    X(SEC_RULE_28, "sec-rule-28")                           \
    X(SEC_RULE_29, "sec-rule-29")                           \
    X(SEC_RULE_30, "sec-rule-30")                           \
    X(SEC_RULE_31, "sec-rule-31")                           \
    X(SEC_RULE_32, "sec-rule-32")

#define PROXYCARD_STAT_ENUM_(id, name) PROXYCARD_STAT_##id,
enum proxycard_stat {
    PROXYCARD_STATS_LIST(PROXYCARD_STAT_ENUM_)
    PROXYCARD_STAT_COUNT
};
#undef PROXYCARD_STAT_ENUM_

#endif /* PROXYCARD_STATS_H */
