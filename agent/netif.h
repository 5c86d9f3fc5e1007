/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The node's ENI on the kernel side (DESIGN.md, "interface path"): wait for
 * its link by MAC address, then give it its addresses and a policy routing
 * table of its own, as amazon-ec2-net-utils does on Amazon Linux:
 *
 *   addresses   10.0.1.10/24 and each secondary, noprefixroute (the main
 *               table gets no subnet route through the ENI)
 *   table       10000 + DeviceIndex, e.g. 10001:
 *                 10.0.1.0/24 dev <eni> scope link src 10.0.1.10
 *                 default via 10.0.1.1 dev <eni> src 10.0.1.10
 *   rules       from 10.0.1.10 lookup 10001 priority 10001, one per address
 *   sysctl      net.ipv4.conf.<eni>.rp_filter = 2 (loose)
 *
 * So traffic from the ENI's addresses leaves through the ENI (its replies
 * and its connections), everything else keeps using the primary interface
 * and the main table, which are never touched.
 *
 * The pure core (MAC and IPv4 parsing, the plan, the diff between the plan
 * and what the kernel has) does no I/O and is unit-tested alone. The rest
 * talks rtnetlink (libmnl) and works by ifindex, whatever the link's name.
 * Functions return negative errno and leave ret_ parameters untouched on
 * failure; they log at debug level only. */

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "time-util.h"

/* The policy routing table of the ENI at DeviceIndex d is NETIF_TABLE_BASE + d,
 * and its rules have that number as priority (amazon-ec2-net-utils' numbers). */
#define NETIF_TABLE_BASE 10000U

/* The kernel's values (linux/rtnetlink.h, linux/if_addr.h, linux/fib_rules.h),
 * repeated so that callers need not include kernel headers; netif.c checks
 * at compile time that they agree. */
enum {
        NETIF_SCOPE_UNIVERSE = 0,
        NETIF_SCOPE_LINK = 253,
        NETIF_SCOPE_HOST = 254,
};
enum {
        NETIF_ROUTE_UNICAST = 1,
};
enum {
        NETIF_PROTO_STATIC = 4,
};
enum {
        NETIF_RULE_TO_TABLE = 1,
};
#define NETIF_ADDRESS_PERMANENT 0x80U
#define NETIF_ADDRESS_NOPREFIXROUTE 0x200U

typedef struct NetifMac {
        uint8_t bytes[6];
} NetifMac;

/* "02:00:00:00:01:10", either case; -EINVAL on anything else. */
int netif_mac_from_string(const char *s, NetifMac *ret);
#define NETIF_MAC_STRING_MAX 18
/* Lower case, as EC2 and the kernel write it. Returns buf. */
const char *netif_mac_to_string(const NetifMac *mac, char buf[static NETIF_MAC_STRING_MAX]);
bool netif_mac_equal(const NetifMac *a, const NetifMac *b) _pure_;

/* A dotted quad, strictly (inet_pton: no leading zeros, no shorthand). */
int netif_ipv4_from_string(const char *s, struct in_addr *ret);
/* Returns buf. */
const char *netif_ipv4_to_string(struct in_addr a, char buf[static INET_ADDRSTRLEN]);

typedef struct NetifCidr {
        struct in_addr network;
        uint8_t prefixlen;              /* 0..32 */
} NetifCidr;

/* "10.0.1.0/24". The host bits must be zero, as EC2 writes a subnet's
 * CidrBlock: "10.0.1.10/24" is an address, not a subnet, and is -EINVAL. */
int netif_cidr_from_string(const char *s, NetifCidr *ret);
#define NETIF_CIDR_STRING_MAX (INET_ADDRSTRLEN + 4)
const char *netif_cidr_to_string(const NetifCidr *c, char buf[static NETIF_CIDR_STRING_MAX]);
/* The subnet's router: network address + 1, where a VPC puts it. -EINVAL
 * for prefixes longer than /30, which have no room for it. */
int netif_cidr_router(const NetifCidr *c, struct in_addr *ret);
bool netif_cidr_contains(const NetifCidr *c, struct in_addr a) _pure_;

/* One IPv4 address of a link. */
typedef struct NetifAddress {
        int ifindex;
        struct in_addr address;
        uint8_t prefixlen;
        uint32_t flags;                 /* NETIF_ADDRESS_* (IFA_F_*) */
} NetifAddress;

/* One IPv4 route. Routes are compared on everything but protocol: a route
 * someone else added that forwards the same way is as good as ours. */
typedef struct NetifRoute {
        uint32_t table;
        struct in_addr dst;
        uint8_t dst_len;
        uint8_t tos;
        uint8_t scope;                  /* NETIF_SCOPE_* */
        uint8_t type;                   /* NETIF_ROUTE_* (RTN_*) */
        uint8_t protocol;               /* NETIF_PROTO_* (RTPROT_*) */
        uint32_t priority;              /* the metric */
        int oif;                        /* 0: none */
        struct in_addr gateway;         /* 0.0.0.0: none */
        struct in_addr prefsrc;         /* 0.0.0.0: none */
        bool other;                     /* multipath, RTA_VIA, a source prefix...:
                                         * nothing a plan ever asks for */
} NetifRoute;

/* One IPv4 policy routing rule. */
typedef struct NetifRule {
        uint32_t priority;
        uint32_t table;
        struct in_addr src;
        uint8_t src_len;                /* 0: from all */
        uint8_t action;                 /* NETIF_RULE_* (FR_ACT_*) */
        bool other;                     /* further selectors (iif, oif, fwmark,
                                         * to, tos, not, ...): someone else's
                                         * rule, never ours to change */
} NetifRule;

/* The desired state of one ENI. */
typedef struct NetifPlan {
        int ifindex;
        uint32_t table;
        NetifAddress *addresses;
        size_t n_addresses;
        NetifRoute *routes;             /* the subnet route first: the default
                                         * route's gateway needs it */
        size_t n_routes;
        NetifRule *rules;
        size_t n_rules;
} NetifPlan;

NetifPlan *netif_plan_free(NetifPlan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(NetifPlan *, netif_plan_free);

/* What the plan is made from: the link and what EC2 says about the ENI. */
typedef struct NetifEni {
        int ifindex;
        unsigned device_index;          /* 1..65535; 0 is the primary interface */
        struct in_addr primary_ip;
        const struct in_addr *secondary_ips;
        size_t n_secondary_ips;
        NetifCidr subnet;               /* the ENI's subnet, /30 or shorter */
} NetifEni;

/* Builds the plan for eni (see the top of this file). Every address must lie
 * in the subnet and none may be the router; duplicates are dropped. -EINVAL
 * otherwise. */
int netif_plan_new(const NetifEni *eni, NetifPlan **ret);

/* The same from EC2's strings (Ec2NetworkInterface.private_ip and
 * .secondary_ips, Ec2Subnet.cidr); secondary_ips is NULL-terminated and may
 * be NULL. */
int netif_plan_new_from_strings(int ifindex, unsigned device_index, const char *primary_ip,
                                char *const *secondary_ips, const char *subnet_cidr, NetifPlan **ret);

/* What the kernel has for one ENI, as netif_read_state() finds it. */
typedef struct NetifState {
        int ifindex;
        char ifname[IFNAMSIZ];
        NetifMac mac;
        bool up;
        int rp_filter;                  /* -1 when unknown */
        uint32_t table;
        NetifAddress *addresses;        /* the link's IPv4 addresses */
        size_t n_addresses;
        NetifRoute *routes;             /* the IPv4 routes in table */
        size_t n_routes;
        NetifRule *rules;               /* IPv4 rules that look up table or sit
                                         * at priority table, in kernel order */
        size_t n_rules;
} NetifState;

void netif_state_done(NetifState *s);

/* What netif_configure() does to get from a state to a plan, in this order:
 * delete addresses, add addresses (NLM_F_REPLACE), add routes (replacing a
 * route of the same destination, tos and metric), delete routes, delete
 * rules (the most specific first), add rules. Only the plan's link, table
 * and rules are ever named:
 *  - an address of the plan with another prefix length, or without
 *    noprefixroute, is deleted and added again (the kernel does not change
 *    the flags of an existing IPv4 address); then all the plan's addresses
 *    are added again, since deleting a primary address takes the secondary
 *    addresses of its subnet with it. Other addresses of the link stay;
 *  - every route in the table that is not in the plan goes, except the one
 *    that an added route replaces;
 *  - a rule is ours when it has no selector but "from" and looks up the
 *    table or sits at its priority; ours that are not in the plan go
 *    (another table, an address the ENI no longer has, a duplicate, "from
 *    all"). Deleting "from all" would make the kernel delete the first rule
 *    at that priority looking up that table, which may be one we keep: such
 *    rules are deleted first and added again. */
typedef struct NetifDiff {
        NetifAddress *del_addresses;
        size_t n_del_addresses;
        NetifAddress *add_addresses;
        size_t n_add_addresses;
        NetifRoute *add_routes;
        size_t n_add_routes;
        NetifRoute *del_routes;
        size_t n_del_routes;
        NetifRule *del_rules;
        size_t n_del_rules;
        NetifRule *add_rules;
        size_t n_add_rules;
} NetifDiff;

NetifDiff *netif_diff_free(NetifDiff *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(NetifDiff *, netif_diff_free);

int netif_diff(const NetifPlan *plan, const NetifState *state, NetifDiff **ret);
/* The number of changes in d; 0: the state is the plan. */
size_t netif_diff_count(const NetifDiff *d) _pure_;

/* One line each, in ip(8)'s words, for logs, --status and tests; links by
 * ifindex ("dev #5"). Return buf. */
#define NETIF_FORMAT_MAX 192
const char *netif_address_to_string(const NetifAddress *a, char buf[static NETIF_FORMAT_MAX]);
const char *netif_route_to_string(const NetifRoute *r, char buf[static NETIF_FORMAT_MAX]);
const char *netif_rule_to_string(const NetifRule *r, char buf[static NETIF_FORMAT_MAX]);

/* The link found by MAC address. */
typedef struct NetifLink {
        int ifindex;
        char name[IFNAMSIZ];            /* when returned; work by ifindex */
        NetifMac mac;
} NetifLink;

/* Waits until a link with this MAC address exists in the current network
 * namespace and, when udevd runs in this namespace, until udev has
 * initialised it (so that its rename, if any, is done). The rtnetlink
 * socket joins RTMGRP_LINK before the links are dumped, so a link that
 * appears in between is not missed. Returns -ETIME at the deadline; a
 * deadline that has passed (0) still looks at the links there are, once. */
int netif_wait_link(const NetifMac *mac, usec_t deadline, NetifLink *ret);

/* Waits until link ifindex has a carrier (IFF_LOWER_UP): its addresses can
 * carry traffic. -ETIME at the deadline, -ENODEV when the link goes away. */
int netif_wait_carrier(int ifindex, usec_t deadline);

/* The same with the udev decision made by the caller: udev_data_dir NULL
 * does not wait for udev; else the link counts as initialised once
 * "<udev_data_dir>/n<ifindex>" exists (udev's database file, written after
 * rules and renames ran). That file is checked on every link event and
 * whenever udev writes into its database directory (inotify; every 100 ms
 * when the directory cannot be watched): udev's own monitor belongs to
 * another module. For tests, and for callers that know
 * better. */
int netif_wait_link_full(const NetifMac *mac, const char *udev_data_dir, usec_t deadline, NetifLink *ret);

/* Brings the link up and makes its addresses, routes and rules those of the
 * plan (see NetifDiff), then sets rp_filter=2 on it. Idempotent: a second
 * call changes nothing. Returns the number of changes made (0: all was in
 * place), -ENODEV when the link is gone, -EAGAIN when the state does not
 * settle (something else keeps changing it). */
int netif_configure(const NetifPlan *plan);

/* Reads the link's state (see NetifState) for --status and tests. -ENODEV
 * when there is no such link. */
int netif_read_state(int ifindex, uint32_t table, NetifState *ret);

/* True when amazon-ec2-net-utils' policy-routes units are installed: then
 * Routing=auto leaves the ENI to them. _in() looks below another root
 * directory (tests). */
bool netif_routing_auto_delegated(void);
bool netif_routing_auto_delegated_in(const char *root);

/* Waits until a rule "from ip" (/32) exists, as amazon-ec2-net-utils sets
 * it up, and returns the table it looks up in ret_table (may be NULL).
 * Event-driven (RTMGRP_IPV4_RULE). -ETIME at the deadline; a deadline that
 * has passed (0) still looks at the rules there are, once. */
int netif_wait_rule(struct in_addr ip, usec_t deadline, uint32_t *ret_table);

/* Link and IPv4 address events, for the supervisor after READY: poll the
 * fd, drain it, then look at the link again (netif_read_state()). */
typedef struct NetifLinkMonitor NetifLinkMonitor;

int netif_link_monitor_new(NetifLinkMonitor **ret);
NetifLinkMonitor *netif_link_monitor_free(NetifLinkMonitor *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(NetifLinkMonitor *, netif_link_monitor_free);
int netif_link_monitor_fd(const NetifLinkMonitor *m);
void netif_link_monitor_drain(NetifLinkMonitor *m);
