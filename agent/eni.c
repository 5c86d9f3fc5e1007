/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "eni.h"
#include "log.h"
#include "zone-match.h"

static int find_by_id(AwsClient *aws, const char *id, const char *az, usec_t deadline,
                      Ec2NetworkInterface *ret) {
        _cleanup_(aws_error_done) AwsError error = {};
        const char *ids[] = { id, NULL };
        Ec2NetworkInterface *enis = NULL;
        size_t n = 0;
        int r;

        r = ec2_describe_network_interfaces(aws, ids, NULL, 0, false, deadline, &error, &enis, &n);
        if (r == -ENOENT || (r >= 0 && n == 0)) {
                ec2_network_interfaces_free(enis, n);
                return log_error_errno(ENOENT, "Network interface %s does not exist in this region.", id);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to describe network interface %s: %s%s%m", id,
                                       strempty(error.code), error.code ? ": " : "");

        if (!streq_ptr(enis[0].az, az)) {
                log_error("Network interface %s is in %s, this instance in %s: an ENI attaches only "
                          "within its availability zone.", id, strna(enis[0].az), az);
                ec2_network_interfaces_free(enis, n);
                return -EXDEV;
        }

        *ret = enis[0];
        enis[0] = (Ec2NetworkInterface) {};
        ec2_network_interfaces_free(enis, n);
        return 0;
}

static int find_by_tag(AwsClient *aws, const ConfigTag *tag, const char *az, usec_t deadline,
                       Ec2NetworkInterface *ret) {
        _cleanup_(aws_error_done) AwsError error = {};
        _cleanup_free_ char *filter_name = NULL, *listed = NULL;
        _cleanup_free_ ZoneCandidate *candidates = NULL;
        const char *values[] = { tag->value, NULL };
        Ec2NetworkInterface *enis = NULL;
        size_t n = 0, index = 0;
        Ec2Filter filter;
        int r;

        if (asprintf(&filter_name, "tag:%s", tag->key) < 0)
                return log_oom();
        filter = (Ec2Filter) { .name = filter_name, .values = values };

        r = ec2_describe_network_interfaces(aws, NULL, &filter, 1, false, deadline, &error, &enis, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to look for network interfaces tagged %s=%s: %s%s%m",
                                       tag->key, tag->value, strempty(error.code), error.code ? ": " : "");

        candidates = calloc(MAX(n, 1U), sizeof(ZoneCandidate));
        if (!candidates) {
                ec2_network_interfaces_free(enis, n);
                return log_oom();
        }
        for (size_t i = 0; i < n; i++)
                candidates[i] = (ZoneCandidate) { enis[i].id, enis[i].az, enis[i].status };
        listed = zone_match_format(candidates, n);

        r = zone_match_pick(candidates, n, az, &index);
        if (r == -ENOENT)
                log_error("No network interface is tagged %s=%s.", tag->key, tag->value);
        else if (r == -EXDEV)
                log_error("No network interface tagged %s=%s is in %s, where this instance runs; found: %s.",
                          tag->key, tag->value, az, strna(listed));
        else if (r == -ENOTUNIQ)
                log_error("Several network interfaces in %s are tagged %s=%s, expected exactly one: %s.",
                          az, tag->key, tag->value, strna(listed));
        else {
                *ret = enis[index];
                enis[index] = (Ec2NetworkInterface) {};
        }

        ec2_network_interfaces_free(enis, n);
        return r;
}

int eni_find(AwsClient *aws, const ConfigInterface *config, const char *availability_zone,
             usec_t deadline, Ec2NetworkInterface *ret) {
        if (config->id)
                return find_by_id(aws, config->id, availability_zone, deadline, ret);
        return find_by_tag(aws, &config->tag, availability_zone, deadline, ret);
}
