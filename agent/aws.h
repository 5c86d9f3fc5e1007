/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The AWS client core: where each service lives, how a request is signed,
 * how a reply (or an error) is read, and which failures are worth another
 * attempt. The typed calls (ec2, route53, autoscaling, cloudformation, kms)
 * sit on top of aws_query_call(), aws_rest_xml_call() and aws_json_call(),
 * which share one retry loop.
 *
 * Return values of the three calls:
 *   0            success; *ret_reply holds the parsed reply. DryRunOperation
 *                (a DryRun request that would have succeeded) is also 0, with
 *                *ret_reply NULL and ret_error's code "DryRunOperation".
 *   -EACCES      authentication or permission refused (AuthFailure,
 *                UnauthorizedOperation, AccessDenied, ...), also after the one
 *                clock or credentials correction did not help
 *   -ENOENT      the error code ends in ".NotFound", or is NoSuchHostedZone or
 *                NoSuchChange
 *   -EREMOTEIO   any other error reply, also transient ones when the attempts
 *                ran out
 *   -ETIME       the deadline passed (before an attempt, or the next backoff
 *                would cross it)
 *   -EBADMSG     the replies could not be parsed, attempts ran out
 *   -ECONNRESET, -ECONNREFUSED, -ETIMEDOUT, -EPROTO, -EHOSTUNREACH
 *                the network failed on every attempt
 *   others       from the transport or the credentials provider, unchanged
 * ret_error (may be NULL; else initialized, e.g. "= {}") is reset at the
 * start. After a failure it describes the last error reply (http_status 0:
 * the last attempt got no reply); after a success it stays empty, except for
 * DryRunOperation. */

#include <stdbool.h>
#include <stdint.h>

#include "credentials.h"
#include "http.h"
#include "macro.h"
#include "time-util.h"
#include "xml.h"

typedef enum AwsService {
        AWS_SERVICE_EC2,
        AWS_SERVICE_ROUTE53,
        AWS_SERVICE_AUTOSCALING,
        AWS_SERVICE_CLOUDFORMATION,
        AWS_SERVICE_KMS,
        _AWS_SERVICE_MAX,
} AwsService;

/* A JSON-protocol reply (aws-json.h). */
typedef struct JsonDoc JsonDoc;

/* "ec2", "route53", "autoscaling", "cloudformation", "kms": the signing name. */
const char *aws_service_to_string(AwsService s);

typedef struct AwsError {
        long http_status;       /* 0: no reply */
        char *code;             /* NULL when the body named none */
        char *message;
        char *request_id;
} AwsError;

void aws_error_done(AwsError *e);

/* Name/value pairs that own their strings, in the order added: the Query
 * parameters of a call, or the query string of a REST call. */
typedef struct AwsParam {
        char *name;
        char *value;
} AwsParam;

typedef struct AwsParams {
        AwsParam *items;
        size_t n;
        size_t allocated;
} AwsParams;

void aws_params_done(AwsParams *p);
int aws_params_add(AwsParams *p, const char *name, const char *value);
/* The name from a format, as lists need: "Filter.%zu.Value.%zu". */
int aws_params_addf(AwsParams *p, const char *value, const char *name_format, ...) _printf_(3, 4);

/* AWS's percent-encoding (RFC 3986: every byte but A-Z a-z 0-9 - _ . ~),
 * for form bodies, query strings and path segments. */
int aws_uri_encode(const char *s, char **ret);

/* "name=value&name=value", each side encoded. */
int aws_params_encode(const AwsParams *p, char **ret);

/* Appends "name=value" (each side encoded, "&" before it unless *s is
 * empty) to the growing string *s of length *len: a form body. */
int aws_append_encoded_pair(char **s, size_t *len, const char *name, const char *value);

typedef struct AwsClient AwsClient;

/* The transport and provider are borrowed and must outlive the client.
 * Endpoints are resolved now, from the environment (AWS_ENDPOINT_URL_EC2,
 * AWS_ENDPOINT_URL_ROUTE_53, AWS_ENDPOINT_URL_AUTO_SCALING,
 * AWS_ENDPOINT_URL_CLOUDFORMATION, AWS_ENDPOINT_URL_KMS, then
 * AWS_ENDPOINT_URL), else the regional
 * defaults. -EINVAL when the region or an endpoint from the environment is
 * not usable. */
int aws_client_new(const HttpTransport *transport, const CredentialsProvider *credentials,
                   const char *region, AwsClient **ret);
AwsClient *aws_client_free(AwsClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(AwsClient *, aws_client_free);

/* Replaces one service's endpoint ("http(s)://host[:port][/base]"). */
int aws_client_set_endpoint(AwsClient *c, AwsService service, const char *url);

const char *aws_client_region(const AwsClient *c);
/* The resolved endpoint and the region requests to it are signed for. */
const char *aws_client_endpoint(const AwsClient *c, AwsService service);
const char *aws_client_signing_region(const AwsClient *c, AwsService service);

/* How far the local clock is behind AWS's (server minus local), as learnt
 * from a skew error's Date header; added to every signature's time. */
int64_t aws_client_clock_offset(const AwsClient *c);
void aws_client_set_clock_offset(AwsClient *c, int64_t offset_usec);

/* Whether a throttling answer to a call of service is returned at once
 * (-EREMOTEIO, the code in ret_error) instead of tried again here after a
 * backoff; other failures keep their attempts. For a caller that paces its
 * calls against an account-wide limit itself, where the attempts made here
 * would only keep the account saturated: many nodes changing one Route 53
 * set (dns.c). Off by default. Returns the previous setting. */
bool aws_client_return_throttling(AwsClient *c, AwsService service, bool b);

/* A Query-protocol call (EC2, Auto Scaling, CloudFormation): POST / with
 * Action, Version and params as a form body. params may be NULL. */
int aws_query_call(AwsClient *c, AwsService service, const char *action, const AwsParams *params,
                   usec_t deadline, AwsError *ret_error, XmlDoc **ret_reply);

/* A REST-XML call (Route 53). path is already percent-encoded (the caller
 * encodes the segments it inserts), query may be NULL, body (an XML
 * document) may be NULL. */
int aws_rest_xml_call(AwsClient *c, AwsService service, const char *method, const char *path,
                      const AwsParams *query, const char *body, usec_t deadline,
                      AwsError *ret_error, XmlDoc **ret_reply);

/* A JSON-protocol call (KMS): POST / with "X-Amz-Target: <the service's
 * target prefix>.<action>", Content-Type application/x-amz-json-1.1 and a
 * JSON object of the members (strings only; may be NULL) as the body. The
 * reply is a JSON object (aws-json.h); error replies carry their code in
 * "__type". */
int aws_json_call(AwsClient *c, AwsService service, const char *action, const AwsParams *members,
                  usec_t deadline, AwsError *ret_error, JsonDoc **ret_reply);

/* What an error reply means for another attempt (aws-error.c). */
typedef enum AwsErrorClass {
        AWS_ERROR_CLASS_PERMANENT,      /* it would be said again: give up */
        AWS_ERROR_CLASS_NOT_FOUND,      /* *.NotFound, NoSuchHostedZone, NoSuchChange */
        AWS_ERROR_CLASS_AUTH,           /* refused: authentication or permission */
        AWS_ERROR_CLASS_CLOCK_SKEW,     /* the signature's time is off */
        AWS_ERROR_CLASS_EXPIRED_TOKEN,  /* the session token expired or was rotated away */
        AWS_ERROR_CLASS_THROTTLING,     /* slow down, then try again */
        AWS_ERROR_CLASS_TRANSIENT,      /* 5xx, InternalError, ServiceUnavailable, ... */
        AWS_ERROR_CLASS_DRY_RUN,        /* DryRunOperation: a DryRun that would succeed */
        _AWS_ERROR_CLASS_MAX,
} AwsErrorClass;

/* session_token: whether the request carried one (an unknown key id is
 * then a rotated token, not a bad key). */
AwsErrorClass aws_error_classify(const AwsError *e, bool session_token);
const char *aws_error_class_to_string(AwsErrorClass c);

/* Whether the error says "slow down" (the codes botocore's standard retry
 * mode knows as throttling). */
bool aws_error_is_throttling(const AwsError *e);

/* Reads an error reply of either format into ret (EC2's
 * <Response><Errors><Error>, the Query and REST services' <ErrorResponse>
 * <Error>, Route 53's <InvalidChangeBatch><Messages>). Exposed for tests.
 * -EBADMSG when body is not XML; then ret is untouched. */
int aws_error_parse(long http_status, const char *body, size_t body_size, AwsError *ret);

/* Parses an RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into a
 * CLOCK_REALTIME time. -EINVAL otherwise. */
int aws_parse_http_date(const char *s, usec_t *ret);
