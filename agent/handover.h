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
 * tag, launched after it) before it lets go. */

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

/* Sends the prompt to holder_ip (best effort: a lost datagram costs the
 * holder's next periodic look). Returns 0 or a negative errno. */
int handover_prompt(const char *holder_ip, const char *requester_id, const char *node_name);

/* The payload: "nodeagent-handover 1 <requester> <node>\n" (at most
 * size - 1 characters; pure). -EINVAL when an argument holds a blank. */
int handover_format_prompt(const char *requester_id, const char *node_name, char *buf, size_t size);
