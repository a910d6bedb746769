/* Helper for bench/rcon: servers and clients whose per-operation times are
 * compared in one run.
 *
 *   rcon-bench serve-rcon PORT PASSWORD   minimal RCON server in C: auth,
 *        `echo WORDS`, the empty-packet mirror + trailer; one reply write
 *        per read, like srcds. Sends no empty packet before AUTH_RESPONSE
 *        (rconclt cannot cope with one arriving in the same segment).
 *   rcon-bench serve-echo PORT            bare TCP echo: the floor.
 *   rcon-bench echo-client PORT N BYTES   N round trips of BYTES each.
 *   rcon-bench rcon-client PORT PASSWORD N COMMAND
 *        left4me's RCON client: one connection, one auth, N commands.
 *   rcon-bench rcon-big PORT PASSWORD BYTES
 *        `fake_bytes BYTES` against fake_srcds.py; checks every byte.
 *   rcon-bench a2s-info PORT N            N A2S_INFO queries (challenge
 *        included) on one socket.
 * Clients print "<microseconds per op>" on stdout. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "a2s.h"
#include "rcon.h"

static double now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int listen_on(int port) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
                perror("bind/listen");
                exit(1);
        }
        return fd;
}

static int accept_one(int lfd) {
        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0) {
                int one = 1;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        return c;
}

static int connect_to(int port) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                perror("connect");
                exit(1);
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

static void serve_echo(int port) {
        int lfd = listen_on(port);
        for (;;) {
                int c = accept_one(lfd);
                if (c < 0)
                        continue;
                char buf[65536];
                ssize_t k;
                while ((k = read(c, buf, sizeof(buf))) > 0)
                        if (write(c, buf, (size_t) k) != k)
                                break;
                close(c);
        }
}

static void serve_rcon(int port, const char *password) {
        int lfd = listen_on(port);
        static RconFramer f;
        static uint8_t out[1 << 20];
        for (;;) {
                int c = accept_one(lfd);
                if (c < 0)
                        continue;
                memset(&f, 0, sizeof(f));
                bool authed = false;
                uint8_t buf[65536];
                ssize_t k;
                while ((k = read(c, buf, sizeof(buf))) > 0) {
                        size_t off = 0, n = 0;
                        bool bad = false;
                        while (off < (size_t) k) {
                                size_t used;
                                RconPacket p;
                                int r = rcon_framer_feed(&f, buf + off, (size_t) k - off, &used, &p);
                                off += used;
                                if (r < 0) {
                                        bad = true;
                                        break;
                                }
                                if (r == 0)
                                        continue;
                                if (n > sizeof(out) - 8192)
                                        break;
                                if (p.type == RCON_AUTH) {
                                        authed = p.body_len == strlen(password) &&
                                                 memcmp(p.body, password, p.body_len) == 0;
                                        n += rcon_packet_encode(out + n, authed ? p.id : -1, RCON_AUTH_RESPONSE, NULL, 0);
                                } else if (!authed) {
                                        n += rcon_packet_encode(out + n, -1, RCON_AUTH_RESPONSE, NULL, 0);
                                } else if (p.type == RCON_EXECCOMMAND) {
                                        char reply[4200];
                                        size_t rl = 0;
                                        if (p.body_len >= 5 && memcmp(p.body, "echo ", 5) == 0 && p.body_len < 4000) {
                                                memcpy(reply, p.body + 5, p.body_len - 5);
                                                rl = p.body_len - 5;
                                                reply[rl++] = '\n';
                                        }
                                        n += rcon_packet_encode(out + n, p.id, RCON_RESPONSE_VALUE, reply, rl);
                                } else if (p.type == RCON_RESPONSE_VALUE && p.body_len == 0) {
                                        n += rcon_packet_encode(out + n, p.id, RCON_RESPONSE_VALUE, NULL, 0);
                                        /* The trailer: payload 00 01 00 00 after the type. */
                                        uint8_t *t = out + n;
                                        n += rcon_packet_encode(t, p.id, RCON_RESPONSE_VALUE, "\0\1", 2);
                                }
                        }
                        if (n && write(c, out, n) != (ssize_t) n)
                                break;
                        if (bad)
                                break;
                }
                close(c);
        }
}

static void echo_client(int port, long iters, size_t bytes) {
        int fd = connect_to(port);
        char *buf = calloc(1, bytes), *in = malloc(bytes);
        double t0 = now_us();
        for (long i = 0; i < iters; i++) {
                if (write(fd, buf, bytes) != (ssize_t) bytes)
                        exit(1);
                size_t got = 0;
                while (got < bytes) {
                        ssize_t k = read(fd, in + got, bytes - got);
                        if (k <= 0)
                                exit(1);
                        got += (size_t) k;
                }
        }
        printf("%.2f\n", (now_us() - t0) / iters);
        free(buf);
        free(in);
        close(fd);
}

static void rcon_client(int port, const char *password, long iters, const char *cmd) {
        RconClient *c = NULL;
        Error err = { 0 };
        if (rcon_connect("127.0.0.1", (uint16_t) port, 5000, &c, &err) < 0 || rcon_auth(c, password, &err) < 0) {
                fprintf(stderr, "rcon: %s\n", err.msg);
                exit(1);
        }
        double t0 = now_us();
        for (long i = 0; i < iters; i++) {
                char *out = NULL;
                if (rcon_exec(c, cmd, &out, NULL, &err) < 0) {
                        fprintf(stderr, "rcon: %s\n", err.msg);
                        exit(1);
                }
                free(out);
        }
        printf("%.2f\n", (now_us() - t0) / iters);
        rcon_free(c);
}

static void rcon_big(int port, const char *password, size_t bytes) {
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789\n";
        RconClient *c = NULL;
        Error err = { 0 };
        if (rcon_connect("127.0.0.1", (uint16_t) port, 5000, &c, &err) < 0 || rcon_auth(c, password, &err) < 0) {
                fprintf(stderr, "rcon: %s\n", err.msg);
                exit(1);
        }
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "fake_bytes %zu", bytes);
        char *out = NULL;
        size_t len = 0;
        double t0 = now_us();
        if (rcon_exec(c, cmd, &out, &len, &err) < 0) {
                fprintf(stderr, "rcon: %s\n", err.msg);
                exit(1);
        }
        double t = now_us() - t0;
        if (len != bytes) {
                fprintf(stderr, "rcon-big: got %zu bytes, expected %zu\n", len, bytes);
                exit(1);
        }
        for (size_t i = 0; i < len; i++)
                if (out[i] != alphabet[i % 37]) {
                        fprintf(stderr, "rcon-big: byte %zu differs\n", i);
                        exit(1);
                }
        printf("%.2f\n", t);
        free(out);
        rcon_free(c);
}

static void a2s_bench(int port, long iters) {
        A2sClient *c = NULL;
        Error err = { 0 };
        if (a2s_open("127.0.0.1", (uint16_t) port, &c, &err) < 0) {
                fprintf(stderr, "a2s: %s\n", err.msg);
                exit(1);
        }
        double t0 = now_us();
        for (long i = 0; i < iters; i++) {
                A2sInfo info;
                if (a2s_info(c, &info, &err) < 0) {
                        fprintf(stderr, "a2s: %s\n", err.msg);
                        exit(1);
                }
                a2s_info_done(&info);
        }
        printf("%.2f\n", (now_us() - t0) / iters);
        a2s_free(c);
}

int main(int argc, char **argv) {
        signal(SIGPIPE, SIG_IGN);
        if (argc >= 3 && strcmp(argv[1], "serve-echo") == 0)
                serve_echo(atoi(argv[2]));
        else if (argc >= 4 && strcmp(argv[1], "serve-rcon") == 0)
                serve_rcon(atoi(argv[2]), argv[3]);
        else if (argc >= 5 && strcmp(argv[1], "echo-client") == 0)
                echo_client(atoi(argv[2]), atol(argv[3]), (size_t) atol(argv[4]));
        else if (argc >= 6 && strcmp(argv[1], "rcon-client") == 0)
                rcon_client(atoi(argv[2]), argv[3], atol(argv[4]), argv[5]);
        else if (argc >= 5 && strcmp(argv[1], "rcon-big") == 0)
                rcon_big(atoi(argv[2]), argv[3], (size_t) atol(argv[4]));
        else if (argc >= 4 && strcmp(argv[1], "a2s-info") == 0)
                a2s_bench(atoi(argv[2]), atol(argv[3]));
        else {
                fprintf(stderr, "usage: see the comment at the top of bench/rcon-bench.c\n");
                return 2;
        }
        return 0;
}
