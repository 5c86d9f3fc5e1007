/* SPDX-License-Identifier: Apache-2.0 */
/* The pure core of dns.h: the value lists and the decision (dns_plan()). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "dns.h"

static const char *const dns_actions[_DNS_ACTION_MAX] = {
        [DNS_ACTION_NONE] = "none",
        [DNS_ACTION_UPSERT] = "upsert",
        [DNS_ACTION_CREATE] = "create",
        [DNS_ACTION_REPLACE] = "replace",
        [DNS_ACTION_DELETE] = "delete",
};

const char *dns_action_to_string(DnsAction a) {
        if (a < 0 || a >= _DNS_ACTION_MAX)
                return NULL;
        return dns_actions[a];
}

void dns_plan_done(DnsPlan *p) {
        if (!p)
                return;
        route53_record_set_done(&p->desired);
        p->action = DNS_ACTION_NONE;
}

void dns_result_done(DnsResult *r) {
        if (!r)
                return;
        free(r->change_id);
        strv_free(r->values);
        *r = (DnsResult) { .ttl = -1 };
}

static size_t values_length(char *const *values) {
        size_t n = 0;

        for (char *const *v = values; v && *v; v++)
                n++;
        return n;
}

static bool values_contain(char *const *values, const char *ip) {
        for (char *const *v = values; v && *v; v++)
                if (streq(*v, ip))
                        return true;
        return false;
}

static int value_compare(const void *a, const void *b) {
        const char *x = *(const char *const *) a, *y = *(const char *const *) b;
        struct in_addr ax, ay;
        bool ix = inet_pton(AF_INET, x, &ax) == 1, iy = inet_pton(AF_INET, y, &ay) == 1;

        /* Numerically, so that 10.0.1.9 comes before 10.0.1.10 in logs and
         * in the set as written; anything else after the addresses. */
        if (ix && iy) {
                uint32_t hx = ntohl(ax.s_addr), hy = ntohl(ay.s_addr);

                return hx < hy ? -1 : hx > hy ? 1 : 0;
        }
        if (ix != iy)
                return ix ? -1 : 1;
        return strcmp(x, y);
}

/* The values, plus add (unless NULL), minus remove (unless NULL), sorted,
 * without duplicates. */
static int values_build(char *const *values, const char *add, const char *remove, char ***ret) {
        size_t n = values_length(values), k = 0;
        _cleanup_strv_free_ char **l = NULL;

        l = calloc(n + 2, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if ((remove && streq(values[i], remove)) || values_contain(l, values[i]))
                        continue;
                l[k] = strdup(values[i]);
                if (!l[k])
                        return -ENOMEM;
                k++;
        }
        if (add && !values_contain(l, add) && !(remove && streq(add, remove))) {
                l[k] = strdup(add);
                if (!l[k])
                        return -ENOMEM;
                k++;
        }
        qsort(l, k, sizeof(char *), value_compare);
        *ret = TAKE_PTR(l);
        return 0;
}

int dns_values_sorted(char *const *values, char ***ret) {
        if (!ret)
                return -EINVAL;
        return values_build(values, NULL, NULL, ret);
}

int dns_values_with(char *const *values, const char *ip, char ***ret) {
        if (!ip || !ret)
                return -EINVAL;
        return values_build(values, ip, NULL, ret);
}

int dns_values_without(char *const *values, const char *ip, char ***ret) {
        if (!ip || !ret)
                return -EINVAL;
        return values_build(values, NULL, ip, ret);
}

bool dns_values_equal(char *const *a, char *const *b) {
        /* Route 53 refuses duplicate values in a set, so equal lengths and
         * inclusion one way is equality. */
        if (values_length(a) != values_length(b))
                return false;
        for (char *const *v = a; v && *v; v++)
                if (!values_contain(b, *v))
                        return false;
        return true;
}

bool dns_record_set_same(const Route53RecordSet *a, const Route53RecordSet *b) {
        if (!a || !b)
                return a == b;
        return route53_name_equal(a->name, b->name) && streq_ptr(a->type, b->type) &&
               streq_ptr(a->set_identifier, b->set_identifier) && a->ttl == b->ttl &&
               a->multivalue_answer == b->multivalue_answer && a->alias == b->alias &&
               a->other_policy == b->other_policy && streq_ptr(a->health_check_id, b->health_check_id) &&
               dns_values_equal(a->values, b->values);
}

bool dns_ip_is_valid(const char *ip) {
        struct in_addr a;

        return ip && inet_pton(AF_INET, ip, &a) == 1;
}

static int plan_desired(const ConfigDns *config, const char *identifier, int64_t ttl,
                        const Route53RecordSet *current, char **values, DnsAction action, DnsPlan *ret) {
        _cleanup_(route53_record_set_done) Route53RecordSet s = { .ttl = ttl };
        _cleanup_strv_free_ char **l = values;

        s.name = strdup(config->name);
        s.type = strdup("A");
        if (!s.name || !s.type)
                return -ENOMEM;
        if (identifier) {
                s.set_identifier = strdup(identifier);
                if (!s.set_identifier)
                        return -ENOMEM;
                s.multivalue_answer = true;
        }
        /* A health check someone attached to the set is theirs to keep: an
         * UPSERT or CREATE without it would silently detach it. */
        if (current && current->health_check_id) {
                s.health_check_id = strdup(current->health_check_id);
                if (!s.health_check_id)
                        return -ENOMEM;
        }
        s.n_values = values_length(l);
        s.values = TAKE_PTR(l);

        *ret = (DnsPlan) { .action = action, .desired = s };
        s = (Route53RecordSet) {};
        return 0;
}

int dns_plan(const ConfigDns *config, const char *node_name, const char *ip, bool publish,
             const Route53RecordSet *current, DnsPlan *ret) {
        const char *identifier = NULL;
        char **values = NULL;
        int r;

        if (!config || isempty(config->name) || !dns_ip_is_valid(ip) || !ret)
                return -EINVAL;
        if (config->mode < 0 || config->mode >= _DNS_MODE_MAX)
                return -EINVAL;
        if (config->mode == DNS_MODE_MULTIVALUE) {
                if (isempty(node_name) || strlen(node_name) > DNS_SET_IDENTIFIER_MAX)
                        return -EINVAL;
                identifier = node_name;
        }

        /* Only a set this module can write back exactly may be replaced or
         * deleted: an alias has no values, a weighted or latency set has
         * members the DELETE would have to repeat. */
        if (current && (current->alias || current->other_policy || current->ttl < 0))
                return -EOPNOTSUPP;

        if (!publish) {
                if (!current || !values_contain(current->values, ip)) {
                        *ret = (DnsPlan) { .action = DNS_ACTION_NONE };
                        return 0;
                }
                if (config->mode != DNS_MODE_SHARED || current->n_values == 1) {
                        /* A node's own set that holds anything but exactly
                         * this IP points at a successor now: not ours to
                         * delete. */
                        *ret = (DnsPlan) {
                                .action = current->n_values == 1 ? DNS_ACTION_DELETE : DNS_ACTION_NONE,
                        };
                        return 0;
                }
                /* Taking an IP out leaves the TTL as the others see it. */
                r = dns_values_without(current->values, ip, &values);
                if (r < 0)
                        return r;
                return plan_desired(config, NULL, current->ttl, current, values, DNS_ACTION_REPLACE, ret);
        }

        if (config->mode != DNS_MODE_SHARED) {
                /* The node's own set: right when it holds this IP alone with
                 * the configured TTL (and, in multivalue mode, is a
                 * multivalue-answer set). Otherwise the node may simply
                 * overwrite it. */
                if (current && current->n_values == 1 && streq(current->values[0], ip) &&
                    current->ttl == (int64_t) config->ttl &&
                    current->multivalue_answer == (config->mode == DNS_MODE_MULTIVALUE)) {
                        *ret = (DnsPlan) { .action = DNS_ACTION_NONE };
                        return 0;
                }
                r = dns_values_with(NULL, ip, &values);
                if (r < 0)
                        return r;
                return plan_desired(config, identifier, config->ttl, current, values, DNS_ACTION_UPSERT, ret);
        }

        /* Shared: the configured TTL is what the set should have, as in the
         * other modes, so that a changed TTL= takes effect as the nodes
         * restart. Rewriting it is the same compare-and-swap as adding an
         * IP, so no one's IP is at risk; nodes that disagree on TTL= would
         * only flip it at their own boots. */
        if (current && values_contain(current->values, ip) && current->ttl == (int64_t) config->ttl) {
                *ret = (DnsPlan) { .action = DNS_ACTION_NONE };
                return 0;
        }
        r = dns_values_with(current ? current->values : NULL, ip, &values);
        if (r < 0)
                return r;
        return plan_desired(config, NULL, config->ttl, current, values,
                            current ? DNS_ACTION_REPLACE : DNS_ACTION_CREATE, ret);
}

int dns_plan_replacing(const ConfigDns *config, const char *node_name, const char *ip, const char *old_ip,
                       const Route53RecordSet *current, DnsPlan *ret) {
        _cleanup_strv_free_ char **without = NULL;
        char **values = NULL;
        int r;

        if (!config || !dns_ip_is_valid(ip) || !ret)
                return -EINVAL;
        if (config->mode != DNS_MODE_SHARED || !old_ip || streq(old_ip, ip) || !current ||
            !values_contain(current->values, old_ip))
                return dns_plan(config, node_name, ip, true, current, ret);
        if (current->alias || current->other_policy || current->ttl < 0)
                return -EOPNOTSUPP;

        r = dns_values_without(current->values, old_ip, &without);
        if (r < 0)
                return r;
        r = dns_values_with(without, ip, &values);
        if (r < 0)
                return r;
        return plan_desired(config, NULL, config->ttl, current, values, DNS_ACTION_REPLACE, ret);
}

size_t dns_plan_changes(const DnsPlan *plan, const Route53RecordSet *current, Route53Change ret[static 2]) {
        switch (plan->action) {
        case DNS_ACTION_UPSERT:
                ret[0] = (Route53Change) { ROUTE53_UPSERT, &plan->desired };
                return 1;
        case DNS_ACTION_CREATE:
                ret[0] = (Route53Change) { ROUTE53_CREATE, &plan->desired };
                return 1;
        case DNS_ACTION_REPLACE:
                if (!current)
                        return 0;
                /* The old set exactly as read: Route 53 applies the batch
                 * only while the set is still that, all or nothing. */
                ret[0] = (Route53Change) { ROUTE53_DELETE, current };
                ret[1] = (Route53Change) { ROUTE53_CREATE, &plan->desired };
                return 2;
        case DNS_ACTION_DELETE:
                if (!current)
                        return 0;
                ret[0] = (Route53Change) { ROUTE53_DELETE, current };
                return 1;
        default:
                return 0;
        }
}

char *dns_values_join(char *const *unsorted) {
        _cleanup_strv_free_ char **values = NULL;
        size_t len = 0, k = 0;
        char *s;

        if (values_build(unsorted, NULL, NULL, &values) < 0)
                return NULL;

        for (char *const *v = values; v && *v; v++)
                len += strlen(*v) + 2;
        if (len == 0)
                return strdup("nothing");
        s = malloc(len + 1);
        if (!s)
                return NULL;
        for (char *const *v = values; v && *v; v++) {
                size_t l = strlen(*v);

                if (k > 0) {
                        memcpy(s + k, ", ", 2);
                        k += 2;
                }
                memcpy(s + k, *v, l);
                k += l;
        }
        s[k] = '\0';
        return s;
}

