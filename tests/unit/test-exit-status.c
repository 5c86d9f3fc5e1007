/* SPDX-License-Identifier: Apache-2.0 */
#include "macro.h"
#include "tests.h"
#include "exit-status.h"

static void test_exit_status_of_each_error_kind(void) {
        ASSERT_EQ(exit_status_from_error(0), EXIT_STATUS_DONE);
        ASSERT_EQ(exit_status_from_error(-EACCES), EXIT_STATUS_AWS_REFUSED);
        ASSERT_EQ(exit_status_from_error(-ENOKEY), EXIT_STATUS_AWS_REFUSED);
        ASSERT_EQ(exit_status_from_error(-ENOENT), EXIT_STATUS_UNUSABLE);
        ASSERT_EQ(exit_status_from_error(-EXDEV), EXIT_STATUS_UNUSABLE);
        ASSERT_EQ(exit_status_from_error(-ENOTUNIQ), EXIT_STATUS_UNUSABLE);
        ASSERT_EQ(exit_status_from_error(-EBUSY), EXIT_STATUS_UNUSABLE);
        ASSERT_EQ(exit_status_from_error(-EUCLEAN), EXIT_STATUS_FILESYSTEM);
        ASSERT_EQ(exit_status_from_error(-EMEDIUMTYPE), EXIT_STATUS_FILESYSTEM);
        ASSERT_EQ(exit_status_from_error(-ENOTEMPTY), EXIT_STATUS_FILESYSTEM);
        ASSERT_EQ(exit_status_from_error(-ETIME), EXIT_STATUS_DEADLINE);
        ASSERT_EQ(exit_status_from_error(-EIO), EXIT_STATUS_FAILURE);
        ASSERT_STREQ(exit_status_to_string(EXIT_STATUS_FILESYSTEM), "filesystem refused");
}

int main(void) {
        RUN_TEST(test_exit_status_of_each_error_kind);
        return tests_finish();
}
