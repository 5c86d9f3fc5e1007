/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration parser: any text as one INI source, then the rules
 * across keys and the plan writer, whose output must read back. */
#include <stdio.h>

#include "config.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(config_error_done) ConfigError error = {};
        _cleanup_free_ char *text = NULL, *plan = NULL;
        size_t plan_size = 0;
        FILE *f;
        int r;

        fuzz_setup_once();
        if (size > (size_t) 64 * 1024)
                return -1;
        text = fuzz_string(data, size);

        if (config_new(&c) < 0)
                abort();
        r = config_parse_string(c, "fuzz.conf", text, &error);
        if (r < 0) {
                /* A refusal always says why. */
                if (r == -EINVAL && !error.message)
                        abort();
                return 0;
        }
        (void) config_validate(c, &error);

        /* The plan of an accepted configuration is itself accepted. */
        f = open_memstream(&plan, &plan_size);
        if (!f)
                abort();
        r = config_format_plan(c, f);
        if (fclose(f) != 0)
                abort();
        if (r >= 0) {
                _cleanup_(config_freep) Config *again = NULL;
                _cleanup_(config_error_done) ConfigError again_error = {};

                if (config_new(&again) < 0)
                        abort();
                if (config_parse_string(again, "plan", plan, &again_error) < 0) {
                        fprintf(stderr, "the plan does not read back: %s\n--- plan:\n%s\n",
                                strna(again_error.message), plan);
                        abort();
                }
        }
        return 0;
}
