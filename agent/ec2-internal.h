/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What ec2.c (the calls) takes from ec2-parse.c (the replies), and nothing
 * else includes. */

#include "ec2.h"
#include "xml.h"

typedef struct Ec2Items Ec2Items;

/* How the items of one kind are read from a Describe* reply. */
typedef struct Ec2ItemType {
        size_t size;
        const char *list_name;  /* the reply's list: volumeSet, ... */
        int (*parse)(const XmlNode *n, void *item);
        void (*done)(void *item);
        /* For replies whose items sit deeper than one list (instances in
         * reservations); NULL: the items of list_name. */
        int (*parse_page)(Ec2Items *items, const XmlNode *root);
} Ec2ItemType;

extern const Ec2ItemType ec2_volume_items;
extern const Ec2ItemType ec2_network_interface_items;
extern const Ec2ItemType ec2_subnet_items;
extern const Ec2ItemType ec2_instance_items;

/* The collected items of a Describe* call, one array of type->size each. */
struct Ec2Items {
        const Ec2ItemType *type;
        void *items;
        size_t n;
        size_t allocated;
};

void ec2_items_done(Ec2Items *l);
/* Adds the items of one page (the reply's root element). */
int ec2_items_parse_page(Ec2Items *l, const XmlNode *root);
/* The array (NULL when empty) and its length; l is left empty. */
void *ec2_items_steal(Ec2Items *l, size_t *ret_n);

/* A reply to action X is <XResponse>: anything else is not an answer to
 * this request (a misrouted endpoint, a proxy's page). */
int ec2_reply_check_root(const char *action, const XmlDoc *reply);
/* Checks the <return>true</return> of actions that answer only that. */
int ec2_reply_check_return(const char *action, const XmlDoc *reply);

/* Copies the text at path below n, NULL when absent. */
int ec2_dup_text(const XmlNode *n, const char *path, char **ret);
int ec2_parse_volume_attachment(const XmlNode *n, Ec2VolumeAttachment *a);
int ec2_parse_tags(const XmlNode *n, Ec2Tag **ret_tags, size_t *ret_n);
void ec2_tags_free(Ec2Tag *tags, size_t n);
int ec2_parse_volume(const XmlNode *n, Ec2Volume *v);
int ec2_parse_network_interface(const XmlNode *n, Ec2NetworkInterface *e);

/* The Describe* machinery, for the calls of ec2-create.c. */
int ec2_describe_items(AwsClient *c, const char *action, const char *id_name, const char *const *ids,
                       const Ec2Filter *filters, size_t n_filters, AwsParams *extra, bool dry_run, usec_t deadline,
                       AwsError *ret_error, Ec2Items *items);
