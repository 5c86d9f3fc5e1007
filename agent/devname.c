/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "devname.h"

/* The letter of an EBS device name: 'f' for /dev/sdf, sdf, /dev/xvdf, xvdf;
 * 0 for anything else (the root's xvda1, nvme names, two-letter xvdba). */
static char letter_of(const char *name) {
        const char *p;

        if (!name)
                return 0;
        p = startswith(name, "/dev/") ?: name;
        p = startswith(p, "xvd") ?: startswith(p, "sd");
        if (!p || p[0] < 'a' || p[0] > 'z' || p[1] != '\0')
                return 0;
        return p[0];
}

bool devname_same(const char *a, const char *b) {
        char la = letter_of(a);

        if (la == 0)
                return streq_ptr(a, b);
        return la == letter_of(b);
}

static bool listed(char *const *list, const char *name) {
        for (char *const *p = list; p && *p; p++)
                if (devname_same(*p, name))
                        return true;
        return false;
}

int devname_first_free(char *const *mapped, char *const *picked, char *const *refused, char **ret) {
        for (int c = DEVNAME_FIRST; c <= DEVNAME_LAST; c++) {
                char name[] = "/dev/sdX";

                name[7] = (char) c;
                if (listed(mapped, name) || listed(picked, name) || listed(refused, name))
                        continue;
                *ret = strdup(name);
                return *ret ? 0 : -ENOMEM;
        }
        return -ENOSPC;
}

/* At most one name per letter from f to p can be picked or refused. */
#define REGISTRY_MAX (DEVNAME_LAST - DEVNAME_FIRST + 2)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *picked[REGISTRY_MAX];
static char *refused[REGISTRY_MAX];

static void list_remove(char **list, const char *name) {
        for (size_t i = 0; i < REGISTRY_MAX - 1 && list[i]; i++)
                if (devname_same(list[i], name)) {
                        free(list[i]);
                        for (size_t k = i; k < REGISTRY_MAX - 1; k++)
                                list[k] = list[k + 1];
                        return;
                }
}

static void list_add(char **list, const char *name) {
        for (size_t i = 0; i < REGISTRY_MAX - 1; i++)
                if (!list[i]) {
                        list[i] = strdup(name);
                        return;
                }
}

int devname_pick(char *const *mapped, char **ret) {
        char *name = NULL;
        int r;

        pthread_mutex_lock(&lock);
        r = devname_first_free(mapped, picked, refused, &name);
        if (r >= 0)
                list_add(picked, name);
        pthread_mutex_unlock(&lock);
        if (r < 0)
                return r;
        *ret = name;
        return 0;
}

void devname_refused(const char *name) {
        pthread_mutex_lock(&lock);
        list_remove(picked, name);
        if (!listed(refused, name))
                list_add(refused, name);
        pthread_mutex_unlock(&lock);
}

void devname_release(const char *name) {
        pthread_mutex_lock(&lock);
        list_remove(picked, name);
        pthread_mutex_unlock(&lock);
}

void devname_reset(void) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < REGISTRY_MAX; i++) {
                picked[i] = mfree(picked[i]);
                refused[i] = mfree(refused[i]);
        }
        pthread_mutex_unlock(&lock);
}
