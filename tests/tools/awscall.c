/* SPDX-License-Identifier: Apache-2.0 */

/* nodeagent-awscall: one AWS call through the agent's own stack (IMDS,
 * credentials, SigV4, retries, parsers), its parsed result printed as
 * "key=value" lines. The integration tests drive every action this way
 * against the fake AWS, faults included. Exit status as the agent's. */

#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

#include "autoscaling.h"
#include "aws.h"
#include "cloudformation.h"
#include "credentials.h"
#include "dns.h"
#include "ec2.h"
#include "exit-status.h"
#include "http.h"
#include "imds.h"
#include "kms.h"
#include "log.h"
#include "route53.h"
#include "signals.h"

typedef struct Tool {
        HttpTransport *transport;
        Imds *imds;
        CredentialsProvider *credentials;
        AwsClient *aws;
        usec_t deadline;
        bool dry_run;
        bool force;
        char **filters;         /* "name=value" */
        size_t n_filters;
} Tool;

static void print_error(int r, const AwsError *e) {
        printf("error errno=%s code=%s status=%ld message=%s\n", strerrorname_np(-r) ?: "?",
               e && e->code ? e->code : "", e ? e->http_status : 0L,
               e && e->message ? e->message : "");
}

static void print_tags(const Ec2Tag *tags, size_t n) {
        for (size_t i = 0; i < n; i++)
                printf(" tag:%s=%s", tags[i].key, strempty(tags[i].value));
}

/* The --filter list as Ec2Filter; values point into the "name=value" strings. */
static int make_filters(Tool *t, Ec2Filter **ret, char ***ret_values) {
        Ec2Filter *f = calloc(t->n_filters + 1, sizeof(Ec2Filter));
        char **values = calloc(2 * t->n_filters + 1, sizeof(char *));

        if (!f || !values) {
                free(f);
                free(values);
                return -ENOMEM;
        }
        for (size_t i = 0; i < t->n_filters; i++) {
                char *eq = strchr(t->filters[i], '=');

                if (!eq) {
                        free(f);
                        free(values);
                        return log_error_errno(EINVAL, "--filter needs NAME=VALUE: %s", t->filters[i]);
                }
                *eq = '\0';
                values[2 * i] = eq + 1;
                values[2 * i + 1] = NULL;
                f[i] = (Ec2Filter) { .name = t->filters[i], .values = (const char *const *) &values[2 * i] };
        }
        *ret = f;
        *ret_values = values;
        return 0;
}

static int cmd_describe_volumes(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_free_ Ec2Filter *filters = NULL;
        _cleanup_free_ char **values = NULL;
        Ec2Volume *v = NULL;
        size_t n = 0;
        int r;

        r = make_filters(t, &filters, &values);
        if (r < 0)
                return r;
        r = ec2_describe_volumes(t->aws, (const char *const *) args, filters, t->n_filters, t->dry_run,
                                 t->deadline, &e, &v, &n);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        for (size_t i = 0; i < n; i++) {
                printf("volume id=%s az=%s size=%" PRIu64 " state=%s", v[i].id, strna(v[i].az), v[i].size_gib,
                       strna(v[i].state));
                for (size_t j = 0; j < v[i].n_attachments; j++)
                        printf(" attachment=%s:%s:%s", strna(v[i].attachments[j].instance_id),
                               strna(v[i].attachments[j].device), strna(v[i].attachments[j].state));
                print_tags(v[i].tags, v[i].n_tags);
                printf("\n");
        }
        printf("count=%zu\n", n);
        ec2_volumes_free(v, n);
        return 0;
}

static int cmd_attach_volume(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_(ec2_volume_attachment_done) Ec2VolumeAttachment a = {};
        int r;

        if (!args[0] || !args[1] || !args[2])
                return log_error_errno(EINVAL, "attach-volume VOLUME INSTANCE DEVICE");
        r = ec2_attach_volume(t->aws, args[0], args[1], args[2], t->dry_run, t->deadline, &e, &a);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("attachment volume=%s instance=%s device=%s state=%s\n", strna(a.volume_id), strna(a.instance_id),
               strna(a.device), strna(a.state));
        return 0;
}

static int cmd_detach_volume(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_(ec2_volume_attachment_done) Ec2VolumeAttachment a = {};
        int r;

        if (!args[0])
                return log_error_errno(EINVAL, "detach-volume VOLUME [INSTANCE]");
        r = ec2_detach_volume(t->aws, args[0], args[1], t->force, t->dry_run, t->deadline, &e, &a);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("attachment volume=%s instance=%s device=%s state=%s\n", strna(a.volume_id), strna(a.instance_id),
               strna(a.device), strna(a.state));
        return 0;
}

static int cmd_describe_network_interfaces(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_free_ Ec2Filter *filters = NULL;
        _cleanup_free_ char **values = NULL;
        Ec2NetworkInterface *v = NULL;
        size_t n = 0;
        int r;

        r = make_filters(t, &filters, &values);
        if (r < 0)
                return r;
        r = ec2_describe_network_interfaces(t->aws, (const char *const *) args, filters, t->n_filters,
                                            t->dry_run, t->deadline, &e, &v, &n);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        for (size_t i = 0; i < n; i++) {
                printf("eni id=%s az=%s subnet=%s mac=%s ip=%s status=%s", v[i].id, strna(v[i].az),
                       strna(v[i].subnet_id), strna(v[i].mac), strna(v[i].private_ip), strna(v[i].status));
                for (char **s = v[i].secondary_ips; s && *s; s++)
                        printf(" secondary=%s", *s);
                if (v[i].attachment.id)
                        printf(" attachment=%s:%s:%d:%s", v[i].attachment.id, strna(v[i].attachment.instance_id),
                               v[i].attachment.device_index, strna(v[i].attachment.status));
                print_tags(v[i].tags, v[i].n_tags);
                printf("\n");
        }
        printf("count=%zu\n", n);
        ec2_network_interfaces_free(v, n);
        return 0;
}

/* A decimal number no larger than max, and nothing else. */
static int parse_unsigned(const char *s, unsigned long max, unsigned long *ret) {
        char *end = NULL;
        unsigned long v;

        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int cmd_attach_network_interface(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_free_ char *id = NULL;
        unsigned long index;
        int r;

        if (!args[0] || !args[1] || parse_unsigned(args[2], UINT_MAX, &index) < 0)
                return log_error_errno(EINVAL, "attach-network-interface ENI INSTANCE INDEX");
        r = ec2_attach_network_interface(t->aws, args[0], args[1], (unsigned) index, 0, t->dry_run, t->deadline,
                                         &e, &id);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("attachment id=%s\n", strna(id));
        return 0;
}

static int cmd_detach_network_interface(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        int r;

        if (!args[0])
                return log_error_errno(EINVAL, "detach-network-interface ATTACHMENT");
        r = ec2_detach_network_interface(t->aws, args[0], t->force, t->dry_run, t->deadline, &e);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("detached=%s\n", args[0]);
        return 0;
}

static int cmd_describe_subnets(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        Ec2Subnet *s = NULL;
        size_t n = 0;
        int r;

        r = ec2_describe_subnets(t->aws, (const char *const *) args, t->dry_run, t->deadline, &e, &s, &n);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        for (size_t i = 0; i < n; i++)
                printf("subnet id=%s cidr=%s az=%s vpc=%s\n", s[i].id, strna(s[i].cidr), strna(s[i].az),
                       strna(s[i].vpc_id));
        printf("count=%zu\n", n);
        ec2_subnets_free(s, n);
        return 0;
}

static int cmd_describe_instances(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        Ec2Instance *v = NULL;
        size_t n = 0;
        int r;

        r = ec2_describe_instances(t->aws, (const char *const *) args, NULL, 0, t->dry_run, t->deadline, &e,
                                   &v, &n);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        for (size_t i = 0; i < n; i++) {
                printf("instance id=%s state=%s az=%s ip=%s", v[i].id, strna(v[i].state), strna(v[i].az),
                       strna(v[i].private_ip));
                print_tags(v[i].tags, v[i].n_tags);
                printf("\n");
        }
        printf("count=%zu\n", n);
        ec2_instances_free(v, n);
        return 0;
}

static int cmd_create_tags(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_free_ Ec2Tag *tags = NULL;
        const char *ids[] = { args[0], NULL };
        size_t n = 0;
        int r;

        if (!args[0] || !args[1])
                return log_error_errno(EINVAL, "create-tags RESOURCE KEY=VALUE...");
        for (char **a = args + 1; *a; a++)
                n++;
        tags = calloc(n, sizeof(Ec2Tag));
        if (!tags)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char *eq = strchr(args[1 + i], '=');

                if (!eq)
                        return log_error_errno(EINVAL, "tags are KEY=VALUE: %s", args[1 + i]);
                *eq = '\0';
                tags[i] = (Ec2Tag) { .key = args[1 + i], .value = eq + 1 };
        }
        r = ec2_create_tags(t->aws, ids, tags, n, t->dry_run, t->deadline, &e);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("tagged=%s\n", args[0]);
        return 0;
}

static void print_record_set(const Route53RecordSet *s) {
        printf("rrset name=%s type=%s ttl=%" PRId64 " id=%s multivalue=%s values=", s->name, s->type, s->ttl,
               strempty(s->set_identifier), s->multivalue_answer ? "yes" : "no");
        for (size_t i = 0; i < s->n_values; i++)
                printf("%s%s", i > 0 ? "," : "", s->values[i]);
        printf("\n");
}

static int cmd_list_rrsets(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_(route53_record_set_page_done) Route53RecordSetPage page = {};
        int r;

        if (!args[0])
                return log_error_errno(EINVAL, "list-rrsets ZONE [NAME [TYPE [IDENTIFIER]]]");
        r = route53_list_resource_record_sets(t->aws, args[0], args[1], args[1] ? args[2] : NULL,
                                              args[1] && args[2] ? args[3] : NULL, 0, t->deadline, &e, &page);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        for (size_t i = 0; i < page.n_sets; i++)
                print_record_set(&page.sets[i]);
        printf("truncated=%s\n", page.is_truncated ? "yes" : "no");
        return 0;
}

static int cmd_find_rrset(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_(route53_record_set_done) Route53RecordSet s = {};
        int r;

        if (!args[0] || !args[1] || !args[2])
                return log_error_errno(EINVAL, "find-rrset ZONE NAME TYPE [IDENTIFIER]");
        r = route53_find_record_set(t->aws, args[0], args[1], args[2], args[3], t->deadline, &e, &s);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        print_record_set(&s);
        return 0;
}

/* Each change: ACTION:NAME:TYPE:TTL:VALUE[,VALUE...][:IDENTIFIER] */
static int cmd_change_rrsets(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_(route53_change_info_done) Route53ChangeInfo info = {};
        Route53Change changes[16] = {};
        Route53RecordSet sets[16] = {};
        char *values[16][17] = {};
        size_t n = 0;
        int r;

        if (!args[0] || !args[1])
                return log_error_errno(EINVAL, "change-rrsets ZONE ACTION:NAME:TYPE:TTL:VALUES[:ID]...");
        for (char **a = args + 1; *a && n < ELEMENTSOF(changes); a++, n++) {
                char *save = NULL;
                char *action = strtok_r(*a, ":", &save), *name = strtok_r(NULL, ":", &save);
                char *type = strtok_r(NULL, ":", &save), *ttl = strtok_r(NULL, ":", &save);
                char *list = strtok_r(NULL, ":", &save), *id = strtok_r(NULL, ":", &save);
                unsigned long ttl_value;
                size_t k = 0;

                if (!action || !name || !type || !list || parse_unsigned(ttl, INT32_MAX, &ttl_value) < 0)
                        return log_error_errno(EINVAL, "bad change: %s", *a);
                for (char *v = strtok_r(list, ",", &save); v && k < 16; v = strtok_r(NULL, ",", &save))
                        values[n][k++] = v;
                sets[n] = (Route53RecordSet) {
                        .name = name, .type = type, .ttl = (int64_t) ttl_value, .set_identifier = id,
                        .multivalue_answer = id != NULL, .values = values[n], .n_values = k,
                };
                changes[n] = (Route53Change) {
                        .action = streq(action, "CREATE") ? ROUTE53_CREATE :
                                  streq(action, "DELETE") ? ROUTE53_DELETE : ROUTE53_UPSERT,
                        .set = &sets[n],
                };
        }
        r = route53_change_resource_record_sets(t->aws, args[0], changes, n, "nodeagent-awscall", t->deadline,
                                                &e, &info);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("change id=%s status=%s\n", strna(info.id), strna(info.status));
        return 0;
}

static int cmd_get_change(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_(route53_change_info_done) Route53ChangeInfo info = {};
        int r;

        if (!args[0])
                return log_error_errno(EINVAL, "get-change ID");
        r = route53_get_change(t->aws, args[0], t->deadline, &e, &info);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("change id=%s status=%s\n", strna(info.id), strna(info.status));
        return 0;
}

/* dns-publish ZONE NAME MODE TTL IP [NODE_NAME] [--wait-in-sync]
 * dns-unpublish ZONE NAME MODE IP [NODE_NAME]
 * The dns module as the agent runs it: read, decide, change, retry. */
static int dns_run(Tool *t, char **args, bool publish) {
        _cleanup_(dns_result_done) DnsResult res = { .ttl = -1 };
        _cleanup_free_ char *zone = NULL, *name = NULL;
        const char *positional[6] = {}, *ttl_arg = "60", *ip, *node_name;
        size_t n = 0, need = publish ? 5 : 4;
        bool wait_in_sync = false;
        Path path = PATH_INIT("dns");
        ConfigDns config;
        DnsMode mode;
        char *end = NULL;
        unsigned long ttl;
        int r;

        for (char **a = args; *a; a++) {
                if (streq(*a, "--wait-in-sync"))
                        wait_in_sync = true;
                else if (n < ELEMENTSOF(positional))
                        positional[n++] = *a;
                else
                        n++;
        }
        if (n < need || n > need + 1)
                return log_error_errno(EINVAL, publish ?
                                       "dns-publish ZONE NAME MODE TTL IP [NODE_NAME] [--wait-in-sync]" :
                                       "dns-unpublish ZONE NAME MODE IP [NODE_NAME]");
        mode = dns_mode_from_string(positional[2]);
        if (mode < 0)
                return log_error_errno(EINVAL, "MODE is node, multivalue or shared: %s", positional[2]);
        if (publish)
                ttl_arg = positional[3];
        errno = 0;
        ttl = strtoul(ttl_arg, &end, 10);
        if (errno != 0 || end == ttl_arg || *end != '\0' || ttl > INT32_MAX)
                return log_error_errno(EINVAL, "TTL is 0..2147483647: %s", ttl_arg);
        ip = positional[publish ? 4 : 3];
        node_name = positional[publish ? 5 : 4];
        r = route53_zone_id_normalize(positional[0], &zone);
        if (r < 0)
                return log_error_errno(r, "Bad hosted zone id: %s", positional[0]);
        r = route53_name_normalize(positional[1], &name);
        if (r < 0)
                return r;

        config = (ConfigDns) {
                .hosted_zone_id = zone,
                .name = name,
                .mode = mode,
                .ttl = (unsigned) ttl,
                .wait_in_sync = wait_in_sync,
        };
        DnsPublish p = {
                .path = &path,
                .aws = t->aws,
                .config = &config,
                .node_name = node_name,
                .ip = ip,
                .deadline = t->deadline,
        };
        r = publish ? dns_publish(&p, &res) : dns_unpublish(&p, &res);
        if (r < 0) {
                print_error(r, NULL);
                return r;
        }
        printf("dns action=%s change=%s insync=%s changes=%u conflicts=%u ttl=%" PRId64 " values=",
               dns_action_to_string(res.action), strempty(res.change_id), res.in_sync ? "yes" : "no",
               res.n_changes, res.n_conflicts, res.ttl);
        for (size_t i = 0; res.values && res.values[i]; i++)
                printf("%s%s", i > 0 ? "," : "", res.values[i]);
        printf("\n");
        return 0;
}

static int cmd_dns_publish(Tool *t, char **args) {
        return dns_run(t, args, true);
}

static int cmd_dns_unpublish(Tool *t, char **args) {
        return dns_run(t, args, false);
}

static int cmd_imds(Tool *t, char **args) {
        _cleanup_free_ char *value = NULL;
        int r;

        if (!args[0])
                return log_error_errno(EINVAL, "imds identity|credentials|user-data|PATH");
        if (streq(args[0], "identity")) {
                _cleanup_(imds_identity_done) ImdsIdentity id = {};

                r = imds_get_identity(t->imds, t->deadline, &id);
                if (r >= 0)
                        printf("identity instance=%s region=%s az=%s account=%s ip=%s\n", strna(id.instance_id),
                               strna(id.region), strna(id.availability_zone), strna(id.account_id),
                               strna(id.private_ip));
        } else if (streq(args[0], "credentials")) {
                _cleanup_(aws_credentials_done) AwsCredentials c = {};

                r = imds_get_role_credentials(t->imds, t->deadline, &c);
                if (r >= 0)
                        printf("credentials access_key=%s token=%s expiration=%" PRIu64 "\n", c.access_key_id,
                               c.session_token ? "yes" : "no", c.expiration / USEC_PER_SEC);
        } else if (streq(args[0], "user-data")) {
                r = imds_get_user_data(t->imds, t->deadline, &value, NULL);
                if (r >= 0)
                        printf("%s", value);
        } else {
                r = imds_get(t->imds, args[0], t->deadline, &value);
                if (r >= 0)
                        printf("value=%s\n", value);
        }
        if (r < 0)
                print_error(r, NULL);
        return r;
}

/* Each of the signal commands prints its result, or the error: -EALREADY
 * and -ESRCH ("nobody waits") show as errno=EALREADY / errno=ESRCH. */
static int cmd_signal_resource(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        int r;

        if (!args[0] || !args[1] || !args[2] || !args[3] ||
            (!streq(args[3], "SUCCESS") && !streq(args[3], "FAILURE")))
                return log_error_errno(EINVAL, "signal-resource STACK RESOURCE UNIQUE_ID SUCCESS|FAILURE");
        r = cloudformation_signal_resource(t->aws, args[0], args[1], args[2], streq(args[3], "SUCCESS"),
                                           t->deadline, &e);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("signalled stack=%s resource=%s unique_id=%s status=%s\n", args[0], args[1], args[2], args[3]);
        return 0;
}

static int cmd_record_heartbeat(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        int r;

        if (!args[0] || !args[1] || !args[2])
                return log_error_errno(EINVAL, "record-heartbeat GROUP HOOK INSTANCE");
        r = autoscaling_record_heartbeat(t->aws, args[0], args[1], args[2], t->deadline, &e);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("heartbeat group=%s hook=%s instance=%s\n", args[0], args[1], args[2]);
        return 0;
}

static int cmd_complete_lifecycle_action(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        LifecycleActionResult result;
        int r;

        if (!args[0] || !args[1] || !args[2] || !args[3] ||
            (!streq(args[3], "CONTINUE") && !streq(args[3], "ABANDON")))
                return log_error_errno(EINVAL, "complete-lifecycle-action GROUP HOOK INSTANCE CONTINUE|ABANDON");
        result = streq(args[3], "CONTINUE") ? LIFECYCLE_ACTION_CONTINUE : LIFECYCLE_ACTION_ABANDON;
        r = autoscaling_complete_lifecycle_action(t->aws, args[0], args[1], args[2], result, t->deadline, &e);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("completed group=%s hook=%s instance=%s result=%s\n", args[0], args[1], args[2], args[3]);
        return 0;
}

static int cmd_describe_auto_scaling_instance(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_(autoscaling_instance_done) AutoScalingInstance i = {};
        int r;

        if (!args[0])
                return log_error_errno(EINVAL, "describe-auto-scaling-instance INSTANCE");
        r = autoscaling_describe_instance(t->aws, args[0], t->deadline, &e, &i);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("asg-instance id=%s group=%s state=%s\n", i.instance_id, i.group, strna(i.lifecycle_state));
        return 0;
}

static int cmd_find_group(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_free_ char *group = NULL;
        int r;

        if (!args[0])
                return log_error_errno(EINVAL, "find-group INSTANCE");
        r = autoscaling_find_group(t->aws, args[0], t->deadline, &e, &group);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("group name=%s\n", group);
        return 0;
}

static int cmd_describe_group(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_(autoscaling_group_done) AutoScalingGroup g = {};
        int r;

        if (!args[0])
                return log_error_errno(EINVAL, "describe-group GROUP");
        r = autoscaling_describe_group(t->aws, args[0], t->deadline, &e, &g);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("group name=%s desired=%" PRIu64 " min=%" PRIu64 " max=%" PRIu64 " instances=%zu min_healthy=%d "
               "max_healthy=%d\n", g.name, g.desired_capacity, g.min_size, g.max_size, g.n_instances,
               g.min_healthy_percentage, g.max_healthy_percentage);
        return 0;
}

static int cmd_describe_hooks(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        AutoScalingHook *hooks = NULL;
        size_t n = 0;
        int r;

        if (!args[0])
                return log_error_errno(EINVAL, "describe-hooks GROUP");
        r = autoscaling_describe_hooks(t->aws, args[0], t->deadline, &e, &hooks, &n);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        for (size_t i = 0; i < n; i++)
                printf("hook name=%s transition=%s heartbeat=%" PRIu64 " global=%" PRIu64 " default=%s\n",
                       hooks[i].name, strna(hooks[i].transition), hooks[i].heartbeat_timeout,
                       hooks[i].global_timeout, strna(hooks[i].default_result));
        autoscaling_hooks_free(hooks, n);
        return 0;
}

static int cmd_describe_key(Tool *t, char **args) {
        _cleanup_(aws_error_done) AwsError e = {};
        _cleanup_(kms_key_done) KmsKey k = {};
        int r;

        if (!args[0])
                return log_error_errno(EINVAL, "describe-key KEY");
        r = kms_describe_key(t->aws, args[0], t->deadline, &e, &k);
        if (r < 0) {
                print_error(r, &e);
                return r;
        }
        printf("key id=%s arn=%s state=%s enabled=%s manager=%s usable=%s\n", k.id, strna(k.arn), k.state,
               k.enabled ? "yes" : "no", strna(k.key_manager), kms_key_unusable_reason(&k) ? "no" : "yes");
        return 0;
}

/* The whole policy of signals.h, as the agent runs it:
 *   signal success|failure INSTANCE [stack=S resource=R] [hook=H] [heartbeats=N]
 * start, N heartbeats (as if each were due), then success or failure. */
static int cmd_signal(Tool *t, char **args) {
        _cleanup_(signal_done) Signal s = {};
        ConfigSignal config = {};
        unsigned long heartbeats = 0;
        bool success;
        int r;

        if (!args[0] || !args[1] || (!streq(args[0], "success") && !streq(args[0], "failure")))
                return log_error_errno(EINVAL, "signal success|failure INSTANCE [stack=S] [resource=R] [hook=H] "
                                       "[heartbeats=N]");
        success = streq(args[0], "success");
        for (char **a = args + 2; *a; a++) {
                const char *v;

                if ((v = startswith(*a, "stack=")))
                        config.cloudformation_stack = (char *) v;
                else if ((v = startswith(*a, "resource=")))
                        config.cloudformation_resource = (char *) v;
                else if ((v = startswith(*a, "hook=")))
                        config.lifecycle_hook = (char *) v;
                else if ((v = startswith(*a, "heartbeats=")) && parse_unsigned(v, UINT_MAX, &heartbeats) >= 0)
                        continue;
                else
                        return log_error_errno(EINVAL, "unknown signal argument: %s", *a);
        }

        signal_init(&s, t->aws, &config, args[1]);
        r = signal_start(&s, t->deadline);
        if (r < 0) {
                print_error(r, NULL);
                return r;
        }
        if (s.group)
                printf("group name=%s\n", s.group);
        for (unsigned i = 0; i < heartbeats; i++)
                (void) signal_heartbeat(&s, t->deadline);
        if (!success) {
                signal_failure(&s, t->deadline);
                printf("signalled failure\n");
                return 0;
        }
        r = signal_success(&s, t->deadline);
        if (r < 0) {
                print_error(r, NULL);
                return r;
        }
        printf("signalled success\n");
        return 0;
}

static const struct {
        const char *name;
        int (*run)(Tool *t, char **args);
        bool needs_aws;
} commands[] = {
        { "imds",                        cmd_imds,                        false },
        { "describe-volumes",            cmd_describe_volumes,            true },
        { "attach-volume",               cmd_attach_volume,               true },
        { "detach-volume",               cmd_detach_volume,               true },
        { "describe-network-interfaces", cmd_describe_network_interfaces, true },
        { "attach-network-interface",    cmd_attach_network_interface,    true },
        { "detach-network-interface",    cmd_detach_network_interface,    true },
        { "describe-subnets",            cmd_describe_subnets,            true },
        { "describe-instances",          cmd_describe_instances,          true },
        { "create-tags",                 cmd_create_tags,                 true },
        { "list-rrsets",                 cmd_list_rrsets,                 true },
        { "find-rrset",                  cmd_find_rrset,                  true },
        { "change-rrsets",               cmd_change_rrsets,               true },
        { "get-change",                  cmd_get_change,                  true },
        { "signal-resource",             cmd_signal_resource,             true },
        { "record-heartbeat",            cmd_record_heartbeat,            true },
        { "complete-lifecycle-action",   cmd_complete_lifecycle_action,   true },
        { "describe-auto-scaling-instance", cmd_describe_auto_scaling_instance, true },
        { "find-group",                  cmd_find_group,                  true },
        { "describe-group",              cmd_describe_group,              true },
        { "describe-hooks",              cmd_describe_hooks,              true },
        { "describe-key",                cmd_describe_key,                true },
        { "signal",                      cmd_signal,                      true },
        { "dns-publish",                 cmd_dns_publish,                 true },
        { "dns-unpublish",               cmd_dns_unpublish,               true },
};

static int setup(Tool *t, bool needs_aws) {
        _cleanup_free_ char *region = NULL;
        const char *env_region = getenv("AWS_REGION");
        int r;

        r = http_transport_curl_new(&t->transport);
        if (r < 0)
                return r;
        r = imds_new(t->transport, NULL, &t->imds);
        if (r < 0)
                return r;
        if (!needs_aws)
                return 0;

        if (isempty(env_region)) {
                r = imds_get_region(t->imds, t->deadline, &region);
                if (r < 0)
                        return log_error_errno(r, "Failed to get the region from IMDS: %m");
        }
        r = credentials_provider_new(t->imds, &t->credentials);
        if (r < 0)
                return log_error_errno(r, "No credentials: %m");
        return aws_client_new(t->transport, t->credentials, region ?: env_region, &t->aws);
}

/* The tool's exit status: the kind of the call's failure, as the agent's
 * callers would decide it for the calls it makes (a missing thing is the
 * resource being unusable, a refusal is AWS's). */
static ExitStatus status_of(int r) {
        switch (r) {
        case -ENOENT:
        case -EXDEV:
        case -EBUSY:
        case -ENOTUNIQ:
                return exit_status_from_failure(FAILURE_UNUSABLE);
        case -ENOKEY:
        case -EPERM:
                return exit_status_from_failure(FAILURE_AWS_REFUSED);
        default:
                return exit_status_from_failure(failure_kind_of_call(r));
        }
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "dry-run",  no_argument,       NULL, 'n' },
                { "force",    no_argument,       NULL, 'f' },
                { "filter",   required_argument, NULL, 'F' },
                { "deadline", required_argument, NULL, 'd' },
                { "verbose",  no_argument,       NULL, 'v' },
                {}
        };
        Tool t = {};
        usec_t deadline = 30 * USEC_PER_SEC;
        unsigned verbosity = 0;
        int c, r = -EINVAL;

        log_set_show_priority(false);
        while ((c = getopt_long(argc, argv, "+nfF:d:v", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        t.dry_run = true;
                        break;
                case 'f':
                        t.force = true;
                        break;
                case 'F': {
                        char **filters = realloc(t.filters, (t.n_filters + 1) * sizeof(char *));

                        if (!filters) {
                                free(t.filters);
                                return EXIT_STATUS_FAILURE;
                        }
                        t.filters = filters;
                        t.filters[t.n_filters++] = optarg;
                        break;
                }
                case 'd':
                        if (parse_duration(optarg, &deadline) < 0) {
                                free(t.filters);
                                return EXIT_STATUS_USAGE;
                        }
                        break;
                case 'v':
                        verbosity++;
                        break;
                default:
                        free(t.filters);
                        return EXIT_STATUS_USAGE;
                }
        log_set_verbosity(verbosity);

        if (optind >= argc) {
                fprintf(stderr, "usage: nodeagent-awscall [--dry-run] [--force] [--filter N=V] [--deadline D] "
                        "COMMAND ARGS...\n");
                free(t.filters);
                return EXIT_STATUS_USAGE;
        }

        t.deadline = usec_add(now(CLOCK_MONOTONIC), deadline);
        http_global_init();
        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                if (!streq(commands[i].name, argv[optind]))
                        continue;
                r = setup(&t, commands[i].needs_aws);
                if (r < 0)
                        print_error(r, NULL);
                else
                        r = commands[i].run(&t, argv + optind + 1);
                goto done;
        }
        fprintf(stderr, "unknown command: %s\n", argv[optind]);
        r = -EINVAL;
done:
        aws_client_free(t.aws);
        credentials_provider_free(t.credentials);
        imds_free(t.imds);
        http_transport_curl_free(t.transport);
        free(t.filters);
        http_global_cleanup();
        log_forget_secrets();
        return (int) (r == -EINVAL ? EXIT_STATUS_USAGE : status_of(r));
}
