/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The node's EBS volume: find it, take it over from a predecessor, attach
 * it, wait for it. */

#include "aws.h"
#include "config.h"
#include "ec2.h"

/* Finds the node's volume: by [Volume] Id=, or as the one volume carrying
 * [Volume] Tag= in the instance's own AZ. Logs why it fails:
 *   -ENOENT    no such volume
 *   -EXDEV     it is (they are all) in another AZ
 *   -ENOTUNIQ  several volumes carry the tag in this AZ (listed)
 * and the errors of ec2_describe_volumes(). */
int volume_find(AwsClient *aws, const ConfigVolume *config, const char *availability_zone,
                usec_t deadline, Ec2Volume *ret);
