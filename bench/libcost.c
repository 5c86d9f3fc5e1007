/* SPDX-License-Identifier: Apache-2.0 */

/* nodeagent-bench-libcost-*: what a set of shared libraries costs a process
 * that does nothing else. Built three times (bench/meson.build): linked
 * against nothing but libc, against libcurl alone, and against every library
 * nodeagent links. "--exit" returns at once (bench/ times exec to exit);
 * otherwise it calls curl_global_init() where curl is linked, as nodeagent
 * does first, and prints its own memory from /proc/self: VmHWM, RssAnon,
 * RssFile, Pss, private (Private_Clean + Private_Dirty) and Private_Dirty,
 * in KiB. */

#include <stdio.h>
#include <string.h>

#ifdef LIBCOST_CURL
#include <curl/curl.h>
#endif

static long field(const char *path, const char *name) {
        char line[256];
        long total = -1;
        FILE *f = fopen(path, "re");

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f)) {
                size_t n = strlen(name);
                long v;

                if (strncmp(line, name, n) != 0 || line[n] != ':')
                        continue;
                if (sscanf(line + n + 1, "%ld", &v) == 1)
                        total = total < 0 ? v : total + v;
        }
        fclose(f);
        return total;
}

int main(int argc, char *argv[]) {
        if (argc > 1 && strcmp(argv[1], "--exit") == 0)
                return 0;
#ifdef LIBCOST_CURL
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return 1;
#endif
        printf("hwm_kib=%ld rss_anon_kib=%ld rss_file_kib=%ld pss_kib=%ld private_kib=%ld private_dirty_kib=%ld\n",
               field("/proc/self/status", "VmHWM"), field("/proc/self/status", "RssAnon"),
               field("/proc/self/status", "RssFile"), field("/proc/self/smaps_rollup", "Pss"),
               field("/proc/self/smaps_rollup", "Private_Clean") + field("/proc/self/smaps_rollup", "Private_Dirty"),
               field("/proc/self/smaps_rollup", "Private_Dirty"));
        return 0;
}
