/* SPDX-License-Identifier: Apache-2.0 */
/* Route 53 replies: the listing (one page, and the paged search for one
 * set), a change and its status, each answered with the input; then names
 * and ids from the input through the normalizers and the batch writer. */
#include "fuzz-util.h"
#include "route53.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ZONE "Z0123456789ABCDEFGHIJ"
#define NAME "kafka-1.cluster.internal."

static void call_all(const uint8_t *data, size_t size, long status) {
        for (unsigned call = 0; call < 5; call++) {
                _cleanup_(aws_error_done) AwsError error = {};
                FuzzAws a;

                fuzz_aws_init(&a, data, size, status);
                usec_t deadline = fuzz_aws_deadline(&a);

                switch (call) {
                case 0: {
                        _cleanup_(route53_record_set_page_done) Route53RecordSetPage page = {};

                        (void) route53_list_resource_record_sets(a.client, ZONE, NAME, "A", NULL, 100, deadline,
                                                                 &error, &page);
                        break;
                }
                case 1: {
                        _cleanup_(route53_record_set_done) Route53RecordSet set = {};

                        (void) route53_find_record_set(a.client, ZONE, NAME, "A", NULL, deadline, &error, &set);
                        break;
                }
                case 2: {
                        _cleanup_(route53_record_set_done) Route53RecordSet set = {};

                        (void) route53_find_record_set(a.client, ZONE, "kafka.cluster.internal.", "A", "kafka-1",
                                                       deadline, &error, &set);
                        break;
                }
                case 3: {
                        _cleanup_(route53_change_info_done) Route53ChangeInfo info = {};
                        char *values[] = { (char *) "10.0.1.10", NULL };
                        Route53RecordSet s = {
                                .name = (char *) NAME, .type = (char *) "A", .ttl = 60,
                                .values = values, .n_values = 1,
                        };
                        Route53Change change = { .action = ROUTE53_UPSERT, .set = &s };

                        (void) route53_change_resource_record_sets(a.client, ZONE, &change, 1, "fuzz", deadline,
                                                                   &error, &info);
                        break;
                }
                case 4: {
                        _cleanup_(route53_change_info_done) Route53ChangeInfo info = {};

                        (void) route53_get_change(a.client, "C2682N5HXP0BZ4", deadline, &error, &info);
                        break;
                }
                }
                fuzz_aws_done(&a);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const long error_statuses[] = { 400, 403, 404, 500, 503 };
        _cleanup_free_ char *text = NULL, *name = NULL, *zone = NULL, *change = NULL, *xml = NULL;

        fuzz_setup_once();
        if (size > (size_t) 256 * 1024)
                return -1;

        call_all(data, size, 200);
        call_all(data, size, error_statuses[size % ELEMENTSOF(error_statuses)]);

        /* The input as a name, a zone id, a change id, and a value in a batch. */
        text = fuzz_string(data, size);
        if (route53_name_normalize(text, &name) >= 0)
                (void) route53_name_equal(name, text);
        (void) route53_zone_id_normalize(text, &zone);
        (void) route53_change_id_normalize(text, &change);
        {
                char *values[] = { text, NULL };
                Route53RecordSet s = {
                        .name = text, .type = (char *) "TXT", .ttl = 60, .set_identifier = text,
                        .values = values, .n_values = 1,
                };
                Route53Change c[] = { { .action = ROUTE53_DELETE, .set = &s },
                                      { .action = ROUTE53_CREATE, .set = &s } };

                (void) route53_change_batch_to_xml(c, ELEMENTSOF(c), text, &xml);
        }
        return 0;
}
