/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Device names for AttachVolume under [Volume] Device=auto (the default):
 * the first of /dev/sdf to /dev/sdp (the names AWS recommends for EBS
 * volumes on Linux) that
 *   - the instance's block-device mappings do not use (its AMI's, or a
 *     volume attached earlier: EC2 refuses a name in use with
 *     "Attachment point /dev/sdf is already in use"),
 *   - no other volume path of this boot has picked, and
 *   - EC2 has not refused during this boot (a name a Xen instance just
 *     released can stay unusable for a while).
 * /dev/sdX and /dev/xvdX are one name: a Xen kernel shows both as xvdX. */

#include <stdbool.h>

#include "macro.h"

#define DEVNAME_FIRST 'f'
#define DEVNAME_LAST 'p'

/* The pure core: the first free name given the three lists (each
 * NULL-terminated, may be NULL). -ENOSPC when none is left. */
int devname_first_free(char *const *mapped, char *const *picked, char *const *refused, char **ret);

/* Whether two device names are the same attachment point (sdf, /dev/sdf,
 * xvdf and /dev/xvdf are). */
bool devname_same(const char *a, const char *b);

/* The boot's registry, shared by its volume paths (thread-safe): picks the
 * first free name and holds it for the caller until devname_release();
 * -ENOSPC when none is left. */
int devname_pick(char *const *mapped, char **ret);

/* EC2 refused name: it is released, and never picked again this boot. */
void devname_refused(const char *name);

/* A picked name no longer wanted (its path ended without it). */
void devname_release(const char *name);

/* For tests: forgets every pick and refusal. */
void devname_reset(void);
