/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Helpers shared by fs.c and the fs-*.c files, and by nothing else. */

#include <stdint.h>
#include <sys/types.h>

#include "time-util.h"

/* Reads exactly size bytes at offset, or fewer at the end of the device.
 * Returns the number of bytes read. (fs-probe.c) */
ssize_t fs_pread_full(int fd, void *buf, size_t size, uint64_t offset);

/* spawn(), with a missing program as -ENOPKG. (fs-tools.c) */
int fs_spawn_program(char *const argv[], usec_t deadline, int log_level, char **ret_output);

/* The device number of a block device; -ENOTBLK for anything else.
 * (fs-mount.c) */
int fs_device_devno(const char *device, dev_t *ret);

/* fs_mount_state() for a target that is already canonical. (fs-mount.c) */
int fs_mount_state_at(const char *device, dev_t devno, const char *target);
