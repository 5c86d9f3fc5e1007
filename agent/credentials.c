/* SPDX-License-Identifier: Apache-2.0 */
#include "credentials.h"
#include "imds.h"
#include "log.h"

/* Role credentials are replaced this long before their Expiration: IMDS has
 * new ones ready at least five minutes ahead, and a request signed now must
 * still be valid when AWS checks it. */
#define CREDENTIALS_REFRESH_MARGIN (5 * USEC_PER_MINUTE)

static char *erase_and_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
        return NULL;
}

void aws_credentials_done(AwsCredentials *c) {
        if (!c)
                return;
        free(c->access_key_id);
        erase_and_free(c->secret_access_key);
        erase_and_free(c->session_token);
        *c = (AwsCredentials) {};
}

int aws_credentials_copy(const AwsCredentials *c, AwsCredentials *ret) {
        _cleanup_(aws_credentials_done) AwsCredentials copy = {};

        if (!c || !ret || !c->access_key_id || !c->secret_access_key)
                return -EINVAL;

        copy.access_key_id = strdup(c->access_key_id);
        copy.secret_access_key = strdup(c->secret_access_key);
        if (!copy.access_key_id || !copy.secret_access_key)
                return -ENOMEM;
        if (c->session_token) {
                copy.session_token = strdup(c->session_token);
                if (!copy.session_token)
                        return -ENOMEM;
        }
        copy.expiration = c->expiration;

        *ret = copy;
        copy = (AwsCredentials) {};
        return 0;
}

int aws_credentials_from_environment(AwsCredentials *ret) {
        _cleanup_(aws_credentials_done) AwsCredentials c = {};
        const char *key_id, *secret, *token;

        if (!ret)
                return -EINVAL;

        key_id = secure_getenv("AWS_ACCESS_KEY_ID");
        secret = secure_getenv("AWS_SECRET_ACCESS_KEY");
        token = secure_getenv("AWS_SESSION_TOKEN");

        if (isempty(key_id) && isempty(secret))
                return -ENOENT;
        if (isempty(key_id) || isempty(secret))
                return log_debug_errno(EINVAL, "credentials: only one of AWS_ACCESS_KEY_ID and "
                                       "AWS_SECRET_ACCESS_KEY is set.");

        c.access_key_id = strdup(key_id);
        c.secret_access_key = strdup(secret);
        if (!c.access_key_id || !c.secret_access_key)
                return -ENOMEM;
        if (!isempty(token)) {
                c.session_token = strdup(token);
                if (!c.session_token)
                        return -ENOMEM;
        }
        c.expiration = USEC_INFINITY;

        log_register_secret(c.secret_access_key);
        log_register_secret(c.session_token);

        *ret = c;
        c = (AwsCredentials) {};
        return 0;
}

typedef struct Provider {
        /* The table handed out; its userdata points back here. */
        CredentialsProvider provider;
        Imds *imds;             /* borrowed; NULL when the environment has keys */
        AwsCredentials cached;
        bool have;
        bool from_environment;
} Provider;

static bool credentials_fresh(const AwsCredentials *c) {
        if (c->expiration == USEC_INFINITY)
                return true;
        return usec_add(now(CLOCK_REALTIME), CREDENTIALS_REFRESH_MARGIN) < c->expiration;
}

static int provider_get(void *userdata, bool force_refresh, usec_t deadline, const AwsCredentials **ret) {
        Provider *p = userdata;
        AwsCredentials fresh = {};
        int r;

        if (!p || !ret)
                return -EINVAL;

        if (p->from_environment) {
                /* Long-term keys cannot be refreshed: a rejection stands. */
                *ret = &p->cached;
                return 0;
        }

        if (p->have && !force_refresh && credentials_fresh(&p->cached)) {
                *ret = &p->cached;
                return 0;
        }

        r = imds_get_role_credentials(p->imds, deadline, &fresh);
        if (r == -ENOENT)
                return log_debug_errno(ENOKEY, "credentials: AWS_ACCESS_KEY_ID is not set and the instance "
                                       "has no IAM role (instance profile).");
        if (r < 0) {
                /* Still valid, merely due for replacement: keep using them
                 * rather than fail a request they would sign fine. */
                if (p->have && !force_refresh && p->cached.expiration > now(CLOCK_REALTIME)) {
                        log_debug_errno(r, "credentials: refreshing the role credentials failed, using "
                                        "the current ones until they expire: %m");
                        *ret = &p->cached;
                        return 0;
                }
                return log_debug_errno(r, "credentials: could not get the role credentials from IMDS: %m");
        }

        aws_credentials_done(&p->cached);
        p->cached = fresh;
        p->have = true;
        *ret = &p->cached;
        return 0;
}

int credentials_provider_new(Imds *imds, CredentialsProvider **ret) {
        _cleanup_free_ Provider *p = NULL;
        AwsCredentials env = {};
        int r;

        if (!ret)
                return -EINVAL;

        p = calloc(1, sizeof(Provider));
        if (!p)
                return -ENOMEM;

        r = aws_credentials_from_environment(&env);
        if (r == -ENOENT) {
                if (!imds)
                        return log_debug_errno(ENOKEY, "credentials: AWS_ACCESS_KEY_ID is not set and there "
                                               "is no instance metadata service to ask for role credentials.");
                p->imds = imds;
                log_debug("credentials: using the instance role from IMDS.");
        } else if (r < 0)
                return r;
        else {
                p->cached = env;
                p->have = true;
                p->from_environment = true;
                log_debug("credentials: using %s from the environment.", env.access_key_id);
        }

        p->provider = (CredentialsProvider) {
                .get = provider_get,
                .userdata = p,
        };
        *ret = &TAKE_PTR(p)->provider;
        return 0;
}

CredentialsProvider *credentials_provider_free(CredentialsProvider *provider) {
        Provider *p;

        if (!provider)
                return NULL;
        p = provider->userdata;
        aws_credentials_done(&p->cached);
        free(p);
        return NULL;
}
