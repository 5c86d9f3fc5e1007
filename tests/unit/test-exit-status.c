/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "macro.h"
#include "path.h"
#include "tests.h"
#include "exit-status.h"
#include "wait.h"

static void test_exit_status_of_each_failure_kind(void) {
        ASSERT_EQ(exit_status_from_failure(FAILURE_NONE), EXIT_STATUS_DONE);
        ASSERT_EQ(exit_status_from_failure(FAILURE_OTHER), EXIT_STATUS_FAILURE);
        ASSERT_EQ(exit_status_from_failure(FAILURE_CONFIG), EXIT_STATUS_USAGE);
        ASSERT_EQ(exit_status_from_failure(FAILURE_AWS_REFUSED), EXIT_STATUS_AWS_REFUSED);
        ASSERT_EQ(exit_status_from_failure(FAILURE_UNUSABLE), EXIT_STATUS_UNUSABLE);
        ASSERT_EQ(exit_status_from_failure(FAILURE_FILESYSTEM), EXIT_STATUS_FILESYSTEM);
        ASSERT_EQ(exit_status_from_failure(FAILURE_DEADLINE), EXIT_STATUS_DEADLINE);
        /* A path stopped because another failed never decides the status. */
        ASSERT_EQ(exit_status_from_failure(FAILURE_CANCELLED), EXIT_STATUS_FAILURE);
        ASSERT_STREQ(exit_status_to_string(EXIT_STATUS_FILESYSTEM), "filesystem refused");
}

static void test_failure_kind_of_a_call(void) {
        ASSERT_EQ(failure_kind_of_call(0), FAILURE_NONE);
        ASSERT_EQ(failure_kind_of_call(-EACCES), FAILURE_AWS_REFUSED);
        ASSERT_EQ(failure_kind_of_call(-ETIME), FAILURE_DEADLINE);
        ASSERT_EQ(failure_kind_of_call(-ECANCELED), FAILURE_CANCELLED);
        /* Not guessed from errno: a missing thing is unusable only where the
         * caller knows it is the node's volume or ENI. */
        ASSERT_EQ(failure_kind_of_call(-ENOENT), FAILURE_OTHER);
        ASSERT_EQ(failure_kind_of_call(-EPERM), FAILURE_OTHER);
}

/* The kind is what the failing step says, not what its errno suggests:
 * an EPERM from rtnetlink is the kernel's refusal, not AWS's. */
static void test_path_fail_records_the_kind_it_is_given(void) {
        Path p = PATH_INIT("interface");

        wait_cancel_reset();
        ASSERT_EQ(path_fail(&p, FAILURE_OTHER, -EPERM, "Failed to configure eth1: %m"), -EPERM);
        ASSERT_EQ(p.failure, FAILURE_OTHER);
        ASSERT_EQ(p.state, PATH_STATE_FAILED);
        ASSERT_EQ(exit_status_from_failure(p.failure), EXIT_STATUS_FAILURE);

        /* The deadline is the deadline wherever a step meets it. */
        p = PATH_INIT("volume");
        ASSERT_EQ(path_fail(&p, FAILURE_OTHER, -ETIME, "late"), -ETIME);
        ASSERT_EQ(p.failure, FAILURE_DEADLINE);

        /* Once the boot is cancelled, a path's failure is a cancellation. */
        p = PATH_INIT("dns");
        wait_cancel_all();
        ASSERT_EQ(path_fail(&p, FAILURE_UNUSABLE, -ENOENT, "gone"), -ECANCELED);
        ASSERT_EQ(p.failure, FAILURE_CANCELLED);
        wait_cancel_reset();
}

int main(void) {
        RUN_TEST(test_exit_status_of_each_failure_kind);
        RUN_TEST(test_failure_kind_of_a_call);
        RUN_TEST(test_path_fail_records_the_kind_it_is_given);
        return tests_finish();
}
