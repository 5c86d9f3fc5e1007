/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What attach.c and attach-find.c, the two halves of one lifecycle, share;
 * nothing else includes this. */

#include "attach.h"
#include "macro.h"

/* Every change of state goes through here: the story line (path.h). */
_printf_(3, 4) void attach_transition(Attach *a, PathState next, const char *format, ...);

/* The boot's find: a lost resource is made anew here when Restore= is on
 * (attach_find() and attach_find_or_plan() never make anything). */
int attach_find_or_restore(Attach *a);

/* Describes the resource again by its id: 0, or the path's failure when
 * it is gone or EC2 cannot say. */
int attach_describe(Attach *a);
