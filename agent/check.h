/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* nodeagent --check: validates the configuration, the identity and the IAM
 * permissions (EC2 DryRun), and prints the plan. Changes nothing. */

#include "config.h"
#include "exit-status.h"
#include "instance.h"

/* Prints the plan to stdout. Returns 0 when the boot could proceed, else a
 * negative errno with *ret_failure the kind: AWS refused (a permission is
 * missing), unusable (a resource that is not there), other. */
int check_run(const Config *config, Instance *instance, usec_t deadline, FailureKind *ret_failure);
