/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The EC2 instance metadata service, IMDSv2 only (there is deliberately no
 * IMDSv1 fallback). A session token is fetched with PUT /latest/api/token,
 * kept until shortly before its TTL runs out, and fetched again when IMDS
 * answers 401.
 *
 * Every call takes an absolute CLOCK_MONOTONIC deadline (USEC_INFINITY:
 * none). Connection errors, timeouts, 5xx/429 and malformed replies are
 * retried a bounded number of times with exponential backoff and full
 * jitter. Errors:
 *   -ENOENT        404: the item does not exist (no user data, no role)
 *   -EACCES        IMDS refused the token (disabled, or the hop limit /
 *                  X-Forwarded-For), or refused a request with a fresh token
 *   -EPROTONOSUPPORT  the endpoint does not offer IMDSv2 tokens
 *   -ETIME         the deadline passed (or too little of it was left for
 *                  another attempt)
 *   -EBADMSG       the reply stayed malformed after every attempt
 *   -EPROTO        an unexpected HTTP status
 *   transport errors (see http.h) after the last attempt
 *
 * An Imds holds the token and uses its transport's one connection: use it
 * from one thread at a time. */

#include "credentials.h"
#include "http.h"
#include "macro.h"
#include "time-util.h"

#define IMDS_ENDPOINT_DEFAULT "http://169.254.169.254/"
#define IMDS_TOKEN_TTL_SEC 21600U

typedef struct Imds Imds;

typedef struct ImdsIdentity {
        char *account_id;
        char *instance_id;
        char *region;
        char *availability_zone;
        char *private_ip;
} ImdsIdentity;

void imds_identity_done(ImdsIdentity *identity);

/* endpoint: the base URL, with or without the final slash; NULL reads
 * AWS_EC2_METADATA_SERVICE_ENDPOINT, else IMDS_ENDPOINT_DEFAULT. The
 * transport is borrowed and must outlive the Imds. */
int imds_new(HttpTransport *transport, const char *endpoint, Imds **ret);
Imds *imds_free(Imds *imds);
DEFINE_TRIVIAL_CLEANUP_FUNC(Imds *, imds_free);

/* Raw GET of path, relative to /latest/ (e.g. "meta-data/instance-id").
 * The body must be text (no NUL bytes). */
int imds_get(Imds *imds, const char *path, usec_t deadline, char **ret);

/* Typed helpers; each checks the shape of what it returns. */
int imds_get_instance_id(Imds *imds, usec_t deadline, char **ret);
int imds_get_region(Imds *imds, usec_t deadline, char **ret);
int imds_get_availability_zone(Imds *imds, usec_t deadline, char **ret);
int imds_get_mac(Imds *imds, usec_t deadline, char **ret);
int imds_get_local_ipv4(Imds *imds, usec_t deadline, char **ret);
int imds_get_identity(Imds *imds, usec_t deadline, ImdsIdentity *ret);

/* The user data as stored (it may be binary, hence the size; it is NUL
 * terminated all the same). -ENOENT when the instance has none, which is
 * normal. ret_size may be NULL. */
int imds_get_user_data(Imds *imds, usec_t deadline, char **ret, size_t *ret_size);

/* The instance role's name (the first line of
 * meta-data/iam/security-credentials/), -ENOENT without a role. */
int imds_get_role_name(Imds *imds, usec_t deadline, char **ret);

/* The instance role's temporary credentials, their secrets registered with
 * the log. -ENOENT without a role; -EACCES when IMDS reports a Code other
 * than "Success". */
int imds_get_role_credentials(Imds *imds, usec_t deadline, AwsCredentials *ret);

/* The pure parsers behind the helpers (imds-parse.c), exposed for tests.
 * -EBADMSG on any malformed input; imds_parse_credentials() returns -EACCES
 * for a Code other than "Success". They do not register secrets. */
int imds_parse_credentials(const char *json, size_t size, AwsCredentials *ret);
int imds_parse_identity(const char *json, size_t size, ImdsIdentity *ret);
/* Exactly "YYYY-MM-DDTHH:MM:SSZ" -> CLOCK_REALTIME usec. */
int imds_parse_timestamp(const char *s, usec_t *ret);
