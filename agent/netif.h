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
 * and what the kernel has) does no I/O and is unit-tested alone: it is
 * netif-plan.h. The rest talks rtnetlink (libmnl) and works by ifindex,
 * whatever the link's name: netif-rtnl.c reads and writes the kernel's
 * objects, netif-configure.c brings a link to its plan, netif-wait.c waits
 * for a link, its carrier or a rule. Only the netif*.c files include libmnl
 * and the kernel's netlink headers.
 * Functions return negative errno and leave ret_ parameters untouched on
 * failure; they log at debug level only. */

#include "netif-outcome.h"
#include "netif-plan.h"
#include "time-util.h"

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

/* The same wait as an object that lives across several waits (the attach
 * lifecycle polls EC2 between them): the rtnetlink socket and the watch on
 * udev's database stay open, so no event between two waits is lost.
 * netif_link_watch_wait() returns 1 and fills ret when the link is there,
 * 0 when `until` came first, -ECANCELED when the boot was cancelled
 * (wait.h). netif_link_watch_new() decides about udev as netif_wait_link()
 * does. */
typedef struct NetifLinkWatch NetifLinkWatch;

int netif_link_watch_new(const NetifMac *mac, NetifLinkWatch **ret);
int netif_link_watch_new_full(const NetifMac *mac, const char *udev_data_dir, NetifLinkWatch **ret);
NetifLinkWatch *netif_link_watch_free(NetifLinkWatch *lw);
DEFINE_TRIVIAL_CLEANUP_FUNC(NetifLinkWatch *, netif_link_watch_free);
int netif_link_watch_wait(NetifLinkWatch *lw, usec_t until, NetifLink *ret);

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

/* The reverse, once the ENI has left: deletes the plan's rules, then, with
 * with_table, its routes, then its addresses (a plan without addresses has
 * none to delete). Works whether the link is still there or not: what is
 * gone already (the routes and addresses that went with the link) is no
 * error. Returns the number of objects deleted, or the first error. */
int netif_unconfigure(const NetifPlan *plan, bool with_table);

/* Reads the link's state (see NetifState) for --status and tests. -ENODEV
 * when there is no such link. */
int netif_read_state(int ifindex, uint32_t table, NetifState *ret);

/* How many changes netif_configure() would make now (0: the link is as the
 * plan says), without making them. -ENODEV when the link is gone. */
int netif_pending(const NetifPlan *plan);

/* Every IPv4 address, route and rule (netif-outcome.h). */
int netif_world_read(NetifWorld *ret);

/* The link's MTU. */
int netif_link_mtu(int ifindex, uint32_t *ret);

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
