/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

void notify_status(const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0)
                return;
        (void) sd_notifyf(false, "STATUS=%s", s);
}

void notify_extend_timeout(usec_t usec) {
        (void) sd_notifyf(false, "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long) usec);
}

void notify_ready(const char *status) {
        (void) sd_notifyf(false, "READY=1\nSTATUS=%s", strempty(status));
}

void notify_stopping(void) {
        (void) sd_notify(false, "STOPPING=1");
}

void notify_watchdog(void) {
        (void) sd_notify(false, "WATCHDOG=1");
}

usec_t notify_watchdog_usec(void) {
        uint64_t usec = 0;

        if (sd_watchdog_enabled(false, &usec) <= 0)
                return 0;
        return usec;
}

/* Double quotes keep spaces; the values we write never hold quotes,
 * backslashes, dollars or newlines, and are refused if they do. */
static bool value_is_plain(const char *s) {
        return !s || strpbrk(s, "\"\\$`\n") == NULL;
}

int notify_format_state(const NodeState *state, char **ret) {
        const struct {
                const char *name;
                const char *value;
        } vars[] = {
                { "NODEAGENT_INSTANCE_ID", state->instance_id },
                { "NODEAGENT_VOLUME_ID",   state->volume_id },
                { "NODEAGENT_DEVICE",      state->device },
                { "NODEAGENT_MOUNT_POINT", state->mount_point },
                { "NODEAGENT_ENI_ID",      state->eni_id },
                { "NODEAGENT_INTERFACE",   state->interface },
                { "NODEAGENT_IP",          state->ip },
                { "NODEAGENT_DNS_NAME",    state->dns_name },
        };
        const NodeStateVar last[] = {
                { "NODEAGENT_BOOT_PHASES", state->boot_phases },
                { "NODEAGENT_FAILED",      state->failed },
        };
        char *text = NULL;
        size_t size = 0;
        FILE *f;

        for (size_t i = 0; i < ELEMENTSOF(vars); i++)
                if (!value_is_plain(vars[i].value))
                        return -EINVAL;
        for (size_t i = 0; i < state->n_extra; i++)
                if (!value_is_plain(state->extra[i].value) || !value_is_plain(state->extra[i].name))
                        return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(last); i++)
                if (!value_is_plain(last[i].value))
                        return -EINVAL;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fputs("# Written by nodeagent; for EnvironmentFile=.\n", f);
        /* The keys of a skipped path are left out, so that a unit can tell
         * "no volume" from "a volume at an empty path". */
        for (size_t i = 0; i < ELEMENTSOF(vars); i++)
                if (vars[i].value)
                        fprintf(f, "%s=\"%s\"\n", vars[i].name, vars[i].value);
        for (size_t i = 0; i < state->n_extra; i++)
                if (state->extra[i].value)
                        fprintf(f, "%s=\"%s\"\n", state->extra[i].name, state->extra[i].value);
        for (size_t i = 0; i < ELEMENTSOF(last); i++)
                if (last[i].value)
                        fprintf(f, "%s=\"%s\"\n", last[i].name, last[i].value);
        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }
        *ret = text;
        return 0;
}

int notify_write_state(const char *path, const NodeState *state) {
        _cleanup_free_ char *text = NULL, *dir_copy = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t len;
        int r;

        if (!path)
                path = NODEAGENT_STATE_FILE;

        r = notify_format_state(state, &text);
        if (r < 0)
                return r;

        dir_copy = strdup(path);
        if (!dir_copy)
                return -ENOMEM;
        if (mkdir(dirname(dir_copy), 0755) < 0 && errno != EEXIST)
                return -errno;

        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        len = strlen(text);
        for (size_t done = 0; done < len;) {
                ssize_t n = write(fd, text + done, len - done);

                if (n < 0) {
                        r = -errno;
                        (void) unlink(tmp);
                        return r;
                }
                done += (size_t) n;
        }
        if (fsync(fd) < 0 || rename(tmp, path) < 0) {
                r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}
