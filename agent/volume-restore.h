/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Between volume.c and volume-restore.c only: the volume's attach
 * operations that a restore needs, and the restore's that volume.c puts
 * in its table. */

#include "volume.h"

static inline Volume *volume_of(const Attach *a) {
        return a->kind;
}

/* volume.c: the first live attachment to another instance, NULL when none;
 * the lifecycle's list() and keep(). */
const Ec2VolumeAttachment *volume_attachment_elsewhere(const Ec2Volume *v, const char *instance_id);
int volume_list(Attach *a, const char *id, const Ec2Filter *filter, AwsError *error, size_t *ret_n);
void volume_keep(Attach *a, size_t i);

/* volume-restore.c: the lifecycle's restore() and plan_restore()
 * (attach.h); the wait until a new volume is available (kept as the
 * resource), also for one a killed boot's restore left "creating". */
int volume_restore(Attach *a, const size_t *lost, size_t n_lost);
int volume_plan_restore(Attach *a, const size_t *lost, size_t n_lost);
int volume_wait_available(Attach *a, const char *id);
