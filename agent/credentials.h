/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* AWS credentials, found the way the SDKs do: the environment first
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the
 * instance role from IMDS, refreshed before its Expiration. Every secret is
 * registered with the log's redaction when it is loaded. */

#include "macro.h"
#include "time-util.h"

typedef struct AwsCredentials {
        char *access_key_id;
        char *secret_access_key;
        char *session_token;    /* NULL for long-term keys */
        usec_t expiration;      /* CLOCK_REALTIME; USEC_INFINITY when they do not expire */
} AwsCredentials;

void aws_credentials_done(AwsCredentials *c);
int aws_credentials_copy(const AwsCredentials *c, AwsCredentials *ret);

typedef struct CredentialsProvider {
        /* Returns credentials valid for at least a few minutes, refreshing
         * them if needed; the pointer stays valid until the next call. With
         * force_refresh (after the service rejected them as expired) they are
         * fetched again even if they look fresh. */
        int (*get)(void *userdata, bool force_refresh, usec_t deadline, const AwsCredentials **ret);
        void *userdata;
} CredentialsProvider;

static inline int credentials_get(const CredentialsProvider *p, bool force_refresh, usec_t deadline,
                                  const AwsCredentials **ret) {
        return p->get(p->userdata, force_refresh, deadline, ret);
}

/* Reads the environment. -ENOENT when AWS_ACCESS_KEY_ID is unset; -EINVAL
 * when only one of the key id and the secret is set. */
int aws_credentials_from_environment(AwsCredentials *ret);

/* The provider behind CredentialsProvider: the environment's keys when set
 * (they never expire, and force_refresh cannot change them), else the
 * instance role from imds, cached and fetched again within 5 minutes of
 * their Expiration or on force_refresh. -ENOKEY when neither is available
 * (no environment keys and imds NULL here, or no role at get()); -EINVAL when
 * the environment holds only half a key pair. The Imds is borrowed. */
typedef struct Imds Imds;
int credentials_provider_new(Imds *imds, CredentialsProvider **ret);
CredentialsProvider *credentials_provider_free(CredentialsProvider *provider);
DEFINE_TRIVIAL_CLEANUP_FUNC(CredentialsProvider *, credentials_provider_free);
