/* SPDX-License-Identifier: Apache-2.0 */
/* Waiting for the kernel: a link by MAC address (and udev's database entry
 * for it), a link's carrier, a rule. (Which network manager takes the ENI
 * is netif-manager.c's.) */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <poll.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "netif-internal.h"
#include "netif-rtnl.h"
#include "wait.h"

/* A deadline that has passed still gets the first dump read (the kernel
 * answers at once), so that deadline 0 means "look once"; this bounds that
 * wait. */
#define DUMP_WAIT_USEC (1 * USEC_PER_SEC)

/* How often a link found but not yet initialised by udev is looked at again,
 * besides every link event. */
#define UDEV_RECHECK_USEC (100 * USEC_PER_MSEC)

/* ---- waiting for events ---- */

/* A socket in some groups with a dump of the world in flight or done.
 * Events and dump replies go through the same handler: what arrives in
 * order describes the world in order. */
typedef struct RtnlWatch {
        Rtnl *rtnl;
        uint16_t dump_type;
        size_t hdr_size;
        uint8_t family;
        RtnlCall call;
        bool dumping;
        bool need_dump;
} RtnlWatch;

static int watch_dump(RtnlWatch *w) {
        struct nlmsghdr *nlh = rtnl_dump_message(w->rtnl, w->dump_type, w->hdr_size, w->family);

        if (mnl_socket_sendto(w->rtnl->nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();
        w->call.seq = nlh->nlmsg_seq;
        w->call.done = false;
        w->call.interrupted = false;
        w->dumping = true;
        w->need_dump = false;
        return 0;
}

static int watch_start(RtnlWatch *w, Rtnl *rtnl, uint16_t dump_type, size_t hdr_size, uint8_t family,
                       RtnlHandler handler, void *userdata) {
        *w = (RtnlWatch) {
                .rtnl = rtnl,
                .dump_type = dump_type,
                .hdr_size = hdr_size,
                .family = family,
                .call = { .handler = handler, .userdata = userdata, .portid = rtnl->portid },
        };
        return watch_dump(w);
}

/* Reads whatever is queued on a non-blocking fd (inotify): only the wake-up matters. */
static void drain_fd(int fd) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

        while (read(fd, buf, sizeof(buf)) > 0)
                ;
}

/* Waits for events of w, or of extra_fd (drained; -1: none), at most timeout,
 * then reads all there is. Lost events (ENOBUFS) and interrupted dumps lead
 * to a new dump. Returns 0 (also on timeout) or negative errno. */
static int watch_wait(RtnlWatch *w, int extra_fd, usec_t timeout) {
        struct pollfd p[2] = {
                { .fd = mnl_socket_get_fd(w->rtnl->nl), .events = POLLIN },
                { .fd = extra_fd, .events = POLLIN },
        };
        int r;

        /* The boot's one way to wait: a cancelled boot stops here at once. */
        r = wait_for_fds(p, 2, usec_add(now(CLOCK_MONOTONIC), timeout), WAIT_CANCELLABLE);
        if (r <= 0)
                return r;
        if (extra_fd >= 0 && (p[1].revents & POLLIN))
                drain_fd(extra_fd);
        if (!(p[0].revents & POLLIN))
                return 0;

        for (;;) {
                ssize_t n = mnl_socket_recvfrom(w->rtnl->nl, w->rtnl->recv_buf, RTNL_RECV_SIZE);

                if (n < 0) {
                        if (errno == EAGAIN)
                                break;
                        if (errno == EINTR)
                                continue;
                        if (errno == ENOBUFS) {
                                log_debug("Netlink events were lost, dumping again.");
                                w->need_dump = true;
                                continue;
                        }
                        return negative_errno();
                }

                rtnl_call_process(&w->call, w->rtnl->recv_buf, (size_t) n);
                if (w->call.error < 0)
                        return w->call.error;
                if (w->dumping && w->call.done) {
                        w->dumping = false;
                        if (w->call.interrupted)
                                w->need_dump = true;
                }
        }

        if (w->need_dump && !w->dumping)
                return watch_dump(w);
        return 0;
}

typedef struct LinkWait {
        NetifMac mac;
        int ifindex;                    /* 0: none found (yet) */
} LinkWait;

static int link_wait_handler(const struct nlmsghdr *nlh, void *userdata) {
        LinkWait *w = userdata;
        LinkInfo l;
        int r;

        if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
                return 0;
        r = rtnl_link_parse(nlh, &l);
        if (r < 0) {
                log_debug_errno(r, "Ignoring a link message that does not parse: %m");
                return 0;
        }

        if (nlh->nlmsg_type == RTM_DELLINK) {
                if (l.ifindex == w->ifindex)
                        w->ifindex = 0;
                return 0;
        }
        if (l.has_mac && netif_mac_equal(&l.mac, &w->mac)) {
                /* The NIC comes before anything stacked on it that takes
                 * its MAC (a VLAN, a bond): the lowest ifindex wins. */
                if (w->ifindex == 0 || l.ifindex < w->ifindex) {
                        log_debug("Link %s (#%i) has the MAC address.", l.name, l.ifindex);
                        w->ifindex = l.ifindex;
                }
        } else if (l.ifindex == w->ifindex)
                w->ifindex = 0;         /* its MAC address changed */
        return 0;
}

/* 1 when udev has initialised the link (or udev_data_dir is NULL), 0 when
 * not yet. */
static int link_udev_initialized(const char *udev_data_dir, int ifindex) {
        _cleanup_free_ char *path = NULL;

        if (!udev_data_dir)
                return 1;
        if (asprintf(&path, "%s/n%i", udev_data_dir, ifindex) < 0)
                return -ENOMEM;
        if (access(path, F_OK) >= 0)
                return 1;
        return errno == ENOENT ? 0 : negative_errno();
}

/* An inotify fd that wakes up when udev writes a database entry in dir
 * (it writes a temporary file and renames it), or -1 when dir cannot be
 * watched: then the wait looks again every UDEV_RECHECK_USEC. */
static int udev_data_watch(const char *dir) {
        int fd;

        if (!dir)
                return -1;
        fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0)
                return -1;
        if (inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
                log_debug_errno(errno, "Cannot watch %s, looking again every %s instead: %m", dir,
                                FORMAT_DURATION(UDEV_RECHECK_USEC));
                (void) close(fd);
                return -1;
        }
        return fd;
}

static int udevd_in_our_netns(void);

struct NetifLinkWatch {
        Rtnl *rtnl;                     /* in the link group, with the dump */
        Rtnl *query;                    /* for one link's state now */
        int udev_watch;                 /* inotify on udev's database, or -1 */
        char *udev_data_dir;            /* NULL: do not wait for udev */
        LinkWait w;
        RtnlWatch watch;
        char mac_string[NETIF_MAC_STRING_MAX];
};

NetifLinkWatch *netif_link_watch_free(NetifLinkWatch *lw) {
        if (!lw)
                return NULL;
        rtnl_free(lw->rtnl);
        rtnl_free(lw->query);
        safe_close(lw->udev_watch);
        free(lw->udev_data_dir);
        return mfree(lw);
}

int netif_link_watch_new_full(const NetifMac *mac, const char *udev_data_dir, NetifLinkWatch **ret) {
        _cleanup_(netif_link_watch_freep) NetifLinkWatch *lw = NULL;
        int r;

        if (!mac || !ret)
                return -EINVAL;
        lw = calloc(1, sizeof(NetifLinkWatch));
        if (!lw)
                return -ENOMEM;
        lw->udev_watch = -1;
        lw->w.mac = *mac;
        netif_mac_to_string(mac, lw->mac_string);
        if (udev_data_dir) {
                lw->udev_data_dir = strdup(udev_data_dir);
                if (!lw->udev_data_dir)
                        return -ENOMEM;
        }

        /* Before the first look at the database, so no entry slips between. */
        lw->udev_watch = udev_data_watch(udev_data_dir);

        r = rtnl_open(RTMGRP_LINK, true, &lw->rtnl);
        if (r < 0)
                return log_debug_errno(r, "Failed to open rtnetlink socket: %m");
        r = rtnl_open(0, false, &lw->query);
        if (r < 0)
                return log_debug_errno(r, "Failed to open rtnetlink socket: %m");
        r = watch_start(&lw->watch, lw->rtnl, RTM_GETLINK, sizeof(struct ifinfomsg), AF_UNSPEC, link_wait_handler,
                        &lw->w);
        if (r < 0)
                return log_debug_errno(r, "Failed to dump links: %m");

        log_debug("Waiting for the link with MAC address %s%s.", lw->mac_string,
                  udev_data_dir ? " and for udev to initialise it" : "");
        *ret = TAKE_PTR(lw);
        return 0;
}

int netif_link_watch_new(const NetifMac *mac, NetifLinkWatch **ret) {
        int r;

        r = udevd_in_our_netns();
        if (r < 0)
                log_debug_errno(r, "Cannot tell whether udevd sees this network namespace, not waiting for it: %m");
        return netif_link_watch_new_full(mac, r > 0 ? "/run/udev/data" : NULL, ret);
}

/* 1 and ret filled when the link found is there and initialised by udev,
 * 0 when not (yet). */
static int link_watch_check(NetifLinkWatch *lw, NetifLink *ret) {
        LinkWait *w = &lw->w;
        LinkInfo l;
        int r;

        if (w->ifindex <= 0)
                return 0;
        r = link_udev_initialized(lw->udev_data_dir, w->ifindex);
        if (r < 0)
                return log_debug_errno(r, "Failed to look for udev's database entry of link #%i: %m", w->ifindex);
        if (r == 0)
                return 0;

        /* Its name now, after any rename by udev; events about it may still
         * be queued. */
        r = rtnl_link_get(lw->query, w->ifindex, &l);
        if (r >= 0 && l.has_mac && netif_mac_equal(&l.mac, &w->mac)) {
                *ret = (NetifLink) { .ifindex = l.ifindex, .mac = l.mac };
                memcpy(ret->name, l.name, sizeof(ret->name));
                return 1;
        }
        if (r < 0 && r != -ENODEV)
                return log_debug_errno(r, "Failed to look at link #%i: %m", w->ifindex);
        w->ifindex = 0;  /* gone, or not the MAC any more */
        return 0;
}

int netif_link_watch_wait(NetifLinkWatch *lw, usec_t until, NetifLink *ret) {
        int r;

        for (;;) {
                usec_t left, timeout;

                r = link_watch_check(lw, ret);
                if (r != 0)
                        return r;

                left = usec_left(until);
                if (left == 0 && !lw->watch.dumping)
                        return 0;
                timeout = left > 0 ? left : DUMP_WAIT_USEC;
                /* Watched, the entry's arrival wakes us; the recheck stays
                 * as a safety net (a database on another filesystem). */
                if (lw->w.ifindex > 0)
                        timeout = MIN(timeout, lw->udev_watch >= 0 ? 10 * UDEV_RECHECK_USEC : UDEV_RECHECK_USEC);

                r = watch_wait(&lw->watch, lw->udev_watch, timeout);
                if (r < 0)
                        return log_debug_errno(r, "Failed to wait for link events: %m");
        }
}

int netif_wait_link_full(const NetifMac *mac, const char *udev_data_dir, usec_t deadline, NetifLink *ret) {
        _cleanup_(netif_link_watch_freep) NetifLinkWatch *lw = NULL;
        int r;

        r = netif_link_watch_new_full(mac, udev_data_dir, &lw);
        if (r < 0)
                return r;
        r = netif_link_watch_wait(lw, deadline, ret);
        if (r == 0)
                return log_debug_errno(ETIME, "No link with MAC address %s%s before the deadline.", lw->mac_string,
                                       lw->w.ifindex > 0 ? " initialised by udev" : "");
        return r < 0 ? r : 0;
}

static int read_comm(const char *pid, char *buf, size_t size) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        if (asprintf(&path, "/proc/%s/comm", pid) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, size - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        return 0;
}

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

/* udevd hears of a link only in its own network namespace (the kernel
 * sends a link's uevents there), so its database never gets an entry for
 * one in another namespace. Returns 1 when a udevd process runs in ours, 0
 * when none is found there (none runs, or only in other namespaces). */
static int udevd_in_our_netns(void) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct stat self;

        /* A control socket left behind by a udevd that is gone is no udevd:
         * the process is what counts. */
        if (access("/run/udev/control", F_OK) < 0)
                return 0;
        if (stat("/proc/self/ns/net", &self) < 0)
                return negative_errno();
        d = opendir("/proc");
        if (!d)
                return negative_errno();

        for (;;) {
                _cleanup_free_ char *path = NULL;
                char comm[32];
                struct stat st;
                struct dirent *de;

                errno = 0;
                de = readdir(d);
                if (!de)
                        return errno > 0 ? -errno : 0;
                if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
                    strspn(de->d_name, "0123456789") != strlen(de->d_name))
                        continue;
                /* Processes come and go while we look: skip what vanished. */
                if (read_comm(de->d_name, comm, sizeof(comm)) < 0)
                        continue;
                if (!streq(comm, "systemd-udevd") && !streq(comm, "udevd"))
                        continue;
                if (asprintf(&path, "/proc/%s/ns/net", de->d_name) < 0)
                        return -ENOMEM;
                if (stat(path, &st) < 0)
                        continue;
                if (st.st_dev == self.st_dev && st.st_ino == self.st_ino)
                        return 1;
        }
}

/* <linux/if.h>'s; <net/if.h>, which the rest uses, lacks it. */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

typedef struct CarrierWait {
        int ifindex;
        int state;                      /* 1: carrier, 0: not yet, -ENODEV: the link went away */
} CarrierWait;

static int carrier_wait_handler(const struct nlmsghdr *nlh, void *userdata) {
        CarrierWait *w = userdata;
        LinkInfo l;

        if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
                return 0;
        if (rtnl_link_parse(nlh, &l) < 0 || l.ifindex != w->ifindex)
                return 0;
        if (nlh->nlmsg_type == RTM_DELLINK)
                w->state = -ENODEV;
        else
                w->state = (l.flags & IFF_LOWER_UP) ? 1 : 0;
        return 0;
}

int netif_wait_carrier(int ifindex, usec_t deadline) {
        _cleanup_(rtnl_freep) Rtnl *rtnl = NULL;
        CarrierWait w = { .ifindex = ifindex };
        RtnlWatch watch;
        int r;

        if (ifindex <= 0)
                return -EINVAL;
        r = rtnl_open(RTMGRP_LINK, true, &rtnl);
        if (r < 0)
                return log_debug_errno(r, "Failed to open rtnetlink socket: %m");
        /* The dump tells the state now; events tell each change after. */
        r = watch_start(&watch, rtnl, RTM_GETLINK, sizeof(struct ifinfomsg), AF_UNSPEC, carrier_wait_handler, &w);
        if (r < 0)
                return log_debug_errno(r, "Failed to dump links: %m");

        for (;;) {
                usec_t left;

                if (!watch.dumping && w.state != 0)
                        return w.state > 0 ? 0 : w.state;
                left = usec_left(deadline);
                if (left == 0 && !watch.dumping)
                        return log_debug_errno(ETIME, "Link #%i has no carrier before the deadline.", ifindex);
                r = watch_wait(&watch, -1, left > 0 ? left : DUMP_WAIT_USEC);
                if (r < 0)
                        return log_debug_errno(r, "Failed to wait for link events: %m");
        }
}

int netif_wait_link(const NetifMac *mac, usec_t deadline, NetifLink *ret) {
        _cleanup_(netif_link_watch_freep) NetifLinkWatch *lw = NULL;
        int r;

        r = netif_link_watch_new(mac, &lw);
        if (r < 0)
                return r;
        r = netif_link_watch_wait(lw, deadline, ret);
        if (r == 0)
                return log_debug_errno(ETIME, "No link with MAC address %s%s before the deadline.", lw->mac_string,
                                       lw->w.ifindex > 0 ? " initialised by udev" : "");
        return r < 0 ? r : 0;
}

typedef struct RuleWait {
        struct in_addr ip;
        bool found;
        uint32_t table;
} RuleWait;

static int rule_wait_handler(const struct nlmsghdr *nlh, void *userdata) {
        RuleWait *w = userdata;
        NetifRule rule;
        int r;

        if (nlh->nlmsg_type != RTM_NEWRULE && nlh->nlmsg_type != RTM_DELRULE)
                return 0;
        r = rtnl_rule_parse(nlh, &rule);
        if (r <= 0 || rule.src_len != 32 || rule.src.s_addr != w->ip.s_addr)
                return 0;

        w->found = nlh->nlmsg_type == RTM_NEWRULE;
        w->table = rule.table;
        return 0;
}

int netif_wait_rule(struct in_addr ip, usec_t deadline, uint32_t *ret_table) {
        _cleanup_(rtnl_freep) Rtnl *rtnl = NULL;
        char s[INET_ADDRSTRLEN];
        RuleWait w = { .ip = ip };
        RtnlWatch watch;
        int r;

        r = rtnl_open(RTMGRP_IPV4_RULE, true, &rtnl);
        if (r < 0)
                return log_debug_errno(r, "Failed to open rtnetlink socket: %m");
        r = watch_start(&watch, rtnl, RTM_GETRULE, sizeof(struct fib_rule_hdr), AF_INET, rule_wait_handler, &w);
        if (r < 0)
                return log_debug_errno(r, "Failed to dump rules: %m");
        netif_ipv4_to_string(ip, s);
        log_debug("Waiting for a rule from %s.", s);

        for (;;) {
                usec_t left;

                if (w.found) {
                        if (ret_table)
                                *ret_table = w.table;
                        return 0;
                }
                left = usec_left(deadline);
                if (left == 0 && !watch.dumping)
                        return log_debug_errno(ETIME, "No rule from %s before the deadline.", s);
                r = watch_wait(&watch, -1, left > 0 ? left : DUMP_WAIT_USEC);
                if (r < 0)
                        return log_debug_errno(r, "Failed to wait for rule events: %m");
        }
}
