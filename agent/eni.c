/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>

#include "eni.h"
#include "log.h"
#include "restore.h"

static Eni *eni_of(const Attach *a) {
        return a->kind;
}

bool eni_is_attached_to(const Ec2NetworkInterface *eni, const char *instance_id) {
        return eni->attachment.id && streq_ptr(eni->attachment.instance_id, instance_id) &&
               !streq_ptr(eni->attachment.status, "detaching") && !streq_ptr(eni->attachment.status, "detached");
}

static void drop_listed(Eni *e) {
        e->listed = ec2_network_interfaces_free(e->listed, e->n_listed);
        e->n_listed = 0;
}

static int eni_list(Attach *a, const char *id, const Ec2Filter *filter, AwsError *error, size_t *ret_n) {
        Eni *e = eni_of(a);
        const char *ids[] = { id, NULL };
        int r;

        drop_listed(e);
        r = ec2_describe_network_interfaces(a->aws, id ? ids : NULL, filter, filter ? 1 : 0, false, a->deadline,
                                            error, &e->listed, &e->n_listed);
        if (r < 0)
                return r;
        *ret_n = e->n_listed;
        return 0;
}

static void eni_candidate(const Attach *a, size_t i, ZoneCandidate *ret) {
        const Ec2NetworkInterface *n = &eni_of(a)->listed[i];

        *ret = (ZoneCandidate) { .id = n->id, .availability_zone = n->az, .state = n->status };
}

static void eni_keep(Attach *a, size_t i) {
        Eni *e = eni_of(a);

        ec2_network_interface_done(&e->ec2);
        e->ec2 = e->listed[i];
        e->listed[i] = (Ec2NetworkInterface) {};
        drop_listed(e);
        a->id = e->ec2.id;
}

static const char *eni_candidate_tag(const Attach *a, size_t i, const char *key) {
        const Ec2NetworkInterface *n = &eni_of(a)->listed[i];

        return ec2_tags_get(n->tags, n->n_tags, key);
}

static void eni_view(const Attach *a, AttachView *ret) {
        const Ec2NetworkInterfaceAttachment *att = &eni_of(a)->ec2.attachment;
        bool here = att->id && streq_ptr(att->instance_id, a->instance_id);
        bool elsewhere = att->id && att->instance_id && !here && !streq_ptr(att->status, "detached");
        AttachMine mine = ATTACH_MINE_NONE;

        if (here && streq_ptr(att->status, "attaching"))
                mine = ATTACH_MINE_ATTACHING;
        else if (here && streq_ptr(att->status, "attached"))
                mine = ATTACH_MINE_ATTACHED;
        else if (here && streq_ptr(att->status, "detaching"))
                mine = ATTACH_MINE_DETACHING;

        *ret = (AttachView) {
                .mine = mine,
                .holder = elsewhere ? att->instance_id : NULL,
                .holder_state = elsewhere ? att->status : NULL,
        };
}

static const char *eni_where(const Attach *a) {
        const Eni *e = eni_of(a);
        static _Thread_local char buf[64];
        bool here = e->ec2.attachment.id && streq_ptr(e->ec2.attachment.instance_id, a->instance_id);

        (void) snprintf(buf, sizeof(buf), "at device index %d",
                        here && e->ec2.attachment.device_index >= 0 ? e->ec2.attachment.device_index :
                                                                     (int) e->config->device_index);
        return buf;
}

static int eni_send_attach(Attach *a, AwsError *ret_error) {
        Eni *e = eni_of(a);

        if (e->before_attach)
                e->before_attach(e, e->userdata);

        return ec2_attach_network_interface(a->aws, a->id, a->instance_id, e->config->device_index,
                                            e->config->network_card_index, false,
                                            a->deadline, ret_error, NULL);
}

static int eni_send_detach(Attach *a, const char *holder, bool force, AwsError *ret_error) {
        Eni *e = eni_of(a);

        /* An ENI is detached by its attachment's id, whoever holds it. */
        return ec2_detach_network_interface(a->aws, e->ec2.attachment.id, force, false, a->deadline, ret_error);
}

static char *eni_local_name(const Attach *a) {
        char *s;

        if (asprintf(&s, "the link with MAC address %s", strna(eni_of(a)->ec2.mac)) < 0)
                return NULL;
        return s;
}

static int eni_while_attaching(Attach *a) {
        Eni *e = eni_of(a);

        return e->while_attaching ? e->while_attaching(e, e->userdata) : 0;
}

static int eni_wait_local(Attach *a, usec_t until) {
        Eni *e = eni_of(a);
        int r;

        if (!e->watch) {
                NetifMac mac;

                /* The wait's failure message names the MAC EC2 gave. */
                if (netif_mac_from_string(e->ec2.mac, &mac) < 0)
                        return -EBADMSG;
                r = netif_link_watch_new(&mac, &e->watch);
                if (r < 0)
                        return r;
        }

        r = netif_link_watch_wait(e->watch, until, &e->link);
        if (r <= 0)
                return r;
        log_info("%s: %s: %s is %s (ifindex %d, MAC %s).", a->path->name, path_state_to_string(a->path->state),
                 a->id, e->link.name, e->link.ifindex, e->ec2.mac);
        return 1;
}

static void eni_local_done(Attach *a) {
        Eni *e = eni_of(a);

        e->watch = netif_link_watch_free(e->watch);
}

/* This instance's subnet: where a new interface for it goes. */
static int own_subnet(Attach *a, char **ret) {
        _cleanup_(aws_error_done) AwsError e = {};
        const char *ids[] = { a->instance_id, NULL };
        Ec2Instance *instances = NULL;
        size_t n = 0;
        int r;

        r = ec2_describe_instances(a->aws, ids, NULL, 0, false, a->deadline, &e, &instances, &n);
        if (r >= 0 && (n == 0 || isempty(instances[0].subnet_id)))
                r = -ENOENT;
        if (r < 0) {
                ec2_instances_free(instances, n);
                return path_fail(a->path, failure_kind_of_call(r), r, "Failed to read the subnet of %s: %s%s%m",
                                 a->instance_id, strempty(e.code), e.code ? ": " : "");
        }
        *ret = TAKE_PTR(instances[0].subnet_id);
        ec2_instances_free(instances, n);
        return 0;
}

/* The new interface's tags from the start: the lost one's own tags (not
 * nodeagent's record of their history), the node's Tag=, and which one it
 * replaces. */
static int restore_tags(Attach *a, const Ec2NetworkInterface *old, Ec2Tag **ret, size_t *ret_n) {
        Ec2Tag *tags = calloc(old->n_tags + 2, sizeof(Ec2Tag));
        size_t k = 0;

        if (!tags)
                return log_oom();
        for (size_t i = 0; i < old->n_tags; i++)
                if (!restore_tag_is_internal(old->tags[i].key) && !streq_ptr(old->tags[i].key, a->want_tag->key))
                        tags[k++] = old->tags[i];
        tags[k++] = (Ec2Tag) { .key = a->want_tag->key, .value = a->want_tag->value };
        tags[k++] = (Ec2Tag) { .key = (char *) RESTORE_TAG_RESTORED_FROM, .value = old->id };
        *ret = tags;
        *ret_n = k;
        return 0;
}

/* A new interface is "pending" for a moment: attached once "available". */
static int wait_available(Attach *a) {
        BackoffPolicy policy = attach_poll_policy();
        Backoff poll = BACKOFF_INIT(&policy);
        Eni *e = eni_of(a);
        int r;

        while (!streq_ptr(e->ec2.status, "available")) {
                _cleanup_(aws_error_done) AwsError err = {};
                _cleanup_free_ char *id = strdup(a->id);
                size_t n = 0;

                if (!id)
                        return log_oom();
                r = attach_wait_poll(a, &poll, USEC_INFINITY);
                if (r < 0)
                        return path_fail(a->path, FAILURE_DEADLINE, r, "The new network interface %s was not available "
                                         "before the deadline.", id);
                r = eni_list(a, id, NULL, &err, &n);
                if (r < 0)
                        return path_fail(a->path, failure_kind_of_call(r), r, "Failed to describe %s: %s%s%m", id,
                                         strempty(err.code), err.code ? ": " : "");
                if (n > 0)
                        eni_keep(a, 0);
        }
        return 0;
}

/* Restore=create: an ENI lost with its zone is replaced by a new one in
 * this instance's subnet, with its security groups, description and tags.
 * Its address is new: the node's from now on (DNS follows, and in shared
 * mode the old address leaves the set in the same batch). */
static int eni_restore(Attach *a, const size_t *lost, size_t n_lost) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_free_ char *subnet = NULL, *token = NULL;
        _cleanup_free_ Ec2Tag *tags = NULL;
        _cleanup_free_ const char **lost_ids = NULL;
        Eni *eni = eni_of(a);
        Ec2NetworkInterface created = {};
        const Ec2NetworkInterface *old;
        size_t n_tags = 0;
        int r;

        if (n_lost == 0)
                return path_fail(a->path, FAILURE_UNUSABLE, -ENOENT, "No network interface is tagged %s=%s: "
                                 "Restore=create replaces one lost with its zone, and there is none.",
                                 a->want_tag->key, a->want_tag->value);
        old = &eni->listed[lost[0]];

        r = own_subnet(a, &subnet);
        if (r < 0)
                return r;
        r = restore_tags(a, old, &tags, &n_tags);
        if (r < 0)
                return r;
        r = restore_client_token(a->instance_id, "eni", "interface", &token);
        if (r < 0)
                return log_oom();

        path_transition(a->path, PATH_STATE_RESTORE, "Creating a network interface in %s (%s) to replace %s (%s, "
                        "%s).", subnet, a->availability_zone, old->id, strna(old->az), strna(old->private_ip));
        r = ec2_create_network_interface(a->aws,
                                         &(Ec2NewNetworkInterface) {
                                                 .subnet_id = subnet,
                                                 .description = old->description,
                                                 .security_group_ids = old->security_groups,
                                                 .tags = tags,
                                                 .n_tags = n_tags,
                                                 .client_token = token,
                                         },
                                         false, a->deadline, &e, &created);
        if (r < 0)
                return path_fail(a->path, failure_kind_of_call(r), r, "CreateNetworkInterface in %s failed: %s%s%s",
                                 subnet, strempty(e.code), e.code ? ": " : "", e.message ?: strerror(-r));
        log_info("%s: restore: %s is %s, replacing %s (%s).", a->path->name, created.id, strna(created.private_ip),
                 old->id, strna(old->private_ip));

        free(eni->replaced_ip);
        eni->replaced_ip = old->private_ip ? strdup(old->private_ip) : NULL;
        lost_ids = calloc(n_lost + 1, sizeof(char *));
        if (!lost_ids) {
                ec2_network_interface_done(&created);
                return log_oom();
        }
        for (size_t i = 0; i < n_lost; i++)
                lost_ids[i] = eni->listed[lost[i]].id;
        attach_mark_replaced(a, lost_ids, created.id);

        drop_listed(eni);
        ec2_network_interface_done(&eni->ec2);
        eni->ec2 = created;
        a->id = eni->ec2.id;
        return wait_available(a);
}

/* --check and --status: what eni_restore() would make, asking EC2 only to
 * describe this instance (its subnet). */
static int eni_plan_restore(Attach *a, const size_t *lost, size_t n_lost) {
        _cleanup_free_ char *subnet = NULL;
        const Ec2NetworkInterface *old;
        int r;

        if (n_lost == 0)
                return path_fail(a->path, FAILURE_UNUSABLE, -ENOENT, "No network interface is tagged %s=%s: "
                                 "Restore=create replaces one lost with its zone, and there is none.",
                                 a->want_tag->key, a->want_tag->value);
        old = &eni_of(a)->listed[lost[0]];
        r = own_subnet(a, &subnet);
        if (r < 0)
                return r;

        free(a->restore_plan);
        if (asprintf(&a->restore_plan, "restore: a new network interface in %s (%s) with a new IP, replacing %s "
                     "in %s (IP %s)", subnet, a->availability_zone, old->id, strna(old->az),
                     strna(old->private_ip)) < 0) {
                a->restore_plan = NULL;
                return log_oom();
        }
        return ATTACH_RESTORE_PLANNED;
}

static const AttachOps eni_ops = {
        .what = "network interface",
        .what_title = "Network interface",
        .zone_note = "an ENI attaches only within its availability zone",
        .wait_state = PATH_STATE_WAIT_LINK,
        .list = eni_list,
        .candidate = eni_candidate,
        .candidate_tag = eni_candidate_tag,
        .keep = eni_keep,
        .view = eni_view,
        .where = eni_where,
        .attach = eni_send_attach,
        .detach = eni_send_detach,
        .restore = eni_restore,
        .plan_restore = eni_plan_restore,
        .local_name = eni_local_name,
        .while_attaching = eni_while_attaching,
        .wait_local = eni_wait_local,
        .local_done = eni_local_done,
};

void eni_init(Eni *e, const ConfigInterface *config, Path *path, AwsClient *aws, const char *instance_id,
              const char *availability_zone, usec_t deadline) {
        *e = (Eni) {
                .config = config,
                .attach = {
                        .ops = &eni_ops,
                        .kind = e,
                        .path = path,
                        .aws = aws,
                        .instance_id = instance_id,
                        .availability_zone = availability_zone,
                        .deadline = deadline,
                        .want_id = config->id,
                        .want_tag = &config->tag,
                        .take_over = config->take_over,
                        .take_over_timeout = config->take_over_timeout,
                        .restore = config->restore == INTERFACE_RESTORE_CREATE,
                },
        };
}

void eni_done(Eni *e) {
        if (!e)
                return;
        drop_listed(e);
        e->watch = netif_link_watch_free(e->watch);
        e->replaced_ip = mfree(e->replaced_ip);
        e->attach.restore_plan = mfree(e->attach.restore_plan);
        ec2_network_interface_done(&e->ec2);
        e->attach.id = NULL;
}

/* A boot killed between CreateNetworkInterface and the DNS change left the
 * lost interface's address in a shared set, and the next boot finds only
 * the new interface: its nodeagent:restored-from tag names the one it
 * replaced, whose address DNS then takes out (dns_plan_replacing() only
 * while the set still holds it). Nothing found is no error: the old one
 * may have been deleted since. */
static void recall_replaced_ip(Eni *e) {
        const char *old_id = ec2_tags_get(e->ec2.tags, e->ec2.n_tags, ATTACH_TAG_RESTORED_FROM);
        const char *ids[] = { old_id, NULL };
        _cleanup_(aws_error_done) AwsError err = {};
        Ec2NetworkInterface *found = NULL;
        size_t n = 0;
        int r;

        if (e->replaced_ip || !old_id)
                return;
        r = ec2_describe_network_interfaces(e->attach.aws, ids, NULL, 0, false, e->attach.deadline, &err, &found,
                                            &n);
        if (r >= 0 && n > 0 && found[0].private_ip) {
                e->replaced_ip = strdup(found[0].private_ip);
                if (!e->replaced_ip)
                        (void) log_oom();
        } else
                log_debug("%s: the interface %s replaced is not found (%s): no address to take out of DNS.",
                          e->attach.path->name, old_id, err.code ?: r < 0 ? strerror(-r) : "gone");
        ec2_network_interfaces_free(found, n);
}

int eni_attach(Eni *e) {
        int r;

        r = attach_run(&e->attach);
        if (r < 0)
                return r;
        recall_replaced_ip(e);
        return 0;
}

int eni_attach_to_ec2(Eni *e) {
        return attach_run_to_ec2(&e->attach);
}

int eni_find(Eni *e) {
        return attach_find(&e->attach);
}

int eni_find_published(Eni *e) {
        int r;

        r = attach_find_anywhere(&e->attach);
        if (r < 0)
                return r;
        recall_replaced_ip(e);
        return 0;
}

int eni_find_or_plan(Eni *e) {
        return attach_find_or_plan(&e->attach);
}

int eni_detach(Eni *e) {
        return attach_release(&e->attach);
}
