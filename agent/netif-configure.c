/* SPDX-License-Identifier: Apache-2.0 */
/* Bringing a link to its plan: read the state, apply the diff, read again
 * until they agree; and rp_filter beside it. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "netif-internal.h"
#include "netif-rtnl.h"

/* netif_configure() applies a diff and reads the state again until they
 * agree; something else fighting over the table must not keep it busy. */
#define CONFIGURE_ROUNDS_MAX 3

/* A dump the kernel flags as interrupted (the table changed under it) is
 * read again, a few times. */
#define DUMP_ATTEMPTS_MAX 5

/* ---- rp_filter ---- */

static int rp_filter_path(const char *ifname, char **ret) {
        /* The name becomes a path component: the kernel forbids '/' in names,
         * and "." and ".." are not valid names either. */
        if (isempty(ifname) || strchr(ifname, '/') || streq(ifname, ".") || streq(ifname, ".."))
                return -EINVAL;
        if (asprintf(ret, "/proc/sys/net/ipv4/conf/%s/rp_filter", ifname) < 0)
                return -ENOMEM;
        return 0;
}

/* /proc/sys/net is that of the caller's network namespace. */
static int rp_filter_read(const char *ifname) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        char buf[16];
        ssize_t n;
        int value = 0, r;

        r = rp_filter_path(ifname, &path);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';

        /* One small decimal number and a newline. */
        if (n < 1 || buf[0] < '0' || buf[0] > '9')
                return -EBADMSG;
        for (ssize_t i = 0; i < n && buf[i] != '\n'; i++) {
                if (buf[i] < '0' || buf[i] > '9' || value > 1000)
                        return -EBADMSG;
                value = value * 10 + (buf[i] - '0');
        }
        return value;
}

/* Returns 1 when changed, 0 when it already was. */
static int rp_filter_set(const char *ifname, int value) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        char buf[16];
        int r, n;

        r = rp_filter_read(ifname);
        if (r == value)
                return 0;
        r = rp_filter_path(ifname, &path);
        if (r < 0)
                return r;
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        n = snprintf(buf, sizeof(buf), "%i\n", value);
        if (write(fd, buf, (size_t) n) != n)
                return negative_errno();
        return 1;
}

/* ---- state and configuration ---- */

static int state_read(Rtnl *rtnl, int ifindex, uint32_t table, NetifState *ret) {
        NetifState s = { .ifindex = ifindex, .table = table, .rp_filter = -1 };
        LinkInfo link;
        int r;

        if (ifindex <= 0)
                return -EINVAL;
        r = rtnl_link_get(rtnl, ifindex, &link);
        if (r < 0)
                return r;
        memcpy(s.ifname, link.name, sizeof(s.ifname));
        s.mac = link.mac;
        s.up = link.flags & IFF_UP;
        r = rp_filter_read(link.name);
        s.rp_filter = r < 0 ? -1 : r;

        for (unsigned attempt = 1;; attempt++) {
                r = rtnl_state_dump(rtnl, &s);
                if (r != -EAGAIN || attempt >= DUMP_ATTEMPTS_MAX)
                        break;
                log_debug("A dump was interrupted by a change, reading again.");
                netif_state_done(&s);
        }
        if (r < 0) {
                netif_state_done(&s);
                return r;
        }

        *ret = s;
        return 0;
}

int netif_world_read(NetifWorld *ret) {
        _cleanup_(rtnl_freep) Rtnl *rtnl = NULL;
        int r;

        r = rtnl_open(0, false, &rtnl);
        if (r < 0)
                return r;
        for (unsigned attempt = 1;; attempt++) {
                NetifWorld w = {};

                r = rtnl_world_dump(rtnl, &w);
                if (r >= 0) {
                        *ret = w;
                        return 0;
                }
                netif_world_done(&w);
                if (r != -EAGAIN || attempt >= DUMP_ATTEMPTS_MAX)
                        return r;
        }
}

int netif_link_mtu(int ifindex, uint32_t *ret) {
        _cleanup_(rtnl_freep) Rtnl *rtnl = NULL;
        LinkInfo link;
        int r;

        r = rtnl_open(0, false, &rtnl);
        if (r < 0)
                return r;
        r = rtnl_link_get(rtnl, ifindex, &link);
        if (r < 0)
                return r;
        if (link.mtu == 0)
                return -ENODATA;
        *ret = link.mtu;
        return 0;
}

int netif_pending(const NetifPlan *plan) {
        _cleanup_(rtnl_freep) Rtnl *rtnl = NULL;
        _cleanup_(netif_state_done) NetifState state = {};
        _cleanup_(netif_diff_freep) NetifDiff *diff = NULL;
        LinkInfo link;
        int r;

        r = rtnl_open(0, false, &rtnl);
        if (r < 0)
                return r;
        r = rtnl_link_get(rtnl, plan->ifindex, &link);
        if (r < 0)
                return r;
        r = state_read(rtnl, plan->ifindex, plan->table, &state);
        if (r < 0)
                return r;
        r = netif_diff(plan, &state, &diff);
        if (r < 0)
                return r;
        return (int) MIN(netif_diff_count(diff), (size_t) INT32_MAX) + !(link.flags & IFF_UP) +
                (plan->mtu > 0 && link.mtu != plan->mtu);
}

int netif_read_state(int ifindex, uint32_t table, NetifState *ret) {
        _cleanup_(rtnl_freep) Rtnl *rtnl = NULL;
        int r;

        r = rtnl_open(0, false, &rtnl);
        if (r < 0)
                return r;
        return state_read(rtnl, ifindex, table, ret);
}

/* Returns the number of changes made, or the first error. What is already
 * gone when deleted, or already there when added, is no error: another
 * actor, or an earlier step (a primary address takes its secondaries with
 * it), did it. */
static int diff_apply(Rtnl *rtnl, const NetifDiff *d) {
        char s[NETIF_FORMAT_MAX];
        int changes = 0, r;

        for (size_t i = 0; i < d->n_del_addresses; i++) {
                log_debug("Deleting address %s", netif_address_to_string(&d->del_addresses[i], s));
                r = rtnl_address_del(rtnl, &d->del_addresses[i]);
                if (r == -EADDRNOTAVAIL)
                        continue;
                if (r < 0)
                        return log_debug_errno(r, "Failed to delete address %s: %m", s);
                changes++;
        }
        for (size_t i = 0; i < d->n_add_addresses; i++) {
                log_debug("Adding address %s", netif_address_to_string(&d->add_addresses[i], s));
                r = rtnl_address_add(rtnl, &d->add_addresses[i]);
                if (r < 0)
                        return log_debug_errno(r, "Failed to add address %s: %m", s);
                changes++;
        }
        for (size_t i = 0; i < d->n_add_routes; i++) {
                log_debug("Adding route %s", netif_route_to_string(&d->add_routes[i], s));
                r = rtnl_route_add(rtnl, &d->add_routes[i]);
                if (r < 0)
                        return log_debug_errno(r, "Failed to add route %s: %m", s);
                changes++;
        }
        for (size_t i = 0; i < d->n_del_routes; i++) {
                log_debug("Deleting route %s", netif_route_to_string(&d->del_routes[i], s));
                r = rtnl_route_del(rtnl, &d->del_routes[i]);
                if (r == -ESRCH)
                        continue;
                if (r < 0)
                        return log_debug_errno(r, "Failed to delete route %s: %m", s);
                changes++;
        }
        for (size_t i = 0; i < d->n_del_rules; i++) {
                log_debug("Deleting rule %s", netif_rule_to_string(&d->del_rules[i], s));
                r = rtnl_rule_del(rtnl, &d->del_rules[i]);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return log_debug_errno(r, "Failed to delete rule %s: %m", s);
                changes++;
        }
        for (size_t i = 0; i < d->n_add_rules; i++) {
                log_debug("Adding rule %s", netif_rule_to_string(&d->add_rules[i], s));
                r = rtnl_rule_add(rtnl, &d->add_rules[i]);
                if (r == -EEXIST)
                        continue;
                if (r < 0)
                        return log_debug_errno(r, "Failed to add rule %s: %m", s);
                changes++;
        }
        return changes;
}

int netif_configure(const NetifPlan *plan) {
        _cleanup_(rtnl_freep) Rtnl *rtnl = NULL;
        char ifname[IFNAMSIZ] = "";
        LinkInfo link;
        int changes = 0, r;

        if (!plan || plan->ifindex <= 0)
                return -EINVAL;

        r = rtnl_open(0, false, &rtnl);
        if (r < 0)
                return log_debug_errno(r, "Failed to open rtnetlink socket: %m");

        /* Up first: the kernel refuses a gateway route on a link that is down. */
        r = rtnl_link_get(rtnl, plan->ifindex, &link);
        if (r < 0)
                return log_debug_errno(r, "Failed to look at link #%i: %m", plan->ifindex);
        if (!(link.flags & IFF_UP)) {
                log_debug("Setting link %s (#%i) up.", link.name, link.ifindex);
                r = rtnl_link_set_up(rtnl, plan->ifindex);
                if (r < 0)
                        return log_debug_errno(r, "Failed to set link %s up: %m", link.name);
                changes++;
        }
        if (plan->mtu > 0 && link.mtu != plan->mtu) {
                log_debug("Setting the MTU of link %s (#%i) to %" PRIu32 " (was %" PRIu32 ").", link.name,
                          link.ifindex, plan->mtu, link.mtu);
                r = rtnl_link_set_mtu(rtnl, plan->ifindex, plan->mtu);
                if (r < 0)
                        return log_debug_errno(r, "Failed to set the MTU of %s to %" PRIu32 ": %m", link.name,
                                               plan->mtu);
                changes++;
        }

        for (unsigned round = 0;; round++) {
                _cleanup_(netif_state_done) NetifState state = {};
                _cleanup_(netif_diff_freep) NetifDiff *diff = NULL;

                r = state_read(rtnl, plan->ifindex, plan->table, &state);
                if (r < 0)
                        return log_debug_errno(r, "Failed to read the state of link #%i: %m", plan->ifindex);
                memcpy(ifname, state.ifname, sizeof(ifname));

                r = netif_diff(plan, &state, &diff);
                if (r < 0)
                        return r;
                if (netif_diff_count(diff) == 0)
                        break;
                if (round >= CONFIGURE_ROUNDS_MAX)
                        return log_debug_errno(EAGAIN, "Link %s still differs from the plan after %u rounds, "
                                               "something else keeps changing it.", ifname, round);

                r = diff_apply(rtnl, diff);
                if (r < 0)
                        return r;
                changes += r;
        }

        /* Loose mode: strict would drop what arrives through the ENI for
         * an address whose best route back (in the main table) goes
         * through the primary interface. */
        r = rp_filter_set(ifname, 2);
        if (r < 0)
                return log_debug_errno(r, "Failed to set rp_filter on %s: %m", ifname);
        if (r > 0)
                log_debug("Set net.ipv4.conf.%s.rp_filter=2.", ifname);
        return changes + r;
}

/* What is already gone is no error: the link took its addresses and
 * routes with it, or another actor removed them. */
static bool gone(int r) {
        return IN_SET(r, -ENOENT, -ESRCH, -ENODEV, -EADDRNOTAVAIL);
}

int netif_unconfigure(const NetifPlan *plan, bool with_table) {
        _cleanup_(rtnl_freep) Rtnl *rtnl = NULL;
        char s[NETIF_FORMAT_MAX];
        int changes = 0, r;

        if (!plan)
                return -EINVAL;
        r = rtnl_open(0, false, &rtnl);
        if (r < 0)
                return log_debug_errno(r, "Failed to open rtnetlink socket: %m");

        /* The rules first: from then on nothing picks the table. */
        for (size_t i = 0; with_table && i < plan->n_rules; i++) {
                log_debug("Deleting rule %s", netif_rule_to_string(&plan->rules[i], s));
                r = rtnl_rule_del(rtnl, &plan->rules[i]);
                if (r < 0 && !gone(r))
                        return log_debug_errno(r, "Failed to delete rule %s: %m", s);
                changes += r >= 0;
        }
        /* The default route before the subnet route its gateway needs. */
        for (size_t i = plan->n_routes; with_table && i > 0; i--) {
                log_debug("Deleting route %s", netif_route_to_string(&plan->routes[i - 1], s));
                r = rtnl_route_del(rtnl, &plan->routes[i - 1]);
                if (r < 0 && !gone(r))
                        return log_debug_errno(r, "Failed to delete route %s: %m", s);
                changes += r >= 0;
        }
        for (size_t i = 0; i < plan->n_addresses; i++) {
                log_debug("Deleting address %s", netif_address_to_string(&plan->addresses[i], s));
                r = rtnl_address_del(rtnl, &plan->addresses[i]);
                if (r < 0 && !gone(r))
                        return log_debug_errno(r, "Failed to delete address %s: %m", s);
                changes += r >= 0;
        }
        return changes;
}
