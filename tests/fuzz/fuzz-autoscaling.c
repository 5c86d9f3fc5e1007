/* SPDX-License-Identifier: Apache-2.0 */
/* Auto Scaling replies: the group reads of --check and the lifecycle calls,
 * each answered with the input as a 200 reply, then as an error reply. */
#include "autoscaling.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INSTANCE "i-0123456789abcdef0"

static void call_all(const uint8_t *data, size_t size, long status) {
        for (unsigned call = 0; call < 4; call++) {
                _cleanup_(aws_error_done) AwsError error = {};
                FuzzAws a;

                fuzz_aws_init(&a, data, size, status);
                usec_t deadline = fuzz_aws_deadline(&a);

                switch (call) {
                case 0: {
                        _cleanup_(autoscaling_group_done) AutoScalingGroup g = {};

                        if (autoscaling_describe_group(a.client, "kafka-1", deadline, &error, &g) >= 0)
                                (void) autoscaling_maintenance_verdict(g.desired_capacity, g.min_healthy_percentage);
                        break;
                }
                case 1: {
                        AutoScalingHook *hooks = NULL;
                        size_t n = 0;

                        if (autoscaling_describe_hooks(a.client, "kafka-1", deadline, &error, &hooks, &n) >= 0)
                                for (size_t i = 0; i < n; i++)
                                        (void) autoscaling_hook_verdict(&hooks[i], 15 * USEC_PER_MINUTE,
                                                                        60 * USEC_PER_SEC);
                        autoscaling_hooks_free(hooks, n);
                        break;
                }
                case 2: {
                        _cleanup_(autoscaling_instance_done) AutoScalingInstance i = {};

                        (void) autoscaling_describe_instance(a.client, INSTANCE, deadline, &error, &i);
                        break;
                }
                case 3:
                        (void) autoscaling_record_heartbeat(a.client, "kafka-1", "boot", INSTANCE, deadline, &error);
                        break;
                }
                fuzz_aws_done(&a);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const long error_statuses[] = { 400, 403, 500, 503 };

        fuzz_setup_once();
        if (size > (size_t) 256 * 1024)
                return -1;

        call_all(data, size, 200);
        call_all(data, size, error_statuses[size % ELEMENTSOF(error_statuses)]);
        return 0;
}
