/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The node's address in Route 53, in the three shapes of [DNS] Mode=:
 *
 *   node        the simple A set Name= holds this node's IP alone; the node
 *               owns it, so an UPSERT is safe.
 *   multivalue  a multivalue-answer A set per node (SetIdentifier = the node
 *               name) holding its IP; each node owns its own set: UPSERT.
 *   shared      one simple A set holding every node's IP. Nodes change it
 *               concurrently, so every change is a compare-and-swap: one
 *               batch DELETE(the set exactly as read) + CREATE(the new set),
 *               which Route 53 refuses (InvalidChangeBatch) when anyone
 *               changed the set in between; then it is read again and the
 *               change rebuilt. An UPSERT here would drop the IPs others
 *               added since the read.
 *
 * Every publish looks first and changes only what is missing, so running it
 * again (a restart, a replacement with the same IP) costs one read. The pure
 * core (dns_plan() and the value helpers) decides; dns_publish() and
 * dns_unpublish() read, submit and retry around it. */

#include <stdbool.h>

#include "aws.h"
#include "config.h"
#include "path.h"
#include "route53.h"

typedef enum DnsAction {
        DNS_ACTION_NONE,        /* the set is already right */
        DNS_ACTION_UPSERT,      /* node, multivalue: the node's own set */
        DNS_ACTION_CREATE,      /* shared: there is no set yet */
        DNS_ACTION_REPLACE,     /* shared: DELETE(current) + CREATE(desired), one batch */
        DNS_ACTION_DELETE,      /* unpublish: DELETE(current), it held only this IP */
        _DNS_ACTION_MAX,
        _DNS_ACTION_INVALID = -EINVAL,
} DnsAction;

const char *dns_action_to_string(DnsAction a) _pure_;

/* What to do with the set as read. desired is owned (values sorted) and
 * filled for UPSERT, CREATE and REPLACE; empty (no name) otherwise. */
typedef struct DnsPlan {
        DnsAction action;
        Route53RecordSet desired;
} DnsPlan;

void dns_plan_done(DnsPlan *p);

/* The values plus ip, or minus ip, sorted (IPv4 addresses numerically) and
 * without duplicates. values may be NULL (no set). */
int dns_values_with(char *const *values, const char *ip, char ***ret);
int dns_values_without(char *const *values, const char *ip, char ***ret);

/* The values sorted (as above), as a new list. */
int dns_values_sorted(char *const *values, char ***ret);

/* "10.0.1.5, 10.0.1.6" for log lines, sorted like the sets this module
 * writes; "nothing" for no values. NULL on allocation failure. */
char *dns_values_join(char *const *values);

/* Whether ip is an IPv4 address in dotted form (what an A record holds). */
bool dns_ip_is_valid(const char *ip);

/* Route 53's limits on a SetIdentifier and on a batch comment. */
#define DNS_SET_IDENTIFIER_MAX 128U
#define DNS_COMMENT_MAX 256U

/* Whether two value lists hold the same values, in any order. */
bool dns_values_equal(char *const *a, char *const *b);

/* Whether two sets as read are the same for a DELETE (TTL, values in any
 * order, health check, policy); NULL is "no set". */
bool dns_record_set_same(const Route53RecordSet *a, const Route53RecordSet *b);

/* The pure decision. current is the set as read (NULL: there is none).
 * publish: the set should hold ip (with the configured TTL); else it
 * should not. node_name is the SetIdentifier in multivalue mode.
 *   -EOPNOTSUPP  current is an alias or has a routing policy this module
 *                cannot reproduce exactly (weighted, latency, ...)
 *   -EINVAL      bad arguments (ip not an IPv4 address, no node name in
 *                multivalue mode, ...) */
int dns_plan(const ConfigDns *config, const char *node_name, const char *ip, bool publish,
             const Route53RecordSet *current, DnsPlan *ret);

/* Publishing ip where old_ip was (the node's interface was restored in
 * another zone, with a new address): in shared mode old_ip leaves the set in
 * the same compare-and-swap batch that adds ip; the other modes replace the
 * node's own set anyway (dns_plan()). */
int dns_plan_replacing(const ConfigDns *config, const char *node_name, const char *ip, const char *old_ip,
                       const Route53RecordSet *current, DnsPlan *ret);

/* The changes of a plan, pointing into plan and current: 0, 1 or 2 of them. */
size_t dns_plan_changes(const DnsPlan *plan, const Route53RecordSet *current, Route53Change ret[static 2]);

/* The node's record set, read ahead of the publish (dns_read_ahead()). */
typedef struct DnsRead {
        bool done;                      /* the read was made */
        bool found;                     /* the set exists; then set holds it */
        Route53RecordSet set;
} DnsRead;

void dns_read_done(DnsRead *r);

typedef struct DnsPublish {
        Path *path;                     /* the story: read, change, insync, done */
        AwsClient *aws;
        const ConfigDns *config;
        const char *node_name;          /* SetIdentifier (multivalue), change comments */
        const char *ip;
        usec_t deadline;

        /* A read made ahead (may be NULL): dns_publish() starts from it
         * instead of reading, and takes its set. A compare-and-swap built
         * on it is refused if the set changed since; then it reads again. */
        DnsRead *read_ahead;

        /* The address ip replaces (a restored interface's lost one), taken
         * out in the same batch; NULL: none. */
        const char *replaces_ip;
} DnsPublish;

typedef struct DnsResult {
        DnsAction action;               /* what the last change did; NONE: nothing was changed */
        char *change_id;                /* NULL when nothing was sent or its reply was lost */
        bool in_sync;                   /* GetChange said INSYNC (WaitInSync=yes) */
        unsigned n_changes;             /* batches sent, refused ones included */
        unsigned n_conflicts;           /* batches refused because the set had changed */
        char **values;                  /* the set's values afterwards, sorted; empty: no set */
        int64_t ttl;                    /* the set's TTL afterwards, -1 when there is no set */
} DnsResult;

void dns_result_done(DnsResult *r);

/* Makes the record hold p->ip as [DNS] Mode= says, then (WaitInSync=yes)
 * waits until Route 53 reports the change INSYNC. Each state (read, change,
 * insync, done) is told through path_transition(); a failure is logged
 * once, here, with path_fail(). There is no count of attempts: in one
 * shared set a fleet booting at once loses race after race until its turn,
 * and the deadline decides.
 * ret may be NULL; it is untouched on failure.
 *   -EOPNOTSUPP  the set is an alias or has another routing policy
 *   -EREMOTEIO   Route 53 refused the change (its message is logged)
 *   -ETIME       the deadline passed
 *   -ENOENT      the hosted zone does not exist
 *   -ECANCELED   another path failed (path_cancelled()) during a wait
 * and the errors of the route53 calls (-EACCES, ...). */
int dns_publish(const DnsPublish *p, DnsResult *ret);

/* The first step of dns_publish() alone, for a caller that has time to
 * spare before it may publish (the volume is still attaching): the read is
 * then off the critical path. Logged as the path's "read" step. Errors as
 * dns_publish()'s reading. */
int dns_read_ahead(const DnsPublish *p, DnsRead *ret);

/* The reverse, on release: takes p->ip out of the shared set (deleting the
 * set when it was the last IP), or deletes the node's own set (node,
 * multivalue) while it still holds exactly p->ip, since a set that points
 * elsewhere now belongs to a successor. Nothing to do is success. */
int dns_unpublish(const DnsPublish *p, DnsResult *ret);
