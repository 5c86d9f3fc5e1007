/* SPDX-License-Identifier: Apache-2.0 */
/* The interface path of the boot: the attach lifecycle up to the link
 * (eni.c, attach.c), then its routing by Routing= (DESIGN.md, "Interface
 * (issue 11)"), then the carrier; and, for the supervisor, the watch over
 * the outcome after READY.
 *
 *   agent  before the attach, the network managers are told to leave the
 *          link alone (netif-manager.h); then nodeagent configures it all:
 *          addresses (permanent), MTU, table and rules
 *   auto   before the attach, networkd is told to keep foreign rules; the
 *          manager that claims the link is waited for (at most 30 s), then
 *          nodeagent adds only what the outcome lacks (netif_needs_auto())
 *   none   nothing */
#include <poll.h>

#include "log.h"
#include "node.h"
#include "wait.h"

/* How often the managers' state files are looked at again while waiting,
 * besides every rtnetlink event. */
#define MANAGER_RECHECK_USEC (250 * USEC_PER_MSEC)

/* How long a manager that may claim the link has to say so (networkd's
 * "pending" while udev still works on the link). */
#define MANAGER_UNDECIDED_USEC (5 * USEC_PER_SEC)

void node_routing_done(NodeRouting *rt) {
        rt->eni_plan = netif_plan_free(rt->eni_plan);
        rt->primary_plan = netif_plan_free(rt->primary_plan);
}

static unsigned network_card(const Node *n) {
        return n->config->interface.network_card_index;
}

static uint32_t eni_table(const Node *n) {
        return netif_table_for(network_card(n), n->config->interface.device_index);
}

/* The root below which the network managers' files are looked at and
 * written: "/" but for tests (docs/configuration.md, "Testing hooks"). */
static const char *managers_root(void) {
        const char *root = getenv("NODEAGENT_NETWORK_ROOT");

        return isempty(root) ? NULL : root;
}

static const char *state_name(const NodeInterface *i) {
        return path_state_to_string(i->path.state);
}

/* The primary link's default route when the rules' answer went through
 * the ENI (a manager's second default route in main, seen by a boot that
 * found the ENI attached already): nodeagent's own table for the primary
 * IP, else the main table's best default route out of another link. */
static const NetifRoute *primary_default(const NetifWorld *w, uint32_t own_table, int eni_ifindex) {
        const NetifRoute *best = NULL;

        for (size_t k = 0; k < w->n_routes; k++) {
                const NetifRoute *rt = &w->routes[k];

                if (rt->dst_len != 0 || rt->oif <= 0 || rt->oif == eni_ifindex || rt->gateway.s_addr == 0)
                        continue;
                if (rt->table == own_table)
                        return rt;
                if (rt->table == NETIF_TABLE_MAIN && (!best || rt->priority < best->priority))
                        best = rt;
        }
        return best;
}

/* The primary interface as it is before the attach: its link, gateway,
 * prefix and MTU, from the route a packet from the primary IP takes.
 * eni_ifindex: the ENI's link when it is there already (0: not yet). */
static void read_primary(Node *n, int eni_ifindex) {
        _cleanup_(netif_world_done) NetifWorld w = {};
        NodeRouting *rt = &n->interface.routing;
        const NetifAddress *a;
        const NetifRoute *route;
        struct in_addr ip;
        int r;

        if (netif_ipv4_from_string(n->instance->private_ip, &ip) < 0) {
                log_warning("interface: %s: the primary IP \"%s\" is not an IPv4 address; its path is not "
                            "watched.", state_name(&n->interface), strna(n->instance->private_ip));
                return;
        }
        r = netif_world_read(&w);
        if (r < 0) {
                log_warning_errno(r, "interface: %s: cannot read the routing state: %m", state_name(&n->interface));
                return;
        }
        route = netif_world_route_from(&w, ip, NULL);
        if (!route || (eni_ifindex > 0 && route->oif == eni_ifindex))
                route = primary_default(&w, rt->ids.primary_table, eni_ifindex);
        a = route ? netif_world_address(&w, route->oif, ip) : NULL;
        if (!route || !a || route->gateway.s_addr == 0) {
                log_warning("interface: %s: no default route from the primary IP %s through a gateway; its path "
                            "is not watched.", state_name(&n->interface), n->instance->private_ip);
                return;
        }
        rt->ids.primary_ifindex = route->oif;
        rt->ids.primary_ip = ip;
        rt->primary_gateway = route->gateway;
        rt->primary_prefixlen = a->prefixlen;
        if (netif_link_mtu(route->oif, &rt->primary_mtu) < 0)
                rt->primary_mtu = 0;
        rt->have_primary = true;
}

/* Eni's before_attach: the managers learn before the link appears. Also
 * called after the attach when there was none (the ENI was attached here
 * already: a restarted boot), late but still before the routing. */
static void prepare_routing(Eni *e, void *userdata) {
        Node *n = userdata;
        NodeInterface *i = &n->interface;
        NodeRouting *rt = &i->routing;
        RoutingMode mode = n->config->interface.routing;
        _cleanup_free_ char *managers = NULL;
        int r;

        rt->ids.primary_table = netif_table_for(network_card(n), 0);
        rt->ids.eni_table = eni_table(n);
        if (mode == ROUTING_NONE)
                return;
        if (!rt->prepared) {
                (void) netif_host_probe(managers_root(), &rt->host);
                read_primary(n, i->have_link ? i->eni.link.ifindex : 0);
                rt->prepared = true;
        }
        managers = netif_host_to_string(&rt->host);
        r = netif_prepare_managers_full(managers_root(), &rt->host, e->ec2.mac, mode);
        if (r < 0)
                log_warning_errno(r, "interface: %s: network managers: %s; failed to tell them about %s: %m",
                                  state_name(i), strna(managers), strna(e->ec2.mac));
        else
                log_info("interface: %s: network managers: %s; told%s%s%s%s%s (Routing=%s).", state_name(i),
                         strna(managers), r == 0 ? " nothing" : "",
                         r & NETIF_OPTOUT_NETWORKD_LINK ? " networkd to leave the link alone," : "",
                         r & NETIF_OPTOUT_NETWORKD_FOREIGN ? " networkd to keep foreign rules and routes," : "",
                         r & NETIF_OPTOUT_NETWORK_MANAGER ? " NetworkManager to leave the link alone," : "",
                         r & NETIF_OPTOUT_DHCLIENT ? " dhclient to leave the link alone," : "",
                         routing_mode_to_string(mode));
}

static int read_subnet_cidr(Node *n) {
        _cleanup_(aws_error_done) AwsError error = {};
        NodeInterface *i = &n->interface;
        const Ec2NetworkInterface *eni = &i->eni.ec2;
        const char *ids[] = { eni->subnet_id, NULL };
        Ec2Subnet *subnets = NULL;
        size_t k = 0;
        int r;

        /* From EC2, not IMDS: right after an attach IMDS does not know the
         * new interface's subnet yet. */
        r = ec2_describe_subnets(i->aws, ids, false, n->deadline, &error, &subnets, &k);
        if (r >= 0 && (k == 0 || !subnets[0].cidr))
                r = -ENOENT;
        if (r < 0) {
                ec2_subnets_free(subnets, k);
                return path_fail(&i->path, failure_kind_of_call(r), r, "Failed to describe subnet %s of %s: %s%s%m",
                                 strna(eni->subnet_id), eni->id, strempty(error.code), error.code ? ": " : "");
        }
        free(i->subnet_cidr);
        i->subnet_cidr = TAKE_PTR(subnets[0].cidr);
        ec2_subnets_free(subnets, k);
        log_info("interface: %s: subnet %s is %s.", state_name(i), strna(eni->subnet_id), i->subnet_cidr);
        return 0;
}

/* Eni's while_attaching: the subnet, which the routes may need, is read
 * during the seconds EC2 takes to attach. */
static int read_while_attaching(Eni *e, void *userdata) {
        Node *n = userdata;

        return n->config->interface.routing != ROUTING_NONE ? read_subnet_cidr(n) : 0;
}

/* The ENI's own plan: everything (agent), or what the manager left out
 * (auto: add-only, without the addresses when the manager gave them). */
static int eni_plan(Node *n, bool with_addresses, bool add_only, NetifPlan **ret) {
        NodeInterface *i = &n->interface;
        const Ec2NetworkInterface *eni = &i->eni.ec2;
        NetifEni base = {
                .ifindex = i->eni.link.ifindex,
                .network_card = network_card(n),
                .device_index = n->config->interface.device_index,
                .without_addresses = !with_addresses,
        };
        int r;

        if (!i->subnet_cidr) {
                r = read_subnet_cidr(n);
                if (r < 0)
                        return r;
        }
        r = netif_plan_new_from_eni_strings(&base, eni->private_ip, eni->secondary_ips, i->subnet_cidr, ret);
        if (r < 0)
                return path_fail(&i->path, FAILURE_OTHER, r, "Cannot route %s (%s in %s): %m", eni->id,
                                 strna(eni->private_ip), i->subnet_cidr);
        if (add_only)
                (*ret)->add_only = true;
        return 0;
}

static int configure(Node *n, const NetifPlan *plan, const char *what) {
        NodeInterface *i = &n->interface;
        int r;

        r = netif_configure(plan);
        if (r < 0)
                /* A refusal of the kernel's (EPERM included) is not AWS's. */
                return path_fail(&i->path, FAILURE_OTHER, r, "Failed to configure %s (%s): %m", what,
                                 i->eni.link.name);
        log_info("interface: routing: %s: %d change(s) made.", what, r);
        return 0;
}

static int route_agent(Node *n) {
        NodeInterface *i = &n->interface;
        NodeRouting *rt = &i->routing;
        _cleanup_(netif_plan_freep) NetifPlan *plan = NULL;
        int r;

        r = eni_plan(n, true, false, &plan);
        if (r < 0)
                return r;
        plan->mtu = n->config->interface.mtu > 0 ? n->config->interface.mtu : rt->primary_mtu;
        path_transition(&i->path, PATH_STATE_ROUTING, "Routing %s on %s through table %u (subnet %s, MTU %u).",
                        i->eni.ec2.private_ip, i->eni.link.name, plan->table, i->subnet_cidr, plan->mtu);
        r = configure(n, plan, "the ENI");
        if (r < 0)
                return r;
        rt->owns_address = true;
        rt->owns_table = true;
        rt->manager = _NETIF_MANAGER_MAX;
        rt->eni_plan = TAKE_PTR(plan);
        return 0;
}

/* Waits until the manager that claims the link is done with it, nobody
 * claims it, or 30 s have passed; fills ret with the outcome then. */
static int wait_for_manager(Node *n, NetifOutcome *ret) {
        _cleanup_(netif_link_monitor_freep) NetifLinkMonitor *events = NULL;
        NodeInterface *i = &n->interface;
        NodeRouting *rt = &i->routing;
        usec_t start = now(CLOCK_MONOTONIC);
        NetifWaitVerdict verdict;
        NetifClaim claim;
        int r;

        /* Subscribed before the first look, so no change slips between. */
        r = netif_link_monitor_new(&events);
        if (r < 0)
                return path_fail(&i->path, FAILURE_OTHER, r, "Failed to watch the routing state: %m");

        for (;;) {
                _cleanup_(netif_world_done) NetifWorld w = {};
                struct pollfd p = { .fd = netif_link_monitor_fd(events), .events = POLLIN };
                usec_t t = now(CLOCK_MONOTONIC);

                r = netif_world_read(&w);
                if (r < 0)
                        return path_fail(&i->path, FAILURE_OTHER, r, "Failed to read the routing state: %m");
                netif_outcome_judge(&w, &rt->ids, ret);
                claim = netif_manager_claim(managers_root(), &rt->host, &i->eni.link, ret, &rt->manager);
                verdict = netif_wait_decide(claim, ret, t - start, MANAGER_UNDECIDED_USEC);
                if (verdict != NETIF_WAIT_MORE)
                        break;

                r = wait_for_fds(&p, 1, MIN(usec_add(t, MANAGER_RECHECK_USEC), n->deadline), WAIT_CANCELLABLE);
                if (r < 0)
                        return path_fail(&i->path, FAILURE_CANCELLED, r, "Cancelled while waiting for %s.",
                                         netif_manager_to_string(rt->manager));
                if (r == 0 && now(CLOCK_MONOTONIC) >= n->deadline)
                        return path_fail(&i->path, FAILURE_OTHER, ETIME, "The deadline passed while waiting for "
                                         "%s to configure %s.", netif_manager_to_string(rt->manager),
                                         i->eni.link.name);
                netif_link_monitor_drain(events);
        }

        if (verdict == NETIF_WAIT_NOBODY)
                rt->manager = _NETIF_MANAGER_MAX;
        log_info("interface: routing: %s after %s (%s): address %s%s, traffic from %s %s, from the primary IP %s%s.",
                 verdict == NETIF_WAIT_NOBODY ? "no network manager takes the link" :
                 verdict == NETIF_WAIT_TIMEOUT ? "the network manager did not finish" : "the network manager is done",
                 FORMAT_DURATION(now(CLOCK_MONOTONIC) - start), netif_manager_to_string(rt->manager),
                 ret->address ? "there" : "missing", ret->address_elsewhere ? " (and on another link)" : "",
                 i->eni.ec2.private_ip, ret->eni_routed ? "pinned to the ENI by a rule" : "not pinned to the ENI",
                 ret->primary_routed ? "leaves by the primary link" : "leaves elsewhere",
                 ret->main_default_via_eni ? " (the main table has a default route through the ENI)" : "");
        return 0;
}

/* Nodeagent's own table and rule for the primary IP, from its route before
 * the attach (into rt->primary_plan). */
static int primary_plan(Node *n) {
        NodeRouting *rt = &n->interface.routing;

        if (rt->primary_plan)
                return 0;
        return netif_plan_new_primary(rt->ids.primary_ifindex, rt->ids.primary_ip, rt->primary_prefixlen,
                                      rt->primary_gateway, rt->ids.primary_table, &rt->primary_plan);
}

static int route_auto(Node *n) {
        NodeInterface *i = &n->interface;
        NodeRouting *rt = &i->routing;
        NetifOutcome o;
        NetifNeeds needs;
        int r;

        path_transition(&i->path, PATH_STATE_ROUTING, "Waiting for the network managers to configure %s "
                        "(at most %s), then adding what the outcome lacks.", i->eni.link.name,
                        FORMAT_DURATION(NETIF_MANAGER_WAIT_USEC));
        r = wait_for_manager(n, &o);
        if (r < 0)
                return r;

        netif_needs_auto(&o, &needs);
        if (!rt->have_primary)
                needs.primary_table = false;
        log_info("interface: routing: adding%s%s%s%s.", needs.address ? " the address," : "",
                 needs.eni_table ? " the ENI's table and rule," : "",
                 needs.primary_table ? " the primary IP's table and rule," : "",
                 !needs.address && !needs.eni_table && !needs.primary_table ? " nothing" : "");

        if (needs.address || needs.eni_table) {
                _cleanup_(netif_plan_freep) NetifPlan *plan = NULL;

                r = eni_plan(n, needs.address, true, &plan);
                if (r < 0)
                        return r;
                r = configure(n, plan, "the ENI");
                if (r < 0)
                        return r;
                rt->owns_address = needs.address;
                rt->owns_table = needs.eni_table;
                rt->eni_plan = TAKE_PTR(plan);
        }
        if (needs.primary_table) {
                r = primary_plan(n);
                if (r < 0)
                        return path_fail(&i->path, FAILURE_OTHER, r, "Cannot pin the primary IP's route: %m");
                r = configure(n, rt->primary_plan, "the primary IP");
                if (r < 0)
                        return r;
        }
        return 0;
}

int node_run_interface(Node *n) {
        NodeInterface *i = &n->interface;
        int r;

        i->eni.before_attach = prepare_routing;
        i->eni.while_attaching = read_while_attaching;
        i->eni.userdata = n;

        r = eni_attach(&i->eni);
        if (r < 0)
                return r;
        i->have_link = true;
        if (!i->routing.prepared)
                prepare_routing(&i->eni, n);
        /* Who is who, for the outcome now and the supervisor later. */
        i->routing.ids.eni_ifindex = i->eni.link.ifindex;
        r = netif_ipv4_from_string(i->eni.ec2.private_ip, &i->routing.ids.eni_ip);
        if (r < 0 && n->config->interface.routing != ROUTING_NONE)
                return path_fail(&i->path, FAILURE_OTHER, r, "EC2 gave %s the address \"%s\".", i->eni.ec2.id,
                                 strna(i->eni.ec2.private_ip));

        switch (n->config->interface.routing) {
        case ROUTING_NONE:
                log_info("interface: routing: Routing=none: leaving %s as it is.", i->eni.link.name);
                break;
        case ROUTING_AUTO:
                r = route_auto(n);
                break;
        case ROUTING_AGENT:
                r = route_agent(n);
                break;
        default:
                assert_not_reached();
        }
        if (r < 0)
                return r;

        if (n->config->interface.routing != ROUTING_NONE) {
                /* Ready means the address carries traffic: a link set up a
                 * moment ago may not have its carrier yet. */
                path_transition(&i->path, PATH_STATE_CARRIER, "Waiting for the carrier of %s.", i->eni.link.name);
                r = netif_wait_carrier(i->eni.link.ifindex, n->deadline);
                if (r < 0)
                        return path_fail(&i->path, FAILURE_OTHER, r, "%s has no carrier: %m", i->eni.link.name);
        }

        path_transition(&i->path, PATH_STATE_DONE, "%s is %s with %s.", i->eni.ec2.id, i->eni.link.name,
                        i->eni.ec2.private_ip);
        return 0;
}

/* ---- the release ---- */

/* Routing=agent without the boot's plan (--detach, a boot that finds a
 * release killed half-way): every rule "from" an address of the ENI to its
 * table is nodeagent's; the table's routes went with the link. */
static int leftover_plan(Node *n, NetifPlan **ret) {
        const Ec2NetworkInterface *eni = &n->interface.eni.ec2;

        if (n->config->interface.routing != ROUTING_AGENT || !n->interface.eni.attach.id || !eni->private_ip)
                return 0;
        return netif_plan_new_rules(network_card(n), n->config->interface.device_index, eni->private_ip,
                                    eni->secondary_ips, ret);
}

/* Called only once EC2 says the ENI is detached: until then its address
 * still serves (the application stops before the release). The primary
 * IP's own rule and table (Routing=auto) stay: they keep the primary's
 * traffic on the primary link, as right without the ENI as with it, and
 * may be the same as a manager's. */
void node_interface_unroute(Node *n) {
        NodeInterface *i = &n->interface;
        NodeRouting *rt = &i->routing;
        _cleanup_(netif_plan_freep) NetifPlan *leftovers = NULL;
        const NetifPlan *plan = rt->eni_plan;
        bool with_table = rt->owns_table;
        int r;

        if (!n->config->has_interface || n->config->interface.routing == ROUTING_NONE)
                return;
        if (!plan) {
                r = leftover_plan(n, &leftovers);
                if (r < 0) {
                        log_warning_errno(r, "interface: cannot tell the rules of %s (%s) apart: %m; leaving them.",
                                          strna(i->eni.attach.id), strna(i->eni.ec2.private_ip));
                        return;
                }
                plan = leftovers;
                with_table = true;
        }
        if (!plan)
                return;

        r = netif_unconfigure(plan, with_table);
        if (r < 0)
                log_warning_errno(r, "interface: failed to remove the routing of %s (%s) after it left: %m",
                                  strna(i->eni.attach.id), strna(i->eni.ec2.private_ip));
        else
                log_info("interface: %s has left: removed %d rule(s), route(s) and address(es) of table %u for %s.",
                         strna(i->eni.attach.id), r, plan->table, strna(i->eni.ec2.private_ip));
        /* Nothing of it is to be watched or put back any more. */
        rt->eni_plan = netif_plan_free(rt->eni_plan);
        rt->owns_address = false;
        rt->owns_table = false;
}

/* ---- after READY ---- */

static int pending(const NetifPlan *plan) {
        return plan ? netif_pending(plan) : 0;
}

NetifSuperviseAction node_interface_watch(Node *n, usec_t t) {
        _cleanup_(netif_world_done) NetifWorld w = {};
        NodeInterface *i = &n->interface;
        NodeRouting *rt = &i->routing;
        _cleanup_(netif_state_done) NetifState link = {};
        NetifSuperviseAction action;
        NetifOutcome o;
        int r, own;

        r = netif_read_state(i->eni.link.ifindex, rt->ids.eni_table, &link);
        rt->link_gone = r == -ENODEV;
        if (r == -ENODEV)
                return NETIF_SUPERVISE_LOST;
        if (r < 0 || netif_world_read(&w) < 0) {
                log_warning_errno(r, "Failed to read the state of %s: %m", i->eni.link.name);
                return NETIF_SUPERVISE_OK;
        }
        if (n->config->interface.routing == ROUTING_NONE)
                return link.up ? NETIF_SUPERVISE_OK : NETIF_SUPERVISE_LOST;

        netif_outcome_judge(&w, &rt->ids, &o);
        if (!rt->have_primary)
                o.primary_routed = true;
        /* A manager's second default route in main can come after the boot
         * (its routes a moment after its address, a renewal): the primary
         * IP gets its rule then. Ours from then on. */
        if (n->config->interface.routing == ROUTING_AUTO && rt->have_primary && !rt->primary_plan &&
            (o.main_default_via_eni || !o.primary_routed)) {
                r = primary_plan(n);
                if (r < 0)
                        log_warning_errno(r, "interface: cannot pin the primary IP's route: %m");
                else
                        log_info("interface: the main table now has a default route through %s; pinning the "
                                 "primary IP's route with a rule of its own.", i->eni.link.name);
        }
        own = pending(rt->eni_plan);
        if (own >= 0)
                own += MAX(pending(rt->primary_plan), 0);

        action = netif_supervise_decide(&(NetifSuperviseInput) {
                .link = link.up,
                .own_missing = own != 0,
                .owns_address = rt->owns_address,
                .outcome = &o,
                .missing_since = rt->missing_since,
                .now = t,
        });
        if (action == NETIF_SUPERVISE_WAIT && rt->missing_since == 0) {
                rt->missing_since = t;
                log_warning("interface: %s's part of the routing of %s is missing (address %s, traffic from %s %s); "
                            "waiting %s for it to put it back.", netif_manager_to_string(rt->manager),
                            i->eni.link.name, o.address ? "there" : "missing", i->eni.ec2.private_ip,
                            o.eni_routed ? "pinned" : "not pinned", FORMAT_DURATION(NETIF_SUPERVISE_GRACE_USEC));
        }
        if (action != NETIF_SUPERVISE_WAIT && action != NETIF_SUPERVISE_LOST && rt->missing_since != 0) {
                log_info("interface: %s put its part of the routing of %s back.",
                         netif_manager_to_string(rt->manager), i->eni.link.name);
                rt->missing_since = 0;
        }
        if (action == NETIF_SUPERVISE_REPAIR) {
                log_warning("interface: nodeagent's routing of %s was changed (%d difference(s)); putting it back.",
                            i->eni.link.name, own);
                r = rt->eni_plan ? netif_configure(rt->eni_plan) : 0;
                if (r < 0)
                        log_warning_errno(r, "interface: failed to put the routing of %s back: %m", i->eni.link.name);
                r = rt->primary_plan ? netif_configure(rt->primary_plan) : 0;
                if (r < 0)
                        log_warning_errno(r, "interface: failed to put the primary IP's rule back: %m");
        }
        return action;
}
