/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The EC2 actions the agent needs, typed. Names on the wire follow the EC2
 * model (botocore's service-2.json): requests use the members' locationName
 * with a capital first letter and lists as Name.1, Name.2; replies use the
 * locationName as is (volumeSet/item, tagSet/item, ...).
 *
 * Every call takes dry_run: with it, EC2 checks permissions and answers
 * DryRunOperation when the call would have succeeded; the call then returns
 * 0 and its results are empty (no items, NULL strings). Errors are those of
 * aws_query_call(); ret_error (may be NULL, else initialized) receives the AWS
 * error of a failed call. Describe* calls follow NextToken to the end. */

#include <stdbool.h>
#include <stdint.h>

#include "aws.h"

typedef struct Ec2Tag {
        char *key;
        char *value;
} Ec2Tag;

/* A filter of a Describe* call: name such as "availability-zone",
 * "tag:Cluster" or "attachment.instance-id"; values NULL-terminated. */
typedef struct Ec2Filter {
        const char *name;
        const char *const *values;
} Ec2Filter;

/* Splits a configured "Key=Value" tag into a filter name "tag:Key" and
 * value "Value". -EINVAL when there is no '=' or the key is empty. */
int ec2_tag_filter_from_string(const char *s, char **ret_name, char **ret_value);

/* The value of key among tags; NULL when absent. */
const char *ec2_tags_get(const Ec2Tag *tags, size_t n_tags, const char *key);

typedef struct Ec2VolumeAttachment {
        char *volume_id;
        char *instance_id;
        char *device;
        char *state;            /* attaching, attached, detaching, detached, busy */
} Ec2VolumeAttachment;

void ec2_volume_attachment_done(Ec2VolumeAttachment *a);

typedef struct Ec2Volume {
        char *id;
        char *az;
        uint64_t size_gib;
        char *state;            /* creating, available, in-use, deleting, deleted, error */
        char *volume_type;      /* gp3, gp2, io2, ...; NULL when not said */
        uint64_t iops;          /* 0 when not said (magnetic, or an old gp2 reply) */
        uint64_t throughput;    /* MiB/s; 0 when not said (only gp3 has it) */
        char *snapshot_id;      /* the snapshot it was made from; NULL when none */
        bool encrypted;
        char *kms_key_id;       /* the ARN of the key that encrypts it; NULL when not encrypted */
        Ec2VolumeAttachment *attachments;
        size_t n_attachments;
        Ec2Tag *tags;
        size_t n_tags;
} Ec2Volume;

void ec2_volume_done(Ec2Volume *v);
Ec2Volume *ec2_volumes_free(Ec2Volume *v, size_t n);

typedef struct Ec2NetworkInterfaceAttachment {
        char *id;               /* NULL when not attached */
        char *instance_id;
        int device_index;       /* -1 when unknown */
        char *status;           /* attaching, attached, detaching, detached */
} Ec2NetworkInterfaceAttachment;

typedef struct Ec2NetworkInterface {
        char *id;
        char *subnet_id;
        char *vpc_id;
        char *az;
        char *mac;
        char *private_ip;       /* the primary private IPv4 address */
        char **secondary_ips;   /* NULL-terminated; never NULL */
        char *status;           /* available, associated, attaching, in-use, detaching */
        char *description;      /* NULL when it has none */
        char **security_groups; /* the ids of its groups; NULL-terminated, never NULL */
        Ec2NetworkInterfaceAttachment attachment;
        Ec2Tag *tags;
        size_t n_tags;
} Ec2NetworkInterface;

void ec2_network_interface_done(Ec2NetworkInterface *n);
Ec2NetworkInterface *ec2_network_interfaces_free(Ec2NetworkInterface *n, size_t k);

typedef struct Ec2Subnet {
        char *id;
        char *cidr;
        char *az;
        char *vpc_id;
} Ec2Subnet;

void ec2_subnet_done(Ec2Subnet *s);
Ec2Subnet *ec2_subnets_free(Ec2Subnet *s, size_t n);

typedef struct Ec2Instance {
        char *id;
        char *state;            /* pending, running, shutting-down, terminated, stopping, stopped */
        char *az;
        char *private_ip;
        char *subnet_id;
        char *launch_time;      /* ISO 8601, as EC2 writes it */
        char **block_devices;   /* the device names of its block-device mappings; NULL-terminated, never NULL */
        Ec2Tag *tags;
        size_t n_tags;
} Ec2Instance;

void ec2_instance_done(Ec2Instance *i);
Ec2Instance *ec2_instances_free(Ec2Instance *i, size_t n);

/* ids is NULL-terminated (NULL or empty: no id filter); filters may be NULL
 * when n_filters is 0. On success *ret_volumes (NULL when none) holds
 * *ret_n volumes. */
int ec2_describe_volumes(AwsClient *c, const char *const *ids, const Ec2Filter *filters, size_t n_filters,
                         bool dry_run, usec_t deadline, AwsError *ret_error,
                         Ec2Volume **ret_volumes, size_t *ret_n);

/* ret_attachment may be NULL; it gets the attachment as EC2 reports it
 * right after the call (state "attaching"). */
int ec2_attach_volume(AwsClient *c, const char *volume_id, const char *instance_id, const char *device,
                      bool dry_run, usec_t deadline, AwsError *ret_error, Ec2VolumeAttachment *ret_attachment);

/* instance_id may be NULL (detach from whoever holds it). force detaches
 * without waiting for the instance to let go (its cache is lost); use only
 * on a holder that is stopped or gone. */
int ec2_detach_volume(AwsClient *c, const char *volume_id, const char *instance_id, bool force,
                      bool dry_run, usec_t deadline, AwsError *ret_error, Ec2VolumeAttachment *ret_attachment);

int ec2_describe_network_interfaces(AwsClient *c, const char *const *ids, const Ec2Filter *filters,
                                    size_t n_filters, bool dry_run, usec_t deadline, AwsError *ret_error,
                                    Ec2NetworkInterface **ret_interfaces, size_t *ret_n);

/* *ret_attachment_id (may be NULL) is the new attachment's id, NULL with
 * dry_run. */
int ec2_attach_network_interface(AwsClient *c, const char *eni_id, const char *instance_id,
                                 unsigned device_index, unsigned network_card_index, bool dry_run, usec_t deadline,
                                 AwsError *ret_error, char **ret_attachment_id);

int ec2_detach_network_interface(AwsClient *c, const char *attachment_id, bool force, bool dry_run,
                                 usec_t deadline, AwsError *ret_error);

int ec2_describe_subnets(AwsClient *c, const char *const *ids, bool dry_run, usec_t deadline,
                         AwsError *ret_error, Ec2Subnet **ret_subnets, size_t *ret_n);

/* Flattens reservations into instances. */
int ec2_describe_instances(AwsClient *c, const char *const *ids, const Ec2Filter *filters, size_t n_filters,
                           bool dry_run, usec_t deadline, AwsError *ret_error,
                           Ec2Instance **ret_instances, size_t *ret_n);

int ec2_create_tags(AwsClient *c, const char *const *resource_ids, const Ec2Tag *tags, size_t n_tags,
                    bool dry_run, usec_t deadline, AwsError *ret_error);

/* ---- making new resources (ec2-create.c): restoring a lost volume or ENI ---- */

typedef struct Ec2Snapshot {
        char *id;
        char *volume_id;        /* the volume it was taken of */
        char *state;            /* pending, completed, error, recoverable, recovering */
        char *start_time;       /* ISO 8601 as EC2 writes it: compares in time order as a string */
        uint64_t size_gib;
        bool encrypted;
        char *kms_key_id;
        Ec2Tag *tags;
        size_t n_tags;
} Ec2Snapshot;

void ec2_snapshot_done(Ec2Snapshot *s);
Ec2Snapshot *ec2_snapshots_free(Ec2Snapshot *s, size_t n);

/* This account's snapshots (Owner=self), by ids and/or filters. */
int ec2_describe_snapshots(AwsClient *c, const char *const *ids, const Ec2Filter *filters, size_t n_filters,
                           bool dry_run, usec_t deadline, AwsError *ret_error, Ec2Snapshot **ret_snapshots,
                           size_t *ret_n);

/* What a new volume is made of. Unset members are left to EC2 (0, NULL,
 * false). client_token makes the call idempotent: the same token within
 * 24 h answers with the volume it made the first time. */
typedef struct Ec2NewVolume {
        const char *availability_zone;
        const char *snapshot_id;        /* NULL: blank */
        uint64_t size_gib;              /* 0: the snapshot's */
        const char *volume_type;
        uint64_t iops;
        uint64_t throughput;
        bool encrypted;
        const char *kms_key_id;
        const Ec2Tag *tags;             /* its tags from the start (TagSpecification) */
        size_t n_tags;
        const char *client_token;
} Ec2NewVolume;

/* On success *ret (may be NULL) is the volume as CreateVolume answered
 * (state "creating"). */
int ec2_create_volume(AwsClient *c, const Ec2NewVolume *v, bool dry_run, usec_t deadline, AwsError *ret_error,
                      Ec2Volume *ret);

typedef struct Ec2NewNetworkInterface {
        const char *subnet_id;
        const char *description;
        char *const *security_group_ids;        /* NULL-terminated; NULL: the VPC's default */
        const Ec2Tag *tags;
        size_t n_tags;
        const char *client_token;
} Ec2NewNetworkInterface;

int ec2_create_network_interface(AwsClient *c, const Ec2NewNetworkInterface *n, bool dry_run, usec_t deadline,
                                 AwsError *ret_error, Ec2NetworkInterface *ret);
