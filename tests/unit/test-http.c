/* SPDX-License-Identifier: Apache-2.0 */

/* The libcurl transport against a small HTTP server in a child process on
 * 127.0.0.1 (an ephemeral port), and, when the openssl tool is installed,
 * against "openssl s_server" to show that TLS is verified. */

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <poll.h>
#include <pthread.h>

#include "http.h"
#include "log.h"
#include "tests.h"
#include "wait.h"

static pid_t server_pid = -1;
static unsigned server_port = 0;

/* Test-server side. */

static void write_all(int fd, const void *data, size_t size) {
        const char *p = data;

        while (size > 0) {
                ssize_t n = send(fd, p, size, MSG_NOSIGNAL);

                if (n <= 0)
                        return;
                p += n;
                size -= (size_t) n;
        }
}

static void write_str(int fd, const char *s) {
        write_all(fd, s, strlen(s));
}

/* Reads one request: its head into *head, and its body (by Content-Length)
 * counted in *body_size. Returns false at the end of the connection. */
static bool read_request(int fd, char **head, size_t *body_size) {
        size_t size = 0, allocated = 0, want = 0;
        char *buf = NULL, *end = NULL;
        const char *cl;

        for (;;) {
                ssize_t n;

                if (size + 4096 + 1 > allocated) {
                        allocated = (size + 4096 + 1) * 2;
                        buf = realloc(buf, allocated);
                        if (!buf)
                                _exit(1);
                }
                n = recv(fd, buf + size, 4096, 0);
                if (n <= 0) {
                        free(buf);
                        return false;
                }
                size += (size_t) n;
                buf[size] = '\0';
                end = strstr(buf, "\r\n\r\n");
                if (end)
                        break;
        }

        end[2] = '\0';
        cl = strcasestr(buf, "\ncontent-length:");
        if (cl) {
                char *e;

                errno = 0;
                want = (size_t) strtoul(cl + strlen("\ncontent-length:"), &e, 10);
                if (errno != 0 || (*e != '\r' && *e != '\n'))
                        _exit(1);
        }
        *body_size = want;
        want -= MIN(want, size - (size_t) (end + 4 - buf));
        while (want > 0) {
                char chunk[65536];
                ssize_t n = recv(fd, chunk, MIN(want, sizeof(chunk)), 0);

                if (n <= 0)
                        break;
                want -= (size_t) n;
        }
        *head = buf;
        return true;
}

static void respond(int fd, unsigned connection, const char *head, size_t body_size) {
        char path[256] = "";
        char *out = NULL;

        (void) sscanf(head, "%*s %255s", path);

        if (streq(path, "/hello")) {
                if (asprintf(&out,
                             "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Conn: %u\r\n"
                             "X-Mixed-CASE:   Value with spaces  \r\nX-Folded: one\r\n two\r\n\r\nhello",
                             connection) < 0)
                        _exit(1);
                write_str(fd, out);
        } else if (streq(path, "/big") || streq(path, "/stream")) {
                char x[100000];

                memset(x, 'x', sizeof(x));
                write_str(fd, streq(path, "/big") ? "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
                                                  : "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                write_all(fd, x, sizeof(x));
                if (streq(path, "/stream"))
                        _exit(0);
        } else if (streq(path, "/slow")) {
                sleep(2);
                write_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        } else if (streq(path, "/continue"))
                write_str(fd, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                              "HTTP/1.1 201 Created\r\nX-Final: 1\r\nContent-Length: 2\r\n\r\nok");
        else if (streq(path, "/redirect"))
                write_str(fd, "HTTP/1.1 302 Found\r\nLocation: /hello\r\nContent-Length: 0\r\n\r\n");
        else if (streq(path, "/echo")) {
                _cleanup_free_ char *echo = NULL;

                /* The request head as received, and how much body came. */
                if (asprintf(&echo, "%sbody-size: %zu\n", head, body_size) < 0 ||
                    asprintf(&out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(echo), echo) < 0)
                        _exit(1);
                write_str(fd, out);
        } else if (streq(path, "/truncated")) {
                write_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
                _exit(0);
        } else if (streq(path, "/nothing"))
                _exit(0);
        else
                write_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        free(out);
}

static void serve_connection(int fd, unsigned connection) {
        for (;;) {
                char *head = NULL;
                size_t body_size = 0;

                if (!read_request(fd, &head, &body_size))
                        _exit(0);
                respond(fd, connection, head, body_size);
                free(head);
        }
}

static _noreturn_ void serve(int listener) {
        unsigned connections = 0;

        (void) signal(SIGCHLD, SIG_IGN);
        (void) signal(SIGPIPE, SIG_IGN);
        for (;;) {
                /* cppcheck-suppress nullPointer ; accept4() takes NULL for a peer address not wanted (cppcheck's gnu.cfg says otherwise) */
                int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

                if (fd < 0)
                        continue;
                connections++;
                if (fork() == 0) {
                        close(listener);
                        serve_connection(fd, connections);
                }
                close(fd);
        }
}

/* A listening socket on 127.0.0.1 and an ephemeral port. */
static int listen_ephemeral(unsigned *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        int fd;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &l) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

static int server_start(void) {
        int fd = listen_ephemeral(&server_port);

        if (fd < 0)
                return fd;
        server_pid = fork();
        if (server_pid < 0)
                return -errno;
        if (server_pid == 0) {
                /* Its own process group, so that the connections it forks
                 * end with it. */
                (void) setpgid(0, 0);
                serve(fd);
        }
        (void) setpgid(server_pid, server_pid);
        close(fd);
        return 0;
}

static void server_stop(void) {
        if (server_pid <= 0)
                return;
        (void) kill(-server_pid, SIGKILL);
        (void) kill(server_pid, SIGKILL);
        (void) waitpid(server_pid, NULL, 0);
        server_pid = -1;
}

/* Client side. */

static char *url(const char *path) {
        char *u = NULL;

        if (asprintf(&u, "http://127.0.0.1:%u%s", server_port, path) < 0)
                return NULL;
        return u;
}

static int get(HttpTransport *t, const char *path, size_t max, usec_t timeout, HttpResponse *ret) {
        _cleanup_free_ char *u = url(path);
        HttpRequest request = {
                .method = "GET",
                .url = u,
                .timeout = timeout,
                .max_response_size = max,
        };

        return http_perform(t, &request, ret);
}

/* TCP sockets of this process that a child would inherit. (libcurl 7.88's
 * internal wakeup socketpair is AF_UNIX and not close-on-exec; nothing in
 * its API reaches it.) */
static unsigned count_inheritable_sockets(void) {
        unsigned n = 0;

        for (int fd = 3; fd < 1024; fd++) {
                struct stat st;
                int flags = fcntl(fd, F_GETFD), domain = 0;
                socklen_t l = sizeof(domain);

                if (flags < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
                        continue;
                if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) < 0 ||
                    (domain != AF_INET && domain != AF_INET6))
                        continue;
                if (!(flags & FD_CLOEXEC))
                        n++;
        }
        return n;
}

static void test_keep_alive_and_headers(void) {
        _cleanup_(http_transport_curl_freep) HttpTransport *t = NULL, *t2 = NULL;
        _cleanup_(http_response_done) HttpResponse a = {}, b = {}, c = {};

        ASSERT_OK(http_transport_curl_new(&t));
        ASSERT_OK(get(t, "/hello", 0, 0, &a));
        ASSERT_EQ(a.status, 200);
        ASSERT_STREQ(a.body, "hello");
        ASSERT_EQ(a.body_size, 5);
        ASSERT_STREQ(http_response_header(&a, "x-mixed-case"), "Value with spaces");
        ASSERT_STREQ(http_response_header(&a, "X-MIXED-CASE"), "Value with spaces");
        ASSERT_STREQ(http_response_header(&a, "x-folded"), "one two");
        ASSERT_NULL(http_response_header(&a, "x-absent"));
        for (size_t i = 0; i < a.n_headers; i++)
                for (const char *p = a.headers[i].name; *p; p++)
                        ASSERT_FALSE(*p >= 'A' && *p <= 'Z');

        /* The connection kept open for the next request is close-on-exec. */
        ASSERT_EQ(count_inheritable_sockets(), 0);

        /* The same handle, the same connection. */
        ASSERT_OK(get(t, "/hello", 0, 0, &b));
        ASSERT_STREQ(http_response_header(&b, "x-conn"), http_response_header(&a, "x-conn"));

        ASSERT_OK(http_transport_curl_new(&t2));
        ASSERT_OK(get(t2, "/hello", 0, 0, &c));
        ASSERT_FALSE(streq(http_response_header(&c, "x-conn"), http_response_header(&a, "x-conn")));
}

static void test_size_cap(void) {
        _cleanup_(http_transport_curl_freep) HttpTransport *t = NULL;
        _cleanup_(http_response_done) HttpResponse r = {};

        ASSERT_OK(http_transport_curl_new(&t));
        /* Announced by Content-Length, and streamed without one. */
        ASSERT_EQ(get(t, "/big", 1000, 0, &r), -EMSGSIZE);
        ASSERT_EQ(get(t, "/stream", 1000, 0, &r), -EMSGSIZE);
        ASSERT_NULL(r.body);

        ASSERT_OK(get(t, "/big", 100000, 0, &r));
        ASSERT_EQ(r.body_size, 100000);
        ASSERT_EQ(r.body[100000], '\0');
        http_response_done(&r);
        ASSERT_OK(get(t, "/stream", 0, 0, &r));
        ASSERT_EQ(r.body_size, 100000);
}

static void test_timeout(void) {
        _cleanup_(http_transport_curl_freep) HttpTransport *t = NULL;
        HttpResponse r = {};
        usec_t start = now(CLOCK_MONOTONIC);

        ASSERT_OK(http_transport_curl_new(&t));
        ASSERT_EQ(get(t, "/slow", 0, 200 * USEC_PER_MSEC, &r), -ETIMEDOUT);
        ASSERT_TRUE(now(CLOCK_MONOTONIC) - start < 1500 * USEC_PER_MSEC);
}

static void test_final_headers_only(void) {
        _cleanup_(http_transport_curl_freep) HttpTransport *t = NULL;
        _cleanup_(http_response_done) HttpResponse r = {}, redirect = {};

        ASSERT_OK(http_transport_curl_new(&t));
        ASSERT_OK(get(t, "/continue", 0, 0, &r));
        ASSERT_EQ(r.status, 201);
        ASSERT_STREQ(r.body, "ok");
        ASSERT_STREQ(http_response_header(&r, "x-final"), "1");
        ASSERT_NULL(http_response_header(&r, "x-interim"));

        /* Redirects are answers, not followed. */
        ASSERT_OK(get(t, "/redirect", 0, 0, &redirect));
        ASSERT_EQ(redirect.status, 302);
        ASSERT_STREQ(http_response_header(&redirect, "location"), "/hello");
        ASSERT_STREQ(redirect.body, "");
}

static void test_post_and_put(void) {
        _cleanup_(http_transport_curl_freep) HttpTransport *t = NULL;
        _cleanup_(http_response_done) HttpResponse r = {}, typed = {}, put = {};
        _cleanup_free_ char *u = url("/echo"), *body = NULL;
        size_t size = (size_t) 1536 * 1024;
        HttpHeader content_type = { .name = (char *) "Content-Type", .value = (char *) "application/x-amz-json-1.1" };
        HttpHeader empty = { .name = (char *) "X-Empty", .value = (char *) "" };

        body = malloc(size);
        ASSERT_NOT_NULL(body);
        memset(body, 'b', size);

        ASSERT_OK(http_transport_curl_new(&t));
        /* Large enough that curl would otherwise ask for 100-continue. */
        ASSERT_OK(http_perform(t, &(HttpRequest) { .method = "POST", .url = u, .body = body, .body_size = size,
                                                   .headers = &empty, .n_headers = 1 }, &r));
        ASSERT_EQ(r.status, 200);
        ASSERT_NOT_NULL(strstr(r.body, "POST /echo HTTP/1.1\r\n"));
        ASSERT_NOT_NULL(strstr(r.body, "body-size: 1572864\n"));
        ASSERT_NULL(strcasestr(r.body, "\nexpect:"));
        ASSERT_NULL(strcasestr(r.body, "\ncontent-type:"));
        ASSERT_NOT_NULL(strcasestr(r.body, "\nx-empty:"));

        ASSERT_OK(http_perform(t, &(HttpRequest) { .method = "POST", .url = u, .body = "{}", .body_size = 2,
                                                   .headers = &content_type, .n_headers = 1 }, &typed));
        ASSERT_NOT_NULL(strstr(typed.body, "Content-Type: application/x-amz-json-1.1\r\n"));
        ASSERT_NOT_NULL(strstr(typed.body, "body-size: 2\n"));

        /* A PUT without a body, as the IMDS token request. */
        ASSERT_OK(http_perform(t, &(HttpRequest) { .method = "PUT", .url = u }, &put));
        ASSERT_NOT_NULL(strstr(put.body, "PUT /echo HTTP/1.1\r\n"));
        ASSERT_NOT_NULL(strcasestr(put.body, "\ncontent-length: 0\r\n"));
}

static void test_errors(void) {
        _cleanup_(http_transport_curl_freep) HttpTransport *t = NULL;
        _cleanup_free_ char *refused = NULL;
        HttpHeader smuggle = { .name = (char *) "X-A", .value = (char *) "b\r\nX-Injected: 1" };
        HttpResponse r = {};
        unsigned port;
        int fd;

        ASSERT_OK(http_transport_curl_new(&t));
        ASSERT_EQ(get(t, "/truncated", 0, 0, &r), -EPROTO);
        ASSERT_EQ(get(t, "/nothing", 0, 0, &r), -ECONNRESET);

        /* A port that was just free. */
        fd = listen_ephemeral(&port);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        ASSERT_TRUE(asprintf(&refused, "http://127.0.0.1:%u/", port) > 0);
        ASSERT_EQ(http_perform(t, &(HttpRequest) { .method = "GET", .url = refused }, &r), -ECONNREFUSED);

        ASSERT_EQ(http_perform(t, &(HttpRequest) { .method = "GET", .url = "file:///etc/passwd" }, &r),
                  -EPROTONOSUPPORT);
        ASSERT_EQ(http_perform(t, &(HttpRequest) { .method = "GET", .url = "ftp://127.0.0.1/" }, &r),
                  -EPROTONOSUPPORT);
        ASSERT_EQ(http_perform(t, &(HttpRequest) { .method = "GET", .url = refused, .headers = &smuggle,
                                                   .n_headers = 1 }, &r), -EINVAL);
        ASSERT_EQ(http_perform(t, &(HttpRequest) { .method = "get", .url = refused }, &r), -EINVAL);
        ASSERT_EQ(http_perform(t, &(HttpRequest) { .method = "POST", .url = refused, .body_size = 3 }, &r),
                  -EINVAL);
        ASSERT_NULL(r.body);
        ASSERT_EQ(r.status, 0);
}

/* TLS, with the openssl tool as the server. */

static int run_quiet(char *const argv[]) {
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                if (null >= 0) {
                        dup2(null, STDIN_FILENO);
                        dup2(null, STDOUT_FILENO);
                        dup2(null, STDERR_FILENO);
                }
                execvp(argv[0], argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int make_cert(const char *dir, const char *name) {
        _cleanup_free_ char *key = NULL, *cert = NULL;

        if (asprintf(&key, "%s/%s.key", dir, name) < 0 || asprintf(&cert, "%s/%s.pem", dir, name) < 0)
                return -ENOMEM;
        return run_quiet((char *const[]) {
                (char *) "openssl", (char *) "req", (char *) "-x509", (char *) "-newkey", (char *) "ec",
                (char *) "-pkeyopt", (char *) "ec_paramgen_curve:prime256v1", (char *) "-nodes",
                (char *) "-keyout", key, (char *) "-out", cert, (char *) "-days", (char *) "2",
                (char *) "-subj", (char *) "/CN=127.0.0.1", (char *) "-addext",
                (char *) "subjectAltName=IP:127.0.0.1", NULL });
}

static int https_get(const char *ca, const char *host, unsigned port, long *ret_status) {
        _cleanup_(http_transport_curl_freep) HttpTransport *t = NULL;
        _cleanup_(http_response_done) HttpResponse r = {};
        _cleanup_free_ char *u = NULL;
        int k;

        if (ca)
                setenv("AWS_CA_BUNDLE", ca, 1);
        else
                unsetenv("AWS_CA_BUNDLE");
        k = http_transport_curl_new(&t);
        unsetenv("AWS_CA_BUNDLE");
        if (k < 0)
                return k;
        if (asprintf(&u, "https://%s:%u/", host, port) < 0)
                return -ENOMEM;
        k = http_perform(t, &(HttpRequest) { .method = "GET", .url = u, .timeout = 5 * USEC_PER_SEC }, &r);
        if (k >= 0)
                *ret_status = r.status;
        return k;
}

static void test_https_verified(void) {
        _cleanup_free_ char *cert = NULL, *key = NULL, *bogus = NULL, *accept = NULL;
        char dir[] = "/tmp/test-http.XXXXXX";
        unsigned port;
        long status = 0;
        pid_t pid;
        int fd, k1, k2, k3, k4;

        if (run_quiet((char *const[]) { (char *) "openssl", (char *) "version", NULL }) != 0) {
                printf("# openssl not installed: TLS verification not tested\n");
                return;
        }
        ASSERT_NOT_NULL(mkdtemp(dir));
        ASSERT_EQ(make_cert(dir, "server"), 0);
        ASSERT_EQ(make_cert(dir, "bogus"), 0);
        ASSERT_TRUE(asprintf(&cert, "%s/server.pem", dir) > 0);
        ASSERT_TRUE(asprintf(&key, "%s/server.key", dir) > 0);
        ASSERT_TRUE(asprintf(&bogus, "%s/bogus.pem", dir) > 0);

        fd = listen_ephemeral(&port);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        ASSERT_TRUE(asprintf(&accept, "127.0.0.1:%u", port) > 0);

        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                if (null >= 0) {
                        dup2(null, STDIN_FILENO);
                        dup2(null, STDOUT_FILENO);
                        dup2(null, STDERR_FILENO);
                }
                execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", cert, "-key", key, "-www",
                       (char *) NULL);
                _exit(127);
        }

        /* Waits until it listens. */
        for (int i = 0; i < 100; i++) {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                int c = connect(s, (struct sockaddr *) &sa, sizeof(sa));

                close(s);
                if (c == 0)
                        break;
                (void) usleep(50 * 1000);
        }

        k1 = https_get(bogus, "127.0.0.1", port, &status);   /* signed by someone else */
        k2 = https_get(NULL, "127.0.0.1", port, &status);    /* not in the system's trust store */
        k3 = https_get(cert, "localhost", port, &status);    /* trusted, but not that name */
        k4 = https_get(cert, "127.0.0.1", port, &status);    /* trusted, right name */

        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        run_quiet((char *const[]) { (char *) "rm", (char *) "-rf", dir, NULL });

        ASSERT_EQ(k1, -EIO);
        ASSERT_EQ(k2, -EIO);
        ASSERT_TRUE(k3 < 0);
        ASSERT_OK(k4);
        ASSERT_EQ(status, 200);
}

/* A request in a thread of its own, against a listener of the test's that
 * accepts and then answers only when the test says so. */
typedef struct Pending {
        HttpTransport *transport;
        const char *method;
        char *url;
        bool cancellable;
        pthread_t thread;
        HttpResponse response;
        int result;
} Pending;

static void *pending_run(void *userdata) {
        Pending *p = userdata;
        HttpRequest request = {
                .method = p->method,
                .url = p->url,
                .body = streq(p->method, "POST") ? "Action=AttachVolume" : NULL,
                .body_size = streq(p->method, "POST") ? strlen("Action=AttachVolume") : 0,
                /* Far beyond the test's own bounds: only cancellation ends a read early. */
                .timeout = 10 * USEC_PER_MINUTE,
                .cancellable = p->cancellable,
        };

        p->result = http_perform(p->transport, &request, &p->response);
        return NULL;
}

/* Accepts one connection and reads its request head; the fd, or -1. */
static int accept_request(int listener) {
        struct pollfd p = { .fd = listener, .events = POLLIN };
        char buf[4096];
        size_t got = 0;
        int fd;

        if (poll(&p, 1, 60 * 1000) <= 0)
                return -1;
        /* cppcheck-suppress nullPointer ; accept4() takes NULL for a peer address not wanted (cppcheck's gnu.cfg says otherwise) */
        fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return -1;
        while (got < sizeof(buf) - 1) {
                ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

                if (n <= 0)
                        break;
                got += (size_t) n;
                buf[got] = '\0';
                if (strstr(buf, "\r\n\r\n"))
                        return fd;
        }
        close(fd);
        return -1;
}

/* Whether the peer closed fd (EOF) within a minute. */
static bool peer_closed(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char c;

        return poll(&p, 1, 60 * 1000) > 0 && read(fd, &c, 1) == 0;
}

/* A cancelled boot abandons a read in flight at once: the server sees the
 * connection closed, not after the request's own ten-minute timeout, nor
 * at a progress tick. */
static void test_cancel_abandons_a_read_in_flight(void) {
        _cleanup_(http_transport_curl_freep) HttpTransport *t = NULL;
        unsigned port;
        int listener, fd;
        Pending p = { .method = "GET", .cancellable = true };

        ASSERT_OK(http_transport_curl_new(&t));
        listener = listen_ephemeral(&port);
        ASSERT_TRUE(listener >= 0);
        ASSERT_TRUE(asprintf(&p.url, "http://127.0.0.1:%u/never-answered", port) > 0);
        p.transport = t;
        wait_cancel_reset();
        ASSERT_EQ(pthread_create(&p.thread, NULL, pending_run, &p), 0);

        fd = accept_request(listener);
        wait_cancel_all();
        ASSERT_TRUE(fd >= 0 && peer_closed(fd));
        (void) pthread_join(p.thread, NULL);
        ASSERT_EQ(p.result, -ECANCELED);

        close(fd);
        close(listener);
        free(p.url);
        wait_cancel_reset();
}

/* A write is never abandoned: its outcome would be unknown. It runs to its
 * reply even when the boot was cancelled while it waited. */
static void test_cancel_lets_a_write_finish(void) {
        _cleanup_(http_transport_curl_freep) HttpTransport *t = NULL;
        static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        unsigned port;
        int listener, fd;
        Pending p = { .method = "POST", .cancellable = false };

        ASSERT_OK(http_transport_curl_new(&t));
        listener = listen_ephemeral(&port);
        ASSERT_TRUE(listener >= 0);
        ASSERT_TRUE(asprintf(&p.url, "http://127.0.0.1:%u/", port) > 0);
        p.transport = t;
        wait_cancel_reset();
        ASSERT_EQ(pthread_create(&p.thread, NULL, pending_run, &p), 0);

        fd = accept_request(listener);
        ASSERT_TRUE(fd >= 0);
        wait_cancel_all();
        /* Still connected: the client waits for the reply. */
        {
                struct pollfd q = { .fd = fd, .events = POLLIN };

                ASSERT_EQ(poll(&q, 1, 200), 0);
        }
        write_all(fd, reply, strlen(reply));
        (void) pthread_join(p.thread, NULL);
        ASSERT_OK(p.result);
        ASSERT_EQ(p.response.status, 200);
        ASSERT_STREQ(p.response.body, "ok");

        http_response_done(&p.response);
        close(fd);
        close(listener);
        free(p.url);
        wait_cancel_reset();
}

int main(void) {
        int r;

        /* Nothing between us and 127.0.0.1. */
        unsetenv("http_proxy");
        unsetenv("HTTP_PROXY");
        unsetenv("https_proxy");
        unsetenv("HTTPS_PROXY");
        unsetenv("all_proxy");
        unsetenv("ALL_PROXY");
        unsetenv("AWS_CA_BUNDLE");
        if (getenv("TEST_VERBOSE"))
                log_set_verbosity(3);

        if (http_global_init() < 0 || server_start() < 0) {
                printf("Bail out! cannot start the test server\n");
                return 1;
        }

        RUN_TEST(test_keep_alive_and_headers);
        RUN_TEST(test_size_cap);
        RUN_TEST(test_timeout);
        RUN_TEST(test_final_headers_only);
        RUN_TEST(test_post_and_put);
        RUN_TEST(test_errors);
        RUN_TEST(test_https_verified);
        RUN_TEST(test_cancel_abandons_a_read_in_flight);
        RUN_TEST(test_cancel_lets_a_write_finish);

        server_stop();
        http_global_cleanup();
        r = tests_finish();
        return r;
}
