/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The contract's outcome for the ENI, judged on a snapshot of the kernel's
 * IPv4 state (DESIGN.md, "Interface (issue 11)"):
 *
 *   - the ENI's IP is on the ENI's link;
 *   - traffic from that IP leaves through that link, because a rule that
 *     selects on the source says so (not by the luck of which default route
 *     the main table holds at the moment);
 *   - traffic from the primary IP leaves as before the attach.
 *
 * And the decisions built on it, pure and unit-tested alone: what
 * Routing=auto still has to add once a network manager has done its part,
 * whether to keep waiting for that manager, and what the supervisor does
 * when a part of the outcome goes missing after READY. No I/O here: the
 * snapshot comes from netif-rtnl.c (netif_world_read()). */

#include "netif-plan.h"
#include "time-util.h"

/* Every IPv4 address, route (all tables) and rule (kernel order) there is. */
typedef struct NetifWorld {
        NetifAddress *addresses;
        size_t n_addresses;
        NetifRoute *routes;
        size_t n_routes;
        NetifRule *rules;
        size_t n_rules;
} NetifWorld;

void netif_world_done(NetifWorld *w);

#define NETIF_TABLE_MAIN 254U
#define NETIF_TABLE_LOCAL 255U

/* The default route a packet from src to the internet takes: the rules in
 * their order, each "from" that covers src (or "from all") sending the
 * lookup to a table, the first table with a default route answering. A rule
 * with other selectors is not followed (what it matches cannot be told
 * here). Returns the route and, in ret_rule, the rule that led to it; NULL
 * when no rule leads to a default route. */
const NetifRoute *netif_world_route_from(const NetifWorld *w, struct in_addr src, const NetifRule **ret_rule);

bool netif_world_has_address(const NetifWorld *w, int ifindex, struct in_addr a) _pure_;
/* The address, when ifindex has it; NULL otherwise. */
const NetifAddress *netif_world_address(const NetifWorld *w, int ifindex, struct in_addr a) _pure_;
/* Whether another link than ifindex holds a. */
bool netif_world_address_elsewhere(const NetifWorld *w, int ifindex, struct in_addr a) _pure_;
/* Whether the main table has a default route out of ifindex. */
bool netif_world_main_default_via(const NetifWorld *w, int ifindex) _pure_;

/* Who is who: the ENI and the primary interface, and the tables that
 * would be nodeagent's own (netif_table_for()). */
typedef struct NetifIds {
        int eni_ifindex;
        struct in_addr eni_ip;
        uint32_t eni_table;
        int primary_ifindex;
        struct in_addr primary_ip;
        uint32_t primary_table;
} NetifIds;

/* Where the outcome stands. */
typedef struct NetifOutcome {
        bool address;                   /* the ENI's IP is on its link */
        bool address_elsewhere;         /* ... and on another link too */
        bool eni_routed;                /* a "from" rule sends the ENI's IP out of its link */
        bool eni_routed_by_own;         /* ... and that rule is nodeagent's (eni_table) */
        bool primary_routed;            /* the primary IP leaves by the primary link */
        bool primary_pinned;            /* ... by a "from" rule, not the main table's chance */
        bool primary_pinned_by_own;     /* ... and that rule is nodeagent's (primary_table) */
        bool main_default_via_eni;      /* the main table has a default route out of the ENI */
} NetifOutcome;

void netif_outcome_judge(const NetifWorld *w, const NetifIds *ids, NetifOutcome *ret);
/* All of the contract's outcome holds. */
bool netif_outcome_complete(const NetifOutcome *o) _pure_;

/* What Routing=auto adds once the manager had its chance (and what
 * Routing=agent does in full): nodeagent's own pieces, never the manager's.
 *   address        the ENI's IP (permanent): no manager put it there
 *   eni_table      table eni_table (subnet + default out of the ENI, source
 *                  the ENI's IP) and "from <ENI IP> lookup eni_table"
 *   primary_table  table primary_table (the primary link's subnet + its
 *                  default route as it was) and "from <primary IP> lookup
 *                  primary_table": a second default route in the main table
 *                  (netplan's match-all DHCP gives the ENI eth0's metric,
 *                  NetworkManager a metric of its own) makes the primary
 *                  IP's path a matter of chance otherwise */
typedef struct NetifNeeds {
        bool address;
        bool eni_table;
        bool primary_table;
} NetifNeeds;

void netif_needs_auto(const NetifOutcome *o, NetifNeeds *ret);

/* Whether Routing=auto keeps waiting for the manager that claims the link.
 * claim: what the manager said about the link so far. */
typedef enum NetifClaim {
        NETIF_CLAIM_NONE,               /* no manager takes it: nothing to wait for */
        NETIF_CLAIM_UNKNOWN,            /* a manager may still take it (not decided yet) */
        NETIF_CLAIM_WORKING,            /* a manager took it and is configuring it */
        NETIF_CLAIM_DONE,               /* the manager says it is done with it */
        _NETIF_CLAIM_MAX,
} NetifClaim;

const char *netif_claim_to_string(NetifClaim c) _pure_;

/* At most this long (the contract's 30 s). */
#define NETIF_MANAGER_WAIT_USEC (30 * USEC_PER_SEC)

typedef enum NetifWaitVerdict {
        NETIF_WAIT_MORE,
        NETIF_WAIT_DONE,                /* the manager finished (or the outcome is complete) */
        NETIF_WAIT_NOBODY,              /* no manager takes the link */
        NETIF_WAIT_TIMEOUT,             /* the manager had its 30 s */
} NetifWaitVerdict;

/* elapsed: since the link appeared. A manager that says it is done, or an
 * outcome already complete, ends the wait; so does an undecided claim that
 * stays undecided for unknown_max (a manager that never says a word). */
NetifWaitVerdict netif_wait_decide(NetifClaim claim, const NetifOutcome *o, usec_t elapsed, usec_t unknown_max);

/* After READY: what the supervisor does about the outcome.
 *   own        nodeagent's pieces as they should be (what it added)
 *   o          the outcome now
 *   missing_since  when the outcome last broke (0: it held at the last look) */
typedef enum NetifSuperviseAction {
        NETIF_SUPERVISE_OK,
        NETIF_SUPERVISE_REPAIR,         /* put nodeagent's own pieces back */
        NETIF_SUPERVISE_WAIT,           /* the manager's part is missing: give it time */
        NETIF_SUPERVISE_LOST,           /* it did not come back: exit 1 */
} NetifSuperviseAction;

/* How long the manager has to restore its own part (a restart, a renewal
 * that drops and adds the address, a reconfigure). */
#define NETIF_SUPERVISE_GRACE_USEC (15 * USEC_PER_SEC)

typedef struct NetifSuperviseInput {
        bool link;                      /* the link exists and is up */
        bool own_missing;               /* a piece nodeagent added is gone */
        bool owns_address;              /* the address is nodeagent's (agent mode, or added under auto) */
        const NetifOutcome *outcome;
        usec_t missing_since;           /* when the manager's part went missing; 0: it is there */
        usec_t now;
} NetifSuperviseInput;

NetifSuperviseAction netif_supervise_decide(const NetifSuperviseInput *in);
const char *netif_supervise_action_to_string(NetifSuperviseAction a) _pure_;
