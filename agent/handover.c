/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "handover.h"
#include "log.h"

int handover_format_prompt(const char *requester_id, const char *node_name, char *buf, size_t size) {
        int k;

        if (isempty(requester_id) || isempty(node_name) || strpbrk(requester_id, " \n") || strpbrk(node_name, " \n"))
                return -EINVAL;
        k = snprintf(buf, size, "nodeagent-handover 1 %s %s\n", requester_id, node_name);
        if (k < 0 || (size_t) k >= size)
                return -ENOBUFS;
        return 0;
}

int handover_prompt(const char *holder_ip, const char *requester_id, const char *node_name) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(HANDOVER_PORT) };
        char payload[256];
        int r;

        if (!holder_ip || inet_pton(AF_INET, holder_ip, &sa.sin_addr) != 1)
                return -EINVAL;
        r = handover_format_prompt(requester_id, node_name, payload, sizeof(payload));
        if (r < 0)
                return r;
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (sendto(fd, payload, strlen(payload), 0, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_debug_errno(errno, "handover: prompt to %s:%d not sent: %m", holder_ip, HANDOVER_PORT);
        return 0;
}
