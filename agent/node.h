/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The boot sequence of one node: the volume path and the interface path
 * under one deadline, then readiness. And the manual modes that share its
 * steps: --attach-only, --detach, --status. */

#include "blockdev.h"
#include "config.h"
#include "dns.h"
#include "ec2.h"
#include "netif.h"
#include "fs.h"
#include "instance.h"
#include "path.h"
#include "signals.h"

typedef struct Node {
        const Config *config;
        Instance *instance;
        usec_t deadline;
        const char *name;               /* [Node] Name=, else the instance id */

        /* Each path runs in a thread of its own with an AWS client of its
         * own; both are the instance's client when they run one by one. */
        AwsClient *volume_aws;
        AwsClient *interface_aws;

        Path volume_path;
        Ec2Volume volume;
        BlockDevice device;
        FsSetupResult fs;

        Path interface_path;
        Ec2NetworkInterface eni;
        NetifLink link;
        bool have_link;
        char *subnet_cidr;              /* read while the ENI attaches */

        Path dns_path;
        DnsRead dns_read;               /* read while the volume attaches */

        /* The readiness signals; the main thread sends their heartbeats
         * while the paths run. NULL: none. */
        Signal *signal;
} Node;

void node_init(Node *n, const Config *config, Instance *instance, usec_t deadline);
void node_done(Node *n);

/* The boot sequence; on success the state file is written. */
int node_boot(Node *n);

/* Attaches what is configured, waits for EC2's "attached", prints what is
 * where. */
int node_attach_only(Node *n);

/* Unmounts and detaches the volume. */
int node_detach(Node *n);

/* Prints what is attached and mounted now. */
int node_status(Node *n);
