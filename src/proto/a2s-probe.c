#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "a2s-probe.h"

int a2s_probe_socket(void) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        return fd < 0 ? negative_errno() : fd;
}

void a2s_probe_reset(A2sProbe *p) {
        if (p->asmb) {
                a2s_assembler_done(p->asmb);
                free(p->asmb);
                p->asmb = NULL;
        }
        p->challenges = 0;
}

void a2s_probe_done(A2sProbe *p) {
        if (p)
                a2s_probe_reset(p);
}

void a2s_probe_set_port(A2sProbe *p, uint16_t port) {
        if (p->addr.sin_family == AF_INET && ntohs(p->addr.sin_port) == port)
                return;
        a2s_probe_reset(p);
        p->have_challenge = false;
        p->addr = (struct sockaddr_in) {
                .sin_family = AF_INET,
                .sin_port = htons(port),
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };
}

bool a2s_probe_is_from(const A2sProbe *p, const struct sockaddr_in *from) {
        return from->sin_family == AF_INET && from->sin_port == p->addr.sin_port &&
               from->sin_addr.s_addr == p->addr.sin_addr.s_addr;
}

static int send_request(int fd, const A2sProbe *p) {
        uint8_t req[A2S_INFO_REQUEST_MAX];
        size_t n = a2s_info_request(req, p->have_challenge, p->challenge);
        if (sendto(fd, req, n, MSG_NOSIGNAL | MSG_DONTWAIT, (const struct sockaddr *) &p->addr, sizeof p->addr) < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : negative_errno();
        return 0;
}

int a2s_probe_send(int fd, A2sProbe *p) {
        a2s_probe_reset(p);
        return send_request(fd, p);
}

int a2s_probe_feed(int fd, A2sProbe *p, const uint8_t *d, size_t n, A2sInfo *ret) {
        uint8_t *reply = NULL;
        size_t len = 0;
        int r;
        if (n >= 4 && d[0] == 0xff && d[1] == 0xff && d[2] == 0xff && d[3] == 0xff) {
                /* A whole reply: parsed in place, no copy. */
                reply = (uint8_t *) d;
                len = n;
                r = n > A2S_DATAGRAM_MAX ? -EMSGSIZE : n < 5 ? -EBADMSG : 1;
        } else {
                if (!p->asmb && !(p->asmb = calloc(1, sizeof *p->asmb)))
                        return -ENOMEM;
                r = a2s_assembler_feed(p->asmb, d, n, &reply, &len);
        }
        if (r <= 0)
                return r;

        int32_t ch;
        if (a2s_parse_challenge(reply, len, &ch) == 0) {
                r = ++p->challenges > A2S_CHALLENGE_ROUNDS ? -EPROTO : 0;
                if (r == 0) {
                        p->challenge = ch;
                        p->have_challenge = true;
                        r = send_request(fd, p);
                        /* A full socket buffer only delays this one server:
                         * the caller counts it as unanswered. */
                        if (r == -EAGAIN)
                                r = 0;
                }
        } else if (len >= 5 && reply[4] == 'I') {
                r = a2s_parse_info(reply, len, ret);
                r = r < 0 ? r : 1;
        } else
                r = 0; /* a late reply to something else: not ours */
        if (reply != d)
                free(reply);
        return r;
}
