/* SPDX-License-Identifier: Apache-2.0 */
/* KMS replies, the agent's only JSON-protocol ones: DescribeKey answered
 * with the input as a 200 reply and as an error reply, then the JSON
 * document and error readers on their own. */
#include "aws-json.h"
#include "fuzz-util.h"
#include "kms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void describe_key(const uint8_t *data, size_t size, long status) {
        _cleanup_(aws_error_done) AwsError error = {};
        _cleanup_(kms_key_done) KmsKey key = {};
        FuzzAws a;

        fuzz_aws_init(&a, data, size, status);
        if (kms_describe_key(a.client, "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                             fuzz_aws_deadline(&a), &error, &key) >= 0)
                (void) kms_key_unusable_reason(&key);
        fuzz_aws_done(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const long error_statuses[] = { 400, 403, 500, 503 };
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        AwsError e = {};
        bool b;
        double d;

        fuzz_setup_once();
        if (size > (size_t) 256 * 1024)
                return -1;

        describe_key(data, size, 200);
        describe_key(data, size, error_statuses[size % ELEMENTSOF(error_statuses)]);

        /* The NUL bytes of the input reach the readers as they would from
         * the network. */
        if (json_doc_parse((const char *) data, size, &doc) >= 0) {
                (void) json_doc_string(doc, "KeyMetadata/KeyState");
                (void) json_doc_bool(doc, "KeyMetadata/Enabled", &b);
                (void) json_doc_number(doc, "KeyMetadata/DeletionDate", &d);
        }
        (void) aws_json_error_parse(400, (const char *) data, size, "ThrottlingException:http://internal", &e);
        aws_error_done(&e);
        return 0;
}
