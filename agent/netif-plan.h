/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The pure core of the interface path (see netif.h): MAC, IPv4 and CIDR
 * parsing, the plan of one ENI, the diff between the plan and what the
 * kernel has, and their one-line forms. No I/O: unit-tested alone
 * (netif-plan.c). Functions return negative errno and leave ret_
 * parameters untouched on failure. */

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

/* The policy routing table of the ENI at NetworkCardIndex c and DeviceIndex d
 * is NETIF_TABLE_BASE + 100 x c + d, and its rules have that number as
 * priority (amazon-ec2-net-utils' numbers on card 0). */
#define NETIF_TABLE_BASE 10000U

static inline uint32_t netif_table_for(unsigned network_card, unsigned device_index) {
        return NETIF_TABLE_BASE + 100U * network_card + device_index;
}

/* The kernel's values (linux/rtnetlink.h, linux/if_addr.h, linux/fib_rules.h),
 * repeated so that callers need not include kernel headers; netif-plan.c checks
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
        uint32_t mtu;                   /* 0: leave the link's MTU as it is */
        /* Never delete or replace anything, only add what is missing: the
         * link, its addresses and its routes are also a network manager's
         * (Routing=auto), which nodeagent never edits. */
        bool add_only;
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
        unsigned network_card;          /* 0..99 */
        unsigned device_index;          /* 1..99; 0 is the primary interface */
        bool without_addresses;         /* the addresses are someone else's (a manager's DHCP) */
        struct in_addr primary_ip;
        const struct in_addr *secondary_ips;
        size_t n_secondary_ips;
        NetifCidr subnet;               /* the ENI's subnet, /30 or shorter */
} NetifEni;

/* Builds the plan for eni (see the top of this file). Every address must lie
 * in the subnet and none may be the router; duplicates are dropped. -EINVAL
 * otherwise. */
int netif_plan_new(const NetifEni *eni, NetifPlan **ret);

/* The plan of the primary interface's own table (Routing=auto where a
 * manager gave the ENI a second default route in the main table): the
 * primary link's subnet and its default route through gateway, both with
 * the primary IP as source, in table, and "from <primary IP> lookup table".
 * Add-only. */
int netif_plan_new_primary(int ifindex, struct in_addr primary_ip, uint8_t prefixlen, struct in_addr gateway,
                           uint32_t table, NetifPlan **ret);

/* The same from EC2's strings (Ec2NetworkInterface.private_ip and
 * .secondary_ips, Ec2Subnet.cidr); secondary_ips is NULL-terminated and may
 * be NULL. */
int netif_plan_new_from_strings(int ifindex, unsigned device_index, const char *primary_ip,
                                char *const *secondary_ips, const char *subnet_cidr, NetifPlan **ret);
/* The same with base's ifindex, network_card, device_index and
 * without_addresses (its addresses and subnet are ignored). */
int netif_plan_new_from_eni_strings(const NetifEni *base, const char *primary_ip, char *const *secondary_ips,
                                    const char *subnet_cidr, NetifPlan **ret);

/* The rules alone that a plan of these addresses has (no link, no
 * addresses, no routes): what a Routing=agent boot left behind for an ENI
 * that has gone, when the boot's own plan is not at hand (--detach, a
 * restart after a release was killed half-way). For netif_unconfigure(). */
int netif_plan_new_rules(unsigned network_card, unsigned device_index, const char *primary_ip,
                         char *const *secondary_ips, NetifPlan **ret);

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
