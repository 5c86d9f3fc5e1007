/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Helpers shared by the netif-*.c files, and by nothing else. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "macro.h"          /* negative_errno() */

/* Appends item to a heap array of n elements. Returns 0 or -ENOMEM. */
#define APPEND(array, n, item)                                                          \
        ({                                                                              \
                __typeof__(array) _a = reallocarray((array), (n) + 1, sizeof(*(array))); \
                int _r = -ENOMEM;                                                       \
                if (_a) {                                                               \
                        _a[(n)] = (item);                                               \
                        (n)++;                                                          \
                        (array) = _a;                                                   \
                        _r = 0;                                                         \
                }                                                                       \
                _r;                                                                     \
        })

/* In host byte order; prefixlen 0 is all zeros (a shift by 32 would be
 * undefined). */
static inline uint32_t prefix_mask(unsigned prefixlen) {
        return prefixlen == 0 ? 0 : UINT32_MAX << (32 - prefixlen);
}
