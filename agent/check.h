/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* nodeagent --check: validates the configuration, the identity and the IAM
 * permissions (EC2 DryRun), and prints the plan. Changes nothing. */

#include "config.h"
#include "instance.h"

/* Prints the plan to stdout. Returns 0 when the boot could proceed,
 * -EACCES when a permission is missing, the errors of volume_find() and
 * eni_find() when a resource is unusable, or another negative errno. */
int check_run(const Config *config, Instance *instance, usec_t deadline);
