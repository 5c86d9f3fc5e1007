/* SPDX-License-Identifier: Apache-2.0 */
/* rtnetlink through libmnl: the socket, one request and its replies, and
 * the kernel's links, addresses, routes and rules read into and written
 * from the types of netif-plan.h. */
#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>

#include "log.h"
#include "netif-internal.h"
#include "netif-outcome.h"
#include "netif-rtnl.h"

/* Our requests are a header and a handful of attributes. */
#define RTNL_SEND_SIZE 1024U

/* ---- the socket and its exchanges ---- */

Rtnl *rtnl_free(Rtnl *r) {
        if (!r)
                return NULL;
        if (r->nl)
                (void) mnl_socket_close(r->nl);
        free(r->send_buf);
        free(r->recv_buf);
        return mfree(r);
}

/* groups: RTMGRP_* to join at bind time, before anything is dumped. A
 * socket that waits for events is non-blocking and polled. */
int rtnl_open(unsigned groups, bool nonblock, Rtnl **ret) {
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
void rtnl_call_process(RtnlCall *c, const void *buf, size_t len) {
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
int rtnl_call(Rtnl *r, struct nlmsghdr *nlh, RtnlHandler handler, void *userdata) {
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
                rtnl_call_process(&c, r->recv_buf, (size_t) n);
        }

        if (c.error < 0)
                return c.error;
        return c.interrupted ? -EAGAIN : 0;
}

/* The start of a dump of family; hdr_size is that of the message type's
 * header (ifinfomsg, ifaddrmsg, rtmsg, fib_rule_hdr), each of which starts
 * with the family byte. */
struct nlmsghdr *rtnl_dump_message(Rtnl *r, uint16_t type, size_t hdr_size, uint8_t family) {
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

int rtnl_link_parse(const struct nlmsghdr *nlh, LinkInfo *ret) {
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
        (void) attr_u32(tb[IFLA_MTU], &l.mtu);
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
        return rtnl_link_parse(nlh, userdata);
}

int rtnl_link_get(Rtnl *rtnl, int ifindex, LinkInfo *ret) {
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

int rtnl_link_set_up(Rtnl *rtnl, int ifindex) {
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

int rtnl_link_set_mtu(Rtnl *rtnl, int ifindex, uint32_t mtu) {
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;

        nlh = rtnl_message(rtnl, RTM_NEWLINK, 0);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

/* ---- addresses ---- */

/* 1 and the address when nlh is an IPv4 address, 0 when not. */
static int address_parse(const struct nlmsghdr *nlh, NetifAddress *ret) {
        const struct nlattr *tb[IFA_MAX + 1] = {};
        AttrTable t = { .tb = tb, .max = IFA_MAX };
        const struct ifaddrmsg *ifa;
        NetifAddress a = {};
        uint32_t flags;
        int r;

        r = attrs_parse(nlh, sizeof(struct ifaddrmsg), &t);
        if (r < 0)
                return r;
        ifa = mnl_nlmsg_get_payload(nlh);
        if (ifa->ifa_family != AF_INET)
                return 0;

        a.ifindex = (int) ifa->ifa_index;
        a.prefixlen = ifa->ifa_prefixlen;
        /* IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on a
         * point-to-point link and the same otherwise. */
        if (!attr_in_addr(tb[IFA_LOCAL], &a.address) && !attr_in_addr(tb[IFA_ADDRESS], &a.address))
                return 0;
        a.flags = attr_u32(tb[IFA_FLAGS], &flags) ? flags : ifa->ifa_flags;
        *ret = a;
        return 1;
}

static int address_handler(const struct nlmsghdr *nlh, void *userdata) {
        NetifState *s = userdata;
        NetifAddress a;
        int r;

        if (nlh->nlmsg_type != RTM_NEWADDR)
                return 0;
        r = address_parse(nlh, &a);
        if (r <= 0 || a.ifindex != s->ifindex)
                return r;
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

int rtnl_address_add(Rtnl *rtnl, const NetifAddress *a) {
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

int rtnl_address_del(Rtnl *rtnl, const NetifAddress *a) {
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

int rtnl_route_add(Rtnl *rtnl, const NetifRoute *rt) {
        struct nlmsghdr *nlh = rtnl_message(rtnl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);

        route_message(nlh, rt);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

/* Names every field the route has, so that the kernel deletes this route
 * and no other of the same key. */
int rtnl_route_del(Rtnl *rtnl, const NetifRoute *rt) {
        struct nlmsghdr *nlh = rtnl_message(rtnl, RTM_DELROUTE, 0);

        route_message(nlh, rt);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

/* ---- rules ---- */

int rtnl_rule_parse(const struct nlmsghdr *nlh, NetifRule *ret) {
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
        r = rtnl_rule_parse(nlh, &rule);
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

int rtnl_rule_add(Rtnl *rtnl, const NetifRule *rule) {
        /* Rules have no "replace": an identical rule would be added twice
         * without NLM_F_EXCL. */
        struct nlmsghdr *nlh = rtnl_message(rtnl, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL);

        rule_message(nlh, rule);
        mnl_attr_put_u8(nlh, FRA_PROTOCOL, RTPROT_STATIC);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

int rtnl_rule_del(Rtnl *rtnl, const NetifRule *rule) {
        struct nlmsghdr *nlh = rtnl_message(rtnl, RTM_DELRULE, 0);

        rule_message(nlh, rule);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

/* ---- the state of one link ---- */

int rtnl_state_dump(Rtnl *rtnl, NetifState *s) {
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

/* ---- everything ---- */

static int world_address_handler(const struct nlmsghdr *nlh, void *userdata) {
        NetifWorld *w = userdata;
        NetifAddress a;
        int r;

        if (nlh->nlmsg_type != RTM_NEWADDR)
                return 0;
        r = address_parse(nlh, &a);
        return r <= 0 ? r : APPEND(w->addresses, w->n_addresses, a);
}

static int world_route_handler(const struct nlmsghdr *nlh, void *userdata) {
        NetifWorld *w = userdata;
        NetifRoute rt;
        int r;

        if (nlh->nlmsg_type != RTM_NEWROUTE)
                return 0;
        r = route_parse(nlh, &rt);
        return r <= 0 ? r : APPEND(w->routes, w->n_routes, rt);
}

static int world_rule_handler(const struct nlmsghdr *nlh, void *userdata) {
        NetifWorld *w = userdata;
        NetifRule rule;
        int r;

        if (nlh->nlmsg_type != RTM_NEWRULE)
                return 0;
        r = rtnl_rule_parse(nlh, &rule);
        return r <= 0 ? r : APPEND(w->rules, w->n_rules, rule);
}

int rtnl_world_dump(Rtnl *rtnl, NetifWorld *w) {
        struct nlmsghdr *nlh;
        int r;

        nlh = rtnl_dump_message(rtnl, RTM_GETADDR, sizeof(struct ifaddrmsg), AF_INET);
        r = rtnl_call(rtnl, nlh, world_address_handler, w);
        if (r < 0)
                return r;
        nlh = rtnl_dump_message(rtnl, RTM_GETROUTE, sizeof(struct rtmsg), AF_INET);
        r = rtnl_call(rtnl, nlh, world_route_handler, w);
        if (r < 0)
                return r;
        nlh = rtnl_dump_message(rtnl, RTM_GETRULE, sizeof(struct fib_rule_hdr), AF_INET);
        return rtnl_call(rtnl, nlh, world_rule_handler, w);
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
        /* Links, their IPv4 addresses, routes and rules: a link that goes
         * down, loses its address, a route or a rule is what the
         * supervisor must notice. */
        r = rtnl_open(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV4_RULE, true, &m->rtnl);
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
