/* SPDX-License-Identifier: Apache-2.0 */
/* The EC2 calls: their parameters, the paging of Describe*, and the reply
 * of each read by ec2-parse.c. */
#include <stdio.h>

#include "ec2-internal.h"
#include "log.h"

/* A Describe* call that pages more often than this is answering with a
 * broken NextToken; the agent asks for a handful of resources at most. */
#define EC2_PAGES_MAX 100U

/* ---- parameters ---- */

static int add_ids(AwsParams *p, const char *name, const char *const *ids) {
        size_t k = 0;
        int r;

        for (const char *const *i = ids; i && *i; i++) {
                r = aws_params_addf(p, *i, "%s.%zu", name, ++k);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_filters(AwsParams *p, const Ec2Filter *filters, size_t n_filters) {
        int r;

        for (size_t i = 0; i < n_filters; i++) {
                size_t k = 0;

                if (isempty(filters[i].name))
                        return -EINVAL;
                r = aws_params_addf(p, filters[i].name, "Filter.%zu.Name", i + 1);
                if (r < 0)
                        return r;
                for (const char *const *v = filters[i].values; v && *v; v++) {
                        r = aws_params_addf(p, *v, "Filter.%zu.Value.%zu", i + 1, ++k);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static void params_drop_last(AwsParams *p) {
        if (p->n == 0)
                return;
        p->n--;
        free(p->items[p->n].name);
        free(p->items[p->n].value);
}

/* ---- Describe* ---- */

/* Runs a Describe* action page by page, each page's items parsed into
 * items. With dry_run, a DryRunOperation answer ends the call with no
 * items. */
static int describe_pages(AwsClient *c, const char *action, AwsParams *params, bool dry_run, usec_t deadline,
                          AwsError *ret_error, Ec2Items *items) {
        _cleanup_free_ char *token = NULL;
        int r;

        if (dry_run) {
                r = aws_params_add(params, "DryRun", "true");
                if (r < 0)
                        return r;
        }

        for (unsigned page = 0;; page++) {
                _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
                const XmlNode *root;
                const char *next;

                if (page >= EC2_PAGES_MAX)
                        return log_debug_errno(EBADMSG, "%s: more than %u pages, giving up.", action,
                                               EC2_PAGES_MAX);

                if (token) {
                        r = aws_params_add(params, "NextToken", token);
                        if (r < 0)
                                return r;
                }
                r = aws_query_call(c, AWS_SERVICE_EC2, action, params, deadline, ret_error, &reply);
                if (token)
                        params_drop_last(params);
                if (r < 0)
                        return r;
                if (!reply)
                        /* DryRunOperation: allowed, nothing to list. */
                        return 0;

                r = ec2_reply_check_root(action, reply);
                if (r < 0)
                        return r;
                root = xml_doc_root(reply);
                r = ec2_items_parse_page(items, root);
                if (r < 0)
                        return r;

                next = xml_path_text(root, "nextToken");
                if (isempty(next))
                        return 0;
                if (streq_ptr(next, token))
                        return log_debug_errno(EBADMSG, "%s repeats its NextToken.", action);
                free(token);
                token = strdup(next);
                if (!token)
                        return -ENOMEM;
        }
}

/* One Describe* call: ids as id_name.1, id_name.2, ..., then the filters,
 * every page's items collected into items (of its type). */
int ec2_describe_items(AwsClient *c, const char *action, const char *id_name, const char *const *ids,
                       const Ec2Filter *filters, size_t n_filters, AwsParams *extra, bool dry_run, usec_t deadline,
                       AwsError *ret_error, Ec2Items *items) {
        _cleanup_(aws_params_done) AwsParams params = {};
        int r = 0;

        if (!c || (n_filters > 0 && !filters))
                return -EINVAL;

        for (size_t i = 0; extra && r >= 0 && i < extra->n; i++)
                r = aws_params_add(&params, extra->items[i].name, extra->items[i].value);
        if (r >= 0)
                r = add_ids(&params, id_name, ids);
        if (r >= 0)
                r = add_filters(&params, filters, n_filters);
        if (r < 0)
                return r;

        return describe_pages(c, action, &params, dry_run, deadline, ret_error, items);
}

int ec2_describe_volumes(AwsClient *c, const char *const *ids, const Ec2Filter *filters, size_t n_filters,
                         bool dry_run, usec_t deadline, AwsError *ret_error,
                         Ec2Volume **ret_volumes, size_t *ret_n) {
        _cleanup_(ec2_items_done) Ec2Items items = { .type = &ec2_volume_items };
        int r;

        if (!ret_volumes || !ret_n)
                return -EINVAL;
        r = ec2_describe_items(c, "DescribeVolumes", "VolumeId", ids, filters, n_filters, NULL, dry_run, deadline,
                               ret_error,
                         &items);
        if (r < 0)
                return r;
        *ret_volumes = ec2_items_steal(&items, ret_n);
        return 0;
}

int ec2_describe_network_interfaces(AwsClient *c, const char *const *ids, const Ec2Filter *filters,
                                    size_t n_filters, bool dry_run, usec_t deadline, AwsError *ret_error,
                                    Ec2NetworkInterface **ret_interfaces, size_t *ret_n) {
        _cleanup_(ec2_items_done) Ec2Items items = { .type = &ec2_network_interface_items };
        int r;

        if (!ret_interfaces || !ret_n)
                return -EINVAL;
        r = ec2_describe_items(c, "DescribeNetworkInterfaces", "NetworkInterfaceId", ids, filters, n_filters, NULL, dry_run,
                         deadline, ret_error, &items);
        if (r < 0)
                return r;
        *ret_interfaces = ec2_items_steal(&items, ret_n);
        return 0;
}

int ec2_describe_subnets(AwsClient *c, const char *const *ids, bool dry_run, usec_t deadline,
                         AwsError *ret_error, Ec2Subnet **ret_subnets, size_t *ret_n) {
        _cleanup_(ec2_items_done) Ec2Items items = { .type = &ec2_subnet_items };
        int r;

        if (!ret_subnets || !ret_n)
                return -EINVAL;
        r = ec2_describe_items(c, "DescribeSubnets", "SubnetId", ids, NULL, 0, NULL, dry_run, deadline, ret_error,
                               &items);
        if (r < 0)
                return r;
        *ret_subnets = ec2_items_steal(&items, ret_n);
        return 0;
}

/* Flattens reservations into instances (ec2_instance_items). */
int ec2_describe_instances(AwsClient *c, const char *const *ids, const Ec2Filter *filters, size_t n_filters,
                           bool dry_run, usec_t deadline, AwsError *ret_error,
                           Ec2Instance **ret_instances, size_t *ret_n) {
        _cleanup_(ec2_items_done) Ec2Items items = { .type = &ec2_instance_items };
        int r;

        if (!ret_instances || !ret_n)
                return -EINVAL;
        r = ec2_describe_items(c, "DescribeInstances", "InstanceId", ids, filters, n_filters, NULL, dry_run, deadline,
                         ret_error, &items);
        if (r < 0)
                return r;
        *ret_instances = ec2_items_steal(&items, ret_n);
        return 0;
}

/* ---- the other calls ---- */

int ec2_attach_volume(AwsClient *c, const char *volume_id, const char *instance_id, const char *device,
                      bool dry_run, usec_t deadline, AwsError *ret_error, Ec2VolumeAttachment *ret_attachment) {
        _cleanup_(aws_params_done) AwsParams params = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        _cleanup_(ec2_volume_attachment_done) Ec2VolumeAttachment a = {};
        int r;

        if (!c || isempty(volume_id) || isempty(instance_id) || isempty(device))
                return -EINVAL;

        r = aws_params_add(&params, "Device", device);
        if (r >= 0)
                r = aws_params_add(&params, "InstanceId", instance_id);
        if (r >= 0)
                r = aws_params_add(&params, "VolumeId", volume_id);
        if (r >= 0 && dry_run)
                r = aws_params_add(&params, "DryRun", "true");
        if (r < 0)
                return r;

        r = aws_query_call(c, AWS_SERVICE_EC2, "AttachVolume", &params, deadline, ret_error, &reply);
        if (r < 0)
                return r;
        if (reply) {
                r = ec2_reply_check_root("AttachVolume", reply);
                if (r >= 0)
                        r = ec2_parse_volume_attachment(xml_doc_root(reply), &a);
                if (r < 0)
                        return r;
        }
        if (ret_attachment) {
                *ret_attachment = a;
                a = (Ec2VolumeAttachment) {};
        }
        return 0;
}

int ec2_detach_volume(AwsClient *c, const char *volume_id, const char *instance_id, bool force,
                      bool dry_run, usec_t deadline, AwsError *ret_error, Ec2VolumeAttachment *ret_attachment) {
        _cleanup_(aws_params_done) AwsParams params = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        _cleanup_(ec2_volume_attachment_done) Ec2VolumeAttachment a = {};
        int r;

        if (!c || isempty(volume_id))
                return -EINVAL;

        r = aws_params_add(&params, "VolumeId", volume_id);
        if (r >= 0 && instance_id)
                r = aws_params_add(&params, "InstanceId", instance_id);
        if (r >= 0 && force)
                r = aws_params_add(&params, "Force", "true");
        if (r >= 0 && dry_run)
                r = aws_params_add(&params, "DryRun", "true");
        if (r < 0)
                return r;

        r = aws_query_call(c, AWS_SERVICE_EC2, "DetachVolume", &params, deadline, ret_error, &reply);
        if (r < 0)
                return r;
        if (reply) {
                r = ec2_reply_check_root("DetachVolume", reply);
                if (r >= 0)
                        r = ec2_parse_volume_attachment(xml_doc_root(reply), &a);
                if (r < 0)
                        return r;
        }
        if (ret_attachment) {
                *ret_attachment = a;
                a = (Ec2VolumeAttachment) {};
        }
        return 0;
}

int ec2_attach_network_interface(AwsClient *c, const char *eni_id, const char *instance_id,
                                 unsigned device_index, unsigned network_card_index, bool dry_run, usec_t deadline,
                                 AwsError *ret_error, char **ret_attachment_id) {
        _cleanup_(aws_params_done) AwsParams params = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        _cleanup_free_ char *id = NULL;
        char index[16], card[16];
        int r;

        if (!c || isempty(eni_id) || isempty(instance_id))
                return -EINVAL;

        (void) snprintf(index, sizeof(index), "%u", device_index);
        (void) snprintf(card, sizeof(card), "%u", network_card_index);
        r = aws_params_add(&params, "DeviceIndex", index);
        if (r >= 0)
                r = aws_params_add(&params, "InstanceId", instance_id);
        /* Always sent: on instances with several network cards EC2 has
         * refused an attach without it. */
        if (r >= 0)
                r = aws_params_add(&params, "NetworkCardIndex", card);
        if (r >= 0)
                r = aws_params_add(&params, "NetworkInterfaceId", eni_id);
        if (r >= 0 && dry_run)
                r = aws_params_add(&params, "DryRun", "true");
        if (r < 0)
                return r;

        r = aws_query_call(c, AWS_SERVICE_EC2, "AttachNetworkInterface", &params, deadline, ret_error, &reply);
        if (r < 0)
                return r;
        if (reply) {
                r = ec2_reply_check_root("AttachNetworkInterface", reply);
                if (r < 0)
                        return r;
                if (isempty(xml_path_text(xml_doc_root(reply), "attachmentId")))
                        return log_debug_errno(EBADMSG, "AttachNetworkInterface reply has no attachmentId.");
                r = ec2_dup_text(xml_doc_root(reply), "attachmentId", &id);
                if (r < 0)
                        return r;
        }
        if (ret_attachment_id)
                *ret_attachment_id = TAKE_PTR(id);
        return 0;
}

int ec2_detach_network_interface(AwsClient *c, const char *attachment_id, bool force, bool dry_run,
                                 usec_t deadline, AwsError *ret_error) {
        _cleanup_(aws_params_done) AwsParams params = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        int r;

        if (!c || isempty(attachment_id))
                return -EINVAL;

        r = aws_params_add(&params, "AttachmentId", attachment_id);
        if (r >= 0 && force)
                r = aws_params_add(&params, "Force", "true");
        if (r >= 0 && dry_run)
                r = aws_params_add(&params, "DryRun", "true");
        if (r < 0)
                return r;

        r = aws_query_call(c, AWS_SERVICE_EC2, "DetachNetworkInterface", &params, deadline, ret_error, &reply);
        if (r < 0)
                return r;
        if (!reply)
                return 0;
        r = ec2_reply_check_root("DetachNetworkInterface", reply);
        if (r < 0)
                return r;
        return ec2_reply_check_return("DetachNetworkInterface", reply);
}

int ec2_create_tags(AwsClient *c, const char *const *resource_ids, const Ec2Tag *tags, size_t n_tags,
                    bool dry_run, usec_t deadline, AwsError *ret_error) {
        _cleanup_(aws_params_done) AwsParams params = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        int r;

        if (!c || !resource_ids || !resource_ids[0] || n_tags == 0 || !tags)
                return -EINVAL;

        r = add_ids(&params, "ResourceId", resource_ids);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_tags; i++) {
                if (isempty(tags[i].key))
                        return -EINVAL;
                r = aws_params_addf(&params, tags[i].key, "Tag.%zu.Key", i + 1);
                if (r >= 0)
                        r = aws_params_addf(&params, strempty(tags[i].value), "Tag.%zu.Value", i + 1);
                if (r < 0)
                        return r;
        }
        if (dry_run) {
                r = aws_params_add(&params, "DryRun", "true");
                if (r < 0)
                        return r;
        }

        r = aws_query_call(c, AWS_SERVICE_EC2, "CreateTags", &params, deadline, ret_error, &reply);
        if (r < 0)
                return r;
        if (!reply)
                return 0;
        r = ec2_reply_check_root("CreateTags", reply);
        if (r < 0)
                return r;
        return ec2_reply_check_return("CreateTags", reply);
}
