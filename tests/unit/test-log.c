/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "log.h"
#include "tests.h"

/* Captures what the log writes to stderr during fn. */
static char *capture_stderr(void (*fn)(void)) {
        char *buf = NULL;
        size_t size = 0;
        FILE *mem;
        int saved, fds[2];
        ssize_t n;
        char chunk[4096];

        /* Nothing of ours may be left in stderr's buffer to land in the
         * pipe; a failure here only garbles the capture, which the test
         * then reports. */
        (void) fflush(stderr);
        saved = dup(STDERR_FILENO);
        if (saved < 0 || pipe(fds) < 0)
                return NULL;
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        fn();
        (void) fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);

        mem = open_memstream(&buf, &size);
        if (!mem) {
                close(fds[0]);
                return NULL;
        }
        /* A write error is sticky: fclose() reports it. */
        while ((n = read(fds[0], chunk, sizeof(chunk))) > 0)
                fwrite(chunk, 1, (size_t) n, mem);
        close(fds[0]);
        if (fclose(mem) != 0)
                return mfree(buf);
        return buf;
}

static void log_some_secrets(void) {
        log_register_secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        log_register_secret("AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI");
        log_error("secret is wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY here");
        log_warning("token AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI!");
        log_error("Authorization: AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        log_error("x-aws-ec2-metadata-token: AQAEAHxyzTokenValue==");
        log_error("{\"Code\":\"Success\",\"SecretAccessKey\":\"abcSECRETdef\",\"Token\":\"tokTOKENtok\"}");
        log_forget_secrets();
}

static void test_redaction(void) {
        _cleanup_free_ char *out = NULL;

        log_set_verbosity(3);
        out = capture_stderr(log_some_secrets);
        log_set_verbosity(0);
        ASSERT_NOT_NULL(out);
        ASSERT_NULL(strstr(out, "wJalrXUtnFEMI"));
        ASSERT_NULL(strstr(out, "AQoDYXdzEPT"));
        ASSERT_NULL(strstr(out, "5fa00fa31553b73ebf"));
        ASSERT_NULL(strstr(out, "AQAEAHxyzTokenValue"));
        ASSERT_NULL(strstr(out, "abcSECRETdef"));
        ASSERT_NULL(strstr(out, "tokTOKENtok"));
        ASSERT_NOT_NULL(strstr(out, "secret is <redacted> here"));
        ASSERT_NOT_NULL(strstr(out, "Signature=<redacted>"));
        /* The access key id is not a secret and stays readable. */
        ASSERT_NOT_NULL(strstr(out, "Credential=AKID/20150830"));
}

static void log_levels(void) {
        log_debug("hidden debug line");
        log_info("an info line");
        log_error("an error line\nwith a newline");
}

static void test_priority_prefixes(void) {
        _cleanup_free_ char *out = NULL;

        out = capture_stderr(log_levels);
        ASSERT_NOT_NULL(out);
        ASSERT_NULL(strstr(out, "hidden debug line"));
        ASSERT_NOT_NULL(strstr(out, "<6>an info line\n"));
        ASSERT_NOT_NULL(strstr(out, "<3>an error line with a newline\n"));
}

static void log_binary(void) {
        log_error("label \"\xfa\x01ok\" and caf\xc3\xa9");
}

static void test_unprintable_bytes_are_escaped(void) {
        _cleanup_free_ char *out = NULL;

        out = capture_stderr(log_binary);
        ASSERT_NOT_NULL(out);
        ASSERT_NOT_NULL(strstr(out, "label \"\\xfa\\x01ok\" and caf\xc3\xa9\n"));
}

static void test_errno_return(void) {
        ASSERT_EQ(log_debug_errno(EACCES, "x"), -EACCES);
        ASSERT_EQ(log_debug_errno(-EACCES, "x"), -EACCES);
        ASSERT_EQ(log_debug_errno(0, "x"), 0);
}

static void test_redact_in_place(void) {
        char s[] = "a=1&X-Amz-Security-Token=abcdefghijklmnop&b=2";

        log_redact(s);
        ASSERT_STREQ(s, "a=1&X-Amz-Security-Token=<redacted>&b=2");
}

int main(void) {
        RUN_TEST(test_redaction);
        RUN_TEST(test_priority_prefixes);
        RUN_TEST(test_unprintable_bytes_are_escaped);
        RUN_TEST(test_errno_return);
        RUN_TEST(test_redact_in_place);
        return tests_finish();
}
