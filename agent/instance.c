/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "instance.h"
#include "log.h"

static int session_get_credentials(void *userdata, bool force_refresh, usec_t deadline,
                                   const AwsCredentials **ret) {
        AwsSession *s = userdata;
        const AwsCredentials *shared = NULL;
        AwsCredentials copy = {};
        int r;

        pthread_mutex_lock(&s->instance->credentials_lock);
        r = credentials_get(s->instance->credentials, force_refresh, deadline, &shared);
        if (r >= 0)
                r = aws_credentials_copy(shared, &copy);
        pthread_mutex_unlock(&s->instance->credentials_lock);
        if (r < 0)
                return r;

        aws_credentials_done(&s->copy);
        s->copy = copy;
        *ret = &s->copy;
        return 0;
}

AwsSession *aws_session_free(AwsSession *s) {
        if (!s)
                return NULL;
        aws_client_free(s->aws);
        http_transport_curl_free(s->transport);
        aws_credentials_done(&s->copy);
        return mfree(s);
}

int aws_session_new(Instance *i, AwsSession **ret) {
        _cleanup_(aws_session_freep) AwsSession *s = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->instance = i;
        s->credentials = (CredentialsProvider) { .get = session_get_credentials, .userdata = s };

        r = http_transport_curl_new(&s->transport);
        if (r < 0)
                return r;
        r = aws_client_new(s->transport, &s->credentials, i->region, &s->aws);
        if (r < 0)
                return r;
        /* A clock offset learnt by one client is true for all of them. */
        if (i->aws)
                aws_client_set_clock_offset(s->aws, aws_client_clock_offset(i->aws));

        *ret = TAKE_PTR(s);
        return 0;
}

Instance *instance_free(Instance *i) {
        if (!i)
                return NULL;

        aws_session_free(i->session);
        credentials_provider_free(i->credentials);
        pthread_mutex_destroy(&i->credentials_lock);
        imds_free(i->imds);
        http_transport_curl_free(i->transport);
        free(i->instance_id);
        free(i->region);
        free(i->availability_zone);
        free(i->account_id);
        free(i->private_ip);
        return mfree(i);
}

int instance_open(usec_t deadline, Instance **ret) {
        _cleanup_(instance_freep) Instance *i = NULL;
        _cleanup_(imds_identity_done) ImdsIdentity identity = {};
        const char *region;
        int r;

        i = calloc(1, sizeof(*i));
        if (!i)
                return log_oom();
        pthread_mutex_init(&i->credentials_lock, NULL);

        r = http_transport_curl_new(&i->transport);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the HTTP client: %m");

        r = imds_new(i->transport, NULL, &i->imds);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the instance metadata client: %m");

        /* The identity document holds everything at once: one round trip. */
        r = imds_get_identity(i->imds, deadline, &identity);
        if (r == -EACCES)
                return log_error_errno(r, "The instance metadata service refused an IMDSv2 token (403): IMDS is "
                                       "disabled for this instance (aws ec2 modify-instance-metadata-options "
                                       "--http-endpoint enabled), or the request went through a proxy.");
        if (r == -ETIME || r == -ETIMEDOUT)
                return log_error_errno(r, "The instance metadata service did not answer before the deadline: the "
                                       "network is not up yet, or the token's reply is dropped on its way back "
                                       "(HttpPutResponseHopLimit too low for a container).");
        if (r < 0)
                return log_error_errno(r, "Failed to read the instance identity from IMDS: %m");

        i->instance_id = TAKE_PTR(identity.instance_id);
        i->availability_zone = TAKE_PTR(identity.availability_zone);
        i->account_id = TAKE_PTR(identity.account_id);
        i->private_ip = TAKE_PTR(identity.private_ip);

        /* As in the SDKs, AWS_REGION wins over what the instance says. */
        region = getenv("AWS_REGION");
        i->region = strdup(!isempty(region) ? region : strempty(identity.region));
        if (!i->region)
                return log_oom();
        if (isempty(i->region))
                return log_error_errno(EINVAL, "Neither AWS_REGION nor the identity document names a region.");

        r = credentials_provider_new(i->imds, &i->credentials);
        if (r < 0)
                return log_error_errno(r, "Failed to set up AWS credentials: %m");

        r = aws_session_new(i, &i->session);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the AWS client (check AWS_ENDPOINT_URL*): %m");
        i->aws = i->session->aws;

        log_info("This is instance %s in %s (%s), account %s, private IP %s.",
                 i->instance_id, i->availability_zone, i->region, strna(i->account_id),
                 strna(i->private_ip));

        *ret = TAKE_PTR(i);
        return 0;
}

int instance_apply_user_data(Instance *i, Config *config, char **set_overrides, usec_t deadline) {
        _cleanup_(config_error_done) ConfigError error = {};
        _cleanup_free_ char *user_data = NULL;
        int r;

        r = imds_get_user_data(i->imds, deadline, &user_data, NULL);
        if (r == -ENOENT) {
                log_debug("The instance has no user data.");
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read the user data from IMDS: %m");

        r = config_apply_user_data(config, user_data, set_overrides, &error);
        if (r < 0)
                return log_error_errno(r, "%s", error.message ?: "Invalid user data.");
        if (r == 0) {
                log_debug("The user data is not for nodeagent (its first line is not #nodeagent).");
                return 0;
        }

        r = config_validate(config, &error);
        if (r < 0)
                return log_error_errno(r, "%s", error.message ?: "Invalid configuration.");

        log_info("Applied the configuration from the user data.");
        return 1;
}
