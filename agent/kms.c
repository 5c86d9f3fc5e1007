/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <string.h>

#include "aws-json.h"
#include "kms.h"
#include "log.h"

void kms_key_done(KmsKey *k) {
        if (!k)
                return;
        free(k->id);
        free(k->arn);
        free(k->state);
        free(k->key_manager);
        *k = (KmsKey) {};
}

static int dup_member(const JsonDoc *doc, const char *path, char **ret) {
        const char *s = json_doc_string(doc, path);

        if (isempty(s)) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

/* KeyMetadata of a DescribeKey reply into ret. */
static int parse_key_metadata(const JsonDoc *reply, KmsKey *ret) {
        _cleanup_(kms_key_done) KmsKey k = {};
        double deletion;
        int r;

        r = dup_member(reply, "KeyMetadata/KeyId", &k.id);
        if (r >= 0)
                r = dup_member(reply, "KeyMetadata/Arn", &k.arn);
        if (r >= 0)
                r = dup_member(reply, "KeyMetadata/KeyState", &k.state);
        if (r >= 0)
                r = dup_member(reply, "KeyMetadata/KeyManager", &k.key_manager);
        if (r < 0)
                return r;
        if (!k.id)
                return log_debug_errno(EBADMSG, "DescribeKey reply has no KeyMetadata/KeyId.");

        r = json_doc_bool(reply, "KeyMetadata/Enabled", &k.enabled);
        if (r == -EBADMSG)
                return log_debug_errno(r, "DescribeKey reply has a KeyMetadata/Enabled that is not a boolean.");
        /* KeyState is the whole story; Enabled only says whether it is
         * "Enabled". Older replies may carry Enabled alone. */
        if (!k.state) {
                k.state = strdup(k.enabled ? "Enabled" : "Disabled");
                if (!k.state)
                        return -ENOMEM;
        }

        r = json_doc_number(reply, "KeyMetadata/DeletionDate", &deletion);
        if (r >= 0 && isfinite(deletion) && deletion > 0 && deletion < (double) (UINT64_MAX / USEC_PER_SEC))
                k.deletion_date = (usec_t) (deletion * (double) USEC_PER_SEC);

        *ret = k;
        k = (KmsKey) {};
        return 0;
}

int kms_describe_key(AwsClient *c, const char *key_id, usec_t deadline, AwsError *ret_error, KmsKey *ret) {
        _cleanup_(aws_error_done) AwsError own_error = {};
        _cleanup_(aws_params_done) AwsParams members = {};
        _cleanup_(json_doc_freep) JsonDoc *reply = NULL;
        AwsError *error = ret_error ?: &own_error;
        int r;

        if (!c || isempty(key_id) || !ret)
                return -EINVAL;

        r = aws_params_add(&members, "KeyId", key_id);
        if (r < 0)
                return r;

        r = aws_json_call(c, AWS_SERVICE_KMS, "DescribeKey", &members, deadline, error, &reply);
        /* KMS names a missing key NotFoundException, not "*.NotFound". */
        if (r == -EREMOTEIO && streq_ptr(error->code, "NotFoundException"))
                return log_debug_errno(ENOENT, "DescribeKey %s: %s", key_id, strna(error->message));
        if (r < 0)
                return r;

        return parse_key_metadata(reply, ret);
}

const char *kms_key_unusable_reason(const KmsKey *k) {
        static const struct {
                const char *state;
                const char *reason;
        } reasons[] = {
                { "Disabled", "the key is disabled: EC2 cannot decrypt the volume's data key, so every attach "
                              "of the volume fails until the key is enabled again" },
                { "PendingDeletion", "the key is scheduled for deletion (and cannot be used meanwhile): EC2 "
                                     "cannot attach the volume; cancel the deletion and enable the key, or the "
                                     "volume's data is lost for good when the key goes" },
                { "PendingImport", "the key has no key material (imported material expired or was deleted): "
                                   "EC2 cannot attach the volume until the same material is imported again" },
                { "Unavailable", "the key's custom key store is disconnected: EC2 cannot attach the volume "
                                 "until the key store is connected again" },
                { "Creating", "the key is still being created: EC2 cannot use it yet" },
        };

        if (!k || streq_ptr(k->state, "Enabled"))
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(reasons); i++)
                if (streq_ptr(k->state, reasons[i].state))
                        return reasons[i].reason;
        return "the key is not in state Enabled: EC2 cannot attach a volume it encrypts";
}
