/* SPDX-License-Identifier: Apache-2.0 */
#include "aws-test-util.h"
#include "ec2.h"
#include "tests.h"

/* Expected request bodies are botocore's own serialization of the same
 * call (botocore.serialize.EC2Serializer on the 2016-11-15 model). */

static int setup(TestAws *t) {
        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_ENDPOINT_URL_EC2");
        return test_aws_init(t, NULL);
}

static void test_describe_volumes(void) {
        Ec2Volume *v = NULL;
        size_t n = 0;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-describe-volumes.xml", NULL);

        ASSERT_OK(ec2_describe_volumes(t.client, (const char *const[]) { "vol-1", "vol-2", NULL }, NULL, 0, false,
                                       USEC_INFINITY, NULL, &v, &n));
        ASSERT_STREQ(t.fake->requests[0].body,
                     "Action=DescribeVolumes&Version=2016-11-15&VolumeId.1=vol-1&VolumeId.2=vol-2");
        ASSERT_EQ(n, 2);

        ASSERT_STREQ(v[0].id, "vol-0123456789abcdef0");
        ASSERT_STREQ(v[0].az, "us-east-1a");
        ASSERT_EQ(v[0].size_gib, 500);
        ASSERT_STREQ(v[0].state, "in-use");
        ASSERT_EQ(v[0].n_attachments, 1);
        ASSERT_STREQ(v[0].attachments[0].volume_id, "vol-0123456789abcdef0");
        ASSERT_STREQ(v[0].attachments[0].instance_id, "i-0aaaaaaaaaaaaaaaa");
        ASSERT_STREQ(v[0].attachments[0].device, "/dev/sdf");
        ASSERT_STREQ(v[0].attachments[0].state, "attached");
        ASSERT_EQ(v[0].n_tags, 3);
        ASSERT_STREQ(v[0].tags[0].key, "Name");
        ASSERT_STREQ(v[0].tags[0].value, "kafka-1 data");
        ASSERT_STREQ(ec2_tags_get(v[0].tags, v[0].n_tags, "nodeagent:initialized"), "ext4 & grown <2024>");
        ASSERT_STREQ(ec2_tags_get(v[0].tags, v[0].n_tags, "Empty"), "");
        ASSERT_NULL(ec2_tags_get(v[0].tags, v[0].n_tags, "Missing"));
        ASSERT_STREQ(v[0].volume_type, "gp3");
        ASSERT_EQ(v[0].iops, 3000);
        ASSERT_EQ(v[0].throughput, 125);
        ASSERT_TRUE(v[0].encrypted);
        ASSERT_STREQ(v[0].kms_key_id, "arn:aws:kms:us-east-1:123456789012:key/1a2b3c4d-5e6f-1a2b-3c4d-5e6f1a2b3c4d");
        /* <snapshotId/>: made from no snapshot. */
        ASSERT_NULL(v[0].snapshot_id);

        ASSERT_STREQ(v[1].id, "vol-0fedcba9876543210");
        ASSERT_STREQ(v[1].az, "us-east-1b");
        ASSERT_EQ(v[1].size_gib, 8);
        ASSERT_STREQ(v[1].state, "available");
        ASSERT_EQ(v[1].n_attachments, 0);
        ASSERT_EQ(v[1].n_tags, 0);
        ASSERT_STREQ(v[1].volume_type, "gp2");
        ASSERT_EQ(v[1].iops, 100);
        ASSERT_EQ(v[1].throughput, 0);
        ASSERT_FALSE(v[1].encrypted);
        ASSERT_NULL(v[1].kms_key_id);
        ASSERT_STREQ(v[1].snapshot_id, "snap-0123456789abcdef0");

        ec2_volumes_free(v, n);
        test_aws_done(&t);
}

static void test_describe_volumes_filters(void) {
        _cleanup_free_ char *name = NULL, *value = NULL;
        Ec2Volume *v = NULL;
        size_t n = 7;
        TestAws t;

        ASSERT_OK(setup(&t));
        fake_transport_add(t.fake, &(FakeReply) {
                                           .body = "<DescribeVolumesResponse><requestId>x</requestId><volumeSet/>"
                                                   "</DescribeVolumesResponse>",
                                   });

        ASSERT_OK(ec2_tag_filter_from_string("Cluster=kafka", &name, &value));
        ASSERT_STREQ(name, "tag:Cluster");
        ASSERT_STREQ(value, "kafka");
        ASSERT_OK(ec2_describe_volumes(t.client, NULL,
                                       (const Ec2Filter[]) {
                                               { name, (const char *const[]) { value, NULL } },
                                               { "availability-zone", (const char *const[]) { "us-east-1a", NULL } },
                                       },
                                       2, false, USEC_INFINITY, NULL, &v, &n));
        ASSERT_STREQ(t.fake->requests[0].body,
                     "Action=DescribeVolumes&Version=2016-11-15&Filter.1.Name=tag%3ACluster&Filter.1.Value.1=kafka"
                     "&Filter.2.Name=availability-zone&Filter.2.Value.1=us-east-1a");
        /* An empty volumeSet: no volumes, no array. */
        ASSERT_EQ(n, 0);
        ASSERT_NULL(v);
        test_aws_done(&t);
}

static void test_tag_filter_from_string(void) {
        _cleanup_free_ char *name = NULL, *value = NULL;

        ASSERT_OK(ec2_tag_filter_from_string("k=v=w", &name, &value));
        ASSERT_STREQ(name, "tag:k");
        ASSERT_STREQ(value, "v=w");
        free(name);
        free(value);
        ASSERT_OK(ec2_tag_filter_from_string("k=", &name, &value));
        ASSERT_STREQ(value, "");
        ASSERT_EQ(ec2_tag_filter_from_string("novalue", &name, &value), -EINVAL);
        ASSERT_EQ(ec2_tag_filter_from_string("=v", &name, &value), -EINVAL);
}

static void test_describe_volumes_paging(void) {
        Ec2Volume *v = NULL;
        size_t n = 0;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-describe-volumes-page1.xml", NULL);
        test_add_reply(t.fake, 200, "ec2-describe-volumes-page2.xml", NULL);

        ASSERT_OK(ec2_describe_volumes(t.client, NULL,
                                       (const Ec2Filter[]) { { "tag:Cluster", (const char *const[]) { "kafka", NULL } } },
                                       1, false, USEC_INFINITY, NULL, &v, &n));
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_STREQ(t.fake->requests[0].body,
                     "Action=DescribeVolumes&Version=2016-11-15&Filter.1.Name=tag%3ACluster&Filter.1.Value.1=kafka");
        ASSERT_STREQ(t.fake->requests[1].body,
                     "Action=DescribeVolumes&Version=2016-11-15&Filter.1.Name=tag%3ACluster&Filter.1.Value.1=kafka"
                     "&NextToken=eyJ2IjoiMiIsImMiOiJ%2B%2F%2BQUFBQT09In0%3D");
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(v[0].id, "vol-00000000000000001");
        ASSERT_STREQ(v[1].id, "vol-00000000000000002");
        ASSERT_STREQ(v[1].tags[0].value, "kafka");
        ec2_volumes_free(v, n);
        test_aws_done(&t);
}

static void test_paging_token_repeats(void) {
        Ec2Volume *v = NULL;
        size_t n = 0;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-describe-volumes-page1.xml", NULL);
        test_add_reply(t.fake, 200, "ec2-describe-volumes-page1.xml", NULL);
        ASSERT_EQ(ec2_describe_volumes(t.client, NULL, NULL, 0, false, USEC_INFINITY, NULL, &v, &n), -EBADMSG);
        ASSERT_NULL(v);
        ASSERT_EQ(t.fake->n_requests, 2);
        test_aws_done(&t);
}

static void test_describe_dry_run(void) {
        _cleanup_(aws_error_done) AwsError e = {};
        Ec2Volume *v = (Ec2Volume *) 1;
        size_t n = 7;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 412, "ec2-error-dry-run.xml", NULL);
        ASSERT_OK(ec2_describe_volumes(t.client, (const char *const[]) { "vol-1", NULL }, NULL, 0, true,
                                       USEC_INFINITY, &e, &v, &n));
        ASSERT_STREQ(t.fake->requests[0].body, "Action=DescribeVolumes&Version=2016-11-15&VolumeId.1=vol-1&DryRun=true");
        ASSERT_STREQ(e.code, "DryRunOperation");
        ASSERT_NULL(v);
        ASSERT_EQ(n, 0);
        test_aws_done(&t);
}

static void test_describe_errors(void) {
        _cleanup_(aws_error_done) AwsError e = {};
        Ec2Volume *v = NULL;
        size_t n = 0;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 400, "ec2-error-volume-not-found.xml", NULL);
        test_add_reply(t.fake, 403, "ec2-error-unauthorized.xml", NULL);
        /* The answer to another question. */
        fake_transport_add(t.fake, &(FakeReply) { .body = "<DescribeSubnetsResponse><subnetSet/></DescribeSubnetsResponse>" });
        /* A volume without its id. */
        fake_transport_add(t.fake, &(FakeReply) {
                                           .body = "<DescribeVolumesResponse><volumeSet><item><volumeId>vol-1</volumeId>"
                                                   "<tagSet><item><key>a</key><value>b</value></item></tagSet></item>"
                                                   "<item><size>5</size></item></volumeSet></DescribeVolumesResponse>",
                                   });
        fake_transport_add(t.fake, &(FakeReply) {
                                           .body = "<DescribeVolumesResponse><volumeSet><item><volumeId>vol-1</volumeId>"
                                                   "<size>-5</size></item></volumeSet></DescribeVolumesResponse>",
                                   });

        ASSERT_EQ(ec2_describe_volumes(t.client, (const char *const[]) { "vol-0123456789abcdef0", NULL }, NULL, 0, false,
                                       USEC_INFINITY, &e, &v, &n),
                  -ENOENT);
        ASSERT_STREQ(e.code, "InvalidVolume.NotFound");
        ASSERT_EQ(ec2_describe_volumes(t.client, NULL, NULL, 0, false, USEC_INFINITY, &e, &v, &n), -EACCES);
        ASSERT_STREQ(e.code, "UnauthorizedOperation");
        ASSERT_EQ(ec2_describe_volumes(t.client, NULL, NULL, 0, false, USEC_INFINITY, &e, &v, &n), -EBADMSG);
        ASSERT_EQ(ec2_describe_volumes(t.client, NULL, NULL, 0, false, USEC_INFINITY, &e, &v, &n), -EBADMSG);
        ASSERT_EQ(ec2_describe_volumes(t.client, NULL, NULL, 0, false, USEC_INFINITY, &e, &v, &n), -EBADMSG);
        ASSERT_NULL(v);
        ASSERT_EQ(n, 0);
        test_aws_done(&t);
}

static void test_attach_volume(void) {
        _cleanup_(ec2_volume_attachment_done) Ec2VolumeAttachment a = {};
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-attach-volume.xml", NULL);
        test_add_reply(t.fake, 412, "ec2-error-dry-run.xml", NULL);
        test_add_reply(t.fake, 403, "ec2-error-unauthorized.xml", NULL);
        /* What the lab's fake EC2 answers: only the status. */
        fake_transport_add(t.fake, &(FakeReply) { .body = "<AttachVolumeResponse><status>attaching</status></AttachVolumeResponse>" });

        ASSERT_OK(ec2_attach_volume(t.client, "vol-0123456789abcdef0", "i-0123456789abcdef0", "/dev/sdf", false,
                                    USEC_INFINITY, &e, &a));
        ASSERT_STREQ(t.fake->requests[0].body,
                     "Action=AttachVolume&Version=2016-11-15&Device=%2Fdev%2Fsdf&InstanceId=i-0123456789abcdef0"
                     "&VolumeId=vol-0123456789abcdef0");
        ASSERT_STREQ(a.volume_id, "vol-0123456789abcdef0");
        ASSERT_STREQ(a.instance_id, "i-0123456789abcdef0");
        ASSERT_STREQ(a.device, "/dev/sdf");
        ASSERT_STREQ(a.state, "attaching");
        ec2_volume_attachment_done(&a);

        ASSERT_OK(ec2_attach_volume(t.client, "vol-1", "i-1", "/dev/sdf", true, USEC_INFINITY, &e, &a));
        ASSERT_STREQ(t.fake->requests[1].body,
                     "Action=AttachVolume&Version=2016-11-15&Device=%2Fdev%2Fsdf&InstanceId=i-1&VolumeId=vol-1&DryRun=true");
        ASSERT_NULL(a.state);

        ASSERT_EQ(ec2_attach_volume(t.client, "vol-1", "i-1", "/dev/sdf", false, USEC_INFINITY, &e, &a), -EACCES);
        ASSERT_STREQ(e.code, "UnauthorizedOperation");

        ASSERT_OK(ec2_attach_volume(t.client, "vol-1", "i-1", "/dev/sdf", false, USEC_INFINITY, NULL, &a));
        ASSERT_STREQ(a.state, "attaching");
        ASSERT_NULL(a.device);

        ASSERT_EQ(ec2_attach_volume(t.client, "vol-1", NULL, "/dev/sdf", false, USEC_INFINITY, NULL, NULL), -EINVAL);
        ASSERT_EQ(t.fake->n_requests, 4);
        test_aws_done(&t);
}

static void test_detach_volume(void) {
        _cleanup_(ec2_volume_attachment_done) Ec2VolumeAttachment a = {};
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-detach-volume.xml", NULL);
        test_add_reply(t.fake, 200, "ec2-detach-volume.xml", NULL);

        ASSERT_OK(ec2_detach_volume(t.client, "vol-0123456789abcdef0", "i-0aaaaaaaaaaaaaaaa", true, false,
                                    USEC_INFINITY, NULL, &a));
        ASSERT_STREQ(t.fake->requests[0].body,
                     "Action=DetachVolume&Version=2016-11-15&VolumeId=vol-0123456789abcdef0"
                     "&InstanceId=i-0aaaaaaaaaaaaaaaa&Force=true");
        ASSERT_STREQ(a.state, "detaching");
        ASSERT_STREQ(a.instance_id, "i-0aaaaaaaaaaaaaaaa");

        ASSERT_OK(ec2_detach_volume(t.client, "vol-0123456789abcdef0", NULL, false, false, USEC_INFINITY, NULL, NULL));
        ASSERT_STREQ(t.fake->requests[1].body, "Action=DetachVolume&Version=2016-11-15&VolumeId=vol-0123456789abcdef0");
        test_aws_done(&t);
}

static void test_describe_network_interfaces(void) {
        Ec2NetworkInterface *e = NULL;
        size_t n = 0;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-describe-network-interfaces.xml", NULL);

        ASSERT_OK(ec2_describe_network_interfaces(
                t.client, (const char *const[]) { "eni-1", NULL },
                (const Ec2Filter[]) { { "tag:Name", (const char *const[]) { "a", "b", NULL } } }, 1, false,
                USEC_INFINITY, NULL, &e, &n));
        ASSERT_STREQ(t.fake->requests[0].body,
                     "Action=DescribeNetworkInterfaces&Version=2016-11-15&NetworkInterfaceId.1=eni-1"
                     "&Filter.1.Name=tag%3AName&Filter.1.Value.1=a&Filter.1.Value.2=b");
        ASSERT_EQ(n, 2);

        ASSERT_STREQ(e[0].id, "eni-0123456789abcdef0");
        ASSERT_STREQ(e[0].subnet_id, "subnet-0abc1234def567890");
        ASSERT_STREQ(e[0].vpc_id, "vpc-0abc1234def567890");
        ASSERT_STREQ(e[0].az, "us-east-1a");
        ASSERT_STREQ(e[0].mac, "02:a1:b2:c3:d4:e5");
        ASSERT_STREQ(e[0].private_ip, "10.0.3.17");
        ASSERT_STREQ(e[0].status, "in-use");
        ASSERT_STREQ(e[0].secondary_ips[0], "10.0.3.18");
        ASSERT_NULL(e[0].secondary_ips[1]);
        ASSERT_STREQ(e[0].attachment.id, "eni-attach-0123456789abcdef0");
        ASSERT_STREQ(e[0].attachment.instance_id, "i-0aaaaaaaaaaaaaaaa");
        ASSERT_EQ(e[0].attachment.device_index, 1);
        ASSERT_STREQ(e[0].attachment.status, "attached");
        ASSERT_EQ(e[0].n_tags, 1);
        ASSERT_STREQ(ec2_tags_get(e[0].tags, e[0].n_tags, "Name"), "kafka-1");

        ASSERT_STREQ(e[1].id, "eni-0fedcba9876543210");
        ASSERT_STREQ(e[1].status, "available");
        ASSERT_NULL(e[1].secondary_ips[0]);
        ASSERT_NULL(e[1].attachment.id);
        ASSERT_EQ(e[1].attachment.device_index, -1);
        ASSERT_EQ(e[1].n_tags, 0);

        ec2_network_interfaces_free(e, n);
        test_aws_done(&t);
}

static void test_attach_detach_network_interface(void) {
        _cleanup_free_ char *id = NULL;
        char *none = (char *) 1;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-attach-network-interface.xml", NULL);
        test_add_reply(t.fake, 412, "ec2-error-dry-run.xml", NULL);
        test_add_reply(t.fake, 200, "ec2-detach-network-interface.xml", NULL);
        fake_transport_add(t.fake, &(FakeReply) {
                                           .body = "<DetachNetworkInterfaceResponse><return>false</return>"
                                                   "</DetachNetworkInterfaceResponse>",
                                   });
        fake_transport_add(t.fake, &(FakeReply) { .body = "<AttachNetworkInterfaceResponse/>" });

        ASSERT_OK(ec2_attach_network_interface(t.client, "eni-1", "i-1", 1, 0, false, USEC_INFINITY, NULL, &id));
        ASSERT_STREQ(t.fake->requests[0].body,
                     "Action=AttachNetworkInterface&Version=2016-11-15&DeviceIndex=1&InstanceId=i-1"
                     "&NetworkCardIndex=0&NetworkInterfaceId=eni-1");
        ASSERT_STREQ(id, "eni-attach-0bbbbbbbbbbbbbbbb");

        ASSERT_OK(ec2_attach_network_interface(t.client, "eni-1", "i-1", 1, 0, true, USEC_INFINITY, NULL, &none));
        ASSERT_NULL(none);
        ASSERT_STREQ(t.fake->requests[1].body,
                     "Action=AttachNetworkInterface&Version=2016-11-15&DeviceIndex=1&InstanceId=i-1"
                     "&NetworkCardIndex=0&NetworkInterfaceId=eni-1&DryRun=true");

        ASSERT_OK(ec2_detach_network_interface(t.client, "eni-attach-1", true, false, USEC_INFINITY, NULL));
        ASSERT_STREQ(t.fake->requests[2].body,
                     "Action=DetachNetworkInterface&Version=2016-11-15&AttachmentId=eni-attach-1&Force=true");
        ASSERT_EQ(ec2_detach_network_interface(t.client, "eni-attach-1", false, false, USEC_INFINITY, NULL), -EREMOTEIO);
        ASSERT_STREQ(t.fake->requests[3].body, "Action=DetachNetworkInterface&Version=2016-11-15&AttachmentId=eni-attach-1");

        /* An attach that names no attachment did not happen as far as we know. */
        ASSERT_EQ(ec2_attach_network_interface(t.client, "eni-1", "i-1", 1, 0, false, USEC_INFINITY, NULL, NULL), -EBADMSG);
        test_aws_done(&t);
}

static void test_describe_subnets(void) {
        Ec2Subnet *s = NULL;
        size_t n = 0;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-describe-subnets.xml", NULL);
        ASSERT_OK(ec2_describe_subnets(t.client, (const char *const[]) { "subnet-1", NULL }, false, USEC_INFINITY,
                                       NULL, &s, &n));
        ASSERT_STREQ(t.fake->requests[0].body, "Action=DescribeSubnets&Version=2016-11-15&SubnetId.1=subnet-1");
        ASSERT_EQ(n, 1);
        ASSERT_STREQ(s[0].id, "subnet-0abc1234def567890");
        ASSERT_STREQ(s[0].cidr, "10.0.3.0/24");
        ASSERT_STREQ(s[0].az, "us-east-1a");
        ASSERT_STREQ(s[0].vpc_id, "vpc-0abc1234def567890");
        ec2_subnets_free(s, n);
        test_aws_done(&t);
}

static void test_describe_instances(void) {
        Ec2Instance *i = NULL;
        size_t n = 0;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-describe-instances.xml", NULL);
        ASSERT_OK(ec2_describe_instances(t.client, (const char *const[]) { "i-1", "i-2", NULL }, NULL, 0, false,
                                         USEC_INFINITY, NULL, &i, &n));
        ASSERT_STREQ(t.fake->requests[0].body,
                     "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1&InstanceId.2=i-2");
        /* Two reservations, one instance each, flattened. */
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(i[0].id, "i-0aaaaaaaaaaaaaaaa");
        ASSERT_STREQ(i[0].state, "terminated");
        ASSERT_STREQ(i[0].az, "us-east-1a");
        ASSERT_NULL(i[0].private_ip);
        ASSERT_STREQ(ec2_tags_get(i[0].tags, i[0].n_tags, "aws:autoscaling:groupName"), "kafka-1");
        ASSERT_STREQ(i[1].id, "i-0123456789abcdef0");
        ASSERT_STREQ(i[1].state, "running");
        ASSERT_STREQ(i[1].private_ip, "10.0.3.5");
        ASSERT_STREQ(i[1].subnet_id, "subnet-0abc1234def567890");
        ASSERT_EQ(i[1].n_tags, 2);
        ec2_instances_free(i, n);
        test_aws_done(&t);
}

static void test_describe_instances_paging(void) {
        Ec2Instance *i = NULL;
        size_t n = 0;
        TestAws t;

        ASSERT_OK(setup(&t));
        fake_transport_add(t.fake, &(FakeReply) {
                                           .body = "<DescribeInstancesResponse><reservationSet><item><instancesSet><item>"
                                                   "<instanceId>i-1</instanceId><instanceState><name>stopped</name>"
                                                   "</instanceState></item></instancesSet></item></reservationSet>"
                                                   "<nextToken>T2</nextToken></DescribeInstancesResponse>",
                                   });
        fake_transport_add(t.fake, &(FakeReply) {
                                           .body = "<DescribeInstancesResponse><reservationSet><item><instancesSet><item>"
                                                   "<instanceId>i-2</instanceId><instanceState><name>running</name>"
                                                   "</instanceState></item></instancesSet></item></reservationSet>"
                                                   "<nextToken/></DescribeInstancesResponse>",
                                   });
        ASSERT_OK(ec2_describe_instances(t.client, NULL,
                                         (const Ec2Filter[]) { { "tag:aws:autoscaling:groupName",
                                                                 (const char *const[]) { "kafka-1", NULL } } },
                                         1, true, USEC_INFINITY, NULL, &i, &n));
        ASSERT_STREQ(t.fake->requests[1].body,
                     "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3Aaws%3Aautoscaling%3AgroupName"
                     "&Filter.1.Value.1=kafka-1&DryRun=true&NextToken=T2");
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(i[0].state, "stopped");
        ASSERT_STREQ(i[1].id, "i-2");
        ec2_instances_free(i, n);
        test_aws_done(&t);
}

static void test_create_tags(void) {
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-create-tags.xml", NULL);
        test_add_reply(t.fake, 412, "ec2-error-dry-run.xml", NULL);

        ASSERT_OK(ec2_create_tags(t.client, (const char *const[]) { "vol-1", NULL },
                                  (const Ec2Tag[]) { { (char *) "nodeagent:initialized", (char *) "ext4" } }, 1, false,
                                  USEC_INFINITY, NULL));
        ASSERT_STREQ(t.fake->requests[0].body,
                     "Action=CreateTags&Version=2016-11-15&ResourceId.1=vol-1&Tag.1.Key=nodeagent%3Ainitialized"
                     "&Tag.1.Value=ext4");
        ASSERT_OK(ec2_create_tags(t.client, (const char *const[]) { "vol-1", "eni-1", NULL },
                                  (const Ec2Tag[]) { { (char *) "a", NULL }, { (char *) "b", (char *) "c d" } }, 2, true,
                                  USEC_INFINITY, NULL));
        ASSERT_STREQ(t.fake->requests[1].body,
                     "Action=CreateTags&Version=2016-11-15&ResourceId.1=vol-1&ResourceId.2=eni-1&Tag.1.Key=a"
                     "&Tag.1.Value=&Tag.2.Key=b&Tag.2.Value=c%20d&DryRun=true");
        ASSERT_EQ(ec2_create_tags(t.client, (const char *const[]) { NULL }, NULL, 0, false, USEC_INFINITY, NULL), -EINVAL);
        test_aws_done(&t);
}

static void test_describe_snapshots(void) {
        Ec2Snapshot *snaps = NULL;
        const char *values[] = { "kafka-1", NULL };
        size_t n = 0;
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-describe-snapshots.xml", NULL);
        ASSERT_OK(ec2_describe_snapshots(t.client, NULL, &(Ec2Filter) { .name = "tag:Name", .values = values }, 1,
                                         false, USEC_INFINITY, NULL, &snaps, &n));
        /* Only this account's snapshots are asked for. */
        ASSERT_STREQ(t.fake->requests[0].body,
                     "Action=DescribeSnapshots&Version=2016-11-15&Owner.1=self&Filter.1.Name=tag%3AName"
                     "&Filter.1.Value.1=kafka-1");
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(snaps[0].id, "snap-0123456789abcdef0");
        ASSERT_STREQ(snaps[0].volume_id, "vol-0123456789abcdef0");
        ASSERT_STREQ(snaps[0].state, "completed");
        ASSERT_STREQ(snaps[0].start_time, "2024-01-11T03:00:00.000Z");
        ASSERT_EQ(snaps[0].size_gib, 20);
        ASSERT_TRUE(snaps[0].encrypted);
        ASSERT_NOT_NULL(snaps[0].kms_key_id);
        ASSERT_STREQ(ec2_tags_get(snaps[0].tags, snaps[0].n_tags, "Name"), "kafka-1");
        ASSERT_STREQ(snaps[1].state, "pending");
        ASSERT_FALSE(snaps[1].encrypted);
        ASSERT_NULL(snaps[1].kms_key_id);
        snaps = ec2_snapshots_free(snaps, n);
        test_aws_done(&t);
}

static void test_create_volume(void) {
        _cleanup_(ec2_volume_done) Ec2Volume v = {};
        const Ec2Tag tags[] = {
                { (char *) "Name", (char *) "kafka-1" },
                { (char *) "nodeagent:restored-from", (char *) "snap-0123456789abcdef0" },
        };
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-create-volume.xml", NULL);
        ASSERT_OK(ec2_create_volume(t.client,
                                    &(Ec2NewVolume) {
                                            .availability_zone = "us-east-1b",
                                            .snapshot_id = "snap-0123456789abcdef0",
                                            .volume_type = "gp3",
                                            .iops = 3000,
                                            .throughput = 125,
                                            .encrypted = true,
                                            .tags = tags,
                                            .n_tags = 2,
                                            .client_token = "nodeagent-kafka-1-data-i-1",
                                    },
                                    false, USEC_INFINITY, NULL, &v));
        ASSERT_STREQ(t.fake->requests[0].body,
                     "Action=CreateVolume&Version=2016-11-15&AvailabilityZone=us-east-1b"
                     "&SnapshotId=snap-0123456789abcdef0&VolumeType=gp3&Iops=3000&Throughput=125&Encrypted=true"
                     "&TagSpecification.1.ResourceType=volume&TagSpecification.1.Tag.1.Key=Name"
                     "&TagSpecification.1.Tag.1.Value=kafka-1"
                     "&TagSpecification.1.Tag.2.Key=nodeagent%3Arestored-from"
                     "&TagSpecification.1.Tag.2.Value=snap-0123456789abcdef0"
                     "&ClientToken=nodeagent-kafka-1-data-i-1");
        ASSERT_STREQ(v.id, "vol-0aaaabbbbccccdddd");
        ASSERT_STREQ(v.state, "creating");
        ASSERT_STREQ(v.az, "us-east-1b");
        ASSERT_EQ(v.size_gib, 20);
        ASSERT_STREQ(ec2_tags_get(v.tags, v.n_tags, "nodeagent:restored-from"), "snap-0123456789abcdef0");
        test_aws_done(&t);
}

static void test_create_network_interface(void) {
        _cleanup_(ec2_network_interface_done) Ec2NetworkInterface e = {};
        char *groups[] = { (char *) "sg-0123456789abcdef0", NULL };
        TestAws t;

        ASSERT_OK(setup(&t));
        test_add_reply(t.fake, 200, "ec2-create-network-interface.xml", NULL);
        ASSERT_OK(ec2_create_network_interface(t.client,
                                               &(Ec2NewNetworkInterface) {
                                                       .subnet_id = "subnet-0bbbbbbbbbbbbbbbb",
                                                       .description = "kafka-1 fixed IP",
                                                       .security_group_ids = groups,
                                                       .client_token = "tok",
                                               },
                                               false, USEC_INFINITY, NULL, &e));
        ASSERT_STREQ(t.fake->requests[0].body,
                     "Action=CreateNetworkInterface&Version=2016-11-15&SubnetId=subnet-0bbbbbbbbbbbbbbbb"
                     "&Description=kafka-1%20fixed%20IP&SecurityGroupId.1=sg-0123456789abcdef0&ClientToken=tok");
        ASSERT_STREQ(e.id, "eni-0bbbbccccddddeeee");
        ASSERT_STREQ(e.private_ip, "10.0.2.23");
        ASSERT_STREQ(e.az, "us-east-1b");
        ASSERT_STREQ(e.mac, "02:1a:80:41:52:9c");
        test_aws_done(&t);
}

int main(int argc, char *argv[]) {
        if (argc > 1)
                test_replies_dir = argv[1];

        RUN_TEST(test_describe_volumes);
        RUN_TEST(test_describe_volumes_filters);
        RUN_TEST(test_tag_filter_from_string);
        RUN_TEST(test_describe_volumes_paging);
        RUN_TEST(test_paging_token_repeats);
        RUN_TEST(test_describe_dry_run);
        RUN_TEST(test_describe_errors);
        RUN_TEST(test_attach_volume);
        RUN_TEST(test_detach_volume);
        RUN_TEST(test_describe_network_interfaces);
        RUN_TEST(test_attach_detach_network_interface);
        RUN_TEST(test_describe_subnets);
        RUN_TEST(test_describe_instances);
        RUN_TEST(test_describe_instances_paging);
        RUN_TEST(test_create_tags);
        RUN_TEST(test_describe_snapshots);
        RUN_TEST(test_create_volume);
        RUN_TEST(test_create_network_interface);
        return tests_finish();
}
