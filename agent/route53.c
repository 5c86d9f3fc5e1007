/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>

#include "log.h"
#include "route53.h"

#define ROUTE53_API "/2013-04-01"
#define ROUTE53_XMLNS "https://route53.amazonaws.com/doc/2013-04-01/"

/* The sets of one name and type fit in a few pages: Route 53 allows at most
 * a few hundred sets per name. Following more pages than this means the
 * service's Next* markers do not move. */
#define ROUTE53_PAGES_MAX 50U
#define ROUTE53_FIND_PAGE_SIZE 100U

/* Route 53's TTL is a 32-bit signed value on the wire. */
#define ROUTE53_TTL_MAX INT32_MAX

static const char *const change_actions[_ROUTE53_CHANGE_ACTION_MAX] = {
        [ROUTE53_CREATE] = "CREATE",
        [ROUTE53_DELETE] = "DELETE",
        [ROUTE53_UPSERT] = "UPSERT",
};

const char *route53_change_action_to_string(Route53ChangeAction a) {
        if (a < 0 || a >= _ROUTE53_CHANGE_ACTION_MAX)
                return NULL;
        return change_actions[a];
}

void route53_record_set_done(Route53RecordSet *s) {
        if (!s)
                return;
        free(s->name);
        free(s->type);
        free(s->set_identifier);
        free(s->health_check_id);
        strv_free(s->values);
        *s = (Route53RecordSet) { .ttl = -1 };
}

void route53_record_set_page_done(Route53RecordSetPage *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_sets; i++)
                route53_record_set_done(&p->sets[i]);
        free(p->sets);
        free(p->next_name);
        free(p->next_type);
        free(p->next_identifier);
        *p = (Route53RecordSetPage) {};
}

void route53_change_info_done(Route53ChangeInfo *i) {
        if (!i)
                return;
        i->id = mfree(i->id);
        i->status = mfree(i->status);
}

static bool id_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > 64)
                return false;
        for (const char *p = s; *p != '\0'; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
                        return false;
        return true;
}

static int id_normalize(const char *s, const char *prefix, char **ret) {
        const char *bare;
        char *n;

        if (!s || !ret)
                return -EINVAL;
        /* With or without the leading slash: "/hostedzone/Z1", "hostedzone/Z1", "Z1". */
        bare = startswith(s, prefix);
        if (!bare)
                bare = startswith(s, prefix + 1);
        if (!bare)
                bare = s;
        if (!id_is_valid(bare))
                return -EINVAL;
        n = strdup(bare);
        if (!n)
                return -ENOMEM;
        *ret = n;
        return 0;
}

int route53_zone_id_normalize(const char *s, char **ret) {
        return id_normalize(s, "/hostedzone/", ret);
}

int route53_change_id_normalize(const char *s, char **ret) {
        return id_normalize(s, "/change/", ret);
}

static bool is_octal(char c) {
        return c >= '0' && c <= '7';
}

int route53_name_normalize(const char *name, char **ret) {
        size_t k = 0, len;
        char *n;

        if (!name || !ret)
                return -EINVAL;
        len = strlen(name);
        n = malloc(len + 2);
        if (!n)
                return -ENOMEM;

        for (const char *p = name; *p != '\0';) {
                char c = *p;

                /* Route 53 lists characters other than a-z, 0-9, '-' and '_'
                 * as a backslash and three octal digits ("\052" for '*'). */
                if (c == '\\' && is_octal(p[1]) && is_octal(p[2]) && is_octal(p[3]) && p[1] <= '3') {
                        c = (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                        p += 4;
                } else if (c == '\\' && p[1] != '\0') {
                        c = p[1];
                        p += 2;
                } else
                        p++;

                if (c >= 'A' && c <= 'Z')
                        c = (char) (c - 'A' + 'a');
                n[k++] = c;
        }
        if (k == 0 || n[k - 1] != '.')
                n[k++] = '.';
        n[k] = '\0';
        *ret = n;
        return 0;
}

bool route53_name_equal(const char *a, const char *b) {
        _cleanup_free_ char *na = NULL, *nb = NULL;

        if (!a || !b)
                return false;
        if (route53_name_normalize(a, &na) < 0 || route53_name_normalize(b, &nb) < 0)
                return false;
        return streq(na, nb);
}

static int dup_text(const XmlNode *n, const char *path, char **ret) {
        const char *t = xml_path_text(n, path);

        if (!t) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(t);
        return *ret ? 0 : -ENOMEM;
}

static int reply_check_root(const XmlDoc *reply, const char *name) {
        const XmlNode *root = xml_doc_root(reply);

        if (!xml_name_is(root, name))
                return log_debug_errno(EBADMSG, "Route 53 reply is <%s>, not <%s>.", root ? root->name : "", name);
        return 0;
}

static int parse_record_set(const XmlNode *n, Route53RecordSet *s) {
        static const char *const other_policy[] = {
                "Weight", "Region", "GeoLocation", "Failover", "CidrRoutingConfig",
                "TrafficPolicyInstanceId", "GeoProximityLocation",
        };
        const XmlNode *ttl, *mv;
        size_t k = 0;
        int r;

        if (isempty(xml_path_text(n, "Name")) || isempty(xml_path_text(n, "Type")))
                return log_debug_errno(EBADMSG, "Route 53 listed a record set without Name or Type.");

        /* Names are kept decoded, so that callers compare and write back
         * what they mean. */
        r = route53_name_normalize(xml_path_text(n, "Name"), &s->name);
        if (r < 0)
                return r;
        r = dup_text(n, "Type", &s->type);
        if (r >= 0)
                r = dup_text(n, "SetIdentifier", &s->set_identifier);
        if (r >= 0)
                r = dup_text(n, "HealthCheckId", &s->health_check_id);
        if (r < 0)
                return r;

        s->ttl = -1;
        ttl = xml_child(n, "TTL");
        if (ttl) {
                uint64_t v;

                r = xml_text_uint64(ttl, &v);
                if (r < 0 || v > ROUTE53_TTL_MAX)
                        return log_debug_errno(EBADMSG, "Route 53 listed a bad TTL for %s.", s->name);
                s->ttl = (int64_t) v;
        }

        mv = xml_child(n, "MultiValueAnswer");
        if (mv && xml_text_bool(mv, &s->multivalue_answer) < 0)
                return log_debug_errno(EBADMSG, "Route 53 listed a bad MultiValueAnswer for %s.", s->name);

        s->alias = xml_child(n, "AliasTarget") != NULL;
        for (size_t i = 0; i < ELEMENTSOF(other_policy); i++)
                if (xml_child(n, other_policy[i]))
                        s->other_policy = true;

        s->values = calloc(xml_count(xml_child(n, "ResourceRecords"), "ResourceRecord") + 1, sizeof(char *));
        if (!s->values)
                return -ENOMEM;
        XML_FOREACH(rr, xml_child(n, "ResourceRecords"), "ResourceRecord") {
                if (!xml_child(rr, "Value"))
                        return log_debug_errno(EBADMSG, "Route 53 listed a record of %s without Value.", s->name);
                r = dup_text(rr, "Value", &s->values[k]);
                if (r < 0)
                        return r;
                k++;
        }
        s->n_values = k;
        return 0;
}

static int parse_list_reply(const XmlDoc *reply, Route53RecordSetPage *page) {
        const XmlNode *root = xml_doc_root(reply), *truncated;
        size_t n;
        int r;

        r = reply_check_root(reply, "ListResourceRecordSetsResponse");
        if (r < 0)
                return r;

        n = xml_count(xml_child(root, "ResourceRecordSets"), "ResourceRecordSet");
        if (n > 0) {
                page->sets = calloc(n, sizeof(Route53RecordSet));
                if (!page->sets)
                        return -ENOMEM;
        }
        XML_FOREACH(rs, xml_child(root, "ResourceRecordSets"), "ResourceRecordSet") {
                /* Counted first, so a half-parsed set is freed with the page. */
                page->n_sets++;
                r = parse_record_set(rs, &page->sets[page->n_sets - 1]);
                if (r < 0)
                        return r;
        }

        truncated = xml_child(root, "IsTruncated");
        if (truncated && xml_text_bool(truncated, &page->is_truncated) < 0)
                return log_debug_errno(EBADMSG, "Route 53 reply has a bad IsTruncated.");

        r = dup_text(root, "NextRecordName", &page->next_name);
        if (r >= 0)
                r = dup_text(root, "NextRecordType", &page->next_type);
        if (r >= 0)
                r = dup_text(root, "NextRecordIdentifier", &page->next_identifier);
        if (r < 0)
                return r;
        if (page->is_truncated && isempty(page->next_name))
                return log_debug_errno(EBADMSG, "Route 53 reply is truncated but has no NextRecordName.");
        return 0;
}

int route53_list_resource_record_sets(AwsClient *c, const char *zone_id, const char *start_name,
                                      const char *start_type, const char *start_identifier, unsigned max_items,
                                      usec_t deadline, AwsError *ret_error, Route53RecordSetPage *ret) {
        _cleanup_(route53_record_set_page_done) Route53RecordSetPage page = {};
        _cleanup_(aws_params_done) AwsParams query = {};
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        _cleanup_free_ char *zone = NULL, *path = NULL;
        int r;

        if (!c || !ret)
                return -EINVAL;
        r = route53_zone_id_normalize(zone_id, &zone);
        if (r < 0)
                return r;
        /* Route 53 wants the type only together with a name, the
         * identifier only together with both. */
        if ((start_type && !start_name) || (start_identifier && !start_type))
                return -EINVAL;

        if (start_name)
                r = aws_params_add(&query, "name", start_name);
        if (r >= 0 && start_type)
                r = aws_params_add(&query, "type", start_type);
        if (r >= 0 && start_identifier)
                r = aws_params_add(&query, "identifier", start_identifier);
        if (r >= 0 && max_items > 0) {
                char s[16];

                (void) snprintf(s, sizeof(s), "%u", max_items);
                r = aws_params_add(&query, "maxitems", s);
        }
        if (r < 0)
                return r;

        if (asprintf(&path, ROUTE53_API "/hostedzone/%s/rrset", zone) < 0) {
                path = NULL;
                return -ENOMEM;
        }

        r = aws_rest_xml_call(c, AWS_SERVICE_ROUTE53, "GET", path, &query, NULL, deadline, ret_error, &reply);
        if (r < 0)
                return r;

        r = parse_list_reply(reply, &page);
        if (r < 0)
                return r;

        *ret = page;
        page = (Route53RecordSetPage) {};
        return 0;
}

int route53_find_record_set(AwsClient *c, const char *zone_id, const char *name, const char *type,
                            const char *set_identifier, usec_t deadline, AwsError *ret_error,
                            Route53RecordSet *ret) {
        _cleanup_free_ char *start_name = NULL, *start_type = NULL, *start_identifier = NULL;
        int r;

        if (!c || isempty(name) || isempty(type) || !ret)
                return -EINVAL;

        start_name = strdup(name);
        start_type = strdup(type);
        if (!start_name || !start_type)
                return -ENOMEM;

        for (unsigned n = 0; n < ROUTE53_PAGES_MAX; n++) {
                _cleanup_(route53_record_set_page_done) Route53RecordSetPage page = {};

                r = route53_list_resource_record_sets(c, zone_id, start_name, start_type, start_identifier,
                                                      ROUTE53_FIND_PAGE_SIZE, deadline, ret_error, &page);
                if (r < 0)
                        return r;

                for (size_t i = 0; i < page.n_sets; i++) {
                        Route53RecordSet *s = &page.sets[i];

                        /* The listing starts at our name and type if they
                         * exist, else at whatever follows them: a set of
                         * another name or type means ours is not there. */
                        if (!route53_name_equal(s->name, name) || strcasecmp(s->type, type) != 0)
                                return -ENOENT;
                        if (streq_ptr(s->set_identifier, set_identifier)) {
                                *ret = *s;
                                *s = (Route53RecordSet) {};
                                return 0;
                        }
                }

                if (!page.is_truncated || !route53_name_equal(page.next_name, name) ||
                    !page.next_type || strcasecmp(page.next_type, type) != 0)
                        return -ENOENT; /* NOLINT(clang-analyzer-unix.Malloc): the sets are freed with page (_cleanup_), which clang 14 does not run. */

                free(start_name);
                free(start_type);
                free(start_identifier);
                start_name = TAKE_PTR(page.next_name);
                start_type = TAKE_PTR(page.next_type);
                start_identifier = TAKE_PTR(page.next_identifier);
        }

        return log_debug_errno(EBADMSG, "Route 53 listing of %s %s does not end, giving up.", name, type);
}

static void write_record_set(XmlWriter *w, const Route53RecordSet *s) {
        char ttl[24];

        /* Members in the model's order. */
        xml_writer_open(w, "ResourceRecordSet");
        xml_writer_element(w, "Name", s->name);
        xml_writer_element(w, "Type", s->type);
        if (s->set_identifier)
                xml_writer_element(w, "SetIdentifier", s->set_identifier);
        if (s->multivalue_answer)
                xml_writer_element(w, "MultiValueAnswer", "true");
        if (s->ttl >= 0) {
                (void) snprintf(ttl, sizeof(ttl), "%" PRId64, s->ttl);
                xml_writer_element(w, "TTL", ttl);
        }
        if (s->values && s->values[0]) {
                xml_writer_open(w, "ResourceRecords");
                for (char **v = s->values; *v; v++) {
                        xml_writer_open(w, "ResourceRecord");
                        xml_writer_element(w, "Value", *v);
                        xml_writer_close(w, "ResourceRecord");
                }
                xml_writer_close(w, "ResourceRecords");
        }
        if (s->health_check_id)
                xml_writer_element(w, "HealthCheckId", s->health_check_id);
        xml_writer_close(w, "ResourceRecordSet");
}

int route53_change_batch_to_xml(const Route53Change *changes, size_t n_changes, const char *comment,
                                char **ret) {
        _cleanup_(xml_writer_done) XmlWriter w = {};

        if (!changes || n_changes == 0 || !ret)
                return -EINVAL;

        for (size_t i = 0; i < n_changes; i++) {
                const Route53RecordSet *s = changes[i].set;

                if (!route53_change_action_to_string(changes[i].action) || !s || isempty(s->name) ||
                    isempty(s->type))
                        return -EINVAL;
                /* Only what this module models can be written back exactly. */
                if (s->alias || s->other_policy)
                        return -EOPNOTSUPP;
                if (!s->values || !s->values[0] || s->ttl < 0 || s->ttl > ROUTE53_TTL_MAX)
                        return -EINVAL;
        }

        xml_writer_raw(&w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        xml_writer_raw(&w, "<ChangeResourceRecordSetsRequest xmlns=\"" ROUTE53_XMLNS "\">");
        xml_writer_open(&w, "ChangeBatch");
        if (!isempty(comment))
                xml_writer_element(&w, "Comment", comment);
        xml_writer_open(&w, "Changes");
        for (size_t i = 0; i < n_changes; i++) {
                xml_writer_open(&w, "Change");
                xml_writer_element(&w, "Action", route53_change_action_to_string(changes[i].action));
                write_record_set(&w, changes[i].set);
                xml_writer_close(&w, "Change");
        }
        xml_writer_close(&w, "Changes");
        xml_writer_close(&w, "ChangeBatch");
        xml_writer_close(&w, "ChangeResourceRecordSetsRequest");

        return xml_writer_finish(&w, ret, NULL);
}

static int parse_change_info(const XmlDoc *reply, const char *root_name, Route53ChangeInfo *ret) {
        _cleanup_(route53_change_info_done) Route53ChangeInfo info = {};
        const XmlNode *ci;
        int r;

        r = reply_check_root(reply, root_name);
        if (r < 0)
                return r;
        ci = xml_child(xml_doc_root(reply), "ChangeInfo");
        if (isempty(xml_path_text(ci, "Id")) || isempty(xml_path_text(ci, "Status")))
                return log_debug_errno(EBADMSG, "Route 53 reply has no ChangeInfo Id or Status.");

        r = route53_change_id_normalize(xml_path_text(ci, "Id"), &info.id);
        if (r == -EINVAL)
                return log_debug_errno(EBADMSG, "Route 53 replied with a bad change id.");
        if (r < 0)
                return r;
        r = dup_text(ci, "Status", &info.status);
        if (r < 0)
                return r;

        *ret = info;
        info = (Route53ChangeInfo) {};
        return 0;
}

int route53_change_resource_record_sets(AwsClient *c, const char *zone_id, const Route53Change *changes,
                                        size_t n_changes, const char *comment, usec_t deadline,
                                        AwsError *ret_error, Route53ChangeInfo *ret) {
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        _cleanup_free_ char *zone = NULL, *path = NULL, *body = NULL;
        Route53ChangeInfo info = {};
        int r;

        if (!c)
                return -EINVAL;
        r = route53_zone_id_normalize(zone_id, &zone);
        if (r < 0)
                return r;
        r = route53_change_batch_to_xml(changes, n_changes, comment, &body);
        if (r < 0)
                return r;

        /* The model's path has the trailing slash; keep it as botocore sends it. */
        if (asprintf(&path, ROUTE53_API "/hostedzone/%s/rrset/", zone) < 0) {
                path = NULL;
                return -ENOMEM;
        }

        r = aws_rest_xml_call(c, AWS_SERVICE_ROUTE53, "POST", path, NULL, body, deadline, ret_error, &reply);
        if (r < 0)
                return r;

        r = parse_change_info(reply, "ChangeResourceRecordSetsResponse", &info);
        if (r < 0)
                return r;
        if (ret)
                *ret = info;
        else
                route53_change_info_done(&info);
        return 0;
}

int route53_get_change(AwsClient *c, const char *change_id, usec_t deadline, AwsError *ret_error,
                       Route53ChangeInfo *ret) {
        _cleanup_(xml_doc_freep) XmlDoc *reply = NULL;
        _cleanup_free_ char *id = NULL, *path = NULL;
        int r;

        if (!c || !ret)
                return -EINVAL;
        r = route53_change_id_normalize(change_id, &id);
        if (r < 0)
                return r;
        if (asprintf(&path, ROUTE53_API "/change/%s", id) < 0) {
                path = NULL;
                return -ENOMEM;
        }

        r = aws_rest_xml_call(c, AWS_SERVICE_ROUTE53, "GET", path, NULL, NULL, deadline, ret_error, &reply);
        if (r < 0)
                return r;

        return parse_change_info(reply, "GetChangeResponse", ret);
}
