/* SPDX-License-Identifier: Apache-2.0 */
/* The network managers: what is installed and running, the opt-outs written
 * before the attach, and how far a manager has got with the new link. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "netif-internal.h"
#include "netif-manager.h"
#include "netif.h"
#include "spawn-util.h"

/* A reload of a manager's configuration is quick; one that hangs must not
 * hold the boot. */
#define RELOAD_TIMEOUT_USEC (10 * USEC_PER_SEC)

#define STRV_MAKE(...) ((char *const[]) { __VA_ARGS__, NULL })

static const char *const manager_names[_NETIF_MANAGER_MAX] = {
        [NETIF_MANAGER_EC2_NET_UTILS_2] = "amazon-ec2-net-utils 2.x",
        [NETIF_MANAGER_EC2_NET_UTILS_1] = "amazon-ec2-net-utils 1.x",
        [NETIF_MANAGER_NETWORKD] = "systemd-networkd",
        [NETIF_MANAGER_NETWORK_MANAGER] = "NetworkManager",
        [NETIF_MANAGER_IFUPDOWN] = "ifupdown",
};

const char *netif_manager_to_string(NetifManager m) {
        return m >= 0 && m < _NETIF_MANAGER_MAX ? manager_names[m] : "none";
}

/* ---- paths below a root ---- */

/* The NULL test is spelled out rather than left to isempty(): on the way
 * from netif_host_probe(NULL, ...) clang 14's analyzer loses isempty()'s
 * and reports a NULL passed on to streq(). */
static const char *root_or_empty(const char *root) {
        if (!root || root[0] == '\0' || streq(root, "/"))
                return "";
        return root;
}

static bool exists_in(const char *root, const char *path) {
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s%s", root_or_empty(root), path) < 0)
                return false;
        return access(p, F_OK) >= 0;
}

static bool any_exists_in(const char *root, const char *const *paths) {
        for (; *paths; paths++)
                if (exists_in(root, *paths))
                        return true;
        return false;
}

/* ---- what runs ---- */

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

/* Whether process pid lives in the network namespace self: a manager in
 * another one never sees our links. */
static bool in_netns(const char *pid, const struct stat *self) {
        _cleanup_free_ char *path = NULL;
        struct stat st;

        if (asprintf(&path, "/proc/%s/ns/net", pid) < 0 || stat(path, &st) < 0)
                return false;
        return st.st_dev == self->st_dev && st.st_ino == self->st_ino;
}

/* Bits of the managers whose daemon runs in our network namespace (by the
 * kernel's 15-character comm), from /proc. */
static unsigned daemons_running(void) {
        _cleanup_(closedirp) DIR *d = opendir("/proc");
        unsigned running = 0;
        struct dirent *de;
        struct stat self;

        if (!d || stat("/proc/self/ns/net", &self) < 0)
                return 0;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                _cleanup_fclose_ FILE *f = NULL;
                char comm[32] = "";
                unsigned bit;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                if (asprintf(&path, "/proc/%s/comm", de->d_name) < 0)
                        return running;
                f = fopen(path, "re");
                if (!f || !fgets(comm, sizeof(comm), f))
                        continue;
                comm[strcspn(comm, "\n")] = '\0';
                if (streq(comm, "systemd-network"))
                        bit = NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORKD);
                else if (streq(comm, "NetworkManager"))
                        bit = NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORK_MANAGER);
                else
                        continue;
                if (in_netns(de->d_name, &self))
                        running |= bit;
        }
        return running;
}

int netif_host_probe(const char *root, NetifHost *ret) {
        static const char *const ec2_2[] = {
                "/usr/lib/systemd/system/policy-routes@.service", "/lib/systemd/system/policy-routes@.service", NULL,
        };
        static const char *const ec2_1[] = {
                "/etc/sysconfig/network-scripts/ec2net-functions", "/sbin/ec2ifup", "/usr/sbin/ec2ifup", NULL,
        };
        static const char *const networkd[] = {
                "/usr/lib/systemd/systemd-networkd", "/lib/systemd/systemd-networkd", NULL,
        };
        static const char *const nm[] = { "/usr/sbin/NetworkManager", "/sbin/NetworkManager", NULL };
        static const char *const ifupdown[] = {
                "/lib/udev/ifupdown-hotplug", "/usr/lib/udev/ifupdown-hotplug", NULL,
        };
        NetifHost h = {};
        unsigned daemons;

        if (any_exists_in(root, ec2_2))
                h.installed |= NETIF_MANAGER_BIT(NETIF_MANAGER_EC2_NET_UTILS_2);
        if (any_exists_in(root, ec2_1))
                h.installed |= NETIF_MANAGER_BIT(NETIF_MANAGER_EC2_NET_UTILS_1);
        if (any_exists_in(root, networkd))
                h.installed |= NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORKD);
        if (any_exists_in(root, nm))
                h.installed |= NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORK_MANAGER);
        if (any_exists_in(root, ifupdown))
                h.installed |= NETIF_MANAGER_BIT(NETIF_MANAGER_IFUPDOWN);
        h.dhclient_hooks = exists_in(root, "/etc/dhcp/dhclient-enter-hooks.d");

        /* The processes are this machine's, whatever the root. */
        daemons = daemons_running();
        h.running = h.installed & daemons;
        /* amazon-ec2-net-utils and ifupdown start from udev rules, which
         * always run. */
        h.running |= h.installed & (NETIF_MANAGER_BIT(NETIF_MANAGER_EC2_NET_UTILS_2) |
                                    NETIF_MANAGER_BIT(NETIF_MANAGER_EC2_NET_UTILS_1) |
                                    NETIF_MANAGER_BIT(NETIF_MANAGER_IFUPDOWN));

        *ret = h;
        return 0;
}

char *netif_host_to_string(const NetifHost *h) {
        _cleanup_free_ char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);
        bool first = true;

        if (!f)
                return NULL;
        for (NetifManager m = 0; m < _NETIF_MANAGER_MAX; m++) {
                if (!(h->installed & NETIF_MANAGER_BIT(m)))
                        continue;
                fprintf(f, "%s%s (%s)", first ? "" : ", ", manager_names[m],
                        h->running & NETIF_MANAGER_BIT(m) ? "running" : "installed");
                first = false;
        }
        if (first)
                fputs("none", f);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(s);
}

/* ---- the opt-outs ---- */

unsigned netif_optouts_for(const NetifHost *h, RoutingMode mode) {
        /* The daemons count where they run (in our network namespace: the
         * boot runs after the network is up, so a manager of this host runs
         * by then); the udev-driven ones where they are installed. */
        bool networkd = h->running & NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORKD);
        unsigned dhclient = NETIF_MANAGER_BIT(NETIF_MANAGER_IFUPDOWN) | NETIF_MANAGER_BIT(NETIF_MANAGER_EC2_NET_UTILS_1);
        unsigned o = 0;

        switch (mode) {
        case ROUTING_AGENT:
                if (networkd)
                        o |= NETIF_OPTOUT_NETWORKD_LINK | NETIF_OPTOUT_NETWORKD_FOREIGN;
                if (h->running & NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORK_MANAGER))
                        o |= NETIF_OPTOUT_NETWORK_MANAGER;
                if (h->dhclient_hooks && (h->installed & dhclient))
                        o |= NETIF_OPTOUT_DHCLIENT;
                return o;
        case ROUTING_AUTO:
                /* Whoever configures the link, nodeagent's rules and tables
                 * sit beside its work: networkd would remove them. */
                return networkd ? NETIF_OPTOUT_NETWORKD_FOREIGN : 0;
        default:
                return 0;
        }
}

static int mkdir_parents(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        return 0;
}

/* Writes content to root + path (through a temporary file and a rename,
 * so that a manager never reads half of it). 1 when written, 0 when it
 * already said that. */
static int write_file(const char *root, const char *path, const char *content, mode_t mode) {
        _cleanup_free_ char *p = NULL, *tmp = NULL, *old = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        int r;

        if (asprintf(&p, "%s%s", root_or_empty(root), path) < 0 || asprintf(&tmp, "%s.tmp", p) < 0)
                return -ENOMEM;
        f = fopen(p, "re");
        if (f) {
                ssize_t n = getdelim(&old, &size, '\0', f);

                if (n >= 0 && streq(old, content))
                        return 0;
        }
        if (f) {
                (void) fclose(f);
                f = NULL;
        }

        r = mkdir_parents(p);
        if (r < 0)
                return r;
        f = fopen(tmp, "we");
        if (!f)
                return negative_errno();
        if (fputs(content, f) < 0 || fflush(f) != 0 || fchmod(fileno(f), mode) < 0) {
                r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        if (rename(tmp, p) < 0) {
                r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        return 1;
}

/* 1 when removed, 0 when it was not there. */
static int remove_file(const char *root, const char *path) {
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s%s", root_or_empty(root), path) < 0)
                return -ENOMEM;
        if (unlink(p) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return 1;
}

/* "020000000110": the MAC in a file name. */
static void mac_plain(const NetifMac *mac, char buf[static 13]) {
        (void) snprintf(buf, 13, "%02x%02x%02x%02x%02x%02x", mac->bytes[0], mac->bytes[1], mac->bytes[2],
                        mac->bytes[3], mac->bytes[4], mac->bytes[5]);
}

static const char dhclient_hook[] =
        "# Written by nodeagent. Leaves alone the links that nodeagent configures\n"
        "# itself (Routing=agent), named by MAC in /run/nodeagent/unmanaged/: no\n"
        "# address is added there, and none removed when a lease ends.\n"
        "if [ -n \"${interface:-}\" ] && [ -r \"/sys/class/net/${interface}/address\" ] &&\n"
        "   [ -e \"/run/nodeagent/unmanaged/$(cat \"/sys/class/net/${interface}/address\")\" ]; then\n"
        "        exit 0\n"
        "fi\n";

static const char networkd_foreign[] =
        "# Written by nodeagent: the policy rules and the routes of its own tables\n"
        "# that nodeagent adds for its ENI are not networkd's to remove.\n"
        "[Network]\n"
        "ManageForeignRoutingPolicyRules=no\n"
        "ManageForeignRoutes=no\n";

/* The per-link files, for mac; written (agent) or removed (auto). Returns
 * the opt-outs whose files changed, or negative errno. */
static int per_link_files(const char *root, const NetifMac *mac, unsigned optouts, bool write) {
        _cleanup_free_ char *networkd = NULL, *nm = NULL, *marker = NULL, *networkd_text = NULL,
                *nm_text = NULL;
        char plain[13], s[NETIF_MAC_STRING_MAX];
        unsigned changed = 0;
        int r;

        mac_plain(mac, plain);
        netif_mac_to_string(mac, s);
        if (asprintf(&networkd, "/run/systemd/network/00-nodeagent-%s.network", plain) < 0 ||
            asprintf(&nm, "/run/NetworkManager/conf.d/90-nodeagent-%s.conf", plain) < 0 ||
            asprintf(&marker, "/run/nodeagent/unmanaged/%s", s) < 0 ||
            asprintf(&networkd_text,
                     "# Written by nodeagent: the link with this MAC is nodeagent's (Routing=agent).\n"
                     "[Match]\nMACAddress=%s\n\n[Link]\nUnmanaged=yes\n", s) < 0 ||
            asprintf(&nm_text,
                     "# Written by nodeagent: the link with this MAC is nodeagent's (Routing=agent).\n"
                     "[device-nodeagent-%s]\nmatch-device=mac:%s\nmanaged=0\n", plain, s) < 0)
                return -ENOMEM;

        if (optouts & NETIF_OPTOUT_NETWORKD_LINK) {
                r = write ? write_file(root, networkd, networkd_text, 0644) : remove_file(root, networkd);
                if (r < 0)
                        return log_debug_errno(r, "Failed to %s %s: %m", write ? "write" : "remove", networkd);
                if (r > 0)
                        changed |= NETIF_OPTOUT_NETWORKD_LINK;
        }
        if (optouts & NETIF_OPTOUT_NETWORK_MANAGER) {
                r = write ? write_file(root, nm, nm_text, 0644) : remove_file(root, nm);
                if (r < 0)
                        return log_debug_errno(r, "Failed to %s %s: %m", write ? "write" : "remove", nm);
                if (r > 0)
                        changed |= NETIF_OPTOUT_NETWORK_MANAGER;
        }
        if (optouts & NETIF_OPTOUT_DHCLIENT) {
                if (write) {
                        r = write_file(root, "/etc/dhcp/dhclient-enter-hooks.d/nodeagent", dhclient_hook, 0644);
                        if (r < 0)
                                return log_debug_errno(r, "Failed to write the dhclient hook: %m");
                }
                r = write ? write_file(root, marker, "Routing=agent\n", 0644) : remove_file(root, marker);
                if (r < 0)
                        return log_debug_errno(r, "Failed to %s %s: %m", write ? "write" : "remove", marker);
                if (r > 0)
                        changed |= NETIF_OPTOUT_DHCLIENT;
        }
        return (int) changed;
}

static bool program_exists(const char *name) {
        _cleanup_free_ char *path = NULL;

        return spawn_find_program(name, &path) >= 0;
}

static void reload(const char *what, char *const argv[]) {
        int r;

        if (!program_exists(argv[0]))
                return;
        r = spawn(argv, usec_add(now(CLOCK_MONOTONIC), RELOAD_TIMEOUT_USEC), LOG_DEBUG, NULL);
        if (r != 0)
                log_warning("interface: %s did not reload its configuration (%s %s); it may still take the ENI.",
                            what, argv[0], r < 0 ? strerror(-r) : "failed");
}

int netif_prepare_managers_full(const char *root, const NetifHost *h, const char *mac_string, RoutingMode mode) {
        unsigned optouts = netif_optouts_for(h, mode);
        unsigned per_link = NETIF_OPTOUT_NETWORKD_LINK | NETIF_OPTOUT_NETWORK_MANAGER | NETIF_OPTOUT_DHCLIENT;
        bool on_root = !root || root[0] == '\0' || streq(root, "/");
        NetifMac mac;
        int r, changed;

        if (mode == ROUTING_NONE)
                return 0;
        r = netif_mac_from_string(mac_string, &mac);
        if (r < 0)
                return r;

        if (optouts & NETIF_OPTOUT_NETWORKD_FOREIGN) {
                r = write_file(root, "/run/systemd/networkd.conf.d/90-nodeagent.conf", networkd_foreign, 0644);
                if (r < 0)
                        return log_debug_errno(r, "Failed to write networkd's drop-in: %m");
        }
        /* Under auto the link is the managers' again: an earlier agent
         * boot's opt-outs for it go (they are nodeagent's own files). */
        changed = per_link_files(root, &mac, mode == ROUTING_AGENT ? optouts & per_link : per_link,
                                 mode == ROUTING_AGENT);
        if (changed < 0)
                return changed;

        if (on_root && (changed & NETIF_OPTOUT_NETWORKD_LINK) &&
            (h->running & NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORKD)))
                reload("systemd-networkd", STRV_MAKE("networkctl", "reload"));
        if (on_root && (changed & NETIF_OPTOUT_NETWORK_MANAGER) &&
            (h->running & NETIF_MANAGER_BIT(NETIF_MANAGER_NETWORK_MANAGER)))
                reload("NetworkManager", STRV_MAKE("nmcli", "general", "reload", "conf"));
        return (int) optouts;
}

int netif_prepare_managers(const char *mac, RoutingMode mode) {
        NetifHost h;
        int r;

        if (mode == ROUTING_NONE)
                return 0;
        r = netif_host_probe(NULL, &h);
        if (r < 0)
                return r;
        return netif_prepare_managers_full(NULL, &h, mac, mode);
}

/* ---- the claims ---- */

/* networkd's word on the link: its state file's ADMIN_STATE. */
static NetifClaim networkd_claim(const char *root, int ifindex) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;

        if (asprintf(&path, "%s/run/systemd/netif/links/%i", root_or_empty(root), ifindex) < 0)
                return NETIF_CLAIM_UNKNOWN;
        f = fopen(path, "re");
        if (!f)
                return NETIF_CLAIM_UNKNOWN;    /* networkd has not looked at it yet */
        while (getline(&line, &size, f) > 0) {
                const char *v = startswith(line, "ADMIN_STATE=");

                if (!v)
                        continue;
                if (startswith(v, "unmanaged"))
                        return NETIF_CLAIM_NONE;
                if (startswith(v, "configuring"))
                        return NETIF_CLAIM_WORKING;
                if (startswith(v, "configured") || startswith(v, "failed") || startswith(v, "linger"))
                        return NETIF_CLAIM_DONE;
                return NETIF_CLAIM_UNKNOWN;    /* pending, initialized */
        }
        return NETIF_CLAIM_UNKNOWN;
}

/* NetworkManager's: its device state file says whether it manages the
 * link; a managed link is done once DHCP gave it the address. */
static NetifClaim network_manager_claim(const char *root, int ifindex, const NetifOutcome *o) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;

        if (asprintf(&path, "%s/run/NetworkManager/devices/%i", root_or_empty(root), ifindex) < 0)
                return NETIF_CLAIM_UNKNOWN;
        f = fopen(path, "re");
        if (!f)
                /* Not looked at yet; an address is someone's answer anyway. */
                return o->address ? NETIF_CLAIM_DONE : NETIF_CLAIM_UNKNOWN;
        while (getline(&line, &size, f) > 0)
                if (startswith(line, "managed=false") || startswith(line, "managed=0"))
                        return NETIF_CLAIM_NONE;
        return o->address ? NETIF_CLAIM_DONE : NETIF_CLAIM_WORKING;
}

/* ifupdown's: whether the link is allow-hotplug (what its udev helper
 * asks), then the address from dhclient. */
static NetifClaim ifupdown_claim(const char *root, const char *ifname, const NetifOutcome *o) {
        _cleanup_free_ char *out = NULL, *name = NULL;
        int r;

        /* ifquery reads the real /etc/network/interfaces. */
        if (!isempty(root) && !streq(root, "/"))
                return NETIF_CLAIM_NONE;
        if (!program_exists("ifquery"))
                return NETIF_CLAIM_NONE;
        name = strdup(ifname);
        if (!name)
                return NETIF_CLAIM_UNKNOWN;
        r = spawn(STRV_MAKE("ifquery", "--allow", "hotplug", "-l", name),
                  usec_add(now(CLOCK_MONOTONIC), RELOAD_TIMEOUT_USEC), LOG_DEBUG, &out);
        if (r != 0 || isempty(out) || strspn(out, " \n") == strlen(out))
                return NETIF_CLAIM_NONE;
        return o->address ? NETIF_CLAIM_DONE : NETIF_CLAIM_WORKING;
}

/* The strongest of two claims: someone working beats someone undecided,
 * who beats someone done, who beats nobody. */
static int claim_rank(NetifClaim c) {
        static const int rank[_NETIF_CLAIM_MAX] = {
                [NETIF_CLAIM_NONE] = 0, [NETIF_CLAIM_DONE] = 1, [NETIF_CLAIM_UNKNOWN] = 2, [NETIF_CLAIM_WORKING] = 3,
        };
        return c >= 0 && c < _NETIF_CLAIM_MAX ? rank[c] : 0;
}

NetifClaim netif_manager_claim(const char *root, const NetifHost *h, const NetifLink *link, const NetifOutcome *o,
                               NetifManager *ret_who) {
        NetifClaim best = NETIF_CLAIM_NONE;
        NetifManager who = _NETIF_MANAGER_MAX;

        for (NetifManager m = 0; m < _NETIF_MANAGER_MAX; m++) {
                NetifClaim c;

                if (!(h->running & NETIF_MANAGER_BIT(m)))
                        continue;
                switch (m) {
                case NETIF_MANAGER_EC2_NET_UTILS_2:
                case NETIF_MANAGER_EC2_NET_UTILS_1:
                        /* Its work is the rule that pins the ENI's IP to
                         * its table: done once that holds (the primary IP's
                         * path is nodeagent's to judge). */
                        c = o->eni_routed ? NETIF_CLAIM_DONE : NETIF_CLAIM_WORKING;
                        break;
                case NETIF_MANAGER_NETWORKD:
                        c = networkd_claim(root, link->ifindex);
                        break;
                case NETIF_MANAGER_NETWORK_MANAGER:
                        c = network_manager_claim(root, link->ifindex, o);
                        break;
                case NETIF_MANAGER_IFUPDOWN:
                        c = ifupdown_claim(root, link->name, o);
                        break;
                default:
                        c = NETIF_CLAIM_NONE;
                }
                if (claim_rank(c) > claim_rank(best)) {
                        best = c;
                        who = m;
                }
        }
        if (ret_who)
                *ret_who = who;
        return best;
}
