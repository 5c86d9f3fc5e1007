/* SPDX-License-Identifier: Apache-2.0 */

/* nodeagent-bench-cancel [RUNS]: how long from wait_cancel_all() until the
 * server of an HTTP read in flight sees its connection close. A local
 * server accepts the agent's request (through http.c, cancellable, as
 * every read of a boot is) and answers nothing, or only the headers and
 * the first bytes of a body it never finishes; once the transfer has
 * waited there for 100 ms, the boot is cancelled. One line per run:
 * "stage=... close_ms=... return_ms=..." (from the cancellation to the
 * server's read of end-of-file, and to http_perform() returning);
 * bench/bench.py reads them. */

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "time-util.h"
#include "wait.h"

typedef struct Run {
        int listener;
        bool send_headers;              /* answer the headers and part of a body first */
        int ready[2];                   /* the server writes one byte once the request is in */
        usec_t closed;                  /* when the server read end-of-file */
        usec_t returned;                /* when http_perform() returned */
        int result;
        uint16_t port;
} Run;

static const char partial[] = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 100000\r\n\r\n<Reply>";

static void *server(void *userdata) {
        Run *run = userdata;
        char buf[4096];
        int fd;

        fd = accept4(run->listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return NULL;
        /* The request: one read does for a GET this small. */
        if (read(fd, buf, sizeof(buf)) > 0) {
                if (run->send_headers)
                        (void) !write(fd, partial, sizeof(partial) - 1);
                (void) !write(run->ready[1], "x", 1);
        }
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, 30000) <= 0)
                        break;
                n = read(fd, buf, sizeof(buf));
                if (n <= 0) {
                        run->closed = now(CLOCK_MONOTONIC);
                        break;
                }
        }
        close(fd);
        return NULL;
}

static void *client(void *userdata) {
        Run *run = userdata;
        _cleanup_(http_transport_curl_freep) HttpTransport *t = NULL;
        _cleanup_(http_response_done) HttpResponse response = {};
        char url[64];

        (void) snprintf(url, sizeof(url), "http://127.0.0.1:%u/", run->port);
        run->result = http_transport_curl_new(&t);
        if (run->result < 0)
                return NULL;
        run->result = http_perform(t, &(HttpRequest) {
                                           .method = "GET",
                                           .url = url,
                                           .timeout = 30 * USEC_PER_SEC,
                                           .cancellable = true,
                                   },
                                   &response);
        run->returned = now(CLOCK_MONOTONIC);
        return NULL;
}

static int one_run(bool send_headers) {
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(addr);
        Run run = { .send_headers = send_headers };
        pthread_t s, c;
        usec_t cancelled;
        char x;

        wait_cancel_reset();
        run.listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (run.listener < 0 || bind(run.listener, (struct sockaddr *) &addr, sizeof(addr)) < 0 ||
            listen(run.listener, 1) < 0 || getsockname(run.listener, (struct sockaddr *) &addr, &len) < 0 ||
            pipe2(run.ready, O_CLOEXEC) < 0)
                return -errno;
        run.port = ntohs(addr.sin_port);

        if (pthread_create(&s, NULL, server, &run) != 0 || pthread_create(&c, NULL, client, &run) != 0)
                return -EAGAIN;
        if (read(run.ready[0], &x, 1) != 1)
                return -EIO;
        /* Let the transfer settle into its wait. */
        (void) usleep(100 * 1000);
        cancelled = now(CLOCK_MONOTONIC);
        wait_cancel_all();
        (void) pthread_join(c, NULL);
        (void) pthread_join(s, NULL);
        close(run.listener);
        close(run.ready[0]);
        close(run.ready[1]);

        if (run.result != -ECANCELED || run.closed == 0) {
                fprintf(stderr, "run: http_perform() returned %d, server saw %s\n", run.result,
                        run.closed ? "the close" : "no close");
                return -EPROTO;
        }
        printf("stage=%s close_ms=%.3f return_ms=%.3f\n", send_headers ? "body" : "headers",
               (double) (run.closed - cancelled) / USEC_PER_MSEC, (double) (run.returned - cancelled) / USEC_PER_MSEC);
        return 0;
}

int main(int argc, char *argv[]) {
        unsigned long runs = 5;
        int r;

        if (argc > 1) {
                char *end;

                errno = 0;
                runs = strtoul(argv[1], &end, 10);
                if (errno != 0 || *end != '\0' || runs == 0 || runs > 1000) {
                        fprintf(stderr, "usage: %s [RUNS]\n", program_invocation_short_name);
                        return 2;
                }
        }
        log_set_max_level(LOG_WARNING);
        r = http_global_init();
        if (r < 0)
                return 1;
        for (unsigned long i = 0; i < runs; i++) {
                r = one_run(i % 2 == 1);
                if (r < 0)
                        break;
        }
        http_global_cleanup();
        return r < 0 ? 1 : 0;
}
