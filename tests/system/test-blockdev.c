/* SPDX-License-Identifier: Apache-2.0 */
/* blockdev against the real kernel and a running systemd-udevd: loop
 * devices stand in for EBS volumes. A test-only udev rule gives a loop
 * device the serial property ID_SERIAL_SHORT=<backing file name without
 * .img>, so a loop device backed by .../vol0123456789abcdef0.img looks like
 * the NVMe disk of vol-0123456789abcdef0 as far as udev's database goes.
 *
 * Needs root. Cleans up what it made (loop devices, backing files, the rule)
 * also when a check fails. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "blockdev.h"
#include "log.h"
#include "macro.h"
#include "tests.h"
#include "time-util.h"

#define RULES_DIR "/run/udev/rules.d"
#define RULES_FILE RULES_DIR "/99-nodeagent-blockdev-test.rules"
#define RULE \
        "SUBSYSTEM==\"block\", KERNEL==\"loop[0-9]*\", ATTR{loop/backing_file}==\"*/vol*.img\", " \
        "PROGRAM=\"/bin/sh -c 'basename %s{loop/backing_file} .img'\", ENV{ID_SERIAL_SHORT}=\"%c\"\n"
#define BACKING_SIZE (16ULL * 1024 * 1024)
/* Loop numbers well above what losetup hands out, so the device is new and
 * its first event an "add". */
#define LOOP_FIRST 200
#define LOOP_LAST 1000

/* What the whole run made, for the cleanup at exit. */
static char tmpdir[] = "/tmp/nodeagent-blockdev.XXXXXX";
static bool made_tmpdir, made_rules_dir, made_rules_file;

/* Per run, so that loop devices of other tests running beside this one
 * (or left over) never carry the same serials. */
static char volume_id[32], other_volume_id[32];

typedef struct TestLoop {
        int number;   /* -1: none */
        int fd;       /* held open: the loop is autoclear, so it detaches on close */
        char devnode[32];
} TestLoop;

/* The loop devices alive now, so that a signal still removes them. */
static TestLoop *live_loops[8];

/* The cleanup runs at exit, when a test is done with its loop device, and
 * on a signal in signal_thread(): one at a time. Recursive, as
 * global_cleanup() calls test_loop_done(). */
static pthread_mutex_t cleanup_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

/* The signals after which the run still cleans up. They are blocked in
 * every thread and taken by signal_thread() with sigwait(), not by a
 * handler: the cleanup calls what a handler may not (stdio, opendir,
 * system). */
static sigset_t cleanup_signals;

static void test_loop_done(TestLoop *l);

static void reload_udev(void) {
        if (system("udevadm control --reload") != 0)
                printf("# udevadm control --reload failed\n");
}

/* The backing files are all the directory holds. */
static void remove_tmpdir(void) {
        DIR *d = opendir(tmpdir);

        if (d) {
                for (struct dirent *de = readdir(d); de; de = readdir(d))
                        if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                                (void) unlinkat(dirfd(d), de->d_name, 0);
                closedir(d);
        }
        (void) rmdir(tmpdir);
}

static void global_cleanup(void) {
        (void) pthread_mutex_lock(&cleanup_lock);
        for (size_t i = 0; i < ELEMENTSOF(live_loops); i++)
                test_loop_done(live_loops[i]);

        if (made_rules_file) {
                (void) unlink(RULES_FILE);
                made_rules_file = false;
                reload_udev();
        }
        if (made_rules_dir) {
                /* Only when empty: others may have put rules there since. */
                (void) rmdir(RULES_DIR);
                made_rules_dir = false;
        }
        if (made_tmpdir) {
                remove_tmpdir();
                made_tmpdir = false;
        }
        (void) pthread_mutex_unlock(&cleanup_lock);
}

static void *signal_thread(void *userdata) {
        int sig;

        if (sigwait(&cleanup_signals, &sig) != 0)
                return NULL;
        /* meson's timeout, ^C, a closed pipe: what the run made is removed
         * all the same, then the signal takes its course. */
        global_cleanup();
        if (signal(sig, SIG_DFL) == SIG_ERR ||
            pthread_sigmask(SIG_UNBLOCK, &cleanup_signals, NULL) != 0 || raise(sig) != 0)
                _exit(128 + sig);
        return NULL;
}

/* Before any other thread starts, so that all of them inherit the mask. */
static int take_signals(void) {
        pthread_t t;
        int r;

        (void) sigemptyset(&cleanup_signals);
        (void) sigaddset(&cleanup_signals, SIGTERM);
        (void) sigaddset(&cleanup_signals, SIGINT);
        (void) sigaddset(&cleanup_signals, SIGHUP);
        (void) sigaddset(&cleanup_signals, SIGPIPE);
        r = pthread_sigmask(SIG_BLOCK, &cleanup_signals, NULL);
        if (r != 0)
                return -r;
        r = pthread_create(&t, NULL, signal_thread, NULL);
        if (r != 0)
                return -r;
        return -pthread_detach(t);
}

static void random_volume_id(char *buf, size_t size) {
        uint8_t bytes[8];
        static const char hex[] = "0123456789abcdef";
        size_t n = 0;

        if (getrandom(bytes, sizeof bytes, 0) != (ssize_t) sizeof bytes)
                abort();
        /* "vol-0" + 16 hex digits: the shape of a real id. */
        n += (size_t) snprintf(buf, size, "vol-0");
        for (size_t i = 0; i < sizeof bytes && n + 2 < size; i++) {
                buf[n++] = hex[bytes[i] >> 4];
                buf[n++] = hex[bytes[i] & 0xf];
        }
        buf[n] = '\0';
}

static char *serial_of(const char *id) {
        char *s = NULL;

        if (asprintf(&s, "vol%s", id + strlen("vol-")) < 0)
                return NULL;
        return s;
}

/* Makes the sparse backing file <tmpdir>/vol<hex>.img for a volume id. */
static int make_backing(const char *id, char **ret_path) {
        _cleanup_free_ char *serial = serial_of(id), *path = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (!serial || asprintf(&path, "%s/%s.img", tmpdir, serial) < 0)
                return -ENOMEM;
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        if (ftruncate(fd, (off_t) BACKING_SIZE) < 0)
                return negative_errno();
        *ret_path = TAKE_PTR(path);
        return 0;
}

static void test_loop_done(TestLoop *l) {
        _cleanup_close_ int control = -EBADF;
        usec_t give_up;

        if (!l)
                return;
        (void) pthread_mutex_lock(&cleanup_lock);
        if (l->number < 0) {
                (void) pthread_mutex_unlock(&cleanup_lock);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(live_loops); i++)
                if (live_loops[i] == l)
                        live_loops[i] = NULL;

        /* Closing the last fd of an autoclear loop detaches the backing
         * file; udevd may still hold the device open for a moment while it
         * processes the events, so removal is retried for a while. */
        l->fd = safe_close(l->fd);
        control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (control >= 0) {
                give_up = usec_add(now(CLOCK_MONOTONIC), 5 * USEC_PER_SEC);
                while (ioctl(control, LOOP_CTL_REMOVE, l->number) < 0) {
                        if (errno != EBUSY || now(CLOCK_MONOTONIC) > give_up) {
                                printf("# could not remove loop%d: %s\n", l->number, strerror(errno));
                                break;
                        }
                        (void) usleep(20 * 1000);
                }
        }
        l->number = -1;
        (void) pthread_mutex_unlock(&cleanup_lock);
}

/* Creates a new /dev/loopN (so udev sees "add"), then attaches path to it
 * (udev sees "change", with the backing file, and the rule sets the serial). */
static int test_loop_attach(const char *path, TestLoop *ret) {
        _cleanup_close_ int control = -EBADF, backing = -EBADF, fd = -EBADF;
        struct loop_config config = {};
        int number = -1;

        control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (control < 0)
                return -errno;

        for (int n = LOOP_FIRST + (int) (getpid() % 100) * 5; n <= LOOP_LAST; n++)
                if (ioctl(control, LOOP_CTL_ADD, n) >= 0) {
                        number = n;
                        break;
                } else if (errno != EEXIST)
                        return -errno;
        if (number < 0)
                return -ENOSPC;

        *ret = (TestLoop) { .number = number, .fd = -EBADF };
        (void) snprintf(ret->devnode, sizeof ret->devnode, "/dev/loop%d", number);
        for (size_t i = 0; i < ELEMENTSOF(live_loops); i++)
                if (!live_loops[i]) {
                        live_loops[i] = ret;
                        break;
                }

        backing = open(path, O_RDWR | O_CLOEXEC);
        if (backing < 0)
                return -errno;
        fd = open(ret->devnode, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        config.fd = (uint32_t) backing;
        config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
        (void) snprintf((char *) config.info.lo_file_name, sizeof config.info.lo_file_name, "%s", path);
        if (ioctl(fd, LOOP_CONFIGURE, &config) < 0)
                return -errno;

        ret->fd = TAKE_FD(fd);
        return 0;
}

/* Attaches a loop device from another thread after a delay, while the main
 * thread waits. */
typedef struct Attacher {
        pthread_t thread;
        bool started;
        const char *path;
        usec_t delay;
        TestLoop loop;
        usec_t attached_at;
        int error;
} Attacher;

static void *attacher_run(void *userdata) {
        Attacher *a = userdata;
        struct timespec ts = {
                .tv_sec = (time_t) (a->delay / USEC_PER_SEC),
                .tv_nsec = (long) (a->delay % USEC_PER_SEC) * 1000L,
        };

        (void) nanosleep(&ts, NULL);
        a->error = test_loop_attach(a->path, &a->loop);
        a->attached_at = now(CLOCK_MONOTONIC);
        return NULL;
}

static void attacher_done(Attacher *a) {
        if (a->started) {
                (void) pthread_join(a->thread, NULL);
                a->started = false;
        }
        test_loop_done(&a->loop);
}

static void test_wait_for_new_device(void) {
        _cleanup_(attacher_done) Attacher a = { .loop.number = -1, .loop.fd = -EBADF };
        _cleanup_(block_device_done) BlockDevice d = {};
        _cleanup_free_ char *path = NULL, *serial = serial_of(volume_id);
        usec_t start, returned, latency;

        ASSERT_NOT_NULL(serial);
        ASSERT_OK(make_backing(volume_id, &path));

        a.path = path;
        a.delay = 300 * USEC_PER_MSEC;
        start = now(CLOCK_MONOTONIC);
        ASSERT_EQ(pthread_create(&a.thread, NULL, attacher_run, &a), 0);
        a.started = true;

        ASSERT_OK(blockdev_wait(volume_id, NULL, usec_add(start, 10 * USEC_PER_SEC), &d));
        returned = now(CLOCK_MONOTONIC);
        (void) pthread_join(a.thread, NULL);
        a.started = false;

        ASSERT_OK(a.error);
        ASSERT_STREQ(d.devnode, a.loop.devnode);
        ASSERT_STREQ(d.serial, serial);
        ASSERT_EQ(d.source, BLOCK_SERIAL_SOURCE_UDEV);
        ASSERT_EQ(d.size, BACKING_SIZE);
        ASSERT_NOT_NULL(d.syspath);
        ASSERT_TRUE(startswith(d.syspath, "/sys/") != NULL);

        latency = returned > a.attached_at ? returned - a.attached_at : 0;
        printf("# %s appeared %s after the wait began; blockdev_wait returned %s after the attach\n",
               d.devnode, FORMAT_DURATION(a.attached_at - start), FORMAT_DURATION(latency));
        /* Events, not polling: well under a second. */
        ASSERT_TRUE(latency < USEC_PER_SEC);

        /* Loop devices have no serial of their own, so no io_timeout here. */
        ASSERT_EQ(blockdev_set_ebs_io_timeout(&d), 0);
}

static void test_device_already_present(void) {
        _cleanup_(test_loop_done) TestLoop l = { .number = -1, .fd = -EBADF };
        _cleanup_(block_device_done) BlockDevice first = {}, again = {}, found = {};
        _cleanup_free_ char *path = NULL;
        usec_t start, took;

        ASSERT_OK(make_backing(volume_id, &path));
        ASSERT_OK(test_loop_attach(path, &l));

        /* Once udev has processed it (this wait may get it by its event)... */
        ASSERT_OK(blockdev_wait(volume_id, NULL, usec_add(now(CLOCK_MONOTONIC), 10 * USEC_PER_SEC), &first));
        ASSERT_STREQ(first.devnode, l.devnode);

        /* ...a wait finds it by the scan alone, even with the deadline
         * already passed, and so does blockdev_find(). */
        start = now(CLOCK_MONOTONIC);
        ASSERT_OK(blockdev_wait(volume_id, NULL, start, &again));
        took = now(CLOCK_MONOTONIC) - start;
        ASSERT_STREQ(again.devnode, l.devnode);
        printf("# already present: found in %s\n", FORMAT_DURATION(took));
        ASSERT_TRUE(took < 500 * USEC_PER_MSEC);

        ASSERT_OK(blockdev_find(volume_id, NULL, &found));
        ASSERT_STREQ(found.devnode, l.devnode);
        ASSERT_EQ(found.size, BACKING_SIZE);

        /* And it proves itself again. */
        ASSERT_OK(blockdev_verify(l.devnode, volume_id, NULL));
}

static void test_other_serial_times_out(void) {
        _cleanup_(test_loop_done) TestLoop l = { .number = -1, .fd = -EBADF };
        _cleanup_(block_device_done) BlockDevice other = {}, d = {};
        _cleanup_free_ char *path = NULL;
        usec_t start, took;

        ASSERT_OK(make_backing(other_volume_id, &path));
        ASSERT_OK(test_loop_attach(path, &l));

        /* The other volume's device is there and udev has its serial... */
        ASSERT_OK(blockdev_wait(other_volume_id, NULL, usec_add(now(CLOCK_MONOTONIC), 10 * USEC_PER_SEC),
                                &other));
        ASSERT_STREQ(other.devnode, l.devnode);

        /* ...and it is not taken for ours: the deadline passes. */
        start = now(CLOCK_MONOTONIC);
        ASSERT_EQ(blockdev_wait(volume_id, NULL, usec_add(start, USEC_PER_SEC), &d), -ETIME);
        took = now(CLOCK_MONOTONIC) - start;
        printf("# other serial only: -ETIME after %s\n", FORMAT_DURATION(took));
        ASSERT_TRUE(took >= USEC_PER_SEC);
        ASSERT_TRUE(took < USEC_PER_SEC + 500 * USEC_PER_MSEC);
        ASSERT_NULL(d.devnode);

        ASSERT_EQ(blockdev_find(volume_id, NULL, &d), -ENOENT);
        ASSERT_NULL(d.devnode);

        /* The wrong device is refused right before it would be touched, and
         * a Xen name does not stand in for a serial that differs. */
        ASSERT_EQ(blockdev_verify(l.devnode, volume_id, NULL), -ENODEV);
        ASSERT_EQ(blockdev_verify(l.devnode, volume_id, "/dev/sdf"), -ENODEV);
        ASSERT_OK(blockdev_verify(l.devnode, other_volume_id, NULL));
}

static void test_verify_refuses(void) {
        /* Not a block device; a path that does not exist. */
        ASSERT_EQ(blockdev_verify("/dev/null", volume_id, NULL), -ENODEV);
        ASSERT_EQ(blockdev_verify("/dev/nodeagent-no-such-device", volume_id, NULL), -ENOENT);
        ASSERT_EQ(blockdev_verify(tmpdir, volume_id, NULL), -ENODEV);
}

static int setup(void) {
        struct stat st;
        FILE *f;

        if (!mkdtemp(tmpdir))
                return -errno;
        made_tmpdir = true;

        if (stat(RULES_DIR, &st) < 0) {
                if (mkdir(RULES_DIR, 0755) < 0)
                        return -errno;
                made_rules_dir = true;
        }
        f = fopen(RULES_FILE, "we");
        if (!f)
                return -errno;
        made_rules_file = true;
        /* A write error is sticky: fclose() reports it. */
        fputs("# nodeagent tests/system/test-blockdev.c: removed when the test ends\n" RULE, f);
        if (fclose(f) != 0)
                return -EIO;
        reload_udev();
        return 0;
}

int main(void) {
        int r;

        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root (loop devices, udev rules)\n");
                return 0;
        }
        if (access("/run/udev/control", F_OK) < 0) {
                printf("Bail out! systemd-udevd is not running (scripts/test starts one)\n");
                return 1;
        }

        if (getenv("NODEAGENT_TEST_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        random_volume_id(volume_id, sizeof volume_id);
        random_volume_id(other_volume_id, sizeof other_volume_id);
        printf("# volume %s, other volume %s\n", volume_id, other_volume_id);

        r = take_signals();
        if (r >= 0 && atexit(global_cleanup) != 0)
                r = -ENOMEM;
        if (r < 0) {
                printf("Bail out! cannot take the signals: %s\n", strerror(-r));
                return 1;
        }
        r = setup();
        if (r < 0) {
                printf("Bail out! setup failed: %s\n", strerror(-r));
                return 1;
        }

        RUN_TEST(test_wait_for_new_device);
        RUN_TEST(test_device_already_present);
        RUN_TEST(test_other_serial_times_out);
        RUN_TEST(test_verify_refuses);

        global_cleanup();
        return tests_finish();
}
