/* SPDX-License-Identifier: Apache-2.0 */
/* The DNS path of the boot: the record set is read at once, while the
 * volumes and the ENI attach, and changed once the node serves: its
 * address known and its data mounted. */
#include "log.h"
#include "node.h"

/* A read older than this is read again before the change: a compare-and-
 * swap built on it would most likely be refused, and a node-mode set may
 * have been changed by a predecessor meanwhile. */
#define DNS_READ_FRESH_USEC (30 * USEC_PER_SEC)

static DnsPublish dns_publish_of(Node *n) {
        return (DnsPublish) {
                .path = &n->dns.path,
                .aws = n->dns.aws,
                .config = &n->config->dns,
                .node_name = n->name,
                .ip = node_ip(n),
                .deadline = n->deadline,
                .read_ahead = &n->dns.read,
        };
}

int node_run_dns(Node *n) {
        _cleanup_(dns_result_done) DnsResult result = {};
        NodeDns *d = &n->dns;
        DnsPublish p = dns_publish_of(n);
        int r;

        /* Read while there is time to spare: the publish then only sends
         * the change. */
        r = dns_read_ahead(&p, &d->read);
        if (r < 0)
                return r;
        d->read_at = now(CLOCK_MONOTONIC);

        /* Publishing tells clients the node serves: not before its data is
         * mounted and its address is up. */
        if (n->n_volumes > 0 || n->config->has_interface)
                path_transition(&d->path, PATH_STATE_WAIT_VOLUME, "Waiting for the %s before publishing.",
                                n->n_volumes > 0 ? "volume to be mounted" : "interface");
        r = node_wait_for_others(n);
        if (r == -ECANCELED)
                return path_fail(&d->path, FAILURE_CANCELLED, r, "Not publishing: another path failed.");
        if (r < 0)
                return path_fail(&d->path, FAILURE_OTHER, r, "Failed to wait for the other paths: %m");

        if (now(CLOCK_MONOTONIC) - d->read_at > DNS_READ_FRESH_USEC)
                dns_read_done(&d->read);

        p.ip = node_ip(n);
        p.replaces_ip = n->config->has_interface ? n->interface.eni.replaced_ip : NULL;
        if (isempty(p.ip))
                return path_fail(&d->path, FAILURE_OTHER, -ENXIO, "There is no IP address to publish.");
        return dns_publish(&p, &result);
}
