/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The boot sequence of one node: a list of paths (each volume, the
 * interface, DNS), each a state machine in a thread of its own, all under
 * one deadline (node.c). What each path does is in node-volume.c,
 * node-interface.c and node-dns.c; the manual modes that share their steps
 * (--attach-only, --detach, --status) are in node-manual.c.
 *
 * Paths wait for each other only where the node's meaning demands it: DNS
 * publishes once the interface has its address and every volume is mounted
 * (a node whose data is not there must not join a record). When one path
 * fails, the others stop at their next wait (wait.h); a write already under
 * way (mkfs, fsck, an Attach call, a Route 53 change) runs to its end. The
 * boot's failure is the first one that was not such a cancellation. */

#include <stdatomic.h>

#include "blockdev.h"
#include "config.h"
#include "dns.h"
#include "eni.h"
#include "fs.h"
#include "instance.h"
#include "netif-manager.h"
#include "netif.h"
#include "path.h"
#include "signals.h"
#include "volume.h"

typedef struct Node Node;

/* One volume section's path: [Volume] ("volume") or [Volume:NAME]
 * ("volume:NAME"). A plain section is one volume; a striped set
 * (Stripe=raid0) is several, one md array, one filesystem. */
typedef struct NodeVolume {
        Path path;
        char *path_name;                /* "volume", "volume:log" */
        const ConfigVolume *config;
        AwsClient *aws;                 /* the path's own client while it runs */
        Volume *members;                /* one for a plain section, each member of a set */
        size_t n_members;
        char *devnode;                  /* where the filesystem lives: the volume's device, or the array's */
        char *md_name;                  /* a striped set's md array (raid_md_name()); NULL otherwise */
        char *array_uuid;               /* its UUID: the value of the members' nodeagent:initialized */
        FsVolumeMarks array_marks;      /* what the members' tags and superblocks say of the array */
        uint64_t size;                  /* that device's size in bytes, for online growth */
        FsSetupResult fs;
        atomic_bool mounted;            /* its filesystem is mounted: the node may serve */
        int mounted_fd;                 /* readable once mounted, or once the path has ended */
        int done_fd;                    /* readable once the path has ended, well or not */
} NodeVolume;

/* What the interface path's routing found and added (node-interface.c),
 * for the supervisor after READY. */
typedef struct NodeRouting {
        bool prepared;                  /* the host was looked at before the attach */
        NetifHost host;
        NetifManager manager;           /* who configured the link; _NETIF_MANAGER_MAX: nobody */
        NetifIds ids;
        bool have_primary;              /* the primary's facts below were read before the attach */
        struct in_addr primary_gateway;
        uint8_t primary_prefixlen;
        uint32_t primary_mtu;
        NetifPlan *eni_plan;            /* nodeagent's own pieces; NULL: none */
        NetifPlan *primary_plan;
        bool owns_address;
        bool owns_table;                /* the ENI's table and rules are nodeagent's (not a manager's) */
        usec_t missing_since;           /* when the manager's part went missing; 0: it is there */
        bool link_gone;                 /* the last watch found no link at all */
} NodeRouting;

void node_routing_done(NodeRouting *rt);

typedef struct NodeInterface {
        Path path;
        AwsClient *aws;
        Eni eni;
        bool have_link;
        char *subnet_cidr;              /* read while the ENI attaches */
        NodeRouting routing;
        int done_fd;
} NodeInterface;

typedef struct NodeDns {
        Path path;
        AwsClient *aws;
        DnsRead read;                   /* read while the other paths attach */
        usec_t read_at;
        int done_fd;
} NodeDns;

struct Node {
        const Config *config;
        Instance *instance;
        usec_t deadline;
        const char *name;               /* [Node] Name=, else the instance id */

        NodeVolume *volumes;            /* [Volume] first, then each [Volume:NAME] */
        size_t n_volumes;
        NodeInterface interface;        /* with [Interface] */
        NodeDns dns;                    /* with [DNS] */

        /* The readiness signals; the main thread sends their heartbeats
         * while the paths run. NULL: none. */
        Signal *signal;

        /* The kind of the boot's first failure that was not a cancellation
         * (FAILURE_NONE while all is well): the exit status follows. */
        FailureKind failure;
};

int node_init(Node *n, const Config *config, Instance *instance, usec_t deadline);
void node_done(Node *n);

/* The boot sequence; on success the state file is written. */
int node_boot(Node *n);

/* A boot failed with status: the state file says so (NODEAGENT_FAILED),
 * with the boot's phases, so an operator sees where the time went. */
void node_record_failure(Node *n, ExitStatus status);

/* Attaches what is configured, waits for EC2's "attached", prints what is
 * where. */
int node_attach_only(Node *n);

/* Unmounts and detaches the volume (and the ENI with DetachOnStop=yes). */
int node_detach(Node *n);

/* Releases what DetachOnStop= asks for, on SIGTERM. */
int node_release_on_stop(Node *n);

/* Detaches the resources of list (volumes, the ENI; those found) at
 * once: every detach is sent first, then each is waited for, so they leave
 * in the time of the slowest. Everything on top of them must be undone
 * already (unmounted, arrays stopped). When the ENI is among them and has
 * left, its routing goes too (node_interface_unroute()). Returns the first
 * failure; the others still run. */
int node_detach_together(Node *n, Attach **list, size_t k);

/* The volume sections in the order they are released into ret (room for
 * n_volumes): a mount point inside another's first (it is the longer
 * path). Returns how many. */
size_t node_release_order(const Node *n, NodeVolume **ret);

/* A set's md array is stopped before its members go: md would fail the
 * array with a member pulled from under it. Stops /dev/md/<name> and any
 * array holding a member (raid_stop()); 0 for a section that is no set. */
int node_stop_array(Node *n, NodeVolume *v);

/* SIGTERM: with UnpublishOnStop=terminating and IMDS saying the instance
 * is being terminated, unpublishes first; then node_release_on_stop(). */
int node_stop(Node *n);

/* nodeagent --unpublish: takes this node's entry out of Route 53 (dns.h's
 * dns_unpublish()); safe to run twice. */
int node_unpublish(Node *n);

/* Prints what is attached and mounted now. */
int node_status(Node *n);

/* The failure kind of a finished mode: the first path that failed for a
 * reason of its own, else FAILURE_OTHER when r < 0. */
FailureKind node_failure_kind(const Node *n, int r);

/* The paths, for node.c: each returns 0 or a failure it has logged (with
 * its kind, in its Path). */
int node_run_volume(Node *n, NodeVolume *v);
int node_run_interface(Node *n);
int node_run_dns(Node *n);

/* For the supervisor: looks at the interface's outcome, puts nodeagent's
 * own pieces back when they went missing, and says what else to do
 * (NETIF_SUPERVISE_*: wait for the manager, or the ENI is lost). */
NetifSuperviseAction node_interface_watch(Node *n, usec_t now);

/* The ENI has left this instance (EC2 says detached): removes what
 * nodeagent configured for it, its rules, the routes of its table and its
 * addresses, and forgets its plan. For the release (a handover,
 * DetachOnStop=, --detach); quiet when there is nothing. */
void node_interface_unroute(Node *n);

/* For node-dns.c: waits until the interface path has ended and every
 * volume is mounted (what remains of a volume path, its tags, runs beside
 * the publish; READY waits for both); -ECANCELED when one of them failed. */
int node_wait_for_others(Node *n);

/* For node-volume.c: the volume's filesystem is mounted. */
void node_volume_mounted(NodeVolume *v);

/* For node-volume.c: waits until the volume section whose mount point
 * holds v's is mounted (a nested mount point needs its parent's filesystem
 * first). 0 at once when there is none; -ECANCELED when it failed. */
int node_wait_for_parent_mount(Node *n, const NodeVolume *v);

/* The volume section whose mount point is the nearest one above v's, or
 * NULL: for mounting after it and unmounting before it. */
NodeVolume *node_parent_volume(Node *n, const NodeVolume *v);

/* The state file: $NODEAGENT_STATE_FILE (tests), else the contract's path. */
const char *node_state_file_path(void);

/* The address the node publishes: the ENI's, or without [Interface] the
 * instance's primary private IP. */
const char *node_ip(const Node *n);
