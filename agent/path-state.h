/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The states of every path of a boot, and their names: the only words that
 * follow a path's name in the journal ("volume: attach -> wait-device: ...")
 * and in NODEAGENT_BOOT_PHASES. Each path uses these:
 *
 *   volume, volume:NAME   the attach lifecycle (attach.h): find, restore,
 *                         take-over, force-detach, wait-release, attach,
 *                         wait-device, reattach; then array (a striped
 *                         set's md array), filesystem, tag, done
 *   interface             the attach lifecycle: find, restore, take-over,
 *                         force-detach, wait-release, attach, wait-link,
 *                         reattach; then routing, carrier, done
 *   dns                   read, wait-volume, change, insync, done
 *   signal                group, heartbeat, lifecycle, cloudformation
 *   --attach-only         the lifecycle up to wait-attached
 *   --detach              unmount, detach, wait-detached, done
 *
 * Every path starts in start and ends in done or failed. */

typedef enum PathState {
        PATH_STATE_START,

        /* The attach lifecycle (attach.h). */
        PATH_STATE_FIND,
        PATH_STATE_TAKE_OVER,
        PATH_STATE_FORCE_DETACH,
        PATH_STATE_WAIT_RELEASE,
        PATH_STATE_ATTACH,
        PATH_STATE_WAIT_DEVICE,
        PATH_STATE_WAIT_LINK,
        PATH_STATE_WAIT_ATTACHED,
        PATH_STATE_REATTACH,
        PATH_STATE_RESTORE,
        PATH_STATE_UNMOUNT,
        PATH_STATE_DETACH,
        PATH_STATE_WAIT_DETACHED,

        /* The volume after its attach. */
        PATH_STATE_ARRAY,
        PATH_STATE_FILESYSTEM,
        PATH_STATE_TAG,

        /* The interface after its attach. */
        PATH_STATE_ROUTING,
        PATH_STATE_CARRIER,

        /* DNS. */
        PATH_STATE_READ,
        PATH_STATE_WAIT_VOLUME,
        PATH_STATE_CHANGE,
        PATH_STATE_INSYNC,

        /* The readiness signals. */
        PATH_STATE_GROUP,
        PATH_STATE_HEARTBEAT,
        PATH_STATE_LIFECYCLE,
        PATH_STATE_CLOUDFORMATION,

        PATH_STATE_DONE,
        PATH_STATE_FAILED,
        _PATH_STATE_MAX,
} PathState;

/* "start", "find", "take-over", ...; "unknown" when out of range. */
const char *path_state_to_string(PathState s);
