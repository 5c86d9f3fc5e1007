/* SPDX-License-Identifier: Apache-2.0 */
#include <syslog.h>

#include "log.h"
#include "macro.h"
#include "spawn-util.h"
#include "tests.h"
#include "time-util.h"

#define SEC(n) usec_add(now(CLOCK_MONOTONIC), (n) * USEC_PER_SEC)

static void test_exit_status(void) {
        char *t[] = { (char *) "true", NULL };
        char *f[] = { (char *) "false", NULL };
        char *seven[] = { (char *) "sh", (char *) "-c", (char *) "exit 7", NULL };

        ASSERT_EQ(spawn(t, SEC(10), LOG_DEBUG, NULL), 0);
        ASSERT_EQ(spawn(f, SEC(10), LOG_DEBUG, NULL), 1);
        ASSERT_EQ(spawn(seven, SEC(10), LOG_DEBUG, NULL), 7);
        ASSERT_EQ(spawn(seven, USEC_INFINITY, LOG_DEBUG, NULL), 7);
}

static void test_output_capture(void) {
        char *argv[] = { (char *) "sh", (char *) "-c",
                         (char *) "echo hello; echo world >&2; printf 'no newline'", NULL };
        _cleanup_free_ char *out = NULL;

        ASSERT_EQ(spawn(argv, SEC(10), LOG_INFO, &out), 0);
        ASSERT_STREQ(out, "hello\nworld\nno newline");
}

static void test_output_empty_and_stdin(void) {
        /* stdin is /dev/null: cat ends at once instead of waiting. */
        char *argv[] = { (char *) "cat", NULL };
        _cleanup_free_ char *out = NULL;

        ASSERT_EQ(spawn(argv, SEC(10), LOG_DEBUG, &out), 0);
        ASSERT_STREQ(out, "");
}

static void test_output_cap(void) {
        char *argv[] = { (char *) "sh", (char *) "-c",
                         (char *) "head -c 200000 /dev/zero | tr '\\0' a; echo; echo end", NULL };
        _cleanup_free_ char *out = NULL;
        int r;

        /* Every line still goes to the log: keep this one's log quiet. */
        log_set_max_level(LOG_INFO);
        r = spawn(argv, SEC(20), LOG_DEBUG, &out);
        log_set_max_level(LOG_DEBUG);
        ASSERT_EQ(r, 0);
        ASSERT_EQ(strlen(out), SPAWN_OUTPUT_MAX);
        ASSERT_TRUE(out[0] == 'a' && out[SPAWN_OUTPUT_MAX - 1] == 'a');
}

static void test_environment_is_fixed(void) {
        char *argv[] = { (char *) "sh", (char *) "-c",
                         (char *) "echo \"${NODEAGENT_TEST_SECRET:-unset}\"; echo \"$PATH\"; echo \"$LC_ALL\"", NULL };
        _cleanup_free_ char *out = NULL;

        ASSERT_EQ(setenv("NODEAGENT_TEST_SECRET", "hunter2", 1), 0);
        ASSERT_EQ(spawn(argv, SEC(10), LOG_DEBUG, &out), 0);
        (void) unsetenv("NODEAGENT_TEST_SECRET");
        ASSERT_STREQ(out, "unset\n" SPAWN_PATH "\nC\n");
}

static void test_missing_program(void) {
        char *argv[] = { (char *) "nodeagent-no-such-program", NULL };
        char *abs[] = { (char *) "/nonexistent/mkfs.xfs", NULL };
        char *out = (char *) "untouched";
        char *path = NULL;

        ASSERT_EQ(spawn(argv, SEC(10), LOG_DEBUG, &out), -ENOENT);
        ASSERT_STREQ(out, "untouched");
        ASSERT_EQ(spawn(abs, SEC(10), LOG_DEBUG, NULL), -ENOENT);
        ASSERT_EQ(spawn_find_program("nodeagent-no-such-program", &path), -ENOENT);
        ASSERT_NULL(path);
}

static void test_find_program(void) {
        _cleanup_free_ char *path = NULL;

        ASSERT_OK(spawn_find_program("sh", &path));
        ASSERT_TRUE(startswith(path, "/usr/sbin/") || startswith(path, "/usr/bin/") ||
                    startswith(path, "/sbin/") || startswith(path, "/bin/"));
        ASSERT_TRUE(strlen(path) > 3 && streq(path + strlen(path) - 3, "/sh"));

        ASSERT_STREQ(spawn_program_package("mkfs.xfs"), "xfsprogs");
        ASSERT_STREQ(spawn_program_package("xfs_growfs"), "xfsprogs");
        ASSERT_STREQ(spawn_program_package("e2fsck"), "e2fsprogs");
        ASSERT_STREQ(spawn_program_package("mkfs.ext4"), "e2fsprogs");
        ASSERT_STREQ(spawn_program_package("resize2fs"), "e2fsprogs");
        ASSERT_NULL(spawn_program_package("sh"));
}

static void test_deadline_kills(void) {
        char *argv[] = { (char *) "sleep", (char *) "10", NULL };
        char *out = (char *) "untouched";
        usec_t start = now(CLOCK_MONOTONIC);

        ASSERT_EQ(spawn(argv, usec_add(start, 200 * USEC_PER_MSEC), LOG_DEBUG, &out), -ETIME);
        ASSERT_TRUE(now(CLOCK_MONOTONIC) - start < 3 * USEC_PER_SEC);
        ASSERT_STREQ(out, "untouched");
}

static void test_deadline_kills_group_ignoring_sigterm(void) {
        /* The shell and its sleep ignore SIGTERM: SIGKILL after the grace
         * period ends both, and the pipe the sleep holds does not keep us. */
        char *argv[] = { (char *) "sh", (char *) "-c", (char *) "trap '' TERM; sleep 30; echo done", NULL };
        usec_t start = now(CLOCK_MONOTONIC), took;

        ASSERT_EQ(spawn(argv, usec_add(start, 200 * USEC_PER_MSEC), LOG_DEBUG, NULL), -ETIME);
        took = now(CLOCK_MONOTONIC) - start;
        ASSERT_TRUE(took >= SPAWN_KILL_GRACE_USEC);
        ASSERT_TRUE(took < SPAWN_KILL_GRACE_USEC + 5 * USEC_PER_SEC);
}

static void test_deadline_passed(void) {
        char *argv[] = { (char *) "true", NULL };

        ASSERT_EQ(spawn(argv, 1, LOG_DEBUG, NULL), -ETIME);
}

static void test_killed_by_signal(void) {
        char *argv[] = { (char *) "sh", (char *) "-c", (char *) "kill -KILL $$", NULL };

        ASSERT_EQ(spawn(argv, SEC(10), LOG_DEBUG, NULL), -EPROTO);
}

static void test_background_child_keeps_pipe(void) {
        /* A grandchild that outlives the program and holds the pipe must
         * not make us wait for it. */
        char *argv[] = { (char *) "sh", (char *) "-c", (char *) "sleep 5 & echo started", NULL };
        _cleanup_free_ char *out = NULL;
        usec_t start = now(CLOCK_MONOTONIC);

        ASSERT_EQ(spawn(argv, SEC(20), LOG_DEBUG, &out), 0);
        ASSERT_TRUE(now(CLOCK_MONOTONIC) - start < 3 * USEC_PER_SEC);
        ASSERT_STREQ(out, "started\n");
}

static void test_invalid(void) {
        char *empty[] = { NULL };

        ASSERT_EQ(spawn(NULL, SEC(1), LOG_DEBUG, NULL), -EINVAL);
        ASSERT_EQ(spawn(empty, SEC(1), LOG_DEBUG, NULL), -EINVAL);
}

int main(void) {
        log_set_max_level(LOG_DEBUG);

        RUN_TEST(test_exit_status);
        RUN_TEST(test_output_capture);
        RUN_TEST(test_output_empty_and_stdin);
        RUN_TEST(test_output_cap);
        RUN_TEST(test_environment_is_fixed);
        RUN_TEST(test_missing_program);
        RUN_TEST(test_find_program);
        RUN_TEST(test_deadline_kills);
        RUN_TEST(test_deadline_kills_group_ignoring_sigterm);
        RUN_TEST(test_deadline_passed);
        RUN_TEST(test_killed_by_signal);
        RUN_TEST(test_background_child_keeps_pipe);
        RUN_TEST(test_invalid);
        return tests_finish();
}
