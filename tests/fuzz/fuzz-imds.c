/* SPDX-License-Identifier: Apache-2.0 */
/* IMDS JSON: the role credentials and the instance identity document, and
 * the timestamps inside them. */
#include "fuzz-util.h"
#include "imds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(aws_credentials_done) AwsCredentials creds = {};
        _cleanup_(imds_identity_done) ImdsIdentity identity = {};
        _cleanup_free_ char *text = NULL;
        usec_t t;

        fuzz_setup_once();
        if (size > (size_t) 64 * 1024)
                return -1;

        /* As a reply body arrives: NUL-terminated, with its true size (an
         * embedded NUL must be refused, not cut at). */
        text = fuzz_string(data, size);
        if (imds_parse_credentials(text, size, &creds) >= 0 &&
            (!creds.access_key_id || !creds.secret_access_key || !creds.session_token))
                abort();
        if (imds_parse_identity(text, size, &identity) >= 0 && !identity.instance_id)
                abort();

        (void) imds_parse_timestamp(text, &t);
        return 0;
}
