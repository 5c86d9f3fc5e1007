/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The node's EBS volume as EC2 and the kernel see it: find it, take it over
 * from a predecessor, attach it, wait for its block device, detach it. The
 * filesystem on it is fs's. */

#include "aws.h"
#include "blockdev.h"
#include "config.h"
#include "ec2.h"
#include "path.h"

/* The volume's tags that are nodeagent's memory of it. INITIALIZED: it
 * holds our filesystem (value: its UUID); from then on a volume without a
 * filesystem is refused, never formatted. FORMAT_STARTED: set right before
 * our mkfs (value: the instance id), so that a volume with neither a
 * filesystem nor INITIALIZED but this tag is known to hold only an
 * interrupted mkfs of ours. */
#define VOLUME_TAG_INITIALIZED "nodeagent:initialized"
#define VOLUME_TAG_FORMAT_STARTED "nodeagent:format-started"

/* Finds the node's volume: by [Volume] Id=, or as the one volume carrying
 * [Volume] Tag= in the instance's own AZ. Logs why it fails:
 *   -ENOENT    no such volume
 *   -EXDEV     it is (they are all) in another AZ
 *   -ENOTUNIQ  several volumes carry the tag in this AZ (listed)
 * and the errors of ec2_describe_volumes(). */
int volume_find(AwsClient *aws, const ConfigVolume *config, const char *availability_zone,
                usec_t deadline, Ec2Volume *ret);

typedef struct VolumeAttach {
        Path *path;
        AwsClient *aws;
        const ConfigVolume *config;
        const char *instance_id;
        const char *availability_zone;
        usec_t deadline;

        /* What the tests make short; 0 keeps the defaults. */
        usec_t poll_first;      /* first DescribeVolumes poll, about a second */
        usec_t poll_max;        /* the cap of the backoff */
        usec_t stuck_after;     /* an attach still "attaching" after this is retried once (90 s) */
} VolumeAttach;

/* The volume path up to the proven device: find, take over (TakeOver=),
 * attach, then wait for the block device whose serial is the volume id,
 * while DescribeVolumes notices a failed or stuck attach. Each step is
 * logged and told to systemd through path_transition(); failures are logged
 * once, here. On success *ret_volume is the volume as last described and
 * *ret_device the proven device.
 *   -EBUSY    held by a live instance past TakeOverTimeout
 *   -ETIME    the deadline passed (the device never appeared)
 * and the errors of volume_find(). */
int volume_attach(const VolumeAttach *a, Ec2Volume *ret_volume, BlockDevice *ret_device);

/* For --attach-only: the same find, take over and attach, but it waits for
 * EC2's "attached" rather than for the device. */
int volume_attach_only(const VolumeAttach *a, Ec2Volume *ret_volume);

/* Detaches the volume from this instance and waits until EC2 says it is
 * available. Nothing to do when it is not attached here. */
int volume_detach(const VolumeAttach *a, const Ec2Volume *volume);

/* The attachment of the volume to instance_id, NULL when there is none. */
const Ec2VolumeAttachment *volume_attachment_of(const Ec2Volume *v, const char *instance_id);
