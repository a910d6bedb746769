#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netutil.h"

int64_t net_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int net_wait(int fd, short events, int64_t deadline) {
        for (;;) {
                int64_t left = deadline - net_now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = fd, .events = events };
                int r = poll(&p, 1, left > 60000 ? 60000 : (int) left);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (r > 0)
                        return 0; /* POLLERR/POLLHUP too: the next I/O call reports it */
        }
}

int net_connect(const char *host, uint16_t port, int type, int64_t deadline, Error *err) {
        char portstr[8];
        snprintf(portstr, sizeof(portstr), "%u", (unsigned) port);
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = type, .ai_flags = AI_NUMERICSERV };
        struct addrinfo *res = NULL;
        int g = getaddrinfo(host, portstr, &hints, &res);
        if (g != 0)
                return error_set(err, -EHOSTUNREACH, "cannot resolve '%s': %s", host, gai_strerror(g));

        int r = -EHOSTUNREACH;
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
                if (fd < 0) {
                        r = negative_errno();
                        continue;
                }
                if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                        if (errno != EINPROGRESS) {
                                r = negative_errno();
                                close(fd);
                                continue;
                        }
                        r = net_wait(fd, POLLOUT, deadline);
                        if (r == 0) {
                                int soerr = 0;
                                socklen_t sl = sizeof(soerr);
                                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                                        r = negative_errno();
                                else
                                        r = soerr ? -soerr : 0;
                        }
                        if (r < 0) {
                                close(fd);
                                if (r == -ETIMEDOUT)
                                        break;
                                continue;
                        }
                }
                freeaddrinfo(res);
                return fd;
        }
        freeaddrinfo(res);
        if (r == -ETIMEDOUT)
                return error_set(err, r, "cannot connect to %s port %u: timed out", host, (unsigned) port);
        return error_set(err, r, "cannot connect to %s port %u: %s", host, (unsigned) port, strerror(-r));
}
