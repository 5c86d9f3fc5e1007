/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "netif.h"

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

/* A deadline that has passed still gets the first dump read (the kernel
 * answers at once), so that deadline 0 means "look once"; this bounds that
 * wait. */
#define DUMP_WAIT_USEC (1 * USEC_PER_SEC)

/* How often a link found but not yet initialised by udev is looked at again,
 * besides every link event. */
#define UDEV_RECHECK_USEC (100 * USEC_PER_MSEC)

/* netif_configure() applies a diff and reads the state again until they
 * agree; something else fighting over the table must not keep it busy. */
#define CONFIGURE_ROUNDS_MAX 3

/* A dump the kernel flags as interrupted (the table changed under it) is
 * read again, a few times. */
#define DUMP_ATTEMPTS_MAX 5

/* Dump replies come in datagrams of up to 32 KiB once the kernel has seen a
 * receive buffer that large; a shorter buffer would truncate them. */
#define RTNL_RECV_SIZE 32768U
/* Our requests are a header and a handful of attributes. */
#define RTNL_SEND_SIZE 1024U

static int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

/* Appends item to a heap array of n elements. Returns 0 or -ENOMEM. */
#define APPEND(array, n, item)                                                          \
        ({                                                                              \
                __typeof__(array) _a = reallocarray((array), (n) + 1, sizeof(*(array))); \
                int _r = -ENOMEM;                                                       \
                if (_a) {                                                               \
                        _a[(n)] = (item);                                               \
                        (n)++;                                                          \
                        (array) = _a;                                                   \
                        _r = 0;                                                         \
                }                                                                       \
                _r;                                                                     \
        })

/* ---- the pure core ---------------------------------------------------- */

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

/* In host byte order; prefixlen 0 is all zeros (a shift by 32 would be
 * undefined). */
static uint32_t prefix_mask(unsigned prefixlen) {
        return prefixlen == 0 ? 0 : UINT32_MAX << (32 - prefixlen);
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

int netif_plan_new(const NetifEni *eni, NetifPlan **ret) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        struct in_addr router, broadcast;
        uint32_t table;
        int r;

        if (!eni || eni->ifindex <= 0 || eni->device_index == 0 || eni->device_index > UINT16_MAX)
                return -EINVAL;
        if (eni->n_secondary_ips > 0 && !eni->secondary_ips)
                return -EINVAL;
        r = netif_cidr_router(&eni->subnet, &router);
        if (r < 0)
                return r;
        broadcast.s_addr = htonl(ntohl(eni->subnet.network.s_addr) | ~prefix_mask(eni->subnet.prefixlen));
        table = NETIF_TABLE_BASE + eni->device_index;

        p = calloc(1, sizeof(NetifPlan));
        if (!p)
                return -ENOMEM;
        *p = (NetifPlan) { .ifindex = eni->ifindex, .table = table };

        for (size_t i = 0; i <= eni->n_secondary_ips; i++) {
                struct in_addr ip = i == 0 ? eni->primary_ip : eni->secondary_ips[i - 1];

                /* A VPC keeps the network address, the router and the
                 * broadcast address to itself: none of them is an ENI's. */
                if (!netif_cidr_contains(&eni->subnet, ip) || ip.s_addr == router.s_addr ||
                    ip.s_addr == eni->subnet.network.s_addr || ip.s_addr == broadcast.s_addr)
                        return -EINVAL;
                if (plan_has_address(p, ip))
                        continue;

                r = APPEND(p->addresses, p->n_addresses, ((NetifAddress) {
                        .ifindex = eni->ifindex,
                        .address = ip,
                        .prefixlen = eni->subnet.prefixlen,
                        .flags = ADDRESS_FLAGS_COMPARED,
                }));
                if (r < 0)
                        return r;
                r = APPEND(p->rules, p->n_rules, ((NetifRule) {
                        .priority = table,
                        .table = table,
                        .src = ip,
                        .src_len = 32,
                        .action = NETIF_RULE_TO_TABLE,
                }));
                if (r < 0)
                        return r;
        }

        /* The subnet comes first: the kernel accepts a gateway only when a
         * route to it exists. Both routes name the primary address as source
         * (what systemd-networkd gives the DHCP routes that
         * amazon-ec2-net-utils asks for): whatever is routed through this
         * table leaves with the ENI's address, also a socket that picked the
         * table by other means than our "from" rules. */
        r = APPEND(p->routes, p->n_routes, ((NetifRoute) {
                .table = table,
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
        r = APPEND(p->routes, p->n_routes, ((NetifRoute) {
                .table = table,
                .scope = NETIF_SCOPE_UNIVERSE,
                .type = NETIF_ROUTE_UNICAST,
                .protocol = NETIF_PROTO_STATIC,
                .oif = eni->ifindex,
                .gateway = router,
                .prefsrc = eni->primary_ip,
        }));
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

int netif_plan_new_from_strings(int ifindex, unsigned device_index, const char *primary_ip,
                                char *const *secondary_ips, const char *subnet_cidr, NetifPlan **ret) {
        _cleanup_free_ struct in_addr *secondaries = NULL;
        NetifEni eni = { .ifindex = ifindex, .device_index = device_index };
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

        for (size_t i = 0; i < state->n_routes; i++) {
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
                delete[i] = kept_as[i] < 0;
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

/* ---- rtnetlink -------------------------------------------------------- */

typedef struct Rtnl {
        struct mnl_socket *nl;
        uint32_t portid;
        uint32_t seq;
        char *send_buf;
        char *recv_buf;
} Rtnl;

static Rtnl *rtnl_free(Rtnl *r) {
        if (!r)
                return NULL;
        if (r->nl)
                (void) mnl_socket_close(r->nl);
        free(r->send_buf);
        free(r->recv_buf);
        return mfree(r);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Rtnl *, rtnl_free);

/* groups: RTMGRP_* to join at bind time, before anything is dumped. A
 * socket that waits for events is non-blocking and polled. */
static int rtnl_open(unsigned groups, bool nonblock, Rtnl **ret) {
        _cleanup_(rtnl_freep) Rtnl *r = NULL;
        int one = 1;

        r = calloc(1, sizeof(Rtnl));
        if (!r)
                return -ENOMEM;
        r->send_buf = malloc(RTNL_SEND_SIZE);
        r->recv_buf = malloc(RTNL_RECV_SIZE);
        if (!r->send_buf || !r->recv_buf)
                return -ENOMEM;

        r->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0));
        if (!r->nl)
                return negative_errno();

        /* The kernel's error strings make the debug log useful; older
         * kernels lack them, which is fine. The capped acks do not echo
         * our request back. */
        (void) mnl_socket_setsockopt(r->nl, NETLINK_EXT_ACK, &one, sizeof(one));
        (void) mnl_socket_setsockopt(r->nl, NETLINK_CAP_ACK, &one, sizeof(one));

        if (mnl_socket_bind(r->nl, groups, MNL_SOCKET_AUTOPID) < 0)
                return negative_errno();
        r->portid = mnl_socket_get_portid(r->nl);
        r->seq = (uint32_t) now(CLOCK_MONOTONIC);

        *ret = TAKE_PTR(r);
        return 0;
}

/* Starts a message in the send buffer. */
static struct nlmsghdr *rtnl_message_full(Rtnl *r, uint16_t type, uint16_t flags) {
        struct nlmsghdr *nlh;

        memset(r->send_buf, 0, RTNL_SEND_SIZE);
        nlh = mnl_nlmsg_put_header(r->send_buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        r->seq++;
        if (r->seq == 0)
                r->seq = 1;
        nlh->nlmsg_seq = r->seq;
        return nlh;
}

/* A request that is not a dump: with NLM_F_ACK, so that it always ends with
 * an ack or an error. (Its flags cannot tell: NLM_F_REPLACE and NLM_F_EXCL
 * share their bits with NLM_F_DUMP.) */
static struct nlmsghdr *rtnl_message(Rtnl *r, uint16_t type, uint16_t flags) {
        return rtnl_message_full(r, type, flags | NLM_F_ACK);
}

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

static void log_extack(const struct nlmsghdr *nlh, size_t offset) {
        const struct nlattr *attr;

        if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || offset > mnl_nlmsg_get_payload_len(nlh))
                return;
        mnl_attr_for_each(attr, nlh, offset)
                if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
                    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
                        log_debug("Kernel says: %s", mnl_attr_get_str(attr));
}

static void call_fail(RtnlCall *c, int error) {
        if (c->error == 0)
                c->error = error;
}

static void call_error_message(RtnlCall *c, const struct nlmsghdr *nlh) {
        const struct nlmsgerr *err;
        size_t offset;

        c->done = true;
        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nlmsgerr)) {
                call_fail(c, -EBADMSG);
                return;
        }
        err = mnl_nlmsg_get_payload(nlh);
        if (err->error == 0)
                return;
        call_fail(c, err->error < 0 ? err->error : -err->error);

        /* The error strings follow the echoed request, or just the header
         * of it when the ack is capped. */
        offset = sizeof(struct nlmsgerr);
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && err->msg.nlmsg_len >= sizeof(struct nlmsghdr))
                offset += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
        log_extack(nlh, offset);
}

static void call_done_message(RtnlCall *c, const struct nlmsghdr *nlh) {
        int error;

        c->done = true;
        /* A dump that failed half-way says so in NLMSG_DONE's payload. */
        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(int))
                return;
        memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof(error));
        if (error < 0) {
                call_fail(c, error);
                log_extack(nlh, sizeof(int));
        }
}

/* Processes one datagram: replies to c's request and events. Replies are
 * addressed to our port id; events carry the port id and sequence number
 * of whoever made the change (0 for the kernel itself). Replies to an
 * earlier request that was given up half-way are skipped, so the socket
 * stays usable. A failing handler fails the call, but the rest of the
 * reply is still read. */
static void call_process(RtnlCall *c, const void *buf, size_t len) {
        const struct nlmsghdr *nlh = buf;
        int left = (int) MIN(len, (size_t) INT32_MAX);

        for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
                bool reply = nlh->nlmsg_pid == c->portid;

                if (reply && nlh->nlmsg_seq != c->seq)
                        continue;
                if (!reply && (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE))
                        continue;
                if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
                        c->interrupted = true;

                switch (nlh->nlmsg_type) {
                case NLMSG_ERROR:
                        call_error_message(c, nlh);
                        break;
                case NLMSG_DONE:
                        call_done_message(c, nlh);
                        break;
                default:
                        if (nlh->nlmsg_type < NLMSG_MIN_TYPE || !c->handler)
                                break;
                        int r = c->handler(nlh, c->userdata);
                        if (r < 0)
                                call_fail(c, r);
                }
        }
}

/* Sends a request and reads its replies to the end, on a socket in no
 * group. Returns the kernel's error, the handler's, or -EAGAIN when a dump
 * was interrupted by a change (read it again). */
static int rtnl_call(Rtnl *r, struct nlmsghdr *nlh, RtnlHandler handler, void *userdata) {
        RtnlCall c = { .handler = handler, .userdata = userdata, .portid = r->portid, .seq = nlh->nlmsg_seq };

        if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();

        while (!c.done) {
                ssize_t n = mnl_socket_recvfrom(r->nl, r->recv_buf, RTNL_RECV_SIZE);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                call_process(&c, r->recv_buf, (size_t) n);
        }

        if (c.error < 0)
                return c.error;
        return c.interrupted ? -EAGAIN : 0;
}

/* The start of a dump of family; hdr_size is that of the message type's
 * header (ifinfomsg, ifaddrmsg, rtmsg, fib_rule_hdr), each of which starts
 * with the family byte. */
static struct nlmsghdr *rtnl_dump_message(Rtnl *r, uint16_t type, size_t hdr_size, uint8_t family) {
        struct nlmsghdr *nlh = rtnl_message_full(r, type, NLM_F_DUMP);
        uint8_t *hdr = mnl_nlmsg_put_extra_header(nlh, hdr_size);

        hdr[0] = family;
        return nlh;
}

/* Attributes by type; later duplicates win, types beyond max are counted. */
typedef struct AttrTable {
        const struct nlattr **tb;
        unsigned max;
        unsigned n_unknown;
} AttrTable;

static int attr_table_cb(const struct nlattr *attr, void *data) {
        AttrTable *t = data;
        unsigned type = mnl_attr_get_type(attr);

        if (type <= t->max)
                t->tb[type] = attr;
        else
                t->n_unknown++;
        return MNL_CB_OK;
}

static int attrs_parse(const struct nlmsghdr *nlh, size_t hdr_size, AttrTable *t) {
        if (mnl_nlmsg_get_payload_len(nlh) < hdr_size)
                return -EBADMSG;
        if (mnl_attr_parse(nlh, (unsigned) hdr_size, attr_table_cb, t) < 0)
                return -EBADMSG;
        return 0;
}

static bool attr_u32(const struct nlattr *a, uint32_t *ret) {
        if (!a || mnl_attr_get_payload_len(a) < sizeof(uint32_t))
                return false;
        *ret = mnl_attr_get_u32(a);
        return true;
}

static bool attr_in_addr(const struct nlattr *a, struct in_addr *ret) {
        if (!a || mnl_attr_get_payload_len(a) != sizeof(struct in_addr))
                return false;
        memcpy(ret, mnl_attr_get_payload(a), sizeof(struct in_addr));
        return true;
}

/* ---- links ---- */

typedef struct LinkInfo {
        int ifindex;
        char name[IFNAMSIZ];
        NetifMac mac;
        bool has_mac;
        unsigned flags;                 /* IFF_* */
} LinkInfo;

static int link_parse(const struct nlmsghdr *nlh, LinkInfo *ret) {
        const struct nlattr *tb[IFLA_MAX + 1] = {};
        AttrTable t = { .tb = tb, .max = IFLA_MAX };
        const struct ifinfomsg *ifi;
        LinkInfo l = {};
        int r;

        r = attrs_parse(nlh, sizeof(struct ifinfomsg), &t);
        if (r < 0)
                return r;
        ifi = mnl_nlmsg_get_payload(nlh);
        if (ifi->ifi_index <= 0)
                return -EBADMSG;
        l.ifindex = ifi->ifi_index;
        l.flags = ifi->ifi_flags;

        if (tb[IFLA_IFNAME]) {
                const char *name = mnl_attr_get_payload(tb[IFLA_IFNAME]);
                size_t size = mnl_attr_get_payload_len(tb[IFLA_IFNAME]);
                size_t len = strnlen(name, size);

                if (len == size || len >= sizeof(l.name))
                        return -EBADMSG;
                memcpy(l.name, name, len + 1);
        }
        if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == sizeof(l.mac.bytes)) {
                memcpy(l.mac.bytes, mnl_attr_get_payload(tb[IFLA_ADDRESS]), sizeof(l.mac.bytes));
                l.has_mac = true;
        }

        *ret = l;
        return 0;
}

static int link_get_handler(const struct nlmsghdr *nlh, void *userdata) {
        if (nlh->nlmsg_type != RTM_NEWLINK)
                return 0;
        return link_parse(nlh, userdata);
}

static int link_get(Rtnl *rtnl, int ifindex, LinkInfo *ret) {
        LinkInfo l = {};
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        int r;

        nlh = rtnl_message(rtnl, RTM_GETLINK, 0);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        /* Without the VF and statistics blocks the reply stays small. */
        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);

        r = rtnl_call(rtnl, nlh, link_get_handler, &l);
        if (r < 0)
                return r;
        if (l.ifindex != ifindex)
                return -ENODEV;
        *ret = l;
        return 0;
}

static int link_set_up(Rtnl *rtnl, int ifindex) {
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;

        nlh = rtnl_message(rtnl, RTM_NEWLINK, 0);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = IFF_UP;
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

/* ---- addresses ---- */

static int address_handler(const struct nlmsghdr *nlh, void *userdata) {
        const struct nlattr *tb[IFA_MAX + 1] = {};
        AttrTable t = { .tb = tb, .max = IFA_MAX };
        NetifState *s = userdata;
        const struct ifaddrmsg *ifa;
        NetifAddress a = {};
        uint32_t flags;
        int r;

        if (nlh->nlmsg_type != RTM_NEWADDR)
                return 0;
        r = attrs_parse(nlh, sizeof(struct ifaddrmsg), &t);
        if (r < 0)
                return r;
        ifa = mnl_nlmsg_get_payload(nlh);
        if (ifa->ifa_family != AF_INET || (int) ifa->ifa_index != s->ifindex)
                return 0;

        a.ifindex = (int) ifa->ifa_index;
        a.prefixlen = ifa->ifa_prefixlen;
        /* IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on a
         * point-to-point link and the same otherwise. */
        if (!attr_in_addr(tb[IFA_LOCAL], &a.address) && !attr_in_addr(tb[IFA_ADDRESS], &a.address))
                return 0;
        a.flags = attr_u32(tb[IFA_FLAGS], &flags) ? flags : ifa->ifa_flags;

        return APPEND(s->addresses, s->n_addresses, a);
}

static void address_message(struct nlmsghdr *nlh, const NetifAddress *a) {
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifaddrmsg));

        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = a->prefixlen;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = (uint32_t) a->ifindex;
        mnl_attr_put(nlh, IFA_LOCAL, sizeof(a->address), &a->address);
        mnl_attr_put(nlh, IFA_ADDRESS, sizeof(a->address), &a->address);
}

static int address_add(Rtnl *rtnl, const NetifAddress *a) {
        struct nlmsghdr *nlh = rtnl_message(rtnl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);

        address_message(nlh, a);
        /* The broadcast address, as systemd-networkd sets it. */
        if (a->prefixlen <= 30) {
                struct in_addr b = {
                        .s_addr = htonl(ntohl(a->address.s_addr) | ~prefix_mask(a->prefixlen)),
                };
                mnl_attr_put(nlh, IFA_BROADCAST, sizeof(b), &b);
        }
        /* The flags beyond 8 bits (noprefixroute) only fit the attribute;
         * "permanent" is the kernel's to set (no lifetime given). */
        mnl_attr_put_u32(nlh, IFA_FLAGS, a->flags & ~(uint32_t) IFA_F_PERMANENT);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

static int address_del(Rtnl *rtnl, const NetifAddress *a) {
        struct nlmsghdr *nlh = rtnl_message(rtnl, RTM_DELADDR, 0);

        address_message(nlh, a);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

/* ---- routes ---- */

static int route_parse(const struct nlmsghdr *nlh, NetifRoute *ret) {
        const struct nlattr *tb[RTA_MAX + 1] = {};
        AttrTable t = { .tb = tb, .max = RTA_MAX };
        const struct rtmsg *rtm;
        NetifRoute rt = {};
        uint32_t u;
        int r;

        r = attrs_parse(nlh, sizeof(struct rtmsg), &t);
        if (r < 0)
                return r;
        rtm = mnl_nlmsg_get_payload(nlh);
        if (rtm->rtm_family != AF_INET || (rtm->rtm_flags & RTM_F_CLONED))
                return 0;

        rt.table = attr_u32(tb[RTA_TABLE], &u) ? u : rtm->rtm_table;
        rt.dst_len = rtm->rtm_dst_len;
        rt.tos = rtm->rtm_tos;
        rt.scope = rtm->rtm_scope;
        rt.type = rtm->rtm_type;
        rt.protocol = rtm->rtm_protocol;
        (void) attr_in_addr(tb[RTA_DST], &rt.dst);
        (void) attr_in_addr(tb[RTA_GATEWAY], &rt.gateway);
        (void) attr_in_addr(tb[RTA_PREFSRC], &rt.prefsrc);
        (void) attr_u32(tb[RTA_PRIORITY], &rt.priority);
        if (attr_u32(tb[RTA_OIF], &u))
                rt.oif = (int) u;
        rt.other = rtm->rtm_src_len != 0 || tb[RTA_MULTIPATH] || tb[RTA_VIA] || tb[RTA_NH_ID] ||
                tb[RTA_SRC] || tb[RTA_FLOW];

        *ret = rt;
        return 1;
}

static int route_handler(const struct nlmsghdr *nlh, void *userdata) {
        NetifState *s = userdata;
        NetifRoute rt;
        int r;

        if (nlh->nlmsg_type != RTM_NEWROUTE)
                return 0;
        r = route_parse(nlh, &rt);
        if (r <= 0 || rt.table != s->table)
                return r;
        return APPEND(s->routes, s->n_routes, rt);
}

static void route_message(struct nlmsghdr *nlh, const NetifRoute *rt) {
        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg));

        rtm->rtm_family = AF_INET;
        rtm->rtm_dst_len = rt->dst_len;
        rtm->rtm_tos = rt->tos;
        /* Tables above 255 only fit the attribute. */
        rtm->rtm_table = rt->table < 256 ? (uint8_t) rt->table : RT_TABLE_UNSPEC;
        rtm->rtm_protocol = rt->protocol;
        rtm->rtm_scope = rt->scope;
        rtm->rtm_type = rt->type;
        mnl_attr_put_u32(nlh, RTA_TABLE, rt->table);
        if (rt->dst_len > 0)
                mnl_attr_put(nlh, RTA_DST, sizeof(rt->dst), &rt->dst);
        mnl_attr_put_u32(nlh, RTA_PRIORITY, rt->priority);
        if (rt->oif > 0)
                mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t) rt->oif);
        if (rt->gateway.s_addr != 0)
                mnl_attr_put(nlh, RTA_GATEWAY, sizeof(rt->gateway), &rt->gateway);
        if (rt->prefsrc.s_addr != 0)
                mnl_attr_put(nlh, RTA_PREFSRC, sizeof(rt->prefsrc), &rt->prefsrc);
}

static int route_add(Rtnl *rtnl, const NetifRoute *rt) {
        struct nlmsghdr *nlh = rtnl_message(rtnl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);

        route_message(nlh, rt);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

/* Names every field the route has, so that the kernel deletes this route
 * and no other of the same key. */
static int route_del(Rtnl *rtnl, const NetifRoute *rt) {
        struct nlmsghdr *nlh = rtnl_message(rtnl, RTM_DELROUTE, 0);

        route_message(nlh, rt);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

/* ---- rules ---- */

static int rule_parse(const struct nlmsghdr *nlh, NetifRule *ret) {
        const struct nlattr *tb[FRA_MAX + 1] = {};
        AttrTable t = { .tb = tb, .max = FRA_MAX };
        const struct fib_rule_hdr *frh;
        NetifRule rule = {};
        uint32_t u;
        int r;

        r = attrs_parse(nlh, sizeof(struct fib_rule_hdr), &t);
        if (r < 0)
                return r;
        frh = mnl_nlmsg_get_payload(nlh);
        if (frh->family != AF_INET)
                return 0;

        rule.priority = attr_u32(tb[FRA_PRIORITY], &u) ? u : 0;
        rule.table = attr_u32(tb[FRA_TABLE], &u) ? u : frh->table;
        rule.action = frh->action;
        rule.src_len = frh->src_len;
        if (rule.src_len > 0 && !attr_in_addr(tb[FRA_SRC], &rule.src))
                return -EBADMSG;

        /* The kernel always reports the suppressors, "unset" as all ones. */
        for (unsigned type = FRA_SUPPRESS_IFGROUP; type <= FRA_SUPPRESS_PREFIXLEN; type++)
                if (attr_u32(tb[type], &u) && u == UINT32_MAX)
                        tb[type] = NULL;

        /* Anything else that narrows or changes the rule beyond "from"
         * makes it someone else's: every other attribute, also one this code
         * does not know yet (the kernel reports selectors only when set). */
        rule.other = frh->dst_len != 0 || frh->tos != 0 || (frh->flags & FIB_RULE_INVERT) || t.n_unknown > 0;
        for (unsigned type = 0; type <= FRA_MAX; type++)
                if (tb[type] && type != FRA_PRIORITY && type != FRA_TABLE && type != FRA_SRC &&
                    type != FRA_PROTOCOL)
                        rule.other = true;

        *ret = rule;
        return 1;
}

static int rule_handler(const struct nlmsghdr *nlh, void *userdata) {
        NetifState *s = userdata;
        NetifRule rule;
        int r;

        if (nlh->nlmsg_type != RTM_NEWRULE)
                return 0;
        r = rule_parse(nlh, &rule);
        if (r <= 0 || (rule.table != s->table && rule.priority != s->table))
                return r;
        return APPEND(s->rules, s->n_rules, rule);
}

static void rule_message(struct nlmsghdr *nlh, const NetifRule *rule) {
        struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(struct fib_rule_hdr));

        frh->family = AF_INET;
        frh->src_len = rule->src_len;
        frh->table = rule->table < 256 ? (uint8_t) rule->table : RT_TABLE_UNSPEC;
        frh->action = rule->action;
        mnl_attr_put_u32(nlh, FRA_PRIORITY, rule->priority);
        mnl_attr_put_u32(nlh, FRA_TABLE, rule->table);
        if (rule->src_len > 0)
                mnl_attr_put(nlh, FRA_SRC, sizeof(rule->src), &rule->src);
}

static int rule_add(Rtnl *rtnl, const NetifRule *rule) {
        /* Rules have no "replace": an identical rule would be added twice
         * without NLM_F_EXCL. */
        struct nlmsghdr *nlh = rtnl_message(rtnl, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL);

        rule_message(nlh, rule);
        mnl_attr_put_u8(nlh, FRA_PROTOCOL, RTPROT_STATIC);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

static int rule_del(Rtnl *rtnl, const NetifRule *rule) {
        struct nlmsghdr *nlh = rtnl_message(rtnl, RTM_DELRULE, 0);

        rule_message(nlh, rule);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

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

static int state_dump(Rtnl *rtnl, NetifState *s) {
        struct nlmsghdr *nlh;
        int r;

        nlh = rtnl_dump_message(rtnl, RTM_GETADDR, sizeof(struct ifaddrmsg), AF_INET);
        r = rtnl_call(rtnl, nlh, address_handler, s);
        if (r < 0)
                return r;
        nlh = rtnl_dump_message(rtnl, RTM_GETROUTE, sizeof(struct rtmsg), AF_INET);
        r = rtnl_call(rtnl, nlh, route_handler, s);
        if (r < 0)
                return r;
        nlh = rtnl_dump_message(rtnl, RTM_GETRULE, sizeof(struct fib_rule_hdr), AF_INET);
        return rtnl_call(rtnl, nlh, rule_handler, s);
}

static int state_read(Rtnl *rtnl, int ifindex, uint32_t table, NetifState *ret) {
        NetifState s = { .ifindex = ifindex, .table = table, .rp_filter = -1 };
        LinkInfo link;
        int r;

        if (ifindex <= 0)
                return -EINVAL;
        r = link_get(rtnl, ifindex, &link);
        if (r < 0)
                return r;
        memcpy(s.ifname, link.name, sizeof(s.ifname));
        s.mac = link.mac;
        s.up = link.flags & IFF_UP;
        r = rp_filter_read(link.name);
        s.rp_filter = r < 0 ? -1 : r;

        for (unsigned attempt = 1;; attempt++) {
                r = state_dump(rtnl, &s);
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
                r = address_del(rtnl, &d->del_addresses[i]);
                if (r == -EADDRNOTAVAIL)
                        continue;
                if (r < 0)
                        return log_debug_errno(r, "Failed to delete address %s: %m", s);
                changes++;
        }
        for (size_t i = 0; i < d->n_add_addresses; i++) {
                log_debug("Adding address %s", netif_address_to_string(&d->add_addresses[i], s));
                r = address_add(rtnl, &d->add_addresses[i]);
                if (r < 0)
                        return log_debug_errno(r, "Failed to add address %s: %m", s);
                changes++;
        }
        for (size_t i = 0; i < d->n_add_routes; i++) {
                log_debug("Adding route %s", netif_route_to_string(&d->add_routes[i], s));
                r = route_add(rtnl, &d->add_routes[i]);
                if (r < 0)
                        return log_debug_errno(r, "Failed to add route %s: %m", s);
                changes++;
        }
        for (size_t i = 0; i < d->n_del_routes; i++) {
                log_debug("Deleting route %s", netif_route_to_string(&d->del_routes[i], s));
                r = route_del(rtnl, &d->del_routes[i]);
                if (r == -ESRCH)
                        continue;
                if (r < 0)
                        return log_debug_errno(r, "Failed to delete route %s: %m", s);
                changes++;
        }
        for (size_t i = 0; i < d->n_del_rules; i++) {
                log_debug("Deleting rule %s", netif_rule_to_string(&d->del_rules[i], s));
                r = rule_del(rtnl, &d->del_rules[i]);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return log_debug_errno(r, "Failed to delete rule %s: %m", s);
                changes++;
        }
        for (size_t i = 0; i < d->n_add_rules; i++) {
                log_debug("Adding rule %s", netif_rule_to_string(&d->add_rules[i], s));
                r = rule_add(rtnl, &d->add_rules[i]);
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
        r = link_get(rtnl, plan->ifindex, &link);
        if (r < 0)
                return log_debug_errno(r, "Failed to look at link #%i: %m", plan->ifindex);
        if (!(link.flags & IFF_UP)) {
                log_debug("Setting link %s (#%i) up.", link.name, link.ifindex);
                r = link_set_up(rtnl, plan->ifindex);
                if (r < 0)
                        return log_debug_errno(r, "Failed to set link %s up: %m", link.name);
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

/* ---- waiting for events ---- */

/* A socket in some groups with a dump of the world in flight or done.
 * Events and dump replies go through the same handler: what arrives in
 * order describes the world in order. */
typedef struct RtnlWatch {
        Rtnl *rtnl;
        uint16_t dump_type;
        size_t hdr_size;
        uint8_t family;
        RtnlCall call;
        bool dumping;
        bool need_dump;
} RtnlWatch;

static int watch_dump(RtnlWatch *w) {
        struct nlmsghdr *nlh = rtnl_dump_message(w->rtnl, w->dump_type, w->hdr_size, w->family);

        if (mnl_socket_sendto(w->rtnl->nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();
        w->call.seq = nlh->nlmsg_seq;
        w->call.done = false;
        w->call.interrupted = false;
        w->dumping = true;
        w->need_dump = false;
        return 0;
}

static int watch_start(RtnlWatch *w, Rtnl *rtnl, uint16_t dump_type, size_t hdr_size, uint8_t family,
                       RtnlHandler handler, void *userdata) {
        *w = (RtnlWatch) {
                .rtnl = rtnl,
                .dump_type = dump_type,
                .hdr_size = hdr_size,
                .family = family,
                .call = { .handler = handler, .userdata = userdata, .portid = rtnl->portid },
        };
        return watch_dump(w);
}

/* Waits up to timeout for the socket, then reads all there is. Lost events
 * (ENOBUFS) and interrupted dumps lead to a new dump. Returns 0 (also on
 * timeout) or negative errno. */
/* Reads whatever is queued on a non-blocking fd (inotify): only the wake-up matters. */
static void drain_fd(int fd) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

        while (read(fd, buf, sizeof(buf)) > 0)
                ;
}

/* Waits for events of w, or of extra_fd (drained; -1: none), at most timeout. */
static int watch_wait(RtnlWatch *w, int extra_fd, usec_t timeout) {
        struct pollfd p[2] = {
                { .fd = mnl_socket_get_fd(w->rtnl->nl), .events = POLLIN },
                { .fd = extra_fd, .events = POLLIN },
        };
        struct timespec ts = {
                .tv_sec = (time_t) (timeout / USEC_PER_SEC),
                .tv_nsec = (long) (timeout % USEC_PER_SEC) * 1000,
        };
        int r;

        r = ppoll(p, extra_fd >= 0 ? 2 : 1, timeout == USEC_INFINITY ? NULL : &ts, NULL);
        if (r < 0)
                return errno == EINTR ? 0 : negative_errno();
        if (r == 0)
                return 0;
        if (extra_fd >= 0 && (p[1].revents & POLLIN))
                drain_fd(extra_fd);
        if (!(p[0].revents & POLLIN))
                return 0;

        for (;;) {
                ssize_t n = mnl_socket_recvfrom(w->rtnl->nl, w->rtnl->recv_buf, RTNL_RECV_SIZE);

                if (n < 0) {
                        if (errno == EAGAIN)
                                break;
                        if (errno == EINTR)
                                continue;
                        if (errno == ENOBUFS) {
                                log_debug("Netlink events were lost, dumping again.");
                                w->need_dump = true;
                                continue;
                        }
                        return negative_errno();
                }

                call_process(&w->call, w->rtnl->recv_buf, (size_t) n);
                if (w->call.error < 0)
                        return w->call.error;
                if (w->dumping && w->call.done) {
                        w->dumping = false;
                        if (w->call.interrupted)
                                w->need_dump = true;
                }
        }

        if (w->need_dump && !w->dumping)
                return watch_dump(w);
        return 0;
}

typedef struct LinkWait {
        NetifMac mac;
        int ifindex;                    /* 0: none found (yet) */
} LinkWait;

static int link_wait_handler(const struct nlmsghdr *nlh, void *userdata) {
        LinkWait *w = userdata;
        LinkInfo l;
        int r;

        if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
                return 0;
        r = link_parse(nlh, &l);
        if (r < 0) {
                log_debug_errno(r, "Ignoring a link message that does not parse: %m");
                return 0;
        }

        if (nlh->nlmsg_type == RTM_DELLINK) {
                if (l.ifindex == w->ifindex)
                        w->ifindex = 0;
                return 0;
        }
        if (l.has_mac && netif_mac_equal(&l.mac, &w->mac)) {
                /* The NIC comes before anything stacked on it that takes
                 * its MAC (a VLAN, a bond): the lowest ifindex wins. */
                if (w->ifindex == 0 || l.ifindex < w->ifindex) {
                        log_debug("Link %s (#%i) has the MAC address.", l.name, l.ifindex);
                        w->ifindex = l.ifindex;
                }
        } else if (l.ifindex == w->ifindex)
                w->ifindex = 0;         /* its MAC address changed */
        return 0;
}

/* 1 when udev has initialised the link (or udev_data_dir is NULL), 0 when
 * not yet. */
static int link_udev_initialized(const char *udev_data_dir, int ifindex) {
        _cleanup_free_ char *path = NULL;

        if (!udev_data_dir)
                return 1;
        if (asprintf(&path, "%s/n%i", udev_data_dir, ifindex) < 0)
                return -ENOMEM;
        if (access(path, F_OK) >= 0)
                return 1;
        return errno == ENOENT ? 0 : negative_errno();
}

/* An inotify fd that wakes up when udev writes a database entry in dir
 * (it writes a temporary file and renames it), or -1 when dir cannot be
 * watched: then the wait looks again every UDEV_RECHECK_USEC. */
static int udev_data_watch(const char *dir) {
        int fd;

        if (!dir)
                return -1;
        fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0)
                return -1;
        if (inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
                log_debug_errno(errno, "Cannot watch %s, looking again every %s instead: %m", dir,
                                FORMAT_DURATION(UDEV_RECHECK_USEC));
                (void) close(fd);
                return -1;
        }
        return fd;
}

int netif_wait_link_full(const NetifMac *mac, const char *udev_data_dir, usec_t deadline, NetifLink *ret) {
        _cleanup_(rtnl_freep) Rtnl *rtnl = NULL, *query = NULL;
        _cleanup_close_ int udev_watch = -1;
        char m[NETIF_MAC_STRING_MAX];
        LinkWait w = {};
        RtnlWatch watch;
        int r;

        if (!mac || !ret)
                return -EINVAL;
        w.mac = *mac;
        /* Before the first look at the database, so no entry slips between. */
        udev_watch = udev_data_watch(udev_data_dir);

        r = rtnl_open(RTMGRP_LINK, true, &rtnl);
        if (r < 0)
                return log_debug_errno(r, "Failed to open rtnetlink socket: %m");
        r = rtnl_open(0, false, &query);
        if (r < 0)
                return log_debug_errno(r, "Failed to open rtnetlink socket: %m");
        r = watch_start(&watch, rtnl, RTM_GETLINK, sizeof(struct ifinfomsg), AF_UNSPEC, link_wait_handler, &w);
        if (r < 0)
                return log_debug_errno(r, "Failed to dump links: %m");

        netif_mac_to_string(mac, m);
        log_debug("Waiting for the link with MAC address %s%s.", m,
                  udev_data_dir ? " and for udev to initialise it" : "");

        for (;;) {
                usec_t left, timeout;

                if (w.ifindex > 0) {
                        LinkInfo l;

                        r = link_udev_initialized(udev_data_dir, w.ifindex);
                        if (r < 0)
                                return log_debug_errno(r, "Failed to look for udev's database entry of link #%i: %m",
                                                       w.ifindex);
                        if (r > 0) {
                                /* Its name now, after any rename by udev;
                                 * events about it may still be queued. */
                                r = link_get(query, w.ifindex, &l);
                                if (r >= 0 && l.has_mac && netif_mac_equal(&l.mac, mac)) {
                                        *ret = (NetifLink) { .ifindex = l.ifindex, .mac = l.mac };
                                        memcpy(ret->name, l.name, sizeof(ret->name));
                                        return 0;
                                }
                                if (r < 0 && r != -ENODEV)
                                        return log_debug_errno(r, "Failed to look at link #%i: %m", w.ifindex);
                                w.ifindex = 0;  /* gone, or not the MAC any more */
                        }
                }

                left = usec_left(deadline);
                if (left == 0 && !watch.dumping)
                        return log_debug_errno(ETIME, "No link with MAC address %s%s before the deadline.", m,
                                               w.ifindex > 0 ? " initialised by udev" : "");
                timeout = left > 0 ? left : DUMP_WAIT_USEC;
                /* Watched, the entry's arrival wakes us; the recheck stays
                 * as a safety net (a database on another filesystem). */
                if (w.ifindex > 0)
                        timeout = MIN(timeout, udev_watch >= 0 ? 10 * UDEV_RECHECK_USEC : UDEV_RECHECK_USEC);

                r = watch_wait(&watch, udev_watch, timeout);
                if (r < 0)
                        return log_debug_errno(r, "Failed to wait for link events: %m");
        }
}

static int read_comm(const char *pid, char *buf, size_t size) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        if (asprintf(&path, "/proc/%s/comm", pid) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, size - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        return 0;
}

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

/* udevd hears of a link only in its own network namespace (the kernel
 * sends a link's uevents there), so its database never gets an entry for
 * one in another namespace. Returns 1 when a udevd process runs in ours, 0
 * when none is found there (none runs, or only in other namespaces). */
static int udevd_in_our_netns(void) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct stat self;

        /* A control socket left behind by a udevd that is gone is no udevd:
         * the process is what counts. */
        if (access("/run/udev/control", F_OK) < 0)
                return 0;
        if (stat("/proc/self/ns/net", &self) < 0)
                return negative_errno();
        d = opendir("/proc");
        if (!d)
                return negative_errno();

        for (;;) {
                _cleanup_free_ char *path = NULL;
                char comm[32];
                struct stat st;
                struct dirent *de;

                errno = 0;
                de = readdir(d);
                if (!de)
                        return errno > 0 ? -errno : 0;
                if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
                    strspn(de->d_name, "0123456789") != strlen(de->d_name))
                        continue;
                /* Processes come and go while we look: skip what vanished. */
                if (read_comm(de->d_name, comm, sizeof(comm)) < 0)
                        continue;
                if (!streq(comm, "systemd-udevd") && !streq(comm, "udevd"))
                        continue;
                if (asprintf(&path, "/proc/%s/ns/net", de->d_name) < 0)
                        return -ENOMEM;
                if (stat(path, &st) < 0)
                        continue;
                if (st.st_dev == self.st_dev && st.st_ino == self.st_ino)
                        return 1;
        }
}

/* <linux/if.h>'s; <net/if.h>, which the rest uses, lacks it. */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

typedef struct CarrierWait {
        int ifindex;
        int state;                      /* 1: carrier, 0: not yet, -ENODEV: the link went away */
} CarrierWait;

static int carrier_wait_handler(const struct nlmsghdr *nlh, void *userdata) {
        CarrierWait *w = userdata;
        LinkInfo l;

        if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
                return 0;
        if (link_parse(nlh, &l) < 0 || l.ifindex != w->ifindex)
                return 0;
        if (nlh->nlmsg_type == RTM_DELLINK)
                w->state = -ENODEV;
        else
                w->state = (l.flags & IFF_LOWER_UP) ? 1 : 0;
        return 0;
}

int netif_wait_carrier(int ifindex, usec_t deadline) {
        _cleanup_(rtnl_freep) Rtnl *rtnl = NULL;
        CarrierWait w = { .ifindex = ifindex };
        RtnlWatch watch;
        int r;

        if (ifindex <= 0)
                return -EINVAL;
        r = rtnl_open(RTMGRP_LINK, true, &rtnl);
        if (r < 0)
                return log_debug_errno(r, "Failed to open rtnetlink socket: %m");
        /* The dump tells the state now; events tell each change after. */
        r = watch_start(&watch, rtnl, RTM_GETLINK, sizeof(struct ifinfomsg), AF_UNSPEC, carrier_wait_handler, &w);
        if (r < 0)
                return log_debug_errno(r, "Failed to dump links: %m");

        for (;;) {
                usec_t left;

                if (!watch.dumping && w.state != 0)
                        return w.state > 0 ? 0 : w.state;
                left = usec_left(deadline);
                if (left == 0 && !watch.dumping)
                        return log_debug_errno(ETIME, "Link #%i has no carrier before the deadline.", ifindex);
                r = watch_wait(&watch, -1, left > 0 ? left : DUMP_WAIT_USEC);
                if (r < 0)
                        return log_debug_errno(r, "Failed to wait for link events: %m");
        }
}

int netif_wait_link(const NetifMac *mac, usec_t deadline, NetifLink *ret) {
        int r;

        r = udevd_in_our_netns();
        if (r < 0)
                log_debug_errno(r, "Cannot tell whether udevd sees this network namespace, not waiting for it: %m");
        return netif_wait_link_full(mac, r > 0 ? "/run/udev/data" : NULL, deadline, ret);
}

typedef struct RuleWait {
        struct in_addr ip;
        bool found;
        uint32_t table;
} RuleWait;

static int rule_wait_handler(const struct nlmsghdr *nlh, void *userdata) {
        RuleWait *w = userdata;
        NetifRule rule;
        int r;

        if (nlh->nlmsg_type != RTM_NEWRULE && nlh->nlmsg_type != RTM_DELRULE)
                return 0;
        r = rule_parse(nlh, &rule);
        if (r <= 0 || rule.src_len != 32 || rule.src.s_addr != w->ip.s_addr)
                return 0;

        w->found = nlh->nlmsg_type == RTM_NEWRULE;
        w->table = rule.table;
        return 0;
}

int netif_wait_rule(struct in_addr ip, usec_t deadline, uint32_t *ret_table) {
        _cleanup_(rtnl_freep) Rtnl *rtnl = NULL;
        char s[INET_ADDRSTRLEN];
        RuleWait w = { .ip = ip };
        RtnlWatch watch;
        int r;

        r = rtnl_open(RTMGRP_IPV4_RULE, true, &rtnl);
        if (r < 0)
                return log_debug_errno(r, "Failed to open rtnetlink socket: %m");
        r = watch_start(&watch, rtnl, RTM_GETRULE, sizeof(struct fib_rule_hdr), AF_INET, rule_wait_handler, &w);
        if (r < 0)
                return log_debug_errno(r, "Failed to dump rules: %m");
        netif_ipv4_to_string(ip, s);
        log_debug("Waiting for a rule from %s.", s);

        for (;;) {
                usec_t left;

                if (w.found) {
                        if (ret_table)
                                *ret_table = w.table;
                        return 0;
                }
                left = usec_left(deadline);
                if (left == 0 && !watch.dumping)
                        return log_debug_errno(ETIME, "No rule from %s before the deadline.", s);
                r = watch_wait(&watch, -1, left > 0 ? left : DUMP_WAIT_USEC);
                if (r < 0)
                        return log_debug_errno(r, "Failed to wait for rule events: %m");
        }
}

bool netif_routing_auto_delegated_in(const char *root) {
        /* amazon-ec2-net-utils 2.x: its udev rule starts these per ENI. */
        static const char *const units[] = {
                "/usr/lib/systemd/system/policy-routes@.service",
                "/lib/systemd/system/policy-routes@.service",
        };

        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s%s", isempty(root) || streq(root, "/") ? "" : root, units[i]) < 0)
                        return false;
                if (access(path, F_OK) >= 0)
                        return true;
        }
        return false;
}

bool netif_routing_auto_delegated(void) {
        return netif_routing_auto_delegated_in(NULL);
}

/* ---- Watching the link after the boot ---- */

struct NetifLinkMonitor {
        Rtnl *rtnl;
};

NetifLinkMonitor *netif_link_monitor_free(NetifLinkMonitor *m) {
        if (!m)
                return NULL;
        rtnl_free(m->rtnl);
        return mfree(m);
}

int netif_link_monitor_new(NetifLinkMonitor **ret) {
        _cleanup_(netif_link_monitor_freep) NetifLinkMonitor *m = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        /* Links and their IPv4 addresses: a link that goes down or loses
         * its address is what the supervisor must notice. */
        r = rtnl_open(RTMGRP_LINK | RTMGRP_IPV4_IFADDR, true, &m->rtnl);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int netif_link_monitor_fd(const NetifLinkMonitor *m) {
        return mnl_socket_get_fd(m->rtnl->nl);
}

void netif_link_monitor_drain(NetifLinkMonitor *m) {
        /* The events only say "look again"; their content is not needed. */
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(m->rtnl->nl, m->rtnl->recv_buf, RTNL_RECV_SIZE);

                if (n <= 0)
                        break;
        }
}
