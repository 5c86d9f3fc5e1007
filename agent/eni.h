/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The node's network interface (ENI) as EC2 and the kernel see it: find it,
 * take it over from a predecessor, attach it at DeviceIndex, wait for its
 * link, detach it. Addresses and routes are netif's. */

#include "aws.h"
#include "config.h"
#include "ec2.h"
#include "netif.h"
#include "path.h"

/* Finds the node's ENI: by [Interface] Id=, or as the one ENI carrying
 * [Interface] Tag= in the instance's own AZ. Errors as volume_find(). */
int eni_find(AwsClient *aws, const ConfigInterface *config, const char *availability_zone,
             usec_t deadline, Ec2NetworkInterface *ret);

typedef struct EniAttach {
        Path *path;
        AwsClient *aws;
        const ConfigInterface *config;
        const char *instance_id;
        const char *availability_zone;
        usec_t deadline;

        usec_t poll_first;      /* 0: about a second */
        usec_t poll_max;        /* 0: 5 s */

        /* Called once EC2 has accepted the attachment (or found it made),
         * before the wait for the link: work that needs the ENI but not the
         * link (the subnet's CIDR) overlaps the seconds the attach takes.
         * A negative return ends eni_attach() with it. May be NULL. */
        int (*while_attaching)(const Ec2NetworkInterface *eni, void *userdata);
        void *userdata;
} EniAttach;

/* Find, take over, attach at DeviceIndex, then wait for the link whose MAC
 * is the ENI's while DescribeNetworkInterfaces notices a failed attach. The
 * link's arrival is the proof of the attachment. */
int eni_attach(const EniAttach *a, Ec2NetworkInterface *ret_eni, NetifLink *ret_link);

/* For --attach-only: find, take over, attach, and wait for EC2's "attached". */
int eni_attach_only(const EniAttach *a, Ec2NetworkInterface *ret_eni);

/* Detaches the ENI from this instance and waits until EC2 says it is free. */
int eni_detach(const EniAttach *a, const Ec2NetworkInterface *eni);

/* Whether EC2 reports the ENI attached (or attaching) to instance_id. */
bool eni_is_attached_to(const Ec2NetworkInterface *eni, const char *instance_id);
