/* SPDX-License-Identifier: Apache-2.0 */
#include "macro.h"
#include "tests.h"
#include "notify.h"

static void test_state_file_format(void) {
        _cleanup_free_ char *text = NULL;
        NodeState s = {
                .instance_id = "i-0123456789abcdef0",
                .volume_id = "vol-0123456789abcdef0",
                .device = "/dev/nvme1n1",
                .mount_point = "/var/lib/kafka",
                .ip = "10.0.1.10",
        };

        ASSERT_OK(notify_format_state(&s, &text));
        ASSERT_NOT_NULL(strstr(text, "NODEAGENT_INSTANCE_ID=\"i-0123456789abcdef0\"\n"));
        ASSERT_NOT_NULL(strstr(text, "NODEAGENT_DEVICE=\"/dev/nvme1n1\"\n"));
        /* The keys of a skipped path are left out. */
        ASSERT_NULL(strstr(text, "NODEAGENT_ENI_ID"));
        ASSERT_NULL(strstr(text, "NODEAGENT_DNS_NAME"));

        /* A failed boot: its phases and its exit status, last. */
        s.boot_phases = "volume.attach=4.11 dns.change=0.10";
        s.failed = "5";
        free(text);
        text = NULL;
        ASSERT_OK(notify_format_state(&s, &text));
        ASSERT_NOT_NULL(strstr(text, "NODEAGENT_BOOT_PHASES=\"volume.attach=4.11 dns.change=0.10\"\n"
                                     "NODEAGENT_FAILED=\"5\"\n"));

        s.mount_point = "/var/lib/$(evil)";
        free(text);
        text = NULL;
        ASSERT_EQ(notify_format_state(&s, &text), -EINVAL);
}

int main(void) {
        RUN_TEST(test_state_file_format);
        return tests_finish();
}
