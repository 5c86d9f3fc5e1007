/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "lock.h"
#include "log.h"
#include "wait.h"
#include "macro.h"
#include "notify.h"

static int lock_path(char **ret) {
        const char *state = getenv("NODEAGENT_STATE_FILE");
        _cleanup_free_ char *copy = NULL;

        copy = strdup(!isempty(state) ? state : NODEAGENT_STATE_FILE);
        if (!copy)
                return -ENOMEM;
        return asprintf(ret, "%s/lock", dirname(copy)) < 0 ? -ENOMEM : 0;
}

int node_lock_acquire(const char *mode, usec_t wait_usec) {
        _cleanup_free_ char *path = NULL, *dir = NULL, *holder = NULL;
        _cleanup_close_ int fd = -EBADF;
        usec_t give_up = usec_add(now(CLOCK_MONOTONIC), wait_usec);
        int r;

        r = lock_path(&path);
        if (r < 0)
                return log_oom();
        dir = strdup(path);
        if (!dir)
                return log_oom();
        (void) mkdir(dirname(dir), 0755);

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);

        /* flock() has no timeout; the wait is short and rare, so a few
         * tries a second are enough. */
        while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK)
                        return log_error_errno(errno, "Failed to lock %s: %m", path);
                if (now(CLOCK_MONOTONIC) >= give_up) {
                        char buf[128] = "";
                        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

                        if (n > 0) {
                                buf[n] = '\0';
                                buf[strcspn(buf, "\n")] = '\0';
                        }
                        return log_error_errno(EBUSY, "Another nodeagent is at work (%s); try again when it is "
                                               "done.", n > 0 ? buf : "its pid is unknown");
                }
                /* Not cancellable: nothing else runs yet. */
                (void) wait_for_fds(NULL, 0, usec_add(now(CLOCK_MONOTONIC), 200 * USEC_PER_MSEC),
                                    WAIT_UNCANCELLABLE);
        }

        /* Who holds it, for the one who waits. */
        if (ftruncate(fd, 0) == 0) {
                char line[96];
                int len = snprintf(line, sizeof(line), "pid %d, %s\n", (int) getpid(), mode);

                if (len > 0)
                        /* Only a hint for messages: a failed write costs nothing. */
                        (void) !pwrite(fd, line, (size_t) len, 0);
        }
        return TAKE_FD(fd);
}
