/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What is particular to an EBS volume in the attach lifecycle (attach.h):
 * DescribeVolumes, AttachVolume and DetachVolume, the attachment's states,
 * and the local side: the block device whose serial is the volume id. The
 * filesystem on it is fs's. */

#include "attach.h"
#include "blockdev.h"
#include "config.h"
#include "ec2.h"

/* The volume's tags that are nodeagent's memory of it. INITIALIZED: it
 * holds our filesystem (value: its UUID); from then on a volume without a
 * filesystem is refused, never formatted. FORMAT_STARTED: set right before
 * our mkfs (value: the instance id), so that a volume with neither a
 * filesystem nor INITIALIZED but this tag is known to hold only an
 * interrupted mkfs of ours. */
#define VOLUME_TAG_INITIALIZED "nodeagent:initialized"
#define VOLUME_TAG_FORMAT_STARTED "nodeagent:format-started"

typedef struct Volume {
        Attach attach;                  /* the lifecycle; attach.kind points back here */
        const ConfigVolume *config;

        Ec2Volume ec2;                  /* as EC2 last described it */
        BlockDevice device;             /* once proven (volume_attach()) */
        char *device_name;              /* the name it is attached as: Device=, or picked (Device=auto),
                                         * or the attachment's when it was attached already */
        bool device_name_picked;        /* picked from devname.h's registry: released at the end */

        /* The lifecycle's working state. */
        Ec2Volume *listed;
        size_t n_listed;
        BlockdevWatch *watch;
} Volume;

/* Sets up v for the volume of config, on path, for this instance. Nothing
 * is asked of EC2 yet. */
void volume_init(Volume *v, const ConfigVolume *config, Path *path, AwsClient *aws, const char *instance_id,
                 const char *availability_zone, usec_t deadline);
void volume_done(Volume *v);

/* Makes v the member at place k of its section's striped set: by Id=, its
 * own id; by Tag= + Count=, its place among the tagged volumes (by id). A
 * section of one volume is left as volume_init() made it. */
void volume_set_member(Volume *v, size_t k);

/* The volume path up to the proven device: find, take over (TakeOver=),
 * attach, then wait for the block device whose serial is the volume id
 * while EC2 is watched beside it (attach.h). On success v->ec2 is the
 * volume as last described and v->device the proven device. */
int volume_attach(Volume *v);

/* The second half of a member's attach (attach_start() did the first):
 * waits for its proven device. */
int volume_attach_complete(Volume *v);

/* For --attach-only: the same, up to EC2's "attached". */
int volume_attach_to_ec2(Volume *v);

/* Finds the volume (Id= or Tag=, own AZ) into v->ec2. Never restores. */
int volume_find(Volume *v);

/* The same, or where a boot would restore (Restore=) ATTACH_RESTORE_PLANNED
 * and v->attach.restore_plan: for --check and --status. */
int volume_find_or_plan(Volume *v);

/* Detaches the found volume from this instance and waits until EC2 says it
 * is free. Nothing to do when it is not attached here. */
int volume_detach(Volume *v);

/* The volume's operations of the attach lifecycle (for tests, which
 * replace the local side). */
const AttachOps *volume_attach_ops(void);

/* The attachment of the volume to instance_id, NULL when there is none. */
const Ec2VolumeAttachment *volume_attachment_of(const Ec2Volume *v, const char *instance_id);
