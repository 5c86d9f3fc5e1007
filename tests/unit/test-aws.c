/* SPDX-License-Identifier: Apache-2.0 */
#include "aws-test-util.h"
#include "aws.h"
#include "tests.h"

/* Computed with botocore.auth.SigV4Auth (canonical_request, string_to_sign,
 * signature) for the same keys, date, headers and body: an independent
 * check of the whole request as the client builds it. */
#define TEST_SIGNATURE_QUERY "0aa06fe17c17ae9de8363f535268c11f73738b74301bfa761fdd60a022543efd"
#define TEST_SIGNATURE_REST_GET "ce4dd1fa60ee49dc8f5147ed7d0d149b724ba696db325776cc944be455306e36"

#define EC2_OK_BODY "<DescribeVolumesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">" \
        "<requestId>r</requestId><volumeSet/></DescribeVolumesResponse>"

static const char *const endpoint_variables[] = {
        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_ROUTE_53",
        "AWS_ENDPOINT_URL_AUTO_SCALING", "AWS_ENDPOINT_URL_CLOUDFORMATION",
};

static void unset_endpoints(void) {
        for (size_t i = 0; i < ELEMENTSOF(endpoint_variables); i++)
                unsetenv(endpoint_variables[i]);
}

/* One EC2 DescribeVolumes call through the client, params optional. */
static int call_ec2(TestAws *t, const AwsParams *params, usec_t deadline, AwsError *error, XmlDoc **reply) {
        return aws_query_call(t->client, AWS_SERVICE_EC2, "DescribeVolumes", params, deadline, error, reply);
}

static void test_endpoints_default(void) {
        _cleanup_(aws_client_freep) AwsClient *c = NULL, *eu = NULL, *cn = NULL, *gov = NULL;
        TestCredentials creds;
        FakeTransport *f = fake_transport_new();

        unset_endpoints();
        test_credentials_init(&creds, NULL);

        ASSERT_OK(aws_client_new(&f->transport, &creds.provider, "us-east-1", &c));
        ASSERT_STREQ(aws_client_endpoint(c, AWS_SERVICE_EC2), "https://ec2.us-east-1.amazonaws.com");
        ASSERT_STREQ(aws_client_endpoint(c, AWS_SERVICE_ROUTE53), "https://route53.amazonaws.com");
        ASSERT_STREQ(aws_client_endpoint(c, AWS_SERVICE_AUTOSCALING), "https://autoscaling.us-east-1.amazonaws.com");
        ASSERT_STREQ(aws_client_endpoint(c, AWS_SERVICE_CLOUDFORMATION),
                     "https://cloudformation.us-east-1.amazonaws.com");
        ASSERT_STREQ(aws_client_signing_region(c, AWS_SERVICE_EC2), "us-east-1");
        ASSERT_STREQ(aws_client_region(c), "us-east-1");

        ASSERT_OK(aws_client_new(&f->transport, &creds.provider, "eu-west-1", &eu));
        ASSERT_STREQ(aws_client_endpoint(eu, AWS_SERVICE_EC2), "https://ec2.eu-west-1.amazonaws.com");
        ASSERT_STREQ(aws_client_endpoint(eu, AWS_SERVICE_ROUTE53), "https://route53.amazonaws.com");
        /* Route 53 is global and always signed for us-east-1. */
        ASSERT_STREQ(aws_client_signing_region(eu, AWS_SERVICE_ROUTE53), "us-east-1");
        ASSERT_STREQ(aws_client_signing_region(eu, AWS_SERVICE_EC2), "eu-west-1");

        ASSERT_OK(aws_client_new(&f->transport, &creds.provider, "cn-north-1", &cn));
        ASSERT_STREQ(aws_client_endpoint(cn, AWS_SERVICE_EC2), "https://ec2.cn-north-1.amazonaws.com.cn");
        ASSERT_STREQ(aws_client_endpoint(cn, AWS_SERVICE_ROUTE53), "https://route53.amazonaws.com.cn");
        ASSERT_STREQ(aws_client_signing_region(cn, AWS_SERVICE_ROUTE53), "cn-northwest-1");

        ASSERT_OK(aws_client_new(&f->transport, &creds.provider, "us-gov-west-1", &gov));
        ASSERT_STREQ(aws_client_endpoint(gov, AWS_SERVICE_ROUTE53), "https://route53.us-gov.amazonaws.com");

        fake_transport_free(f);
        test_credentials_done(&creds);
}

static void test_endpoints_environment(void) {
        _cleanup_(aws_client_freep) AwsClient *c = NULL;
        AwsClient *bad = NULL;
        TestCredentials creds;
        FakeTransport *f = fake_transport_new();

        unset_endpoints();
        test_credentials_init(&creds, NULL);

        /* The service's own variable wins over the general one; an empty
         * variable counts as unset; a trailing slash is dropped. */
        setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/", 1);
        setenv("AWS_ENDPOINT_URL_EC2", "http://localhost:5000", 1);
        setenv("AWS_ENDPOINT_URL_ROUTE_53", "https://r53.example.test:8443/base/", 1);
        setenv("AWS_ENDPOINT_URL_AUTO_SCALING", "", 1);
        ASSERT_OK(aws_client_new(&f->transport, &creds.provider, "eu-central-1", &c));
        ASSERT_STREQ(aws_client_endpoint(c, AWS_SERVICE_EC2), "http://localhost:5000");
        ASSERT_STREQ(aws_client_endpoint(c, AWS_SERVICE_ROUTE53), "https://r53.example.test:8443/base");
        ASSERT_STREQ(aws_client_endpoint(c, AWS_SERVICE_AUTOSCALING), "http://127.0.0.1:4566");
        ASSERT_STREQ(aws_client_endpoint(c, AWS_SERVICE_CLOUDFORMATION), "http://127.0.0.1:4566");
        ASSERT_STREQ(aws_client_signing_region(c, AWS_SERVICE_ROUTE53), "us-east-1");
        ASSERT_STREQ(aws_client_signing_region(c, AWS_SERVICE_EC2), "eu-central-1");

        /* What cannot be an endpoint fails the construction. */
        unset_endpoints();
        setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "ftp://example.test", 1);
        ASSERT_EQ(aws_client_new(&f->transport, &creds.provider, "us-east-1", &bad), -EINVAL);
        setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "http://example.test/?x=1", 1);
        ASSERT_EQ(aws_client_new(&f->transport, &creds.provider, "us-east-1", &bad), -EINVAL);
        setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "http://", 1);
        ASSERT_EQ(aws_client_new(&f->transport, &creds.provider, "us-east-1", &bad), -EINVAL);
        setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "example.test", 1);
        ASSERT_EQ(aws_client_new(&f->transport, &creds.provider, "us-east-1", &bad), -EINVAL);
        ASSERT_NULL(bad);
        unset_endpoints();

        /* And so does a region that is not one. */
        ASSERT_EQ(aws_client_new(&f->transport, &creds.provider, "", &bad), -EINVAL);
        ASSERT_EQ(aws_client_new(&f->transport, &creds.provider, "US East", &bad), -EINVAL);
        ASSERT_EQ(aws_client_new(&f->transport, &creds.provider, NULL, &bad), -EINVAL);
        ASSERT_EQ(aws_client_set_endpoint(c, AWS_SERVICE_EC2, "nonsense"), -EINVAL);
        ASSERT_STREQ(aws_client_endpoint(c, AWS_SERVICE_EC2), "http://localhost:5000");

        fake_transport_free(f);
        test_credentials_done(&creds);
}

static void test_uri_encode(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *form = NULL;
        _cleanup_(aws_params_done) AwsParams p = {};

        ASSERT_OK(aws_uri_encode("a b+c/~d*e=f&g:h\xc3\xa9", &a));
        ASSERT_STREQ(a, "a%20b%2Bc%2F~d%2Ae%3Df%26g%3Ah%C3%A9");
        ASSERT_OK(aws_uri_encode("AZaz09-_.~", &b));
        ASSERT_STREQ(b, "AZaz09-_.~");

        ASSERT_OK(aws_params_add(&p, "Filter.1.Name", "tag:Name"));
        ASSERT_OK(aws_params_addf(&p, "kafka 1", "Filter.%d.Value.%d", 1, 1));
        ASSERT_EQ(aws_params_add(&p, "", "x"), -EINVAL);
        ASSERT_OK(aws_params_encode(&p, &form));
        ASSERT_STREQ(form, "Filter.1.Name=tag%3AName&Filter.1.Value.1=kafka%201");
}

static void test_query_request(void) {
        _cleanup_(aws_params_done) AwsParams params = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        const FakeRequest *req;
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_add(t.fake, &(FakeReply) { .method = "POST", .url = "/", .body = EC2_OK_BODY });

        ASSERT_OK(aws_params_add(&params, "Filter.1.Name", "tag:Cluster"));
        ASSERT_OK(aws_params_add(&params, "Filter.1.Value.1", "kafka 1&2=3"));
        ASSERT_OK(call_ec2(&t, &params, USEC_INFINITY, NULL, &reply));
        ASSERT_STREQ(xml_doc_root(reply)->name, "DescribeVolumesResponse");

        ASSERT_EQ(t.fake->n_requests, 1);
        req = &t.fake->requests[0];
        ASSERT_STREQ(req->method, "POST");
        ASSERT_STREQ(req->url, "https://ec2.us-east-1.amazonaws.com/");
        ASSERT_STREQ(req->body, "Action=DescribeVolumes&Version=2016-11-15&Filter.1.Name=tag%3ACluster"
                                "&Filter.1.Value.1=kafka%201%262%3D3");
        ASSERT_STREQ(fake_request_header(req, "Host"), "ec2.us-east-1.amazonaws.com");
        ASSERT_STREQ(fake_request_header(req, "X-Amz-Date"), "20240112T080000Z");
        ASSERT_STREQ(fake_request_header(req, "Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
        ASSERT_NULL(fake_request_header(req, "X-Amz-Security-Token"));
        /* The signature as botocore computes it for this very request
         * (botocore.auth.SigV4Auth, same keys, date and headers). */
        ASSERT_STREQ(fake_request_header(req, "Authorization"),
                     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240112/us-east-1/ec2/aws4_request, "
                     "SignedHeaders=content-type;host;x-amz-date, "
                     "Signature=" TEST_SIGNATURE_QUERY);
        ASSERT_TRUE(req->timeout > 0 && req->timeout <= 30 * USEC_PER_SEC);
        ASSERT_EQ(t.fake->mismatches, 0);

        test_aws_done(&t);
}

static void test_query_request_session_token(void) {
        const FakeRequest *req;
        const char *authz;
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, "FQoGZXIvYXdzEXAMPLETOKEN"));
        fake_transport_add(t.fake, &(FakeReply) { .body = "<CreateTagsResponse><return>true</return></CreateTagsResponse>" });

        ASSERT_OK(aws_query_call(t.client, AWS_SERVICE_EC2, "CreateTags", NULL, USEC_INFINITY, NULL, NULL));
        req = &t.fake->requests[0];
        ASSERT_STREQ(req->body, "Action=CreateTags&Version=2016-11-15");
        ASSERT_STREQ(fake_request_header(req, "X-Amz-Security-Token"), "FQoGZXIvYXdzEXAMPLETOKEN");
        authz = fake_request_header(req, "Authorization");
        ASSERT_NOT_NULL(authz);
        ASSERT_NOT_NULL(strstr(authz, "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="));

        test_aws_done(&t);
}

static void test_query_versions(void) {
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_set_fallback(t.fake, &(FakeReply) { .body = "<R/>" });

        ASSERT_OK(aws_query_call(t.client, AWS_SERVICE_AUTOSCALING, "DescribeAutoScalingInstances", NULL,
                                 USEC_INFINITY, NULL, NULL));
        ASSERT_OK(aws_query_call(t.client, AWS_SERVICE_CLOUDFORMATION, "SignalResource", NULL, USEC_INFINITY,
                                 NULL, NULL));
        ASSERT_EQ(aws_query_call(t.client, AWS_SERVICE_ROUTE53, "X", NULL, USEC_INFINITY, NULL, NULL), -EINVAL);

        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_STREQ(t.fake->requests[0].url, "https://autoscaling.us-east-1.amazonaws.com/");
        ASSERT_STREQ(t.fake->requests[0].body, "Action=DescribeAutoScalingInstances&Version=2011-01-01");
        ASSERT_NOT_NULL(strstr(fake_request_header(&t.fake->requests[0], "Authorization"),
                               "/us-east-1/autoscaling/aws4_request"));
        ASSERT_STREQ(t.fake->requests[1].url, "https://cloudformation.us-east-1.amazonaws.com/");
        ASSERT_STREQ(t.fake->requests[1].body, "Action=SignalResource&Version=2010-05-15");
        ASSERT_NOT_NULL(strstr(fake_request_header(&t.fake->requests[1], "Authorization"),
                               "/us-east-1/cloudformation/aws4_request"));

        test_aws_done(&t);
}

static void test_endpoint_host_and_base(void) {
        TestAws t;

        unset_endpoints();
        setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:8080/fake/", 1);
        setenv("AWS_ENDPOINT_URL_ROUTE_53", "https://route53.example.test:443", 1);
        ASSERT_OK(test_aws_init(&t, NULL));
        unset_endpoints();
        fake_transport_set_fallback(t.fake, &(FakeReply) { .body = "<R/>" });

        ASSERT_OK(call_ec2(&t, NULL, USEC_INFINITY, NULL, NULL));
        ASSERT_STREQ(t.fake->requests[0].url, "http://127.0.0.1:8080/fake/");
        ASSERT_STREQ(fake_request_header(&t.fake->requests[0], "Host"), "127.0.0.1:8080");

        ASSERT_OK(aws_rest_xml_call(t.client, AWS_SERVICE_ROUTE53, "GET", "/2013-04-01/change/C1", NULL, NULL,
                                    USEC_INFINITY, NULL, NULL));
        ASSERT_STREQ(t.fake->requests[1].url, "https://route53.example.test:443/2013-04-01/change/C1");
        /* The default port is left out of Host, as curl and botocore do. */
        ASSERT_STREQ(fake_request_header(&t.fake->requests[1], "Host"), "route53.example.test");

        test_aws_done(&t);
}

static void test_rest_xml_request(void) {
        _cleanup_(aws_params_done) AwsParams q = {};
        const FakeRequest *req;
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_set_fallback(t.fake, &(FakeReply) { .body = "<R/>" });

        ASSERT_OK(aws_params_add(&q, "name", "*.cluster.internal."));
        ASSERT_OK(aws_params_add(&q, "type", "A"));
        ASSERT_OK(aws_rest_xml_call(t.client, AWS_SERVICE_ROUTE53, "GET", "/2013-04-01/hostedzone/Z1/rrset", &q,
                                    NULL, USEC_INFINITY, NULL, NULL));
        req = &t.fake->requests[0];
        ASSERT_STREQ(req->method, "GET");
        ASSERT_STREQ(req->url, "https://route53.amazonaws.com/2013-04-01/hostedzone/Z1/rrset?name=%2A.cluster.internal.&type=A");
        ASSERT_NULL(req->body);
        ASSERT_NULL(fake_request_header(req, "Content-Type"));
        ASSERT_STREQ(fake_request_header(req, "Authorization"),
                     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240112/us-east-1/route53/aws4_request, "
                     "SignedHeaders=host;x-amz-date, Signature=" TEST_SIGNATURE_REST_GET);

        ASSERT_OK(aws_rest_xml_call(t.client, AWS_SERVICE_ROUTE53, "POST", "/2013-04-01/hostedzone/Z1/rrset/", NULL,
                                    "<x>1</x>", USEC_INFINITY, NULL, NULL));
        req = &t.fake->requests[1];
        ASSERT_STREQ(req->method, "POST");
        ASSERT_STREQ(req->url, "https://route53.amazonaws.com/2013-04-01/hostedzone/Z1/rrset/");
        ASSERT_STREQ(req->body, "<x>1</x>");
        ASSERT_EQ(req->body_size, 8);

        ASSERT_EQ(aws_rest_xml_call(t.client, AWS_SERVICE_ROUTE53, "GET", "no-slash", NULL, NULL, USEC_INFINITY,
                                    NULL, NULL),
                  -EINVAL);
        test_aws_done(&t);
}

static void test_error_parse(void) {
        _cleanup_free_ char *ec2 = test_reply("ec2-error-unauthorized.xml");
        _cleanup_free_ char *query = test_reply("query-error-expired-token.xml");
        _cleanup_free_ char *r53 = test_reply("route53-error-no-such-zone.xml");
        _cleanup_free_ char *batch = test_reply("route53-error-invalid-change-batch.xml");
        _cleanup_(aws_error_done) AwsError e = {};

        ASSERT_OK(aws_error_parse(403, ec2, strlen(ec2), &e));
        ASSERT_EQ(e.http_status, 403);
        ASSERT_STREQ(e.code, "UnauthorizedOperation");
        ASSERT_TRUE(startswith(e.message, "You are not authorized to perform this operation."));
        ASSERT_STREQ(e.request_id, "b5ea1b0e-a0c3-4bd6-a2b4-fb1c7f1cc5e1");

        ASSERT_OK(aws_error_parse(403, query, strlen(query), &e));
        ASSERT_STREQ(e.code, "ExpiredToken");
        ASSERT_STREQ(e.message, "The security token included in the request is expired");
        ASSERT_STREQ(e.request_id, "e4b5c8a0-1d2e-4f3a-9b8c-7d6e5f4a3b2c");

        ASSERT_OK(aws_error_parse(404, r53, strlen(r53), &e));
        ASSERT_EQ(e.http_status, 404);
        ASSERT_STREQ(e.code, "NoSuchHostedZone");
        ASSERT_STREQ(e.message, "No hosted zone found with ID: Z0123456789ABCDEFGHIJ");
        ASSERT_STREQ(e.request_id, "8d2b9a8e-0c7f-4b6a-9e5d-4c3b2a1f0e9d");

        ASSERT_OK(aws_error_parse(400, batch, strlen(batch), &e));
        ASSERT_STREQ(e.code, "InvalidChangeBatch");
        ASSERT_STREQ(e.message,
                     "Tried to delete resource record set [name='kafka.cluster.internal.', type='A'] but the values "
                     "provided do not match the current values; Tried to create resource record set "
                     "[name='kafka.cluster.internal.', type='A'] but it already exists");
        ASSERT_STREQ(e.request_id, "b25f48e8-84fd-11e6-80d9-574e0c4664cb");

        /* Not XML: an error, and e untouched. */
        ASSERT_EQ(aws_error_parse(502, "<html>Bad Gateway", 17, &e), -EBADMSG);
        ASSERT_STREQ(e.code, "InvalidChangeBatch");

        /* XML that names no error. */
        ASSERT_OK(aws_error_parse(500, "<Other/>", 8, &e));
        ASSERT_EQ(e.http_status, 500);
        ASSERT_NULL(e.code);
        ASSERT_NULL(e.message);
}

/* One transient failure, then the success: exactly one retry, after a
 * backoff within the first ceiling. */
static void check_one_retry(const FakeReply *failure, usec_t ceiling) {
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        ASSERT_OK(test_aws_init(&t, NULL));
        t.clock.random = UINT64_MAX;
        fake_transport_add(t.fake, failure);
        fake_transport_add(t.fake, &(FakeReply) { .body = EC2_OK_BODY });

        ASSERT_OK(call_ec2(&t, NULL, test_aws_deadline(&t, 60 * USEC_PER_SEC), &e, &reply));
        ASSERT_NOT_NULL(reply);
        /* A success after a retry reports no error. */
        ASSERT_NULL(e.code);
        ASSERT_EQ(e.http_status, 0);
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_EQ(t.clock.n_sleeps, 1);
        ASSERT_TRUE(t.clock.sleeps[0] <= ceiling);
        ASSERT_EQ(fake_transport_pending(t.fake), 0);

        test_aws_done(&t);
}

static void test_retry_transient(void) {
        _cleanup_free_ char *limit = test_reply("ec2-error-request-limit.xml");
        _cleanup_free_ char *internal = test_reply("ec2-error-internal.xml");
        _cleanup_free_ char *unavailable = test_reply("query-error-service-unavailable.xml");
        _cleanup_free_ char *throttling = test_reply("query-error-throttling.xml");
        _cleanup_free_ char *prior = test_reply("route53-error-prior-request.xml");
        const usec_t base = 200 * USEC_PER_MSEC, throttle = 500 * USEC_PER_MSEC;

        unset_endpoints();
        check_one_retry(&(FakeReply) { .error = -ECONNRESET }, base);
        check_one_retry(&(FakeReply) { .error = -ECONNREFUSED }, base);
        check_one_retry(&(FakeReply) { .error = -ETIMEDOUT }, base);
        check_one_retry(&(FakeReply) { .error = -EPROTO }, base);
        check_one_retry(&(FakeReply) { .error = -EHOSTUNREACH }, base);
        check_one_retry(&(FakeReply) { .status = 503, .body = limit }, throttle);
        check_one_retry(&(FakeReply) { .status = 400, .body = throttling }, throttle);
        check_one_retry(&(FakeReply) { .status = 400, .body = prior }, throttle);
        check_one_retry(&(FakeReply) { .status = 500, .body = internal }, base);
        check_one_retry(&(FakeReply) { .status = 503, .body = unavailable }, base);
        check_one_retry(&(FakeReply) { .status = 502, .body = "<html><body>Bad Gateway</body></html" }, base);
        check_one_retry(&(FakeReply) { .status = 504, .body = NULL }, base);
        /* A 200 whose body is cut short or not XML. */
        check_one_retry(&(FakeReply) { .body = "<DescribeVolumesResponse><volumeSet><item>" }, base);
        check_one_retry(&(FakeReply) { .body = "" }, base);
}

/* aws_client_return_throttling(): a throttled call of that service comes
 * back after one attempt, with the code; other failures and other services
 * keep their attempts. */
static void test_throttling_returned(void) {
        _cleanup_free_ char *limit = test_reply("ec2-error-request-limit.xml");
        _cleanup_free_ char *internal = test_reply("ec2-error-internal.xml");
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        ASSERT_FALSE(aws_client_return_throttling(t.client, AWS_SERVICE_EC2, true));
        fake_transport_set_fallback(t.fake, &(FakeReply) { .status = 503, .body = limit });
        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL), -EREMOTEIO);
        ASSERT_STREQ(e.code, "RequestLimitExceeded");
        ASSERT_EQ(t.fake->n_requests, 1);
        ASSERT_EQ(t.clock.n_sleeps, 0);
        test_aws_done(&t);

        /* A 500 is still tried again. */
        ASSERT_OK(test_aws_init(&t, NULL));
        (void) aws_client_return_throttling(t.client, AWS_SERVICE_EC2, true);
        fake_transport_add(t.fake, &(FakeReply) { .status = 500, .body = internal });
        fake_transport_add(t.fake, &(FakeReply) { .body = EC2_OK_BODY });
        ASSERT_OK(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL));
        ASSERT_EQ(t.fake->n_requests, 2);
        test_aws_done(&t);

        /* Another service's setting, or the setting turned off again: the
         * usual attempts. */
        ASSERT_OK(test_aws_init(&t, NULL));
        (void) aws_client_return_throttling(t.client, AWS_SERVICE_ROUTE53, true);
        ASSERT_TRUE(aws_client_return_throttling(t.client, AWS_SERVICE_ROUTE53, true));
        fake_transport_add(t.fake, &(FakeReply) { .status = 503, .body = limit });
        fake_transport_add(t.fake, &(FakeReply) { .body = EC2_OK_BODY });
        ASSERT_OK(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL));
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_TRUE(aws_client_return_throttling(t.client, AWS_SERVICE_ROUTE53, false));
        ASSERT_FALSE(aws_client_return_throttling(t.client, AWS_SERVICE_ROUTE53, false));
        test_aws_done(&t);
}

static void test_retry_backoff_grows_and_ends(void) {
        _cleanup_free_ char *limit = test_reply("ec2-error-request-limit.xml");
        _cleanup_(aws_error_done) AwsError e = {};
        XmlDoc *reply = NULL;
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        /* Waits that are not all zero, so that the ceilings are checked. */
        t.clock.random = UINT64_MAX - 1;
        fake_transport_set_fallback(t.fake, &(FakeReply) { .status = 503, .body = limit });

        /* Throttled on every attempt: the attempts run out, bounded. */
        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, &reply), -EREMOTEIO);
        ASSERT_NULL(reply);
        ASSERT_EQ(t.fake->n_requests, 8);
        ASSERT_EQ(t.clock.n_sleeps, 7);
        ASSERT_STREQ(e.code, "RequestLimitExceeded");
        ASSERT_EQ(e.http_status, 503);
        for (unsigned i = 0; i < 7; i++) {
                usec_t ceiling = MIN((usec_t) 500 * USEC_PER_MSEC << i, 5 * USEC_PER_SEC);

                ASSERT_TRUE(t.clock.sleeps[i] <= ceiling);
        }
        ASSERT_TRUE(t.clock.sleeps[6] <= 5 * USEC_PER_SEC);
        test_aws_done(&t);

        /* The network failing every time ends with its error. */
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_set_fallback(t.fake, &(FakeReply) { .error = -ECONNREFUSED });
        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL), -ECONNREFUSED);
        ASSERT_EQ(t.fake->n_requests, 8);
        /* No reply arrived: the error says so. */
        ASSERT_EQ(e.http_status, 0);
        ASSERT_NULL(e.code);
        test_aws_done(&t);

        /* So does a reply that never parses. */
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_set_fallback(t.fake, &(FakeReply) { .body = "<truncated" });
        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL), -EBADMSG);
        ASSERT_EQ(t.fake->n_requests, 8);
        ASSERT_EQ(e.http_status, 200);
        test_aws_done(&t);
}

static void test_no_retry_auth(void) {
        _cleanup_free_ char *unauthorized = test_reply("ec2-error-unauthorized.xml");
        _cleanup_free_ char *denied = test_reply("query-error-access-denied.xml");
        static const char *const codes[] = {
                "AuthFailure", "SignatureDoesNotMatch", "InvalidClientTokenId", "AccessDeniedException",
                "OptInRequired", "Blocked",
        };
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_add(t.fake, &(FakeReply) { .status = 403, .body = unauthorized });
        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL), -EACCES);
        ASSERT_EQ(t.fake->n_requests, 1);
        ASSERT_EQ(t.clock.n_sleeps, 0);
        ASSERT_EQ(e.http_status, 403);
        ASSERT_STREQ(e.code, "UnauthorizedOperation");
        ASSERT_STREQ(e.request_id, "b5ea1b0e-a0c3-4bd6-a2b4-fb1c7f1cc5e1");

        fake_transport_add(t.fake, &(FakeReply) { .status = 403, .body = denied });
        ASSERT_EQ(aws_query_call(t.client, AWS_SERVICE_AUTOSCALING, "CompleteLifecycleAction", NULL, USEC_INFINITY,
                                 &e, NULL),
                  -EACCES);
        ASSERT_STREQ(e.code, "AccessDenied");
        ASSERT_EQ(t.fake->n_requests, 2);

        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                _cleanup_free_ char *body = NULL;

                ASSERT_TRUE(asprintf(&body, "<Response><Errors><Error><Code>%s</Code><Message>no</Message></Error>"
                                            "</Errors><RequestID>x</RequestID></Response>", codes[i]) > 0);
                fake_transport_add(t.fake, &(FakeReply) { .status = 403, .body = body });
                ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL), -EACCES);
                ASSERT_STREQ(e.code, codes[i]);
        }
        ASSERT_EQ(t.fake->n_requests, 2 + ELEMENTSOF(codes));
        ASSERT_EQ(t.creds.n_forced, 0);
        test_aws_done(&t);
}

static void test_dry_run(void) {
        _cleanup_free_ char *dry = test_reply("ec2-error-dry-run.xml");
        _cleanup_(aws_error_done) AwsError e = {};
        XmlDoc *reply = NULL;
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_add(t.fake, &(FakeReply) { .status = 412, .body = dry });
        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, &reply), 0);
        ASSERT_NULL(reply);
        ASSERT_STREQ(e.code, "DryRunOperation");
        ASSERT_EQ(e.http_status, 412);
        ASSERT_EQ(t.fake->n_requests, 1);
        test_aws_done(&t);
}

static void test_not_found_and_other_errors(void) {
        _cleanup_free_ char *nf = test_reply("ec2-error-volume-not-found.xml");
        _cleanup_free_ char *zone = test_reply("route53-error-no-such-zone.xml");
        _cleanup_free_ char *in_use = test_reply("ec2-error-incorrect-state.xml");
        _cleanup_free_ char *batch = test_reply("route53-error-invalid-change-batch.xml");
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_add(t.fake, &(FakeReply) { .status = 400, .body = nf });
        fake_transport_add(t.fake, &(FakeReply) { .status = 404, .body = zone });
        fake_transport_add(t.fake, &(FakeReply) { .status = 400, .body = in_use });
        fake_transport_add(t.fake, &(FakeReply) { .status = 400, .body = batch });
        fake_transport_add(t.fake, &(FakeReply) { .status = 403, .body = "<html>proxy says no</html>" });

        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL), -ENOENT);
        ASSERT_STREQ(e.code, "InvalidVolume.NotFound");
        ASSERT_EQ(aws_rest_xml_call(t.client, AWS_SERVICE_ROUTE53, "GET", "/2013-04-01/hostedzone/Z0123456789ABCDEFGHIJ/rrset",
                                    NULL, NULL, USEC_INFINITY, &e, NULL),
                  -ENOENT);
        ASSERT_STREQ(e.code, "NoSuchHostedZone");
        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL), -EREMOTEIO);
        ASSERT_STREQ(e.code, "VolumeInUse");
        ASSERT_EQ(aws_rest_xml_call(t.client, AWS_SERVICE_ROUTE53, "POST", "/2013-04-01/hostedzone/Z1/rrset/", NULL,
                                    "<x/>", USEC_INFINITY, &e, NULL),
                  -EREMOTEIO);
        ASSERT_STREQ(e.code, "InvalidChangeBatch");
        /* A 4xx that is not an AWS error is not retried either. */
        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL), -EREMOTEIO);
        ASSERT_EQ(e.http_status, 403);
        ASSERT_NULL(e.code);

        ASSERT_EQ(t.fake->n_requests, 5);
        ASSERT_EQ(t.clock.n_sleeps, 0);
        test_aws_done(&t);
}

static void test_request_id_from_header(void) {
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_add(t.fake, &(FakeReply) {
                                           .status = 400,
                                           .body = "<ErrorResponse><Error><Code>ValidationError</Code>"
                                                   "<Message>bad</Message></Error></ErrorResponse>",
                                           .headers = (const char *const[]) { "x-amzn-RequestId", "hdr-id", NULL },
                                   });
        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL), -EREMOTEIO);
        ASSERT_STREQ(e.code, "ValidationError");
        ASSERT_STREQ(e.request_id, "hdr-id");
        test_aws_done(&t);
}

static void test_clock_skew(void) {
        _cleanup_free_ char *expired = test_reply("ec2-error-request-expired.xml");
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        /* AWS's clock reads 15 minutes later than ours. */
        fake_transport_add(t.fake, &(FakeReply) {
                                           .status = 400,
                                           .body = expired,
                                           .headers = (const char *const[]) { "Date", "Fri, 12 Jan 2024 08:15:00 GMT", NULL },
                                   });
        fake_transport_add(t.fake, &(FakeReply) { .body = EC2_OK_BODY });

        ASSERT_OK(call_ec2(&t, NULL, USEC_INFINITY, NULL, &reply));
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_EQ(t.clock.n_sleeps, 0);
        ASSERT_STREQ(fake_request_header(&t.fake->requests[0], "X-Amz-Date"), "20240112T080000Z");
        ASSERT_STREQ(fake_request_header(&t.fake->requests[1], "X-Amz-Date"), "20240112T081500Z");
        ASSERT_EQ(aws_client_clock_offset(t.client), (int64_t) (15 * USEC_PER_MINUTE));

        /* The correction stays for later calls. */
        xml_doc_free(TAKE_PTR(reply));
        fake_transport_add(t.fake, &(FakeReply) { .body = EC2_OK_BODY });
        ASSERT_OK(call_ec2(&t, NULL, USEC_INFINITY, NULL, NULL));
        ASSERT_STREQ(fake_request_header(&t.fake->requests[2], "X-Amz-Date"), "20240112T081500Z");
        test_aws_done(&t);

        /* A clock ahead of AWS's is corrected backwards. */
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_add(t.fake, &(FakeReply) {
                                           .status = 403,
                                           .body = "<ErrorResponse><Error><Code>RequestTimeTooSkewed</Code>"
                                                   "<Message>skewed</Message></Error></ErrorResponse>",
                                           .headers = (const char *const[]) { "date", "Fri, 12 Jan 2024 07:00:00 GMT", NULL },
                                   });
        fake_transport_add(t.fake, &(FakeReply) { .body = EC2_OK_BODY });
        ASSERT_OK(call_ec2(&t, NULL, USEC_INFINITY, NULL, NULL));
        ASSERT_STREQ(fake_request_header(&t.fake->requests[1], "X-Amz-Date"), "20240112T070000Z");
        ASSERT_EQ(aws_client_clock_offset(t.client), -(int64_t) USEC_PER_HOUR);
        test_aws_done(&t);
}

static void test_clock_skew_only_once(void) {
        _cleanup_free_ char *expired = test_reply("ec2-error-request-expired.xml");
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_set_fallback(t.fake, &(FakeReply) {
                                                    .status = 400,
                                                    .body = expired,
                                                    .headers = (const char *const[]) { "Date", "Fri, 12 Jan 2024 08:15:00 GMT", NULL },
                                            });
        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL), -EACCES);
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_STREQ(e.code, "RequestExpired");
        test_aws_done(&t);

        /* Without a Date header there is nothing to correct from. */
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_set_fallback(t.fake, &(FakeReply) { .status = 400, .body = expired });
        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL), -EACCES);
        ASSERT_EQ(t.fake->n_requests, 1);
        test_aws_done(&t);

        /* With a session token, a RequestExpired that the clock does not
         * explain gets one credentials refresh too. */
        ASSERT_OK(test_aws_init(&t, "TOKEN1"));
        t.creds.refreshed_session_token = "TOKEN2";
        fake_transport_add(t.fake, &(FakeReply) {
                                           .status = 400,
                                           .body = expired,
                                           .headers = (const char *const[]) { "Date", "Fri, 12 Jan 2024 08:00:00 GMT", NULL },
                                   });
        fake_transport_add(t.fake, &(FakeReply) { .status = 400, .body = expired });
        fake_transport_add(t.fake, &(FakeReply) { .body = EC2_OK_BODY });
        ASSERT_OK(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL));
        ASSERT_EQ(t.fake->n_requests, 3);
        ASSERT_EQ(t.creds.n_forced, 1);
        ASSERT_STREQ(fake_request_header(&t.fake->requests[2], "X-Amz-Security-Token"), "TOKEN2");
        test_aws_done(&t);
}

static void test_clock_skew_route53_signature_expired(void) {
        _cleanup_free_ char *expired = test_reply("route53-error-signature-expired.xml");
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_add(t.fake, &(FakeReply) {
                                           .status = 403,
                                           .body = expired,
                                           .headers = (const char *const[]) { "Date", "Fri, 12 Jan 2024 08:10:00 GMT", NULL },
                                   });
        fake_transport_add(t.fake, &(FakeReply) { .body = "<GetChangeResponse/>" });
        ASSERT_OK(aws_rest_xml_call(t.client, AWS_SERVICE_ROUTE53, "GET", "/2013-04-01/change/C1", NULL, NULL,
                                    USEC_INFINITY, NULL, NULL));
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_STREQ(fake_request_header(&t.fake->requests[1], "X-Amz-Date"), "20240112T081000Z");
        test_aws_done(&t);
}

static void test_expired_token_refresh(void) {
        _cleanup_free_ char *expired = test_reply("query-error-expired-token.xml");
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, "TOKEN1"));
        t.creds.refreshed_session_token = "TOKEN2";
        fake_transport_add(t.fake, &(FakeReply) { .status = 403, .body = expired });
        fake_transport_add(t.fake, &(FakeReply) { .body = "<DescribeAutoScalingInstancesResponse/>" });

        ASSERT_OK(aws_query_call(t.client, AWS_SERVICE_AUTOSCALING, "DescribeAutoScalingInstances", NULL,
                                 USEC_INFINITY, &e, NULL));
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_EQ(t.creds.n_forced, 1);
        ASSERT_EQ(t.clock.n_sleeps, 0);
        ASSERT_STREQ(fake_request_header(&t.fake->requests[0], "X-Amz-Security-Token"), "TOKEN1");
        ASSERT_STREQ(fake_request_header(&t.fake->requests[1], "X-Amz-Security-Token"), "TOKEN2");
        ASSERT_NULL(e.code);
        test_aws_done(&t);

        /* Refreshed once only: still expired is a refusal. */
        ASSERT_OK(test_aws_init(&t, "TOKEN1"));
        fake_transport_set_fallback(t.fake, &(FakeReply) { .status = 403, .body = expired });
        ASSERT_EQ(aws_query_call(t.client, AWS_SERVICE_AUTOSCALING, "DescribeAutoScalingInstances", NULL,
                                 USEC_INFINITY, &e, NULL),
                  -EACCES);
        ASSERT_EQ(t.fake->n_requests, 2);
        ASSERT_EQ(t.creds.n_forced, 1);
        test_aws_done(&t);

        /* A session token that AWS no longer knows reads as
         * InvalidClientTokenId: refreshed too. */
        ASSERT_OK(test_aws_init(&t, "TOKEN1"));
        t.creds.refreshed_session_token = "TOKEN2";
        fake_transport_add(t.fake, &(FakeReply) {
                                           .status = 403,
                                           .body = "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>"
                                                   "<Message>The security token included in the request is invalid.</Message>"
                                                   "</Error><RequestId>x</RequestId></ErrorResponse>",
                                   });
        fake_transport_add(t.fake, &(FakeReply) { .body = EC2_OK_BODY });
        ASSERT_OK(call_ec2(&t, NULL, USEC_INFINITY, NULL, NULL));
        ASSERT_EQ(t.creds.n_forced, 1);
        test_aws_done(&t);

        /* Long-term keys cannot be refreshed: refused at once. */
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_set_fallback(t.fake, &(FakeReply) { .status = 403, .body = expired });
        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, &e, NULL), -EACCES);
        ASSERT_EQ(t.fake->n_requests, 1);
        ASSERT_EQ(t.creds.n_forced, 0);
        test_aws_done(&t);
}

static void test_credentials_failure(void) {
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        t.creds.error = -EHOSTDOWN;
        ASSERT_EQ(call_ec2(&t, NULL, USEC_INFINITY, NULL, NULL), -EHOSTDOWN);
        ASSERT_EQ(t.fake->n_requests, 0);
        test_aws_done(&t);
}

static void test_deadline_limits(void) {
        _cleanup_free_ char *limit = test_reply("ec2-error-request-limit.xml");
        _cleanup_(aws_error_done) AwsError e = {};
        TestAws t;

        unset_endpoints();

        /* Passed already: no request at all. */
        ASSERT_OK(test_aws_init(&t, NULL));
        ASSERT_EQ(call_ec2(&t, NULL, t.clock.monotonic, NULL, NULL), -ETIME);
        ASSERT_EQ(t.fake->n_requests, 0);
        test_aws_done(&t);

        /* The next backoff would cross it: -ETIME before the attempts run
         * out, with the last error still reported. */
        ASSERT_OK(test_aws_init(&t, NULL));
        t.clock.random = UINT64_MAX - 1;
        fake_transport_set_fallback(t.fake, &(FakeReply) { .status = 503, .body = limit });
        ASSERT_EQ(call_ec2(&t, NULL, test_aws_deadline(&t, 2 * USEC_PER_SEC), &e, NULL), -ETIME);
        ASSERT_TRUE(t.fake->n_requests >= 2 && t.fake->n_requests < 8);
        ASSERT_STREQ(e.code, "RequestLimitExceeded");
        ASSERT_TRUE(t.clock.monotonic <= TEST_MONOTONIC_START + 2 * USEC_PER_SEC);
        test_aws_done(&t);

        /* Each attempt waits no longer than what is left. */
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_add(t.fake, &(FakeReply) { .body = EC2_OK_BODY });
        ASSERT_OK(call_ec2(&t, NULL, test_aws_deadline(&t, 5 * USEC_PER_SEC), NULL, NULL));
        ASSERT_EQ(t.fake->requests[0].timeout, 5 * USEC_PER_SEC);
        ASSERT_TRUE(t.fake->requests[0].connect_timeout > 0 &&
                    t.fake->requests[0].connect_timeout <= 5 * USEC_PER_SEC);
        test_aws_done(&t);
}

/* A server that takes 700 ms of the test's clock for each 503. */
static int slow_unavailable(FakeTransport *f, const HttpRequest *request, HttpResponse *ret, void *userdata) {
        TestClock *clock = userdata;

        clock->monotonic += 700 * USEC_PER_MSEC;
        fake_response_fill(ret, 503, "<Response><Errors><Error><Code>Unavailable</Code></Error></Errors></Response>",
                           NULL);
        return 0;
}

static void test_deadline_passes_during_attempts(void) {
        TestAws t;

        unset_endpoints();
        ASSERT_OK(test_aws_init(&t, NULL));
        fake_transport_set_handler(t.fake, slow_unavailable, &t.clock);
        ASSERT_EQ(call_ec2(&t, NULL, test_aws_deadline(&t, 2 * USEC_PER_SEC), NULL, NULL), -ETIME);
        ASSERT_EQ(t.fake->n_requests, 3);
        test_aws_done(&t);
}

static void test_parse_http_date(void) {
        usec_t u = 7;

        ASSERT_OK(aws_parse_http_date("Fri, 12 Jan 2024 08:00:00 GMT", &u));
        ASSERT_TRUE(u == TEST_REALTIME);
        ASSERT_OK(aws_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &u));
        ASSERT_TRUE(u == (usec_t) 784111777 * USEC_PER_SEC);

        u = 7;
        ASSERT_EQ(aws_parse_http_date("", &u), -EINVAL);
        ASSERT_EQ(aws_parse_http_date(NULL, &u), -EINVAL);
        ASSERT_EQ(aws_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &u), -EINVAL);
        ASSERT_EQ(aws_parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC", &u), -EINVAL);
        ASSERT_EQ(aws_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT trailing", &u), -EINVAL);
        ASSERT_EQ(aws_parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT", &u), -EINVAL);
        ASSERT_EQ(u, 7);
}

int main(int argc, char *argv[]) {
        if (argc > 1)
                test_replies_dir = argv[1];

        RUN_TEST(test_endpoints_default);
        RUN_TEST(test_endpoints_environment);
        RUN_TEST(test_uri_encode);
        RUN_TEST(test_query_request);
        RUN_TEST(test_query_request_session_token);
        RUN_TEST(test_query_versions);
        RUN_TEST(test_endpoint_host_and_base);
        RUN_TEST(test_rest_xml_request);
        RUN_TEST(test_error_parse);
        RUN_TEST(test_retry_transient);
        RUN_TEST(test_retry_backoff_grows_and_ends);
        RUN_TEST(test_throttling_returned);
        RUN_TEST(test_no_retry_auth);
        RUN_TEST(test_dry_run);
        RUN_TEST(test_not_found_and_other_errors);
        RUN_TEST(test_request_id_from_header);
        RUN_TEST(test_clock_skew);
        RUN_TEST(test_clock_skew_only_once);
        RUN_TEST(test_clock_skew_route53_signature_expired);
        RUN_TEST(test_expired_token_refresh);
        RUN_TEST(test_credentials_failure);
        RUN_TEST(test_deadline_limits);
        RUN_TEST(test_deadline_passes_during_attempts);
        RUN_TEST(test_parse_http_date);
        return tests_finish();
}
