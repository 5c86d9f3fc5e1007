/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* This instance as AWS knows it: its identity from IMDS, the credentials it
 * signs with, and the AWS client every path shares. Every mode but --help
 * starts here. */

#include <pthread.h>

#include "aws.h"
#include "config.h"
#include "credentials.h"
#include "http.h"
#include "imds.h"
#include "time-util.h"

/* An AWS client of its own for one thread: curl handles are not shared
 * between threads. Its credentials come from the instance's provider under
 * a lock, copied, so that a refresh in one thread never frees what another
 * is signing with. */
typedef struct AwsSession {
        struct Instance *instance;
        HttpTransport *transport;
        CredentialsProvider credentials;
        AwsCredentials copy;
        AwsClient *aws;
} AwsSession;

typedef struct Instance {
        HttpTransport *transport;
        Imds *imds;
        CredentialsProvider *credentials;       /* used only under credentials_lock */
        pthread_mutex_t credentials_lock;
        AwsSession *session;                    /* the main thread's */
        AwsClient *aws;                         /* == session->aws */

        char *instance_id;
        char *region;
        char *availability_zone;
        char *account_id;
        char *private_ip;       /* the primary interface's private IPv4 */
} Instance;

/* Asks IMDS who this instance is (region from AWS_REGION when set), and
 * prepares credentials and the AWS client. Logs what fails. */
int instance_open(usec_t deadline, Instance **ret);
Instance *instance_free(Instance *i);

/* A new AWS client for another thread (see AwsSession). */
int aws_session_new(Instance *i, AwsSession **ret);
AwsSession *aws_session_free(AwsSession *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(AwsSession *, aws_session_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Instance *, instance_free);

/* Fetches the user data and, when its first line is "#nodeagent", applies it
 * to config (then the --set overrides again) and validates the result.
 * Returns 1 when applied, 0 when there is none for nodeagent, -EINVAL
 * (logged, naming the line) when it is malformed: a configuration error. */
int instance_apply_user_data(Instance *i, Config *config, char **set_overrides, usec_t deadline);
