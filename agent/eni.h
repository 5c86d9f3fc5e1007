/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What is particular to an ENI in the attach lifecycle (attach.h):
 * DescribeNetworkInterfaces, AttachNetworkInterface at DeviceIndex,
 * DetachNetworkInterface by attachment id, and the local side: the link
 * whose MAC address is the ENI's. Addresses and routes are netif's. */

#include "attach.h"
#include "config.h"
#include "ec2.h"
#include "netif.h"

typedef struct Eni {
        Attach attach;                  /* the lifecycle; attach.kind points back here */
        const ConfigInterface *config;

        Ec2NetworkInterface ec2;        /* as EC2 last described it */
        NetifLink link;                 /* once it showed up (eni_attach()) */
        char *replaced_ip;              /* Restore=create made it: the lost interface's address, which
                                         * DNS takes out where it puts the new one */

        /* Called right before each AttachNetworkInterface, with e->ec2 (the
         * MAC) known: what the host must know before the link appears (the
         * network managers' opt-outs, netif_prepare_managers()). Its
         * failures are its own to log; the attach goes on. May be NULL. */
        void (*before_attach)(struct Eni *e, void *userdata);

        /* Called once EC2 has accepted the attachment, before the wait for
         * the link: work that needs the ENI but not the link (the subnet's
         * CIDR, the record set) overlaps the seconds the attach takes. A
         * negative return ends eni_attach() with it. May be NULL. */
        int (*while_attaching)(struct Eni *e, void *userdata);
        void *userdata;

        /* The lifecycle's working state. */
        Ec2NetworkInterface *listed;
        size_t n_listed;
        NetifLinkWatch *watch;
} Eni;

void eni_init(Eni *e, const ConfigInterface *config, Path *path, AwsClient *aws, const char *instance_id,
              const char *availability_zone, usec_t deadline);
void eni_done(Eni *e);

/* Find, take over, attach at DeviceIndex, then wait for the link whose MAC
 * is the ENI's while EC2 is watched beside it. The link's arrival is the
 * proof of the attachment. */
int eni_attach(Eni *e);

/* For --attach-only: the same, up to EC2's "attached". */
int eni_attach_to_ec2(Eni *e);

/* Finds the ENI (Id= or Tag=, own AZ) into e->ec2. Never restores. */
int eni_find(Eni *e);

/* For --unpublish: the ENI whose address the node published, found as
 * eni_find() does except that the one in another zone (lost with it) is
 * kept too; and, when a Restore=create made it, the lost one's address in
 * e->replaced_ip (a boot killed before its DNS change left that one
 * published). Never restores. */
int eni_find_published(Eni *e);

/* The same as eni_find(), or where a boot would restore (Restore=create)
 * ATTACH_RESTORE_PLANNED and e->attach.restore_plan: for --check and
 * --status. */
int eni_find_or_plan(Eni *e);

/* Detaches the found ENI from this instance and waits until EC2 says it is
 * free. Nothing to do when it is not attached here. */
int eni_detach(Eni *e);

/* Whether EC2 reports the ENI attached (or attaching) to instance_id. */
bool eni_is_attached_to(const Ec2NetworkInterface *eni, const char *instance_id);
