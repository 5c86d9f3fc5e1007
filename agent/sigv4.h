/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* AWS Signature Version 4, split into its stages so that each one can be
 * checked against the AWS test suite on its own. Pure: no I/O, no clock (the
 * timestamp is passed in), no global state. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SIGV4_KEY_SIZE 32
#define SIGV4_HEX_SIZE 65               /* 64 hex digits and a NUL */
#define SIGV4_AMZ_DATE_SIZE 17          /* "20150830T123600Z" and a NUL */

typedef struct SigV4Header {
        const char *name;       /* any case */
        const char *value;      /* as sent; may hold several lines (obsolete folding) */
} SigV4Header;

typedef struct SigV4Request {
        const char *method;
        const char *path;       /* the URI path as on the wire, percent-encoded, "/" when empty */
        const char *query;      /* the raw query string after '?', NULL or "" when none */
        const SigV4Header *headers;
        size_t n_headers;
        const void *payload;    /* may be NULL when payload_size is 0 */
        size_t payload_size;
        bool normalize_path;    /* every service but S3 normalizes "." and ".." segments */
} SigV4Request;

/* Stage 1: the canonical request and the list of signed headers
 * ("host;x-amz-date"). Every header of the request is signed. */
int sigv4_canonical_request(const SigV4Request *r, char **ret_canonical_request,
                            char **ret_signed_headers);

/* Stage 2: the string to sign for amz_date ("20150830T123600Z"). */
int sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
                         const char *canonical_request, char **ret);

/* Stage 3: the signing key, HMAC chain of the date (first 8 characters of
 * amz_date), region, service and "aws4_request". */
int sigv4_signing_key(const char *secret_access_key, const char *amz_date, const char *region,
                      const char *service, uint8_t ret[static SIGV4_KEY_SIZE]);

/* Stage 4: the hex signature of the string to sign. */
int sigv4_signature(const uint8_t key[static SIGV4_KEY_SIZE], const char *string_to_sign,
                    char ret[static SIGV4_HEX_SIZE]);

/* Stage 5: the Authorization header's value. */
int sigv4_authorization(const char *access_key_id, const char *amz_date, const char *region,
                        const char *service, const char *signed_headers, const char *signature,
                        char **ret);

/* Every stage at once: the Authorization value for a request whose headers
 * already hold host, x-amz-date and (with temporary credentials)
 * x-amz-security-token. */
int sigv4_sign(const SigV4Request *r, const char *access_key_id, const char *secret_access_key,
               const char *region, const char *service, const char *amz_date, char **ret_authorization);

/* "20150830T123600Z" for a UTC time. */
void sigv4_format_amz_date(time_t t, char ret[static SIGV4_AMZ_DATE_SIZE]);

/* Lowercase hex SHA-256 of data, as used for payload hashes. */
void sigv4_sha256_hex(const void *data, size_t size, char ret[static SIGV4_HEX_SIZE]);
