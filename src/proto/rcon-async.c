#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netutil.h"
#include "rcon-async.h"

void rcon_async_init(RconAsync *c, size_t response_max) {
        *c = (RconAsync) {
                .fd = -1,
                .next_id = 1,
                .response_max = response_max ? response_max : RCON_RESPONSE_MAX_DEFAULT,
        };
}

void rcon_async_close(RconAsync *c) {
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        c->state = RCON_ASYNC_CLOSED;
        c->wlen = c->woff = 0;
        c->framer.have = 0;
        buf_free(&c->out);
        explicit_bzero(c->password, sizeof c->password);
}

/* Fresh positive ids; never -1 (the failure id) or 0. */
static int32_t take_id(RconAsync *c) {
        int32_t id = c->next_id;
        c->next_id = c->next_id >= INT32_MAX - 1 ? 1 : c->next_id + 1;
        return id;
}

static int fail(RconAsync *c, int r) {
        rcon_async_close(c);
        return r;
}

int rcon_async_connect(RconAsync *c, uint16_t port, const char *password, int timeout_ms) {
        rcon_async_close(c);
        size_t plen = password ? strlen(password) : 0;
        if (plen == 0 || plen > RCON_PASSWORD_MAX)
                return -EINVAL;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        c->fd = fd;
        memcpy(c->password, password, plen + 1);
        c->deadline = net_now_ms() + (timeout_ms > 0 ? timeout_ms : RCON_AUTH_TIMEOUT_MS_DEFAULT);
        c->state = RCON_ASYNC_CONNECTING;
        if (connect(fd, (struct sockaddr *) &a, sizeof a) < 0 && errno != EINPROGRESS)
                return fail(c, negative_errno());
        /* The auth packet waits in wbuf until the socket is writable. */
        c->step_id = take_id(c);
        c->wlen = rcon_packet_encode(c->wbuf, c->step_id, RCON_AUTH, c->password, plen);
        c->woff = 0;
        return 0;
}

int rcon_async_exec(RconAsync *c, const char *command, int timeout_ms) {
        if (c->state != RCON_ASYNC_READY)
                return -EBUSY;
        size_t n = command ? strlen(command) : 0;
        if (n == 0 || strpbrk(command, "\r\n"))
                return -EINVAL;
        if (n > RCON_COMMAND_MAX)
                return -E2BIG;
        c->step_id = take_id(c);
        c->mirror_id = take_id(c);
        c->wlen = rcon_packet_encode(c->wbuf, c->step_id, RCON_EXECCOMMAND, command, n);
        c->wlen += rcon_packet_encode(c->wbuf + c->wlen, c->mirror_id, RCON_RESPONSE_VALUE, NULL, 0);
        c->woff = 0;
        c->out = (Buf) BUF_INIT(c->response_max);
        if (buf_append(&c->out, "", 0) < 0)
                return fail(c, -ENOMEM);
        c->deadline = net_now_ms() + (timeout_ms > 0 ? timeout_ms : RCON_TIMEOUT_MS_DEFAULT);
        c->state = RCON_ASYNC_BUSY;
        return 0;
}

int rcon_async_fd(const RconAsync *c) {
        return c->state == RCON_ASYNC_CLOSED ? -1 : c->fd;
}

short rcon_async_events(const RconAsync *c) {
        if (c->state == RCON_ASYNC_CLOSED)
                return 0;
        if (c->state == RCON_ASYNC_CONNECTING || c->woff < c->wlen)
                return POLLOUT;
        /* READY too: a server that closes the idle connection (a restart)
         * is noticed at once. */
        return POLLIN;
}

int rcon_async_expire(RconAsync *c, int64_t now_ms) {
        if (c->state == RCON_ASYNC_CLOSED || c->state == RCON_ASYNC_READY || now_ms < c->deadline)
                return 0;
        return fail(c, -ETIMEDOUT);
}

static int flush(RconAsync *c) {
        while (c->woff < c->wlen) {
                ssize_t k = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return 0;
                        int r = negative_errno();
                        return fail(c, r == -EPIPE ? -ECONNRESET : r);
                }
                c->woff += (size_t) k;
        }
        c->wlen = c->woff = 0;
        return 0;
}

/* One packet: what it finishes, if anything. */
static int on_packet(RconAsync *c, const RconPacket *p, char **ret_out, size_t *ret_len) {
        if (c->state == RCON_ASYNC_AUTHING) {
                /* srcds sends an empty RESPONSE_VALUE first; skip anything
                 * that is not the auth answer. */
                if (p->type != RCON_AUTH_RESPONSE)
                        return RCON_ASYNC_NOTHING;
                if (p->id == -1)
                        return fail(c, -EACCES);
                if (p->id != c->step_id)
                        return RCON_ASYNC_NOTHING;
                c->state = RCON_ASYNC_READY;
                explicit_bzero(c->password, sizeof c->password);
                return RCON_ASYNC_AUTHED;
        }
        if (c->state != RCON_ASYNC_BUSY)
                return RCON_ASYNC_NOTHING; /* stale: the mirror's trailer, a late answer */
        if (p->type == RCON_AUTH_RESPONSE && p->id == -1)
                return fail(c, -EACCES);
        if (p->type != RCON_RESPONSE_VALUE)
                return RCON_ASYNC_NOTHING;
        if (p->id == c->step_id) {
                int r = buf_append(&c->out, p->body, p->body_len);
                return r < 0 ? fail(c, r == -E2BIG ? -E2BIG : -ENOMEM) : RCON_ASYNC_NOTHING;
        }
        if (p->id != c->mirror_id)
                return RCON_ASYNC_NOTHING;
        /* The mirror: every packet of the response came before it. */
        *ret_len = c->out.len;
        *ret_out = TAKE_PTR(c->out.data);
        c->out = (Buf) { 0 };
        c->state = RCON_ASYNC_READY;
        return RCON_ASYNC_OUTPUT;
}

int rcon_async_handle(RconAsync *c, short revents, char **ret_out, size_t *ret_len) {
        if (c->state == RCON_ASYNC_CLOSED || !revents)
                return RCON_ASYNC_NOTHING;
        if (c->state == RCON_ASYNC_CONNECTING) {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                        return fail(c, negative_errno());
                if (soerr)
                        return fail(c, -soerr);
                if (!(revents & POLLOUT))
                        return RCON_ASYNC_NOTHING;
                c->state = RCON_ASYNC_AUTHING;
        }
        if (revents & POLLOUT) {
                int r = flush(c);
                if (r < 0)
                        return r;
        }
        if (!(revents & (POLLIN | POLLHUP | POLLERR)))
                return RCON_ASYNC_NOTHING;
        /* One read per wakeup: a server that floods cannot hold the loop,
         * and the rest is read at the next one. */
        uint8_t buf[16384];
        ssize_t k = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (k == 0)
                return fail(c, -ECONNRESET);
        if (k < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                        return RCON_ASYNC_NOTHING;
                int r = negative_errno();
                return fail(c, r == -EPIPE ? -ECONNRESET : r);
        }
        /* Every byte goes to the framer, also after a step finished (the
         * mirror's trailer follows it): the stream must stay in step. */
        int result = RCON_ASYNC_NOTHING;
        size_t off = 0;
        while (off < (size_t) k) {
                RconPacket p;
                size_t used = 0;
                int r = rcon_framer_feed(&c->framer, buf + off, (size_t) k - off, &used, &p);
                off += used;
                if (r == 1)
                        r = on_packet(c, &p, ret_out, ret_len);
                else if (r < 0)
                        fail(c, r);
                if (r < 0)
                        /* A finished step is still handed back; the
                         * connection is closed now. */
                        return result != RCON_ASYNC_NOTHING ? result : r;
                if (r > 0)
                        result = r;
                if (used == 0)
                        break;
        }
        return result;
}
