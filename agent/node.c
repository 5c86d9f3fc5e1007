/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "dns.h"
#include "eni.h"
#include "log.h"
#include "node.h"
#include "notify.h"
#include "route53.h"
#include "volume.h"


/* How long --attach-only waits for the local device once EC2 says attached. */
#define ATTACH_ONLY_DEVICE_WAIT_USEC (10 * USEC_PER_SEC)

void node_init(Node *n, const Config *config, Instance *instance, usec_t deadline) {
        *n = (Node) {
                .config = config,
                .instance = instance,
                .deadline = deadline,
                .name = config->node.name ?: instance->instance_id,
                .volume_aws = instance->aws,
                .interface_aws = instance->aws,
                .volume_path = PATH_INIT("volume"),
                .interface_path = PATH_INIT("interface"),
                .dns_path = PATH_INIT("dns"),
        };
}

void node_done(Node *n) {
        ec2_volume_done(&n->volume);
        block_device_done(&n->device);
        fs_setup_result_done(&n->fs);
        ec2_network_interface_done(&n->eni);
        n->subnet_cidr = mfree(n->subnet_cidr);
        dns_read_done(&n->dns_read);
}

static VolumeAttach volume_attach_of(Node *n) {
        return (VolumeAttach) {
                .path = &n->volume_path,
                .aws = n->volume_aws,
                .config = &n->config->volume,
                .instance_id = n->instance->instance_id,
                .availability_zone = n->instance->availability_zone,
                .deadline = n->deadline,
        };
}

static EniAttach eni_attach_of(Node *n) {
        return (EniAttach) {
                .path = &n->interface_path,
                .aws = n->interface_aws,
                .config = &n->config->interface,
                .instance_id = n->instance->instance_id,
                .availability_zone = n->instance->availability_zone,
                .deadline = n->deadline,
        };
}

static bool is_filesystem_refusal(int r) {
        return r == -EMEDIUMTYPE || r == -ENOTEMPTY || r == -EUCLEAN;
}

/* Sets one of the volume's tags (volume.h) unless it carries it already. */
static int tag_volume(Node *n, const char *step, const char *key, const char *value, const char *why) {
        _cleanup_(aws_error_done) AwsError error = {};
        const char *ids[] = { n->volume.id, NULL };
        Ec2Tag tag = { .key = (char *) key, .value = (char *) value };
        int r;

        if (ec2_tags_get(n->volume.tags, n->volume.n_tags, key))
                return 0;

        path_transition(&n->volume_path, step, "Tagging %s %s=%s%s.", n->volume.id, key, value, why);
        r = ec2_create_tags(n->volume_aws, ids, &tag, 1, false, n->deadline, &error);
        if (r < 0)
                return path_fail(&n->volume_path, r, "Failed to tag %s %s: %s%s%m", n->volume.id, key,
                                 strempty(error.code), error.code ? ": " : "");
        return 0;
}

/* Tags the volume as initialised when it carries a filesystem and no tag
 * yet: after our own mkfs, and also when an earlier run died between mkfs
 * and tagging. From then on a volume that shows no filesystem is refused,
 * never formatted. */
static int tag_initialized(Node *n) {
        if (isempty(n->fs.uuid))
                return 0;
        return tag_volume(n, "tag", VOLUME_TAG_INITIALIZED, n->fs.uuid, "");
}

/* fs_setup()'s before_format: the intent, recorded before mkfs writes its
 * first block. Should the boot die inside mkfs, the next one knows the
 * half-written blocks as ours and formats again instead of refusing the
 * volume for ever; if the tag cannot be written, nothing is formatted. */
static int tag_format_started(void *userdata) {
        Node *n = userdata;

        return tag_volume(n, "format", VOLUME_TAG_FORMAT_STARTED, n->instance->instance_id, " before mkfs");
}

static int run_volume_path(Node *n) {
        const ConfigVolume *cfg = &n->config->volume;
        VolumeAttach a = volume_attach_of(n);
        FsSetupOptions options = {
                .label = n->name,
                .before_format = tag_format_started,
                .userdata = n,
        };
        int r;

        r = volume_attach(&a, &n->volume, &n->device);
        if (r < 0)
                return r;

        /* Proven once by its arrival; proven again right before it is touched. */
        r = blockdev_verify(n->device.devnode, n->volume.id, cfg->device);
        if (r < 0)
                return path_fail(&n->volume_path, r, "%s is no longer the device of %s: %m", n->device.devnode,
                                 n->volume.id);

        options.marks = (FsVolumeMarks) {
                .initialized = ec2_tags_get(n->volume.tags, n->volume.n_tags, VOLUME_TAG_INITIALIZED) != NULL,
                .format_started =
                        ec2_tags_get(n->volume.tags, n->volume.n_tags, VOLUME_TAG_FORMAT_STARTED) != NULL,
        };
        path_transition(&n->volume_path, "filesystem", "Checking and mounting %s (%s) at %s.", n->device.devnode,
                        filesystem_to_string(cfg->file_system), cfg->mount_point);
        r = fs_setup(n->device.devnode, cfg, &options, n->deadline, &n->fs);
        if (is_filesystem_refusal(r)) {
                notify_status("volume: refused: the filesystem on %s needs a person (see the journal).",
                              n->volume.id);
                return r;
        }
        if (r < 0)
                return path_fail(&n->volume_path, r, "Failed to set up the filesystem on %s: %m", n->device.devnode);

        r = tag_initialized(n);
        if (r < 0)
                return r;

        path_transition(&n->volume_path, "done", "%s (%s) is mounted at %s%s%s.", n->volume.id, n->device.devnode,
                        cfg->mount_point, n->fs.formatted ? ", newly formatted" : "",
                        n->fs.grown ? ", grown" : "");
        return 0;
}

/* Whether the agent itself routes the interface (and so needs the subnet). */
static bool routes_interface(const Node *n) {
        switch (n->config->interface.routing) {
        case ROUTING_AGENT:
                return true;
        case ROUTING_AUTO:
                return !netif_routing_auto_delegated();
        default:
                return false;
        }
}

static int read_subnet_cidr(Node *n, const Ec2NetworkInterface *eni) {
        _cleanup_(aws_error_done) AwsError error = {};
        const char *ids[] = { eni->subnet_id, NULL };
        Ec2Subnet *subnets = NULL;
        size_t k = 0;
        int r;

        /* From EC2, not IMDS: right after an attach IMDS does not know the
         * new interface's subnet yet. */
        r = ec2_describe_subnets(n->interface_aws, ids, false, n->deadline, &error, &subnets, &k);
        if (r >= 0 && (k == 0 || !subnets[0].cidr))
                r = -ENOENT;
        if (r < 0) {
                ec2_subnets_free(subnets, k);
                return path_fail(&n->interface_path, r, "Failed to describe subnet %s of %s: %s%s%m",
                                 strna(eni->subnet_id), eni->id, strempty(error.code), error.code ? ": " : "");
        }
        free(n->subnet_cidr);
        n->subnet_cidr = TAKE_PTR(subnets[0].cidr);
        ec2_subnets_free(subnets, k);
        log_info("interface: subnet: %s is %s.", strna(eni->subnet_id), n->subnet_cidr);
        return 0;
}

static int read_dns_ahead(Node *n);

/* EniAttach's while_attaching: what the rest of the network path needs
 * besides the link (the subnet for the route, the record set for the
 * publish) is read during the seconds EC2 takes to attach. */
static int read_while_eni_attaches(const Ec2NetworkInterface *eni, void *userdata) {
        Node *n = userdata;
        int r;

        if (routes_interface(n)) {
                r = read_subnet_cidr(n, eni);
                if (r < 0)
                        return r;
        }
        if (n->config->has_dns) {
                r = read_dns_ahead(n);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int route_interface(Node *n) {
        _cleanup_(netif_plan_freep) NetifPlan *plan = NULL;
        const char *cidr;
        int r;

        if (!n->subnet_cidr) {
                r = read_subnet_cidr(n, &n->eni);
                if (r < 0)
                        return r;
        }
        cidr = n->subnet_cidr;

        r = netif_plan_new_from_strings(n->link.ifindex, n->config->interface.device_index, n->eni.private_ip,
                                        n->eni.secondary_ips, cidr, &plan);
        if (r < 0)
                return path_fail(&n->interface_path, r, "Cannot route %s (%s in %s): %m", n->eni.id,
                                 strna(n->eni.private_ip), cidr);

        path_transition(&n->interface_path, "routing", "Routing %s on %s through table %u (subnet %s).",
                        n->eni.private_ip, n->link.name, plan->table, cidr);
        r = netif_configure(plan);
        if (r < 0)
                return path_fail(&n->interface_path, r, "Failed to configure %s: %m", n->link.name);
        log_info("interface: routing: %d change(s) made.", r);

        /* Ready means the address carries traffic: a link set up a moment
         * ago may not have its carrier yet (its routes say "linkdown"). */
        r = netif_wait_carrier(n->link.ifindex, n->deadline);
        if (r < 0)
                return path_fail(&n->interface_path, r, "%s has no carrier: %m", n->link.name);
        return 0;
}

static int run_interface_path(Node *n) {
        const ConfigInterface *cfg = &n->config->interface;
        EniAttach a = eni_attach_of(n);
        int r;

        a.while_attaching = read_while_eni_attaches;
        a.userdata = n;

        r = eni_attach(&a, &n->eni, &n->link);
        if (r < 0)
                return r;
        n->have_link = true;

        switch (cfg->routing) {
        case ROUTING_NONE:
                log_info("interface: routing: Routing=none: leaving %s as it is.", n->link.name);
                break;
        case ROUTING_AUTO:
                if (netif_routing_auto_delegated()) {
                        struct in_addr ip;
                        uint32_t table = 0;

                        r = netif_ipv4_from_string(n->eni.private_ip, &ip);
                        if (r < 0)
                                return path_fail(&n->interface_path, r, "EC2 gave %s the address \"%s\".",
                                                 n->eni.id, strna(n->eni.private_ip));
                        path_transition(&n->interface_path, "routing", "Leaving %s to amazon-ec2-net-utils; "
                                        "waiting for its rule for %s.", n->link.name, n->eni.private_ip);
                        r = netif_wait_rule(ip, n->deadline, &table);
                        if (r < 0)
                                return path_fail(&n->interface_path, r, "No rule \"from %s\" appeared: %m",
                                                 n->eni.private_ip);
                        break;
                }
                _fallthrough_;
        case ROUTING_AGENT:
                r = route_interface(n);
                if (r < 0)
                        return r;
                break;
        default:
                assert_not_reached();
        }

        path_transition(&n->interface_path, "done", "%s is %s with %s.", n->eni.id, n->link.name,
                        n->eni.private_ip);
        return 0;
}

/* The address the node publishes: the ENI's, or without [Interface] the
 * instance's primary private IP. */
static const char *node_ip(Node *n) {
        return n->config->has_interface ? n->eni.private_ip : n->instance->private_ip;
}

static const char *state_file_path(void) {
        /* Tests run many nodes on one machine; systemd units use the contract's path. */
        const char *p = getenv("NODEAGENT_STATE_FILE");

        return !isempty(p) ? p : NODEAGENT_STATE_FILE;
}

static int write_state(Node *n) {
        NodeState s = {
                .instance_id = n->instance->instance_id,
                .volume_id = n->volume.id,
                .device = n->device.devnode,
                .mount_point = n->config->has_volume ? n->config->volume.mount_point : NULL,
                .eni_id = n->config->has_interface ? n->eni.id : NULL,
                .interface = n->have_link ? n->link.name : NULL,
                /* Without [Interface], DNS publishes the primary private IP. */
                .ip = node_ip(n),
                .dns_name = n->config->has_dns ? n->config->dns.name : NULL,
        };
        int r;

        r = notify_write_state(state_file_path(), &s);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", state_file_path());
        return 0;
}

/* One path in a thread of its own. */
typedef struct PathRun {
        Node *node;
        int (*run)(Node *n);
        AwsSession *session;
        pthread_t thread;
        bool started;
        int result;
} PathRun;

typedef struct Boot {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        unsigned running;
        int first_error;        /* the failure that ends the boot: the first one */
        bool volume_done;       /* the volume path has ended, well or not */
} Boot;

static Boot boot = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .changed = PTHREAD_COND_INITIALIZER,
};

static void *path_thread(void *userdata) {
        PathRun *p = userdata;
        int r;

        r = p->run(p->node);

        pthread_mutex_lock(&boot.lock);
        p->result = r;
        if (p->run == run_volume_path)
                boot.volume_done = true;
        if (r < 0 && boot.first_error == 0) {
                boot.first_error = r;
                path_cancel_all();
        }
        boot.running--;
        pthread_cond_broadcast(&boot.changed);
        pthread_mutex_unlock(&boot.lock);
        return NULL;
}

static DnsPublish dns_publish_of(Node *n) {
        return (DnsPublish) {
                .path = &n->dns_path,
                .aws = n->interface_aws,
                .config = &n->config->dns,
                .node_name = n->name,
                .ip = node_ip(n),
                .deadline = n->deadline,
                .read_ahead = &n->dns_read,
        };
}

static int run_dns_path(Node *n) {
        _cleanup_(dns_result_done) DnsResult result = {};
        DnsPublish p = dns_publish_of(n);

        if (isempty(p.ip))
                return path_fail(&n->dns_path, -ENXIO, "There is no IP address to publish.");
        return dns_publish(&p, &result);
}

/* The record set, read while there is time to spare (the ENI or the
 * volume still attaching): the publish then only sends the change. */
static int read_dns_ahead(Node *n) {
        DnsPublish p = dns_publish_of(n);

        if (n->dns_read.done)
                return 0;
        return dns_read_ahead(&p, &n->dns_read);
}

/* Without an ENI to wait for, the volume's attach is the time to spare. */
static int read_dns_while_volume_attaches(Node *n) {
        bool volume_done;

        if (!n->config->has_volume)
                return 0;
        pthread_mutex_lock(&boot.lock);
        volume_done = boot.volume_done;
        pthread_mutex_unlock(&boot.lock);
        return volume_done ? 0 : read_dns_ahead(n);
}

/* Publishing tells clients the node serves: not before its data is
 * mounted. A node whose volume was refused must not join a shared or
 * multivalue record. Returns -ECANCELED when the volume path failed. */
static int wait_for_volume_path(Node *n) {
        bool failed;

        if (!n->config->has_volume)
                return 0;

        pthread_mutex_lock(&boot.lock);
        if (!boot.volume_done)
                path_transition(&n->dns_path, "wait-volume", "Waiting for the volume to be mounted before "
                                "publishing.");
        while (!boot.volume_done)
                pthread_cond_wait(&boot.changed, &boot.lock);
        failed = boot.first_error < 0;
        pthread_mutex_unlock(&boot.lock);

        return failed ? path_fail(&n->dns_path, -ECANCELED, "Not publishing: the volume path failed.") : 0;
}

/* The network side: the ENI, then DNS, which publishes the ENI's address
 * once the volume is mounted too. */
static int network_path(Node *n) {
        int r;

        if (n->config->has_interface) {
                r = run_interface_path(n);
                if (r < 0)
                        return r;
        }
        if (!n->config->has_dns)
                return 0;

        r = read_dns_while_volume_attaches(n);
        if (r < 0)
                return r;
        r = wait_for_volume_path(n);
        if (r < 0)
                return r;
        return run_dns_path(n);
}

/* While the paths run, the main thread keeps systemd's watchdog fed and
 * the lifecycle hook waiting (heartbeats). */
static void supervise_paths(Node *n) {
        usec_t watchdog = notify_watchdog_usec();
        usec_t tick = watchdog > 0 ? watchdog / 2 : 30 * USEC_PER_SEC;

        pthread_mutex_lock(&boot.lock);
        while (boot.running > 0) {
                struct timespec ts;
                usec_t wait = tick, until;

                if (n->signal && signal_heartbeat_next(n->signal) != USEC_INFINITY)
                        wait = MIN(wait, usec_left(signal_heartbeat_next(n->signal)) + USEC_PER_MSEC);
                until = usec_add(now(CLOCK_REALTIME), wait);
                ts.tv_sec = (time_t) (until / USEC_PER_SEC);
                ts.tv_nsec = (long) (until % USEC_PER_SEC) * 1000;
                (void) pthread_cond_timedwait(&boot.changed, &boot.lock, &ts);
                if (boot.running == 0)
                        break;

                /* AWS calls happen outside the lock: the paths report to it. */
                pthread_mutex_unlock(&boot.lock);
                if (watchdog > 0)
                        notify_watchdog();
                if (n->signal && signal_heartbeat_due(n->signal, now(CLOCK_MONOTONIC)))
                        (void) signal_heartbeat(n->signal, n->deadline);
                pthread_mutex_lock(&boot.lock);
        }
        pthread_mutex_unlock(&boot.lock);
}

int node_boot(Node *n) {
        PathRun runs[] = {
                { .node = n, .run = run_volume_path },
                { .node = n, .run = network_path },
        };
        bool wanted[] = { n->config->has_volume, n->config->has_interface || n->config->has_dns };
        int r;

        /* Each thread gets its own AWS client before any starts. */
        for (size_t i = 0; i < ELEMENTSOF(runs); i++) {
                if (!wanted[i])
                        continue;
                r = aws_session_new(n->instance, &runs[i].session);
                if (r < 0) {
                        log_error_errno(r, "Failed to set up an AWS client: %m");
                        goto finish;
                }
        }
        if (runs[0].session)
                n->volume_aws = runs[0].session->aws;
        if (runs[1].session)
                n->interface_aws = runs[1].session->aws;

        boot.first_error = 0;
        boot.volume_done = false;
        for (size_t i = 0; i < ELEMENTSOF(runs); i++) {
                if (!wanted[i])
                        continue;
                pthread_mutex_lock(&boot.lock);
                boot.running++;
                pthread_mutex_unlock(&boot.lock);
                r = pthread_create(&runs[i].thread, NULL, path_thread, &runs[i]);
                if (r != 0) {
                        pthread_mutex_lock(&boot.lock);
                        boot.running--;
                        if (boot.first_error == 0)
                                boot.first_error = -r;
                        path_cancel_all();
                        pthread_mutex_unlock(&boot.lock);
                        log_error_errno(r, "Failed to start a thread: %m");
                        break;
                }
                runs[i].started = true;
        }

        supervise_paths(n);
        for (size_t i = 0; i < ELEMENTSOF(runs); i++)
                if (runs[i].started)
                        (void) pthread_join(runs[i].thread, NULL);

        r = boot.first_error;
        if (r >= 0)
                r = write_state(n);

finish:
        n->volume_aws = n->interface_aws = n->instance->aws;
        for (size_t i = 0; i < ELEMENTSOF(runs); i++)
                aws_session_free(runs[i].session);
        return r;
}

static int attach_only_volume(Node *n) {
        _cleanup_(block_device_done) BlockDevice d = {};
        VolumeAttach a = volume_attach_of(n);
        int r;

        r = volume_attach_only(&a, &n->volume);
        if (r < 0)
                return r;

        /* The device usually follows within a second or two; say where it is
         * if it does, but do not make the operator wait long for it. */
        r = blockdev_wait(n->volume.id, n->config->volume.device,
                          MIN(usec_add(now(CLOCK_MONOTONIC), ATTACH_ONLY_DEVICE_WAIT_USEC), n->deadline), &d);
        if (r >= 0)
                printf("%s -> %s\n", n->volume.id, d.devnode);
        else
                printf("%s -> attached as %s, no local device yet\n", n->volume.id, n->config->volume.device);
        return 0;
}

static int attach_only_interface(Node *n) {
        EniAttach a = eni_attach_of(n);
        NetifLink link;
        NetifMac mac;
        int r;

        r = eni_attach_only(&a, &n->eni);
        if (r < 0)
                return r;

        if (netif_mac_from_string(n->eni.mac, &mac) >= 0 &&
            netif_wait_link(&mac, MIN(usec_add(now(CLOCK_MONOTONIC), ATTACH_ONLY_DEVICE_WAIT_USEC), n->deadline),
                            &link) >= 0)
                printf("%s -> %s (%s)\n", n->eni.id, link.name, strna(n->eni.private_ip));
        else
                printf("%s -> attached at device index %d, no local link yet (%s)\n", n->eni.id,
                       n->eni.attachment.device_index, strna(n->eni.private_ip));
        return 0;
}

int node_attach_only(Node *n) {
        int r;

        if (!n->config->has_volume && !n->config->has_interface) {
                log_info("Nothing to attach: neither [Volume] nor [Interface] is configured.");
                return 0;
        }
        if (n->config->has_volume) {
                r = attach_only_volume(n);
                if (r < 0)
                        return r;
        }
        if (n->config->has_interface) {
                r = attach_only_interface(n);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int detach_interface(Node *n) {
        EniAttach a = eni_attach_of(n);
        int r;

        r = eni_find(n->instance->aws, &n->config->interface, n->instance->availability_zone, n->deadline,
                     &n->eni);
        if (r < 0)
                return r;
        return eni_detach(&a, &n->eni);
}

static int detach_volume(Node *n) {
        VolumeAttach a = volume_attach_of(n);
        int r;

        r = volume_find(n->instance->aws, &n->config->volume, n->instance->availability_zone, n->deadline,
                        &n->volume);
        if (r < 0)
                return r;

        /* Unmount first: a detach under a mounted filesystem loses what the
         * page cache still holds. */
        r = fs_unmount(n->config->volume.mount_point);
        if (r == -EBUSY)
                return path_fail(&n->volume_path, r, "%s is in use: stop what uses it first (fuser -vm %s "
                                 "tells what).", n->config->volume.mount_point, n->config->volume.mount_point);
        if (r < 0)
                return path_fail(&n->volume_path, r, "Failed to unmount %s: %m", n->config->volume.mount_point);
        if (r > 0)
                log_info("volume: unmount: Unmounted %s.", n->config->volume.mount_point);

        return volume_detach(&a, &n->volume);
}

int node_detach(Node *n) {
        int r;

        if (n->config->has_volume) {
                r = detach_volume(n);
                if (r < 0)
                        return r;
        } else
                log_info("No [Volume] section: no volume to detach.");

        /* The ENI carries the node's address: it goes only when asked to. */
        if (n->config->has_interface && n->config->interface.detach_on_stop)
                return detach_interface(n);
        return 0;
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
                return log_error_errno(r, "Failed to read %s from zone %s: %s%s%m", cfg->name, cfg->hosted_zone_id,
                                       strempty(error.code), error.code ? ": " : "");
        printf("DNS %s (%s, TTL %" PRId64 "):", cfg->name, dns_mode_to_string(cfg->mode), set.ttl);
        for (size_t i = 0; i < set.n_values; i++)
                printf(" %s", set.values[i]);
        printf("\n");
        return 0;
}

static int status_interface(Node *n) {
        NetifLink link;
        NetifMac mac;
        int r;

        r = eni_find(n->instance->aws, &n->config->interface, n->instance->availability_zone, n->deadline,
                     &n->eni);
        if (r < 0)
                return r;
        printf("Interface %s (%s): ", n->eni.id, strna(n->eni.private_ip));
        if (eni_is_attached_to(&n->eni, n->instance->instance_id))
                printf("attached here at device index %d (%s)\n", n->eni.attachment.device_index,
                       strna(n->eni.attachment.status));
        else if (n->eni.attachment.instance_id)
                printf("attached to %s\n", n->eni.attachment.instance_id);
        else
                printf("%s\n", strna(n->eni.status));

        if (netif_mac_from_string(n->eni.mac, &mac) >= 0 && netif_wait_link(&mac, 0, &link) >= 0) {
                _cleanup_(netif_state_done) NetifState state = {};

                printf("  link %s (ifindex %d)\n", link.name, link.ifindex);
                if (netif_read_state(link.ifindex, NETIF_TABLE_BASE + n->config->interface.device_index,
                                     &state) >= 0) {
                        char buf[NETIF_FORMAT_MAX];

                        for (size_t i = 0; i < state.n_addresses; i++)
                                printf("  address %s\n", netif_address_to_string(&state.addresses[i], buf));
                        for (size_t i = 0; i < state.n_routes; i++)
                                printf("  route %s\n", netif_route_to_string(&state.routes[i], buf));
                        for (size_t i = 0; i < state.n_rules; i++)
                                printf("  rule %s\n", netif_rule_to_string(&state.rules[i], buf));
                }
        } else
                printf("  no local link\n");
        return 0;
}

int node_status(Node *n) {
        _cleanup_(block_device_done) BlockDevice d = {};
        const Ec2VolumeAttachment *mine;
        int r;

        printf("Instance %s in %s\n", n->instance->instance_id, n->instance->availability_zone);
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
        if (!n->config->has_volume)
                return 0;

        r = volume_find(n->instance->aws, &n->config->volume, n->instance->availability_zone, n->deadline,
                        &n->volume);
        if (r < 0)
                return r;
        mine = volume_attachment_of(&n->volume, n->instance->instance_id);
        printf("Volume %s: %s", n->volume.id, strna(n->volume.state));
        if (mine)
                printf(", attached here as %s (%s)", strna(mine->device), strna(mine->state));
        else if (n->volume.n_attachments > 0)
                printf(", attached to %s", strna(n->volume.attachments[0].instance_id));
        printf("\n");

        if (blockdev_find(n->volume.id, n->config->volume.device, &d) >= 0) {
                printf("  device %s (serial %s)\n", d.devnode, strna(d.serial));
                r = fs_mount_state(d.devnode, n->config->volume.mount_point);
                printf("  %s %s\n", r > 0 ? "mounted at" : "not mounted at", n->config->volume.mount_point);
        } else
                printf("  no local device\n");
        return 0;
}
