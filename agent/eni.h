/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The node's network interface (ENI) as EC2 sees it: find it, take it over
 * from a predecessor, attach it. The kernel side is in netif. */

#include "aws.h"
#include "config.h"
#include "ec2.h"

/* Finds the node's ENI: by [Interface] Id=, or as the one ENI carrying
 * [Interface] Tag= in the instance's own AZ. Errors as volume_find(). */
int eni_find(AwsClient *aws, const ConfigInterface *config, const char *availability_zone,
             usec_t deadline, Ec2NetworkInterface *ret);
