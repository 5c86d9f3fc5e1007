/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <systemd/sd-login.h>
#include <time.h>
#include <unistd.h>

#include "handover.h"
#include "log.h"
#include "spawn-util.h"

#define PROMPT_MAGIC "nodeagent-handover"
#define PROMPT_VERSION "1"

/* The longest datagram worth reading: a prompt is well under 200 bytes. */
#define PROMPT_READ_MAX 512

/* Datagrams read per wake-up: a flood costs one look, not a stall. */
#define DRAIN_MAX 64

/* How long systemctl may take to queue the stop job. */
#define STOP_UNIT_TIMEOUT_USEC (30 * USEC_PER_SEC)

int handover_format_prompt(const char *requester_id, const char *node_name, char *buf, size_t size) {
        int k;

        if (isempty(requester_id) || isempty(node_name) || strpbrk(requester_id, " \n") || strpbrk(node_name, " \n"))
                return -EINVAL;
        k = snprintf(buf, size, PROMPT_MAGIC " " PROMPT_VERSION " %s %s\n", requester_id, node_name);
        if (k < 0 || (size_t) k >= size)
                return -ENOBUFS;
        return 0;
}

int handover_prompt(const char *holder_ip, const char *requester_id, const char *node_name) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(HANDOVER_PORT) };
        char payload[256];
        int r;

        if (!holder_ip || inet_pton(AF_INET, holder_ip, &sa.sin_addr) != 1)
                return -EINVAL;
        r = handover_format_prompt(requester_id, node_name, payload, sizeof(payload));
        if (r < 0)
                return r;
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (sendto(fd, payload, strlen(payload), 0, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_debug_errno(errno, "handover: prompt to %s:%d not sent: %m", holder_ip, HANDOVER_PORT);
        return 0;
}

/* One word of a prompt: printable, no blank, at most max characters. */
static int prompt_word(const char **p, const char *end, size_t max, char **ret) {
        const char *start = *p;
        char *w;

        while (*p < end && isgraph((unsigned char) **p))
                (*p)++;
        if (*p == start || (size_t) (*p - start) > max)
                return -EBADMSG;
        w = strndup(start, (size_t) (*p - start));
        if (!w)
                return -ENOMEM;
        *ret = w;
        return 0;
}

int handover_parse_prompt(const char *buf, size_t size, char **ret_requester, char **ret_node) {
        static const char head[] = PROMPT_MAGIC " " PROMPT_VERSION " ";
        _cleanup_free_ char *requester = NULL, *node = NULL;
        const char *p = buf, *end = buf + size;
        int r;

        if (!buf || size < strlen(head) || memcmp(buf, head, strlen(head)) != 0)
                return -EBADMSG;
        p += strlen(head);
        r = prompt_word(&p, end, 64, &requester);
        if (r < 0)
                return r;
        if (p >= end || *p != ' ')
                return -EBADMSG;
        p++;
        r = prompt_word(&p, end, 255, &node);
        if (r < 0)
                return r;
        if (p + 1 != end || *p != '\n')
                return -EBADMSG;
        *ret_requester = TAKE_PTR(requester);
        *ret_node = TAKE_PTR(node);
        return 0;
}

int handover_parse_time(const char *s, usec_t *ret) {
        static const char shape[] = "dddd-dd-ddTdd:dd:dd";
        struct tm tm = {}, parsed;
        usec_t fraction = 0, scale = USEC_PER_SEC;
        const char *p;
        time_t t;

        if (!s || strlen(s) < strlen(shape) + 1)
                return -EBADMSG;
        /* strptime() alone would take blanks, fewer digits and signs. */
        for (size_t i = 0; shape[i]; i++)
                if (shape[i] == 'd' ? !isdigit((unsigned char) s[i]) : s[i] != shape[i])
                        return -EBADMSG;
        p = s + strlen(shape);
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char) *p))
                        return -EBADMSG;
                /* Digits past the microsecond are dropped. */
                for (; isdigit((unsigned char) *p); p++)
                        if (scale > 1) {
                                scale /= 10;
                                fraction += (usec_t) (*p - '0') * scale;
                        }
        }
        if (!streq(p, "Z"))
                return -EBADMSG;

        if (!strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
                return -EBADMSG;
        parsed = tm;
        t = timegm(&tm);
        if (t == (time_t) -1 || t < 0)
                return -EBADMSG;
        /* timegm() turns February 30 into March 2: not a date. */
        if (tm.tm_year != parsed.tm_year || tm.tm_mon != parsed.tm_mon || tm.tm_mday != parsed.tm_mday ||
            tm.tm_hour != parsed.tm_hour || tm.tm_min != parsed.tm_min || tm.tm_sec != parsed.tm_sec)
                return -EBADMSG;
        *ret = (usec_t) t * USEC_PER_SEC + fraction;
        return 0;
}

static const char *const verdict_text[_HANDOVER_VERDICT_MAX] = {
        [HANDOVER_ACCEPT] = "is accepted",
        [HANDOVER_UNKNOWN] = "is not known to EC2",
        [HANDOVER_NOT_RUNNING] = "is not running",
        /* NOLINTNEXTLINE(bugprone-suspicious-missing-comma): the tag's name is joined into this text on purpose. */
        [HANDOVER_OTHER_NODE] = "is not an instance of this node (its " HANDOVER_TAG_NODE " tag differs)",
        [HANDOVER_NOT_LATER] = "was not launched after this instance",
        [HANDOVER_NOT_NEWEST] = "is not the newest running instance of this node",
};

const char *handover_verdict_to_string(HandoverVerdict v) {
        return v >= 0 && v < _HANDOVER_VERDICT_MAX ? verdict_text[v] : NULL;
}

/* An instance's launch time; 0 when EC2 does not say. */
static usec_t launch_of(const Ec2Instance *i) {
        usec_t t;

        return handover_parse_time(i->launch_time, &t) < 0 ? 0 : t;
}

HandoverVerdict handover_judge(const HandoverFacts *f) {
        const Ec2Instance *r = f->requester;
        usec_t launched;

        if (!r)
                return HANDOVER_UNKNOWN;
        if (!streq_ptr(r->state, "running"))
                return HANDOVER_NOT_RUNNING;
        if (isempty(f->node_name) || !streq_ptr(ec2_tags_get(r->tags, r->n_tags, HANDOVER_TAG_NODE), f->node_name))
                return HANDOVER_OTHER_NODE;
        /* The instance that replaces this one comes after it; one that came
         * before is a stale or forged request. Unknown times prove nothing. */
        launched = launch_of(r);
        if (f->self_launch == 0 || launched <= f->self_launch)
                return HANDOVER_NOT_LATER;
        for (size_t i = 0; i < f->n_node_instances; i++) {
                const Ec2Instance *o = &f->node_instances[i];

                if (!streq_ptr(o->id, r->id) && streq_ptr(o->state, "running") && launch_of(o) > launched)
                        return HANDOVER_NOT_NEWEST;
        }
        return HANDOVER_ACCEPT;
}

/* Adds value to the NULL-terminated list unless it is there or is self. */
static int add_unique(char ***list, size_t *n, const char *value, const char *self) {
        char **l;

        if (isempty(value) || streq_ptr(value, self))
                return 0;
        for (size_t i = 0; i < *n; i++)
                if (streq((*list)[i], value))
                        return 0;
        l = realloc(*list, (*n + 2) * sizeof(char *));
        if (!l)
                return -ENOMEM;
        *list = l;
        l[*n] = strdup(value);
        if (!l[*n])
                return -ENOMEM;
        l[++*n] = NULL;
        return 0;
}

/* The handover-to values on the volumes and interfaces, other than self. */
static int requesters_of(const Ec2Volume *volumes, size_t n_volumes, const Ec2NetworkInterface *enis, size_t n_enis,
                         const char *self, char ***list, size_t *n) {
        int r;

        for (size_t i = 0; i < n_volumes; i++) {
                r = add_unique(list, n, ec2_tags_get(volumes[i].tags, volumes[i].n_tags, HANDOVER_TAG_TO), self);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n_enis; i++) {
                r = add_unique(list, n, ec2_tags_get(enis[i].tags, enis[i].n_tags, HANDOVER_TAG_TO), self);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Describes instances by id through a filter: an id EC2 no longer knows
 * (terminated an hour ago) is simply absent, where InstanceIds would fail
 * the whole call. */
static int describe_ids(HandoverHolder *h, const char *const *ids, usec_t deadline, Ec2Instance **ret, size_t *ret_n) {
        _cleanup_(aws_error_done) AwsError e = {};
        Ec2Filter filter = { .name = "instance-id", .values = ids };
        int r;

        r = ec2_describe_instances(h->aws, NULL, &filter, 1, false, deadline, &e, ret, ret_n);
        if (r < 0)
                return log_debug_errno(r, "handover: Failed to describe instances: %s%s%m", strempty(e.code),
                                       e.code ? ": " : "");
        return 0;
}

static int describe_node_instances(AwsClient *aws, const char *node_name, usec_t deadline, Ec2Instance **ret,
                                   size_t *ret_n) {
        _cleanup_(aws_error_done) AwsError e = {};
        const char *names[] = { node_name, NULL }, *running[] = { "running", NULL };
        Ec2Filter filters[] = {
                { .name = "tag:" HANDOVER_TAG_NODE, .values = names },
                { .name = "instance-state-name", .values = running },
        };
        int r;

        r = ec2_describe_instances(aws, NULL, filters, ELEMENTSOF(filters), false, deadline, &e, ret, ret_n);
        if (r < 0)
                return log_debug_errno(r, "handover: Failed to list the running instances of node %s: %s%s%m",
                                       node_name, strempty(e.code), e.code ? ": " : "");
        return 0;
}

static const Ec2Instance *instance_by_id(const Ec2Instance *list, size_t n, const char *id) {
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(list[i].id, id))
                        return &list[i];
        return NULL;
}

/* A refusal is logged at notice level once per requester and verdict: the
 * periodic look meets an old request every minute. */
static void report_refusal(HandoverHolder *h, const char *requester, HandoverVerdict v) {
        _cleanup_free_ char *key = NULL;
        char **l;

        if (asprintf(&key, "%s %d", requester, (int) v) < 0)
                return;
        for (size_t i = 0; i < h->n_refused; i++)
                if (streq(h->refused[i], key)) {
                        log_debug("handover: still refusing %s: it %s.", requester, handover_verdict_to_string(v));
                        return;
                }
        log_notice("Refusing the request to hand this node over to %s: it %s. Keeping the node.", requester,
                   handover_verdict_to_string(v));
        l = realloc(h->refused, (h->n_refused + 2) * sizeof(char *));
        if (!l)
                return;
        h->refused = l;
        l[h->n_refused++] = TAKE_PTR(key);
        l[h->n_refused] = NULL;
}

/* The newest running instance of the node other than this one (NULL:
 * none). */
static const Ec2Instance *newest_of(const Ec2Instance *node, size_t n, const char *self) {
        const Ec2Instance *newest = NULL;

        for (size_t i = 0; i < n; i++)
                if (!streq_ptr(node[i].id, self) && (!newest || launch_of(&node[i]) > launch_of(newest)))
                        newest = &node[i];
        return newest;
}

/* One requester's verdict; when accepted, *ret names the instance the
 * node goes to: the requester, or the newest running instance of the node
 * when only that one stands in the requester's way (see judge_all()). */
static HandoverVerdict judge_one(const HandoverHolder *h, const Ec2Instance *instances, size_t n_instances,
                                 const Ec2Instance *node, size_t n_node, const char *requester, const char **ret) {
        HandoverFacts f = {
                .node_name = h->node_name,
                .self_launch = h->launch_time,
                .requester = instance_by_id(instances, n_instances, requester),
                .node_instances = node,
                .n_node_instances = n_node,
        };
        HandoverVerdict v = handover_judge(&f);
        const Ec2Instance *newest;

        if (v == HANDOVER_ACCEPT) {
                *ret = requester;
                return v;
        }
        if (v != HANDOVER_NOT_NEWEST)
                return v;
        newest = newest_of(node, n_node, h->instance_id);
        f.requester = newest;
        if (!newest || handover_judge(&f) != HANDOVER_ACCEPT)
                return v;
        log_info("handover: %s asks for node %s, whose newest running instance is %s: the node goes to that one.",
                 requester, h->node_name, newest->id);
        *ret = newest->id;
        return HANDOVER_ACCEPT;
}

/* Judges each requester; the accepted one in *ret. with_newest: only the
 * newest running instance of the node passes (a request now): a request
 * of an older one goes to the newest, which the Auto Scaling group
 * launched last and which attaches what it finds free (the older one
 * leaves it alone, handover_newer_requester()), whether or not its own
 * request came yet; so the order in which two requesters tagged does not
 * matter. Without with_newest, a handover already given stands for any
 * later instance of the node. */
static int judge_all(HandoverHolder *h, char *const *requesters, size_t n, bool with_newest, bool report,
                     usec_t deadline, char **ret) {
        _cleanup_free_ const char **ids = calloc(n + 2, sizeof(char *));
        Ec2Instance *instances = NULL, *node = NULL;
        size_t n_instances = 0, n_node = 0;
        const Ec2Instance *self;
        int r;

        if (!ids)
                return -ENOMEM;
        ids[0] = h->instance_id;
        for (size_t i = 0; i < n; i++)
                ids[i + 1] = requesters[i];
        r = describe_ids(h, ids, deadline, &instances, &n_instances);
        if (r >= 0 && with_newest)
                r = describe_node_instances(h->aws, h->node_name, deadline, &node, &n_node);
        if (r < 0)
                goto finish;

        self = instance_by_id(instances, n_instances, h->instance_id);
        if (h->launch_time == 0 && self)
                h->launch_time = launch_of(self);
        r = 0;
        for (size_t i = 0; i < n && r == 0; i++) {
                const char *to = NULL;
                HandoverVerdict v = judge_one(h, instances, n_instances, node, n_node, requesters[i], &to);

                if (v == HANDOVER_ACCEPT) {
                        *ret = strdup(to);
                        r = *ret ? 1 : -ENOMEM;
                } else if (report)
                        report_refusal(h, requesters[i], v);
                else
                        log_debug("handover: %s %s.", requesters[i], handover_verdict_to_string(v));
        }
finish:
        ec2_instances_free(instances, n_instances);
        ec2_instances_free(node, n_node);
        return r;
}

/* The resources' handover-to values: by ids (ids and eni_id), or by the
 * tag filter (filter). */
static int read_requesters(HandoverHolder *h, const char *const *volume_ids, const char *eni_id,
                           const Ec2Filter *filter, usec_t deadline, char ***list, size_t *n) {
        _cleanup_(aws_error_done) AwsError e = {}, f = {};
        const char *enis[] = { eni_id, NULL };
        Ec2Volume *volumes = NULL;
        Ec2NetworkInterface *interfaces = NULL;
        size_t n_volumes = 0, n_interfaces = 0;
        int r = 0;

        if (filter || (volume_ids && volume_ids[0]))
                r = ec2_describe_volumes(h->aws, filter ? NULL : volume_ids, filter, filter ? 1 : 0, false, deadline,
                                         &e, &volumes, &n_volumes);
        if (r >= 0 && (filter || eni_id))
                r = ec2_describe_network_interfaces(h->aws, filter ? NULL : enis, filter, filter ? 1 : 0, false,
                                                    deadline, &f, &interfaces, &n_interfaces);
        if (r < 0)
                log_debug_errno(r, "handover: Failed to read the tags of the node's resources: %s%s%m",
                                strempty(e.code ?: f.code), e.code || f.code ? ": " : "");
        else
                r = requesters_of(volumes, n_volumes, interfaces, n_interfaces, h->instance_id, list, n);
        ec2_volumes_free(volumes, n_volumes);
        ec2_network_interfaces_free(interfaces, n_interfaces);
        return r;
}

int handover_look(HandoverHolder *h, const char *const *volume_ids, const char *eni_id, usec_t deadline,
                  char **ret_requester) {
        _cleanup_strv_free_ char **requesters = NULL;
        size_t n = 0;
        int r;

        r = read_requesters(h, volume_ids, eni_id, NULL, deadline, &requesters, &n);
        if (r < 0 || n == 0)
                return r;
        return judge_all(h, requesters, n, true, true, deadline, ret_requester);
}

int handover_given(HandoverHolder *h, usec_t deadline, char **ret_to) {
        _cleanup_strv_free_ char **requesters = NULL;
        _cleanup_free_ char *name = NULL;
        const char *values[] = { h->instance_id, NULL };
        Ec2Filter filter = { .values = values };
        size_t n = 0;
        int r;

        if (asprintf(&name, "tag:%s", HANDOVER_TAG_BY) < 0)
                return -ENOMEM;
        filter.name = name;
        r = read_requesters(h, NULL, NULL, &filter, deadline, &requesters, &n);
        if (r < 0 || n == 0)
                return r;
        return judge_all(h, requesters, n, false, false, deadline, ret_to);
}

void handover_holder_done(HandoverHolder *h) {
        h->refused = strv_free(h->refused);
        h->n_refused = 0;
}

int handover_newer_requester(AwsClient *aws, const char *self_id, const char *node_name, usec_t deadline,
                             char **ret_newer) {
        Ec2Instance *node = NULL;
        const Ec2Instance *self, *newest = NULL;
        size_t n = 0;
        int r;

        r = describe_node_instances(aws, node_name, deadline, &node, &n);
        if (r < 0)
                return r;
        /* This instance without the node's tag: the holder refuses it
         * anyway; nothing to compare with here. */
        self = instance_by_id(node, n, self_id);
        for (size_t i = 0; self && i < n; i++)
                if (launch_of(&node[i]) > launch_of(self) && (!newest || launch_of(&node[i]) > launch_of(newest)))
                        newest = &node[i];
        r = 0;
        if (newest) {
                *ret_newer = strdup(newest->id);
                r = *ret_newer ? 1 : -ENOMEM;
        }
        ec2_instances_free(node, n);
        return r;
}

usec_t handover_look_interval(void) {
        const char *s = getenv(HANDOVER_TEST_INTERVAL_ENV);
        usec_t u;

        if (!isempty(s) && parse_duration(s, &u) >= 0 && u > 0)
                return u;
        return HANDOVER_LOOK_INTERVAL_USEC;
}

int handover_listen(void) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_in sa = {
                .sin_family = AF_INET,
                .sin_port = htons(HANDOVER_PORT),
                .sin_addr.s_addr = htonl(INADDR_ANY),
        };

        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int handover_drain(int fd) {
        int n = 0;

        for (; n < DRAIN_MAX; n++) {
                _cleanup_free_ char *requester = NULL, *node = NULL;
                char buf[PROMPT_READ_MAX], from[INET_ADDRSTRLEN] = "?";
                struct sockaddr_in sa = {};
                socklen_t l = sizeof(sa);
                ssize_t k;

                k = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *) &sa, &l);
                if (k < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        return -errno;
                }
                (void) inet_ntop(AF_INET, &sa.sin_addr, from, sizeof(from));
                if (handover_parse_prompt(buf, (size_t) k, &requester, &node) >= 0)
                        log_debug("handover: a prompt from %s: %s asks for node %s.", from, requester, node);
                else
                        log_debug("handover: a datagram from %s that is not a prompt (%zd bytes).", from, k);
        }
        return n;
}

int handover_own_unit(char **ret) {
        _cleanup_free_ char *unit = NULL;
        size_t l;

        /* A service's main process is a child of PID 1; a test or a shell
         * that runs the daemon is not, even in a unit's control group, and
         * must never stop that unit. */
        if (getppid() != 1 || sd_pid_get_unit(0, &unit) < 0 || !unit)
                return 0;
        l = strlen(unit);
        if (l <= strlen(".service") || !streq(unit + l - strlen(".service"), ".service"))
                return 0;
        *ret = TAKE_PTR(unit);
        return 1;
}

int handover_stop_unit(const char *unit) {
        char *argv[] = { (char *) "systemctl", (char *) "stop", (char *) "--no-block", (char *) unit, NULL };
        int r;

        r = spawn(argv, usec_add(now(CLOCK_MONOTONIC), STOP_UNIT_TIMEOUT_USEC), LOG_INFO, NULL);
        if (r < 0)
                return r;
        return r == 0 ? 0 : -EIO;
}
