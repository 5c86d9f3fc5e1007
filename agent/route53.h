/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The Route 53 actions the agent needs (REST-XML, API 2013-04-01). Element
 * names follow the model (botocore's route53 service-2.json). Errors are
 * those of aws_rest_xml_call(); ret_error (may be NULL, else initialized)
 * receives the AWS error of a failed call. */

#include <stdbool.h>
#include <stdint.h>

#include "aws.h"

typedef struct Route53RecordSet {
        char *name;             /* as listed, normalized: escapes decoded ("\052" -> "*"), lowercase, final dot */
        char *type;             /* "A", "AAAA", "TXT", ... */
        int64_t ttl;            /* -1 when absent (alias sets) */
        char *set_identifier;   /* NULL for a simple set */
        bool multivalue_answer;
        char *health_check_id;  /* NULL when none */
        char **values;          /* NULL-terminated; never NULL after parsing */
        size_t n_values;
        bool alias;             /* an alias set (no values) */
        bool other_policy;      /* weighted, latency, geolocation, failover, CIDR or traffic
                                 * policy: members this module does not model, so it cannot
                                 * reproduce the set exactly (for DELETE) */
} Route53RecordSet;

void route53_record_set_done(Route53RecordSet *s);

typedef struct Route53RecordSetPage {
        Route53RecordSet *sets;
        size_t n_sets;
        bool is_truncated;
        char *next_name;        /* where the next page starts, when truncated */
        char *next_type;
        char *next_identifier;
} Route53RecordSetPage;

void route53_record_set_page_done(Route53RecordSetPage *p);

typedef enum Route53ChangeAction {
        ROUTE53_CREATE,
        ROUTE53_DELETE,
        ROUTE53_UPSERT,
        _ROUTE53_CHANGE_ACTION_MAX,
} Route53ChangeAction;

const char *route53_change_action_to_string(Route53ChangeAction a);

typedef struct Route53Change {
        Route53ChangeAction action;
        const Route53RecordSet *set;    /* name, type, ttl, set_identifier, multivalue_answer,
                                         * health_check_id, values are written */
} Route53Change;

typedef struct Route53ChangeInfo {
        char *id;               /* without "/change/" */
        char *status;           /* PENDING, INSYNC */
} Route53ChangeInfo;

void route53_change_info_done(Route53ChangeInfo *i);

/* Hosted zone ids with or without "/hostedzone/", change ids with or without
 * "/change/"; the bare id, which must be letters and digits. -EINVAL
 * otherwise. */
int route53_zone_id_normalize(const char *s, char **ret);
int route53_change_id_normalize(const char *s, char **ret);

/* A DNS name as Route 53 compares it: escapes ("\052") decoded, ASCII
 * lowercased, with the final dot. */
int route53_name_normalize(const char *name, char **ret);
bool route53_name_equal(const char *a, const char *b);

/* One page, from (start_name, start_type, start_identifier) on; every start
 * argument may be NULL, max_items 0 leaves the service's default. Route 53
 * answers from that point of its order on: the sets returned may well have
 * other names. */
int route53_list_resource_record_sets(AwsClient *c, const char *zone_id, const char *start_name,
                                      const char *start_type, const char *start_identifier, unsigned max_items,
                                      usec_t deadline, AwsError *ret_error, Route53RecordSetPage *ret);

/* Finds the set with exactly this name, type and set identifier (NULL: a
 * simple set without one). -ENOENT when there is none; *ret is untouched
 * then. */
int route53_find_record_set(AwsClient *c, const char *zone_id, const char *name, const char *type,
                            const char *set_identifier, usec_t deadline, AwsError *ret_error,
                            Route53RecordSet *ret);

/* The request body of a change batch (exposed for tests). */
int route53_change_batch_to_xml(const Route53Change *changes, size_t n_changes, const char *comment,
                                char **ret);

/* Submits the batch, all or nothing. ret may be NULL. A batch that does not
 * apply (a DELETE of a set that differs, a CREATE of one that exists) fails
 * with -EREMOTEIO and code "InvalidChangeBatch". */
int route53_change_resource_record_sets(AwsClient *c, const char *zone_id, const Route53Change *changes,
                                        size_t n_changes, const char *comment, usec_t deadline,
                                        AwsError *ret_error, Route53ChangeInfo *ret);

int route53_get_change(AwsClient *c, const char *change_id, usec_t deadline, AwsError *ret_error,
                       Route53ChangeInfo *ret);
