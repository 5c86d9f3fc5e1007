/* SPDX-License-Identifier: Apache-2.0 */
/* A plain main() for the fuzz targets, without libFuzzer: runs the target
 * once on each file named, or on each regular file of each directory named
 * (not recursively), and prints how many inputs it ran. Linked with one
 * fuzz-*.c and the agent's library, it replays the seeds where libFuzzer is
 * not at hand: on arm64 under qemu-user (tests/platforms), where libFuzzer
 * would need aarch64 compiler-rt, or in a build without sanitizers. A crash
 * or an abort() of the target ends the process as it would under libFuzzer;
 * a file that cannot be read is exit status 2. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer's own default for -max_len is smaller; no seed comes near this. */
#define REPLAY_MAX_SIZE (16U * 1024U * 1024U)

static int read_input(const char *path, uint8_t **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        struct stat st;
        size_t size = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size < 0 || (uint64_t) st.st_size > REPLAY_MAX_SIZE)
                return -EFBIG;
        /* One byte more than the file, so that an empty input is a valid
         * pointer too. */
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (size < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + size, (size_t) st.st_size - size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static int replay_file(const char *path) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0;
        int r;

        r = read_input(path, &data, &size);
        if (r < 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(-r));
                return r;
        }
        (void) LLVMFuzzerTestOneInput(data, size);
        return 0;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The regular files of one directory, in name order so that a run is
 * the same run everywhere; returns how many it replayed. */
static int replay_directory(const char *dir) {
        _cleanup_strv_free_ char **paths = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        d = opendir(dir);
        if (!d) {
                r = -errno;
                fprintf(stderr, "replay: %s: %s\n", dir, strerror(-r));
                return r;
        }
        for (;;) {
                struct stat st;
                char *path;

                errno = 0;
                de = readdir(d);
                if (!de)
                        break;
                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
                        free(path);
                        continue;
                }
                if (n + 2 > allocated) {
                        size_t want = MAX(allocated * 2, (size_t) 16);
                        char **p = realloc(paths, want * sizeof(char *));

                        if (!p) {
                                free(path);
                                r = -ENOMEM;
                                break;
                        }
                        paths = p;
                        allocated = want;
                }
                paths[n++] = path;
                paths[n] = NULL;
        }
        if (r == 0 && errno != 0)
                r = -errno;
        closedir(d);
        if (r < 0) {
                fprintf(stderr, "replay: %s: %s\n", dir, strerror(-r));
                return r;
        }
        if (n > 0)
                qsort(paths, n, sizeof(char *), compare_names);
        for (size_t i = 0; i < n; i++) {
                r = replay_file(paths[i]);
                if (r < 0)
                        return r;
        }
        return (int) MIN(n, (size_t) INT32_MAX);
}

int main(int argc, char *argv[]) {
        long total = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: %s FILE|DIRECTORY...\n", program_invocation_short_name);
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;
                int r;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
                        return 2;
                }
                if (S_ISDIR(st.st_mode))
                        r = replay_directory(argv[i]);
                else
                        r = replay_file(argv[i]) < 0 ? -EIO : 1;
                if (r < 0)
                        return 2;
                total += r;
        }
        printf("replayed %ld inputs\n", total);
        return 0;
}
