/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Choosing the node's resource among those that carry its tag: exactly one
 * must be in the instance's own availability zone, since neither an EBS
 * volume nor an ENI can attach across zones. Pure; shared by volume and
 * eni so that both say the same thing the same way. */

#include <stddef.h>

typedef struct ZoneCandidate {
        const char *id;
        const char *availability_zone;
        const char *state;
} ZoneCandidate;

/* 0 and the index of the one candidate in availability_zone; -ENOENT when
 * there are no candidates at all; -EXDEV when none is in that zone;
 * -ENOTUNIQ when several are. */
int zone_match_pick(const ZoneCandidate *candidates, size_t n, const char *availability_zone,
                    size_t *ret_index);

/* A striped set found by Tag= + Count=: 0 and the index of the nth (from 0)
 * of the candidates in availability_zone, ordered by id, when exactly count
 * are there; -ENOENT when there are no candidates at all; -EXDEV when none
 * is in that zone; -ERANGE when fewer than count are (a set is all or
 * nothing); -ENOTUNIQ when more are. */
int zone_match_pick_nth(const ZoneCandidate *candidates, size_t n, const char *availability_zone, size_t count,
                        size_t nth, size_t *ret_index);

/* "vol-1 (us-east-1a, available), vol-2 (us-east-1b, in-use)"; NULL on
 * allocation failure. */
char *zone_match_format(const ZoneCandidate *candidates, size_t n);
