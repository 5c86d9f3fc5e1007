/* SPDX-License-Identifier: Apache-2.0 */
/* User data as IMDS hands it over: any bytes, applied on top of a file's
 * configuration, then --set overrides again. */
#include "config.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base[] =
        "[Node]\nName=kafka-1\nTimeout=20s\n"
        "[Volume]\nId=vol-0123456789abcdef0\nMountPoint=/var/lib/kafka\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(config_error_done) ConfigError error = {};
        _cleanup_free_ char *text = NULL;
        char *overrides[] = { (char *) "Volume.FileSystem=xfs", (char *) "DNS.TTL=30", NULL };
        int r;

        fuzz_setup_once();
        if (size > (size_t) 64 * 1024)
                return -1;
        text = fuzz_string(data, size);

        if (config_new(&c) < 0 || config_parse_string(c, "nodeagent.conf", base, &error) < 0)
                abort();
        (void) config_is_nodeagent_user_data(text);
        r = config_apply_user_data(c, text, overrides, &error);
        if (r == -EINVAL && !error.message)
                abort();
        if (r > 0) {
                (void) config_validate(c, &error);
                /* --set keeps the last word. */
                if (c->has_volume && c->volume.file_system != FILESYSTEM_XFS)
                        abort();
        }
        return 0;
}
