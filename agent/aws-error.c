/* SPDX-License-Identifier: Apache-2.0 */
/* AWS's error replies: reading either format, and what kind of error each
 * code is. The retry loop (aws.c) decides by these classes alone. */
#include <locale.h>
#include <string.h>
#include <time.h>

#include "aws.h"

void aws_error_done(AwsError *e) {
        if (!e)
                return;
        e->code = mfree(e->code);
        e->message = mfree(e->message);
        e->request_id = mfree(e->request_id);
        e->http_status = 0;
}

int aws_parse_http_date(const char *s, usec_t *ret) {
        struct tm tm = {};
        const char *end;
        locale_t loc;
        time_t t;

        if (isempty(s) || !ret)
                return -EINVAL;

        /* Day and month names are English whatever the process's locale. */
        loc = newlocale(LC_ALL_MASK, "C", (locale_t) 0);
        if (loc == (locale_t) 0)
                return -ENOMEM;
        end = strptime_l(s, "%a, %d %b %Y %H:%M:%S GMT", &tm, loc);
        freelocale(loc);
        if (!end || *end != '\0')
                return -EINVAL;

        t = timegm(&tm);
        if (t == (time_t) -1 || t < 0)
                return -EINVAL;
        *ret = (usec_t) t * USEC_PER_SEC;
        return 0;
}

static int strdup_if(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int aws_error_parse(long http_status, const char *body, size_t body_size, AwsError *ret) {
        _cleanup_(xml_doc_freep) XmlDoc *doc = NULL;
        _cleanup_free_ char *code = NULL, *message = NULL, *request_id = NULL;
        const XmlNode *root, *error = NULL;
        int r;

        if (!ret)
                return -EINVAL;

        r = xml_parse(body, body_size, &doc);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EBADMSG;

        root = xml_doc_root(doc);
        if (!root)
                return -EBADMSG;
        if (xml_name_is(root, "Response"))
                /* EC2: <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response> */
                error = xml_path(root, "Errors/Error");
        else if (xml_name_is(root, "ErrorResponse"))
                /* Query and REST-XML services: <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/> */
                error = xml_child(root, "Error");
        else if (xml_name_is(root, "Error"))
                /* S3's style, which some fakes imitate. */
                error = root;

        if (error) {
                r = strdup_if(xml_path_text(error, "Code"), &code);
                if (r >= 0)
                        r = strdup_if(xml_path_text(error, "Message"), &message);
                if (r < 0)
                        return r;
        } else if (xml_child(root, "Messages")) {
                /* Route 53's InvalidChangeBatch: the root names the error and
                 * each problem of the batch is one <Message>. */
                size_t len = 0;

                code = strdup(root->name);
                if (!code)
                        return -ENOMEM;
                XML_FOREACH(m, xml_child(root, "Messages"), "Message") {
                        size_t l = strlen(xml_text(m));
                        char *b;

                        b = realloc(message, len + (len > 0 ? 2 : 0) + l + 1);
                        if (!b)
                                return -ENOMEM;
                        message = b;
                        if (len > 0) {
                                /* The text that follows brings the NUL. */
                                memcpy(message + len, "; ", 2); /* NOLINT(bugprone-not-null-terminated-result) */
                                len += 2;
                        }
                        memcpy(message + len, xml_text(m), l + 1);
                        len += l;
                }
        }

        r = strdup_if(xml_path_text(root, "RequestID") ?: xml_path_text(root, "RequestId")
                              ?: xml_path_text(error, "RequestId"),
                      &request_id);
        if (r < 0)
                return r;

        aws_error_done(ret);
        ret->http_status = http_status;
        ret->code = TAKE_PTR(code);
        ret->message = TAKE_PTR(message);
        ret->request_id = TAKE_PTR(request_id);
        return 0;
}

static bool code_in(const char *code, const char *const *list) {
        if (!code)
                return false;
        for (const char *const *i = list; *i; i++)
                if (streq(code, *i))
                        return true;
        return false;
}

static bool code_is_throttling(const char *code) {
        /* The union botocore's standard retry mode knows, less the ones of
         * services this agent never calls. */
        static const char *const list[] = {
                "RequestLimitExceeded", "Throttling", "ThrottlingException", "ThrottledException",
                "RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
                "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException", "BandwidthLimitExceeded",
                NULL,
        };
        return code_in(code, list);
}

static bool code_is_transient(const char *code) {
        static const char *const list[] = {
                "InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable",
                "RequestTimeout", "RequestTimeoutException",
                NULL,
        };
        return code_in(code, list);
}

static bool error_is_clock_skew(const AwsError *e) {
        static const char *const list[] = {
                "RequestExpired", "RequestTimeTooSkewed", "RequestInTheFuture",
                NULL,
        };

        if (code_in(e->code, list))
                return true;
        /* Signature errors are about the clock only when the message says
         * so (Route 53 reports a skewed clock as SignatureDoesNotMatch with
         * "Signature expired: ..."); otherwise they are auth failures. */
        if (streq_ptr(e->code, "InvalidSignatureException") || streq_ptr(e->code, "SignatureDoesNotMatch"))
                return e->message && (strstr(e->message, "Signature expired") ||
                                      strstr(e->message, "Signature not yet current"));
        return false;
}

static bool error_is_expired_token(const AwsError *e, bool session_token) {
        if (streq_ptr(e->code, "ExpiredToken") || streq_ptr(e->code, "ExpiredTokenException"))
                return true;
        /* A rotated-away role session token reads as an unknown key id. */
        return session_token && streq_ptr(e->code, "InvalidClientTokenId");
}

static bool code_is_auth(const char *code) {
        static const char *const list[] = {
                "AuthFailure", "UnauthorizedOperation", "SignatureDoesNotMatch", "InvalidClientTokenId",
                "AccessDenied", "AccessDeniedException", "OptInRequired", "Blocked",
                "IncompleteSignature", "MissingAuthenticationToken", "InvalidAccessKeyId",
                "UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException",
                /* The JSON-protocol services' (KMS) names of the same refusals. */
                "InvalidSignatureException", "IncompleteSignatureException",
                "MissingAuthenticationTokenException",
                NULL,
        };
        return code_in(code, list);
}

static bool code_is_not_found(const char *code) {
        size_t l;

        if (!code)
                return false;
        if (streq(code, "NoSuchHostedZone") || streq(code, "NoSuchChange"))
                return true;
        l = strlen(code);
        return l >= strlen(".NotFound") && streq(code + l - strlen(".NotFound"), ".NotFound");
}

bool aws_error_is_throttling(const AwsError *e) {
        return e && code_is_throttling(e->code);
}

AwsErrorClass aws_error_classify(const AwsError *e, bool session_token) {
        if (streq_ptr(e->code, "DryRunOperation"))
                return AWS_ERROR_CLASS_DRY_RUN;
        if (error_is_clock_skew(e))
                return AWS_ERROR_CLASS_CLOCK_SKEW;
        if (error_is_expired_token(e, session_token))
                return AWS_ERROR_CLASS_EXPIRED_TOKEN;
        if (code_is_auth(e->code))
                return AWS_ERROR_CLASS_AUTH;
        if (code_is_throttling(e->code))
                return AWS_ERROR_CLASS_THROTTLING;
        if (code_is_transient(e->code) || e->http_status >= 500)
                return AWS_ERROR_CLASS_TRANSIENT;
        if (code_is_not_found(e->code))
                return AWS_ERROR_CLASS_NOT_FOUND;
        return AWS_ERROR_CLASS_PERMANENT;
}

const char *aws_error_class_to_string(AwsErrorClass c) {
        static const char *const table[_AWS_ERROR_CLASS_MAX] = {
                [AWS_ERROR_CLASS_PERMANENT] = "permanent",
                [AWS_ERROR_CLASS_NOT_FOUND] = "not-found",
                [AWS_ERROR_CLASS_AUTH] = "auth",
                [AWS_ERROR_CLASS_CLOCK_SKEW] = "clock-skew",
                [AWS_ERROR_CLASS_EXPIRED_TOKEN] = "expired-token",
                [AWS_ERROR_CLASS_THROTTLING] = "throttling",
                [AWS_ERROR_CLASS_TRANSIENT] = "transient",
                [AWS_ERROR_CLASS_DRY_RUN] = "dry-run",
        };

        if ((unsigned) c >= _AWS_ERROR_CLASS_MAX)
                return "unknown";
        return table[c];
}
