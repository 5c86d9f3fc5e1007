/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Handover (DESIGN.md, "Handover"; TakeOver=handover): a new instance of a
 * node asks the live instance that holds the node's volumes and ENI to let
 * go, instead of waiting for its end.
 *
 * The request is a tag on each resource, nodeagent:handover-to=<the new
 * instance>, and a prompt: one UDP datagram to the holder's private
 * address, which only makes the holder look at its resources' tags now
 * (it looks every minute anyway). The holder believes nothing the datagram
 * says: it verifies the requester against EC2 (running, the same node's
 * tag, launched after it, and the newest running instance of the node)
 * before it lets go.
 *
 * This file holds both sides' pieces that are not the attach lifecycle's
 * or the node's: the prompt, the holder's look and its judgement (pure,
 * handover_judge()), the listener, the own systemd unit. The release
 * itself, and the boot's check that a node handed over is not taken back,
 * are the node's (node-handover.c). */

#include <stdbool.h>

#include "ec2.h"

/* The tags of a handover, and the node tag the node template gives every
 * instance it launches. */
#define HANDOVER_TAG_TO "nodeagent:handover-to"
#define HANDOVER_TAG_BY "nodeagent:handed-over-by"
#define HANDOVER_TAG_NODE "nodeagent:node"

/* The prompt's UDP port; the cluster's security group allows it between
 * nodes only. */
#define HANDOVER_PORT 7465

/* How often the holder looks at its resources' tags without a prompt (a
 * lost datagram, a network partition between the two instances). */
#define HANDOVER_LOOK_INTERVAL_USEC (60 * USEC_PER_SEC)

/* For tests only: a duration ("2s") that replaces HANDOVER_LOOK_INTERVAL_USEC.
 * Not a configuration key: nothing in production needs another period. */
#define HANDOVER_TEST_INTERVAL_ENV "NODEAGENT_TEST_HANDOVER_INTERVAL"

/* ---- the request (the new instance) ---- */

/* Sends the prompt to holder_ip (best effort: a lost datagram costs the
 * holder's next periodic look). Returns 0 or a negative errno. */
int handover_prompt(const char *holder_ip, const char *requester_id, const char *node_name);

/* The payload: "nodeagent-handover 1 <requester> <node>\n" (at most
 * size - 1 characters; pure). -EINVAL when an argument holds a blank. */
int handover_format_prompt(const char *requester_id, const char *node_name, char *buf, size_t size);

/* The other way round, for the holder's log only: 0 and the two words, or
 * -EBADMSG for anything else (pure). */
int handover_parse_prompt(const char *buf, size_t size, char **ret_requester, char **ret_node);

/* Whether a requester that finds the resource free during a handover
 * should leave it to another one: 1 and *ret_newer when a running instance
 * of node_name launched after self exists (only the newest running
 * instance of a node gets it; the holder judges the same way), 0 when self
 * may attach it, a negative errno when EC2 could not say (then it may). */
int handover_newer_requester(AwsClient *aws, const char *self_id, const char *node_name, usec_t deadline,
                             char **ret_newer);

/* ---- the holder (its daemon after READY) ---- */

/* How the holder judges a requester named by a handover-to tag. */
typedef enum HandoverVerdict {
        HANDOVER_ACCEPT,
        HANDOVER_UNKNOWN,               /* EC2 does not know the instance */
        HANDOVER_NOT_RUNNING,
        HANDOVER_OTHER_NODE,            /* its nodeagent:node tag is not this node's name */
        HANDOVER_NOT_LATER,             /* launched before this instance, with it, or at a time EC2 does not say */
        HANDOVER_NOT_NEWEST,            /* a running instance of the node was launched after it */
        _HANDOVER_VERDICT_MAX,
} HandoverVerdict;

/* "is not running", ...: for "refusing the handover to i-...: it %s". */
const char *handover_verdict_to_string(HandoverVerdict v) _pure_;

/* What the holder knows of a request when it judges it. */
typedef struct HandoverFacts {
        const char *node_name;                  /* this node's [Node] Name= */
        usec_t self_launch;                     /* this instance's launch time */
        const Ec2Instance *requester;           /* as EC2 describes it; NULL: EC2 does not know it */
        const Ec2Instance *node_instances;      /* the running instances carrying the node's tag */
        size_t n_node_instances;
} HandoverFacts;

/* The judgement (pure): the requester is running, carries nodeagent:node =
 * the node's name, was launched after this instance, and no running
 * instance of the node was launched after it. */
HandoverVerdict handover_judge(const HandoverFacts *f);

/* EC2's launchTime, "2024-01-01T00:00:00.000Z" (the fraction optional), as
 * microseconds since the epoch (pure). -EBADMSG for anything else. */
int handover_parse_time(const char *s, usec_t *ret);

/* The holder's state from one look to the next. */
typedef struct HandoverHolder {
        AwsClient *aws;
        const char *instance_id;
        const char *node_name;
        usec_t launch_time;             /* this instance's; 0 until read */
        char **refused;                 /* "<id> <verdict>" already logged at notice level (NULL-terminated) */
        size_t n_refused;
} HandoverHolder;

void handover_holder_done(HandoverHolder *h);

/* One look at the resources' tags (volume_ids NULL-terminated, eni_id may
 * be NULL): a handover-to naming another instance is judged against EC2.
 * 1 and *ret_requester when one is accepted; 0 when none asks or none
 * passes (each refusal logged once at notice level); a negative errno when
 * EC2 could not be asked (logged at debug level: the next look tries
 * again). */
int handover_look(HandoverHolder *h, const char *const *volume_ids, const char *eni_id, usec_t deadline,
                  char **ret_requester);

/* For the boot's check (node-handover.c): whether this instance handed the
 * node over and that handover stands. Looks for the volumes and interfaces
 * tagged nodeagent:handed-over-by=<this instance>; 1 and *ret_to when one of
 * them names in handover-to a running instance of the node launched after
 * this one; 0 when none does; a negative errno when EC2 could not say. */
int handover_given(HandoverHolder *h, usec_t deadline, char **ret_to);

/* The interval of the periodic look (HANDOVER_LOOK_INTERVAL_USEC, or the
 * test's). */
usec_t handover_look_interval(void);

/* The listener: a UDP socket bound to 0.0.0.0:HANDOVER_PORT, close-on-exec
 * and non-blocking, or a negative errno. */
int handover_listen(void);

/* Reads every datagram waiting on the listener (each only logged, at debug
 * level): the number read, or a negative errno. */
int handover_drain(int fd);

/* The systemd service this process is the main process of: 1 and *ret
 * ("nodeagent.service"), or 0 when it runs outside systemd (or as anything
 * but a service's main process: a test, a shell). */
int handover_own_unit(char **ret);

/* Asks systemd to stop unit the way `systemctl stop` does (the units that
 * require it first, then SIGTERM to us), without waiting for it. */
int handover_stop_unit(const char *unit);
