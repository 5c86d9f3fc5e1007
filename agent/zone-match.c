/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "zone-match.h"

int zone_match_pick(const ZoneCandidate *candidates, size_t n, const char *availability_zone,
                    size_t *ret_index) {
        size_t found = 0, index = 0;

        if (n == 0)
                return -ENOENT;

        for (size_t i = 0; i < n; i++)
                if (streq_ptr(candidates[i].availability_zone, availability_zone)) {
                        if (found == 0)
                                index = i;
                        found++;
                }

        if (found == 0)
                return -EXDEV;
        if (found > 1)
                return -ENOTUNIQ;

        *ret_index = index;
        return 0;
}

int zone_match_pick_nth(const ZoneCandidate *candidates, size_t n, const char *availability_zone, size_t count,
                        size_t nth, size_t *ret_index) {
        size_t found = 0, index = 0;

        assert(nth < count);

        if (n == 0)
                return -ENOENT;

        for (size_t i = 0; i < n; i++)
                if (streq_ptr(candidates[i].availability_zone, availability_zone))
                        found++;
        if (found == 0)
                return -EXDEV;
        if (found < count)
                return -ERANGE;
        if (found > count)
                return -ENOTUNIQ;

        /* The nth by id: the candidates in the zone with exactly nth ids
         * below their own (ids are unique). */
        for (size_t i = 0; i < n; i++) {
                size_t below = 0;

                if (!streq_ptr(candidates[i].availability_zone, availability_zone))
                        continue;
                for (size_t j = 0; j < n; j++)
                        if (streq_ptr(candidates[j].availability_zone, availability_zone) &&
                            strcmp(strempty(candidates[j].id), strempty(candidates[i].id)) < 0)
                                below++;
                if (below == nth) {
                        index = i;
                        break;
                }
        }
        *ret_index = index;
        return 0;
}

char *zone_match_format(const ZoneCandidate *candidates, size_t n) {
        char *s = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&s, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%s (%s, %s)", i > 0 ? ", " : "", strna(candidates[i].id),
                        strna(candidates[i].availability_zone), strna(candidates[i].state));
        if (fclose(f) != 0)
                return mfree(s);
        return s;
}
