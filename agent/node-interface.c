/* SPDX-License-Identifier: Apache-2.0 */
/* The interface path of the boot: the attach lifecycle up to the link
 * (eni.c, attach.c), then its addresses and policy routing (netif) or a
 * network manager's, then the carrier. */
#include "log.h"
#include "node.h"

/* Whether the agent itself routes the interface (and so needs the subnet). */
static bool routes_interface(const Node *n) {
        switch (n->config->interface.routing) {
        case ROUTING_AGENT:
                return true;
        case ROUTING_AUTO:
                return !netif_routing_auto_delegated();
        default:
                return false;
        }
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
        log_info("interface: %s: subnet %s is %s.", path_state_to_string(i->path.state), strna(eni->subnet_id),
                 i->subnet_cidr);
        return 0;
}

/* Eni's while_attaching: the subnet, which the routes need, is read during
 * the seconds EC2 takes to attach. */
static int read_while_attaching(Eni *e, void *userdata) {
        Node *n = userdata;

        return routes_interface(n) ? read_subnet_cidr(n) : 0;
}

static int route_interface(Node *n) {
        _cleanup_(netif_plan_freep) NetifPlan *plan = NULL;
        NodeInterface *i = &n->interface;
        const Ec2NetworkInterface *eni = &i->eni.ec2;
        const NetifLink *link = &i->eni.link;
        int r;

        if (!i->subnet_cidr) {
                r = read_subnet_cidr(n);
                if (r < 0)
                        return r;
        }

        r = netif_plan_new_from_strings(link->ifindex, n->config->interface.device_index, eni->private_ip,
                                        eni->secondary_ips, i->subnet_cidr, &plan);
        if (r < 0)
                return path_fail(&i->path, FAILURE_OTHER, r, "Cannot route %s (%s in %s): %m", eni->id,
                                 strna(eni->private_ip), i->subnet_cidr);

        path_transition(&i->path, PATH_STATE_ROUTING, "Routing %s on %s through table %u (subnet %s).",
                        eni->private_ip, link->name, plan->table, i->subnet_cidr);
        r = netif_configure(plan);
        if (r < 0)
                /* A refusal of the kernel's (EPERM included) is not AWS's. */
                return path_fail(&i->path, FAILURE_OTHER, r, "Failed to configure %s: %m", link->name);
        log_info("interface: routing: %d change(s) made.", r);

        /* Ready means the address carries traffic: a link set up a moment
         * ago may not have its carrier yet (its routes say "linkdown"). */
        path_transition(&i->path, PATH_STATE_CARRIER, "Waiting for the carrier of %s.", link->name);
        r = netif_wait_carrier(link->ifindex, n->deadline);
        if (r < 0)
                return path_fail(&i->path, FAILURE_OTHER, r, "%s has no carrier: %m", link->name);
        return 0;
}

/* Routing=auto where amazon-ec2-net-utils configures the link: its rule
 * for the ENI's address is the sign that it did. */
static int wait_for_delegate(Node *n) {
        NodeInterface *i = &n->interface;
        const Ec2NetworkInterface *eni = &i->eni.ec2;
        struct in_addr ip;
        uint32_t table = 0;
        int r;

        r = netif_ipv4_from_string(eni->private_ip, &ip);
        if (r < 0)
                return path_fail(&i->path, FAILURE_OTHER, r, "EC2 gave %s the address \"%s\".", eni->id,
                                 strna(eni->private_ip));
        path_transition(&i->path, PATH_STATE_ROUTING, "Leaving %s to amazon-ec2-net-utils; waiting for its rule "
                        "for %s.", i->eni.link.name, eni->private_ip);
        r = netif_wait_rule(ip, n->deadline, &table);
        if (r < 0)
                return path_fail(&i->path, FAILURE_OTHER, r, "No rule \"from %s\" appeared: %m", eni->private_ip);
        return 0;
}

int node_run_interface(Node *n) {
        NodeInterface *i = &n->interface;
        int r;

        i->eni.while_attaching = read_while_attaching;
        i->eni.userdata = n;

        r = eni_attach(&i->eni);
        if (r < 0)
                return r;
        i->have_link = true;

        switch (n->config->interface.routing) {
        case ROUTING_NONE:
                log_info("interface: routing: Routing=none: leaving %s as it is.", i->eni.link.name);
                break;
        case ROUTING_AUTO:
                if (netif_routing_auto_delegated()) {
                        r = wait_for_delegate(n);
                        if (r < 0)
                                return r;
                        break;
                }
                _fallthrough_;
        case ROUTING_AGENT:
                r = route_interface(n);
                if (r < 0)
                        return r;
                break;
        default:
                assert_not_reached();
        }

        path_transition(&i->path, PATH_STATE_DONE, "%s is %s with %s.", i->eni.ec2.id, i->eni.link.name,
                        i->eni.ec2.private_ip);
        return 0;
}
