/* SPDX-License-Identifier: Apache-2.0 */
/* SigV4 canonicalization of arbitrary requests. The input is
 *   METHOD \n PATH \n QUERY \n (NAME:VALUE \n)* \n PAYLOAD
 * and is signed whole; then the Query encoders over the same text. */
#include "fuzz-util.h"
#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADERS_MAX 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL, *canonical = NULL, *signed_headers = NULL, *again = NULL,
                *again_signed = NULL, *authorization = NULL, *encoded = NULL, *form = NULL;
        SigV4Header headers[HEADERS_MAX];
        size_t n_headers = 0;
        const char *method, *path, *query, *payload = "";
        char *p, *nl;
        AwsParams params = {};
        int r;

        fuzz_setup_once();
        if (size > (size_t) 64 * 1024)
                return -1;
        text = fuzz_string(data, size);

        /* The request line parts, then header lines up to an empty line. */
        p = text;
        method = p;
        if ((nl = strchr(p, '\n'))) { *nl = '\0'; p = nl + 1; } else p = (char *) "";
        path = p;
        if ((nl = strchr(p, '\n'))) { *nl = '\0'; p = nl + 1; } else p = (char *) "";
        query = p;
        if ((nl = strchr(p, '\n'))) { *nl = '\0'; p = nl + 1; } else p = (char *) "";
        while (*p && n_headers < HEADERS_MAX) {
                char *colon;

                nl = strchr(p, '\n');
                if (nl)
                        *nl = '\0';
                if (*p == '\0') {
                        p = nl ? nl + 1 : (char *) "";
                        break;
                }
                colon = strchr(p, ':');
                if (colon) {
                        *colon = '\0';
                        headers[n_headers++] = (SigV4Header) { .name = p, .value = colon + 1 };
                } else
                        headers[n_headers++] = (SigV4Header) { .name = p, .value = "" };
                p = nl ? nl + 1 : (char *) "";
        }
        payload = p;

        for (int normalize = 0; normalize < 2; normalize++) {
                SigV4Request req = {
                        .method = method,
                        .path = path,
                        .query = query,
                        .headers = headers,
                        .n_headers = n_headers,
                        .payload = payload,
                        .payload_size = strlen(payload),
                        .normalize_path = normalize,
                };

                free(canonical);
                free(signed_headers);
                canonical = signed_headers = NULL;
                r = sigv4_canonical_request(&req, &canonical, &signed_headers);
                if (r >= 0) {
                        /* Pure: the same request, the same canonical form. */
                        free(again);
                        free(again_signed);
                        again = again_signed = NULL;
                        if (sigv4_canonical_request(&req, &again, &again_signed) < 0 ||
                            !streq(canonical, again) || !streq(signed_headers, again_signed))
                                abort();
                }
                free(authorization);
                authorization = NULL;
                (void) sigv4_sign(&req, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1",
                                  "ec2", "20240112T080000Z", &authorization);
        }

        /* The encoders: every byte outside the unreserved set is escaped. */
        if (aws_uri_encode(text, &encoded) >= 0)
                for (const char *c = encoded; *c; c++)
                        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~%", *c))
                                abort();
        if (aws_params_add(&params, "Tag.1.Value", text) >= 0 && aws_params_add(&params, text, "x") >= 0 &&
            aws_params_encode(&params, &form) >= 0) {
                /* Two parameters, so exactly one separator survives encoding. */
                if (strchr(form, '&') != strrchr(form, '&'))
                        abort();
        }
        aws_params_done(&params);
        return 0;
}
