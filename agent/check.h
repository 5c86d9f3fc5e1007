/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* nodeagent --check: validates the configuration, the identity and the IAM
 * permissions (EC2 DryRun; the reads of KMS and Auto Scaling, which have no
 * DryRun), looks for what would fail a boot in the field (an encrypted
 * volume's KMS key that is not enabled, an instance maintenance policy that
 * deadlocks the hand-over, a launch hook that times out before the boot),
 * and prints the plan. Changes nothing. */

#include "config.h"
#include "exit-status.h"
#include "instance.h"

/* Prints the plan to stdout. Returns 0 when the boot could proceed, else a
 * negative errno with *ret_failure the kind: AWS refused (a permission is
 * missing: exit 3, before anything else), unusable (a resource that is not
 * there, or a finding: a resource or setting that would fail the boot:
 * exit 4), other. */
int check_run(const Config *config, Instance *instance, usec_t deadline, FailureKind *ret_failure);
