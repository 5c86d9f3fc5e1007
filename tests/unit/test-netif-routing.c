/* SPDX-License-Identifier: Apache-2.0 */
/* The pure decisions of Routing= beside the network managers: the path a
 * packet from an address takes (rules, tables), the outcome, what auto adds,
 * whether to keep waiting for the manager, what the supervisor does, the
 * opt-outs each mode writes, the add-only plan; and the opt-out files below
 * a test root. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "netif-manager.h"
#include "netif.h"
#include "tests.h"

enum { ETH0 = 2, ETH1 = 3 };

static struct in_addr ip(const char *s) {
        struct in_addr a = {};

        (void) inet_pton(AF_INET, s, &a);
        return a;
}

static NetifRule rule(uint32_t priority, const char *from, uint8_t len, uint32_t table) {
        return (NetifRule) {
                .priority = priority,
                .table = table,
                .src = from ? ip(from) : (struct in_addr) {},
                .src_len = len,
                .action = NETIF_RULE_TO_TABLE,
        };
}

static NetifRoute default_route(uint32_t table, int oif, const char *gateway, uint32_t metric) {
        return (NetifRoute) {
                .table = table,
                .type = NETIF_ROUTE_UNICAST,
                .oif = oif,
                .gateway = ip(gateway),
                .priority = metric,
        };
}

/* A host as it boots: eth0 10.0.1.5/24 with the main table's default route,
 * the kernel's three rules; room for what each test adds. */
typedef struct Host {
        NetifAddress addresses[8];
        NetifRoute routes[8];
        NetifRule rules[8];
        NetifWorld w;
} Host;

static void host_init(Host *h) {
        *h = (Host) {};
        h->addresses[0] = (NetifAddress) { .ifindex = ETH0, .address = ip("10.0.1.5"), .prefixlen = 24 };
        h->routes[0] = default_route(NETIF_TABLE_MAIN, ETH0, "10.0.1.1", 0);
        h->rules[0] = rule(0, NULL, 0, NETIF_TABLE_LOCAL);
        h->rules[1] = rule(32766, NULL, 0, NETIF_TABLE_MAIN);
        h->rules[2] = rule(32767, NULL, 0, 253);
        h->w = (NetifWorld) {
                .addresses = h->addresses, .n_addresses = 1,
                .routes = h->routes, .n_routes = 1,
                .rules = h->rules, .n_rules = 3,
        };
}

static void add_address(Host *h, int ifindex, const char *a) {
        h->addresses[h->w.n_addresses++] = (NetifAddress) { .ifindex = ifindex, .address = ip(a), .prefixlen = 24 };
}

static void add_route(Host *h, NetifRoute rt) {
        h->routes[h->w.n_routes++] = rt;
}

/* Rules stay in the kernel's order: by priority. */
static void add_rule(Host *h, NetifRule r) {
        size_t k = h->w.n_rules;

        while (k > 0 && h->rules[k - 1].priority > r.priority) {
                h->rules[k] = h->rules[k - 1];
                k--;
        }
        h->rules[k] = r;
        h->w.n_rules++;
}

static const NetifIds IDS = {
        .eni_ifindex = ETH1,
        .eni_ip = { .s_addr = 0 },
        .eni_table = 10001,
        .primary_ifindex = ETH0,
        .primary_table = 10000,
};

static NetifIds ids(void) {
        NetifIds i = IDS;

        i.eni_ip = ip("10.0.1.10");
        i.primary_ip = ip("10.0.1.5");
        return i;
}

static void test_route_from(void) {
        const NetifRule *via = NULL;
        const NetifRoute *rt;
        Host h;

        host_init(&h);
        rt = netif_world_route_from(&h.w, ip("10.0.1.10"), &via);
        ASSERT_NOT_NULL(rt);
        ASSERT_EQ(rt->oif, ETH0);
        ASSERT_EQ(via->table, NETIF_TABLE_MAIN);

        /* A "from" rule to an empty table falls through to main. */
        add_rule(&h, rule(10001, "10.0.1.10", 32, 10001));
        rt = netif_world_route_from(&h.w, ip("10.0.1.10"), &via);
        ASSERT_EQ(rt->oif, ETH0);
        ASSERT_EQ(via->table, NETIF_TABLE_MAIN);

        /* With its default route, it is the answer; other sources go on to main. */
        add_route(&h, default_route(10001, ETH1, "10.0.1.1", 0));
        rt = netif_world_route_from(&h.w, ip("10.0.1.10"), &via);
        ASSERT_EQ(rt->oif, ETH1);
        ASSERT_EQ(via->priority, 10001);
        ASSERT_EQ(netif_world_route_from(&h.w, ip("10.0.1.5"), NULL)->oif, ETH0);

        /* The lowest metric of a table wins. */
        add_route(&h, default_route(NETIF_TABLE_MAIN, ETH1, "10.0.1.1", 100));
        ASSERT_EQ(netif_world_route_from(&h.w, ip("10.0.1.5"), NULL)->oif, ETH0);
        h.routes[0].priority = 200;
        ASSERT_EQ(netif_world_route_from(&h.w, ip("10.0.1.5"), NULL)->oif, ETH1);

        /* A prefix rule covers its addresses; a rule with other selectors
         * (iif, fwmark...) is not followed. */
        add_rule(&h, rule(100, "10.0.1.0", 24, 10001));
        ASSERT_EQ(netif_world_route_from(&h.w, ip("10.0.1.5"), NULL)->oif, ETH1);
        h.rules[1].other = true;
        ASSERT_EQ(netif_world_route_from(&h.w, ip("10.0.1.5"), NULL)->oif, ETH1);

        /* A blackhole default ends the lookup. */
        host_init(&h);
        h.routes[0].type = 6;
        ASSERT_NULL(netif_world_route_from(&h.w, ip("10.0.1.5"), NULL));
}

static void test_outcome(void) {
        NetifIds i = ids();
        NetifOutcome o;
        NetifNeeds n;
        Host h;

        /* Nothing yet: nodeagent does it all. */
        host_init(&h);
        netif_outcome_judge(&h.w, &i, &o);
        ASSERT_FALSE(o.address);
        ASSERT_FALSE(o.eni_routed);
        ASSERT_TRUE(o.primary_routed);
        ASSERT_FALSE(o.main_default_via_eni);
        ASSERT_FALSE(netif_outcome_complete(&o));
        netif_needs_auto(&o, &n);
        ASSERT_TRUE(n.address && n.eni_table && !n.primary_table);

        /* NetworkManager, netplan's match-all DHCP, ifupdown: the address and
         * a default route in main, no rule. The ENI's IP leaves by eth1 only
         * by the luck of the metrics: not pinned, and the primary needs its
         * own rule. */
        add_address(&h, ETH1, "10.0.1.10");
        add_route(&h, default_route(NETIF_TABLE_MAIN, ETH1, "10.0.1.1", 0));
        h.routes[0].priority = 100;
        netif_outcome_judge(&h.w, &i, &o);
        ASSERT_TRUE(o.address);
        ASSERT_FALSE(o.eni_routed);
        ASSERT_FALSE(o.primary_routed);
        ASSERT_TRUE(o.main_default_via_eni);
        netif_needs_auto(&o, &n);
        ASSERT_TRUE(!n.address && n.eni_table && n.primary_table);

        /* Then nodeagent's pieces: complete. */
        add_route(&h, default_route(10001, ETH1, "10.0.1.1", 0));
        add_rule(&h, rule(10001, "10.0.1.10", 32, 10001));
        add_route(&h, default_route(10000, ETH0, "10.0.1.1", 0));
        add_rule(&h, rule(10000, "10.0.1.5", 32, 10000));
        netif_outcome_judge(&h.w, &i, &o);
        ASSERT_TRUE(o.eni_routed && o.eni_routed_by_own);
        ASSERT_TRUE(o.primary_routed && o.primary_pinned && o.primary_pinned_by_own);
        ASSERT_TRUE(netif_outcome_complete(&o));

        /* The address on another link too. */
        add_address(&h, ETH0, "10.0.1.10");
        netif_outcome_judge(&h.w, &i, &o);
        ASSERT_TRUE(o.address_elsewhere);
        ASSERT_FALSE(netif_outcome_complete(&o));
}

static void test_outcome_managers_with_rules(void) {
        NetifIds i = ids();
        NetifOutcome o;
        NetifNeeds n;
        Host h;

        /* amazon-ec2-net-utils: table and rule 10001 (our number), its
         * default route metric 512 + index in main. Nothing to add. */
        host_init(&h);
        add_address(&h, ETH1, "10.0.1.10");
        add_route(&h, default_route(NETIF_TABLE_MAIN, ETH1, "10.0.1.1", 513));
        add_route(&h, default_route(10001, ETH1, "10.0.1.1", 0));
        add_rule(&h, rule(10001, "10.0.1.10", 32, 10001));
        netif_outcome_judge(&h.w, &i, &o);
        ASSERT_TRUE(o.eni_routed);
        ASSERT_TRUE(o.primary_routed);
        ASSERT_TRUE(o.main_default_via_eni);
        netif_needs_auto(&o, &n);
        ASSERT_FALSE(n.address || n.eni_table);
        /* A second default route in main: the primary still gets its rule. */
        ASSERT_TRUE(n.primary_table);

        /* cloud-init on Ubuntu: table 101, its rule, route-metric 200. */
        host_init(&h);
        h.routes[0].priority = 100;
        add_address(&h, ETH1, "10.0.1.10");
        add_route(&h, default_route(NETIF_TABLE_MAIN, ETH1, "10.0.1.1", 200));
        add_route(&h, default_route(101, ETH1, "10.0.1.1", 0));
        add_rule(&h, rule(32765, "10.0.1.10", 32, 101));
        netif_outcome_judge(&h.w, &i, &o);
        ASSERT_TRUE(o.eni_routed);
        ASSERT_FALSE(o.eni_routed_by_own);
        netif_needs_auto(&o, &n);
        ASSERT_FALSE(n.address || n.eni_table);
}

static void test_wait_decide(void) {
        NetifOutcome done = { .address = true, .eni_routed = true, .primary_routed = true };
        NetifOutcome none = { .primary_routed = true };
        usec_t s = USEC_PER_SEC;

        ASSERT_EQ(netif_wait_decide(NETIF_CLAIM_NONE, &none, 0, 5 * s), NETIF_WAIT_NOBODY);
        ASSERT_EQ(netif_wait_decide(NETIF_CLAIM_WORKING, &none, 29 * s, 5 * s), NETIF_WAIT_MORE);
        ASSERT_EQ(netif_wait_decide(NETIF_CLAIM_WORKING, &none, 30 * s, 5 * s), NETIF_WAIT_TIMEOUT);
        ASSERT_EQ(netif_wait_decide(NETIF_CLAIM_WORKING, &done, 1 * s, 5 * s), NETIF_WAIT_DONE);
        ASSERT_EQ(netif_wait_decide(NETIF_CLAIM_DONE, &none, 1 * s, 5 * s), NETIF_WAIT_DONE);
        ASSERT_EQ(netif_wait_decide(NETIF_CLAIM_UNKNOWN, &none, 4 * s, 5 * s), NETIF_WAIT_MORE);
        ASSERT_EQ(netif_wait_decide(NETIF_CLAIM_UNKNOWN, &none, 5 * s, 5 * s), NETIF_WAIT_NOBODY);
        /* Never past the contract's 30 s, whatever unknown_max says. */
        ASSERT_EQ(netif_wait_decide(NETIF_CLAIM_UNKNOWN, &none, 30 * s, 60 * s), NETIF_WAIT_NOBODY);
}

static NetifSuperviseAction supervise(bool link, bool own_missing, bool owns_address, const NetifOutcome *o,
                                      usec_t since, usec_t t) {
        return netif_supervise_decide(&(NetifSuperviseInput) {
                .link = link, .own_missing = own_missing, .owns_address = owns_address, .outcome = o,
                .missing_since = since, .now = t,
        });
}

static void test_supervise_decide(void) {
        NetifOutcome ok = { .address = true, .eni_routed = true, .primary_routed = true };
        NetifOutcome no_address = { .address = false, .eni_routed = true, .primary_routed = true };
        NetifOutcome unpinned = { .address = true, .eni_routed = false, .primary_routed = true };
        usec_t s = USEC_PER_SEC, t = 1000 * s;

        ASSERT_EQ(supervise(true, false, false, &ok, 0, t), NETIF_SUPERVISE_OK);
        /* Our rule or route went (networkd's foreign-rule sweep): put back. */
        ASSERT_EQ(supervise(true, true, false, &unpinned, 0, t), NETIF_SUPERVISE_REPAIR);
        /* The manager's lease address went: wait, then give up. Our routes
         * (source: that address) cannot come back before it. */
        ASSERT_EQ(supervise(true, true, false, &no_address, 0, t), NETIF_SUPERVISE_WAIT);
        ASSERT_EQ(supervise(true, true, false, &no_address, t - 5 * s, t), NETIF_SUPERVISE_WAIT);
        ASSERT_EQ(supervise(true, true, false, &no_address, t - NETIF_SUPERVISE_GRACE_USEC, t),
                  NETIF_SUPERVISE_LOST);
        /* The manager's own rule went (amazon-ec2-net-utils'), ours are whole. */
        ASSERT_EQ(supervise(true, false, false, &unpinned, 0, t), NETIF_SUPERVISE_WAIT);
        /* The manager took the link down for a restart. */
        ASSERT_EQ(supervise(false, false, false, &ok, 0, t), NETIF_SUPERVISE_WAIT);
        /* Routing=agent: the address and the link are ours to put back. */
        ASSERT_EQ(supervise(true, true, true, &no_address, 0, t), NETIF_SUPERVISE_REPAIR);
        ASSERT_EQ(supervise(false, true, true, &ok, 0, t), NETIF_SUPERVISE_REPAIR);
        ASSERT_STREQ(netif_supervise_action_to_string(NETIF_SUPERVISE_LOST), "lost");
}

static void test_optouts(void) {
        NetifHost nothing = {};
        NetifHost networkd = {
                .installed = NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORKD),
                .running = NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORKD),
        };
        NetifHost networkd_idle = { .installed = NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORKD) };
        NetifHost nm = {
                .installed = NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORK_MANAGER),
                .running = NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORK_MANAGER),
        };
        NetifHost ifupdown = {
                .installed = NETIF_MANAGER_BIT(NETIF_MANAGER_IFUPDOWN),
                .running = NETIF_MANAGER_BIT(NETIF_MANAGER_IFUPDOWN),
                .dhclient_hooks = true,
        };

        ASSERT_EQ(netif_optouts_for(&nothing, ROUTING_AGENT), 0);
        ASSERT_EQ(netif_optouts_for(&networkd, ROUTING_AGENT),
                  NETIF_OPTOUT_NETWORKD_LINK | NETIF_OPTOUT_NETWORKD_FOREIGN);
        ASSERT_EQ(netif_optouts_for(&networkd, ROUTING_AUTO), NETIF_OPTOUT_NETWORKD_FOREIGN);
        ASSERT_EQ(netif_optouts_for(&networkd, ROUTING_NONE), 0);
        /* networkd installed but not running in this namespace: not ours to tell. */
        ASSERT_EQ(netif_optouts_for(&networkd_idle, ROUTING_AGENT), 0);
        ASSERT_EQ(netif_optouts_for(&nm, ROUTING_AGENT), NETIF_OPTOUT_NETWORK_MANAGER);
        ASSERT_EQ(netif_optouts_for(&nm, ROUTING_AUTO), 0);
        ASSERT_EQ(netif_optouts_for(&ifupdown, ROUTING_AGENT), NETIF_OPTOUT_DHCLIENT);
        ASSERT_EQ(netif_optouts_for(&ifupdown, ROUTING_AUTO), 0);
        ifupdown.dhclient_hooks = false;
        ASSERT_EQ(netif_optouts_for(&ifupdown, ROUTING_AGENT), 0);
}

static void test_plan_add_only(void) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL, *primary = NULL;
        _cleanup_(netif_diff_freep) NetifDiff *d = NULL;
        NetifEni base = { .ifindex = ETH1, .network_card = 1, .device_index = 2, .without_addresses = true };
        NetifAddress lease = { .ifindex = ETH1, .address = ip("10.0.1.10"), .prefixlen = 24 };
        NetifRoute theirs = default_route(10102, ETH1, "10.0.1.99", 0);
        NetifRule stray = rule(10102, "10.0.1.77", 32, 10102);
        NetifState s = {
                .ifindex = ETH1, .table = 10102,
                .addresses = &lease, .n_addresses = 1,
                .routes = &theirs, .n_routes = 1,
                .rules = &stray, .n_rules = 1,
        };
        char buf[NETIF_FORMAT_MAX];

        ASSERT_EQ(netif_table_for(0, 1), 10001U);
        ASSERT_EQ(netif_table_for(1, 2), 10102U);

        ASSERT_OK(netif_plan_new_from_eni_strings(&base, "10.0.1.10", NULL, "10.0.1.0/24", &p));
        ASSERT_EQ(p->table, 10102U);
        ASSERT_TRUE(p->add_only);
        ASSERT_EQ(p->n_addresses, 0);
        ASSERT_EQ(p->n_rules, 1);
        ASSERT_STREQ(netif_rule_to_string(&p->rules[0], buf), "10102: from 10.0.1.10 lookup 10102");

        /* Nothing of theirs is deleted or replaced: not their default route
         * (same key), not a stray rule in the table's number. */
        ASSERT_OK(netif_diff(p, &s, &d));
        ASSERT_EQ(d->n_del_addresses + d->n_del_routes + d->n_del_rules, 0);
        ASSERT_EQ(d->n_add_routes, 1);
        ASSERT_STREQ(netif_route_to_string(&d->add_routes[0], buf),
                     "10.0.1.0/24 dev #3 table 10102 proto static scope link src 10.0.1.10");
        ASSERT_EQ(d->n_add_rules, 1);

        ASSERT_OK(netif_plan_new_primary(ETH0, ip("10.0.1.5"), 24, ip("10.0.1.1"), 10000, &primary));
        ASSERT_TRUE(primary->add_only);
        ASSERT_EQ(primary->n_routes, 2);
        ASSERT_STREQ(netif_route_to_string(&primary->routes[0], buf),
                     "10.0.1.0/24 dev #2 table 10000 proto static scope link src 10.0.1.5");
        ASSERT_STREQ(netif_route_to_string(&primary->routes[1], buf),
                     "default via 10.0.1.1 dev #2 table 10000 proto static scope global src 10.0.1.5");
        ASSERT_STREQ(netif_rule_to_string(&primary->rules[0], buf), "10000: from 10.0.1.5 lookup 10000");
        ASSERT_EQ(netif_plan_new_primary(ETH0, ip("10.0.1.5"), 24, ip("10.0.2.1"), 10000, &p), -EINVAL);
}

/* The rules a Routing=agent boot made, for their removal after the ENI
 * left when the boot's own plan is not at hand: one per address (duplicates
 * dropped), nothing else. */
static void test_plan_rules(void) {
        _cleanup_(netif_plan_freep) NetifPlan *p = NULL;
        char *secondaries[] = { (char *) "10.0.1.11", (char *) "10.0.1.10", NULL };
        char buf[NETIF_FORMAT_MAX];

        ASSERT_OK(netif_plan_new_rules(1, 2, "10.0.1.10", secondaries, &p));
        ASSERT_EQ(p->table, 10102U);
        ASSERT_EQ(p->ifindex, 0);
        ASSERT_EQ(p->n_addresses + p->n_routes, 0);
        ASSERT_EQ(p->n_rules, 2);
        ASSERT_STREQ(netif_rule_to_string(&p->rules[0], buf), "10102: from 10.0.1.10 lookup 10102");
        ASSERT_STREQ(netif_rule_to_string(&p->rules[1], buf), "10102: from 10.0.1.11 lookup 10102");
        p = netif_plan_free(p);

        ASSERT_OK(netif_plan_new_rules(0, 1, "10.0.1.10", NULL, &p));
        ASSERT_EQ(p->n_rules, 1);
        ASSERT_STREQ(netif_rule_to_string(&p->rules[0], buf), "10001: from 10.0.1.10 lookup 10001");
        p = netif_plan_free(p);

        ASSERT_EQ(netif_plan_new_rules(0, 0, "10.0.1.10", NULL, &p), -EINVAL);
        ASSERT_EQ(netif_plan_new_rules(0, 1, "10.0.1", NULL, &p), -EINVAL);
        ASSERT_NULL(p);
}

static char *read_text(const char *root, const char *path) {
        _cleanup_free_ char *p = NULL;
        char *text = NULL;
        size_t size = 0;
        FILE *f;

        if (asprintf(&p, "%s%s", root, path) < 0)
                return NULL;
        f = fopen(p, "re");
        if (!f)
                return NULL;
        if (getdelim(&text, &size, '\0', f) < 0)
                text = mfree(text);
        /* Only read: closing it cannot lose anything. */
        (void) fclose(f);
        return text;
}

static void test_prepare_files(void) {
        char root[] = "/tmp/test-netif-routing.XXXXXX";
        NetifHost all = {
                .installed = NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORKD) |
                        NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORK_MANAGER) | NETIF_MANAGER_BIT(NETIF_MANAGER_IFUPDOWN),
                .running = NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORKD) |
                        NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORK_MANAGER) | NETIF_MANAGER_BIT(NETIF_MANAGER_IFUPDOWN),
                .dhclient_hooks = true,
        };
        _cleanup_free_ char *networkd = NULL, *foreign = NULL, *nm = NULL, *hook = NULL, *marker = NULL;
        char cmd[64];

        ASSERT_NOT_NULL(mkdtemp(root));
        ASSERT_EQ(netif_prepare_managers_full(root, &all, "02:00:00:00:01:10", ROUTING_NONE), 0);
        ASSERT_NULL(read_text(root, "/run/systemd/networkd.conf.d/90-nodeagent.conf"));

        ASSERT_EQ(netif_prepare_managers_full(root, &all, "02:00:00:00:01:10", ROUTING_AGENT),
                  NETIF_OPTOUT_NETWORKD_LINK | NETIF_OPTOUT_NETWORKD_FOREIGN | NETIF_OPTOUT_NETWORK_MANAGER |
                  NETIF_OPTOUT_DHCLIENT);
        networkd = read_text(root, "/run/systemd/network/00-nodeagent-020000000110.network");
        ASSERT_NOT_NULL(networkd);
        ASSERT_NOT_NULL(strstr(networkd, "[Match]\nMACAddress=02:00:00:00:01:10\n"));
        ASSERT_NOT_NULL(strstr(networkd, "[Link]\nUnmanaged=yes\n"));
        foreign = read_text(root, "/run/systemd/networkd.conf.d/90-nodeagent.conf");
        ASSERT_NOT_NULL(strstr(foreign, "ManageForeignRoutingPolicyRules=no\n"));
        ASSERT_NOT_NULL(strstr(foreign, "ManageForeignRoutes=no\n"));
        nm = read_text(root, "/run/NetworkManager/conf.d/90-nodeagent-020000000110.conf");
        ASSERT_NOT_NULL(strstr(nm, "match-device=mac:02:00:00:00:01:10\nmanaged=0\n"));
        hook = read_text(root, "/etc/dhcp/dhclient-enter-hooks.d/nodeagent");
        ASSERT_NOT_NULL(strstr(hook, "/run/nodeagent/unmanaged/"));
        marker = read_text(root, "/run/nodeagent/unmanaged/02:00:00:00:01:10");
        ASSERT_NOT_NULL(marker);

        /* Under auto the link is the managers' again: the per-link files go,
         * networkd's drop-in and the inert hook stay. */
        ASSERT_EQ(netif_prepare_managers_full(root, &all, "02:00:00:00:01:10", ROUTING_AUTO),
                  NETIF_OPTOUT_NETWORKD_FOREIGN);
        ASSERT_NULL(read_text(root, "/run/systemd/network/00-nodeagent-020000000110.network"));
        ASSERT_NULL(read_text(root, "/run/NetworkManager/conf.d/90-nodeagent-020000000110.conf"));
        ASSERT_NULL(read_text(root, "/run/nodeagent/unmanaged/02:00:00:00:01:10"));
        free(foreign);
        foreign = read_text(root, "/run/systemd/networkd.conf.d/90-nodeagent.conf");
        ASSERT_NOT_NULL(foreign);

        ASSERT_EQ(netif_prepare_managers_full(root, &all, "not-a-mac", ROUTING_AGENT), -EINVAL);
        ASSERT_TRUE(snprintf(cmd, sizeof(cmd), "rm -rf %s", root) < (int) sizeof(cmd));
        ASSERT_EQ(system(cmd), 0);
}

static void test_host_probe(void) {
        char root[] = "/tmp/test-netif-routing.XXXXXX";
        _cleanup_free_ char *s = NULL;
        char cmd[256], path[128];
        NetifHost h;
        int fd;

        ASSERT_NOT_NULL(mkdtemp(root));
        ASSERT_OK(netif_host_probe(root, &h));
        ASSERT_EQ(h.installed, 0);
        s = netif_host_to_string(&h);
        ASSERT_STREQ(s, "none");

        ASSERT_TRUE(snprintf(cmd, sizeof(cmd), "mkdir -p %s/usr/lib/systemd/system %s/lib/udev", root, root) <
                    (int) sizeof(cmd));
        ASSERT_EQ(system(cmd), 0);
        ASSERT_TRUE(snprintf(path, sizeof(path), "%s/usr/lib/systemd/system/policy-routes@.service", root) > 0);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        ASSERT_TRUE(snprintf(path, sizeof(path), "%s/lib/udev/ifupdown-hotplug", root) > 0);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        ASSERT_OK(netif_host_probe(root, &h));
        ASSERT_EQ(h.installed, NETIF_MANAGER_BIT(NETIF_MANAGER_EC2_NET_UTILS_2) |
                  NETIF_MANAGER_BIT(NETIF_MANAGER_IFUPDOWN));
        /* Started by udev: running when installed. */
        ASSERT_EQ(h.running, h.installed);
        free(s);
        s = netif_host_to_string(&h);
        ASSERT_STREQ(s, "amazon-ec2-net-utils 2.x (running), ifupdown (running)");

        ASSERT_TRUE(snprintf(cmd, sizeof(cmd), "rm -rf %s", root) < (int) sizeof(cmd));
        ASSERT_EQ(system(cmd), 0);
}

int main(void) {
        RUN_TEST(test_route_from);
        RUN_TEST(test_outcome);
        RUN_TEST(test_outcome_managers_with_rules);
        RUN_TEST(test_wait_decide);
        RUN_TEST(test_supervise_decide);
        RUN_TEST(test_optouts);
        RUN_TEST(test_plan_add_only);
        RUN_TEST(test_plan_rules);
        RUN_TEST(test_prepare_files);
        RUN_TEST(test_host_probe);
        return tests_finish();
}
