/* SPDX-License-Identifier: Apache-2.0 */
/* The EC2 calls that make new resources, for a node whose volume or ENI is
 * lost with its availability zone: its snapshots, CreateVolume (blank or
 * from a snapshot) and CreateNetworkInterface. */
#include <inttypes.h>
#include <stdio.h>

#include "ec2-internal.h"
#include "log.h"

void ec2_snapshot_done(Ec2Snapshot *s) {
        if (!s)
                return;
        free(s->id);
        free(s->volume_id);
        free(s->state);
        free(s->start_time);
        free(s->kms_key_id);
        ec2_tags_free(s->tags, s->n_tags);
        *s = (Ec2Snapshot) {};
}

Ec2Snapshot *ec2_snapshots_free(Ec2Snapshot *s, size_t n) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < n; i++)
                ec2_snapshot_done(&s[i]);
        free(s);
        return NULL;
}

static int parse_uint64(const XmlNode *n, const char *path, uint64_t *ret) {
        const char *t = xml_path_text(n, path);
        char *end = NULL;
        unsigned long long v;

        *ret = 0;
        if (isempty(t))
                return 0;
        errno = 0;
        v = strtoull(t, &end, 10);
        if (errno != 0 || !end || *end != '\0' || t[0] == '-')
                return log_debug_errno(EBADMSG, "EC2 reply: %s is not a number: \"%s\".", path, t);
        *ret = v;
        return 0;
}

static int parse_snapshot(const XmlNode *n, Ec2Snapshot *s) {
        int r;

        if (!xml_child(n, "snapshotId"))
                return log_debug_errno(EBADMSG, "DescribeSnapshots reply has a snapshot without snapshotId.");
        r = ec2_dup_text(n, "snapshotId", &s->id);
        if (r >= 0)
                r = ec2_dup_text(n, "volumeId", &s->volume_id);
        if (r >= 0)
                r = ec2_dup_text(n, "status", &s->state);
        if (r >= 0)
                r = ec2_dup_text(n, "startTime", &s->start_time);
        if (r >= 0)
                r = ec2_dup_text(n, "kmsKeyId", &s->kms_key_id);
        if (r >= 0)
                r = parse_uint64(n, "volumeSize", &s->size_gib);
        if (r < 0)
                return r;
        s->encrypted = streq_ptr(xml_path_text(n, "encrypted"), "true");
        return ec2_parse_tags(n, &s->tags, &s->n_tags);
}

static void snapshot_done_cb(void *p) {
        ec2_snapshot_done(p);
}
static int snapshot_parse_cb(const XmlNode *n, void *p) {
        return parse_snapshot(n, p);
}

static const Ec2ItemType snapshot_items = {
        .size = sizeof(Ec2Snapshot),
        .list_name = "snapshotSet",
        .parse = snapshot_parse_cb,
        .done = snapshot_done_cb,
};

int ec2_describe_snapshots(AwsClient *c, const char *const *ids, const Ec2Filter *filters, size_t n_filters,
                           bool dry_run, usec_t deadline, AwsError *ret_error, Ec2Snapshot **ret_snapshots,
                           size_t *ret_n) {
        _cleanup_(ec2_items_done) Ec2Items items = { .type = &snapshot_items };
        _cleanup_(aws_params_done) AwsParams owner = {};
        int r;

        if (!ret_snapshots || !ret_n)
                return -EINVAL;
        /* Only this account's: anyone may share snapshots with it. */
        r = aws_params_add(&owner, "Owner.1", "self");
        if (r < 0)
                return r;
        r = ec2_describe_items(c, "DescribeSnapshots", "SnapshotId", ids, filters, n_filters, &owner, dry_run,
                               deadline, ret_error, &items);
        if (r < 0)
                return r;
        *ret_snapshots = ec2_items_steal(&items, ret_n);
        return 0;
}

/* TagSpecification.1 for a resource type: the tags it is born with. */
static int add_tag_specification(AwsParams *p, const char *resource_type, const Ec2Tag *tags, size_t n_tags) {
        int r;

        if (n_tags == 0)
                return 0;
        r = aws_params_add(p, "TagSpecification.1.ResourceType", resource_type);
        for (size_t i = 0; r >= 0 && i < n_tags; i++) {
                r = aws_params_addf(p, tags[i].key, "TagSpecification.1.Tag.%zu.Key", i + 1);
                if (r >= 0)
                        r = aws_params_addf(p, strempty(tags[i].value), "TagSpecification.1.Tag.%zu.Value", i + 1);
        }
        return r;
}

static int add_uint64(AwsParams *p, const char *name, uint64_t v) {
        char buf[32];

        if (v == 0)
                return 0;
        (void) snprintf(buf, sizeof(buf), "%" PRIu64, v);
        return aws_params_add(p, name, buf);
}

static int add_if(AwsParams *p, const char *name, const char *value) {
        return isempty(value) ? 0 : aws_params_add(p, name, value);
}

static int new_volume_params(const Ec2NewVolume *v, bool dry_run, AwsParams *p) {
        int r;

        r = aws_params_add(p, "AvailabilityZone", v->availability_zone);
        if (r >= 0)
                r = add_if(p, "SnapshotId", v->snapshot_id);
        if (r >= 0)
                r = add_uint64(p, "Size", v->size_gib);
        if (r >= 0)
                r = add_if(p, "VolumeType", v->volume_type);
        if (r >= 0)
                r = add_uint64(p, "Iops", v->iops);
        if (r >= 0)
                r = add_uint64(p, "Throughput", v->throughput);
        if (r >= 0 && v->encrypted)
                r = aws_params_add(p, "Encrypted", "true");
        if (r >= 0)
                r = add_if(p, "KmsKeyId", v->kms_key_id);
        if (r >= 0)
                r = add_tag_specification(p, "volume", v->tags, v->n_tags);
        if (r >= 0)
                r = add_if(p, "ClientToken", v->client_token);
        if (r >= 0 && dry_run)
                r = aws_params_add(p, "DryRun", "true");
        return r;
}

int ec2_create_volume(AwsClient *c, const Ec2NewVolume *v, bool dry_run, usec_t deadline, AwsError *ret_error,
                      Ec2Volume *ret) {
        _cleanup_(aws_params_done) AwsParams params = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        _cleanup_(ec2_volume_done) Ec2Volume created = {};
        int r;

        if (!c || !v || isempty(v->availability_zone))
                return -EINVAL;
        r = new_volume_params(v, dry_run, &params);
        if (r < 0)
                return r;

        r = aws_query_call(c, AWS_SERVICE_EC2, "CreateVolume", &params, deadline, ret_error, &reply);
        if (r < 0 || dry_run)
                return r;
        r = ec2_reply_check_root("CreateVolume", reply);
        if (r < 0)
                return r;
        /* The reply is the volume itself, its fields right below the root. */
        r = ec2_parse_volume(xml_doc_root(reply), &created);
        if (r < 0)
                return r;
        if (ret) {
                *ret = created;
                created = (Ec2Volume) {};
        }
        return 0;
}

int ec2_create_network_interface(AwsClient *c, const Ec2NewNetworkInterface *n, bool dry_run, usec_t deadline,
                                 AwsError *ret_error, Ec2NetworkInterface *ret) {
        _cleanup_(aws_params_done) AwsParams params = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        _cleanup_(ec2_network_interface_done) Ec2NetworkInterface created = {};
        const XmlNode *eni;
        size_t k = 0;
        int r;

        if (!c || !n || isempty(n->subnet_id))
                return -EINVAL;
        r = aws_params_add(&params, "SubnetId", n->subnet_id);
        if (r >= 0)
                r = add_if(&params, "Description", n->description);
        for (char *const *g = n->security_group_ids; r >= 0 && g && *g; g++)
                r = aws_params_addf(&params, *g, "SecurityGroupId.%zu", ++k);
        if (r >= 0)
                r = add_tag_specification(&params, "network-interface", n->tags, n->n_tags);
        if (r >= 0)
                r = add_if(&params, "ClientToken", n->client_token);
        if (r >= 0 && dry_run)
                r = aws_params_add(&params, "DryRun", "true");
        if (r < 0)
                return r;

        r = aws_query_call(c, AWS_SERVICE_EC2, "CreateNetworkInterface", &params, deadline, ret_error, &reply);
        if (r < 0 || dry_run)
                return r;
        r = ec2_reply_check_root("CreateNetworkInterface", reply);
        if (r < 0)
                return r;
        eni = xml_child(xml_doc_root(reply), "networkInterface");
        if (!eni)
                return log_debug_errno(EBADMSG, "CreateNetworkInterface reply has no networkInterface.");
        r = ec2_parse_network_interface(eni, &created);
        if (r < 0)
                return r;
        if (ret) {
                *ret = created;
                created = (Ec2NetworkInterface) {};
        }
        return 0;
}
