#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netutil.h"
#include "rcon.h"
#include "strutil.h"

static int32_t le32(const uint8_t *p) {
        return (int32_t) ((uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24);
}

static void put_le32(uint8_t *p, int32_t v) {
        uint32_t u = (uint32_t) v;
        p[0] = u & 0xff;
        p[1] = (u >> 8) & 0xff;
        p[2] = (u >> 16) & 0xff;
        p[3] = (u >> 24) & 0xff;
}

int rcon_framer_feed(RconFramer *f, const uint8_t *data, size_t len, size_t *ret_consumed, RconPacket *ret) {
        size_t used = 0;

        /* A packet returned by the previous call is done with now. */
        if (f->have >= 4) {
                int32_t size = le32(f->buf);
                if (size >= RCON_PACKET_SIZE_MIN && size <= RCON_PACKET_SIZE_MAX && f->have == 4 + (size_t) size)
                        f->have = 0;
        }

        /* The size field first: it may arrive split across reads. */
        while (f->have < 4 && used < len)
                f->buf[f->have++] = data[used++];
        if (f->have < 4) {
                *ret_consumed = used;
                return 0;
        }
        int32_t size = le32(f->buf);
        if (size < RCON_PACKET_SIZE_MIN) {
                f->bad_size = size;
                *ret_consumed = used;
                return -EBADMSG;
        }
        if (size > RCON_PACKET_SIZE_MAX) {
                f->bad_size = size;
                *ret_consumed = used;
                return -EMSGSIZE;
        }
        size_t total = 4 + (size_t) size;
        size_t take = total - f->have;
        if (take > len - used)
                take = len - used;
        memcpy(f->buf + f->have, data + used, take);
        f->have += take;
        used += take;
        *ret_consumed = used;
        if (f->have < total)
                return 0;

        if (f->buf[total - 1] != 0 || f->buf[total - 2] != 0)
                return -EPROTO;
        *ret = (RconPacket) {
                .id = le32(f->buf + 4),
                .type = le32(f->buf + 8),
                .body = f->buf + 12,
                .body_len = (size_t) size - 10,
        };
        return 1;
}

size_t rcon_packet_encode(uint8_t *buf, int32_t id, int32_t type, const void *body, size_t body_len) {
        put_le32(buf, (int32_t) (body_len + 10));
        put_le32(buf + 4, id);
        put_le32(buf + 8, type);
        if (body_len)
                memcpy(buf + 12, body, body_len);
        buf[12 + body_len] = 0;
        buf[13 + body_len] = 0;
        return 14 + body_len;
}

typedef enum RconState {
        RCON_STATE_CONNECTED,
        RCON_STATE_READY,
        RCON_STATE_AUTH_FAILED,
        RCON_STATE_CLOSED,
} RconState;

struct RconClient {
        int fd;
        RconState state;
        int timeout_ms;
        int auth_timeout_ms;
        size_t response_max;
        int32_t next_id;
        RconFramer framer;
        size_t rpos, rlen;
        uint8_t rbuf[64 * 1024];
};

int rcon_client_from_fd(int fd, RconClient **ret) {
        if (fd < 0)
                return -EBADF;
        RconClient *c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        c->fd = fd;
        c->state = RCON_STATE_CONNECTED;
        c->timeout_ms = RCON_TIMEOUT_MS_DEFAULT;
        c->auth_timeout_ms = RCON_AUTH_TIMEOUT_MS_DEFAULT;
        c->response_max = RCON_RESPONSE_MAX_DEFAULT;
        c->next_id = 1;
        *ret = c;
        return 0;
}

int rcon_connect(const char *host, uint16_t port, int timeout_ms, RconClient **ret, Error *err) {
        if (timeout_ms <= 0)
                timeout_ms = RCON_TIMEOUT_MS_DEFAULT;
        int fd = net_connect(host, port, SOCK_STREAM, net_now_ms() + timeout_ms, err);
        if (fd < 0)
                return fd;
        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        int r = rcon_client_from_fd(fd, ret);
        if (r < 0)
                return error_set(err, r, "out of memory");
        return 0;
}

static void rcon_close(RconClient *c) {
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        if (c->state != RCON_STATE_AUTH_FAILED)
                c->state = RCON_STATE_CLOSED;
}

RconClient *rcon_free(RconClient *c) {
        if (!c)
                return NULL;
        if (c->fd >= 0)
                close(c->fd);
        free(c);
        return NULL;
}

void rcon_set_timeout(RconClient *c, int timeout_ms) {
        c->timeout_ms = timeout_ms > 0 ? timeout_ms : RCON_TIMEOUT_MS_DEFAULT;
}

void rcon_set_auth_timeout(RconClient *c, int timeout_ms) {
        c->auth_timeout_ms = timeout_ms > 0 ? timeout_ms : RCON_AUTH_TIMEOUT_MS_DEFAULT;
}

void rcon_set_response_max(RconClient *c, size_t max) {
        c->response_max = max;
}

bool rcon_is_ready(const RconClient *c) {
        return c && c->state == RCON_STATE_READY;
}

/* Fresh positive ids; never -1 (the failure id) or 0. */
static int32_t take_id(RconClient *c) {
        int32_t id = c->next_id;
        c->next_id = c->next_id >= INT32_MAX - 1 ? 1 : c->next_id + 1;
        return id;
}

static int write_all(RconClient *c, const uint8_t *p, size_t n, int64_t deadline, Error *err) {
        while (n > 0) {
                ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK) {
                                int r = net_wait(c->fd, POLLOUT, deadline);
                                if (r < 0) {
                                        rcon_close(c);
                                        return error_set(err, r, "rcon: sending timed out");
                                }
                                continue;
                        }
                        int r = negative_errno();
                        rcon_close(c);
                        if (r == -EPIPE)
                                r = -ECONNRESET;
                        return error_set(err, r, "rcon: the server closed the connection");
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Returns the next packet from the stream (valid until the next call). */
static int read_packet(RconClient *c, int64_t deadline, RconPacket *ret, Error *err) {
        for (;;) {
                if (c->rpos < c->rlen) {
                        size_t used = 0;
                        int r = rcon_framer_feed(&c->framer, c->rbuf + c->rpos, c->rlen - c->rpos, &used, ret);
                        c->rpos += used;
                        if (r == 1)
                                return 0;
                        if (r < 0) {
                                int32_t bad = c->framer.bad_size;
                                rcon_close(c);
                                if (r == -EBADMSG)
                                        return error_set(err, r, "rcon: invalid packet size %d from the server (at least 10 expected); connection closed", bad);
                                if (r == -EMSGSIZE)
                                        return error_set(err, r, "rcon: packet size %d from the server is larger than %d; connection closed", bad, RCON_PACKET_SIZE_MAX);
                                return error_set(err, r, "rcon: packet from the server is not NUL-terminated; connection closed");
                        }
                        continue;
                }
                c->rpos = c->rlen = 0;
                ssize_t k = recv(c->fd, c->rbuf, sizeof(c->rbuf), MSG_DONTWAIT);
                if (k > 0) {
                        c->rlen = (size_t) k;
                        continue;
                }
                if (k == 0) {
                        rcon_close(c);
                        return error_set(err, -ECONNRESET, "rcon: the server closed the connection");
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK) {
                        int r = negative_errno();
                        rcon_close(c);
                        return error_set(err, r, "rcon: receiving failed: %s", strerror(-r));
                }
                int r = net_wait(c->fd, POLLIN, deadline);
                if (r < 0)
                        return error_set(err, r, r == -ETIMEDOUT ? "rcon: no answer from the server in time" : "rcon: waiting failed");
        }
}

static int check_usable(RconClient *c, Error *err) {
        if (c->state == RCON_STATE_AUTH_FAILED)
                return error_set(err, -EPERM, "rcon: authentication failed earlier on this connection; not retrying (srcds bans an address after repeated failures)");
        if (c->state == RCON_STATE_CLOSED || c->fd < 0)
                return error_set(err, -ENOTCONN, "rcon: the connection is closed");
        return 0;
}

int rcon_auth(RconClient *c, const char *password, Error *err) {
        int r = check_usable(c, err);
        if (r < 0)
                return r;
        size_t plen = password ? strlen(password) : 0;
        if (plen == 0)
                return error_set(err, -EINVAL, "rcon: no password set (srcds disables RCON without rcon_password)");
        if (plen > RCON_PASSWORD_MAX)
                return error_set(err, -E2BIG, "rcon: password longer than %d bytes", RCON_PASSWORD_MAX);

        int64_t deadline = net_now_ms() + c->auth_timeout_ms;
        uint8_t pkt[14 + RCON_PASSWORD_MAX];
        int32_t id = take_id(c);
        size_t n = rcon_packet_encode(pkt, id, RCON_AUTH, password, plen);
        c->state = RCON_STATE_CONNECTED;
        if ((r = write_all(c, pkt, n, deadline, err)) < 0)
                return r;

        /* srcds sends an empty RESPONSE_VALUE first; other servers do not.
         * Anything but AUTH_RESPONSE is skipped, a bounded number of times. */
        for (int skipped = 0; skipped < 16; skipped++) {
                RconPacket p;
                r = read_packet(c, deadline, &p, err);
                if (r < 0) {
                        if (r == -ECONNRESET)
                                error_set(err, r, "rcon: the server closed the connection during authentication (is this address banned after failed passwords?)");
                        else if (r == -ETIMEDOUT)
                                error_set(err, r, "rcon: no answer to the authentication within %d s (is the server hung?)",
                                          (c->auth_timeout_ms + 999) / 1000);
                        /* A late auth answer would confuse the next one. */
                        rcon_close(c);
                        return r;
                }
                if (p.type != RCON_AUTH_RESPONSE)
                        continue;
                if (p.id == -1) {
                        c->state = RCON_STATE_AUTH_FAILED;
                        return error_set(err, -EACCES, "rcon: wrong password");
                }
                if (p.id != id)
                        continue;
                c->state = RCON_STATE_READY;
                return 0;
        }
        rcon_close(c);
        return error_set(err, -EPROTO, "rcon: the server sent no auth response");
}

int rcon_exec(RconClient *c, const char *command, char **ret_out, size_t *ret_len, Error *err) {
        int r = check_usable(c, err);
        if (r < 0)
                return r;
        if (c->state != RCON_STATE_READY)
                return error_set(err, -EPERM, "rcon: not authenticated");
        size_t clen = command ? strlen(command) : 0;
        if (clen == 0)
                return error_set(err, -EINVAL, "rcon: empty command");
        if (clen > RCON_COMMAND_MAX)
                return error_set(err, -E2BIG, "rcon: command is %zu bytes; the server accepts at most %d", clen, RCON_COMMAND_MAX);
        if (strpbrk(command, "\r\n"))
                return error_set(err, -EINVAL, "rcon: command contains a line break; send one line");

        int64_t deadline = net_now_ms() + c->timeout_ms;
        int32_t id = take_id(c), mirror = take_id(c);
        uint8_t pkt[2 * 14 + RCON_COMMAND_MAX];
        size_t n = rcon_packet_encode(pkt, id, RCON_EXECCOMMAND, command, clen);
        n += rcon_packet_encode(pkt + n, mirror, RCON_RESPONSE_VALUE, NULL, 0);
        if ((r = write_all(c, pkt, n, deadline, err)) < 0)
                return r;

        _cleanup_buf_ Buf out = BUF_INIT(c->response_max);
        if ((r = buf_append(&out, "", 0)) < 0)
                return error_set(err, r, "out of memory");
        for (;;) {
                RconPacket p;
                if ((r = read_packet(c, deadline, &p, err)) < 0)
                        return r;
                if (p.type == RCON_RESPONSE_VALUE && p.id == id) {
                        r = buf_append(&out, p.body, p.body_len);
                        if (r == -E2BIG) {
                                rcon_close(c);
                                return error_set(err, r, "rcon: response larger than %zu bytes; connection closed", c->response_max);
                        }
                        if (r < 0)
                                return error_set(err, r, "out of memory");
                        continue;
                }
                if (p.type == RCON_RESPONSE_VALUE && p.id == mirror)
                        break; /* the mirror: every packet of the response came before it */
                if (p.type == RCON_AUTH_RESPONSE && p.id == -1) {
                        c->state = RCON_STATE_AUTH_FAILED;
                        return error_set(err, -EACCES, "rcon: the server says this connection is not authenticated");
                }
                /* Anything else is stale (the mirror's trailer, a late answer
                 * to a timed-out command): drop it. */
        }
        if (ret_len)
                *ret_len = out.len;
        *ret_out = TAKE_PTR(out.data);
        return 0;
}
