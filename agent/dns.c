/* SPDX-License-Identifier: Apache-2.0 */
/* Publishing the node's address in Route 53: read, decide (dns-plan.c),
 * change, and wait for INSYNC, each a state of the path (path-state.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "backoff.h"
#include "dns.h"
#include "log.h"
#include "notify.h"
#include "wait.h"

/* The wait after a refused, throttled or unanswered batch is "full jitter"
 * (backoff.h): nodes that collided once spread out at once instead of
 * colliding again in lockstep. Starting at 100 ms keeps a single collision
 * cheap. The cap is high on purpose: a fleet booting at once into one
 * shared set (Route 53 allows five requests a second per account) spreads
 * itself out until what it asks for fits that rate; below it, a read and
 * the change built on it rarely have another node's change between them,
 * while at a lower cap the fleet keeps the rate saturated, every change
 * waits through throttling and is stale by the time it lands. */
static const BackoffPolicy dns_retry_policy = {
        .initial = 100 * USEC_PER_MSEC,
        .max = 30 * USEC_PER_SEC,
        .growth_percent = 200,
        .jitter = true,
};

/* Mode=shared, where every node of a fleet changes one set by
 * compare-and-swap (a read and a batch built on it) and the account allows
 * five requests a second. A lost race costs the read and the batch: two of
 * those requests. What makes races likely is a crowd: many reads in
 * flight, and batches that wait through throttling while others' batches
 * land. So here:
 *   - a throttling answer comes back at once instead of being tried again
 *     by the aws layer (aws_client_return_throttling()): its attempts kept
 *     the account saturated and hid from this module how crowded it is;
 *   - every read or batch that did not land widens this node's spread
 *     (x1.5, full jitter, up to 30 s), so that the fleet's reads come to fit
 *     the account's rate (x2 did as well for 200 nodes, but left the last
 *     node of a small fleet waiting long after the others);
 *   - a batch that was throttled goes again at once, in short jittered
 *     steps (dns_cas_resend_policy): it was not applied, and the read it
 *     was built on stays good until another node's batch lands, so a read
 *     that got through the crowd is not wasted.
 * bench/ measures it: a fleet of 200 within 2.1-2.2 times the bound of
 * two requests per node (1.8 in one run), where the aws layer's attempts
 * under the same growing wait needed 4.1 times (and 2.5 times as many
 * requests that counted).
 * Sizing the spread to the crowd seen (by the values that changed between
 * two of a node's reads, up or down) changed nothing measurable. */
static const BackoffPolicy dns_shared_policy = {
        .initial = 200 * USEC_PER_MSEC,
        .max = 30 * USEC_PER_SEC,
        .growth_percent = 150,
        .jitter = true,
};

static const BackoffPolicy dns_cas_resend_policy = {
        .initial = 50 * USEC_PER_MSEC,
        .max = 1 * USEC_PER_SEC,
        .growth_percent = 120,
        .jitter = true,
};
/* About 5 s of resending on average: by then the set has most likely
 * changed, and a read is due anyway. */
#define DNS_CAS_RESENDS 20U

/* INSYNC is polled every twentieth of the time since the change was
 * accepted plus 200 ms: it is then seen within 5 % of the time it took plus
 * 200 ms, with the fewest polls that promise that (about 50 for the minute
 * Route 53 may take). A fleet polling at once shares the account's five
 * requests a second: a poll Route 53 throttles comes back at once, and from
 * then on this node polls no more often than a floor that each throttled
 * poll doubles (drawn with full jitter, so that the fleet spreads out), up
 * to two minutes. The floor is kept: a fleet that found the account's rate
 * stays within it. */
#define DNS_INSYNC_SLACK (200 * USEC_PER_MSEC)
#define DNS_INSYNC_SHARE 20U
static const BackoffPolicy dns_insync_throttle_policy = {
        .initial = 1 * USEC_PER_SEC,
        .max = 2 * USEC_PER_MINUTE,
        .growth_percent = 200,
        .jitter = true,
};

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
        if (r == -EREMOTEIO && e->http_status >= 400 && e->http_status < 500 && !aws_error_is_throttling(e))
                return CHANGE_FATAL;
        /* The network failed, replies were unreadable, Route 53 kept
         * failing or throttling until the aws layer ran out of attempts, or
         * the deadline cut its retries short (-ETIME): the batch may have
         * applied without our hearing of it. */
        return CHANGE_UNKNOWN;
}

static const char *identifier_of(const DnsPublish *p) {
        return p->config->mode == DNS_MODE_MULTIVALUE ? p->node_name : NULL;
}

static void log_read_transition(const DnsPublish *p) {
        const char *identifier = identifier_of(p);

        path_transition(p->path, PATH_STATE_READ, "Reading %s A%s%s%s in zone %s (Mode=%s).", p->config->name,
                        identifier ? " (SetIdentifier " : "", strempty(identifier), identifier ? ")" : "",
                        p->config->hosted_zone_id, dns_mode_to_string(p->config->mode));
}

/* Reads the node's record set: 1 and ret filled, or 0 when there is none
 * (a missing hosted zone is -ENOENT). Throttling (a fleet booting at once
 * shares one account's five requests a second) and network failures that
 * outlast the aws layer's own attempts are tried again after a jittered
 * wait: the deadline, not a count, decides when to stop. Other failures
 * are logged (path_fail). */
static int read_record_set(const DnsPublish *p, Backoff *backoff, Route53RecordSet *ret) {
        const char *name = p->config->name;

        for (;;) {
                _cleanup_(aws_error_done) AwsError e = {};
                usec_t wait;
                int r;

                r = route53_find_record_set(p->aws, p->config->hosted_zone_id, name, "A", identifier_of(p),
                                            p->deadline, &e, ret);
                if (r >= 0)
                        return 1;
                if (r == -ENOENT && e.code)
                        return path_fail(p->path, FAILURE_OTHER, r, "Hosted zone %s: %s: %s",
                                         p->config->hosted_zone_id, e.code, strna(e.message));
                if (r == -ENOENT)
                        return 0;
                if (r == -ECANCELED || r == -ETIME || change_failure_classify(r, &e) != CHANGE_UNKNOWN)
                        return path_fail(p->path, failure_kind_of_call(r), r, "Failed to read %s A in zone %s: %s%s%m",
                                         name, p->config->hosted_zone_id, strempty(e.code), e.code ? ": " : "");

                log_debug_errno(r, "dns: reading %s A failed (%s%s%m), trying again.", name, strempty(e.code),
                                e.code ? ": " : "");
                r = backoff_wait(backoff, false, p->deadline, &wait);
                if (r == -ETIME)
                        return path_fail(p->path, FAILURE_DEADLINE, r, "The deadline passes while reading %s A.",
                                         name);
                if (r < 0)
                        return path_fail(p->path, FAILURE_CANCELLED, r, "Cancelled.");
        }
}

void dns_read_done(DnsRead *r) {
        if (!r)
                return;
        route53_record_set_done(&r->set);
        *r = (DnsRead) {};
}

static bool publish_args_valid(const DnsPublish *p) {
        return p && p->path && p->aws && p->config && !isempty(p->config->hosted_zone_id) &&
               !isempty(p->config->name);
}

int dns_read_ahead(const DnsPublish *p, DnsRead *ret) {
        Backoff backoff = BACKOFF_INIT(&dns_retry_policy);
        int r;

        if (!publish_args_valid(p) || !ret)
                return -EINVAL;

        log_read_transition(p);
        dns_read_done(ret);
        r = read_record_set(p, &backoff, &ret->set);
        if (r < 0)
                return r;
        ret->found = r > 0;
        ret->done = true;
        return 0;
}

/* Sends the batch; an UPSERT (node, multivalue) goes again as it is for as
 * long as Route 53 answers that it throttled it (also after the aws layer's
 * own attempts): a throttled batch was not applied, and an UPSERT does not
 * depend on what the set held, so reading it again would only spend one
 * more of the account's five requests a second - exactly when a fleet
 * booting at once makes them scarce. A compare-and-swap (shared) goes again
 * in short steps, DNS_CAS_RESENDS times (see dns_shared_policy); after that
 * the set it was built on has most likely changed, and a refusal would cost
 * a request more than the read the caller does instead. Returns what the
 * last attempt returned, or -ECANCELED. */
static int send_change(const DnsPublish *p, DnsAction action, const Route53Change *changes, size_t n_changes,
                       const char *comment, Backoff *backoff, AwsError *e, Route53ChangeInfo *ret_info) {
        Backoff resend = BACKOFF_INIT(&dns_cas_resend_policy);

        for (;;) {
                usec_t wait;
                int r, k;

                r = route53_change_resource_record_sets(p->aws, p->config->hosted_zone_id, changes, n_changes,
                                                        comment, p->deadline, e, ret_info);
                if (r != -EREMOTEIO || !aws_error_is_throttling(e))
                        return r;
                if (action == DNS_ACTION_UPSERT)
                        k = backoff_wait(backoff, true, p->deadline, &wait);
                else if (resend.n < DNS_CAS_RESENDS)
                        k = backoff_wait(&resend, true, p->deadline, &wait);
                else
                        return r;
                if (k == -ETIME)
                        return r;
                if (k < 0)
                        return k;
                log_debug("dns: Route 53 throttled the change of %s (%s), sent again after %s.", p->config->name,
                          strna(e->code), FORMAT_DURATION(wait));
                aws_error_done(e);
        }
}

/* When the poll after one at `polled` is due: see DNS_INSYNC_SHARE. */
static usec_t insync_next(usec_t start, usec_t polled, usec_t floor) {
        usec_t interval = DNS_INSYNC_SLACK + (polled - MIN(start, polled)) / DNS_INSYNC_SHARE;

        return usec_add(polled, MAX(interval, floor));
}

static int wait_in_sync(const DnsPublish *p, const char *change_id) {
        Backoff throttle = BACKOFF_INIT(&dns_insync_throttle_policy);
        usec_t start = now(CLOCK_MONOTONIC), floor = 0, next;
        bool returned;
        int r = 0;

        path_transition(p->path, PATH_STATE_INSYNC, "Waiting for INSYNC of change %s.", change_id);
        returned = aws_client_return_throttling(p->aws, AWS_SERVICE_ROUTE53, true);
        next = insync_next(start, start, floor);
        for (unsigned n = 1;; n++) {
                _cleanup_(route53_change_info_done) Route53ChangeInfo info = {};
                _cleanup_(aws_error_done) AwsError e = {};
                usec_t polled, left = usec_left(next);

                /* The wait is on purpose: tell systemd, as the volume path does. */
                notify_extend_timeout(2 * left + 30 * USEC_PER_SEC);
                r = wait_for(left, p->deadline);
                if (r == -ETIME) {
                        r = path_fail(p->path, FAILURE_DEADLINE, r, "Change %s was not INSYNC before the deadline.",
                                      change_id);
                        break;
                }
                if (r < 0) {
                        r = path_fail(p->path, FAILURE_CANCELLED, r, "Cancelled.");
                        break;
                }

                polled = now(CLOCK_MONOTONIC);
                r = route53_get_change(p->aws, change_id, p->deadline, &e, &info);
                if (r == -EREMOTEIO && aws_error_is_throttling(&e)) {
                        usec_t wait = backoff_next(&throttle);

                        /* Half the ceiling a draw came from: what this node's
                         * share of the account's rate was found to be. */
                        floor = MAX(floor, throttle.ceiling / 4);
                        next = usec_add(polled, MAX(wait, floor));
                        log_debug("dns: Route 53 throttled poll %u of change %s (%s), polling again in %s.", n,
                                  change_id, strna(e.code), FORMAT_DURATION(next - MIN(next, polled)));
                        continue;
                }
                if (r < 0) {
                        r = path_fail(p->path, failure_kind_of_call(r), r, "Failed to get the status of change %s: "
                                      "%s%s%m", change_id, strempty(e.code), e.code ? ": " : "");
                        break;
                }
                log_debug("dns: change %s is %s (poll %u).", change_id, info.status, n);
                if (streq(info.status, "INSYNC"))
                        break;
                next = insync_next(start, polled, floor);
        }
        (void) aws_client_return_throttling(p->aws, AWS_SERVICE_ROUTE53, returned);
        return r < 0 ? r : 0;
}

/* One publish or unpublish: read, decide, submit; on a refused or lost
 * batch read again and decide again, so each attempt is built on the set
 * as it is. */
typedef struct Converge {
        const DnsPublish *p;
        bool publish;
        char *comment;
        Backoff backoff;
        DnsResult result;

        DnsAction sent;                 /* the last batch's action */
        bool unanswered;                /* the last batch got no trustworthy answer */
        bool refused;                   /* the last batch was refused */
        bool refused_on_set;            /* ... built on a set that existed: refused_on */
        Route53RecordSet refused_on;
        char *refusal;                  /* Route 53's words */
        unsigned unchanged;             /* refusals in a row on the same set */

        bool shared;                    /* Mode=shared: paced as dns_shared_policy says */
        bool throttling_returned;       /* the client's setting before, restored at the end */
} Converge;

static void converge_done(Converge *c) {
        if (c->shared)
                (void) aws_client_return_throttling(c->p->aws, AWS_SERVICE_ROUTE53, c->throttling_returned);
        free(c->comment);
        dns_result_done(&c->result);
        route53_record_set_done(&c->refused_on);
        free(c->refusal);
}

static int converge_init(Converge *c, const DnsPublish *p, bool publish) {
        const char *name = p->node_name;
        int r;

        *c = (Converge) {
                .p = p,
                .publish = publish,
                .shared = p->config->mode == DNS_MODE_SHARED,
                .result = { .ttl = -1 },
        };
        c->backoff = BACKOFF_INIT(c->shared ? &dns_shared_policy : &dns_retry_policy);
        if (c->shared)
                c->throttling_returned = aws_client_return_throttling(p->aws, AWS_SERVICE_ROUTE53, true);
        if (!isempty(name) && strlen("nodeagent ") + strlen(name) <= DNS_COMMENT_MAX)
                r = asprintf(&c->comment, "nodeagent %s", name);
        else
                r = asprintf(&c->comment, "nodeagent");
        if (r < 0) {
                c->comment = NULL;
                return log_oom();
        }
        return 0;
}

/* The set as it is now: from the read made ahead (once), else read. 1
 * when there is a set, 0 when there is none. */
static int converge_read(Converge *c, bool *read_ahead, Route53RecordSet *ret) {
        DnsRead *ahead = c->p->read_ahead;

        if (*read_ahead) {
                *read_ahead = false;
                *ret = ahead->set;
                ahead->set = (Route53RecordSet) {};
                return ahead->found;
        }
        return read_record_set(c->p, &c->backoff, ret);
}

/* The plan says nothing is left to do: the result is the set as read. */
static int converge_settled(Converge *c, const Route53RecordSet *current) {
        const DnsPublish *p = c->p;
        _cleanup_free_ char *values = dns_values_join(current ? current->values : NULL);
        int64_t ttl = current ? current->ttl : -1;
        int r;

        if (!values)
                return log_oom();
        /* A batch whose reply never came (or that the aws layer repeated
         * after a lost reply, and was then refused) may be what made the
         * set right. */
        if (c->sent != DNS_ACTION_NONE && (c->unanswered || c->refused)) {
                c->result.action = c->sent;
                path_transition(p->path, PATH_STATE_DONE, "%s A now %s (TTL %" PRId64 "): the change went through, "
                                "its reply was lost.", p->config->name, values, ttl);
        } else if (c->publish)
                path_transition(p->path, PATH_STATE_DONE, "%s A %s (TTL %" PRId64 ") already right.",
                                p->config->name, values, ttl);
        else
                path_transition(p->path, PATH_STATE_DONE, "%s A does not hold %s, nothing to remove.",
                                p->config->name, p->ip);
        r = dns_values_sorted(current ? current->values : NULL, &c->result.values);
        if (r < 0)
                return log_oom();
        c->result.ttl = ttl;
        return 0;
}

/* A refused batch is a lost race only when the set changed since the read
 * it was built on. Refused again for the same set means Route 53 objects to
 * the batch itself (a conflicting set of another kind, a bad value): say
 * why. An UPSERT never loses a race, so for it once is enough; a
 * compare-and-swap gets one more try, in case the set went and came back
 * in between. */
static int converge_check_refusal(Converge *c, const DnsPlan *plan, const Route53RecordSet *current) {
        if (!c->refused)
                return 0;
        if (dns_record_set_same(c->refused_on_set ? &c->refused_on : NULL, current))
                c->unchanged++;
        else
                c->unchanged = 0;
        if (c->unchanged >= (plan->action == DNS_ACTION_UPSERT ? 1U : 2U))
                return path_fail(c->p->path, FAILURE_OTHER, -EREMOTEIO, "Route 53 refused the change of %s: %s",
                                 c->p->config->name, strna(c->refusal));
        return 0;
}

static void log_change_transition(Converge *c, const DnsPlan *plan, const Route53RecordSet *current) {
        _cleanup_free_ char *from = dns_values_join(current ? current->values : NULL);
        _cleanup_free_ char *to = dns_values_join(plan->desired.values);
        int64_t ttl = plan->action == DNS_ACTION_DELETE && current ? current->ttl : plan->desired.ttl;

        if (c->result.n_changes == 0)
                path_transition(c->p->path, PATH_STATE_CHANGE, "%s A: %s -> %s (TTL %" PRId64 ", %s).",
                                c->p->config->name, strna(from), strna(to), ttl, dns_action_to_string(plan->action));
        else
                path_transition(c->p->path, PATH_STATE_CHANGE, "%s A: %s -> %s (TTL %" PRId64 ", %s), attempt %u.",
                                c->p->config->name, strna(from), strna(to), ttl, dns_action_to_string(plan->action),
                                c->result.n_changes + 1);
}

/* Records a refused or unanswered batch for the next round. current is
 * taken when the batch was refused. */
static int converge_note_failure(Converge *c, ChangeFailure f, int r, const AwsError *e, bool have_current,
                                 Route53RecordSet *current) {
        if (f == CHANGE_REFUSED) {
                c->result.n_conflicts++;
                c->refused = true;
                c->unanswered = false;
                free(c->refusal);
                c->refusal = strdup(strna(e->message));
                if (!c->refusal)
                        return log_oom();
                route53_record_set_done(&c->refused_on);
                c->refused_on_set = have_current;
                if (have_current) {
                        c->refused_on = *current;
                        *current = (Route53RecordSet) {};
                }
                log_debug("dns: batch refused (%s), reading %s A again.", c->refusal, c->p->config->name);
                return 0;
        }
        /* Not a refusal: the next read decides afresh. */
        c->refused = false;
        c->unchanged = 0;
        c->unanswered = true;
        log_debug_errno(r, "dns: no trustworthy answer to the batch (%s%s%m), reading %s A again.",
                        strempty(e->code), e->code ? ": " : "", c->p->config->name);
        return 0;
}

/* Sends the plan's batch. 0 when it was accepted (the result filled), 1
 * when the set is to be read again, or a failure (logged). */
static int converge_submit(Converge *c, DnsPlan *plan, bool have_current, Route53RecordSet *current) {
        _cleanup_(route53_change_info_done) Route53ChangeInfo info = {};
        _cleanup_(aws_error_done) AwsError e = {};
        const DnsPublish *p = c->p;
        Route53Change changes[2];
        size_t n_changes;
        ChangeFailure f;
        int r, k;

        n_changes = dns_plan_changes(plan, have_current ? current : NULL, changes);
        log_change_transition(c, plan, have_current ? current : NULL);
        c->result.n_changes++;
        c->sent = plan->action;

        r = send_change(p, plan->action, changes, n_changes, c->comment, &c->backoff, &e, &info);
        if (r == -ECANCELED)
                return path_fail(p->path, FAILURE_CANCELLED, r, "Cancelled.");
        if (r >= 0) {
                c->result.action = plan->action;
                c->result.change_id = TAKE_PTR(info.id);
                c->result.in_sync = streq_ptr(info.status, "INSYNC");
                c->result.values = TAKE_PTR(plan->desired.values);
                if (!c->result.values) {
                        c->result.values = calloc(1, sizeof(char *));
                        if (!c->result.values)
                                return log_oom();
                }
                c->result.ttl = plan->action == DNS_ACTION_DELETE ? -1 : plan->desired.ttl;
                log_debug("dns: change %s submitted (%s).", c->result.change_id, strna(info.status));
                return 0;
        }

        f = change_failure_classify(r, &e);
        if (f == CHANGE_FATAL)
                return path_fail(p->path, failure_kind_of_call(r), r, "Failed to change %s: %s%s%s%s%m",
                                 p->config->name, strempty(e.code), e.code ? ": " : "", strempty(e.message),
                                 e.message ? ": " : "");
        k = converge_note_failure(c, f, r, &e, have_current, current);
        if (k < 0)
                return k;

        /* What time is left after -ETIME goes to finding out whether the
         * batch applied, not to waiting. */
        if (r != -ETIME) {
                usec_t wait;

                k = backoff_wait(&c->backoff, false, p->deadline, &wait);
                if (k == -ETIME)
                        return path_fail(p->path, FAILURE_DEADLINE, k, "The deadline passes before the next attempt "
                                         "to change %s A.", p->config->name);
                if (k < 0)
                        return path_fail(p->path, FAILURE_CANCELLED, k, "Cancelled.");
        } else if (usec_left(p->deadline) == 0)
                return path_fail(p->path, FAILURE_DEADLINE, r, "The deadline passed while changing %s A.",
                                 p->config->name);
        path_transition(p->path, PATH_STATE_READ, "%s A %s, reading it again.", p->config->name,
                        c->refused ? "changed meanwhile" : "may have changed");
        return 1;
}

/* One round: the set as it is, the decision, and the batch. 0 when the
 * set is right (now or already), 1 for another round. */
static int converge_round(Converge *c, bool *read_ahead) {
        _cleanup_(route53_record_set_done) Route53RecordSet current = {};
        _cleanup_(dns_plan_done) DnsPlan plan = {};
        const DnsPublish *p = c->p;
        bool have_current;
        int r;

        r = converge_read(c, read_ahead, &current);
        if (r < 0)
                return r;
        have_current = r > 0;

        if (c->publish && p->replaces_ip)
                r = dns_plan_replacing(p->config, p->node_name, p->ip, p->replaces_ip, have_current ? &current : NULL,
                                       &plan);
        else
                r = dns_plan(p->config, p->node_name, p->ip, c->publish, have_current ? &current : NULL, &plan);
        if (r == -EOPNOTSUPP)
                return path_fail(p->path, FAILURE_OTHER, r, "%s A is %s: it cannot be rewritten exactly, not touching "
                                 "it.", p->config->name, current.alias ? "an alias" :
                                 "a set with a routing policy (weighted, latency, geo, failover, ...)");
        if (r < 0)
                return path_fail(p->path, FAILURE_OTHER, r, "Failed to decide the change of %s: %m", p->config->name);
        if (plan.action == DNS_ACTION_NONE)
                return converge_settled(c, have_current ? &current : NULL);

        r = converge_check_refusal(c, &plan, have_current ? &current : NULL);
        if (r < 0)
                return r;
        return converge_submit(c, &plan, have_current, &current);
}

/* After the set is right: INSYNC when asked for, and the last story line. */
static int converge_finish(Converge *c) {
        const DnsPublish *p = c->p;
        DnsResult *result = &c->result;
        int r;

        if (result->change_id && !result->in_sync && p->config->wait_in_sync) {
                r = wait_in_sync(p, result->change_id);
                if (r < 0)
                        return r;
                result->in_sync = true;
                path_transition(p->path, PATH_STATE_DONE, "%s A is INSYNC (change %s).", p->config->name,
                                result->change_id);
        } else if (result->change_id)
                path_transition(p->path, PATH_STATE_DONE, "%s A changed (change %s, %s).", p->config->name,
                                result->change_id, result->in_sync ? "INSYNC" : "PENDING");
        else if (result->action != DNS_ACTION_NONE && p->config->wait_in_sync)
                log_notice("dns: the reply of the change to %s was lost, so there is no change id to wait for "
                           "INSYNC on.", p->config->name);
        return 0;
}

static int dns_converge(const DnsPublish *p, bool publish, DnsResult *ret) {
        _cleanup_(converge_done) Converge c = {};
        bool read_ahead;
        int r;

        if (!publish_args_valid(p))
                return -EINVAL;
        if (!dns_ip_is_valid(p->ip))
                return path_fail(p->path, FAILURE_OTHER, -EINVAL, "%s is not an IPv4 address for an A record.",
                                 strna(p->ip));
        if (p->config->mode == DNS_MODE_MULTIVALUE &&
            (isempty(p->node_name) || strlen(p->node_name) > DNS_SET_IDENTIFIER_MAX))
                return path_fail(p->path, FAILURE_CONFIG, -EINVAL, "Mode=multivalue needs a node name of at most %u "
                                 "characters.", DNS_SET_IDENTIFIER_MAX);

        r = converge_init(&c, p, publish);
        if (r < 0)
                return r;

        read_ahead = publish && p->read_ahead && p->read_ahead->done;
        if (!read_ahead)
                log_read_transition(p);
        do
                r = converge_round(&c, &read_ahead);
        while (r > 0);
        if (r < 0)
                return r;

        r = converge_finish(&c);
        if (r < 0)
                return r;
        if (ret) {
                *ret = c.result;
                c.result = (DnsResult) {};
        }
        return 0;
}

int dns_publish(const DnsPublish *p, DnsResult *ret) {
        return dns_converge(p, true, ret);
}

int dns_unpublish(const DnsPublish *p, DnsResult *ret) {
        return dns_converge(p, false, ret);
}
