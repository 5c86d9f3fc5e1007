/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The one KMS action the agent needs: DescribeKey, to tell ahead (--check)
 * whether EC2 will be able to use an encrypted volume's key when it attaches
 * the volume. Names on the wire follow botocore's model (kms 2014-11-01, JSON
 * protocol, target prefix TrentService). */

#include <stdbool.h>

#include "aws.h"

typedef struct KmsKey {
        char *id;               /* the key id (a UUID, or "mrk-..." for a multi-Region key) */
        char *arn;
        char *state;            /* KeyState: Enabled, Disabled, PendingDeletion, PendingImport, Unavailable, ... */
        bool enabled;
        char *key_manager;      /* AWS (an AWS managed key such as aws/ebs) or CUSTOMER; NULL when not said */
        usec_t deletion_date;   /* CLOCK_REALTIME; 0 when none is scheduled */
} KmsKey;

void kms_key_done(KmsKey *k);

/* DescribeKey of key_id (a key id, key ARN, alias name "alias/..." or alias
 * ARN; DescribeVolumes names the key by its ARN). -ENOENT when KMS knows no
 * such key (NotFoundException: deleted, or in another account or Region);
 * -EACCES when the caller may not describe it; else the errors of
 * aws_json_call(), -EBADMSG for a reply without KeyMetadata/KeyId.
 * ret_error (may be NULL, else initialized) describes the AWS error. */
int kms_describe_key(AwsClient *c, const char *key_id, usec_t deadline, AwsError *ret_error, KmsKey *ret);

/* Why EC2 cannot use the key to attach a volume it encrypts (a sentence
 * without the key's name, for a "key X: <reason>" line), or NULL when the
 * key is enabled. EC2 decrypts the volume's data key with the KMS key at
 * every attach; a key in any state but Enabled refuses that. Pure. */
const char *kms_key_unusable_reason(const KmsKey *k);
