/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The rtnetlink layer of the netif-*.c files (netif-rtnl.c), and nothing
 * else's: it brings libmnl and the kernel's netlink headers along. */

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "netif.h"

/* Dump replies come in datagrams of up to 32 KiB once the kernel has seen a
 * receive buffer that large; a shorter buffer would truncate them. */
#define RTNL_RECV_SIZE 32768U

typedef struct Rtnl {
        struct mnl_socket *nl;
        uint32_t portid;
        uint32_t seq;
        char *send_buf;
        char *recv_buf;
} Rtnl;

Rtnl *rtnl_free(Rtnl *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Rtnl *, rtnl_free);

/* groups: RTMGRP_* to join at bind time, before anything is dumped. A
 * socket that waits for events is non-blocking and polled. */
int rtnl_open(unsigned groups, bool nonblock, Rtnl **ret);

/* Called for each data message; returns 0 or negative errno. */
typedef int (*RtnlHandler)(const struct nlmsghdr *nlh, void *userdata);

/* One exchange: the request's sequence number, its outcome, and the handler
 * for its data messages (and, on a socket that joined groups, for events). */
typedef struct RtnlCall {
        RtnlHandler handler;
        void *userdata;
        uint32_t portid;
        uint32_t seq;
        bool done;
        bool interrupted;
        int error;
} RtnlCall;

/* Processes one datagram: replies to c's request and events (see
 * netif-rtnl.c). */
void rtnl_call_process(RtnlCall *c, const void *buf, size_t len);

/* Sends a request and reads its replies to the end, on a socket in no
 * group. Returns the kernel's error, the handler's, or -EAGAIN when a dump
 * was interrupted by a change (read it again). */
int rtnl_call(Rtnl *r, struct nlmsghdr *nlh, RtnlHandler handler, void *userdata);

/* The start of a dump of family in r's send buffer; hdr_size is that of the
 * message type's header (ifinfomsg, ifaddrmsg, rtmsg, fib_rule_hdr). */
struct nlmsghdr *rtnl_dump_message(Rtnl *r, uint16_t type, size_t hdr_size, uint8_t family);

typedef struct LinkInfo {
        int ifindex;
        char name[IFNAMSIZ];
        NetifMac mac;
        bool has_mac;
        unsigned flags;                 /* IFF_* */
        uint32_t mtu;                   /* 0: not said */
} LinkInfo;

/* An RTM_NEWLINK or RTM_DELLINK message. */
int rtnl_link_parse(const struct nlmsghdr *nlh, LinkInfo *ret);
/* -ENODEV when there is no such link. */
int rtnl_link_get(Rtnl *rtnl, int ifindex, LinkInfo *ret);
int rtnl_link_set_up(Rtnl *rtnl, int ifindex);
int rtnl_link_set_mtu(Rtnl *rtnl, int ifindex, uint32_t mtu);

/* An RTM_NEWRULE or RTM_DELRULE message: 1 and the rule when it is IPv4, 0
 * when not. */
int rtnl_rule_parse(const struct nlmsghdr *nlh, NetifRule *ret);

/* Appends the IPv4 addresses of s->ifindex, the routes of s->table and the
 * rules that look up s->table or sit at its priority to s. -EAGAIN when a
 * dump was interrupted by a change. */
int rtnl_state_dump(Rtnl *rtnl, NetifState *s);

/* Appends every IPv4 address, route and rule to w (netif-outcome.h). -EAGAIN
 * when a dump was interrupted by a change. */
typedef struct NetifWorld NetifWorld;
int rtnl_world_dump(Rtnl *rtnl, NetifWorld *w);

int rtnl_address_add(Rtnl *rtnl, const NetifAddress *a);
int rtnl_address_del(Rtnl *rtnl, const NetifAddress *a);
int rtnl_route_add(Rtnl *rtnl, const NetifRoute *rt);
/* Names every field the route has, so that the kernel deletes this route
 * and no other of the same key. */
int rtnl_route_del(Rtnl *rtnl, const NetifRoute *rt);
int rtnl_rule_add(Rtnl *rtnl, const NetifRule *rule);
int rtnl_rule_del(Rtnl *rtnl, const NetifRule *rule);
