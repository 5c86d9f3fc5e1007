/* SPDX-License-Identifier: Apache-2.0 */
/* netif against the real kernel, inside a network namespace of its own
 * (unshare(CLONE_NEWNET) at start): the host's interfaces, routes and rules
 * are never seen. The namespace goes away with the process, also when a
 * check fails or the test crashes.
 *
 * The world in the namespace:
 *   prim0 <-> prim0p    the "primary interface": 192.168.50.10/24 and the
 *                       default route of the main table via 192.168.50.1
 *   veth-eni <-> veth-gw  the "ENI" (MAC 02:00:00:00:01:10), created while
 *                       netif_wait_link() waits; veth-gw moves to a second
 *                       namespace (held by a child) and gets the VPC
 *                       router's address 10.0.1.1/24
 *
 * The kernel's view is checked with `ip -j` (an independent reader), parsed
 * with json-c. Needs root. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "log.h"
#include "macro.h"
#include "netif.h"
#include "tests.h"
#include "time-util.h"

#define ENI_MAC "02:00:00:00:01:10"
#define ENI_TABLE 10001

/* The child holding the router's namespace. */
static pid_t peer_pid = -1;
static int peer_fd = -EBADF;

/* What the whole run keeps: the ENI's ifindex and the state before any
 * configuration, to prove it untouched. */
static int eni_ifindex;
static char *main_before, *prim_before, *rules_before;

static double msec(usec_t u) {
        return (double) u / (double) USEC_PER_MSEC;
}

_printf_(1, 2)
static int run(const char *format, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&cmd, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = system(cmd);
        if (r != 0)
                printf("# command failed (%i): %s\n", r, cmd);
        return r == 0 ? 0 : -EIO;
}

/* The standard output of a command, NULL on failure. */
_printf_(1, 2)
static char *capture(const char *format, ...) {
        _cleanup_free_ char *cmd = NULL, *out = NULL;
        size_t size = 0, len = 0;
        va_list ap;
        FILE *f;
        int r;

        va_start(ap, format);
        r = vasprintf(&cmd, format, ap);
        va_end(ap);
        if (r < 0)
                return NULL;
        f = popen(cmd, "re");
        if (!f)
                return NULL;
        for (;;) {
                if (len + 4096 + 1 > size) {
                        char *n = realloc(out, size + 8192);
                        if (!n)
                                break;
                        out = n;
                        size += 8192;
                }
                size_t k = fread(out + len, 1, size - len - 1, f);
                if (k == 0)
                        break;
                len += k;
        }
        if (pclose(f) != 0 || !out)
                return NULL;
        out[len] = '\0';
        return TAKE_PTR(out);
}

static struct json_object *capture_json(const char *cmd) {
        _cleanup_free_ char *out = capture("%s", cmd);

        if (!out) {
                printf("# failed: %s\n", cmd);
                return NULL;
        }
        return json_tokener_parse(out);
}

static void json_putp(struct json_object **j) {
        if (*j)
                json_object_put(*j);
}
#define _cleanup_json_ _cleanup_(json_putp)

static const char *jstr(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v))
                return NULL;
        return json_object_get_string(v);
}

static bool jbool(struct json_object *o, const char *key) {
        struct json_object *v;

        return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static int jint(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v))
                return -1;
        return json_object_get_int(v);
}

/* `ip -j rule` without the rules at our priority, as JSON text. */
static char *rules_not_ours(void) {
        _cleanup_json_ struct json_object *all = capture_json("ip -j rule"), *rest = json_object_new_array();

        if (!all || !rest)
                return NULL;
        for (size_t i = 0; i < json_object_array_length(all); i++) {
                struct json_object *r = json_object_array_get_idx(all, i);

                if (jint(r, "priority") == ENI_TABLE)
                        continue;
                json_object_array_add(rest, json_object_get(r));
        }
        return strdup(json_object_to_json_string_ext(rest, JSON_C_TO_STRING_PLAIN));
}

/* ---- the peer namespace ---- */

static void peer_stop(void) {
        peer_fd = safe_close(peer_fd);
        if (peer_pid > 0) {
                (void) kill(peer_pid, SIGKILL);
                (void) waitpid(peer_pid, NULL, 0);
                peer_pid = -1;
        }
}

/* A child in a namespace of its own that, on a byte from us, gives veth-gw
 * the router's address, answers, then waits for the end of the pipe. */
static int peer_start(void) {
        int to_peer[2], from_peer[2];
        char c = 0;

        if (pipe2(to_peer, O_CLOEXEC) < 0 || pipe2(from_peer, O_CLOEXEC) < 0)
                return -errno;
        /* So that the child does not print our buffered lines again. */
        (void) fflush(stdout);
        peer_pid = fork();
        if (peer_pid < 0)
                return -errno;
        if (peer_pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(to_peer[1]);
                close(from_peer[0]);
                c = unshare(CLONE_NEWNET) < 0 ? 'u' : 'r';
                if (write(from_peer[1], &c, 1) != 1 || c != 'r')
                        _exit(1);
                if (read(to_peer[0], &c, 1) != 1)
                        _exit(1);
                c = system("ip link set lo up && ip addr add 10.0.1.1/24 dev veth-gw && "
                           "ip link set veth-gw up") == 0 ? 'o' : 'f';
                if (write(from_peer[1], &c, 1) != 1)
                        _exit(1);
                while (read(to_peer[0], &c, 1) > 0)
                        ;
                _exit(0);
        }
        close(to_peer[0]);
        close(from_peer[1]);
        peer_fd = to_peer[1];
        if (read(from_peer[0], &c, 1) != 1 || c != 'r') {
                close(from_peer[0]);
                return -EIO;
        }
        /* Kept for the second answer. */
        return from_peer[0];
}

/* ---- a command run a little later, while the caller waits ---- */

/* How long after the command's ip exited a wait woken by its event may
 * return: scheduling on a loaded machine, far less than any poll period. */
#define EVENT_SLACK (250 * USEC_PER_MSEC)

typedef struct Later {
        pid_t pid;
        int fd;
        usec_t started, finished;       /* around the command */
} Later;

/* Runs cmd after delay in a child. With batch, cmd is one ip(8) command
 * fed to an `ip -batch -` started at once, so that the time measured is
 * that of the change, not of starting a program (tens of milliseconds
 * here); started is when the line was written, finished when ip exited. */
static int later_start_full(Later *l, usec_t delay, const char *cmd, bool batch) {
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        /* So that the child does not print our buffered lines again. */
        (void) fflush(stdout);
        l->pid = fork();
        if (l->pid < 0)
                return -errno;
        if (l->pid == 0) {
                FILE *ip = NULL;
                usec_t t[2];
                int r;

                close(p[0]);
                if (batch) {
                        ip = popen("ip -batch -", "we");
                        if (!ip)
                                _exit(1);
                }
                (void) usleep((useconds_t) delay);
                t[0] = now(CLOCK_MONOTONIC);
                if (batch) {
                        r = fprintf(ip, "%s\n", cmd) < 0 || fflush(ip) != 0;
                        r = pclose(ip) != 0 || r;
                } else
                        r = system(cmd);
                t[1] = now(CLOCK_MONOTONIC);
                if (write(p[1], t, sizeof(t)) != sizeof(t))
                        _exit(1);
                _exit(r == 0 ? 0 : 1);
        }
        close(p[1]);
        l->fd = p[0];
        return 0;
}

static int later_start(Later *l, usec_t delay, const char *cmd) {
        return later_start_full(l, delay, cmd, false);
}

static int later_start_ip(Later *l, usec_t delay, const char *ip_cmd) {
        return later_start_full(l, delay, ip_cmd, true);
}

static int later_finish(Later *l) {
        usec_t t[2];
        int status = 0;
        ssize_t n = read(l->fd, t, sizeof(t));

        close(l->fd);
        if (waitpid(l->pid, &status, 0) < 0)
                return -errno;
        if (n != sizeof(t) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -EIO;
        l->started = t[0];
        l->finished = t[1];
        return 0;
}

/* ---- tests ---- */

/* A veth end is up but has no carrier until its peer is up too. */
static void test_wait_carrier(void) {
        Later later = {};
        usec_t start;
        int ifindex, r;

        ASSERT_OK(run("ip link add car0 type veth peer name car0p"));
        ASSERT_OK(run("ip link set car0 up"));
        ifindex = (int) if_nametoindex("car0");
        ASSERT_TRUE(ifindex > 0);

        start = now(CLOCK_MONOTONIC);
        ASSERT_EQ(netif_wait_carrier(ifindex, start + 200 * USEC_PER_MSEC), -ETIME);
        ASSERT_TRUE(now(CLOCK_MONOTONIC) - start >= 200 * USEC_PER_MSEC);

        /* The carrier comes with an event, not a poll. */
        start = now(CLOCK_MONOTONIC);
        ASSERT_OK(later_start_ip(&later, 200 * USEC_PER_MSEC, "link set car0p up"));
        r = netif_wait_carrier(ifindex, start + 5 * USEC_PER_SEC);
        ASSERT_OK(later_finish(&later));
        ASSERT_OK(r);
        ASSERT_TRUE(now(CLOCK_MONOTONIC) >= later.started);

        /* There already: at once. */
        start = now(CLOCK_MONOTONIC);
        ASSERT_OK(netif_wait_carrier(ifindex, start + 5 * USEC_PER_SEC));
        ASSERT_TRUE(now(CLOCK_MONOTONIC) - start < 100 * USEC_PER_MSEC);

        ASSERT_OK(run("ip link del car0"));
        ASSERT_EQ(netif_wait_carrier(ifindex, now(CLOCK_MONOTONIC) + 200 * USEC_PER_MSEC), -ETIME);
        ASSERT_EQ(netif_wait_carrier(0, 0), -EINVAL);
}

static void test_wait_link_timeout(void) {
        NetifLink link = { .ifindex = -7 };
        NetifMac mac;
        usec_t start = now(CLOCK_MONOTONIC), elapsed;

        ASSERT_OK(netif_mac_from_string("02:00:00:00:09:99", &mac));
        ASSERT_EQ(netif_wait_link(&mac, start + 200 * USEC_PER_MSEC, &link), -ETIME);
        elapsed = now(CLOCK_MONOTONIC) - start;
        ASSERT_TRUE(elapsed >= 200 * USEC_PER_MSEC);
        ASSERT_TRUE(elapsed < 1000 * USEC_PER_MSEC);
        ASSERT_EQ(link.ifindex, -7);
}

static void test_wait_link_event(void) {
        Later later = {};
        NetifLink link = {};
        NetifMac mac;
        usec_t start, returned;
        int r;

        ASSERT_OK(netif_mac_from_string(ENI_MAC, &mac));
        start = now(CLOCK_MONOTONIC);
        ASSERT_OK(later_start_ip(&later, 300 * USEC_PER_MSEC,
                                 "link add veth-eni address " ENI_MAC " type veth peer name veth-gw"));
        r = netif_wait_link(&mac, start + 5 * USEC_PER_SEC, &link);
        returned = now(CLOCK_MONOTONIC);
        ASSERT_OK(later_finish(&later));
        ASSERT_OK(r);

        printf("# link-wait: \"link add\" written to ip at +%.1f ms (ip exited at +%.1f ms), "
               "netif_wait_link() returned at +%.1f ms: latency %.1f ms\n",
               msec(later.started - start), msec(later.finished - start), msec(returned - start),
               msec(returned - later.started));

        ASSERT_STREQ(link.name, "veth-eni");
        ASSERT_EQ(link.ifindex, (int) if_nametoindex("veth-eni"));
        ASSERT_TRUE(netif_mac_equal(&link.mac, &mac));
        /* It waited for the link, and it woke up for the event, not a poll:
         * the event comes while ip's request is handled, so before ip exits
         * (measured from the line written, a loaded machine's slow ip would
         * count against the wait). */
        ASSERT_TRUE(returned >= later.started);
        ASSERT_TRUE(returned < later.finished + EVENT_SLACK);
        eni_ifindex = link.ifindex;
}

static void test_wait_link_present(void) {
        NetifLink link = {};
        NetifMac mac;
        usec_t start = now(CLOCK_MONOTONIC);

        ASSERT_OK(netif_mac_from_string(ENI_MAC, &mac));
        ASSERT_OK(netif_wait_link(&mac, start + 5 * USEC_PER_SEC, &link));
        ASSERT_EQ(link.ifindex, eni_ifindex);
        ASSERT_TRUE(now(CLOCK_MONOTONIC) - start < 100 * USEC_PER_MSEC);

        /* A deadline in the past looks once (--status does). */
        link = (NetifLink) {};
        ASSERT_OK(netif_wait_link(&mac, 0, &link));
        ASSERT_EQ(link.ifindex, eni_ifindex);
        ASSERT_OK(netif_mac_from_string("02:00:00:00:09:99", &mac));
        ASSERT_EQ(netif_wait_link(&mac, 0, &link), -ETIME);
        ASSERT_EQ(link.ifindex, eni_ifindex);
}

/* udev's part, with a directory of ours as its database: the link appears,
 * is renamed (as udev would), and only then gets its database file. The
 * wait must return the new name, after the file. */
static void test_wait_link_udev(void) {
        char dir[] = "/tmp/nodeagent-netif-udev.XXXXXX";
        _cleanup_free_ char *cmd = NULL;
        Later later = {};
        NetifLink link = {};
        NetifMac mac;
        usec_t start, returned;
        int r;

        ASSERT_NOT_NULL(mkdtemp(dir));
        ASSERT_TRUE(asprintf(&cmd,
                             "sleep 0.1; ip link add eth-new address 02:00:00:00:02:20 type veth peer name eth-newp; "
                             "sleep 0.1; ip link set eth-new name eni-renamed; "
                             "sleep 0.1; touch %s/n$(ip -o link show eni-renamed | cut -d: -f1)",
                             dir) > 0);
        ASSERT_OK(netif_mac_from_string("02:00:00:00:02:20", &mac));
        start = now(CLOCK_MONOTONIC);
        ASSERT_OK(later_start(&later, 0, cmd));
        r = netif_wait_link_full(&mac, dir, start + 5 * USEC_PER_SEC, &link);
        returned = now(CLOCK_MONOTONIC);
        (void) later_finish(&later);
        (void) run("ip link del eni-renamed 2>/dev/null || ip link del eth-new; rm -rf %s", dir);
        ASSERT_OK(r);

        printf("# link-wait with udev: database file written by +%.1f ms, wait returned at +%.1f ms\n",
               msec(later.finished - start), msec(returned - start));
        ASSERT_STREQ(link.name, "eni-renamed");
        /* Not before the database file (the link itself was there at +100 ms),
         * and within the recheck period after it. */
        ASSERT_TRUE(returned - start >= 280 * USEC_PER_MSEC);
        ASSERT_TRUE(returned < later.finished + 250 * USEC_PER_MSEC);
}

static void check_configured(bool with_iif_rule) {
        _cleanup_json_ struct json_object *addr = NULL, *routes = NULL, *rules = NULL, *get = NULL;
        _cleanup_free_ char *main_now = NULL, *prim_now = NULL, *rules_now = NULL, *rp = NULL;
        struct json_object *info, *link;
        bool seen_10 = false, seen_11 = false, seen_subnet = false, seen_default = false;
        size_t n_inet = 0, n_ours = 0, n_iif = 0;
        NetifState state = {};

        /* Addresses: both, noprefixroute, nothing else IPv4. */
        addr = capture_json("ip -j -4 addr show dev veth-eni");
        ASSERT_NOT_NULL(addr);
        ASSERT_EQ(json_object_array_length(addr), 1);
        link = json_object_array_get_idx(addr, 0);
        ASSERT_TRUE(strstr(json_object_to_json_string(link), "\"UP\"") != NULL);
        ASSERT_TRUE(json_object_object_get_ex(link, "addr_info", &info));
        for (size_t i = 0; i < json_object_array_length(info); i++) {
                struct json_object *a = json_object_array_get_idx(info, i);

                if (!streq_ptr(jstr(a, "family"), "inet"))
                        continue;
                n_inet++;
                ASSERT_EQ(jint(a, "prefixlen"), 24);
                ASSERT_TRUE(jbool(a, "noprefixroute"));
                seen_10 = seen_10 || streq_ptr(jstr(a, "local"), "10.0.1.10");
                seen_11 = seen_11 || streq_ptr(jstr(a, "local"), "10.0.1.11");
        }
        ASSERT_EQ(n_inet, 2);
        ASSERT_TRUE(seen_10 && seen_11);

        /* Table 10001: exactly the subnet route and the default route. */
        routes = capture_json("ip -j -4 route show table 10001");
        ASSERT_NOT_NULL(routes);
        ASSERT_EQ(json_object_array_length(routes), 2);
        for (size_t i = 0; i < 2; i++) {
                struct json_object *r = json_object_array_get_idx(routes, i);

                ASSERT_STREQ(jstr(r, "dev"), "veth-eni");
                ASSERT_STREQ(jstr(r, "prefsrc"), "10.0.1.10");
                if (streq_ptr(jstr(r, "dst"), "default")) {
                        ASSERT_STREQ(jstr(r, "gateway"), "10.0.1.1");
                        seen_default = true;
                } else {
                        ASSERT_STREQ(jstr(r, "dst"), "10.0.1.0/24");
                        ASSERT_STREQ(jstr(r, "scope"), "link");
                        ASSERT_NULL(jstr(r, "gateway"));
                        seen_subnet = true;
                }
        }
        ASSERT_TRUE(seen_default && seen_subnet);

        /* Rules: one per address at priority 10001, nothing doubled. */
        rules = capture_json("ip -j rule");
        ASSERT_NOT_NULL(rules);
        seen_10 = seen_11 = false;
        for (size_t i = 0; i < json_object_array_length(rules); i++) {
                struct json_object *r = json_object_array_get_idx(rules, i);

                if (jint(r, "priority") != ENI_TABLE && !streq_ptr(jstr(r, "table"), "10001"))
                        continue;
                ASSERT_EQ(jint(r, "priority"), ENI_TABLE);
                ASSERT_STREQ(jstr(r, "table"), "10001");
                if (jstr(r, "iif")) {
                        n_iif++;
                        continue;
                }
                n_ours++;
                if (streq_ptr(jstr(r, "src"), "10.0.1.10")) {
                        ASSERT_FALSE(seen_10);
                        seen_10 = true;
                } else {
                        ASSERT_STREQ(jstr(r, "src"), "10.0.1.11");
                        ASSERT_FALSE(seen_11);
                        seen_11 = true;
                }
        }
        ASSERT_EQ(n_ours, 2);
        ASSERT_EQ(n_iif, with_iif_rule ? 1 : 0);

        /* The main table, the primary interface and the other rules as
         * they were. */
        main_now = capture("ip -j -4 route show table main");
        prim_now = capture("ip -j -4 addr show dev prim0");
        rules_now = rules_not_ours();
        ASSERT_STREQ(main_now, main_before);
        ASSERT_STREQ(prim_now, prim_before);
        ASSERT_STREQ(rules_now, rules_before);

        rp = capture("cat /proc/sys/net/ipv4/conf/veth-eni/rp_filter");
        ASSERT_STREQ(rp, "2\n");

        /* From the ENI's address out through the ENI, else the primary. */
        get = capture_json("ip -j route get 8.8.8.8 from 10.0.1.10");
        ASSERT_NOT_NULL(get);
        ASSERT_STREQ(jstr(json_object_array_get_idx(get, 0), "dev"), "veth-eni");
        ASSERT_STREQ(jstr(json_object_array_get_idx(get, 0), "gateway"), "10.0.1.1");
        json_object_put(get);
        get = capture_json("ip -j route get 8.8.8.8 from 10.0.1.11");
        ASSERT_NOT_NULL(get);
        ASSERT_STREQ(jstr(json_object_array_get_idx(get, 0), "dev"), "veth-eni");
        json_object_put(get);
        get = capture_json("ip -j route get 8.8.8.8");
        ASSERT_NOT_NULL(get);
        ASSERT_STREQ(jstr(json_object_array_get_idx(get, 0), "dev"), "prim0");
        ASSERT_STREQ(jstr(json_object_array_get_idx(get, 0), "gateway"), "192.168.50.1");

        /* And our own reader agrees. */
        ASSERT_OK(netif_read_state(eni_ifindex, ENI_TABLE, &state));
        ASSERT_STREQ(state.ifname, "veth-eni");
        ASSERT_TRUE(state.up);
        ASSERT_EQ(state.rp_filter, 2);
        ASSERT_EQ(state.n_addresses, 2);
        ASSERT_EQ(state.n_routes, 2);
        ASSERT_EQ(state.n_rules, 2 + (with_iif_rule ? 1 : 0));
        for (size_t i = 0; i < state.n_rules; i++)
                if (!state.rules[i].other)
                        ASSERT_EQ(state.rules[i].src_len, 32);
        netif_state_done(&state);
}

/* A TCP connection attempt from an ENI address to the router's namespace,
 * which answers with a reset: the packet went out through the ENI and the
 * reply came back in (ARP, routing, rp_filter). */
static int connect_refused(const char *from) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET, .sin_port = htons(9) };
        struct pollfd p;
        socklen_t len = sizeof(int);
        int error = 0;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        (void) inet_pton(AF_INET, from, &src.sin_addr);
        (void) inet_pton(AF_INET, "10.0.1.1", &dst.sin_addr);
        if (bind(fd, (struct sockaddr *) &src, sizeof(src)) < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &dst, sizeof(dst)) == 0)
                return -EISCONN;
        if (errno != EINPROGRESS)
                return -errno;
        p = (struct pollfd) { .fd = fd, .events = POLLOUT };
        if (poll(&p, 1, 3000) <= 0)
                return -ETIMEDOUT;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                return -errno;
        return error == ECONNREFUSED ? 0 : -error;
}

static void test_configure(void) {
        _cleanup_(netif_plan_freep) NetifPlan *plan = NULL;
        static const char *const secondaries[] = { "10.0.1.11", NULL };
        int r;

        ASSERT_TRUE(eni_ifindex > 0);
        ASSERT_OK(netif_plan_new_from_strings(eni_ifindex, 1, "10.0.1.10", (char *const *) secondaries,
                                              "10.0.1.0/24", &plan));
        r = netif_configure(plan);
        ASSERT_OK(r);
        printf("# first netif_configure(): %i changes\n", r);
        /* Up, 2 addresses, 2 routes, 2 rules, rp_filter. */
        ASSERT_EQ(r, 8);
        check_configured(false);
        ASSERT_OK(connect_refused("10.0.1.10"));
        ASSERT_OK(connect_refused("10.0.1.11"));
}

static char *dump_all(void) {
        return capture("ip -j -4 addr; ip -j -4 route show table all; ip -j rule; ip -j link show veth-eni; "
                       "cat /proc/sys/net/ipv4/conf/veth-eni/rp_filter");
}

static void test_configure_again(void) {
        _cleanup_(netif_plan_freep) NetifPlan *plan = NULL;
        _cleanup_free_ char *before = NULL, *after = NULL;
        static const char *const secondaries[] = { "10.0.1.11", NULL };

        ASSERT_OK(netif_plan_new_from_strings(eni_ifindex, 1, "10.0.1.10", (char *const *) secondaries,
                                              "10.0.1.0/24", &plan));
        before = dump_all();
        ASSERT_NOT_NULL(before);
        ASSERT_EQ(netif_configure(plan), 0);
        after = dump_all();
        ASSERT_STREQ(after, before);
}

static void test_configure_repairs(void) {
        _cleanup_(netif_plan_freep) NetifPlan *plan = NULL;
        static const char *const secondaries[] = { "10.0.1.11", NULL };
        int r;

        ASSERT_OK(netif_plan_new_from_strings(eni_ifindex, 1, "10.0.1.10", (char *const *) secondaries,
                                              "10.0.1.0/24", &plan));

        /* A wrong default route (same key as ours), a stray route, a rule
         * for another table at our priority, "from all" into our table, a
         * duplicate, someone else's rule with an iif selector (to be kept),
         * and the secondary address without noprefixroute. */
        ASSERT_OK(run("ip route replace default via 10.0.1.254 dev veth-eni table 10001"));
        ASSERT_OK(run("ip route add 10.9.0.0/16 dev veth-eni table 10001"));
        ASSERT_OK(run("ip rule add from 10.0.1.10 lookup 10005 priority 10001"));
        ASSERT_OK(run("ip rule add from all lookup 10001 priority 10001"));
        ASSERT_OK(run("ip rule add from 10.0.1.11 lookup 10001 priority 10001"));
        ASSERT_OK(run("ip rule add from 10.0.1.10 iif prim0 lookup 10001 priority 10001"));
        ASSERT_OK(run("ip addr del 10.0.1.11/24 dev veth-eni && ip addr add 10.0.1.11/24 dev veth-eni"));
        ASSERT_OK(run("echo 0 > /proc/sys/net/ipv4/conf/veth-eni/rp_filter"));

        r = netif_configure(plan);
        ASSERT_OK(r);
        printf("# repairing netif_configure(): %i changes\n", r);
        ASSERT_TRUE(r > 0);
        check_configured(true);
        ASSERT_EQ(netif_configure(plan), 0);

        ASSERT_OK(run("ip rule del from 10.0.1.10 iif prim0 lookup 10001 priority 10001"));
        check_configured(false);
}

static void test_configure_primary_address(void) {
        _cleanup_(netif_plan_freep) NetifPlan *plan = NULL;
        _cleanup_free_ char *main_table = NULL;
        static const char *const secondaries[] = { "10.0.1.11", NULL };
        int r;

        ASSERT_OK(netif_plan_new_from_strings(eni_ifindex, 1, "10.0.1.10", (char *const *) secondaries,
                                              "10.0.1.0/24", &plan));

        /* As a DHCP client would leave it: the primary address with its
         * prefix route in the main table. Deleting it takes the secondary
         * and our routes (their source) with it. */
        ASSERT_OK(run("ip addr flush dev veth-eni && ip addr add 10.0.1.10/24 dev veth-eni && "
                      "ip addr add 10.0.1.11/24 dev veth-eni"));
        main_table = capture("ip -4 route show table main");
        ASSERT_NOT_NULL(main_table);
        ASSERT_TRUE(strstr(main_table, "10.0.1.0/24 dev veth-eni") != NULL);

        r = netif_configure(plan);
        ASSERT_OK(r);
        printf("# netif_configure() after a flush: %i changes\n", r);
        check_configured(false);
        ASSERT_EQ(netif_configure(plan), 0);
        ASSERT_OK(connect_refused("10.0.1.10"));
}

/* Routing=auto beside a DHCP client (NetworkManager, netplan's match-all):
 * a dynamic address and a default route through the ENI in the main table,
 * no rule. The outcome read from the kernel says what is missing; the
 * add-only plans add it without touching the manager's work; afterwards
 * the outcome is complete and nothing is pending; a lost rule is pending
 * again (what the supervisor looks at). */
static void test_auto_beside_dhcp(void) {
        _cleanup_(netif_plan_freep) NetifPlan *plan = NULL, *primary = NULL;
        _cleanup_free_ char *addr = NULL, *main_table = NULL;
        NetifIds ids = { .eni_ifindex = eni_ifindex, .eni_table = ENI_TABLE, .primary_table = 10000 };
        NetifEni base = { .ifindex = eni_ifindex, .device_index = 1, .without_addresses = true };
        NetifOutcome o;
        NetifNeeds needs;

        ASSERT_OK(netif_ipv4_from_string("10.0.1.10", &ids.eni_ip));
        ASSERT_OK(netif_ipv4_from_string("192.168.50.10", &ids.primary_ip));
        ids.primary_ifindex = (int) if_nametoindex("prim0");
        ASSERT_TRUE(ids.primary_ifindex > 0);

        /* The manager's state, from nothing of ours. */
        ASSERT_OK(run("ip rule del priority 10001 2>/dev/null; ip rule del priority 10001 2>/dev/null; "
                      "ip route flush table 10001; ip addr flush dev veth-eni && "
                      "ip addr add 10.0.1.10/24 dev veth-eni valid_lft 120 preferred_lft 120 && "
                      "ip route replace default via 10.0.1.1 dev veth-eni proto dhcp"));
        {
                _cleanup_(netif_world_done) NetifWorld w = {};

                ASSERT_OK(netif_world_read(&w));
                netif_outcome_judge(&w, &ids, &o);
        }
        ASSERT_TRUE(o.address);
        ASSERT_FALSE(o.eni_routed);
        ASSERT_FALSE(o.primary_routed);
        ASSERT_TRUE(o.main_default_via_eni);
        netif_needs_auto(&o, &needs);
        ASSERT_TRUE(!needs.address && needs.eni_table && needs.primary_table);

        ASSERT_OK(netif_plan_new_from_eni_strings(&base, "10.0.1.10", NULL, "10.0.1.0/24", &plan));
        ASSERT_OK(netif_plan_new_primary(ids.primary_ifindex, ids.primary_ip, 24, (struct in_addr) {
                .s_addr = htonl(0xc0a83201) }, 10000, &primary));
        ASSERT_TRUE(netif_pending(plan) > 0);
        ASSERT_TRUE(netif_configure(plan) > 0);
        ASSERT_TRUE(netif_configure(primary) > 0);
        ASSERT_EQ(netif_pending(plan), 0);
        ASSERT_EQ(netif_pending(primary), 0);
        {
                _cleanup_(netif_world_done) NetifWorld w = {};

                ASSERT_OK(netif_world_read(&w));
                netif_outcome_judge(&w, &ids, &o);
        }
        ASSERT_TRUE(netif_outcome_complete(&o));

        /* The manager's work is as it was: its lease's lifetime, its route. */
        addr = capture("ip -4 addr show dev veth-eni");
        ASSERT_NOT_NULL(strstr(addr, "valid_lft 1"));
        main_table = capture("ip -4 route show table main default");
        ASSERT_NOT_NULL(strstr(main_table, "default via 10.0.1.1 dev veth-eni proto dhcp"));

        /* A sweep of foreign rules (networkd's): pending, then put back. */
        ASSERT_OK(run("ip rule del priority 10001 && ip rule del priority 10000"));
        ASSERT_TRUE(netif_pending(plan) > 0);
        ASSERT_TRUE(netif_pending(primary) > 0);
        ASSERT_TRUE(netif_configure(plan) > 0);
        ASSERT_TRUE(netif_configure(primary) > 0);
        ASSERT_EQ(netif_pending(plan), 0);

        ASSERT_OK(run("ip rule del priority 10000 && ip route flush table 10000 && "
                      "ip route del default via 10.0.1.1 dev veth-eni proto dhcp"));
}

static void test_link_gone(void) {
        _cleanup_(netif_plan_freep) NetifPlan *plan = NULL;
        NetifState state = { .ifindex = -7 };

        ASSERT_EQ(netif_read_state(99999, ENI_TABLE, &state), -ENODEV);
        ASSERT_EQ(state.ifindex, -7);
        ASSERT_OK(netif_plan_new_from_strings(99999, 1, "10.0.1.10", NULL, "10.0.1.0/24", &plan));
        ASSERT_EQ(netif_configure(plan), -ENODEV);
}

static void test_wait_rule(void) {
        Later later = {};
        struct in_addr a;
        uint32_t table = 0;
        usec_t start, returned;
        int r;

        /* Already there. */
        ASSERT_OK(netif_ipv4_from_string("10.0.1.10", &a));
        start = now(CLOCK_MONOTONIC);
        ASSERT_OK(netif_wait_rule(a, start + 5 * USEC_PER_SEC, &table));
        ASSERT_EQ(table, ENI_TABLE);
        ASSERT_TRUE(now(CLOCK_MONOTONIC) - start < 100 * USEC_PER_MSEC);
        table = 0;
        ASSERT_OK(netif_wait_rule(a, 0, &table));
        ASSERT_EQ(table, ENI_TABLE);

        /* Added while waiting, as amazon-ec2-net-utils would. */
        ASSERT_OK(netif_ipv4_from_string("10.0.1.77", &a));
        start = now(CLOCK_MONOTONIC);
        ASSERT_OK(later_start_ip(&later, 200 * USEC_PER_MSEC, "rule add from 10.0.1.77 lookup 10009 priority 10009"));
        r = netif_wait_rule(a, start + 5 * USEC_PER_SEC, &table);
        returned = now(CLOCK_MONOTONIC);
        ASSERT_OK(later_finish(&later));
        ASSERT_OK(r);
        printf("# rule-wait: \"rule add\" written to ip at +%.1f ms, netif_wait_rule() returned at +%.1f ms: "
               "latency %.1f ms\n", msec(later.started - start), msec(returned - start),
               msec(returned - later.started));
        ASSERT_EQ(table, 10009);
        ASSERT_TRUE(returned >= later.started);
        ASSERT_TRUE(returned < later.finished + EVENT_SLACK);
        ASSERT_OK(run("ip rule del from 10.0.1.77 lookup 10009 priority 10009"));

        /* Never. */
        ASSERT_OK(netif_ipv4_from_string("10.0.1.78", &a));
        table = 7;
        start = now(CLOCK_MONOTONIC);
        ASSERT_EQ(netif_wait_rule(a, start + 150 * USEC_PER_MSEC, &table), -ETIME);
        ASSERT_TRUE(now(CLOCK_MONOTONIC) - start >= 150 * USEC_PER_MSEC);
        ASSERT_EQ(netif_wait_rule(a, 0, &table), -ETIME);
        ASSERT_EQ(table, 7);
}

/* The primary interface, the snapshots, and the router's namespace.
 * Returns the pipe on which the router's child answers. */
static int setup(void) {
        if (run("ip link set lo up && "
                "ip link add prim0 type veth peer name prim0p && "
                "ip link set prim0p up && ip link set prim0 up && "
                "ip addr add 192.168.50.10/24 dev prim0 && "
                "ip route add default via 192.168.50.1 dev prim0") < 0)
                return -EIO;
        main_before = capture("ip -j -4 route show table main");
        prim_before = capture("ip -j -4 addr show dev prim0");
        rules_before = rules_not_ours();
        if (!main_before || !prim_before || !rules_before)
                return -EIO;
        return peer_start();
}

/* The router's end moves to its namespace once the link exists. */
static int peer_configure(int from_peer) {
        char c = 'g';

        if (run("ip link set veth-gw netns %i", (int) peer_pid) < 0)
                return -EIO;
        if (write(peer_fd, &c, 1) != 1 || read(from_peer, &c, 1) != 1 || c != 'o')
                return -EIO;
        return 0;
}

int main(void) {
        int from_peer, r;

        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root (network namespaces)\n");
                return 0;
        }
        /* Everything below happens in a namespace of our own. */
        if (unshare(CLONE_NEWNET) < 0) {
                printf("1..0 # SKIP cannot create a network namespace: %s\n", strerror(errno));
                return 0;
        }
        log_set_max_level(LOG_DEBUG);

        from_peer = setup();
        if (from_peer < 0) {
                printf("Bail out! setup failed: %s\n", strerror(-from_peer));
                peer_stop();
                return 1;
        }

        RUN_TEST(test_wait_link_timeout);
        RUN_TEST(test_wait_carrier);
        RUN_TEST(test_wait_link_event);
        r = eni_ifindex > 0 ? peer_configure(from_peer) : -ENODEV;
        close(from_peer);
        if (r < 0) {
                printf("Bail out! the router's namespace failed: %s\n", strerror(-r));
                peer_stop();
                return 1;
        }
        RUN_TEST(test_wait_link_present);
        RUN_TEST(test_wait_link_udev);
        RUN_TEST(test_configure);
        RUN_TEST(test_configure_again);
        RUN_TEST(test_configure_repairs);
        RUN_TEST(test_configure_primary_address);
        RUN_TEST(test_auto_beside_dhcp);
        RUN_TEST(test_link_gone);
        RUN_TEST(test_wait_rule);

        peer_stop();
        free(main_before);
        free(prim_before);
        free(rules_before);
        return tests_finish();
}
