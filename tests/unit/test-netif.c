/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "macro.h"
#include "netif.h"
#include "tests.h"

static struct in_addr ip(const char *s) {
        struct in_addr a = {};

        (void) inet_pton(AF_INET, s, &a);
        return a;
}

static void test_mac(void) {
        char buf[NETIF_MAC_STRING_MAX];
        NetifMac m, n;

        ASSERT_OK(netif_mac_from_string("02:00:00:00:01:10", &m));
        ASSERT_EQ(m.bytes[0], 0x02);
        ASSERT_EQ(m.bytes[4], 0x01);
        ASSERT_EQ(m.bytes[5], 0x10);
        ASSERT_STREQ(netif_mac_to_string(&m, buf), "02:00:00:00:01:10");

        ASSERT_OK(netif_mac_from_string("0A:1b:2C:3d:4E:ff", &n));
        ASSERT_STREQ(netif_mac_to_string(&n, buf), "0a:1b:2c:3d:4e:ff");
        ASSERT_FALSE(netif_mac_equal(&m, &n));
        ASSERT_OK(netif_mac_from_string("0a:1b:2c:3d:4e:ff", &m));
        ASSERT_TRUE(netif_mac_equal(&m, &n));
}

static void test_mac_refuses(void) {
        static const char *const bad[] = {
                "", "02:00:00:00:01", "02:00:00:00:01:1", "02:00:00:00:01:100",
                "02-00-00-00-01-10", "02:00:00:00:01:1g", "02:00:00:00:01:10\n",
                " 2:00:00:00:01:10", "0200.0000.0110", "02:00:00:00:01:10:",
        };
        NetifMac m = { .bytes = { 7 } };

        ASSERT_EQ(netif_mac_from_string(NULL, &m), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (netif_mac_from_string(bad[i], &m) != -EINVAL) {
                        test_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
                        return;
                }
        /* Untouched on failure. */
        ASSERT_EQ(m.bytes[0], 7);
}

static void test_ipv4(void) {
        char buf[INET_ADDRSTRLEN];
        struct in_addr a;

        ASSERT_OK(netif_ipv4_from_string("10.0.1.10", &a));
        ASSERT_STREQ(netif_ipv4_to_string(a, buf), "10.0.1.10");
        ASSERT_EQ(netif_ipv4_from_string("10.0.1", &a), -EINVAL);
        ASSERT_EQ(netif_ipv4_from_string("010.0.1.1", &a), -EINVAL);
        ASSERT_EQ(netif_ipv4_from_string("10.0.1.256", &a), -EINVAL);
        ASSERT_EQ(netif_ipv4_from_string(" 10.0.1.1", &a), -EINVAL);
        ASSERT_EQ(netif_ipv4_from_string("10.0.1.1/32", &a), -EINVAL);
        ASSERT_EQ(netif_ipv4_from_string(NULL, &a), -EINVAL);
}

static void test_cidr(void) {
        char buf[NETIF_CIDR_STRING_MAX];
        NetifCidr c;
        struct in_addr router;

        ASSERT_OK(netif_cidr_from_string("10.0.1.0/24", &c));
        ASSERT_EQ(c.prefixlen, 24);
        ASSERT_EQ(c.network.s_addr, ip("10.0.1.0").s_addr);
        ASSERT_STREQ(netif_cidr_to_string(&c, buf), "10.0.1.0/24");
        ASSERT_OK(netif_cidr_router(&c, &router));
        ASSERT_EQ(router.s_addr, ip("10.0.1.1").s_addr);
        ASSERT_TRUE(netif_cidr_contains(&c, ip("10.0.1.0")));
        ASSERT_TRUE(netif_cidr_contains(&c, ip("10.0.1.10")));
        ASSERT_TRUE(netif_cidr_contains(&c, ip("10.0.1.255")));
        ASSERT_FALSE(netif_cidr_contains(&c, ip("10.0.2.10")));
        ASSERT_FALSE(netif_cidr_contains(&c, ip("10.0.0.255")));

        ASSERT_OK(netif_cidr_from_string("172.31.0.0/16", &c));
        ASSERT_OK(netif_cidr_router(&c, &router));
        ASSERT_EQ(router.s_addr, ip("172.31.0.1").s_addr);
        ASSERT_TRUE(netif_cidr_contains(&c, ip("172.31.200.7")));

        /* A small subnet that does not start at .0: the router is its base + 1. */
        ASSERT_OK(netif_cidr_from_string("10.0.1.16/28", &c));
        ASSERT_OK(netif_cidr_router(&c, &router));
        ASSERT_EQ(router.s_addr, ip("10.0.1.17").s_addr);
        ASSERT_TRUE(netif_cidr_contains(&c, ip("10.0.1.31")));
        ASSERT_FALSE(netif_cidr_contains(&c, ip("10.0.1.32")));

        ASSERT_OK(netif_cidr_from_string("10.0.1.4/30", &c));
        ASSERT_OK(netif_cidr_router(&c, &router));
        ASSERT_OK(netif_cidr_from_string("10.0.1.4/31", &c));
        router = ip("9.9.9.9");
        ASSERT_EQ(netif_cidr_router(&c, &router), -EINVAL);
        ASSERT_EQ(router.s_addr, ip("9.9.9.9").s_addr);

        ASSERT_OK(netif_cidr_from_string("0.0.0.0/0", &c));
        ASSERT_EQ(c.prefixlen, 0);
        ASSERT_TRUE(netif_cidr_contains(&c, ip("8.8.8.8")));
        ASSERT_OK(netif_cidr_from_string("10.0.1.10/32", &c));
        ASSERT_TRUE(netif_cidr_contains(&c, ip("10.0.1.10")));
        ASSERT_FALSE(netif_cidr_contains(&c, ip("10.0.1.11")));
}

static void test_cidr_refuses(void) {
        static const char *const bad[] = {
                "", "10.0.1.0", "10.0.1.0/", "/24", "10.0.1.0/33", "10.0.1.0/024",
                "10.0.1.0/+4", "10.0.1.0/ 4", "10.0.1.0/24/1", "10.0.1.0/24 ",
                "10.0.1.10/24",         /* an address, not a subnet */
                "10.0.1/24", "10.0.1.0.0/24", "255.255.255.255.255/8", "10.0.1.0/-1",
        };
        NetifCidr c = { .prefixlen = 99 };

        ASSERT_EQ(netif_cidr_from_string(NULL, &c), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (netif_cidr_from_string(bad[i], &c) != -EINVAL) {
                        test_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
                        return;
                }
        ASSERT_EQ(c.prefixlen, 99);
}

static int plan_example(NetifPlan **ret) {
        static const char *const secondaries[] = { "10.0.1.11", NULL };

        return netif_plan_new_from_strings(7, 1, "10.0.1.10", (char *const *) secondaries, "10.0.1.0/24", ret);
}

static void test_plan(void) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        char buf[NETIF_FORMAT_MAX];

        ASSERT_OK(plan_example(&p));
        ASSERT_EQ(p->ifindex, 7);
        ASSERT_EQ(p->table, 10001);

        ASSERT_EQ(p->n_addresses, 2);
        ASSERT_STREQ(netif_address_to_string(&p->addresses[0], buf), "10.0.1.10/24 dev #7 noprefixroute");
        ASSERT_STREQ(netif_address_to_string(&p->addresses[1], buf), "10.0.1.11/24 dev #7 noprefixroute");
        ASSERT_TRUE(p->addresses[0].flags & NETIF_ADDRESS_NOPREFIXROUTE);

        ASSERT_EQ(p->n_routes, 2);
        ASSERT_STREQ(netif_route_to_string(&p->routes[0], buf),
                     "10.0.1.0/24 dev #7 table 10001 proto static scope link src 10.0.1.10");
        ASSERT_STREQ(netif_route_to_string(&p->routes[1], buf),
                     "default via 10.0.1.1 dev #7 table 10001 proto static scope global src 10.0.1.10");

        ASSERT_EQ(p->n_rules, 2);
        ASSERT_STREQ(netif_rule_to_string(&p->rules[0], buf), "10001: from 10.0.1.10 lookup 10001");
        ASSERT_STREQ(netif_rule_to_string(&p->rules[1], buf), "10001: from 10.0.1.11 lookup 10001");
        ASSERT_EQ(p->rules[0].src_len, 32);
        ASSERT_EQ(p->rules[0].priority, p->table);
}

static void test_plan_device_index(void) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        char buf[NETIF_FORMAT_MAX];

        ASSERT_OK(netif_plan_new_from_strings(3, 2, "172.31.40.5", NULL, "172.31.32.0/20", &p));
        ASSERT_EQ(p->table, 10002);
        ASSERT_EQ(p->n_addresses, 1);
        ASSERT_EQ(p->n_rules, 1);
        ASSERT_STREQ(netif_route_to_string(&p->routes[0], buf),
                     "172.31.32.0/20 dev #3 table 10002 proto static scope link src 172.31.40.5");
        ASSERT_STREQ(netif_route_to_string(&p->routes[1], buf),
                     "default via 172.31.32.1 dev #3 table 10002 proto static scope global src 172.31.40.5");
        ASSERT_STREQ(netif_rule_to_string(&p->rules[0], buf), "10002: from 172.31.40.5 lookup 10002");
}

static void test_plan_dedups(void) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        struct in_addr secondaries[] = { ip("10.0.1.11"), ip("10.0.1.10"), ip("10.0.1.11") };
        NetifEni eni = {
                .ifindex = 7,
                .device_index = 1,
                .primary_ip = ip("10.0.1.10"),
                .secondary_ips = secondaries,
                .n_secondary_ips = ELEMENTSOF(secondaries),
        };

        ASSERT_OK(netif_cidr_from_string("10.0.1.0/24", &eni.subnet));
        ASSERT_OK(netif_plan_new(&eni, &p));
        ASSERT_EQ(p->n_addresses, 2);
        ASSERT_EQ(p->n_rules, 2);
        ASSERT_EQ(p->addresses[0].address.s_addr, ip("10.0.1.10").s_addr);
        ASSERT_EQ(p->addresses[1].address.s_addr, ip("10.0.1.11").s_addr);
}

static void test_plan_refuses(void) {
        static const char *const outside[] = { "10.0.2.11", NULL };
        static const char *const router[] = { "10.0.1.1", NULL };
        static const char *const garbage[] = { "10.0.1.x", NULL };
        NetifPlan *p = NULL;

        ASSERT_EQ(netif_plan_new_from_strings(7, 1, "10.0.2.10", NULL, "10.0.1.0/24", &p), -EINVAL);
        ASSERT_EQ(netif_plan_new_from_strings(7, 1, "10.0.1.10", (char *const *) outside, "10.0.1.0/24", &p), -EINVAL);
        ASSERT_EQ(netif_plan_new_from_strings(7, 1, "10.0.1.10", (char *const *) router, "10.0.1.0/24", &p), -EINVAL);
        ASSERT_EQ(netif_plan_new_from_strings(7, 1, "10.0.1.10", (char *const *) garbage, "10.0.1.0/24", &p), -EINVAL);
        ASSERT_EQ(netif_plan_new_from_strings(7, 1, "10.0.1.1", NULL, "10.0.1.0/24", &p), -EINVAL);
        ASSERT_EQ(netif_plan_new_from_strings(7, 1, "10.0.1.0", NULL, "10.0.1.0/24", &p), -EINVAL);
        ASSERT_EQ(netif_plan_new_from_strings(7, 1, "10.0.1.255", NULL, "10.0.1.0/24", &p), -EINVAL);
        ASSERT_EQ(netif_plan_new_from_strings(7, 0, "10.0.1.10", NULL, "10.0.1.0/24", &p), -EINVAL);
        ASSERT_EQ(netif_plan_new_from_strings(0, 1, "10.0.1.10", NULL, "10.0.1.0/24", &p), -EINVAL);
        ASSERT_EQ(netif_plan_new_from_strings(7, 1, "10.0.1.10", NULL, "10.0.1.10/31", &p), -EINVAL);
        ASSERT_EQ(netif_plan_new_from_strings(7, 1, "10.0.1.10", NULL, "10.0.1.10/24", &p), -EINVAL);
        ASSERT_EQ(netif_plan_new_from_strings(7, 1, NULL, NULL, "10.0.1.0/24", &p), -EINVAL);
        ASSERT_NULL(p);
}

/* A state as the kernel would report it once the plan is applied. */
static int state_from_plan(const NetifPlan *p, NetifState *s) {
        *s = (NetifState) { .ifindex = p->ifindex, .table = p->table, .up = true, .rp_filter = 2 };
        s->addresses = calloc(p->n_addresses, sizeof(NetifAddress));
        s->routes = calloc(p->n_routes, sizeof(NetifRoute));
        s->rules = calloc(p->n_rules, sizeof(NetifRule));
        if (!s->addresses || !s->routes || !s->rules)
                return -ENOMEM;
        memcpy(s->addresses, p->addresses, p->n_addresses * sizeof(NetifAddress));
        memcpy(s->routes, p->routes, p->n_routes * sizeof(NetifRoute));
        memcpy(s->rules, p->rules, p->n_rules * sizeof(NetifRule));
        s->n_addresses = p->n_addresses;
        s->n_routes = p->n_routes;
        s->n_rules = p->n_rules;
        return 0;
}

#define STATE_APPEND(array, n, item)                                                    \
        do {                                                                            \
                __typeof__(array) _a = reallocarray((array), (n) + 1, sizeof(*(array))); \
                ASSERT_NOT_NULL(_a);                                                    \
                _a[(n)++] = (item);                                                     \
                (array) = _a;                                                           \
        } while (0)

static void test_diff_from_nothing(void) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        _cleanup_(netif_diff_freep) NetifDiff *d = NULL;
        NetifState s = { .ifindex = 7, .table = 10001 };

        ASSERT_OK(plan_example(&p));
        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(d->n_add_addresses, 2);
        ASSERT_EQ(d->n_add_routes, 2);
        ASSERT_EQ(d->n_add_rules, 2);
        ASSERT_EQ(d->n_del_addresses + d->n_del_routes + d->n_del_rules, 0);
        ASSERT_EQ(netif_diff_count(d), 6);
        /* The subnet route before the default route, whose gateway needs it. */
        ASSERT_EQ(d->add_routes[0].dst_len, 24);
        ASSERT_EQ(d->add_routes[1].dst_len, 0);
}

static void test_diff_nothing_to_do(void) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        _cleanup_(netif_diff_freep) NetifDiff *d = NULL;
        _cleanup_(netif_state_done) NetifState s = {};

        ASSERT_OK(plan_example(&p));
        ASSERT_OK(state_from_plan(p, &s));
        /* Someone else's protocol number, and the secondary flag the kernel
         * sets, change nothing. */
        s.routes[1].protocol = 3;
        s.addresses[1].flags |= 0x01;
        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(netif_diff_count(d), 0);
}

static void test_diff_addresses(void) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        _cleanup_(netif_state_done) NetifState s = {};
        NetifDiff *d = NULL;

        ASSERT_OK(plan_example(&p));

        /* Only the lifetime differs (a DHCP lease): replaced, nothing deleted. */
        ASSERT_OK(state_from_plan(p, &s));
        s.addresses[1].flags &= ~NETIF_ADDRESS_PERMANENT;
        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(d->n_del_addresses, 0);
        ASSERT_EQ(d->n_add_addresses, 1);
        ASSERT_EQ(d->add_addresses[0].address.s_addr, ip("10.0.1.11").s_addr);
        ASSERT_EQ(netif_diff_count(d), 1);
        d = netif_diff_free(d);

        /* Without noprefixroute: deleted, then every address added again. */
        s.addresses[1].flags |= NETIF_ADDRESS_PERMANENT;
        s.addresses[0].flags &= ~NETIF_ADDRESS_NOPREFIXROUTE;
        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(d->n_del_addresses, 1);
        ASSERT_EQ(d->del_addresses[0].address.s_addr, ip("10.0.1.10").s_addr);
        ASSERT_EQ(d->n_add_addresses, 2);
        ASSERT_EQ(netif_diff_count(d), 3);
        d = netif_diff_free(d);

        /* Another prefix length: the same. An address not in the plan stays. */
        s.addresses[0].flags |= NETIF_ADDRESS_NOPREFIXROUTE;
        s.addresses[1].prefixlen = 32;
        STATE_APPEND(s.addresses, s.n_addresses, ((NetifAddress) {
                .ifindex = 7, .address = ip("10.0.1.50"), .prefixlen = 24, .flags = NETIF_ADDRESS_PERMANENT,
        }));
        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(d->n_del_addresses, 1);
        ASSERT_EQ(d->del_addresses[0].address.s_addr, ip("10.0.1.11").s_addr);
        ASSERT_EQ(d->del_addresses[0].prefixlen, 32);
        ASSERT_EQ(d->n_add_addresses, 2);
        ASSERT_EQ(netif_diff_count(d), 3);
        d = netif_diff_free(d);
}

static void test_diff_routes(void) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        _cleanup_(netif_state_done) NetifState s = {};
        char buf[NETIF_FORMAT_MAX];
        NetifDiff *d = NULL;
        NetifRoute extra;

        ASSERT_OK(plan_example(&p));
        ASSERT_OK(state_from_plan(p, &s));

        /* A wrong gateway: our route replaces it (same key), no deletion,
         * which would otherwise hit the new route. */
        s.routes[1].gateway = ip("10.0.1.254");
        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(d->n_add_routes, 1);
        ASSERT_STREQ(netif_route_to_string(&d->add_routes[0], buf),
                     "default via 10.0.1.1 dev #7 table 10001 proto static scope global src 10.0.1.10");
        ASSERT_EQ(d->n_del_routes, 0);
        ASSERT_EQ(netif_diff_count(d), 1);
        d = netif_diff_free(d);

        /* A route the plan does not have goes; another metric is another
         * key, so a second default route goes too. */
        s.routes[1].gateway = ip("10.0.1.1");
        extra = (NetifRoute) {
                .table = 10001, .dst = ip("10.9.0.0"), .dst_len = 16, .scope = NETIF_SCOPE_LINK,
                .type = NETIF_ROUTE_UNICAST, .protocol = 3, .oif = 7,
        };
        STATE_APPEND(s.routes, s.n_routes, extra);
        extra = s.routes[1];
        extra.priority = 100;
        extra.gateway = ip("10.0.1.254");
        STATE_APPEND(s.routes, s.n_routes, extra);
        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(d->n_add_routes, 0);
        ASSERT_EQ(d->n_del_routes, 2);
        ASSERT_STREQ(netif_route_to_string(&d->del_routes[0], buf),
                     "10.9.0.0/16 dev #7 table 10001 proto boot scope link");
        ASSERT_STREQ(netif_route_to_string(&d->del_routes[1], buf),
                     "default via 10.0.1.254 dev #7 table 10001 proto static scope global src 10.0.1.10 metric 100");
        d = netif_diff_free(d);

        /* A route in another table (main) is none of our business. */
        s.n_routes = 2;
        extra = (NetifRoute) {
                .table = 254, .scope = NETIF_SCOPE_UNIVERSE, .type = NETIF_ROUTE_UNICAST,
                .oif = 2, .gateway = ip("192.168.50.1"),
        };
        STATE_APPEND(s.routes, s.n_routes, extra);
        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(netif_diff_count(d), 0);
        d = netif_diff_free(d);

        /* A multipath default route of the same key is replaced as well. */
        s.n_routes = 2;
        s.routes[1] = (NetifRoute) { .table = 10001, .type = NETIF_ROUTE_UNICAST, .other = true };
        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(d->n_add_routes, 1);
        ASSERT_EQ(d->n_del_routes, 0);
        d = netif_diff_free(d);
}

static NetifRule rule(uint32_t priority, const char *src, uint8_t src_len, uint32_t table) {
        return (NetifRule) {
                .priority = priority,
                .table = table,
                .src = src ? ip(src) : (struct in_addr) {},
                /* cppcheck-suppress selfAssignment ; a designated initializer, not an assignment (cppcheck 2.10 reads it as one) */
                .src_len = src_len,
                .action = NETIF_RULE_TO_TABLE,
        };
}

static void test_diff_rules(void) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        _cleanup_(netif_state_done) NetifState s = {};
        char buf[NETIF_FORMAT_MAX];
        NetifDiff *d = NULL;
        NetifRule other;

        ASSERT_OK(plan_example(&p));
        ASSERT_OK(state_from_plan(p, &s));

        /* Ours but wrong: our priority with another table, our table for an
         * address the ENI no longer has, a duplicate. Someone else's: a rule
         * with more selectors than "from", a rule for another table at
         * another priority. */
        STATE_APPEND(s.rules, s.n_rules, rule(10001, "10.0.1.10", 32, 10005));
        STATE_APPEND(s.rules, s.n_rules, rule(10001, "10.0.1.99", 32, 10001));
        STATE_APPEND(s.rules, s.n_rules, rule(10001, "10.0.1.11", 32, 10001));
        other = rule(10001, "10.0.1.10", 32, 10001);
        other.other = true;
        STATE_APPEND(s.rules, s.n_rules, other);
        STATE_APPEND(s.rules, s.n_rules, rule(10002, "10.0.1.10", 32, 10002));

        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(d->n_add_rules, 0);
        ASSERT_EQ(d->n_del_rules, 3);
        ASSERT_STREQ(netif_rule_to_string(&d->del_rules[0], buf), "10001: from 10.0.1.10 lookup 10005");
        ASSERT_STREQ(netif_rule_to_string(&d->del_rules[1], buf), "10001: from 10.0.1.99 lookup 10001");
        ASSERT_STREQ(netif_rule_to_string(&d->del_rules[2], buf), "10001: from 10.0.1.11 lookup 10001");
        ASSERT_EQ(netif_diff_count(d), 3);
        d = netif_diff_free(d);

        /* A missing rule is added. */
        s.n_rules = 1;
        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(d->n_del_rules, 0);
        ASSERT_EQ(d->n_add_rules, 1);
        ASSERT_STREQ(netif_rule_to_string(&d->add_rules[0], buf), "10001: from 10.0.1.11 lookup 10001");
        d = netif_diff_free(d);
}

static void test_diff_rules_from_all(void) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        _cleanup_(netif_state_done) NetifState s = {};
        char buf[NETIF_FORMAT_MAX];
        NetifDiff *d = NULL;

        ASSERT_OK(plan_example(&p));
        ASSERT_OK(state_from_plan(p, &s));

        /* "from all lookup 10001": deleting it names no source, so the kernel
         * would take the first rule of priority 10001 and table 10001, ours.
         * Ours go first, the most specific first, and come back after. */
        STATE_APPEND(s.rules, s.n_rules, rule(10001, NULL, 0, 10001));
        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(d->n_del_rules, 3);
        ASSERT_STREQ(netif_rule_to_string(&d->del_rules[0], buf), "10001: from 10.0.1.10 lookup 10001");
        ASSERT_STREQ(netif_rule_to_string(&d->del_rules[1], buf), "10001: from 10.0.1.11 lookup 10001");
        ASSERT_STREQ(netif_rule_to_string(&d->del_rules[2], buf), "10001: from all lookup 10001");
        ASSERT_EQ(d->n_add_rules, 2);
        d = netif_diff_free(d);

        /* "from all" with another table only names that table: ours stay. */
        s.rules[2].table = 10005;
        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(d->n_del_rules, 1);
        ASSERT_STREQ(netif_rule_to_string(&d->del_rules[0], buf), "10001: from all lookup 10005");
        ASSERT_EQ(d->n_add_rules, 0);
        d = netif_diff_free(d);
}

int main(void) {
        RUN_TEST(test_mac);
        RUN_TEST(test_mac_refuses);
        RUN_TEST(test_ipv4);
        RUN_TEST(test_cidr);
        RUN_TEST(test_cidr_refuses);
        RUN_TEST(test_plan);
        RUN_TEST(test_plan_device_index);
        RUN_TEST(test_plan_dedups);
        RUN_TEST(test_plan_refuses);
        RUN_TEST(test_diff_from_nothing);
        RUN_TEST(test_diff_nothing_to_do);
        RUN_TEST(test_diff_addresses);
        RUN_TEST(test_diff_routes);
        RUN_TEST(test_diff_rules);
        RUN_TEST(test_diff_rules_from_all);
        return tests_finish();
}
