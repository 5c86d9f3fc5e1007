/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>

#include "eni.h"
#include "log.h"

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

static const AttachOps eni_ops = {
        .what = "network interface",
        .what_title = "Network interface",
        .zone_note = "an ENI attaches only within its availability zone",
        .wait_state = PATH_STATE_WAIT_LINK,
        .list = eni_list,
        .candidate = eni_candidate,
        .keep = eni_keep,
        .view = eni_view,
        .where = eni_where,
        .attach = eni_send_attach,
        .detach = eni_send_detach,
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
                },
        };
}

void eni_done(Eni *e) {
        if (!e)
                return;
        drop_listed(e);
        e->watch = netif_link_watch_free(e->watch);
        ec2_network_interface_done(&e->ec2);
        e->attach.id = NULL;
}

int eni_attach(Eni *e) {
        return attach_run(&e->attach);
}

int eni_attach_to_ec2(Eni *e) {
        return attach_run_to_ec2(&e->attach);
}

int eni_find(Eni *e) {
        return attach_find(&e->attach);
}

int eni_detach(Eni *e) {
        return attach_release(&e->attach);
}
