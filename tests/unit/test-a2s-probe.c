/* A2sProbe: A2S_INFO to many servers from one socket, with real UDP on
 * loopback. The test plays the servers: it reads what the probe sent and
 * answers (or not) from sockets of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "a2s-probe.h"

static const char INFO_REQ[] = "\xff\xff\xff\xffTSource Engine Query"; /* + NUL */

typedef struct Server {
        int fd;
        uint16_t port;
        struct sockaddr_in peer; /* where the last request came from */
} Server;

static Server server_open(void) {
        Server s = { .fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) };
        assert_true(s.fd >= 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        assert_int_equal(bind(s.fd, (struct sockaddr *) &a, sizeof a), 0);
        socklen_t l = sizeof a;
        assert_int_equal(getsockname(s.fd, (struct sockaddr *) &a, &l), 0);
        s.port = ntohs(a.sin_port);
        return s;
}

/* The next request the server got (waits up to 2 s); its length. */
static size_t server_recv(Server *s, uint8_t *buf, size_t size) {
        struct pollfd p = { .fd = s->fd, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 2000), 1);
        socklen_t l = sizeof s->peer;
        ssize_t n = recvfrom(s->fd, buf, size, 0, (struct sockaddr *) &s->peer, &l);
        assert_true(n > 0);
        return (size_t) n;
}

static bool server_idle(Server *s) {
        struct pollfd p = { .fd = s->fd, .events = POLLIN };
        return poll(&p, 1, 100) == 0;
}

static void server_send(Server *s, const void *d, size_t n) {
        assert_int_equal(sendto(s->fd, d, n, 0, (struct sockaddr *) &s->peer, sizeof s->peer), (ssize_t) n);
}

static void server_send_challenge(Server *s, int32_t ch) {
        uint8_t d[9] = { 0xff, 0xff, 0xff, 0xff, 'A' };
        memcpy(d + 5, &ch, 4); /* little endian here */
        server_send(s, d, sizeof d);
}

/* A minimal A2S_INFO reply: map, 5 players of 8, 2 bots. */
static size_t info_reply(uint8_t *d, const char *map) {
        static const uint8_t counts[] = { 0x26, 0x02, 5, 8, 2, 'd', 'l', 0, 1 }; /* appid 550 ... vac */
        size_t n = 0;
#define PUT(p, len) (memcpy(d + n, (p), (len)), n += (len))
        PUT("\xff\xff\xff\xffI\x11", 6);
        PUT("name", 5);
        PUT(map, strlen(map) + 1);
        PUT("left4dead2", 11);
        PUT("Left 4 Dead 2", 14);
        PUT(counts, sizeof counts);
        PUT("2.2.2.6", 8);
#undef PUT
        return n;
}

/* What the probe's socket got, fed to the probe. */
static int client_feed(int fd, A2sProbe *p, A2sInfo *info) {
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        assert_int_equal(poll(&pf, 1, 2000), 1);
        uint8_t d[A2S_DATAGRAM_MAX + 1];
        struct sockaddr_in from;
        socklen_t l = sizeof from;
        ssize_t n = recvfrom(fd, d, sizeof d, 0, (struct sockaddr *) &from, &l);
        assert_true(n > 0);
        assert_true(a2s_probe_is_from(p, &from));
        return a2s_probe_feed(fd, p, d, (size_t) n, info);
}

static void test_challenge_once_then_one_datagram_each_way(void **state) {
        Server s = server_open();
        int fd = a2s_probe_socket();
        assert_true(fd >= 0);
        A2sProbe p = { 0 };
        a2s_probe_set_port(&p, s.port);
        uint8_t req[64], rep[256];
        A2sInfo info = { 0 };

        assert_int_equal(a2s_probe_send(fd, &p), 0);
        assert_int_equal(server_recv(&s, req, sizeof req), sizeof INFO_REQ);
        assert_memory_equal(req, INFO_REQ, sizeof INFO_REQ);
        server_send_challenge(&s, 0x11223344);
        /* The probe answers the challenge by itself: nothing complete yet. */
        assert_int_equal(client_feed(fd, &p, &info), 0);
        assert_int_equal(server_recv(&s, req, sizeof req), sizeof INFO_REQ + 4);
        int32_t ch;
        memcpy(&ch, req + sizeof INFO_REQ, 4);
        assert_int_equal(ch, 0x11223344);
        server_send(&s, rep, info_reply(rep, "c5m1_waterfront"));
        assert_int_equal(client_feed(fd, &p, &info), 1);
        assert_string_equal(info.map, "c5m1_waterfront");
        assert_int_equal(info.players, 5);
        assert_int_equal(info.bots, 2);
        assert_int_equal(info.max_players, 8);
        a2s_info_done(&info);

        /* The next query carries the challenge at once. */
        assert_int_equal(a2s_probe_send(fd, &p), 0);
        assert_int_equal(server_recv(&s, req, sizeof req), sizeof INFO_REQ + 4);
        server_send(&s, rep, info_reply(rep, "c5m2_park"));
        assert_int_equal(client_feed(fd, &p, &info), 1);
        assert_string_equal(info.map, "c5m2_park");
        a2s_info_done(&info);

        /* Another port: another server, whose challenge is not known. */
        Server t = server_open();
        a2s_probe_set_port(&p, t.port);
        assert_int_equal(a2s_probe_send(fd, &p), 0);
        assert_int_equal(server_recv(&t, req, sizeof req), sizeof INFO_REQ);
        assert_true(server_idle(&s));
        struct sockaddr_in other = s.peer;
        other.sin_port = htons(s.port);
        other.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_false(a2s_probe_is_from(&p, &other));

        a2s_probe_done(&p);
        close(fd);
        close(s.fd);
        close(t.fd);
}

static void test_split_stray_malformed_and_endless_challenges(void **state) {
        Server s = server_open();
        int fd = a2s_probe_socket();
        A2sProbe p = { 0 };
        a2s_probe_set_port(&p, s.port);
        uint8_t req[64], rep[256];
        A2sInfo info = { 0 };

        /* A split reply, fragments in reverse order. */
        assert_int_equal(a2s_probe_send(fd, &p), 0);
        server_recv(&s, req, sizeof req);
        size_t n = info_reply(rep, "c1m1_hotel"), half = n / 2;
        uint8_t f[2][300];
        for (int i = 0; i < 2; i++) {
                memcpy(f[i], "\xfe\xff\xff\xff\x07\x00\x00\x00\x02", 9);
                f[i][9] = (uint8_t) i;
                f[i][10] = 0xe0, f[i][11] = 0x04;
        }
        memcpy(f[0] + 12, rep, half);
        memcpy(f[1] + 12, rep + half, n - half);
        server_send(&s, f[1], 12 + n - half);
        assert_int_equal(client_feed(fd, &p, &info), 0);
        server_send(&s, f[0], 12 + half);
        assert_int_equal(client_feed(fd, &p, &info), 1);
        assert_string_equal(info.map, "c1m1_hotel");
        a2s_info_done(&info);

        /* A late reply of another kind is not ours; a truncated one is bad. */
        assert_int_equal(a2s_probe_send(fd, &p), 0);
        server_recv(&s, req, sizeof req);
        server_send(&s, "\xff\xff\xff\xff" "D\x00", 6);
        assert_int_equal(client_feed(fd, &p, &info), 0);
        server_send(&s, rep, 12);
        assert_int_equal(client_feed(fd, &p, &info), -EBADMSG);

        /* A server that answers every request with a new challenge. */
        assert_int_equal(a2s_probe_send(fd, &p), 0);
        int r = 0;
        for (int i = 0; i <= A2S_CHALLENGE_ROUNDS && r == 0; i++) {
                server_recv(&s, req, sizeof req);
                server_send_challenge(&s, 1000 + i);
                r = client_feed(fd, &p, &info);
        }
        assert_int_equal(r, -EPROTO);
        assert_true(server_idle(&s)); /* and it stopped asking */

        a2s_probe_done(&p);
        close(fd);
        close(s.fd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_challenge_once_then_one_datagram_each_way),
                cmocka_unit_test(test_split_stray_malformed_and_endless_challenges),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
