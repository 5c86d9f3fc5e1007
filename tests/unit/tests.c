/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>

#include "tests.h"

unsigned tests_run = 0, tests_failed = 0;
const char *test_current = NULL;
int test_current_failed = 0;

void test_fail(const char *file, int line, const char *fmt, ...) {
        va_list ap;

        fprintf(stdout, "# %s: %s:%d: ", test_current ? test_current : "?", file, line);
        va_start(ap, fmt);
        vfprintf(stdout, fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
        test_current_failed = 1;
}

int tests_finish(void) {
        printf("1..%u\n", tests_run);
        printf("# %u passed, %u failed\n", tests_run - tests_failed, tests_failed);
        return tests_failed > 0 ? 1 : 0;
}
