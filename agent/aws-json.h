/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The AWS JSON protocol's bodies (KMS: "application/x-amz-json-1.1"): the
 * request object, the reply as a document to read members from, and the
 * error reply. aws-json.c is the only file besides imds-parse.c that
 * includes json-c's headers; the callers see JsonDoc and paths.
 *
 * A reply is read by paths of member names, "KeyMetadata/KeyState": the
 * JSON protocol has no lists in what this agent reads, so a path never
 * indexes. Every lookup accepts NULL and returns "absent". */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "macro.h"

/* Same cap as an XML reply's: no reply this agent reads comes near it. */
#define JSON_DOC_SIZE_MAX ((size_t) 4 * 1024 * 1024)

typedef struct JsonDoc JsonDoc;

/* Parses a whole reply, which must be one JSON object (blanks around it
 * allowed). An empty body reads as {} (the JSON protocol's success with
 * nothing to say). -EBADMSG when it is not one JSON object or nests deeper
 * than json-c's default depth; -EMSGSIZE when larger than JSON_DOC_SIZE_MAX;
 * -ENOMEM. */
int json_doc_parse(const char *data, size_t size, JsonDoc **ret);

JsonDoc *json_doc_free(JsonDoc *doc);
DEFINE_TRIVIAL_CLEANUP_FUNC(JsonDoc *, json_doc_free);

/* The string at path; NULL when absent, not a string, or holding a NUL.
 * The pointer lives as long as doc. */
const char *json_doc_string(const JsonDoc *doc, const char *path);

/* Typed members: -ENOENT when absent (or null), -EBADMSG when of another
 * type; ret is untouched on failure. A number is a JSON number; the JSON
 * protocol sends timestamps as seconds since the epoch, with a fraction. */
int json_doc_bool(const JsonDoc *doc, const char *path, bool *ret);
int json_doc_number(const JsonDoc *doc, const char *path, double *ret);

/* Builds the request body: one JSON object whose members are the params'
 * names with their values as strings, in order. NULL or empty params give
 * "{}". */
int json_encode_string_members(const AwsParams *members, char **ret);

/* Reads a JSON-protocol error reply into ret: the code from "__type" (the
 * part after a '#', as in "com.amazonaws.kms#NotFoundException"), else
 * from the X-Amzn-ErrorType header (the part before a ':'), which may be
 * NULL; the message from "message" or "Message". -EBADMSG when the body is
 * not a JSON object and the header names no code either; then ret is
 * untouched. */
int aws_json_error_parse(long http_status, const char *body, size_t body_size, const char *error_type_header,
                         AwsError *ret);
