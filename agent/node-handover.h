/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The node's part of a handover (DESIGN.md, "Handover"; handover.h holds
 * the request, the holder's look and its judgement):
 *
 *   the release     the holder lets go of everything the node has, whatever
 *                   DetachOnStop= says: every volume unmounted (nested mount
 *                   points first), every resource tagged
 *                   nodeagent:handed-over-by=<this instance> and
 *                   nodeagent:handover-to=<the requester>, every one detached
 *                   (the detaches sent together, then waited for until EC2
 *                   says detached). The DNS record stays: the address moves
 *                   with the ENI.
 *   the boot check  a daemon started again on an instance that handed the
 *                   node over does not take it back: it releases what is
 *                   still attached here (a release killed half-way) and
 *                   exits 0 without READY.
 *
 * The tags go on after the unmounts and before the first detach: a
 * release that fails to unmount has given nothing away and the node keeps
 * serving, and one killed after the tags is finished by the boot check. */

#include "node.h"

/* Whether any resource of the node has TakeOver=handover: only then does
 * the daemon listen for requests, and only then does the boot look for a
 * handover of its own. */
bool node_handover_enabled(const Node *n);

/* Releases the node's resources to the instance to (found and attached by
 * this boot). 0 when every one is detached, else a failure it has logged. */
int node_handover_release(Node *n, const char *to);

/* Before the boot: 1 when this instance handed the node over to a running
 * instance of the node launched after it (what was still attached here is
 * released now: the boot must exit 0 without READY), 0 to boot as usual,
 * or a failure it has logged. */
int node_handover_boot_check(Node *n);
