/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The one CloudFormation action the agent needs: SignalResource, the
 * "this instance is up" (or "is not") that a CreationPolicy or an
 * UpdatePolicy with WaitOnResourceSignals waits for. Names on the wire follow
 * botocore's model (cloudformation 2010-05-15, Query protocol). */

#include <stdbool.h>

#include "aws.h"

/* Sends SUCCESS (success true) or FAILURE for logical_resource_id in stack
 * (a name or a stack id), with unique_id the instance id, as CloudFormation
 * asks of instances and Auto Scaling groups. Returns:
 *   0            the signal was accepted
 *   -EALREADY    CloudFormation already holds a signal with this unique id
 *                (an earlier run of the agent sent it)
 *   -ESRCH       nothing waits for a signal: the stack or the resource is not
 *                in a state that can be signalled ("... is in UPDATE_COMPLETE
 *                state and cannot be signaled"), the normal answer when an
 *                instance is replaced outside a stack operation
 *   others       as aws_query_call(): -EACCES when not allowed, -EREMOTEIO for
 *                any other refusal (an unknown stack or resource, ...)
 * ret_error (may be NULL, else initialized) describes the error reply, also
 * for -EALREADY and -ESRCH. */
int cloudformation_signal_resource(AwsClient *c, const char *stack, const char *logical_resource_id,
                                   const char *unique_id, bool success, usec_t deadline, AwsError *ret_error);
