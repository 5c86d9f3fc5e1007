/* SPDX-License-Identifier: Apache-2.0 */
/* EC2 replies: every call the agent makes, each answered with the input as
 * a 200 reply (and paged replies with the input again), then the error
 * reader with the statuses EC2 uses. */
#include "ec2.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VOLUME "vol-0123456789abcdef0"
#define INSTANCE "i-0123456789abcdef0"
#define ENI "eni-0123456789abcdef0"

static void call_all(const uint8_t *data, size_t size, long status, bool all) {
        const char *volume_ids[] = { VOLUME, NULL };
        const char *instance_ids[] = { INSTANCE, NULL };
        const char *eni_ids[] = { ENI, NULL };
        const char *subnet_ids[] = { "subnet-0123456789abcdef0", NULL };
        const char *values[] = { "kafka", NULL };
        const Ec2Filter filter = { .name = "tag:Cluster", .values = values };
        const Ec2Tag tag = { .key = (char *) "nodeagent:initialized", .value = (char *) "uuid" };

        for (unsigned call = 0; call < 10; call++) {
                _cleanup_(aws_error_done) AwsError error = {};
                FuzzAws a;

                /* Error replies are read by the same code for every action:
                 * a describe, a mutation and a call without a reply body
                 * are enough. */
                if (!all && call != 0 && call != 2 && call != 9)
                        continue;

                fuzz_aws_init(&a, data, size, status);
                usec_t deadline = fuzz_aws_deadline(&a);

                switch (call) {
                case 0: {
                        Ec2Volume *v = NULL;
                        size_t n = 0;

                        if (ec2_describe_volumes(a.client, volume_ids, NULL, 0, false, deadline, &error, &v,
                                                 &n) >= 0)
                                for (size_t i = 0; i < n; i++)
                                        (void) ec2_tags_get(v[i].tags, v[i].n_tags, "nodeagent:initialized");
                        ec2_volumes_free(v, n);
                        break;
                }
                case 1: {
                        Ec2Volume *v = NULL;
                        size_t n = 0;

                        (void) ec2_describe_volumes(a.client, NULL, &filter, 1, true, deadline, &error, &v, &n);
                        ec2_volumes_free(v, n);
                        break;
                }
                case 2: {
                        _cleanup_(ec2_volume_attachment_done) Ec2VolumeAttachment att = {};

                        (void) ec2_attach_volume(a.client, VOLUME, INSTANCE, "/dev/sdf", false, deadline, &error,
                                                 &att);
                        break;
                }
                case 3: {
                        _cleanup_(ec2_volume_attachment_done) Ec2VolumeAttachment att = {};

                        (void) ec2_detach_volume(a.client, VOLUME, INSTANCE, true, false, deadline, &error, &att);
                        break;
                }
                case 4: {
                        Ec2NetworkInterface *e = NULL;
                        size_t n = 0;

                        (void) ec2_describe_network_interfaces(a.client, eni_ids, NULL, 0, false, deadline,
                                                               &error, &e, &n);
                        ec2_network_interfaces_free(e, n);
                        break;
                }
                case 5: {
                        _cleanup_free_ char *id = NULL;

                        (void) ec2_attach_network_interface(a.client, ENI, INSTANCE, 1, 0, false, deadline, &error,
                                                            &id);
                        break;
                }
                case 6:
                        (void) ec2_detach_network_interface(a.client, "eni-attach-0123456789abcdef0", false,
                                                            false, deadline, &error);
                        break;
                case 7: {
                        Ec2Subnet *s = NULL;
                        size_t n = 0;

                        (void) ec2_describe_subnets(a.client, subnet_ids, false, deadline, &error, &s, &n);
                        ec2_subnets_free(s, n);
                        break;
                }
                case 8: {
                        Ec2Instance *i = NULL;
                        size_t n = 0;

                        (void) ec2_describe_instances(a.client, instance_ids, NULL, 0, false, deadline, &error,
                                                      &i, &n);
                        ec2_instances_free(i, n);
                        break;
                }
                case 9:
                        (void) ec2_create_tags(a.client, volume_ids, &tag, 1, false, deadline, &error);
                        break;
                }
                fuzz_aws_done(&a);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const long error_statuses[] = { 400, 401, 403, 412, 500, 503 };
        _cleanup_free_ char *text = NULL;

        fuzz_setup_once();
        if (size > (size_t) 256 * 1024)
                return -1;

        call_all(data, size, 200, true);
        /* The same body as an error reply: read and classified (the status
         * from the input's length, so that each one is met). */
        call_all(data, size, error_statuses[size % ELEMENTSOF(error_statuses)], false);

        text = fuzz_string(data, size);
        for (size_t i = 0; i < ELEMENTSOF(error_statuses); i++) {
                AwsError e = {};

                (void) aws_error_parse(error_statuses[i], text, size, &e);
                aws_error_done(&e);
        }
        return 0;
}
