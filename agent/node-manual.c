/* SPDX-License-Identifier: Apache-2.0 */
/* The modes an operator runs by hand, on the boot's own steps:
 * --attach-only, --detach (and the release on SIGTERM), --status. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "node.h"
#include "raid.h"
#include "route53.h"

/* How long --attach-only waits for the local device once EC2 says attached:
 * it usually follows within a second or two; say where it is if it does,
 * but do not make the operator wait long for it. */
#define ATTACH_ONLY_LOCAL_WAIT_USEC (10 * USEC_PER_SEC)

static usec_t local_wait_until(const Node *n) {
        return MIN(usec_add(now(CLOCK_MONOTONIC), ATTACH_ONLY_LOCAL_WAIT_USEC), n->deadline);
}

/* --section NAME limits --attach-only and --detach to one volume section
 * (and to nothing else: not the interface). */
static bool selected(const Node *n, const NodeVolume *v) {
        return !n->config->only_volume || n->config->only_volume == v->config;
}

static int attach_only_member(Node *n, Volume *m) {
        int r;

        r = volume_attach_to_ec2(m);
        if (r < 0)
                return r;
        r = m->attach.ops->wait_local(&m->attach, local_wait_until(n));
        if (r > 0)
                printf("%s -> %s\n", m->ec2.id, m->device.devnode);
        else
                printf("%s -> attached as %s, no local device yet\n", m->ec2.id, strna(m->device_name));
        m->attach.ops->local_done(&m->attach);
        return 0;
}

static int attach_only_volume(Node *n, NodeVolume *v) {
        int r;

        for (size_t k = 0; k < v->n_members; k++) {
                r = attach_only_member(n, &v->members[k]);
                if (r < 0)
                        return r;
        }
        path_transition(&v->path, PATH_STATE_DONE, "%s%s is attached here.", v->members[0].ec2.id,
                        v->n_members > 1 ? " and the set's other members" : "");
        return 0;
}

static int attach_only_interface(Node *n) {
        Eni *e = &n->interface.eni;
        int r;

        r = eni_attach_to_ec2(e);
        if (r < 0)
                return r;

        r = e->attach.ops->wait_local(&e->attach, local_wait_until(n));
        if (r > 0)
                printf("%s -> %s (%s)\n", e->ec2.id, e->link.name, strna(e->ec2.private_ip));
        else
                printf("%s -> attached at device index %d, no local link yet (%s)\n", e->ec2.id,
                       e->ec2.attachment.device_index, strna(e->ec2.private_ip));
        e->attach.ops->local_done(&e->attach);
        path_transition(&n->interface.path, PATH_STATE_DONE, "%s is attached here.", e->ec2.id);
        return 0;
}

int node_attach_only(Node *n) {
        int r;

        if (n->n_volumes == 0 && !n->config->has_interface) {
                log_info("Nothing to attach: neither a volume section nor [Interface] is configured.");
                return 0;
        }
        for (size_t i = 0; i < n->n_volumes; i++) {
                if (!selected(n, &n->volumes[i]))
                        continue;
                r = attach_only_volume(n, &n->volumes[i]);
                if (r < 0)
                        return r;
        }
        if (n->config->has_interface && !n->config->only_volume)
                return attach_only_interface(n);
        return 0;
}

static int detach_interface(Node *n) {
        int r;

        r = eni_find(&n->interface.eni);
        if (r < 0)
                return r;
        r = eni_detach(&n->interface.eni);
        if (r < 0)
                return r;
        node_interface_unroute(n);
        return 0;
}

/* Unmounts first: a detach under a mounted filesystem loses what the page
 * cache still holds. */
static int unmount_volume(NodeVolume *v) {
        const char *mp = v->config->mount_point;
        int r;

        r = fs_unmount(mp);
        if (r == -EBUSY)
                return path_fail(&v->path, FAILURE_UNUSABLE, r, "%s is in use: stop what uses it first (fuser -vm %s "
                                 "tells what).", mp, mp);
        if (r < 0)
                return path_fail(&v->path, FAILURE_OTHER, r, "Failed to unmount %s: %m", mp);
        if (r > 0)
                path_transition(&v->path, PATH_STATE_UNMOUNT, "Unmounted %s.", mp);
        return 0;
}

int node_stop_array(Node *n, NodeVolume *v) {
        _cleanup_free_ BlockDevice *devices = NULL;
        _cleanup_free_ RaidMember *members = NULL;
        _cleanup_free_ char *md_name = NULL;
        int r;

        if (v->config->stripe == STRIPE_NONE)
                return 0;
        r = raid_md_name(n->name, v->config->section, &md_name);
        if (r < 0)
                return path_fail(&v->path, FAILURE_OTHER, r, "Failed to name the array: %m");
        /* node_volume_init() gives every volume one member at least. */
        assert(v->n_members > 0);
        devices = calloc(v->n_members, sizeof(BlockDevice));
        members = calloc(v->n_members, sizeof(RaidMember));
        if (!devices || !members)
                return log_oom();
        for (size_t k = 0; k < v->n_members; k++) {
                Volume *m = &v->members[k];

                /* A member not here has nothing to stop. */
                if (m->ec2.id)
                        (void) blockdev_find(m->ec2.id, m->device_name, &devices[k]);
                members[k] = (RaidMember) { .volume_id = m->ec2.id, .devnode = devices[k].devnode, .slot = -1 };
        }
        r = raid_stop(md_name, members, v->n_members, n->deadline);
        for (size_t k = 0; k < v->n_members; k++)
                block_device_done(&devices[k]);
        if (r == -EBUSY)
                return path_fail_logged(&v->path, FAILURE_UNUSABLE, r, "the md array is in use");
        if (r < 0)
                return path_fail(&v->path, FAILURE_OTHER, r, "Failed to stop md array %s: %m", md_name);
        if (r > 0)
                path_transition(&v->path, PATH_STATE_ARRAY, "Stopped md array %s.", md_name);
        return 0;
}

static int detach_members(NodeVolume *v) {
        int r;

        for (size_t k = 0; k < v->n_members; k++) {
                r = volume_detach(&v->members[k]);
                if (r < 0)
                        return r;
        }
        return 0;
}

size_t node_release_order(const Node *n, NodeVolume **ret) {
        size_t k = 0;

        for (size_t i = 0; i < n->n_volumes; i++)
                ret[k++] = &n->volumes[i];
        for (size_t i = 1; i < k; i++)
                for (size_t j = i; j > 0 && strlen(ret[j]->config->mount_point) >
                                                    strlen(ret[j - 1]->config->mount_point); j--) {
                        NodeVolume *t = ret[j];

                        ret[j] = ret[j - 1];
                        ret[j - 1] = t;
                }
        return k;
}

static int detach_volume(Node *n, NodeVolume *v) {
        int r;

        for (size_t k = 0; k < v->n_members; k++) {
                r = volume_find(&v->members[k]);
                if (r < 0)
                        return r;
        }
        r = unmount_volume(v);
        if (r < 0)
                return r;
        r = node_stop_array(n, v);
        if (r < 0)
                return r;
        return detach_members(v);
}

int node_detach(Node *n) {
        _cleanup_free_ NodeVolume **order = calloc(MAX(n->n_volumes, 1U), sizeof(NodeVolume *));
        size_t k;
        int r;

        if (!order)
                return log_oom();
        if (n->n_volumes == 0)
                log_info("No volume section: no volume to detach.");
        k = node_release_order(n, order);
        for (size_t i = 0; i < k; i++) {
                if (!selected(n, order[i]))
                        continue;
                r = detach_volume(n, order[i]);
                if (r < 0)
                        return r;
        }

        /* The ENI carries the node's address: it goes only when asked to. */
        if (n->config->has_interface && n->config->interface.detach_on_stop && !n->config->only_volume)
                return detach_interface(n);
        return 0;
}

int node_detach_together(Node *n, Attach **list, size_t k) {
        _cleanup_free_ bool *sent = calloc(MAX(k, 1U), sizeof(bool));
        Attach *eni = n->config->has_interface ? &n->interface.eni.attach : NULL;
        bool with_eni = false;
        int r = 0, q;

        if (!sent)
                return log_oom();
        for (size_t i = 0; i < k; i++) {
                with_eni = with_eni || list[i] == eni;
                if (!list[i]->id)
                        continue;
                q = attach_release_start(list[i]);
                if (q < 0 && r >= 0)
                        r = q;
                sent[i] = q > 0;
        }
        for (size_t i = 0; i < k; i++) {
                if (!sent[i])
                        continue;
                q = attach_release_wait(list[i]);
                if (q < 0 && r >= 0)
                        r = q;
        }
        if (with_eni && eni->id && attach_mine(eni) == ATTACH_MINE_NONE)
                node_interface_unroute(n);
        return r;
}

/* Unmounts v and stops its array: 0, or a failure that leaves it attached. */
static int release_prepare_volume(Node *n, NodeVolume *v) {
        int r;

        r = unmount_volume(v);
        if (r >= 0)
                r = node_stop_array(n, v);
        if (r < 0)
                log_error("%s: leaving %s attached.", v->path.name, strna(v->members[0].ec2.id));
        return r;
}

/* Every unmount first (nested mount points before theirs), then the
 * detaches of the volumes and the ENI together: none of them waits for
 * another's. A volume that cannot be unmounted stays attached; the rest
 * is released all the same. */
int node_release_on_stop(Node *n) {
        _cleanup_free_ NodeVolume **order = calloc(MAX(n->n_volumes, 1U), sizeof(NodeVolume *));
        _cleanup_free_ Attach **list = NULL;
        size_t count, n_list = 1, k = 0;
        int r = 0, q;

        if (!order)
                return log_oom();
        for (size_t i = 0; i < n->n_volumes; i++)
                n_list += n->volumes[i].n_members;
        list = calloc(n_list, sizeof(Attach *));
        if (!list)
                return log_oom();
        n->deadline = usec_add(now(CLOCK_MONOTONIC), 2 * USEC_PER_MINUTE);
        count = node_release_order(n, order);
        for (size_t i = 0; i < count; i++) {
                NodeVolume *v = order[i];

                if (!v->config->detach_on_stop)
                        continue;
                q = release_prepare_volume(n, v);
                if (q < 0) {
                        if (r >= 0)
                                r = q;
                        continue;
                }
                for (size_t m = 0; m < v->n_members; m++) {
                        v->members[m].attach.deadline = n->deadline;
                        list[k++] = &v->members[m].attach;
                }
        }
        if (n->config->has_interface && n->config->interface.detach_on_stop) {
                n->interface.eni.attach.deadline = n->deadline;
                list[k++] = &n->interface.eni.attach;
        }
        q = node_detach_together(n, list, k);
        return r < 0 ? r : q;
}

static int status_dns(Node *n) {
        _cleanup_(route53_record_set_done) Route53RecordSet set = {};
        _cleanup_(aws_error_done) AwsError error = {};
        const ConfigDns *cfg = &n->config->dns;
        const char *identifier = cfg->mode == DNS_MODE_MULTIVALUE ? n->name : NULL;
        int r;

        r = route53_find_record_set(n->instance->aws, cfg->hosted_zone_id, cfg->name, "A", identifier, n->deadline,
                                    &error, &set);
        if (r == -ENOENT && !error.code) {
                printf("DNS %s: no record\n", cfg->name);
                return 0;
        }
        if (r < 0)
                return path_fail(&n->dns.path, failure_kind_of_call(r), r, "Failed to read %s from zone %s: %s%s%m",
                                 cfg->name, cfg->hosted_zone_id, strempty(error.code), error.code ? ": " : "");
        printf("DNS %s (%s, TTL %" PRId64 "):", cfg->name, dns_mode_to_string(cfg->mode), set.ttl);
        for (size_t i = 0; i < set.n_values; i++)
                printf(" %s", set.values[i]);
        printf("\n");
        return 0;
}

static void status_link(const Node *n, const NetifLink *link) {
        _cleanup_(netif_state_done) NetifState state = {};
        char buf[NETIF_FORMAT_MAX];

        printf("  link %s (ifindex %d)\n", link->name, link->ifindex);
        if (netif_read_state(link->ifindex, netif_table_for(n->config->interface.network_card_index,
                                                            n->config->interface.device_index), &state) < 0)
                return;
        for (size_t i = 0; i < state.n_addresses; i++)
                printf("  address %s\n", netif_address_to_string(&state.addresses[i], buf));
        for (size_t i = 0; i < state.n_routes; i++)
                printf("  route %s\n", netif_route_to_string(&state.routes[i], buf));
        for (size_t i = 0; i < state.n_rules; i++)
                printf("  rule %s\n", netif_rule_to_string(&state.rules[i], buf));
}

/* A resource a restore made says so (its nodeagent:restored-from tag). */
static void status_restored(const Ec2Tag *tags, size_t n_tags) {
        const char *from = ec2_tags_get(tags, n_tags, ATTACH_TAG_RESTORED_FROM);

        if (from)
                printf("  restored from %s\n", from);
}

static int status_interface(Node *n) {
        const Ec2NetworkInterface *e = &n->interface.eni.ec2;
        NetifLink link;
        NetifMac mac;
        int r;

        r = eni_find_or_plan(&n->interface.eni);
        if (r < 0)
                return r;
        if (r == ATTACH_RESTORE_PLANNED) {
                printf("Interface: none in %s; a boot would %s (Restore=%s)\n", n->instance->availability_zone,
                       n->interface.eni.attach.restore_plan,
                       interface_restore_to_string(n->config->interface.restore));
                return 0;
        }
        printf("Interface %s (%s): ", e->id, strna(e->private_ip));
        if (eni_is_attached_to(e, n->instance->instance_id))
                printf("attached here at device index %d (%s)\n", e->attachment.device_index,
                       strna(e->attachment.status));
        else if (e->attachment.instance_id)
                printf("attached to %s\n", e->attachment.instance_id);
        else
                printf("%s\n", strna(e->status));

        status_restored(e->tags, e->n_tags);
        if (netif_mac_from_string(e->mac, &mac) >= 0 && netif_wait_link(&mac, 0, &link) >= 0)
                status_link(n, &link);
        else
                printf("  no local link\n");
        return 0;
}

static int status_member(Node *n, NodeVolume *v, Volume *m) {
        _cleanup_(block_device_done) BlockDevice d = {};
        const Ec2Volume *e = &m->ec2;
        const Ec2VolumeAttachment *mine;
        int r;

        r = volume_find_or_plan(m);
        if (r < 0)
                return r;
        if (r == ATTACH_RESTORE_PLANNED) {
                printf("Volume (%s): none in %s; a boot would %s (Restore=%s)\n", v->config->section,
                       n->instance->availability_zone, m->attach.restore_plan,
                       volume_restore_to_string(v->config->restore));
                return ATTACH_RESTORE_PLANNED;
        }
        mine = volume_attachment_of(e, n->instance->instance_id);
        printf("Volume %s (%s): %s", e->id, v->config->section, strna(e->state));
        if (mine)
                printf(", attached here as %s (%s)", strna(mine->device), strna(mine->state));
        else if (e->n_attachments > 0)
                printf(", attached to %s", strna(e->attachments[0].instance_id));
        printf("\n");
        status_restored(e->tags, e->n_tags);

        if (blockdev_find(e->id, m->device_name, &d) >= 0) {
                printf("  device %s (serial %s)\n", d.devnode, strna(d.serial));
                if (v->n_members == 1) {
                        r = fs_mount_state(d.devnode, v->config->mount_point);
                        printf("  %s %s\n", r > 0 ? "mounted at" : "not mounted at", v->config->mount_point);
                }
        } else
                printf("  no local device\n");
        return 0;
}

/* A set's md array: what runs as /dev/md/<name>, and its mount. */
static int status_array(Node *n, NodeVolume *v) {
        _cleanup_(raid_status_done) RaidStatus st = { .raid_devices = -1 };
        _cleanup_free_ char *md_name = NULL, *device = NULL;
        int r;

        r = raid_md_name(n->name, v->config->section, &md_name);
        if (r < 0)
                return path_fail(&v->path, FAILURE_OTHER, r, "Failed to name the array: %m");
        if (asprintf(&device, "/dev/md/%s", md_name) < 0)
                return log_oom();
        r = raid_status(md_name, n->deadline, &st);
        if (r < 0)
                return path_fail(&v->path, FAILURE_OTHER, r, "Failed to read md array %s: %m", md_name);
        if (r == 0) {
                printf("md array %s (%s): not running\n", device, v->config->section);
                return 0;
        }
        printf("md array %s (%s): %s, %s, %d devices, UUID %s\n", device, v->config->section, st.kernel_name,
               strna(st.array_state), st.raid_devices, strna(st.uuid));
        r = fs_mount_state(device, v->config->mount_point);
        printf("  %s %s\n", r > 0 ? "mounted at" : "not mounted at", v->config->mount_point);
        return 0;
}

static int status_volume(Node *n, NodeVolume *v) {
        int r;

        for (size_t k = 0; k < v->n_members; k++) {
                r = status_member(n, v, &v->members[k]);
                if (r < 0)
                        return r;
                /* A set restores as a whole: its plan is said once. */
                if (r == ATTACH_RESTORE_PLANNED && v->config->stripe != STRIPE_NONE)
                        return 0;
        }
        if (v->config->stripe != STRIPE_NONE)
                return status_array(n, v);
        return 0;
}

/* The last boot's phases and outcome, from the state file it wrote. */
static void status_last_boot(void) {
        _cleanup_fclose_ FILE *f = fopen(node_state_file_path(), "re");
        _cleanup_free_ char *line = NULL;
        size_t size = 0;

        if (!f)
                return;
        while (getline(&line, &size, f) > 0) {
                const char *v;
                size_t l;

                line[strcspn(line, "\n")] = '\0';
                v = startswith(line, "NODEAGENT_BOOT_PHASES=\"") ?: startswith(line, "NODEAGENT_FAILED=\"");
                if (!v)
                        continue;
                l = strlen(v);
                if (l > 0 && v[l - 1] == '"')
                        l--;
                printf(startswith(line, "NODEAGENT_FAILED") ? "Last boot failed: exit status %.*s\n" :
                                                               "Last boot's phases (seconds): %.*s\n", (int) l, v);
        }
}

int node_status(Node *n) {
        int r;

        printf("Instance %s in %s\n", n->instance->instance_id, n->instance->availability_zone);
        status_last_boot();
        if (n->config->has_dns) {
                r = status_dns(n);
                if (r < 0)
                        return r;
        }
        if (n->config->has_interface) {
                r = status_interface(n);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n->n_volumes; i++) {
                r = status_volume(n, &n->volumes[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The addresses the node may have published, as EC2 says today: without
 * [Interface] this instance's primary IP; else the ENI's, attached here or
 * not, and also when it is in another zone (lost with it: the old
 * instance there published its address, and this instance's boot, which
 * cannot attach it, published nothing); and the address of the ENI a
 * Restore=create replaced, which a boot killed before its DNS change left
 * published. The state file is no help: it is this instance's, whose boot
 * failed or never ran where the zone was lost. ret[1] may be NULL. */
static int unpublish_ips(Node *n, const char *ret[static 2]) {
        Eni *e = &n->interface.eni;
        int r;

        if (!n->config->has_interface) {
                ret[0] = n->instance->private_ip;
                ret[1] = NULL;
                return 0;
        }
        r = eni_find_published(e);
        if (r < 0)
                return r;
        if (!streq_ptr(e->ec2.az, n->instance->availability_zone))
                log_info("%s: %s is in %s, this instance in %s: taking its address %s out all the same.",
                         e->attach.path->name, e->ec2.id, strna(e->ec2.az), n->instance->availability_zone,
                         strna(e->ec2.private_ip));
        ret[0] = e->ec2.private_ip;
        ret[1] = streq_ptr(e->replaced_ip, e->ec2.private_ip) ? NULL : e->replaced_ip;
        return 0;
}

int node_unpublish(Node *n) {
        const char *ips[2] = {};
        DnsPublish p;
        int r;

        if (!n->config->has_dns) {
                log_info("No [DNS] section: nothing to unpublish.");
                return 0;
        }
        p = (DnsPublish) {
                .path = &n->dns.path,
                .aws = n->instance->aws,
                .config = &n->config->dns,
                .node_name = n->name,
                .deadline = n->deadline,
        };
        r = unpublish_ips(n, ips);
        if (r < 0)
                return r;
        if (isempty(ips[0]))
                return path_fail(&n->dns.path, FAILURE_OTHER, -ENXIO, "There is no IP address to take out of %s.",
                                 n->config->dns.name);

        /* node: the A record, only while it holds this node's IP (a late
         * old instance never deletes its successor's); multivalue: the
         * node's own set, the same way; shared: this IP, by compare-and-
         * swap, the set deleted with its last IP. Each address is its own
         * read and change: the node's own set holds at most one of them,
         * and in a shared set each goes by its own compare-and-swap. */
        for (size_t i = 0; i < ELEMENTSOF(ips) && ips[i]; i++) {
                _cleanup_(dns_result_done) DnsResult result = {};

                p.ip = ips[i];
                r = dns_unpublish(&p, &result);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* UnpublishOnStop=terminating: the Auto Scaling group says where it moves
 * this instance. Only "Terminated" takes the node out of DNS: a stop for a
 * reboot, a package update or Standby keeps the entry, since the same
 * instance comes back with the same address and clients would lose the node
 * for nothing. Anything unreadable keeps it too: a stale entry costs a
 * failed connection, a missing one an outage. */
static bool instance_is_terminating(Node *n) {
        _cleanup_free_ char *target = NULL;
        int r;

        r = imds_get(n->instance->imds, "meta-data/autoscaling/target-lifecycle-state",
                     usec_add(now(CLOCK_MONOTONIC), 5 * USEC_PER_SEC), &target);
        if (r == -ENOENT) {
                log_info("IMDS has no target lifecycle state (not in an Auto Scaling group): keeping %s.",
                         n->config->dns.name);
                return false;
        }
        if (r < 0) {
                log_warning_errno(r, "Could not read the target lifecycle state from IMDS, keeping %s: %m",
                                  n->config->dns.name);
                return false;
        }
        target[strcspn(target, " \t\r\n")] = 0;
        if (!streq(target, "Terminated")) {
                log_info("The Auto Scaling group moves this instance to %s, not Terminated: keeping %s.", target,
                         n->config->dns.name);
                return false;
        }
        return true;
}

int node_stop(Node *n) {
        int r;

        n->deadline = usec_add(now(CLOCK_MONOTONIC), 2 * USEC_PER_MINUTE);
        if (n->config->has_dns && n->config->dns.unpublish_on_stop == UNPUBLISH_ON_STOP_TERMINATING &&
            instance_is_terminating(n)) {
                /* First, while the address still answers: clients move on
                 * before the volume goes. A failure is logged and the
                 * release goes on; the successor's publish replaces the
                 * entry anyway. */
                log_info("The instance is being terminated: taking this node out of %s.", n->config->dns.name);
                r = node_unpublish(n);
                if (r < 0)
                        log_warning_errno(r, "Leaving %s as it is: %m", n->config->dns.name);
        }
        return node_release_on_stop(n);
}
