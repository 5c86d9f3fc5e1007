/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "log.h"
#include "notify.h"
#include "path.h"

static atomic_bool cancelled = false;

void path_cancel_all(void) {
        atomic_store(&cancelled, true);
}

bool path_cancelled(void) {
        return atomic_load(&cancelled);
}

void path_transition(Path *p, const char *step, const char *format, ...) {
        _cleanup_free_ char *detail = NULL;
        usec_t t = now(CLOCK_MONOTONIC);
        va_list ap;
        int r;

        if (p->started == 0)
                p->started = t;
        p->step = step;
        p->step_started = t;

        va_start(ap, format);
        r = vasprintf(&detail, format, ap);
        va_end(ap);
        if (r < 0)
                detail = NULL;

        log_info("%s: %s: %s", p->name, step, strna(detail));
        notify_status("%s: %s", p->name, strna(detail));
}

int path_fail(Path *p, int error, const char *format, ...) {
        _cleanup_free_ char *detail = NULL;
        va_list ap;
        int r;

        /* %m in the format names the error, as in the log functions. */
        errno = abs(error);
        va_start(ap, format);
        r = vasprintf(&detail, format, ap);
        va_end(ap);
        if (r < 0)
                detail = NULL;

        if (error == -ECANCELED || path_cancelled()) {
                log_info("%s: %s: stopped, another path failed.", p->name, strna(p->step));
                return -ECANCELED;
        }

        notify_status("%s: failed: %s", p->name, strna(detail));
        return log_error_errno(error, "%s: %s failed: %s", p->name, strna(p->step), strna(detail));
}
