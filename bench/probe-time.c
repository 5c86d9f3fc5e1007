/* SPDX-License-Identifier: Apache-2.0 */

/* nodeagent-bench-probe [--sequential] DEVICE [RUNS]: times the blank proof
 * as the volume path runs it on a device without a signature: libblkid's
 * probe, then the zeros check. Each run starts with the device's page cache
 * dropped (BLKFLSBUF; bench/bench.py drops a loop device's backing file's),
 * so that no read is served from memory. --sequential: the zeros check as
 * it was before issue 17 (the same places, one buffered pread after
 * another), for the figure it is compared with. One line per run:
 * "probe_ms=... zeros_ms=... found=0|1 blank=0|1"; bench/bench.py reads
 * them. */

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "time-util.h"

static void drop_cache(const char *device) {
        int fd = open(device, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return;
        (void) ioctl(fd, BLKFLSBUF, 0);
        close(fd);
}

/* The zeros check before issue 17 (fs-probe.c at de22278): the first and
 * last MiB, then the 64 samples, one buffered pread after another. */
static int sequential_reads_as_zeros(const char *device, bool *ret) {
        _cleanup_close_ int fd = open(device, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ uint8_t *buf = malloc(FS_ZERO_EDGE_SIZE);
        uint64_t size = 0, edge;
        bool zeros = true;

        if (fd < 0)
                return -errno;
        if (!buf)
                return -ENOMEM;
        if (ioctl(fd, BLKGETSIZE64, &size) < 0)
                return -errno;
        edge = MIN(size, (uint64_t) FS_ZERO_EDGE_SIZE);
        for (unsigned i = 0; zeros && i < FS_ZERO_SAMPLES + 2; i++) {
                uint64_t offset = i == 0 ? 0 : i == 1 ? size - edge : fs_zero_sample_offset(size, i - 2);
                size_t want = i < 2 ? (size_t) edge : FS_ZERO_SAMPLE_SIZE;
                ssize_t n = pread(fd, buf, want, (off_t) offset);

                if (n < 0)
                        return -errno;
                zeros = n == 0 || (buf[0] == 0 && memcmp(buf, buf + 1, (size_t) n - 1) == 0);
        }
        *ret = zeros;
        return 0;
}

int main(int argc, char *argv[]) {
        bool sequential = false;
        unsigned runs = 5;

        if (argc > 1 && streq(argv[1], "--sequential")) {
                sequential = true;
                argv++;
                argc--;
        }
        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: %s [--sequential] DEVICE [RUNS]\n", program_invocation_short_name);
                return 2;
        }
        if (argc == 3) {
                char *end;
                unsigned long v;

                errno = 0;
                v = strtoul(argv[2], &end, 10);
                if (errno != 0 || *end != '\0' || v == 0 || v > 1000) {
                        fprintf(stderr, "RUNS must be 1-1000\n");
                        return 2;
                }
                runs = (unsigned) v;
        }
        log_set_max_level(LOG_WARNING);

        for (unsigned i = 0; i < runs; i++) {
                _cleanup_(fs_probe_done) FsProbe probe = {};
                bool zeros = false;
                usec_t t0, t1, t2;
                int r;

                drop_cache(argv[1]);
                t0 = now(CLOCK_MONOTONIC);
                r = fs_probe(argv[1], &probe);
                t1 = now(CLOCK_MONOTONIC);
                if (r < 0) {
                        fprintf(stderr, "probe: %s\n", strerror(-r));
                        return 1;
                }
                if (!probe.found) {
                        r = sequential ? sequential_reads_as_zeros(argv[1], &zeros) :
                                         fs_reads_as_zeros(argv[1], &zeros);
                        if (r < 0) {
                                fprintf(stderr, "zeros: %s\n", strerror(-r));
                                return 1;
                        }
                }
                t2 = now(CLOCK_MONOTONIC);
                printf("probe_ms=%.3f zeros_ms=%.3f found=%d blank=%d\n", (double) (t1 - t0) / USEC_PER_MSEC,
                       (double) (t2 - t1) / USEC_PER_MSEC, probe.found, zeros);
        }
        return 0;
}
