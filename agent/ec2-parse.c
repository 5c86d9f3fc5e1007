/* SPDX-License-Identifier: Apache-2.0 */
/* EC2's replies: the types of ec2.h, their parsing from the XML, and the
 * checks of a reply's shape. */
#include <limits.h>

#include "ec2-internal.h"
#include "log.h"

/* ---- the types ---- */

void ec2_tags_free(Ec2Tag *tags, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(tags[i].key);
                free(tags[i].value);
        }
        free(tags);
}

void ec2_volume_attachment_done(Ec2VolumeAttachment *a) {
        if (!a)
                return;
        a->volume_id = mfree(a->volume_id);
        a->instance_id = mfree(a->instance_id);
        a->device = mfree(a->device);
        a->state = mfree(a->state);
}

void ec2_volume_done(Ec2Volume *v) {
        if (!v)
                return;
        for (size_t i = 0; i < v->n_attachments; i++)
                ec2_volume_attachment_done(&v->attachments[i]);
        free(v->attachments);
        ec2_tags_free(v->tags, v->n_tags);
        free(v->id);
        free(v->az);
        free(v->state);
        free(v->volume_type);
        free(v->snapshot_id);
        free(v->kms_key_id);
        *v = (Ec2Volume) {};
}

Ec2Volume *ec2_volumes_free(Ec2Volume *v, size_t n) {
        if (!v)
                return NULL;
        for (size_t i = 0; i < n; i++)
                ec2_volume_done(&v[i]);
        free(v);
        return NULL;
}

void ec2_network_interface_done(Ec2NetworkInterface *n) {
        if (!n)
                return;
        free(n->id);
        free(n->subnet_id);
        free(n->vpc_id);
        free(n->az);
        free(n->mac);
        free(n->private_ip);
        strv_free(n->secondary_ips);
        free(n->status);
        free(n->description);
        strv_free(n->security_groups);
        free(n->attachment.id);
        free(n->attachment.instance_id);
        free(n->attachment.status);
        ec2_tags_free(n->tags, n->n_tags);
        *n = (Ec2NetworkInterface) { .attachment.device_index = -1 };
}

Ec2NetworkInterface *ec2_network_interfaces_free(Ec2NetworkInterface *n, size_t k) {
        if (!n)
                return NULL;
        for (size_t i = 0; i < k; i++)
                ec2_network_interface_done(&n[i]);
        free(n);
        return NULL;
}

void ec2_subnet_done(Ec2Subnet *s) {
        if (!s)
                return;
        free(s->id);
        free(s->cidr);
        free(s->az);
        free(s->vpc_id);
        *s = (Ec2Subnet) {};
}

Ec2Subnet *ec2_subnets_free(Ec2Subnet *s, size_t n) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < n; i++)
                ec2_subnet_done(&s[i]);
        free(s);
        return NULL;
}

void ec2_instance_done(Ec2Instance *i) {
        if (!i)
                return;
        free(i->id);
        free(i->state);
        free(i->az);
        free(i->private_ip);
        free(i->subnet_id);
        free(i->launch_time);
        strv_free(i->block_devices);
        ec2_tags_free(i->tags, i->n_tags);
        *i = (Ec2Instance) {};
}

Ec2Instance *ec2_instances_free(Ec2Instance *i, size_t n) {
        if (!i)
                return NULL;
        for (size_t k = 0; k < n; k++)
                ec2_instance_done(&i[k]);
        free(i);
        return NULL;
}

int ec2_tag_filter_from_string(const char *s, char **ret_name, char **ret_value) {
        _cleanup_free_ char *name = NULL, *value = NULL;
        const char *eq;

        if (!s || !ret_name || !ret_value)
                return -EINVAL;
        eq = strchr(s, '=');
        if (!eq || eq == s)
                return -EINVAL;
        if (asprintf(&name, "tag:%.*s", (int) (eq - s), s) < 0) {
                name = NULL;
                return -ENOMEM;
        }
        value = strdup(eq + 1);
        if (!value)
                return -ENOMEM;
        *ret_name = TAKE_PTR(name);
        *ret_value = TAKE_PTR(value);
        return 0;
}

const char *ec2_tags_get(const Ec2Tag *tags, size_t n_tags, const char *key) {
        for (size_t i = 0; i < n_tags; i++)
                if (streq_ptr(tags[i].key, key))
                        return tags[i].value;
        return NULL;
}

/* ---- parsing ---- */

/* Makes room for one more element of size bytes. */
static int array_reserve(void **array, size_t *allocated, size_t n, size_t size) {
        size_t want;
        void *a;

        if (n < *allocated)
                return 0;
        want = MAX(*allocated * 2, (size_t) 4);
        a = reallocarray(*array, want, size);
        if (!a)
                return -ENOMEM;
        /* New slots start zeroed, so a half-parsed element frees cleanly. */
        memset((char *) a + *allocated * size, 0, (want - *allocated) * size);
        *array = a;
        *allocated = want;
        return 0;
}

/* Copies the text at path below n, NULL when absent. */
int ec2_dup_text(const XmlNode *n, const char *path, char **ret) {
        const char *t = xml_path_text(n, path);

        if (!t) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(t);
        return *ret ? 0 : -ENOMEM;
}

int ec2_parse_tags(const XmlNode *n, Ec2Tag **ret_tags, size_t *ret_n) {
        Ec2Tag *tags = NULL;
        size_t k = 0, allocated = 0;
        int r = 0;

        XML_FOREACH(item, xml_child(n, "tagSet"), "item") {
                r = array_reserve((void **) &tags, &allocated, k, sizeof(Ec2Tag));
                if (r < 0)
                        break;
                r = ec2_dup_text(item, "key", &tags[k].key);
                if (r >= 0)
                        r = ec2_dup_text(item, "value", &tags[k].value);
                if (r >= 0 && !tags[k].value) {
                        /* EC2 leaves out a value that is empty. */
                        tags[k].value = strdup("");
                        if (!tags[k].value)
                                r = -ENOMEM;
                }
                if (r >= 0 && !tags[k].key)
                        r = -EBADMSG;
                k++;
                if (r < 0)
                        break;
        }
        if (r < 0) {
                ec2_tags_free(tags, k);
                return r;
        }
        *ret_tags = tags;
        *ret_n = k;
        return 0;
}

int ec2_parse_volume_attachment(const XmlNode *n, Ec2VolumeAttachment *a) {
        int r;

        r = ec2_dup_text(n, "volumeId", &a->volume_id);
        if (r >= 0)
                r = ec2_dup_text(n, "instanceId", &a->instance_id);
        if (r >= 0)
                r = ec2_dup_text(n, "device", &a->device);
        if (r >= 0)
                r = ec2_dup_text(n, "status", &a->state);
        return r;
}

/* An optional unsigned member; absent (or empty, as EC2 writes some) is 0. */
static int parse_optional_uint64(const XmlNode *n, const char *name, const char *volume_id, uint64_t *ret) {
        const XmlNode *c = xml_child(n, name);

        if (!c || isempty(xml_text(c))) {
                *ret = 0;
                return 0;
        }
        if (xml_text_uint64(c, ret) < 0)
                return log_debug_errno(EBADMSG, "DescribeVolumes reply has a bad %s for %s.", name, volume_id);
        return 0;
}

/* What a volume is made of: its type and performance, its origin and its
 * encryption (a copy of the volume needs all of it; --check looks at the
 * key). */
static int parse_volume_settings(const XmlNode *n, Ec2Volume *v) {
        int r;

        r = ec2_dup_text(n, "volumeType", &v->volume_type);
        if (r >= 0)
                r = ec2_dup_text(n, "kmsKeyId", &v->kms_key_id);
        if (r >= 0)
                r = ec2_dup_text(n, "snapshotId", &v->snapshot_id);
        if (r < 0)
                return r;
        /* EC2 writes <snapshotId/> for a volume made from none. */
        if (isempty(v->snapshot_id))
                v->snapshot_id = mfree(v->snapshot_id);
        if (isempty(v->kms_key_id))
                v->kms_key_id = mfree(v->kms_key_id);

        if (xml_child(n, "encrypted") && xml_text_bool(xml_child(n, "encrypted"), &v->encrypted) < 0)
                return log_debug_errno(EBADMSG, "DescribeVolumes reply has a bad encrypted for %s.", v->id);
        r = parse_optional_uint64(n, "iops", v->id, &v->iops);
        if (r >= 0)
                r = parse_optional_uint64(n, "throughput", v->id, &v->throughput);
        return r;
}

int ec2_parse_volume(const XmlNode *n, Ec2Volume *v) {
        size_t allocated = 0;
        int r;

        if (!xml_child(n, "volumeId"))
                return log_debug_errno(EBADMSG, "DescribeVolumes reply has a volume without volumeId.");

        r = ec2_dup_text(n, "volumeId", &v->id);
        if (r >= 0)
                r = ec2_dup_text(n, "availabilityZone", &v->az);
        if (r >= 0)
                r = ec2_dup_text(n, "status", &v->state);
        if (r < 0)
                return r;
        if (xml_child(n, "size")) {
                r = xml_text_uint64(xml_child(n, "size"), &v->size_gib);
                if (r < 0)
                        return log_debug_errno(EBADMSG, "DescribeVolumes reply has a bad size for %s.", v->id);
        }
        r = parse_volume_settings(n, v);
        if (r < 0)
                return r;

        XML_FOREACH(item, xml_child(n, "attachmentSet"), "item") {
                r = array_reserve((void **) &v->attachments, &allocated, v->n_attachments,
                                  sizeof(Ec2VolumeAttachment));
                if (r < 0)
                        return r;
                v->n_attachments++;
                r = ec2_parse_volume_attachment(item, &v->attachments[v->n_attachments - 1]);
                if (r < 0)
                        return r;
        }

        return ec2_parse_tags(n, &v->tags, &v->n_tags);
}

int ec2_parse_network_interface(const XmlNode *n, Ec2NetworkInterface *e) {
        const XmlNode *a;
        size_t n_secondary = 0;
        int r;

        if (!xml_child(n, "networkInterfaceId"))
                return log_debug_errno(EBADMSG,
                                       "DescribeNetworkInterfaces reply has an interface without networkInterfaceId.");

        r = ec2_dup_text(n, "networkInterfaceId", &e->id);
        if (r >= 0)
                r = ec2_dup_text(n, "subnetId", &e->subnet_id);
        if (r >= 0)
                r = ec2_dup_text(n, "vpcId", &e->vpc_id);
        if (r >= 0)
                r = ec2_dup_text(n, "availabilityZone", &e->az);
        if (r >= 0)
                r = ec2_dup_text(n, "macAddress", &e->mac);
        if (r >= 0)
                r = ec2_dup_text(n, "privateIpAddress", &e->private_ip);
        if (r >= 0)
                r = ec2_dup_text(n, "status", &e->status);
        if (r >= 0)
                r = ec2_dup_text(n, "description", &e->description);
        if (r < 0)
                return r;

        e->security_groups = calloc(xml_count(xml_child(n, "groupSet"), "item") + 1, sizeof(char *));
        if (!e->security_groups)
                return -ENOMEM;
        {
                size_t k = 0;

                XML_FOREACH(item, xml_child(n, "groupSet"), "item") {
                        if (!xml_child(item, "groupId"))
                                continue;
                        r = ec2_dup_text(item, "groupId", &e->security_groups[k]);
                        if (r < 0)
                                return r;
                        k++;
                }
        }

        e->secondary_ips = calloc(xml_count(xml_child(n, "privateIpAddressesSet"), "item") + 1, sizeof(char *));
        if (!e->secondary_ips)
                return -ENOMEM;
        XML_FOREACH(item, xml_child(n, "privateIpAddressesSet"), "item") {
                bool primary = false;

                /* The primary address is listed here too; it is private_ip. */
                if (xml_text_bool(xml_child(item, "primary"), &primary) >= 0 && primary)
                        continue;
                if (!xml_child(item, "privateIpAddress"))
                        continue;
                r = ec2_dup_text(item, "privateIpAddress", &e->secondary_ips[n_secondary]);
                if (r < 0)
                        return r;
                n_secondary++;
        }

        e->attachment.device_index = -1;
        a = xml_child(n, "attachment");
        if (a) {
                r = ec2_dup_text(a, "attachmentId", &e->attachment.id);
                if (r >= 0)
                        r = ec2_dup_text(a, "instanceId", &e->attachment.instance_id);
                if (r >= 0)
                        r = ec2_dup_text(a, "status", &e->attachment.status);
                if (r < 0)
                        return r;
                if (xml_child(a, "deviceIndex")) {
                        uint64_t idx;

                        r = xml_text_uint64(xml_child(a, "deviceIndex"), &idx);
                        if (r < 0 || idx > INT_MAX)
                                return log_debug_errno(EBADMSG, "Bad deviceIndex for %s.", e->id);
                        e->attachment.device_index = (int) idx;
                }
        }

        return ec2_parse_tags(n, &e->tags, &e->n_tags);
}

static int parse_subnet(const XmlNode *n, Ec2Subnet *s) {
        int r;

        if (!xml_child(n, "subnetId"))
                return log_debug_errno(EBADMSG, "DescribeSubnets reply has a subnet without subnetId.");

        r = ec2_dup_text(n, "subnetId", &s->id);
        if (r >= 0)
                r = ec2_dup_text(n, "cidrBlock", &s->cidr);
        if (r >= 0)
                r = ec2_dup_text(n, "availabilityZone", &s->az);
        if (r >= 0)
                r = ec2_dup_text(n, "vpcId", &s->vpc_id);
        return r;
}

/* The device names of an instance's block-device mappings. */
static int parse_block_devices(const XmlNode *list, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;

        XML_FOREACH(item, list, "item")
                n++;
        names = calloc(n + 1, sizeof(char *));
        if (!names)
                return -ENOMEM;
        n = 0;
        XML_FOREACH(item, list, "item") {
                const char *name = xml_path_text(item, "deviceName");

                if (isempty(name))
                        continue;
                names[n] = strdup(name);
                if (!names[n])
                        return -ENOMEM;
                n++;
        }
        *ret = TAKE_PTR(names);
        return 0;
}

static int parse_instance(const XmlNode *n, Ec2Instance *i) {
        int r;

        if (!xml_child(n, "instanceId"))
                return log_debug_errno(EBADMSG, "DescribeInstances reply has an instance without instanceId.");

        r = ec2_dup_text(n, "instanceId", &i->id);
        if (r >= 0)
                r = ec2_dup_text(n, "instanceState/name", &i->state);
        if (r >= 0)
                r = ec2_dup_text(n, "placement/availabilityZone", &i->az);
        if (r >= 0)
                r = ec2_dup_text(n, "privateIpAddress", &i->private_ip);
        if (r >= 0)
                r = ec2_dup_text(n, "subnetId", &i->subnet_id);
        if (r >= 0)
                r = ec2_dup_text(n, "launchTime", &i->launch_time);
        if (r >= 0)
                r = parse_block_devices(xml_child(n, "blockDeviceMapping"), &i->block_devices);
        if (r < 0)
                return r;
        return ec2_parse_tags(n, &i->tags, &i->n_tags);
}

/* ---- the items of a Describe* reply ---- */

void ec2_items_done(Ec2Items *l) {
        for (size_t i = 0; i < l->n; i++)
                l->type->done((char *) l->items + i * l->type->size);
        l->items = mfree(l->items);
        l->n = l->allocated = 0;
}

static int ec2_items_parse_list(Ec2Items *l, const XmlNode *list) {
        int r;

        XML_FOREACH(item, list, "item") {
                r = array_reserve(&l->items, &l->allocated, l->n, l->type->size);
                if (r < 0)
                        return r;
                /* Counted before parsing, so a half-parsed element is freed. */
                l->n++;
                r = l->type->parse(item, (char *) l->items + (l->n - 1) * l->type->size);
                if (r < 0)
                        return r;
        }
        return 0;
}

int ec2_items_parse_page(Ec2Items *l, const XmlNode *root) {
        if (l->type->parse_page)
                return l->type->parse_page(l, root);
        return ec2_items_parse_list(l, xml_child(root, l->type->list_name));
}

void *ec2_items_steal(Ec2Items *l, size_t *ret_n) {
        *ret_n = l->n;
        l->n = l->allocated = 0;
        return TAKE_PTR(l->items);
}

static void volume_done_cb(void *p) {
        ec2_volume_done(p);
}
static int volume_parse_cb(const XmlNode *n, void *p) {
        return ec2_parse_volume(n, p);
}

const Ec2ItemType ec2_volume_items = {
        .size = sizeof(Ec2Volume),
        .list_name = "volumeSet",
        .parse = volume_parse_cb,
        .done = volume_done_cb,
};

static void network_interface_done_cb(void *p) {
        ec2_network_interface_done(p);
}
static int network_interface_parse_cb(const XmlNode *n, void *p) {
        return ec2_parse_network_interface(n, p);
}

const Ec2ItemType ec2_network_interface_items = {
        .size = sizeof(Ec2NetworkInterface),
        .list_name = "networkInterfaceSet",
        .parse = network_interface_parse_cb,
        .done = network_interface_done_cb,
};

static void subnet_done_cb(void *p) {
        ec2_subnet_done(p);
}
static int subnet_parse_cb(const XmlNode *n, void *p) {
        return parse_subnet(n, p);
}

const Ec2ItemType ec2_subnet_items = {
        .size = sizeof(Ec2Subnet),
        .list_name = "subnetSet",
        .parse = subnet_parse_cb,
        .done = subnet_done_cb,
};

static void instance_done_cb(void *p) {
        ec2_instance_done(p);
}
static int instance_parse_cb(const XmlNode *n, void *p) {
        return parse_instance(n, p);
}

/* Reservations hold the instances: each reservation's instancesSet is
 * parsed as one list into the same array. */
static int reservations_parse_page(Ec2Items *instances, const XmlNode *root) {
        int r;

        XML_FOREACH(reservation, xml_child(root, "reservationSet"), "item") {
                r = ec2_items_parse_list(instances, xml_child(reservation, "instancesSet"));
                if (r < 0)
                        return r;
        }
        return 0;
}

const Ec2ItemType ec2_instance_items = {
        .size = sizeof(Ec2Instance),
        .parse = instance_parse_cb,
        .done = instance_done_cb,
        .parse_page = reservations_parse_page,
};

/* ---- the replies of the other calls ---- */

/* A reply to action X is <XResponse>: anything else is not an answer to
 * this request (a misrouted endpoint, a proxy's page). */
int ec2_reply_check_root(const char *action, const XmlDoc *reply) {
        const XmlNode *root = xml_doc_root(reply);
        const char *rest;

        rest = root ? startswith(root->name, action) : NULL;
        if (!rest || !streq(rest, "Response"))
                return log_debug_errno(EBADMSG, "%s reply is <%s>, not <%sResponse>.", action,
                                       root ? root->name : "", action);
        return 0;
}

/* Checks the <return>true</return> of actions that answer only that. */
int ec2_reply_check_return(const char *action, const XmlDoc *reply) {
        const XmlNode *ret = xml_child(xml_doc_root(reply), "return");
        bool ok;

        /* Absent is fine: a fake might leave it out, and HTTP 200 says it. */
        if (!ret)
                return 0;
        if (xml_text_bool(ret, &ok) < 0)
                return log_debug_errno(EBADMSG, "%s reply has a bad <return>.", action);
        if (!ok)
                return log_debug_errno(EREMOTEIO, "%s returned false.", action);
        return 0;
}
