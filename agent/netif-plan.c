/* SPDX-License-Identifier: Apache-2.0 */
/* The pure core of the interface path: parsing, the plan, the diff and their
 * one-line forms. No I/O; the kernel headers are here for their constants
 * only. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdarg.h>
#include <stdio.h>

#include "netif-internal.h"
#include "netif-plan.h"

_Static_assert((int) NETIF_SCOPE_UNIVERSE == (int) RT_SCOPE_UNIVERSE, "scope");
_Static_assert((int) NETIF_SCOPE_LINK == (int) RT_SCOPE_LINK, "scope");
_Static_assert((int) NETIF_SCOPE_HOST == (int) RT_SCOPE_HOST, "scope");
_Static_assert((int) NETIF_ROUTE_UNICAST == (int) RTN_UNICAST, "route type");
_Static_assert((int) NETIF_PROTO_STATIC == (int) RTPROT_STATIC, "protocol");
_Static_assert((int) NETIF_RULE_TO_TABLE == (int) FR_ACT_TO_TBL, "rule action");
_Static_assert((int) NETIF_ADDRESS_PERMANENT == (int) IFA_F_PERMANENT, "address flag");
_Static_assert((int) NETIF_ADDRESS_NOPREFIXROUTE == (int) IFA_F_NOPREFIXROUTE, "address flag");

/* The address flags a plan asks for and the diff compares: noprefixroute
 * keeps the subnet route out of the main table, permanent means no DHCP
 * lease lifetime that would make the address expire later. */
#define ADDRESS_FLAGS_COMPARED (NETIF_ADDRESS_NOPREFIXROUTE | NETIF_ADDRESS_PERMANENT)

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

int netif_mac_from_string(const char *s, NetifMac *ret) {
        NetifMac mac;

        if (!s || strlen(s) != 17)
                return -EINVAL;

        for (size_t i = 0; i < 6; i++) {
                int hi = unhex(s[i * 3]), lo = unhex(s[i * 3 + 1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                if (i < 5 && s[i * 3 + 2] != ':')
                        return -EINVAL;
                mac.bytes[i] = (uint8_t) (hi << 4 | lo);
        }

        *ret = mac;
        return 0;
}

const char *netif_mac_to_string(const NetifMac *mac, char buf[static NETIF_MAC_STRING_MAX]) {
        (void) snprintf(buf, NETIF_MAC_STRING_MAX, "%02x:%02x:%02x:%02x:%02x:%02x",
                        mac->bytes[0], mac->bytes[1], mac->bytes[2],
                        mac->bytes[3], mac->bytes[4], mac->bytes[5]);
        return buf;
}

bool netif_mac_equal(const NetifMac *a, const NetifMac *b) {
        return memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

int netif_ipv4_from_string(const char *s, struct in_addr *ret) {
        struct in_addr a;

        if (!s || inet_pton(AF_INET, s, &a) != 1)
                return -EINVAL;
        *ret = a;
        return 0;
}

const char *netif_ipv4_to_string(struct in_addr a, char buf[static INET_ADDRSTRLEN]) {
        if (!inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN))
                (void) snprintf(buf, INET_ADDRSTRLEN, "?");
        return buf;
}

int netif_cidr_from_string(const char *s, NetifCidr *ret) {
        char ip[INET_ADDRSTRLEN];
        struct in_addr a;
        const char *slash, *p;
        unsigned prefixlen = 0;
        size_t n;

        if (!s)
                return -EINVAL;
        slash = strchr(s, '/');
        if (!slash)
                return -EINVAL;
        n = (size_t) (slash - s);
        if (n == 0 || n >= sizeof(ip))
                return -EINVAL;
        memcpy(ip, s, n);
        ip[n] = '\0';
        if (inet_pton(AF_INET, ip, &a) != 1)
                return -EINVAL;

        /* One or two digits and nothing else: no sign, space or leading zero,
         * which strtoul() would let through. */
        p = slash + 1;
        n = strlen(p);
        if (n < 1 || n > 2 || (n == 2 && p[0] == '0'))
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return -EINVAL;
                prefixlen = prefixlen * 10 + (unsigned) (p[i] - '0');
        }
        if (prefixlen > 32)
                return -EINVAL;
        if ((ntohl(a.s_addr) & ~prefix_mask(prefixlen)) != 0)
                return -EINVAL;

        *ret = (NetifCidr) { .network = a, .prefixlen = (uint8_t) prefixlen };
        return 0;
}

const char *netif_cidr_to_string(const NetifCidr *c, char buf[static NETIF_CIDR_STRING_MAX]) {
        char ip[INET_ADDRSTRLEN];

        (void) snprintf(buf, NETIF_CIDR_STRING_MAX, "%s/%u",
                        netif_ipv4_to_string(c->network, ip), c->prefixlen);
        return buf;
}

int netif_cidr_router(const NetifCidr *c, struct in_addr *ret) {
        if (c->prefixlen > 30)
                return -EINVAL;
        *ret = (struct in_addr) { .s_addr = htonl(ntohl(c->network.s_addr) + 1) };
        return 0;
}

bool netif_cidr_contains(const NetifCidr *c, struct in_addr a) {
        uint32_t mask = prefix_mask(c->prefixlen);

        return (ntohl(a.s_addr) & mask) == (ntohl(c->network.s_addr) & mask);
}

NetifPlan *netif_plan_free(NetifPlan *p) {
        if (!p)
                return NULL;
        free(p->addresses);
        free(p->routes);
        free(p->rules);
        return mfree(p);
}

static bool plan_has_address(const NetifPlan *p, struct in_addr a) {
        for (size_t i = 0; i < p->n_addresses; i++)
                if (p->addresses[i].address.s_addr == a.s_addr)
                        return true;
        return false;
}

/* "from ip lookup <table>" at the table's own priority, once per address. */
static int plan_add_rule(NetifPlan *p, struct in_addr ip) {
        for (size_t i = 0; i < p->n_rules; i++)
                if (p->rules[i].src.s_addr == ip.s_addr)
                        return 0;
        return APPEND(p->rules, p->n_rules, ((NetifRule) {
                .priority = p->table,
                .table = p->table,
                .src = ip,
                .src_len = 32,
                .action = NETIF_RULE_TO_TABLE,
        }));
}

/* One address of the ENI: the address itself and its "from" rule. A VPC
 * keeps the network address, the router and the broadcast address to
 * itself: none of them is an ENI's. */
static int plan_add_address(NetifPlan *p, const NetifEni *eni, struct in_addr ip, struct in_addr router,
                            struct in_addr broadcast) {
        int r;

        if (!netif_cidr_contains(&eni->subnet, ip) || ip.s_addr == router.s_addr ||
            ip.s_addr == eni->subnet.network.s_addr || ip.s_addr == broadcast.s_addr)
                return -EINVAL;
        if (plan_has_address(p, ip))
                return 0;

        r = APPEND(p->addresses, p->n_addresses, ((NetifAddress) {
                .ifindex = eni->ifindex,
                .address = ip,
                .prefixlen = eni->subnet.prefixlen,
                .flags = ADDRESS_FLAGS_COMPARED,
        }));
        if (r < 0)
                return r;
        return plan_add_rule(p, ip);
}

/* The subnet comes first: the kernel accepts a gateway only when a route to
 * it exists. Both routes name the primary address as source (what
 * systemd-networkd gives the DHCP routes that amazon-ec2-net-utils asks
 * for): whatever is routed through this table leaves with the ENI's
 * address, also a socket that picked the table by other means than our
 * "from" rules. */
static int plan_add_routes(NetifPlan *p, const NetifEni *eni, struct in_addr router) {
        int r;

        r = APPEND(p->routes, p->n_routes, ((NetifRoute) {
                .table = p->table,
                .dst = eni->subnet.network,
                .dst_len = eni->subnet.prefixlen,
                .scope = NETIF_SCOPE_LINK,
                .type = NETIF_ROUTE_UNICAST,
                .protocol = NETIF_PROTO_STATIC,
                .oif = eni->ifindex,
                .prefsrc = eni->primary_ip,
        }));
        if (r < 0)
                return r;
        return APPEND(p->routes, p->n_routes, ((NetifRoute) {
                .table = p->table,
                .scope = NETIF_SCOPE_UNIVERSE,
                .type = NETIF_ROUTE_UNICAST,
                .protocol = NETIF_PROTO_STATIC,
                .oif = eni->ifindex,
                .gateway = router,
                .prefsrc = eni->primary_ip,
        }));
}

int netif_plan_new(const NetifEni *eni, NetifPlan **ret) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        struct in_addr router, broadcast;
        int r;

        if (!eni || eni->ifindex <= 0 || eni->device_index == 0 || eni->device_index > 99 ||
            eni->network_card > 99)
                return -EINVAL;
        if (eni->n_secondary_ips > 0 && !eni->secondary_ips)
                return -EINVAL;
        r = netif_cidr_router(&eni->subnet, &router);
        if (r < 0)
                return r;
        broadcast.s_addr = htonl(ntohl(eni->subnet.network.s_addr) | ~prefix_mask(eni->subnet.prefixlen));

        p = calloc(1, sizeof(NetifPlan));
        if (!p)
                return -ENOMEM;
        *p = (NetifPlan) { .ifindex = eni->ifindex, .table = netif_table_for(eni->network_card, eni->device_index) };

        for (size_t i = 0; i <= eni->n_secondary_ips; i++) {
                r = plan_add_address(p, eni, i == 0 ? eni->primary_ip : eni->secondary_ips[i - 1], router,
                                     broadcast);
                if (r < 0)
                        return r;
        }
        r = plan_add_routes(p, eni, router);
        if (r < 0)
                return r;
        if (eni->without_addresses) {
                /* The rules stay: they are what the addresses need of us. */
                p->addresses = mfree(p->addresses);
                p->n_addresses = 0;
                p->add_only = true;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

int netif_plan_new_primary(int ifindex, struct in_addr primary_ip, uint8_t prefixlen, struct in_addr gateway,
                           uint32_t table, NetifPlan **ret) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        NetifCidr subnet;
        int r;

        if (ifindex <= 0 || prefixlen > 30 || primary_ip.s_addr == 0 || gateway.s_addr == 0)
                return -EINVAL;
        subnet = (NetifCidr) {
                .network.s_addr = htonl(ntohl(primary_ip.s_addr) & prefix_mask(prefixlen)),
                .prefixlen = prefixlen,
        };
        if (!netif_cidr_contains(&subnet, gateway))
                return -EINVAL;

        p = calloc(1, sizeof(NetifPlan));
        if (!p)
                return -ENOMEM;
        *p = (NetifPlan) { .ifindex = ifindex, .table = table, .add_only = true };

        r = APPEND(p->routes, p->n_routes, ((NetifRoute) {
                .table = table,
                .dst = subnet.network,
                .dst_len = prefixlen,
                .scope = NETIF_SCOPE_LINK,
                .type = NETIF_ROUTE_UNICAST,
                .protocol = NETIF_PROTO_STATIC,
                .oif = ifindex,
                .prefsrc = primary_ip,
        }));
        if (r < 0)
                return r;
        r = APPEND(p->routes, p->n_routes, ((NetifRoute) {
                .table = table,
                .scope = NETIF_SCOPE_UNIVERSE,
                .type = NETIF_ROUTE_UNICAST,
                .protocol = NETIF_PROTO_STATIC,
                .oif = ifindex,
                .gateway = gateway,
                .prefsrc = primary_ip,
        }));
        if (r < 0)
                return r;
        r = APPEND(p->rules, p->n_rules, ((NetifRule) {
                .priority = table,
                .table = table,
                .src = primary_ip,
                .src_len = 32,
                .action = NETIF_RULE_TO_TABLE,
        }));
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

int netif_plan_new_rules(unsigned network_card, unsigned device_index, const char *primary_ip,
                         char *const *secondary_ips, NetifPlan **ret) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        int r;

        if (device_index == 0 || device_index > 99 || network_card > 99)
                return -EINVAL;
        p = calloc(1, sizeof(NetifPlan));
        if (!p)
                return -ENOMEM;
        *p = (NetifPlan) { .table = netif_table_for(network_card, device_index) };

        for (size_t i = 0; i == 0 || (secondary_ips && secondary_ips[i - 1]); i++) {
                const char *address = i == 0 ? primary_ip : secondary_ips[i - 1];
                struct in_addr ip;

                r = netif_ipv4_from_string(address, &ip);
                if (r < 0)
                        return r;
                r = plan_add_rule(p, ip);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

int netif_plan_new_from_strings(int ifindex, unsigned device_index, const char *primary_ip,
                                char *const *secondary_ips, const char *subnet_cidr, NetifPlan **ret) {
        NetifEni base = { .ifindex = ifindex, .device_index = device_index };

        return netif_plan_new_from_eni_strings(&base, primary_ip, secondary_ips, subnet_cidr, ret);
}

int netif_plan_new_from_eni_strings(const NetifEni *base, const char *primary_ip, char *const *secondary_ips,
                                    const char *subnet_cidr, NetifPlan **ret) {
        _cleanup_free_ struct in_addr *secondaries = NULL;
        NetifEni eni = {
                .ifindex = base->ifindex,
                .network_card = base->network_card,
                .device_index = base->device_index,
                .without_addresses = base->without_addresses,
        };
        size_t n = 0;
        int r;

        r = netif_ipv4_from_string(primary_ip, &eni.primary_ip);
        if (r < 0)
                return r;
        r = netif_cidr_from_string(subnet_cidr, &eni.subnet);
        if (r < 0)
                return r;

        for (char *const *s = secondary_ips; s && *s; s++)
                n++;
        if (n > 0) {
                secondaries = calloc(n, sizeof(struct in_addr));
                if (!secondaries)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        r = netif_ipv4_from_string(secondary_ips[i], &secondaries[i]);
                        if (r < 0)
                                return r;
                }
        }
        eni.secondary_ips = secondaries;
        eni.n_secondary_ips = n;

        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): eni only borrows secondaries, which is _cleanup_free_; clang 14 does not run it. */
        return netif_plan_new(&eni, ret);
}

void netif_state_done(NetifState *s) {
        if (!s)
                return;
        s->addresses = mfree(s->addresses);
        s->n_addresses = 0;
        s->routes = mfree(s->routes);
        s->n_routes = 0;
        s->rules = mfree(s->rules);
        s->n_rules = 0;
}

NetifDiff *netif_diff_free(NetifDiff *d) {
        if (!d)
                return NULL;
        free(d->del_addresses);
        free(d->add_addresses);
        free(d->add_routes);
        free(d->del_routes);
        free(d->del_rules);
        free(d->add_rules);
        return mfree(d);
}

size_t netif_diff_count(const NetifDiff *d) {
        return d->n_del_addresses + d->n_add_addresses + d->n_add_routes + d->n_del_routes +
                d->n_del_rules + d->n_add_rules;
}

static bool address_same_ip(const NetifAddress *a, const NetifAddress *b) {
        return a->ifindex == b->ifindex && a->address.s_addr == b->address.s_addr;
}

static bool address_equal(const NetifAddress *a, const NetifAddress *b) {
        return address_same_ip(a, b) && a->prefixlen == b->prefixlen &&
                (a->flags & ADDRESS_FLAGS_COMPARED) == (b->flags & ADDRESS_FLAGS_COMPARED);
}

/* What the kernel identifies a route by within a table: NLM_F_REPLACE
 * replaces the first route with the same key. */
static bool route_same_key(const NetifRoute *a, const NetifRoute *b) {
        return a->table == b->table && a->dst.s_addr == b->dst.s_addr && a->dst_len == b->dst_len &&
                a->tos == b->tos && a->priority == b->priority;
}

static bool route_equal(const NetifRoute *a, const NetifRoute *b) {
        return route_same_key(a, b) && !a->other && !b->other && a->scope == b->scope &&
                a->type == b->type && a->oif == b->oif && a->gateway.s_addr == b->gateway.s_addr &&
                a->prefsrc.s_addr == b->prefsrc.s_addr;
}

static bool rule_equal(const NetifRule *a, const NetifRule *b) {
        return !a->other && !b->other && a->priority == b->priority && a->table == b->table &&
                a->action == b->action && a->src_len == b->src_len &&
                (a->src_len == 0 || a->src.s_addr == b->src.s_addr);
}

static bool rule_is_ours(const NetifRule *r, uint32_t table) {
        return !r->other && (r->table == table || r->priority == table);
}

static int diff_addresses(const NetifPlan *plan, const NetifState *state, NetifDiff *d) {
        bool add_all = false;
        int r;

        /* Add-only: an address that is there, however it came (a lease),
         * is left as it is. */
        if (plan->add_only) {
                for (size_t j = 0; j < plan->n_addresses; j++) {
                        bool found = false;

                        for (size_t i = 0; !found && i < state->n_addresses; i++)
                                found = address_same_ip(&state->addresses[i], &plan->addresses[j]);
                        if (found)
                                continue;
                        r = APPEND(d->add_addresses, d->n_add_addresses, plan->addresses[j]);
                        if (r < 0)
                                return r;
                }
                return 0;
        }

        /* The kernel keeps the flags of an IPv4 address that NLM_F_REPLACE
         * names again, and adds a second address for another prefix length:
         * such an address must be deleted first. */
        for (size_t i = 0; i < state->n_addresses; i++) {
                const NetifAddress *cur = &state->addresses[i];

                for (size_t j = 0; j < plan->n_addresses; j++) {
                        const NetifAddress *want = &plan->addresses[j];

                        if (!address_same_ip(cur, want))
                                continue;
                        if (cur->prefixlen == want->prefixlen &&
                            (cur->flags & NETIF_ADDRESS_NOPREFIXROUTE) == (want->flags & NETIF_ADDRESS_NOPREFIXROUTE))
                                continue;
                        r = APPEND(d->del_addresses, d->n_del_addresses, *cur);
                        if (r < 0)
                                return r;
                        /* Deleting a primary address also deletes the
                         * secondary addresses of its subnet (unless
                         * promote_secondaries is set): all must come back. */
                        add_all = true;
                }
        }

        for (size_t j = 0; j < plan->n_addresses; j++) {
                const NetifAddress *want = &plan->addresses[j];
                bool found = false;

                for (size_t i = 0; !add_all && !found && i < state->n_addresses; i++)
                        found = address_equal(&state->addresses[i], want);
                if (found)
                        continue;
                r = APPEND(d->add_addresses, d->n_add_addresses, *want);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int diff_routes(const NetifPlan *plan, const NetifState *state, NetifDiff *d) {
        _cleanup_free_ bool *keep = NULL;
        int r;

        keep = calloc(MAX(state->n_routes, 1U), sizeof(bool));
        if (!keep)
                return -ENOMEM;

        for (size_t j = 0; j < plan->n_routes; j++) {
                const NetifRoute *want = &plan->routes[j];
                bool found = false;

                for (size_t i = 0; !found && i < state->n_routes; i++)
                        if (!keep[i] && route_equal(&state->routes[i], want)) {
                                keep[i] = true;
                                found = true;
                        }
                if (found)
                        continue;

                /* Add-only never replaces a route of the same key. */
                if (plan->add_only)
                        for (size_t i = 0; !found && i < state->n_routes; i++)
                                found = route_same_key(&state->routes[i], want);
                if (found)
                        continue;

                r = APPEND(d->add_routes, d->n_add_routes, *want);
                if (r < 0)
                        return r;

                /* The route added replaces the first one of the same key: that
                 * one is not to be deleted afterwards (a deletion naming only
                 * the key would then hit the new route). */
                for (size_t i = 0; i < state->n_routes; i++)
                        if (!keep[i] && route_same_key(&state->routes[i], want)) {
                                keep[i] = true;
                                break;
                        }
        }

        for (size_t i = 0; i < state->n_routes && !plan->add_only; i++) {
                if (keep[i] || state->routes[i].table != plan->table)
                        continue;
                r = APPEND(d->del_routes, d->n_del_routes, state->routes[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int diff_rules(const NetifPlan *plan, const NetifState *state, NetifDiff *d) {
        _cleanup_free_ ssize_t *kept_as = NULL;    /* state rule -> plan rule, or -1 */
        _cleanup_free_ bool *delete = NULL, *present = NULL;
        int r;

        kept_as = calloc(MAX(state->n_rules, 1U), sizeof(ssize_t));
        delete = calloc(MAX(state->n_rules, 1U), sizeof(bool));
        present = calloc(MAX(plan->n_rules, 1U), sizeof(bool));
        if (!kept_as || !delete || !present)
                return -ENOMEM;

        for (size_t i = 0; i < state->n_rules; i++) {
                const NetifRule *cur = &state->rules[i];

                kept_as[i] = -1;
                if (!rule_is_ours(cur, plan->table))
                        continue;
                for (size_t j = 0; j < plan->n_rules; j++)
                        if (!present[j] && rule_equal(cur, &plan->rules[j])) {
                                present[j] = true;
                                kept_as[i] = (ssize_t) j;
                                break;
                        }
                /* Not in the plan, or a duplicate of one that is. */
                delete[i] = kept_as[i] < 0 && !plan->add_only;
        }

        /* The kernel deletes the first rule that matches a request in the
         * fields it names; "from all" names no source, so the request also
         * matches every rule of that priority, action and table. Those we
         * keep are deleted before it (the most specific first, below) and
         * added again after it. A rule with other selectors (iif, fwmark...)
         * is someone else's and never deleted; that the kernel could match
         * one of those first is not guarded against. */
        for (size_t i = 0; i < state->n_rules; i++) {
                const NetifRule *w = &state->rules[i];

                if (!delete[i] || w->src_len != 0)
                        continue;
                for (size_t k = 0; k < state->n_rules; k++) {
                        const NetifRule *keep = &state->rules[k];

                        if (kept_as[k] < 0 || keep->priority != w->priority || keep->table != w->table ||
                            keep->action != w->action)
                                continue;
                        present[kept_as[k]] = false;
                        kept_as[k] = -1;
                        delete[k] = true;
                }
        }

        for (int len = 32; len >= 0; len--)
                for (size_t i = 0; i < state->n_rules; i++) {
                        if (!delete[i] || state->rules[i].src_len != len)
                                continue;
                        r = APPEND(d->del_rules, d->n_del_rules, state->rules[i]);
                        if (r < 0)
                                return r;
                }

        for (size_t j = 0; j < plan->n_rules; j++) {
                if (present[j])
                        continue;
                r = APPEND(d->add_rules, d->n_add_rules, plan->rules[j]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int netif_diff(const NetifPlan *plan, const NetifState *state, NetifDiff **ret) {
        _cleanup_(netif_diff_freep) NetifDiff *d = NULL;
        int r;

        if (!plan || !state)
                return -EINVAL;

        d = calloc(1, sizeof(NetifDiff));
        if (!d)
                return -ENOMEM;

        r = diff_addresses(plan, state, d);
        if (r < 0)
                return r;
        r = diff_routes(plan, state, d);
        if (r < 0)
                return r;
        r = diff_rules(plan, state, d);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(d);
        return 0;
}

/* Appends to buf at *pos, cutting at the end of buf. */
_printf_(4, 5)
static void append_format(char *buf, size_t size, size_t *pos, const char *format, ...) {
        va_list ap;
        int n;

        if (*pos >= size)
                return;
        va_start(ap, format);
        n = vsnprintf(buf + *pos, size - *pos, format, ap);
        va_end(ap);
        if (n > 0)
                *pos = MIN(size, *pos + (size_t) n);
}

static const char *scope_to_string(uint8_t scope, char buf[static 8]) {
        switch (scope) {
        case RT_SCOPE_UNIVERSE:
                return "global";
        case RT_SCOPE_SITE:
                return "site";
        case RT_SCOPE_LINK:
                return "link";
        case RT_SCOPE_HOST:
                return "host";
        case RT_SCOPE_NOWHERE:
                return "nowhere";
        default:
                (void) snprintf(buf, 8, "%u", scope);
                return buf;
        }
}

static const char *protocol_to_string(uint8_t protocol, char buf[static 8]) {
        switch (protocol) {
        case RTPROT_KERNEL:
                return "kernel";
        case RTPROT_BOOT:
                return "boot";
        case RTPROT_STATIC:
                return "static";
        case RTPROT_DHCP:
                return "dhcp";
        default:
                (void) snprintf(buf, 8, "%u", protocol);
                return buf;
        }
}

static const char *route_type_to_string(uint8_t type, char buf[static 8]) {
        switch (type) {
        case RTN_UNICAST:
                return "unicast";
        case RTN_LOCAL:
                return "local";
        case RTN_BROADCAST:
                return "broadcast";
        case RTN_BLACKHOLE:
                return "blackhole";
        case RTN_UNREACHABLE:
                return "unreachable";
        case RTN_PROHIBIT:
                return "prohibit";
        case RTN_THROW:
                return "throw";
        default:
                (void) snprintf(buf, 8, "%u", type);
                return buf;
        }
}

const char *netif_address_to_string(const NetifAddress *a, char buf[static NETIF_FORMAT_MAX]) {
        char ip[INET_ADDRSTRLEN];
        size_t pos = 0;

        append_format(buf, NETIF_FORMAT_MAX, &pos, "%s/%u dev #%i",
                      netif_ipv4_to_string(a->address, ip), a->prefixlen, a->ifindex);
        if (a->flags & NETIF_ADDRESS_NOPREFIXROUTE)
                append_format(buf, NETIF_FORMAT_MAX, &pos, " noprefixroute");
        if (!(a->flags & NETIF_ADDRESS_PERMANENT))
                append_format(buf, NETIF_FORMAT_MAX, &pos, " dynamic");
        return buf;
}

const char *netif_route_to_string(const NetifRoute *r, char buf[static NETIF_FORMAT_MAX]) {
        char ip[INET_ADDRSTRLEN], b1[8], b2[8], b3[8];
        size_t pos = 0;

        if (r->type != RTN_UNICAST)
                append_format(buf, NETIF_FORMAT_MAX, &pos, "%s ", route_type_to_string(r->type, b1));
        if (r->dst_len == 0)
                append_format(buf, NETIF_FORMAT_MAX, &pos, "default");
        else
                append_format(buf, NETIF_FORMAT_MAX, &pos, "%s/%u", netif_ipv4_to_string(r->dst, ip), r->dst_len);
        if (r->gateway.s_addr != 0)
                append_format(buf, NETIF_FORMAT_MAX, &pos, " via %s", netif_ipv4_to_string(r->gateway, ip));
        if (r->oif > 0)
                append_format(buf, NETIF_FORMAT_MAX, &pos, " dev #%i", r->oif);
        append_format(buf, NETIF_FORMAT_MAX, &pos, " table %" PRIu32 " proto %s scope %s",
                      r->table, protocol_to_string(r->protocol, b2), scope_to_string(r->scope, b3));
        if (r->prefsrc.s_addr != 0)
                append_format(buf, NETIF_FORMAT_MAX, &pos, " src %s", netif_ipv4_to_string(r->prefsrc, ip));
        if (r->priority != 0)
                append_format(buf, NETIF_FORMAT_MAX, &pos, " metric %" PRIu32, r->priority);
        if (r->tos != 0)
                append_format(buf, NETIF_FORMAT_MAX, &pos, " tos 0x%02x", r->tos);
        if (r->other)
                append_format(buf, NETIF_FORMAT_MAX, &pos, " (and more)");
        return buf;
}

const char *netif_rule_to_string(const NetifRule *r, char buf[static NETIF_FORMAT_MAX]) {
        char ip[INET_ADDRSTRLEN];
        size_t pos = 0;

        append_format(buf, NETIF_FORMAT_MAX, &pos, "%" PRIu32 ": from ", r->priority);
        if (r->src_len == 0)
                append_format(buf, NETIF_FORMAT_MAX, &pos, "all");
        else if (r->src_len == 32)
                append_format(buf, NETIF_FORMAT_MAX, &pos, "%s", netif_ipv4_to_string(r->src, ip));
        else
                append_format(buf, NETIF_FORMAT_MAX, &pos, "%s/%u", netif_ipv4_to_string(r->src, ip), r->src_len);
        if (r->action == FR_ACT_TO_TBL)
                append_format(buf, NETIF_FORMAT_MAX, &pos, " lookup %" PRIu32, r->table);
        else
                append_format(buf, NETIF_FORMAT_MAX, &pos, " action %u", r->action);
        if (r->other)
                append_format(buf, NETIF_FORMAT_MAX, &pos, " (and more selectors)");
        return buf;
}
