/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/random.h>

#include "dns.h"
#include "log.h"
#include "notify.h"

/* The wait after a refused, throttled or unanswered batch is "full jitter"
 * (uniformly random below a ceiling that doubles): nodes that collided once
 * spread out at once instead of colliding again in lockstep. Starting at
 * 100 ms keeps a single collision cheap. The cap is high on purpose: a
 * fleet booting at once into one shared set (Route 53 allows five requests
 * a second per account) spreads itself out until what it asks for fits
 * that rate; below it, a read and the change built on it rarely have
 * another node's change between them, while at a lower cap the fleet keeps
 * the rate saturated, every change waits through throttling and is stale
 * by the time it lands. There is no count of attempts: the deadline
 * decides. */
#define DNS_BACKOFF_FIRST_USEC (100 * USEC_PER_MSEC)
#define DNS_BACKOFF_MAX_USEC (30 * USEC_PER_SEC)

/* Route 53 takes tens of seconds to reach INSYNC; polling starts quickly
 * for the fake and small zones, and slows to one GetChange in 5 s. */
#define DNS_POLL_FIRST_USEC (500 * USEC_PER_MSEC)
#define DNS_POLL_MAX_USEC (5 * USEC_PER_SEC)

/* Route 53's limits on a SetIdentifier and on a batch comment. */
#define DNS_SET_IDENTIFIER_MAX 128U
#define DNS_COMMENT_MAX 256U

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

static bool ip_is_valid(const char *ip) {
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

        if (!config || isempty(config->name) || !ip_is_valid(ip) || !ret)
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

/* "10.0.1.5, 10.0.1.6" for log lines, sorted like the sets this module
 * writes; "nothing" for no values. */
static char *values_join(char *const *unsorted) {
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

static uint64_t random_u64(void) {
        uint64_t v;

        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t) sizeof(v))
                return v;
        /* Jitter only needs to differ between nodes, not to be secret. */
        return now(CLOCK_MONOTONIC) ^ ((uint64_t) getpid() << 32);
}

static bool error_is_throttling(const AwsError *e) {
        return streq_ptr(e->code, "Throttling") || streq_ptr(e->code, "ThrottlingException") ||
               streq_ptr(e->code, "PriorRequestNotComplete") || streq_ptr(e->code, "RequestLimitExceeded");
}

typedef enum ChangeFailure {
        CHANGE_REFUSED,         /* InvalidChangeBatch: the set was not what the batch expected */
        CHANGE_UNKNOWN,         /* no answer we can trust: it may or may not have applied */
        CHANGE_FATAL,           /* Route 53 said no and will say it again */
} ChangeFailure;

static ChangeFailure change_failure_classify(int r, const AwsError *e) {
        if (r == -EREMOTEIO && streq_ptr(e->code, "InvalidChangeBatch"))
                return CHANGE_REFUSED;
        /* Permissions, a missing zone, a batch Route 53 cannot parse:
         * trying again changes nothing. */
        if (r == -EACCES || r == -ENOENT || r == -EINVAL || r == -EOPNOTSUPP || r == -ENOMEM)
                return CHANGE_FATAL;
        if (r == -EREMOTEIO && e->http_status >= 400 && e->http_status < 500 && !error_is_throttling(e))
                return CHANGE_FATAL;
        /* The network failed, replies were unreadable, Route 53 kept
         * failing or throttling until the aws layer ran out of attempts, or
         * the deadline cut its retries short (-ETIME): the batch may have
         * applied without our hearing of it. */
        return CHANGE_UNKNOWN;
}

/* The next wait: uniformly random below *ceiling, which then doubles up
 * to backoff_max (see DNS_BACKOFF_MAX_USEC). */
static usec_t next_backoff(usec_t *ceiling, usec_t backoff_max) {
        usec_t wait = random_u64() % (*ceiling + 1);

        *ceiling = MIN(*ceiling * 2, backoff_max);
        return wait;
}

/* Sends the batch; an UPSERT (node, multivalue) goes again as it is for as
 * long as Route 53 answers that it throttled it (also after the aws layer's
 * own attempts): a throttled batch was not applied, and an UPSERT does not
 * depend on what the set held, so reading it again would only spend one
 * more of the account's five requests a second - exactly when a fleet
 * booting at once makes them scarce. A compare-and-swap (shared) is not
 * resent: after seconds of throttling the set it was built on has most
 * likely changed, and a refusal would cost a request more than the read
 * the caller does instead. Returns what the last attempt returned, or
 * -ECANCELED. */
static int send_change(const DnsPublish *p, DnsAction action, const Route53Change *changes, size_t n_changes,
                       const char *comment, usec_t *ceiling, usec_t backoff_max, AwsError *e,
                       Route53ChangeInfo *ret_info) {
        for (;;) {
                usec_t wait;
                int r;

                r = route53_change_resource_record_sets(p->aws, p->config->hosted_zone_id, changes, n_changes,
                                                        comment, p->deadline, e, ret_info);
                if (r != -EREMOTEIO || !error_is_throttling(e) || action != DNS_ACTION_UPSERT)
                        return r;

                wait = next_backoff(ceiling, backoff_max);
                if (usec_left(p->deadline) <= wait)
                        return r;
                log_debug("dns: Route 53 throttled the change of %s (%s), sending it again in %s.",
                          p->config->name, strna(e->code), FORMAT_DURATION(wait));
                sleep_usec(wait);
                if (path_cancelled())
                        return -ECANCELED;
                aws_error_done(e);
        }
}

static const char *identifier_of(const DnsPublish *p) {
        return p->config->mode == DNS_MODE_MULTIVALUE ? p->node_name : NULL;
}

static int wait_in_sync(const DnsPublish *p, const char *change_id) {
        usec_t interval = p->poll_first ?: DNS_POLL_FIRST_USEC, poll_max = p->poll_max ?: DNS_POLL_MAX_USEC;
        int r;

        path_transition(p->path, "insync", "Waiting for INSYNC of change %s.", change_id);
        for (unsigned n = 1;; n++) {
                _cleanup_(route53_change_info_done) Route53ChangeInfo info = {};
                _cleanup_(aws_error_done) AwsError e = {};
                usec_t left = usec_left(p->deadline);

                if (left == 0)
                        return path_fail(p->path, -ETIME, "Change %s was not INSYNC before the deadline.",
                                         change_id);
                /* The wait is on purpose: tell systemd, as the volume path does. */
                notify_extend_timeout(2 * interval + 30 * USEC_PER_SEC);
                sleep_usec(MIN(interval, left));
                if (path_cancelled())
                        return path_fail(p->path, -ECANCELED, "Cancelled.");

                r = route53_get_change(p->aws, change_id, p->deadline, &e, &info);
                if (r == -ETIME)
                        return path_fail(p->path, r, "Change %s was not INSYNC before the deadline.", change_id);
                if (r < 0)
                        return path_fail(p->path, r, "Failed to get the status of change %s: %s%s%m", change_id,
                                         strempty(e.code), e.code ? ": " : "");
                log_debug("dns: change %s is %s (poll %u).", change_id, info.status, n);
                if (streq(info.status, "INSYNC"))
                        return 0;
                interval = MIN(interval * 2, poll_max);
        }
}

static void log_read_transition(const DnsPublish *p, const char *identifier) {
        path_transition(p->path, "read", "Reading %s A%s%s%s in zone %s (Mode=%s).", p->config->name,
                        identifier ? " (SetIdentifier " : "", strempty(identifier), identifier ? ")" : "",
                        p->config->hosted_zone_id, dns_mode_to_string(p->config->mode));
}

/* Reads the node's record set: 1 and ret filled, or 0 when there is none
 * (a missing hosted zone is -ENOENT). Throttling (a fleet booting at once
 * shares one account's five requests a second) and network failures that outlast the aws layer's own
 * attempts are tried again after a jittered wait: the deadline, not a
 * count, decides when to stop. Other failures are logged (path_fail). */
static int read_record_set(const DnsPublish *p, const char *identifier, usec_t *ceiling, usec_t backoff_max,
                           Route53RecordSet *ret) {
        const char *name = p->config->name;

        for (;;) {
                _cleanup_(aws_error_done) AwsError e = {};
                usec_t wait;
                int r;

                r = route53_find_record_set(p->aws, p->config->hosted_zone_id, name, "A", identifier, p->deadline,
                                            &e, ret);
                if (r >= 0)
                        return 1;
                if (r == -ENOENT && e.code)
                        return path_fail(p->path, r, "Hosted zone %s: %s: %s", p->config->hosted_zone_id, e.code,
                                         strna(e.message));
                if (r == -ENOENT)
                        return 0;
                if (r == -ECANCELED)
                        return path_fail(p->path, r, "Cancelled.");
                if (r == -ETIME || change_failure_classify(r, &e) != CHANGE_UNKNOWN)
                        return path_fail(p->path, r, "Failed to read %s A in zone %s: %s%s%m", name,
                                         p->config->hosted_zone_id, strempty(e.code), e.code ? ": " : "");

                wait = next_backoff(ceiling, backoff_max);
                if (usec_left(p->deadline) <= wait)
                        return path_fail(p->path, -ETIME, "The deadline passes while reading %s A (%s%s%m).",
                                         name, strempty(e.code), e.code ? ": " : "");
                log_debug_errno(r, "dns: reading %s A failed (%s%s%m), trying again in %s.", name,
                                strempty(e.code), e.code ? ": " : "", FORMAT_DURATION(wait));
                sleep_usec(wait);
                if (path_cancelled())
                        return path_fail(p->path, -ECANCELED, "Cancelled.");
        }
}

void dns_read_done(DnsRead *r) {
        if (!r)
                return;
        route53_record_set_done(&r->set);
        *r = (DnsRead) {};
}

int dns_read_ahead(const DnsPublish *p, DnsRead *ret) {
        usec_t ceiling, backoff_max;
        const char *identifier;
        int r;

        if (!p || !p->path || !p->aws || !p->config || isempty(p->config->hosted_zone_id) ||
            isempty(p->config->name) || !ret)
                return -EINVAL;

        identifier = identifier_of(p);
        ceiling = p->backoff_first ?: DNS_BACKOFF_FIRST_USEC;
        backoff_max = p->backoff_max ?: DNS_BACKOFF_MAX_USEC;
        log_read_transition(p, identifier);
        dns_read_done(ret);
        r = read_record_set(p, identifier, &ceiling, backoff_max, &ret->set);
        if (r < 0)
                return r;
        ret->found = r > 0;
        ret->done = true;
        return 0;
}

/* Read, decide, submit; on a refused or lost batch read again and decide
 * again, so each attempt is built on the set as it is. Shared by publish
 * and unpublish. */
static int dns_converge(const DnsPublish *p, bool publish, DnsResult *ret) {
        _cleanup_(dns_result_done) DnsResult result = { .ttl = -1 };
        _cleanup_(route53_record_set_done) Route53RecordSet refused_on = {};
        _cleanup_free_ char *refusal = NULL, *comment = NULL;
        const char *identifier, *name;
        unsigned attempts_max, unchanged = 0;
        bool refused = false, refused_on_set = false, unanswered = false, read_ahead;
        DnsAction sent = DNS_ACTION_NONE;
        usec_t ceiling, backoff_max;
        int r;

        if (!p || !p->path || !p->aws || !p->config || isempty(p->config->hosted_zone_id) ||
            isempty(p->config->name))
                return -EINVAL;
        if (!ip_is_valid(p->ip))
                return path_fail(p->path, -EINVAL, "%s is not an IPv4 address for an A record.", strna(p->ip));
        if (p->config->mode == DNS_MODE_MULTIVALUE &&
            (isempty(p->node_name) || strlen(p->node_name) > DNS_SET_IDENTIFIER_MAX))
                return path_fail(p->path, -EINVAL, "Mode=multivalue needs a node name of at most %u characters.",
                                 DNS_SET_IDENTIFIER_MAX);

        identifier = identifier_of(p);
        name = p->config->name;
        /* No count by default: in one shared set a fleet booting at once
         * loses race after race until its turn; the deadline decides. */
        attempts_max = p->attempts_max ?: UINT_MAX;
        ceiling = p->backoff_first ?: DNS_BACKOFF_FIRST_USEC;
        backoff_max = p->backoff_max ?: DNS_BACKOFF_MAX_USEC;

        if (!isempty(p->node_name) && strlen("nodeagent ") + strlen(p->node_name) <= DNS_COMMENT_MAX)
                r = asprintf(&comment, "nodeagent %s", p->node_name);
        else
                r = asprintf(&comment, "nodeagent");
        if (r < 0) {
                comment = NULL;
                return log_oom();
        }

        read_ahead = publish && p->read_ahead && p->read_ahead->done;
        if (!read_ahead)
                log_read_transition(p, identifier);

        for (;;) {
                _cleanup_(route53_record_set_done) Route53RecordSet current = {};
                _cleanup_(route53_change_info_done) Route53ChangeInfo info = {};
                _cleanup_(aws_error_done) AwsError e = {};
                _cleanup_(dns_plan_done) DnsPlan plan = {};
                _cleanup_free_ char *now_values = NULL, *new_values = NULL;
                Route53Change changes[2];
                size_t n_changes;
                bool have_current;
                usec_t wait;

                if (read_ahead) {
                        /* The first read was made ahead (the volume still
                         * attaching): start from it. */
                        read_ahead = false;
                        r = p->read_ahead->found;
                        current = p->read_ahead->set;
                        p->read_ahead->set = (Route53RecordSet) {};
                } else {
                        r = read_record_set(p, identifier, &ceiling, backoff_max, &current);
                        if (r < 0)
                                return r;
                }
                have_current = r > 0;

                r = dns_plan(p->config, p->node_name, p->ip, publish, have_current ? &current : NULL, &plan);
                if (r == -EOPNOTSUPP)
                        return path_fail(p->path, r,
                                         "%s A is %s: it cannot be rewritten exactly, not touching it.", name,
                                         current.alias ? "an alias" : "a set with a routing policy "
                                                                      "(weighted, latency, geo, failover, ...)");
                if (r < 0)
                        return path_fail(p->path, r, "Failed to decide the change of %s: %m", name);

                now_values = values_join(have_current ? current.values : NULL);
                if (!now_values)
                        return log_oom();

                if (plan.action == DNS_ACTION_NONE) {
                        /* A batch whose reply never came (or that the aws
                         * layer repeated after a lost reply, and was then
                         * refused) may be what made the set right. */
                        if (sent != DNS_ACTION_NONE && (unanswered || refused)) {
                                result.action = sent;
                                path_transition(p->path, "done",
                                                "%s A now %s (TTL %" PRId64 "): the change went through, its "
                                                "reply was lost.", name, now_values, have_current ? current.ttl : -1);
                        } else if (publish)
                                path_transition(p->path, "done", "%s A %s (TTL %" PRId64 ") already right.", name,
                                                now_values, have_current ? current.ttl : -1);
                        else
                                path_transition(p->path, "done", "%s A does not hold %s, nothing to remove.", name,
                                                p->ip);
                        r = values_build(have_current ? current.values : NULL, NULL, NULL, &result.values);
                        if (r < 0)
                                return log_oom();
                        result.ttl = have_current ? current.ttl : -1;
                        break;
                }

                /* A refused batch is a lost race only when the set changed
                 * since the read it was built on. Refused again for the
                 * same set means Route 53 objects to the batch itself (a
                 * conflicting set of another kind, a bad value): say why. An
                 * UPSERT never loses a race, so for it once is enough; a
                 * compare-and-swap gets one more try, in case the set went
                 * and came back in between. */
                if (refused) {
                        if (dns_record_set_same(refused_on_set ? &refused_on : NULL,
                                                have_current ? &current : NULL))
                                unchanged++;
                        else
                                unchanged = 0;
                        if (unchanged >= (plan.action == DNS_ACTION_UPSERT ? 1U : 2U))
                                return path_fail(p->path, -EREMOTEIO, "Route 53 refused the change of %s: %s", name,
                                                 strna(refusal));
                }

                if (result.n_changes >= attempts_max)
                        return path_fail(p->path, -EAGAIN, "%s A kept changing: gave up after %u attempts.", name,
                                         result.n_changes);

                n_changes = dns_plan_changes(&plan, have_current ? &current : NULL, changes);
                new_values = values_join(plan.desired.values);
                if (!new_values)
                        return log_oom();
                if (result.n_changes == 0)
                        path_transition(p->path, "change", "%s A: %s -> %s (TTL %" PRId64 ", %s).", name,
                                        now_values, new_values,
                                        plan.action == DNS_ACTION_DELETE ? current.ttl : plan.desired.ttl,
                                        dns_action_to_string(plan.action));
                else
                        path_transition(p->path, "change", "%s A: %s -> %s (TTL %" PRId64 ", %s), attempt %u.",
                                        name, now_values, new_values,
                                        plan.action == DNS_ACTION_DELETE ? current.ttl : plan.desired.ttl,
                                        dns_action_to_string(plan.action), result.n_changes + 1);

                result.n_changes++;
                sent = plan.action;
                r = send_change(p, plan.action, changes, n_changes, comment, &ceiling, backoff_max, &e, &info);
                if (r == -ECANCELED)
                        return path_fail(p->path, r, "Cancelled.");
                if (r >= 0) {
                        result.action = plan.action;
                        result.change_id = TAKE_PTR(info.id);
                        result.in_sync = streq_ptr(info.status, "INSYNC");
                        result.values = TAKE_PTR(plan.desired.values);
                        if (!result.values) {
                                result.values = calloc(1, sizeof(char *));
                                if (!result.values)
                                        return log_oom();
                        }
                        result.ttl = plan.action == DNS_ACTION_DELETE ? -1 : plan.desired.ttl;
                        log_debug("dns: change %s submitted (%s).", result.change_id, strna(info.status));
                        break;
                }

                switch (change_failure_classify(r, &e)) {
                case CHANGE_REFUSED:
                        result.n_conflicts++;
                        refused = true;
                        unanswered = false;
                        free(refusal);
                        refusal = strdup(strna(e.message));
                        if (!refusal)
                                return log_oom();
                        route53_record_set_done(&refused_on);
                        refused_on_set = have_current;
                        if (have_current) {
                                refused_on = current;
                                current = (Route53RecordSet) {};
                        }
                        log_debug("dns: batch refused (%s), reading %s A again.", refusal, name);
                        break;
                case CHANGE_UNKNOWN:
                        /* Not a refusal: the next read decides afresh. */
                        refused = false;
                        unchanged = 0;
                        unanswered = true;
                        log_debug_errno(r, "dns: no trustworthy answer to the batch (%s%s%m), reading %s A again.",
                                        strempty(e.code), e.code ? ": " : "", name);
                        break;
                case CHANGE_FATAL:
                        return path_fail(p->path, r, "Failed to change %s: %s%s%s%s%m", name, strempty(e.code),
                                         e.code ? ": " : "", strempty(e.message), e.message ? ": " : "");
                }

                /* What time is left after -ETIME goes to finding out
                 * whether the batch applied, not to waiting. */
                wait = r == -ETIME ? 0 : next_backoff(&ceiling, backoff_max);
                if (usec_left(p->deadline) <= wait)
                        return path_fail(p->path, -ETIME, "The deadline %s while changing %s A.",
                                         r == -ETIME ? "passed" : "passes before the next attempt", name);
                sleep_usec(wait);
                /* Another path failed: the boot is over, and no batch is
                 * half-done between attempts. */
                if (path_cancelled())
                        return path_fail(p->path, -ECANCELED, "Cancelled.");
                path_transition(p->path, "read", "%s A %s, reading it again.", name,
                                refused ? "changed meanwhile" : "may have changed");
        }

        if (result.change_id && !result.in_sync && p->config->wait_in_sync) {
                r = wait_in_sync(p, result.change_id);
                if (r < 0)
                        return r;
                result.in_sync = true;
                path_transition(p->path, "done", "%s A is INSYNC (change %s).", name, result.change_id);
        } else if (result.change_id)
                path_transition(p->path, "done", "%s A changed (change %s, %s).", name, result.change_id,
                                result.in_sync ? "INSYNC" : "PENDING");
        else if (result.action != DNS_ACTION_NONE && p->config->wait_in_sync)
                log_notice("dns: the reply of the change to %s was lost, so there is no change id to wait "
                           "for INSYNC on.", name);

        if (ret) {
                *ret = result;
                result = (DnsResult) {};
        }
        return 0;
}

int dns_publish(const DnsPublish *p, DnsResult *ret) {
        return dns_converge(p, true, ret);
}

int dns_unpublish(const DnsPublish *p, DnsResult *ret) {
        return dns_converge(p, false, ret);
}
