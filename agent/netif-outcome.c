/* SPDX-License-Identifier: Apache-2.0 */
/* The outcome of the interface path judged on a snapshot of the kernel's
 * state, and the decisions built on it. Pure: no I/O. */
#include <arpa/inet.h>

#include "netif-internal.h"
#include "netif-outcome.h"

void netif_world_done(NetifWorld *w) {
        if (!w)
                return;
        w->addresses = mfree(w->addresses);
        w->n_addresses = 0;
        w->routes = mfree(w->routes);
        w->n_routes = 0;
        w->rules = mfree(w->rules);
        w->n_rules = 0;
}

static bool rule_covers(const NetifRule *rule, struct in_addr src) {
        uint32_t mask = prefix_mask(rule->src_len);

        return (ntohl(src.s_addr) & mask) == (ntohl(rule->src.s_addr) & mask);
}

/* The default route of a table: the one of lowest metric. A default route
 * of another type (unreachable, blackhole, prohibit) ends the lookup as
 * the kernel's would: *ret_final is set and NULL returned. */
static const NetifRoute *table_default(const NetifWorld *w, uint32_t table, bool *ret_final) {
        const NetifRoute *best = NULL;

        *ret_final = false;
        for (size_t i = 0; i < w->n_routes; i++) {
                const NetifRoute *rt = &w->routes[i];

                if (rt->table != table || rt->dst_len != 0 || rt->tos != 0 || rt->other)
                        continue;
                if (!best || rt->priority < best->priority)
                        best = rt;
        }
        if (best && best->type != NETIF_ROUTE_UNICAST) {
                *ret_final = true;
                return NULL;
        }
        return best;
}

const NetifRoute *netif_world_route_from(const NetifWorld *w, struct in_addr src, const NetifRule **ret_rule) {
        for (size_t i = 0; i < w->n_rules; i++) {
                const NetifRule *rule = &w->rules[i];
                const NetifRoute *rt;
                bool final;

                if (rule->other || !rule_covers(rule, src))
                        continue;
                /* Another action (blackhole, unreachable, prohibit) drops
                 * the packet; goto and nop are not followed here. */
                if (rule->action != NETIF_RULE_TO_TABLE)
                        return NULL;
                if (rule->table == NETIF_TABLE_LOCAL)
                        continue;
                rt = table_default(w, rule->table, &final);
                if (final)
                        return NULL;
                if (!rt)
                        continue;
                if (ret_rule)
                        *ret_rule = rule;
                return rt;
        }
        return NULL;
}

const NetifAddress *netif_world_address(const NetifWorld *w, int ifindex, struct in_addr a) {
        for (size_t i = 0; i < w->n_addresses; i++)
                if (w->addresses[i].ifindex == ifindex && w->addresses[i].address.s_addr == a.s_addr)
                        return &w->addresses[i];
        return NULL;
}

bool netif_world_has_address(const NetifWorld *w, int ifindex, struct in_addr a) {
        return netif_world_address(w, ifindex, a) != NULL;
}

bool netif_world_address_elsewhere(const NetifWorld *w, int ifindex, struct in_addr a) {
        for (size_t i = 0; i < w->n_addresses; i++)
                if (w->addresses[i].ifindex != ifindex && w->addresses[i].address.s_addr == a.s_addr)
                        return true;
        return false;
}

bool netif_world_main_default_via(const NetifWorld *w, int ifindex) {
        for (size_t i = 0; i < w->n_routes; i++) {
                const NetifRoute *rt = &w->routes[i];

                if (rt->table == NETIF_TABLE_MAIN && rt->dst_len == 0 && rt->oif == ifindex)
                        return true;
        }
        return false;
}

void netif_outcome_judge(const NetifWorld *w, const NetifIds *ids, NetifOutcome *ret) {
        const NetifRule *eni_rule = NULL, *primary_rule = NULL;
        const NetifRoute *eni_route, *primary_route;
        NetifOutcome o = {};

        o.address = netif_world_has_address(w, ids->eni_ifindex, ids->eni_ip);
        o.address_elsewhere = netif_world_address_elsewhere(w, ids->eni_ifindex, ids->eni_ip);

        /* Only a rule that picks the source counts: "from all" to the main
         * table holds today's default route, which the next lease may
         * replace. */
        eni_route = netif_world_route_from(w, ids->eni_ip, &eni_rule);
        o.eni_routed = eni_route && eni_route->oif == ids->eni_ifindex && eni_rule->src_len > 0;
        o.eni_routed_by_own = o.eni_routed && eni_rule->table == ids->eni_table;

        primary_route = netif_world_route_from(w, ids->primary_ip, &primary_rule);
        o.primary_routed = primary_route && primary_route->oif == ids->primary_ifindex;
        o.primary_pinned = o.primary_routed && primary_rule->src_len > 0;
        o.primary_pinned_by_own = o.primary_pinned && primary_rule->table == ids->primary_table;

        o.main_default_via_eni = netif_world_main_default_via(w, ids->eni_ifindex);
        *ret = o;
}

bool netif_outcome_complete(const NetifOutcome *o) {
        return o->address && !o->address_elsewhere && o->eni_routed && o->primary_routed &&
                (o->primary_pinned || !o->main_default_via_eni);
}

void netif_needs_auto(const NetifOutcome *o, NetifNeeds *ret) {
        /* A table of our number may be the manager's (amazon-ec2-net-utils
         * uses 10000 + index too): a path pinned by any rule is the
         * outcome, whoever made it. */
        *ret = (NetifNeeds) {
                .address = !o->address,
                .eni_table = !o->eni_routed,
                .primary_table = !o->primary_routed || o->main_default_via_eni,
        };
}

static const char *const claim_names[_NETIF_CLAIM_MAX] = {
        [NETIF_CLAIM_NONE] = "none",
        [NETIF_CLAIM_UNKNOWN] = "unknown",
        [NETIF_CLAIM_WORKING] = "working",
        [NETIF_CLAIM_DONE] = "done",
};

const char *netif_claim_to_string(NetifClaim c) {
        return c >= 0 && c < _NETIF_CLAIM_MAX ? claim_names[c] : "invalid";
}

NetifWaitVerdict netif_wait_decide(NetifClaim claim, const NetifOutcome *o, usec_t elapsed, usec_t unknown_max) {
        if (netif_outcome_complete(o))
                return NETIF_WAIT_DONE;

        switch (claim) {
        case NETIF_CLAIM_NONE:
                return NETIF_WAIT_NOBODY;
        case NETIF_CLAIM_DONE:
                return NETIF_WAIT_DONE;
        case NETIF_CLAIM_UNKNOWN:
                if (elapsed >= MIN(unknown_max, NETIF_MANAGER_WAIT_USEC))
                        return NETIF_WAIT_NOBODY;
                return NETIF_WAIT_MORE;
        case NETIF_CLAIM_WORKING:
        default:
                return elapsed >= NETIF_MANAGER_WAIT_USEC ? NETIF_WAIT_TIMEOUT : NETIF_WAIT_MORE;
        }
}

NetifSuperviseAction netif_supervise_decide(const NetifSuperviseInput *in) {
        const NetifOutcome *o = in->outcome;
        bool manager_missing, own_fixable;

        /* What nodeagent cannot put back itself: the manager's link state or
         * address (nodeagent's routes need the address as their source), or
         * a path that broke although all of nodeagent's pieces are there. */
        manager_missing = (!in->owns_address && (!in->link || !o->address)) ||
                (!in->own_missing && (!o->eni_routed || !o->primary_routed));
        own_fixable = in->own_missing || (in->owns_address && (!in->link || !o->address));

        if (manager_missing) {
                if (in->missing_since == 0 || in->now < in->missing_since ||
                    in->now - in->missing_since < NETIF_SUPERVISE_GRACE_USEC)
                        return NETIF_SUPERVISE_WAIT;
                return NETIF_SUPERVISE_LOST;
        }
        return own_fixable ? NETIF_SUPERVISE_REPAIR : NETIF_SUPERVISE_OK;
}

static const char *const action_names[] = {
        [NETIF_SUPERVISE_OK] = "ok",
        [NETIF_SUPERVISE_REPAIR] = "repair",
        [NETIF_SUPERVISE_WAIT] = "wait",
        [NETIF_SUPERVISE_LOST] = "lost",
};

const char *netif_supervise_action_to_string(NetifSuperviseAction a) {
        return a >= 0 && (size_t) a < ELEMENTSOF(action_names) ? action_names[a] : "invalid";
}
