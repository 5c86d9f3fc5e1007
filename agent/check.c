/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "autoscaling.h"
#include "check.h"
#include "devname.h"
#include "eni.h"
#include "kms.h"
#include "log.h"
#include "route53.h"
#include "signals.h"
#include "volume.h"

typedef struct Check {
        const Config *config;
        Instance *instance;
        usec_t deadline;
        unsigned n_denied;
        int unusable;           /* the first "resource unusable" error, or 0 */
        FailureKind unusable_kind;
        unsigned n_findings;    /* resources or settings that would fail the boot */
        const ConfigVolume *restores; /* a section whose volume a boot would make anew */
} Check;

/* A resource or setting that would make the boot fail (the contract's exit
 * status 4): one line in the plan, and the whole sentence in the log. */
static void finding(Check *c, const char *format, ...) _printf_(2, 3);

static void finding(Check *c, const char *format, ...) {
        _cleanup_free_ char *text = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&text, format, ap);
        va_end(ap);
        if (r < 0)
                text = NULL;

        printf("  FINDING: %s\n", strna(text));
        log_error("%s", strna(text));
        c->n_findings++;
}

/* A read that AWS refused: a permission the role lacks. */
static void report_denied(Check *c, const char *action, const AwsError *error) {
        printf("  %-36s DENIED (%s%s%s)\n", action, strna(error->code), error->message ? ": " : "",
               strempty(error->message));
        c->n_denied++;
}

/* A lookup's outcome: a denied permission is counted, anything else that
 * failed is the plan's first finding. */
static void note_lookup(Check *c, int r, const Path *path) {
        if (r >= 0)
                return;
        if (path->failure == FAILURE_AWS_REFUSED)
                c->n_denied++;
        else if (!c->unusable) {
                c->unusable = r;
                c->unusable_kind = path->failure;
        }
}

/* Reports one DryRun answer. DryRunOperation (r == 0) means allowed; an
 * authorization failure means denied; any other answer means EC2 looked
 * past the permission check and found something else to say, which is not
 * a permission problem. */
static void report_permission(Check *c, const char *action, int r, const AwsError *error) {
        if (r >= 0)
                printf("  %-36s allowed\n", action);
        else if (r == -EACCES)
                report_denied(c, action, error);
        else
                printf("  %-36s not denied (EC2 answered %s)\n", action,
                       error->code ?: strerror(-r));
}

/* A restore's own calls: the snapshots by the node's tag, and CreateVolume
 * with the tags it is made with (a policy may limit it by request tags). */
static void check_restore_permissions(Check *c) {
        const ConfigVolume *cfg = c->restores;
        const Ec2Tag tags[] = {
                { .key = cfg->tag.key, .value = cfg->tag.value },
                { .key = (char *) ATTACH_TAG_RESTORED_FROM, .value = (char *) "check" },
        };
        Ec2Snapshot *snapshots = NULL;
        Ec2Volume created = {};
        AwsError e = {};
        size_t n = 0;
        int r;

        r = ec2_describe_snapshots(c->instance->aws, NULL, NULL, 0, true, c->deadline, &e, &snapshots, &n);
        report_permission(c, "ec2:DescribeSnapshots", r, &e);
        aws_error_done(&e);
        ec2_snapshots_free(snapshots, n);

        r = ec2_create_volume(c->instance->aws,
                              &(Ec2NewVolume) {
                                      .availability_zone = c->instance->availability_zone,
                                      .size_gib = 1,
                                      .volume_type = "gp3",
                                      .tags = (Ec2Tag *) tags,
                                      .n_tags = cfg->tag.key ? ELEMENTSOF(tags) : 0,
                              },
                              true, c->deadline, &e, &created);
        report_permission(c, "ec2:CreateVolume", r, &e);
        aws_error_done(&e);
        ec2_volume_done(&created);
}

/* The volumes of every volume section that were found, for the DryRuns. */
typedef struct CheckVolumes {
        Volume *volumes;        /* one per member of every volume section */
        Path *paths;            /* one per volume section */
        char **names;           /* the paths' names: "volume", "volume:NAME" */
        size_t n, n_paths;
} CheckVolumes;

static void check_volumes_done(CheckVolumes *v) {
        for (size_t i = 0; i < v->n; i++)
                volume_done(&v->volumes[i]);
        v->volumes = mfree(v->volumes);
        v->paths = mfree(v->paths);
        for (size_t i = 0; i < v->n_paths; i++)
                free(v->names[i]);
        v->names = mfree(v->names);
        v->n = v->n_paths = 0;
}

/* Each found volume as EC2 is asked to attach and detach it (DryRun), and
 * all of them in one CreateTags, as the boot tags a striped set's members. */
static void check_volume_permissions(Check *c, const CheckVolumes *found) {
        AwsClient *aws = c->instance->aws;
        const char *instance_id = c->instance->instance_id;
        const char *ids[] = { c->instance->instance_id, NULL };
        _cleanup_free_ const char **volume_ids = calloc(found->n + 1, sizeof(char *));
        size_t n_ids = 0;
        const Ec2Tag tags[] = {
                { .key = (char *) VOLUME_TAG_FORMAT_STARTED, .value = (char *) "check" },
                { .key = (char *) VOLUME_TAG_INITIALIZED, .value = (char *) "check" },
        };
        AwsError e = {};
        int r;

        Ec2Volume *volumes = NULL;
        Ec2Instance *instances = NULL;
        size_t n = 0;

        r = ec2_describe_volumes(aws, NULL, NULL, 0, true, c->deadline, &e, &volumes, &n);
        report_permission(c, "ec2:DescribeVolumes", r, &e);
        aws_error_done(&e);
        volumes = ec2_volumes_free(volumes, n);

        n = 0;
        r = ec2_describe_instances(aws, ids, NULL, 0, true, c->deadline, &e, &instances, &n);
        report_permission(c, "ec2:DescribeInstances", r, &e);
        aws_error_done(&e);
        instances = ec2_instances_free(instances, n);

        if (c->restores)
                check_restore_permissions(c);
        if (!volume_ids) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < found->n; i++) {
                const Volume *v = &found->volumes[i];

                if (!v->ec2.id)
                        continue;
                volume_ids[n_ids++] = v->ec2.id;

                /* Under Device=auto the name is picked at attach time; any
                 * valid one will do for the permission. */
                r = ec2_attach_volume(aws, v->ec2.id, instance_id,
                                      streq(v->config->device, "auto") ? "/dev/sdf" : v->config->device, true,
                                      c->deadline, &e, NULL);
                report_permission(c, "ec2:AttachVolume", r, &e);
                aws_error_done(&e);

                r = ec2_detach_volume(aws, v->ec2.id, NULL, false, true, c->deadline, &e, NULL);
                report_permission(c, "ec2:DetachVolume", r, &e);
                aws_error_done(&e);
        }
        if (n_ids == 0)
                return;

        r = ec2_create_tags(aws, volume_ids, tags, ELEMENTSOF(tags), true, c->deadline, &e);
        report_permission(c, "ec2:CreateTags", r, &e);
        aws_error_done(&e);
}

static void check_interface_permissions(Check *c, const Ec2NetworkInterface *eni) {
        AwsClient *aws = c->instance->aws;
        Ec2NetworkInterface *enis = NULL;
        Ec2Subnet *subnets = NULL;
        AwsError e = {};
        size_t n = 0;
        int r;

        r = ec2_describe_network_interfaces(aws, NULL, NULL, 0, true, c->deadline, &e, &enis, &n);
        report_permission(c, "ec2:DescribeNetworkInterfaces", r, &e);
        aws_error_done(&e);
        enis = ec2_network_interfaces_free(enis, n);

        n = 0;
        r = ec2_describe_subnets(aws, NULL, true, c->deadline, &e, &subnets, &n);
        report_permission(c, "ec2:DescribeSubnets", r, &e);
        aws_error_done(&e);
        subnets = ec2_subnets_free(subnets, n);

        if (!eni)
                return;

        r = ec2_attach_network_interface(aws, eni->id, c->instance->instance_id,
                                         c->config->interface.device_index, c->config->interface.network_card_index,
                                         true, c->deadline, &e, NULL);
        report_permission(c, "ec2:AttachNetworkInterface", r, &e);
        aws_error_done(&e);

        /* A detach needs an attachment id; there is none to name when the
         * ENI is free, and EC2 checks the id before the permission. */
        if (eni->attachment.id) {
                r = ec2_detach_network_interface(aws, eni->attachment.id, false, true, c->deadline, &e);
                report_permission(c, "ec2:DetachNetworkInterface", r, &e);
                aws_error_done(&e);
        }
}

/* The name an attach would ask for: Device=, or under Device=auto the
 * first one the instance's block-device mappings leave free (as the boot
 * would pick it, less what other volumes of the boot pick). */
static char *planned_device(Check *c, const ConfigVolume *cfg) {
        const char *ids[] = { c->instance->instance_id, NULL };
        Ec2Instance *instances = NULL;
        char *name = NULL, *line = NULL;
        size_t n = 0;
        int r;

        if (!streq(cfg->device, "auto"))
                return strdup(cfg->device);
        r = ec2_describe_instances(c->instance->aws, ids, NULL, 0, false, c->deadline, NULL, &instances, &n);
        if (r >= 0 && n > 0 && devname_first_free(instances[0].block_devices, NULL, NULL, &name) >= 0)
                r = asprintf(&line, "%s (Device=auto: the first free name)", name);
        else
                r = asprintf(&line, "the first free name from /dev/sd%c to /dev/sd%c (Device=auto)", DEVNAME_FIRST,
                             DEVNAME_LAST);
        ec2_instances_free(instances, n);
        free(name);
        return r < 0 ? NULL : line;
}

static void describe_volume(Check *c, const ConfigVolume *cfg, const Ec2Volume *v) {
        _cleanup_free_ char *device = planned_device(c, cfg), *section = NULL;

        if (!streq(cfg->section, CONFIG_VOLUME_DATA) && asprintf(&section, " of [Volume:%s]", cfg->section) < 0)
                section = NULL;
        printf("Volume %s%s (%s, %" PRIu64 " GiB, %s):\n", v->id, strempty(section), strna(v->az), v->size_gib,
               strna(v->state));
        if (v->n_attachments == 0)
                printf("  attach as %s", strna(device));
        else if (streq_ptr(v->attachments[0].instance_id, c->instance->instance_id))
                printf("  already attached here as %s (%s)", strna(v->attachments[0].device),
                       strna(v->attachments[0].state));
        else
                printf("  held by %s (%s): take over (%s, up to %s), then attach as %s",
                       strna(v->attachments[0].instance_id), strna(v->attachments[0].state),
                       take_over_policy_to_string(cfg->take_over), FORMAT_DURATION(cfg->take_over_timeout),
                       strna(device));
        printf(", mount at %s (%s, Format=%s)\n", cfg->mount_point, filesystem_to_string(cfg->file_system),
               format_policy_to_string(cfg->format));
        if (ec2_tags_get(v->tags, v->n_tags, VOLUME_TAG_INITIALIZED))
                printf("  initialised by nodeagent before (tag %s): never formatted\n", VOLUME_TAG_INITIALIZED);
        else if (ec2_tags_get(v->tags, v->n_tags, VOLUME_TAG_FORMAT_STARTED))
                printf("  a mkfs of nodeagent's began on it and never finished (tag %s, no tag %s): "
                       "formatted again if it shows no signature\n", VOLUME_TAG_FORMAT_STARTED,
                       VOLUME_TAG_INITIALIZED);
}

/* "2024-01-31" of a CLOCK_REALTIME time. */
static const char *format_date(char buf[static 16], usec_t t) {
        time_t s = (time_t) (t / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&s, &tm) || strftime(buf, 16, "%Y-%m-%d", &tm) == 0)
                return "an unknown date";
        return buf;
}

/* EC2 uses an encrypted volume's KMS key at every attach (it decrypts the
 * volume's data key with it): a key that is not Enabled fails the attach,
 * and with it the boot, after the take-over has already happened. */
static void check_volume_key(Check *c, const Ec2Volume *v) {
        _cleanup_(kms_key_done) KmsKey key = {};
        _cleanup_(aws_error_done) AwsError e = {};
        const char *reason;
        char date[16];
        int r;

        if (!v->encrypted) {
                printf("  not encrypted\n");
                return;
        }
        if (!v->kms_key_id) {
                printf("  encrypted, with a KMS key EC2 does not name: not checked\n");
                return;
        }

        r = kms_describe_key(c->instance->aws, v->kms_key_id, c->deadline, &e, &key);
        if (r == -EACCES) {
                report_denied(c, "kms:DescribeKey", &e);
                return;
        }
        if (r == -ENOENT) {
                finding(c, "Volume %s is encrypted with KMS key %s, which does not exist (%s): EC2 cannot attach "
                        "the volume.", v->id, v->kms_key_id, strna(e.message));
                return;
        }
        if (r < 0) {
                printf("  encrypted with KMS key %s, which could not be read: %s\n", v->kms_key_id,
                       e.code ?: strerror(-r));
                return;
        }

        reason = kms_key_unusable_reason(&key);
        if (reason && key.deletion_date > 0)
                finding(c, "Volume %s is encrypted with KMS key %s (state %s, deletion on %s): %s.", v->id,
                        key.arn ?: v->kms_key_id, key.state, format_date(date, key.deletion_date), reason);
        else if (reason)
                finding(c, "Volume %s is encrypted with KMS key %s (state %s): %s.", v->id,
                        key.arn ?: v->kms_key_id, key.state, reason);
        else
                printf("  encrypted with KMS key %s (%s, %s)\n", key.arn ?: v->kms_key_id, key.state,
                       streq_ptr(key.key_manager, "AWS") ? "AWS managed" : "customer managed");
}

static void describe_interface(Check *c, const Ec2NetworkInterface *eni) {
        const ConfigInterface *cfg = &c->config->interface;

        printf("Interface %s (%s, %s, IP %s, MAC %s, %s):\n", eni->id, strna(eni->az), strna(eni->subnet_id),
               strna(eni->private_ip), strna(eni->mac), strna(eni->status));
        if (!eni->attachment.instance_id)
                printf("  attach at device index %u", cfg->device_index);
        else if (streq_ptr(eni->attachment.instance_id, c->instance->instance_id))
                printf("  already attached here at device index %d", eni->attachment.device_index);
        else
                printf("  held by %s: take over, then attach at device index %u",
                       eni->attachment.instance_id, cfg->device_index);
        printf(", Routing=%s\n", routing_mode_to_string(cfg->routing));
}

static void check_dns(Check *c, const char *ip) {
        const ConfigDns *cfg = &c->config->dns;
        _cleanup_(route53_record_set_done) Route53RecordSet set = {};
        _cleanup_(aws_error_done) AwsError e = {};
        const char *identifier = NULL;
        int r;

        if (cfg->mode == DNS_MODE_MULTIVALUE)
                identifier = c->config->node.name ?: c->instance->instance_id;

        printf("DNS %s A in zone %s (Mode=%s, TTL=%u):\n", cfg->name, cfg->hosted_zone_id,
               dns_mode_to_string(cfg->mode), cfg->ttl);

        r = route53_find_record_set(c->instance->aws, cfg->hosted_zone_id, cfg->name, "A", identifier,
                                    c->deadline, &e, &set);
        if (r == -ENOENT && e.code) {
                printf("  the hosted zone does not exist (%s)\n", e.code);
                if (!c->unusable)
                        c->unusable = -ENOENT;
        } else if (r == -ENOENT)
                printf("  no record yet: create it with %s\n", strna(ip));
        else if (r == -EACCES) {
                printf("  route53:ListResourceRecordSets DENIED (%s)\n", strna(e.code));
                c->n_denied++;
        } else if (r < 0)
                printf("  could not read the record: %s\n", e.code ?: strerror(-r));
        else {
                printf("  now:");
                for (size_t i = 0; i < set.n_values; i++)
                        printf(" %s", set.values[i]);
                printf(" (TTL %" PRId64 ")\n", set.ttl);
        }
        /* Route 53 has no DryRun: the change itself cannot be checked ahead. */
        printf("  route53:ChangeResourceRecordSets cannot be checked without changing the record\n");
}

/* TakeOver=handover anywhere: the replacement asks the old instance to let
 * go of everything, so a policy that launches it first does not deadlock. */
static bool handover_configured(const Config *config) {
        for (size_t i = 0; i < config->n_volumes; i++)
                if (config->volumes[i]->take_over == TAKE_OVER_HANDOVER)
                        return true;
        return config->has_interface && config->interface.take_over == TAKE_OVER_HANDOVER;
}

/* What the group's instance maintenance policy means for the hand-over of
 * the node's volume and ENI to a replacement instance. */
static void check_maintenance_policy(Check *c, const char *group) {
        _cleanup_(autoscaling_group_done) AutoScalingGroup g = {};
        _cleanup_(aws_error_done) AwsError e = {};
        const char *held = !c->config->has_interface ? "volume" :
                           c->config->n_volumes == 0 ? "ENI" : "volume and ENI";
        int r;

        r = autoscaling_describe_group(c->instance->aws, group, c->deadline, &e, &g);
        if (r == -EACCES) {
                report_denied(c, "autoscaling:DescribeAutoScalingGroups", &e);
                return;
        }
        if (r == -ENXIO) {
                printf("  group %s: Auto Scaling does not know it (deleted?): nothing to check\n", group);
                return;
        }
        if (r < 0) {
                printf("  group %s could not be read: %s\n", group, e.code ?: strerror(-r));
                return;
        }

        printf("  group %s: desired capacity %" PRIu64 " (min %" PRIu64 ", max %" PRIu64 "), %zu instance(s)\n",
               g.name, g.desired_capacity, g.min_size, g.max_size, g.n_instances);
        if (g.min_healthy_percentage == AUTOSCALING_NO_PERCENTAGE)
                printf("  no instance maintenance policy: a replaced instance is terminated before its "
                       "replacement launches\n");
        else
                printf("  instance maintenance policy: min healthy %d%%, max healthy %d%%\n",
                       g.min_healthy_percentage, g.max_healthy_percentage);

        if (handover_configured(c->config) && g.min_healthy_percentage != AUTOSCALING_NO_PERCENTAGE) {
                printf("  TakeOver=handover: a replacement launched first asks this instance to hand the node over "
                       "(launch before terminate works)\n");
                return;
        }
        switch (autoscaling_maintenance_verdict(g.desired_capacity, g.min_healthy_percentage)) {
        case MAINTENANCE_DEADLOCKS:
                finding(c, "Auto Scaling group %s has an instance maintenance policy with MinHealthyPercentage=%d: "
                        "it launches a replacement first and terminates the old instance only once the new one "
                        "is healthy, but the new one cannot take the node's %s from the old one before that, so "
                        "every replacement deadlocks. Set MinHealthyPercentage=0 and MaxHealthyPercentage=100 "
                        "(terminate and launch), or remove the policy.", g.name, g.min_healthy_percentage,
                        held);
                break;
        case MAINTENANCE_MAY_DEADLOCK:
                printf("  WARNING: MinHealthyPercentage=%d of %" PRIu64 " instance(s) is a fraction of the last "
                       "one; Auto Scaling does not document how it rounds it, and rounded up the hand-over "
                       "deadlocks as with 100%%: set 0 to be sure\n", g.min_healthy_percentage,
                       g.desired_capacity);
                log_warning("Auto Scaling group %s: MinHealthyPercentage=%d may keep the old instance in service "
                            "until its replacement is healthy, which the replacement cannot become.", g.name,
                            g.min_healthy_percentage);
                break;
        case MAINTENANCE_OK:
                break;
        }
}

/* A launch hook's timeouts against the boot's: the hook must outlast the
 * boot, with the heartbeats nodeagent sends (signals.h). */
static void check_hook(Check *c, const char *group, const AutoScalingHook *h) {
        usec_t timeout = c->config->node.timeout;

        switch (autoscaling_hook_verdict(h, timeout, SIGNAL_HEARTBEAT_INTERVAL_USEC)) {
        case HOOK_HEARTBEAT_TOO_SHORT:
                finding(c, "Lifecycle hook %s of group %s ends %" PRIu64 " s after the last heartbeat, and "
                        "nodeagent sends one every %s (the first only once the instance has booted): the hook "
                        "would end with %s before the boot's Timeout=%s. Set its HeartbeatTimeout to %s or more.",
                        h->name, group, h->heartbeat_timeout, FORMAT_DURATION(SIGNAL_HEARTBEAT_INTERVAL_USEC),
                        strna(h->default_result), FORMAT_DURATION(timeout),
                        FORMAT_DURATION(SIGNAL_HEARTBEAT_INTERVAL_USEC + AUTOSCALING_HEARTBEAT_SLACK_USEC));
                break;
        case HOOK_GLOBAL_TOO_SHORT:
                finding(c, "Lifecycle hook %s of group %s ends at its global timeout, %" PRIu64 " s after the "
                        "launch, whatever the heartbeats: shorter than the boot's Timeout=%s, so a slow boot "
                        "would end with %s. Raise its HeartbeatTimeout (the global timeout is 100 of them, at "
                        "most 48 h) or lower [Node] Timeout=.", h->name, group, h->global_timeout,
                        FORMAT_DURATION(timeout), strna(h->default_result));
                break;
        case HOOK_OK:
                printf("    nodeagent's hook: heartbeats every %s keep it waiting until the boot ends "
                       "(Timeout=%s)\n", FORMAT_DURATION(SIGNAL_HEARTBEAT_INTERVAL_USEC), FORMAT_DURATION(timeout));
                break;
        }
}

static void check_hooks(Check *c, const char *group) {
        const char *mine = c->config->has_signal ? c->config->signal.lifecycle_hook : NULL;
        _cleanup_(aws_error_done) AwsError e = {};
        AutoScalingHook *hooks = NULL;
        bool found = false;
        size_t n = 0;
        int r;

        r = autoscaling_describe_hooks(c->instance->aws, group, c->deadline, &e, &hooks, &n);
        if (r == -EACCES) {
                report_denied(c, "autoscaling:DescribeLifecycleHooks", &e);
                return;
        }
        if (r < 0) {
                printf("  the lifecycle hooks of %s could not be read: %s\n", group, e.code ?: strerror(-r));
                return;
        }

        for (size_t i = 0; i < n; i++) {
                const AutoScalingHook *h = &hooks[i];

                printf("  lifecycle hook %s (%s): heartbeat timeout %" PRIu64 " s, global timeout %" PRIu64
                       " s, default result %s\n", h->name, strna(h->transition), h->heartbeat_timeout,
                       h->global_timeout, strna(h->default_result));
                if (!streq_ptr(h->transition, AUTOSCALING_LAUNCHING))
                        continue;
                if (streq_ptr(h->name, mine)) {
                        found = true;
                        check_hook(c, group, h);
                } else
                        printf("    not nodeagent's ([Signal] LifecycleHook=%s): something else must complete it\n",
                               strempty(mine));
        }
        hooks = autoscaling_hooks_free(hooks, n);

        if (!isempty(mine) && !found) {
                printf("  WARNING: group %s has no launch hook %s: nothing waits for nodeagent's CONTINUE\n", group,
                       mine);
                log_warning("[Signal] LifecycleHook=%s: group %s has no launch hook of that name; the boot proceeds, "
                            "but the hook signal goes nowhere.", mine, group);
        }
}

/* The instance's Auto Scaling group, when anything of this configuration
 * depends on it: the hand-over of a volume or ENI to a replacement, or a
 * lifecycle hook to complete. Auto Scaling has no DryRun: the reads
 * themselves tell a missing permission. */
static void check_autoscaling(Check *c) {
        const Config *config = c->config;
        const char *hook = config->has_signal ? config->signal.lifecycle_hook : NULL;
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_free_ char *group = NULL;
        int r;

        if (config->n_volumes == 0 && !config->has_interface && isempty(hook))
                return;

        printf("\nAuto Scaling:\n");
        r = autoscaling_find_group(c->instance->aws, c->instance->instance_id, c->deadline, &e, &group);
        if (r == -ENXIO && !isempty(hook)) {
                finding(c, "%s is in no Auto Scaling group, but [Signal] LifecycleHook=%s is set: the boot would "
                        "fail looking for the group.", c->instance->instance_id, hook);
                return;
        }
        if (r == -ENXIO) {
                printf("  %s is in no Auto Scaling group: nothing to check\n", c->instance->instance_id);
                return;
        }
        if (r == -EACCES) {
                report_denied(c, "autoscaling:DescribeAutoScalingInstances", &e);
                return;
        }
        if (r < 0) {
                printf("  the group of %s could not be found: %s\n", c->instance->instance_id,
                       e.code ?: strerror(-r));
                return;
        }

        if (config->n_volumes > 0 || config->has_interface)
                check_maintenance_policy(c, group);
        check_hooks(c, group);
}

/* Neither CloudFormation nor Auto Scaling has DryRun: name what the role
 * needs. */
static void describe_signal(const ConfigSignal *cfg) {
        printf("\nNot verifiable ahead of time (no DryRun):\n");
        if (cfg->cloudformation_stack)
                printf("  %-36s needed for SignalResource to %s/%s\n", "cloudformation:SignalResource",
                       cfg->cloudformation_stack, strna(cfg->cloudformation_resource));
        if (cfg->lifecycle_hook) {
                printf("  %-36s needed for hook %s\n", "autoscaling:RecordLifecycleActionHeartbeat",
                       cfg->lifecycle_hook);
                printf("  %-36s needed for hook %s\n", "autoscaling:CompleteLifecycleAction",
                       cfg->lifecycle_hook);
        }
}

/* The effective configuration, then what the checks found. */
static int check_verdict(const Check *c, FailureKind *ret_failure) {
        int r;

        printf("\nEffective configuration:\n");
        /* A write error on stdout is sticky: config_format_plan() checks
         * the stream's error state when it ends. */
        (void) fflush(stdout);
        r = config_format_plan(c->config, stdout);
        if (r < 0) {
                *ret_failure = FAILURE_OTHER;
                return log_error_errno(r, "Failed to print the configuration: %m");
        }

        if (c->n_denied > 0) {
                *ret_failure = FAILURE_AWS_REFUSED;
                return log_error_errno(EACCES, "%u permission(s) missing: see the plan above.", c->n_denied);
        }
        if (c->unusable < 0) {
                *ret_failure = c->unusable_kind;
                return c->unusable;
        }
        if (c->n_findings > 0) {
                *ret_failure = FAILURE_UNUSABLE;
                return log_error_errno(ENXIO, "%u finding(s) would make the boot fail: see the plan above.",
                                       c->n_findings);
        }
        log_info("The plan is feasible.");
        return 0;
}

/* A volume a boot would make anew (Restore=): from what, and what it
 * replaces. Its permissions are checked with the others. */
static void describe_restore(Check *c, const ConfigVolume *cfg, const char *plan) {
        bool data = streq(cfg->section, CONFIG_VOLUME_DATA);

        printf("Volume%s%s (Restore=%s): %s\n", data ? "" : ":", data ? "" : cfg->section,
               volume_restore_to_string(cfg->restore), plan);
        c->restores = cfg;
}

/* Every volume section's volumes (each member of a striped set, by Id= or
 * by Tag= + Count= as the boot finds them), found and described. found keeps them for the DryRuns. */
static int check_volume_sections(Check *c, CheckVolumes *found) {
        const Config *config = c->config;
        size_t n = 0, at = 0;
        int r;

        if (config->n_volumes == 0) {
                printf("Volume: no volume section, skipped\n");
                return 0;
        }
        for (size_t i = 0; i < config->n_volumes; i++)
                n += MAX(config_volume_n_members(config->volumes[i]), 1U);
        found->volumes = calloc(n, sizeof(Volume));
        found->paths = calloc(config->n_volumes, sizeof(Path));
        found->names = calloc(config->n_volumes, sizeof(char *));
        if (!found->volumes || !found->paths || !found->names)
                return log_oom();

        for (size_t i = 0; i < config->n_volumes; i++) {
                const ConfigVolume *cfg = config->volumes[i];
                bool data = streq(cfg->section, CONFIG_VOLUME_DATA);
                Path *path = &found->paths[i];

                if (data)
                        r = asprintf(&found->names[i], "volume");
                else
                        r = asprintf(&found->names[i], "volume:%s", cfg->section);
                if (r < 0) {
                        found->names[i] = NULL;
                        return log_oom();
                }
                found->n_paths = i + 1;
                *path = PATH_INIT(found->names[i]);
                for (size_t k = 0; k < MAX(config_volume_n_members(cfg), 1U); k++) {
                        Volume *v = &found->volumes[at++];

                        volume_init(v, cfg, path, c->instance->aws, c->instance->instance_id,
                                    c->instance->availability_zone, c->deadline);
                        found->n = at;
                        volume_set_member(v, k);
                        r = volume_find_or_plan(v);
                        note_lookup(c, r, path);
                        if (r == ATTACH_RESTORE_PLANNED) {
                                /* Nothing of it exists yet: no DryRun on it. */
                                describe_restore(c, cfg, v->attach.restore_plan);
                                ec2_volume_done(&v->ec2);
                                /* A set restores as a whole: said once. */
                                if (cfg->count > 0)
                                        break;
                                continue;
                        }
                        if (r < 0 && data)
                                printf("Volume: not usable (see the log above)\n");
                        else if (r < 0)
                                printf("Volume of [Volume:%s]: not usable (see the log above)\n", cfg->section);
                        if (r < 0)
                                continue;
                        describe_volume(c, cfg, &v->ec2);
                        check_volume_key(c, &v->ec2);
                }
        }
        return 0;
}

int check_run(const Config *config, Instance *instance, usec_t deadline, FailureKind *ret_failure) {
        _cleanup_(check_volumes_done) CheckVolumes volumes = {};
        _cleanup_(eni_done) Eni eni = {};
        Path interface_path = PATH_INIT("interface");
        Check c = {
                .config = config,
                .instance = instance,
                .deadline = deadline,
        };
        bool have_eni = false;
        int r;

        *ret_failure = FAILURE_NONE;

        printf("Node %s: instance %s in %s (%s), account %s\n",
               config->node.name ?: instance->instance_id, instance->instance_id,
               instance->availability_zone, instance->region, strna(instance->account_id));
        printf("Endpoints: ec2 %s, route53 %s, autoscaling %s, kms %s\n\n",
               aws_client_endpoint(instance->aws, AWS_SERVICE_EC2),
               aws_client_endpoint(instance->aws, AWS_SERVICE_ROUTE53),
               aws_client_endpoint(instance->aws, AWS_SERVICE_AUTOSCALING),
               aws_client_endpoint(instance->aws, AWS_SERVICE_KMS));

        r = check_volume_sections(&c, &volumes);
        if (r < 0) {
                *ret_failure = FAILURE_OTHER;
                return r;
        }

        if (config->has_interface) {
                eni_init(&eni, &config->interface, &interface_path, instance->aws, instance->instance_id,
                         instance->availability_zone, deadline);
                r = eni_find_or_plan(&eni);
                note_lookup(&c, r, &interface_path);
                have_eni = r >= 0 && r != ATTACH_RESTORE_PLANNED;
                if (r == ATTACH_RESTORE_PLANNED)
                        printf("Interface (Restore=%s): %s\n",
                               interface_restore_to_string(config->interface.restore), eni.attach.restore_plan);
                else if (have_eni)
                        describe_interface(&c, &eni.ec2);
                else
                        printf("Interface: not usable (see the log above)\n");
        } else
                printf("Interface: no [Interface] section, skipped\n");

        if (config->has_dns)
                check_dns(&c, have_eni ? eni.ec2.private_ip : instance->private_ip);
        else
                printf("DNS: no [DNS] section, skipped\n");

        check_autoscaling(&c);

        printf("\nPermissions (EC2 DryRun):\n");
        if (config->n_volumes > 0)
                check_volume_permissions(&c, &volumes);
        if (config->has_interface)
                check_interface_permissions(&c, have_eni ? &eni.ec2 : NULL);

        if (config->has_signal)
                describe_signal(&config->signal);

        return check_verdict(&c, ret_failure);
}
