/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "eni.h"
#include "log.h"
#include "takeover.h"
#include "zone-match.h"

#define POLL_FIRST_USEC (1 * USEC_PER_SEC)
#define POLL_MAX_USEC (5 * USEC_PER_SEC)

static int find_by_id(AwsClient *aws, const char *id, const char *az, usec_t deadline,
                      Ec2NetworkInterface *ret) {
        _cleanup_(aws_error_done) AwsError error = {};
        const char *ids[] = { id, NULL };
        Ec2NetworkInterface *enis = NULL;
        size_t n = 0;
        int r;

        r = ec2_describe_network_interfaces(aws, ids, NULL, 0, false, deadline, &error, &enis, &n);
        if (r == -ENOENT || (r >= 0 && n == 0)) {
                ec2_network_interfaces_free(enis, n);
                return log_error_errno(ENOENT, "Network interface %s does not exist in this region.", id);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to describe network interface %s: %s%s%m", id,
                                       strempty(error.code), error.code ? ": " : "");

        if (!streq_ptr(enis[0].az, az)) {
                log_error("Network interface %s is in %s, this instance in %s: an ENI attaches only "
                          "within its availability zone.", id, strna(enis[0].az), az);
                ec2_network_interfaces_free(enis, n);
                return -EXDEV;
        }

        *ret = enis[0];
        enis[0] = (Ec2NetworkInterface) {};
        ec2_network_interfaces_free(enis, n);
        return 0;
}

static int find_by_tag(AwsClient *aws, const ConfigTag *tag, const char *az, usec_t deadline,
                       Ec2NetworkInterface *ret) {
        _cleanup_(aws_error_done) AwsError error = {};
        _cleanup_free_ char *filter_name = NULL, *listed = NULL;
        _cleanup_free_ ZoneCandidate *candidates = NULL;
        const char *values[] = { tag->value, NULL };
        Ec2NetworkInterface *enis = NULL;
        size_t n = 0, index = 0;
        Ec2Filter filter;
        int r;

        if (asprintf(&filter_name, "tag:%s", tag->key) < 0)
                return log_oom();
        filter = (Ec2Filter) { .name = filter_name, .values = values };

        r = ec2_describe_network_interfaces(aws, NULL, &filter, 1, false, deadline, &error, &enis, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to look for network interfaces tagged %s=%s: %s%s%m",
                                       tag->key, tag->value, strempty(error.code), error.code ? ": " : "");

        candidates = calloc(MAX(n, 1U), sizeof(ZoneCandidate));
        if (!candidates) {
                ec2_network_interfaces_free(enis, n);
                return log_oom();
        }
        for (size_t i = 0; i < n; i++)
                candidates[i] = (ZoneCandidate) { enis[i].id, enis[i].az, enis[i].status };
        listed = zone_match_format(candidates, n);

        r = zone_match_pick(candidates, n, az, &index);
        if (r == -ENOENT)
                log_error("No network interface is tagged %s=%s.", tag->key, tag->value);
        else if (r == -EXDEV)
                log_error("No network interface tagged %s=%s is in %s, where this instance runs; found: %s.",
                          tag->key, tag->value, az, strna(listed));
        else if (r == -ENOTUNIQ)
                log_error("Several network interfaces in %s are tagged %s=%s, expected exactly one: %s.",
                          az, tag->key, tag->value, strna(listed));
        else {
                *ret = enis[index];
                enis[index] = (Ec2NetworkInterface) {};
        }

        ec2_network_interfaces_free(enis, n);
        return r;
}

int eni_find(AwsClient *aws, const ConfigInterface *config, const char *availability_zone,
             usec_t deadline, Ec2NetworkInterface *ret) {
        if (config->id)
                return find_by_id(aws, config->id, availability_zone, deadline, ret);
        return find_by_tag(aws, &config->tag, availability_zone, deadline, ret);
}

bool eni_is_attached_to(const Ec2NetworkInterface *eni, const char *instance_id) {
        return eni->attachment.id && streq_ptr(eni->attachment.instance_id, instance_id) &&
               !streq_ptr(eni->attachment.status, "detaching") && !streq_ptr(eni->attachment.status, "detached");
}

static int refresh(const EniAttach *a, Ec2NetworkInterface *eni) {
        _cleanup_(aws_error_done) AwsError error = {};
        const char *ids[] = { eni->id, NULL };
        Ec2NetworkInterface *enis = NULL;
        size_t n = 0;
        int r;

        r = ec2_describe_network_interfaces(a->aws, ids, NULL, 0, false, a->deadline, &error, &enis, &n);
        if (r < 0)
                return path_fail(a->path, r, "Failed to describe network interface %s: %s%s%m", eni->id,
                                 strempty(error.code), error.code ? ": " : "");
        if (n == 0) {
                ec2_network_interfaces_free(enis, n);
                return path_fail(a->path, -ENOENT, "Network interface %s disappeared.", eni->id);
        }
        ec2_network_interface_done(eni);
        *eni = enis[0];
        enis[0] = (Ec2NetworkInterface) {};
        ec2_network_interfaces_free(enis, n);
        return 0;
}

typedef struct EniTakeOver {
        const EniAttach *attach;
        Ec2NetworkInterface *eni;
} EniTakeOver;

static void eni_take_over_view(void *userdata, TakeOverView *ret) {
        EniTakeOver *t = userdata;
        const Ec2NetworkInterfaceAttachment *att = &t->eni->attachment;
        bool elsewhere = att->id && att->instance_id && !streq_ptr(att->instance_id, t->attach->instance_id) &&
                         !streq_ptr(att->status, "detached");

        *ret = (TakeOverView) {
                .holder = elsewhere ? att->instance_id : NULL,
                .attachment_state = elsewhere ? att->status : NULL,
                /* Our own attachment on its way out: wait for it to end. */
                .busy = !elsewhere && att->id && streq_ptr(att->status, "detaching"),
        };
}

static int eni_take_over_describe(void *userdata) {
        EniTakeOver *t = userdata;

        return refresh(t->attach, t->eni);
}

static int eni_take_over_force_detach(void *userdata, const char *holder) {
        _cleanup_(aws_error_done) AwsError error = {};
        EniTakeOver *t = userdata;
        int r;

        r = ec2_detach_network_interface(t->attach->aws, t->eni->attachment.id, true, false, t->attach->deadline,
                                         &error);
        if (r < 0 && !streq_ptr(error.code, "IncorrectState"))
                return path_fail(t->attach->path, r, "DetachNetworkInterface of %s from %s failed: %s%s%m",
                                 t->eni->id, holder, strempty(error.code), error.code ? ": " : "");
        return 0;
}

static int take_over(const EniAttach *a, Ec2NetworkInterface *eni) {
        /* The describe() callback replaces the description, id and all:
         * the target keeps a copy of its own. */
        _cleanup_free_ char *id = strdup(eni->id);
        EniTakeOver state = { .attach = a, .eni = eni };
        TakeOver t = {
                .path = a->path,
                .aws = a->aws,
                .policy = a->config->take_over,
                .timeout = a->config->take_over_timeout,
                .deadline = a->deadline,
                .poll_first = a->poll_first,
        };
        TakeOverTarget target = {
                .what = "network interface",
                .id = id,
                .view = eni_take_over_view,
                .describe = eni_take_over_describe,
                .force_detach = eni_take_over_force_detach,
                .userdata = &state,
        };

        if (!id)
                return log_oom();
        return take_over_run(&t, &target);
}

/* Sends AttachNetworkInterface. A reply lost after EC2 acted on it makes the
 * retry fail as "in use"; then the ENI turns out to be attached here. */
static int attach(const EniAttach *a, Ec2NetworkInterface *eni) {
        _cleanup_(aws_error_done) AwsError error = {};
        int r;

        path_transition(a->path, "attach", "Attaching %s at device index %u.", eni->id, a->config->device_index);
        r = ec2_attach_network_interface(a->aws, eni->id, a->instance_id, a->config->device_index, false,
                                         a->deadline, &error, NULL);
        if (r >= 0)
                return 0;

        if (error.code && (startswith(error.code, "InvalidNetworkInterface.InUse") ||
                           streq(error.code, "IncorrectState"))) {
                int k = refresh(a, eni);

                if (k < 0)
                        return k;
                if (eni_is_attached_to(eni, a->instance_id)) {
                        log_info("interface: attach: %s is attached here already (an earlier attempt went through).",
                                 eni->id);
                        return 0;
                }
                return -EAGAIN;
        }
        if (streq_ptr(error.code, "InvalidParameterCombination"))
                return path_fail(a->path, -EXDEV, "Network interface %s cannot be attached here: %s", eni->id,
                                 strna(error.message));
        return path_fail(a->path, r, "AttachNetworkInterface of %s failed: %s%s%s", eni->id, strempty(error.code),
                         error.code ? ": " : "", error.message ?: strerror(-r));
}

static int find_and_attach(const EniAttach *a, Ec2NetworkInterface *eni) {
        int r;

        path_transition(a->path, "find", "Looking for the network interface (%s%s%s%s).",
                        a->config->id ? "Id=" : "Tag=", a->config->id ?: strempty(a->config->tag.key),
                        a->config->id ? "" : "=", a->config->id ? "" : strempty(a->config->tag.value));
        r = eni_find(a->aws, a->config, a->availability_zone, a->deadline, eni);
        if (r < 0)
                return r;

        for (unsigned tries = 0;; tries++) {
                if (eni_is_attached_to(eni, a->instance_id)) {
                        if (eni->attachment.device_index != (int) a->config->device_index)
                                log_notice("interface: attach: %s is attached here at device index %d, not %u; "
                                           "keeping it there.", eni->id, eni->attachment.device_index,
                                           a->config->device_index);
                        else
                                log_info("interface: attach: %s is attached here already (%s).", eni->id,
                                         strna(eni->attachment.status));
                        return 0;
                }

                r = take_over(a, eni);
                if (r < 0)
                        return r;

                r = attach(a, eni);
                if (r >= 0)
                        return refresh(a, eni);
                if (r != -EAGAIN)
                        return r;
                if (tries >= 3)
                        return path_fail(a->path, -EBUSY, "Network interface %s keeps being taken by another "
                                         "instance.", eni->id);
        }
}

static int wait_for_link(const EniAttach *a, Ec2NetworkInterface *eni, NetifLink *ret) {
        usec_t interval = a->poll_first ?: POLL_FIRST_USEC, poll_max = a->poll_max ?: POLL_MAX_USEC;
        NetifMac mac;
        bool retried = false;
        int r;

        r = netif_mac_from_string(eni->mac, &mac);
        if (r < 0)
                return path_fail(a->path, -EBADMSG, "EC2 gave network interface %s the MAC address \"%s\", which "
                                 "is not one.", eni->id, strna(eni->mac));

        path_transition(a->path, "wait-link", "Waiting for the link with MAC address %s.", eni->mac);
        for (;;) {
                usec_t until = MIN(usec_add(now(CLOCK_MONOTONIC), interval), a->deadline);

                r = netif_wait_link(&mac, until, ret);
                if (r >= 0)
                        return 0;
                if (r != -ETIME)
                        return path_fail(a->path, r, "Failed to watch for the link of %s: %m", eni->id);
                if (path_cancelled())
                        return path_fail(a->path, -ECANCELED, "Cancelled.");
                if (usec_left(a->deadline) == 0)
                        return path_fail(a->path, -ETIME, "No link with MAC address %s appeared before the "
                                         "deadline (EC2 says %s).", eni->mac, strna(eni->attachment.status));

                r = refresh(a, eni);
                if (r < 0)
                        return r;
                if (!eni_is_attached_to(eni, a->instance_id)) {
                        if (retried)
                                return path_fail(a->path, -EIO, "The attachment of %s failed twice.", eni->id);
                        log_warning("interface: wait-link: EC2 no longer lists %s as attached here; attaching "
                                    "again.", eni->id);
                        retried = true;
                        r = find_and_attach(a, eni);
                        if (r < 0)
                                return r;
                }
                interval = take_over_next_interval(interval, poll_max);
        }
}

int eni_attach(const EniAttach *a, Ec2NetworkInterface *ret_eni, NetifLink *ret_link) {
        _cleanup_(ec2_network_interface_done) Ec2NetworkInterface eni = {};
        NetifLink link = {};
        int r;

        r = find_and_attach(a, &eni);
        if (r < 0)
                return r;

        if (a->while_attaching) {
                r = a->while_attaching(&eni, a->userdata);
                if (r < 0)
                        return r;
        }

        r = wait_for_link(a, &eni, &link);
        if (r < 0)
                return r;

        log_info("interface: wait-link: %s is %s (ifindex %d, MAC %s).", eni.id, link.name, link.ifindex, eni.mac);
        *ret_eni = eni;
        eni = (Ec2NetworkInterface) {};
        *ret_link = link;
        return 0;
}

int eni_attach_only(const EniAttach *a, Ec2NetworkInterface *ret_eni) {
        _cleanup_(ec2_network_interface_done) Ec2NetworkInterface eni = {};
        usec_t interval = a->poll_first ?: POLL_FIRST_USEC, poll_max = a->poll_max ?: POLL_MAX_USEC;
        int r;

        r = find_and_attach(a, &eni);
        if (r < 0)
                return r;

        path_transition(a->path, "wait-attached", "Waiting for EC2 to report %s attached.", eni.id);
        while (!streq_ptr(eni.attachment.status, "attached")) {
                if (!eni_is_attached_to(&eni, a->instance_id))
                        return path_fail(a->path, -EIO, "EC2 no longer lists %s as attached here.", eni.id);
                r = take_over_wait_for_poll(a->deadline, interval);
                if (r < 0)
                        return path_fail(a->path, r, "EC2 did not report %s attached before the deadline.",
                                         eni.id);
                interval = take_over_next_interval(interval, poll_max);
                r = refresh(a, &eni);
                if (r < 0)
                        return r;
        }

        *ret_eni = eni;
        eni = (Ec2NetworkInterface) {};
        return 0;
}

int eni_detach(const EniAttach *a, const Ec2NetworkInterface *current) {
        _cleanup_(aws_error_done) AwsError error = {};
        _cleanup_(ec2_network_interface_done) Ec2NetworkInterface eni = {};
        usec_t interval = a->poll_first ?: POLL_FIRST_USEC, poll_max = a->poll_max ?: POLL_MAX_USEC;
        int r;

        if (!eni_is_attached_to(current, a->instance_id)) {
                log_info("interface: detach: %s is not attached here; nothing to detach.", current->id);
                return 0;
        }

        path_transition(a->path, "detach", "Detaching %s.", current->id);
        r = ec2_detach_network_interface(a->aws, current->attachment.id, false, false, a->deadline, &error);
        if (r < 0 && !streq_ptr(error.code, "IncorrectState"))
                return path_fail(a->path, r, "DetachNetworkInterface of %s failed: %s%s%m", current->id,
                                 strempty(error.code), error.code ? ": " : "");

        eni.id = strdup(current->id);
        if (!eni.id)
                return log_oom();
        for (;;) {
                r = refresh(a, &eni);
                if (r < 0)
                        return r;
                if (!eni.attachment.id || !streq_ptr(eni.attachment.instance_id, a->instance_id))
                        break;
                r = take_over_wait_for_poll(a->deadline, interval);
                if (r < 0)
                        return path_fail(a->path, r, "Network interface %s was not free before the deadline.",
                                         eni.id);
                interval = take_over_next_interval(interval, poll_max);
        }
        log_info("interface: detach: %s is available.", eni.id);
        return 0;
}
