/* The non-blocking RCON connection (watch's roster): against a server
 * played by the test itself on a real loopback TCP socket, one thread, no
 * timing: auth with and without srcds' empty packet, a multi-packet answer
 * delivered a byte at a time, the mirror's trailer dropped, a wrong
 * password tried exactly once, a server that hangs up during auth, one
 * that never answers (expiry), and nothing listening. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netutil.h"
#include "rcon-async.h"

typedef struct Srv {
        int listener, fd;
        uint16_t port;
        RconFramer framer;
        int n_auth;
} Srv;

static void srv_listen(Srv *s) {
        s->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s->listener >= 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        assert_int_equal(bind(s->listener, (struct sockaddr *) &a, sizeof a), 0);
        assert_int_equal(listen(s->listener, 4), 0);
        socklen_t l = sizeof a;
        assert_int_equal(getsockname(s->listener, (struct sockaddr *) &a, &l), 0);
        s->port = ntohs(a.sin_port);
        s->fd = -1;
}

static void srv_close(Srv *s) {
        if (s->fd >= 0)
                close(s->fd);
        close(s->listener);
}

/* Runs the client until handle() returns something other than NOTHING. */
static int drive(RconAsync *c, Srv *s, char **out, size_t *len) {
        for (int i = 0; i < 10000; i++) {
                if (s->fd < 0) {
                        struct pollfd lp = { .fd = s->listener, .events = POLLIN };
                        if (poll(&lp, 1, 0) == 1)
                                s->fd = accept4(s->listener, NULL, NULL, SOCK_CLOEXEC);
                }
                struct pollfd p = { .fd = rcon_async_fd(c), .events = rcon_async_events(c) };
                if (p.fd < 0)
                        return -ENOTCONN;
                assert_true(poll(&p, 1, 200) >= 0);
                int r = rcon_async_handle(c, p.revents, out, len);
                if (r != RCON_ASYNC_NOTHING)
                        return r;
                if (!p.revents)
                        return 0; /* nothing came for a while */
        }
        return -ELOOP;
}

/* Reads one packet the client sent. */
static RconPacket srv_read(Srv *s, uint8_t *store) {
        for (;;) {
                uint8_t b;
                ssize_t k = read(s->fd, &b, 1);
                assert_int_equal(k, 1);
                size_t used;
                RconPacket p;
                int r = rcon_framer_feed(&s->framer, &b, 1, &used, &p);
                assert_true(r >= 0);
                if (r == 1) {
                        memcpy(store, p.body, p.body_len);
                        store[p.body_len] = 0;
                        p.body = store;
                        if (p.type == RCON_AUTH)
                                s->n_auth++;
                        return p;
                }
        }
}

/* Sends a packet, one byte per write when slow. */
static void srv_send(Srv *s, int32_t id, int32_t type, const char *body, size_t len, bool slow) {
        uint8_t buf[4200];
        size_t n = rcon_packet_encode(buf, id, type, body, len);
        if (!slow) {
                assert_int_equal(write(s->fd, buf, n), (ssize_t) n);
                return;
        }
        for (size_t i = 0; i < n; i++)
                assert_int_equal(write(s->fd, buf + i, 1), 1);
}

static void connect_and_accept(RconAsync *c, Srv *s, const char *pw) {
        rcon_async_init(c, 0);
        assert_int_equal(rcon_async_connect(c, s->port, pw, 2000), 0);
        char *out = NULL;
        size_t len = 0;
        /* The connect completes and the auth goes out. */
        assert_int_equal(drive(c, s, &out, &len), 0);
        assert_true(s->fd >= 0);
        assert_int_equal(c->state, RCON_ASYNC_AUTHING);
}

static void test_auth_then_multipacket_status(void **state) {
        Srv s = { 0 };
        srv_listen(&s);
        RconAsync c;
        connect_and_accept(&c, &s, "secret");
        uint8_t body[4200];
        RconPacket p = srv_read(&s, body);
        assert_int_equal(p.type, RCON_AUTH);
        assert_string_equal((char *) body, "secret");
        /* srcds: an empty RESPONSE_VALUE first. */
        srv_send(&s, p.id, RCON_RESPONSE_VALUE, "", 0, false);
        srv_send(&s, p.id, RCON_AUTH_RESPONSE, "", 0, true);
        char *out = NULL;
        size_t len = 0;
        assert_int_equal(drive(&c, &s, &out, &len), RCON_ASYNC_AUTHED);
        assert_int_equal(c.password[0], 0); /* forgotten once used */

        for (int round = 0; round < 2; round++) {
                assert_int_equal(rcon_async_exec(&c, "status", 1000), 0);
                assert_int_equal(rcon_async_exec(&c, "status", 1000), -EBUSY);
                assert_int_equal(drive(&c, &s, &out, &len), 0); /* sends both packets */
                RconPacket cmd = srv_read(&s, body);
                assert_int_equal(cmd.type, RCON_EXECCOMMAND);
                assert_string_equal((char *) body, "status");
                int32_t cmd_id = cmd.id;
                RconPacket mirror = srv_read(&s, body);
                assert_int_equal(mirror.type, RCON_RESPONSE_VALUE);
                /* Three packets, one short in the middle, a byte at a time;
                 * then the mirror and its trailer. */
                char big[4095];
                memset(big, 'x', sizeof big);
                srv_send(&s, cmd_id, RCON_RESPONSE_VALUE, big, sizeof big, round == 0);
                srv_send(&s, cmd_id, RCON_RESPONSE_VALUE, "mid", 3, round == 0);
                srv_send(&s, cmd_id, RCON_RESPONSE_VALUE, "end\n", 4, round == 0);
                srv_send(&s, mirror.id, RCON_RESPONSE_VALUE, "", 0, round == 0);
                srv_send(&s, mirror.id, RCON_RESPONSE_VALUE, "\x00\x01", 2, false);
                assert_int_equal(drive(&c, &s, &out, &len), RCON_ASYNC_OUTPUT);
                assert_int_equal(len, 4095 + 3 + 4);
                assert_memory_equal(out + 4095, "midend\n", 7);
                free(out);
                out = NULL;
                assert_int_equal(c.state, RCON_ASYNC_READY);
        }
        assert_int_equal(s.n_auth, 1);
        rcon_async_close(&c);
        srv_close(&s);
}

static void test_wrong_password_once(void **state) {
        Srv s = { 0 };
        srv_listen(&s);
        RconAsync c;
        connect_and_accept(&c, &s, "wrong");
        uint8_t body[4200];
        RconPacket p = srv_read(&s, body);
        srv_send(&s, p.id, RCON_RESPONSE_VALUE, "", 0, false);
        srv_send(&s, -1, RCON_AUTH_RESPONSE, "", 0, false);
        char *out = NULL;
        size_t len = 0;
        assert_int_equal(drive(&c, &s, &out, &len), -EACCES);
        assert_int_equal(c.state, RCON_ASYNC_CLOSED);
        assert_int_equal(rcon_async_fd(&c), -1);
        assert_int_equal(rcon_async_exec(&c, "status", 1000), -EBUSY);
        /* Nothing more was sent: the server sees EOF after one AUTH. */
        uint8_t b;
        assert_int_equal(read(s.fd, &b, 1), 0);
        assert_int_equal(s.n_auth, 1);
        srv_close(&s);
}

static void test_hangup_during_auth(void **state) {
        Srv s = { 0 };
        srv_listen(&s);
        RconAsync c;
        connect_and_accept(&c, &s, "pw");
        uint8_t body[4200];
        (void) srv_read(&s, body);
        close(s.fd); /* what srcds does to a banned address */
        s.fd = -1;
        char *out = NULL;
        size_t len = 0;
        int r = drive(&c, &s, &out, &len);
        assert_true(r == -ECONNRESET);
        assert_int_equal(c.state, RCON_ASYNC_CLOSED);
        srv_close(&s);
}

static void test_no_answer_expires(void **state) {
        Srv s = { 0 };
        srv_listen(&s);
        RconAsync c;
        connect_and_accept(&c, &s, "pw");
        assert_int_equal(rcon_async_expire(&c, net_now_ms()), 0);
        assert_int_equal(rcon_async_expire(&c, net_now_ms() + 5000), -ETIMEDOUT);
        assert_int_equal(c.state, RCON_ASYNC_CLOSED);
        srv_close(&s);
}

static void test_nothing_listens(void **state) {
        Srv s = { 0 };
        srv_listen(&s);
        uint16_t port = s.port;
        srv_close(&s);
        RconAsync c;
        rcon_async_init(&c, 0);
        /* Refused at once, or when the connect completes. */
        int r = rcon_async_connect(&c, port, "pw", 2000);
        if (r == 0) {
                struct pollfd p = { .fd = rcon_async_fd(&c), .events = rcon_async_events(&c) };
                assert_int_equal(poll(&p, 1, 2000), 1);
                char *out = NULL;
                size_t len = 0;
                r = rcon_async_handle(&c, p.revents, &out, &len);
        }
        assert_int_equal(r, -ECONNREFUSED);
        assert_int_equal(c.state, RCON_ASYNC_CLOSED);
        assert_int_equal(rcon_async_connect(&c, port, "", 2000), -EINVAL);
}

static void test_output_cap(void **state) {
        Srv s = { 0 };
        srv_listen(&s);
        RconAsync c;
        connect_and_accept(&c, &s, "pw");
        c.response_max = 100;
        uint8_t body[4200];
        RconPacket p = srv_read(&s, body);
        srv_send(&s, p.id, RCON_AUTH_RESPONSE, "", 0, false);
        char *out = NULL;
        size_t len = 0;
        assert_int_equal(drive(&c, &s, &out, &len), RCON_ASYNC_AUTHED);
        assert_int_equal(rcon_async_exec(&c, "status", 1000), 0);
        assert_int_equal(drive(&c, &s, &out, &len), 0);
        RconPacket cmd = srv_read(&s, body);
        (void) srv_read(&s, body);
        char big[200];
        memset(big, 'y', sizeof big);
        srv_send(&s, cmd.id, RCON_RESPONSE_VALUE, big, sizeof big, false);
        assert_int_equal(drive(&c, &s, &out, &len), -E2BIG);
        assert_int_equal(c.state, RCON_ASYNC_CLOSED);
        srv_close(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_auth_then_multipacket_status),
                cmocka_unit_test(test_wrong_password_once),
                cmocka_unit_test(test_hangup_during_auth),
                cmocka_unit_test(test_no_answer_expires),
                cmocka_unit_test(test_nothing_listens),
                cmocka_unit_test(test_output_cap),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
