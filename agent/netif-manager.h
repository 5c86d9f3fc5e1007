/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The network managers of real AMIs, as far as nodeagent's ENI is concerned
 * (DESIGN.md, "Interface (issue 11)"):
 *
 *   amazon-ec2-net-utils 2.x   Amazon Linux 2023: a udev rule starts
 *                              policy-routes@<link>, which writes a .network
 *                              for systemd-networkd: DHCP, table and rule
 *                              priority 10000 + device index
 *   amazon-ec2-net-utils 1.x   Amazon Linux 2: ec2net.hotplug, ec2ifup,
 *                              dhclient, the same table numbers
 *   systemd-networkd           a .network that matches the new link
 *                              (netplan's match-all DHCP, cloud-init's
 *                              per-NIC tables 100 + index on Ubuntu, an
 *                              admin's); it removes foreign rules host-wide
 *                              and foreign routes of its links whenever it
 *                              starts or configures a link
 *                              (ManageForeignRoutingPolicyRules=,
 *                              ManageForeignRoutes=)
 *   NetworkManager             RHEL: connects every new ethernet device
 *                              (DHCP, a second default route in main)
 *   ifupdown                   Debian's AMIs: allow-hotplug + dhclient; a
 *                              lease that ends takes the address with it
 *
 * How each is told to leave a link alone, keyed by the ENI's MAC and
 * written before AttachNetworkInterface (the opt-outs), and how far each
 * has got with a link (the claim). Files live below a root (NULL: "/") so
 * that tests can look at them; the managers are asked to reload only on
 * the real root. */

#include "config.h"
#include "netif.h"

typedef enum NetifManager {
        NETIF_MANAGER_EC2_NET_UTILS_2,
        NETIF_MANAGER_EC2_NET_UTILS_1,
        NETIF_MANAGER_NETWORKD,
        NETIF_MANAGER_NETWORK_MANAGER,
        NETIF_MANAGER_IFUPDOWN,
        _NETIF_MANAGER_MAX,
} NetifManager;

const char *netif_manager_to_string(NetifManager m) _pure_;

#define NETIF_MANAGER_BIT(m) (1U << (m))

/* What is installed and what runs, bit per NetifManager. A daemon runs when
 * it runs in our network namespace (one in another never sees our links);
 * the managers that udev starts (ifupdown, amazon-ec2-net-utils) run when
 * installed. */
typedef struct NetifHost {
        unsigned installed;
        unsigned running;
        bool dhclient_hooks;            /* /etc/dhcp/dhclient-enter-hooks.d (Debian's dhclient-script) */
} NetifHost;

int netif_host_probe(const char *root, NetifHost *ret);
/* "systemd-networkd (running), ifupdown (installed)" or "none". */
char *netif_host_to_string(const NetifHost *h);

/* The opt-outs. */
enum {
        /* /run/systemd/network/00-nodeagent-<mac>.network: Unmanaged=yes. */
        NETIF_OPTOUT_NETWORKD_LINK = 1 << 0,
        /* /run/systemd/networkd.conf.d/90-nodeagent.conf: networkd keeps
         * foreign rules and routes (from its next start on; until then
         * the supervisor puts back what it removes). */
        NETIF_OPTOUT_NETWORKD_FOREIGN = 1 << 1,
        /* /run/NetworkManager/conf.d/90-nodeagent-<mac>.conf: managed=0. */
        NETIF_OPTOUT_NETWORK_MANAGER = 1 << 2,
        /* /etc/dhcp/dhclient-enter-hooks.d/nodeagent and
         * /run/nodeagent/unmanaged/<mac>: dhclient-script does nothing on
         * that link (no address added, none removed when a lease ends). */
        NETIF_OPTOUT_DHCLIENT = 1 << 3,
};

/* Which opt-outs mode needs on h (pure):
 *   agent  every manager that runs is told to leave the link alone, and
 *          networkd to keep nodeagent's rules;
 *   auto   the managers keep the link; networkd is told to keep the
 *          rules and table nodeagent adds beside its work;
 *   none   nothing. */
unsigned netif_optouts_for(const NetifHost *h, RoutingMode mode) _pure_;

/* Writes the opt-outs mode needs for mac below root (NULL: "/") and, on
 * "/", asks the running managers to reload; under auto it removes the
 * per-link opt-outs an earlier Routing=agent boot left for mac. Before
 * AttachNetworkInterface: a manager must know before the link appears.
 * Returns the opt-outs written (NETIF_OPTOUT_*), or negative errno. */
int netif_prepare_managers_full(const char *root, const NetifHost *h, const char *mac, RoutingMode mode);
/* The same on "/", probing the host first. */
int netif_prepare_managers(const char *mac, RoutingMode mode);

/* How far the managers of h have got with the link (Routing=auto, after it
 * appeared). who: the manager that claims it (_NETIF_MANAGER_MAX: none). */
NetifClaim netif_manager_claim(const char *root, const NetifHost *h, const NetifLink *link, const NetifOutcome *o,
                               NetifManager *ret_who);
