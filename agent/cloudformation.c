/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "cloudformation.h"
#include "log.h"

/* CloudFormation says "not now" with the catch-all ValidationError; only
 * the message tells a signal that came too late from a stack that does not
 * exist. The phrases are matched loosely (case, "can not"/"cannot") because
 * they are prose, not API. */
static bool validation_error_says(const AwsError *e, const char *const *phrases) {
        if (!streq_ptr(e->code, "ValidationError") || !e->message)
                return false;
        for (const char *const *p = phrases; *p; p++)
                if (strcasestr(e->message, *p))
                        return true;
        return false;
}

static bool error_is_already_signalled(const AwsError *e) {
        static const char *const phrases[] = { "already", NULL };
        return validation_error_says(e, phrases);
}

static bool error_is_not_waiting(const AwsError *e) {
        static const char *const phrases[] = {
                "cannot be signaled", "can not be signaled", "cannot be signalled", "not waiting for signals",
                NULL,
        };
        return validation_error_says(e, phrases);
}

int cloudformation_signal_resource(AwsClient *c, const char *stack, const char *logical_resource_id,
                                   const char *unique_id, bool success, usec_t deadline, AwsError *ret_error) {
        _cleanup_(aws_params_done) AwsParams params = {};
        _cleanup_(aws_error_done) AwsError own_error = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        AwsError *error = ret_error ?: &own_error;
        const XmlNode *root;
        int r;

        if (!c || isempty(stack) || isempty(logical_resource_id) || isempty(unique_id))
                return -EINVAL;

        /* The model's member order, as botocore writes the form. */
        r = aws_params_add(&params, "StackName", stack);
        if (r >= 0)
                r = aws_params_add(&params, "LogicalResourceId", logical_resource_id);
        if (r >= 0)
                r = aws_params_add(&params, "UniqueId", unique_id);
        if (r >= 0)
                r = aws_params_add(&params, "Status", success ? "SUCCESS" : "FAILURE");
        if (r < 0)
                return r;

        r = aws_query_call(c, AWS_SERVICE_CLOUDFORMATION, "SignalResource", &params, deadline, error, &reply);
        if (r == -EREMOTEIO && error_is_already_signalled(error))
                return log_debug_errno(EALREADY, "SignalResource %s/%s %s: already signalled: %s", stack,
                                       logical_resource_id, unique_id, error->message);
        if (r == -EREMOTEIO && error_is_not_waiting(error))
                return log_debug_errno(ESRCH, "SignalResource %s/%s %s: not waiting for signals: %s", stack,
                                       logical_resource_id, unique_id, error->message);
        if (r < 0)
                return r;

        /* SignalResource has no result, only <SignalResourceResponse>; any
         * other document is not an answer to this request. */
        root = xml_doc_root(reply);
        if (!xml_name_is(root, "SignalResourceResponse"))
                return log_debug_errno(EBADMSG, "SignalResource reply is <%s>, not <SignalResourceResponse>.",
                                       root ? root->name : "");
        return 0;
}
