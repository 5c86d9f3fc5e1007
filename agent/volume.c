/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "log.h"
#include "volume.h"
#include "zone-match.h"

static int find_by_id(AwsClient *aws, const char *id, const char *az, usec_t deadline, Ec2Volume *ret) {
        _cleanup_(aws_error_done) AwsError error = {};
        const char *ids[] = { id, NULL };
        Ec2Volume *volumes = NULL;
        size_t n = 0;
        int r;

        r = ec2_describe_volumes(aws, ids, NULL, 0, false, deadline, &error, &volumes, &n);
        if (r == -ENOENT || (r >= 0 && n == 0)) {
                ec2_volumes_free(volumes, n);
                return log_error_errno(ENOENT, "Volume %s does not exist in this region.", id);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to describe volume %s: %s%s%m", id,
                                       strempty(error.code), error.code ? ": " : "");

        if (!streq_ptr(volumes[0].az, az)) {
                log_error("Volume %s is in %s, this instance in %s: an EBS volume attaches only "
                          "within its availability zone.", id, strna(volumes[0].az), az);
                ec2_volumes_free(volumes, n);
                return -EXDEV;
        }

        *ret = volumes[0];
        volumes[0] = (Ec2Volume) {};
        ec2_volumes_free(volumes, n);
        return 0;
}

static int find_by_tag(AwsClient *aws, const ConfigTag *tag, const char *az, usec_t deadline, Ec2Volume *ret) {
        _cleanup_(aws_error_done) AwsError error = {};
        _cleanup_free_ char *filter_name = NULL, *listed = NULL;
        _cleanup_free_ ZoneCandidate *candidates = NULL;
        const char *values[] = { tag->value, NULL };
        Ec2Volume *volumes = NULL;
        size_t n = 0, index = 0;
        Ec2Filter filter;
        int r;

        if (asprintf(&filter_name, "tag:%s", tag->key) < 0)
                return log_oom();
        filter = (Ec2Filter) { .name = filter_name, .values = values };

        /* No AZ filter: a volume that exists only elsewhere deserves its own message. */
        r = ec2_describe_volumes(aws, NULL, &filter, 1, false, deadline, &error, &volumes, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to look for volumes tagged %s=%s: %s%s%m", tag->key,
                                       tag->value, strempty(error.code), error.code ? ": " : "");

        candidates = calloc(MAX(n, 1U), sizeof(ZoneCandidate));
        if (!candidates) {
                ec2_volumes_free(volumes, n);
                return log_oom();
        }
        for (size_t i = 0; i < n; i++)
                candidates[i] = (ZoneCandidate) { volumes[i].id, volumes[i].az, volumes[i].state };
        listed = zone_match_format(candidates, n);

        r = zone_match_pick(candidates, n, az, &index);
        if (r == -ENOENT)
                log_error("No volume is tagged %s=%s.", tag->key, tag->value);
        else if (r == -EXDEV)
                log_error("No volume tagged %s=%s is in %s, where this instance runs; found: %s.",
                          tag->key, tag->value, az, strna(listed));
        else if (r == -ENOTUNIQ)
                log_error("Several volumes in %s are tagged %s=%s, expected exactly one: %s.",
                          az, tag->key, tag->value, strna(listed));
        else {
                *ret = volumes[index];
                volumes[index] = (Ec2Volume) {};
        }

        ec2_volumes_free(volumes, n);
        return r;
}

int volume_find(AwsClient *aws, const ConfigVolume *config, const char *availability_zone,
                usec_t deadline, Ec2Volume *ret) {
        if (config->id)
                return find_by_id(aws, config->id, availability_zone, deadline, ret);
        return find_by_tag(aws, &config->tag, availability_zone, deadline, ret);
}
